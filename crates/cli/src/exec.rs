//! `corral exec INSTANCE [-c CONTAINER] [-i] [-t] -- CMD ARG...`: a command
//! in an instance's container, through the server and the node's agent
//! (the protocol of `corral_api::exec`). The command's exit code becomes
//! the CLI's ([`CommandExit`]).

use std::io::Write;

use anyhow::bail;
use corral_api::Client;
use corral_api::exec::{ExecControl, ExecOptions, ExecSocket, STDERR, STDIN, STDOUT};
use futures::{SinkExt, StreamExt};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;

use crate::args::ExecArgs;
use crate::errors::object_error;
use crate::terminal;

/// Bytes of stdin sent per message at most.
const STDIN_CHUNK: usize = 16 * 1024;

/// The command ran and exited with a code other than 0: the process exits
/// with it (and prints nothing more).
#[derive(Debug, thiserror::Error)]
#[error("the command exited with code {0}")]
pub struct CommandExit(pub u8);

pub(crate) async fn run(client: &Client, env: &str, args: &ExecArgs) -> anyhow::Result<()> {
    if args.tty && args.interactive && !terminal::stdin_is_terminal() {
        bail!("the input device is not a TTY: leave out -t, or run in a terminal");
    }
    let options = ExecOptions {
        command: args.command.clone(),
        container: args.container.clone().unwrap_or_default(),
        tty: args.tty,
        stdin: args.interactive,
        instance_uid: String::new(),
    };
    let socket = client
        .exec(env, &args.instance, &options)
        .await
        .map_err(|e| object_error(e, "exec in", "instance", env, &args.instance))?;
    let raw = if args.tty && args.interactive {
        Some(terminal::RawMode::enter()?)
    } else {
        None
    };
    let outcome = session(socket, args).await;
    drop(raw);
    match outcome? {
        Some(0) => Ok(()),
        // Exit codes are 0-255 on Unix; the engine reports what the process's
        // status said, so anything else is out of range and clamped.
        Some(code) => Err(CommandExit(u8::try_from(code).unwrap_or(255)).into()),
        None => bail!("the command's exit code is unknown (the engine did not report one)"),
    }
}

/// Pumps stdin, output and resizes until the exit message; its code.
async fn session(socket: ExecSocket, args: &ExecArgs) -> anyhow::Result<Option<i64>> {
    let (mut sink, mut stream) = socket.split();
    let mut stdin = args.interactive.then(read_stdin);
    let mut resizes = if args.tty {
        if let Some((cols, rows)) = terminal::size() {
            sink.send(control(ExecControl::Resize { cols, rows }))
                .await?;
        }
        Some(tokio::signal::unix::signal(
            tokio::signal::unix::SignalKind::window_change(),
        )?)
    } else {
        None
    };
    loop {
        tokio::select! {
            message = stream.next() => match message {
                Some(Ok(Message::Binary(data))) => write_output(&data)?,
                Some(Ok(Message::Text(text))) => match serde_json::from_str::<ExecControl>(&text) {
                    Ok(ExecControl::Exit { code }) => return Ok(code),
                    Ok(ExecControl::Error { message }) => bail!("exec in instance {:?} failed: {message}", args.instance),
                    _ => {}
                },
                Some(Ok(Message::Close(_))) | None => {
                    bail!("the server closed the exec session of instance {:?} before the command's exit", args.instance)
                }
                Some(Ok(_)) => {}
                Some(Err(e)) => bail!("the exec session of instance {:?} broke off: {e}", args.instance),
            },
            chunk = next_input(&mut stdin) => match chunk {
                Some(data) => {
                    let mut framed = Vec::with_capacity(data.len() + 1);
                    framed.push(STDIN);
                    framed.extend_from_slice(&data);
                    sink.send(Message::Binary(framed.into())).await?;
                }
                None => {
                    stdin = None;
                    sink.send(control(ExecControl::CloseStdin)).await?;
                }
            },
            Some(()) = next_resize(&mut resizes) => {
                if let Some((cols, rows)) = terminal::size() {
                    sink.send(control(ExecControl::Resize { cols, rows })).await?;
                }
            }
        }
    }
}

fn control(message: ExecControl) -> Message {
    Message::text(message.to_json())
}

/// Writes a stream's bytes to stdout or stderr as they come.
fn write_output(data: &[u8]) -> anyhow::Result<()> {
    let Some((&which, bytes)) = data.split_first() else {
        return Ok(());
    };
    let written = match which {
        STDOUT => {
            let mut out = std::io::stdout().lock();
            out.write_all(bytes).and_then(|()| out.flush())
        }
        STDERR => {
            let mut err = std::io::stderr().lock();
            err.write_all(bytes).and_then(|()| err.flush())
        }
        _ => Ok(()),
    };
    match written {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            bail!("cannot write the command's output: {e}")
        }
        _ => Ok(()),
    }
}

/// Stdin, read on a thread of its own (a blocking read that never returns
/// must not hold up the runtime's shutdown when the command has exited);
/// the channel ends at end of input.
fn read_stdin() -> mpsc::Receiver<Vec<u8>> {
    let (tx, rx) = mpsc::channel(8);
    std::thread::spawn(move || {
        use std::io::Read;
        let mut stdin = std::io::stdin().lock();
        let mut buf = vec![0u8; STDIN_CHUNK];
        loop {
            match stdin.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    if tx.blocking_send(buf[..n].to_vec()).is_err() {
                        break;
                    }
                }
            }
        }
    });
    rx
}

/// The next chunk of stdin; pending forever once stdin is done.
async fn next_input(stdin: &mut Option<mpsc::Receiver<Vec<u8>>>) -> Option<Vec<u8>> {
    match stdin {
        Some(rx) => rx.recv().await,
        None => std::future::pending().await,
    }
}

async fn next_resize(resizes: &mut Option<tokio::signal::unix::Signal>) -> Option<()> {
    match resizes {
        Some(signal) => signal.recv().await,
        None => std::future::pending().await,
    }
}
