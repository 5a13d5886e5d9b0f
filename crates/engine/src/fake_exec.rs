//! The fake engine's attached exec: it prints what `set_exec_result` set
//! for the container, then echoes its stdin back (as `cat` would) until
//! the input is shut down.

use bytes::Bytes;
use futures::StreamExt;
use tokio::io::AsyncReadExt;

use crate::exec::{ExecChunk, ExecSession};

/// Bytes read from the echo at a time.
const CHUNK: usize = 16 * 1024;

pub(crate) fn session(exec_id: String, printed: String, stdin: bool) -> ExecSession {
    let (input, echo) = tokio::io::duplex(64 * 1024);
    let first = futures::stream::iter(
        (!printed.is_empty()).then(|| Ok(ExecChunk::Stdout(Bytes::from(printed)))),
    );
    let echoed = futures::stream::unfold(stdin.then_some(echo), |state| async move {
        let mut echo = state?;
        let mut buf = vec![0u8; CHUNK];
        match echo.read(&mut buf).await {
            Ok(0) | Err(_) => None,
            Ok(n) => {
                buf.truncate(n);
                Some((Ok(ExecChunk::Stdout(Bytes::from(buf))), Some(echo)))
            }
        }
    });
    ExecSession {
        exec_id,
        output: Box::pin(first.chain(echoed)),
        input: Box::pin(input),
    }
}
