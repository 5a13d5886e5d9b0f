//! `corral logs INSTANCE [--follow] [--tail N]`.

use std::io::Write;

use corral_api::{ApiError, Client, LogsQuery};
use futures::{Stream, StreamExt};

use crate::args::LogsArgs;
use crate::errors::object_error;

pub(crate) async fn run(client: &Client, env: &str, args: &LogsArgs) -> anyhow::Result<()> {
    let query = LogsQuery {
        follow: args.follow,
        tail: args.tail,
    };
    let stream = client
        .logs(env, &args.instance, &query)
        .await
        .map_err(|e| object_error(e, "get the logs of", "instance", env, &args.instance))?;
    copy_stream(stream, std::io::stdout(), &args.instance).await
}

/// Writes each chunk as it arrives and flushes it, so `--follow` shows output live.
/// A closed reader (`| head`) ends the copy without an error.
pub(crate) async fn copy_stream<S, B, W>(
    mut stream: S,
    mut out: W,
    instance: &str,
) -> anyhow::Result<()>
where
    S: Stream<Item = Result<B, ApiError>> + Unpin,
    B: AsRef<[u8]>,
    W: Write,
{
    while let Some(chunk) = stream.next().await {
        let chunk = chunk
            .map_err(|e| anyhow::anyhow!("the logs of instance {instance:?} broke off: {e}"))?;
        match out.write_all(chunk.as_ref()).and_then(|()| out.flush()) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => return Ok(()),
            Err(e) => return Err(anyhow::anyhow!("cannot write to stdout: {e}")),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Records each write and flush.
    #[derive(Default)]
    struct Recorder {
        events: Vec<String>,
    }

    impl Write for Recorder {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.events
                .push(format!("write {}", String::from_utf8_lossy(buf)));
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            self.events.push("flush".into());
            Ok(())
        }
    }

    struct ClosedPipe;

    impl Write for ClosedPipe {
        fn write(&mut self, _: &[u8]) -> std::io::Result<usize> {
            Err(std::io::ErrorKind::BrokenPipe.into())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[tokio::test]
    async fn each_chunk_is_written_and_flushed() {
        let chunks: Vec<Result<&[u8], ApiError>> = vec![Ok(b"a\n"), Ok(b"b\n")];
        let mut rec = Recorder::default();
        copy_stream(futures::stream::iter(chunks), &mut rec, "web-1")
            .await
            .unwrap();
        assert_eq!(rec.events, ["write a\n", "flush", "write b\n", "flush"]);
    }

    #[tokio::test]
    async fn a_broken_stream_names_the_instance() {
        let chunks: Vec<Result<&[u8], ApiError>> = vec![
            Ok(b"a\n"),
            Err(ApiError::Transport {
                url: "http://s".into(),
                message: "reset".into(),
            }),
        ];
        let err = copy_stream(futures::stream::iter(chunks), Recorder::default(), "web-1")
            .await
            .unwrap_err();
        assert!(err.to_string().contains(r#"instance "web-1""#), "{err}");
    }

    #[tokio::test]
    async fn a_closed_stdout_is_not_an_error() {
        let chunks: Vec<Result<&[u8], ApiError>> = vec![Ok(b"a\n")];
        copy_stream(futures::stream::iter(chunks), ClosedPipe, "web-1")
            .await
            .unwrap();
    }
}
