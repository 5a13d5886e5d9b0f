//! TCP (and TLS-terminated TCP): splice the client to a backend picked
//! round robin, trying up to three backends to connect; a splice with no
//! byte either way for the idle timeout is closed.

use std::sync::Arc;

use tokio::io::{AsyncRead, AsyncWrite, copy_bidirectional};
use tokio::net::TcpStream;

use crate::backend::{Backend, CONNECT_TIMEOUT};
use crate::limits::Activity;
use crate::runtime::Shared;

const MAX_TRIES: usize = 3;

/// Connects to a backend of the port's rule and copies both ways until
/// either side closes or nothing moved for `limits.tcp_idle_timeout`.
pub(crate) async fn serve<IO>(shared: Arc<Shared>, port: u16, client: IO)
where
    IO: AsyncRead + AsyncWrite + Unpin,
{
    let target = {
        let table = shared.table.load();
        match table.port(port).and_then(|r| r.first_serving()) {
            Some(t) => t.clone(),
            None => return,
        }
    };
    let mut tried: Vec<&Arc<Backend>> = Vec::new();
    let mut upstream = None;
    for _ in 0..MAX_TRIES {
        let Some(backend) = target.pick(&tried) else {
            break;
        };
        tried.push(backend);
        match tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(backend.addr)).await {
            Ok(Ok(s)) => {
                let _ = s.set_nodelay(true);
                upstream = Some(s);
                break;
            }
            Ok(Err(e)) => {
                tracing::debug!(instance = %backend.instance, error = %e, "backend unreachable, trying another");
            }
            Err(_) => {
                tracing::debug!(instance = %backend.instance, "backend connect timed out, trying another");
            }
        }
    }
    let Some(upstream) = upstream else {
        return;
    };
    let idle = shared.limits.tcp_idle_timeout;
    let activity = Activity::new();
    let mut client = activity.track(client);
    let mut upstream = activity.track(upstream);
    let copy = copy_bidirectional(&mut client, &mut upstream);
    tokio::pin!(copy);
    loop {
        let deadline = activity.idle_deadline(idle);
        tokio::select! {
            r = copy.as_mut() => {
                if let Err(e) = r {
                    tracing::trace!(error = %e, "tcp splice ended");
                }
                return;
            }
            () = tokio::time::sleep_until(deadline) => {
                if activity.idle_deadline(idle) <= tokio::time::Instant::now() {
                    tracing::debug!(port, ?idle, "tcp splice idle: closing it");
                    return;
                }
            }
        }
    }
}
