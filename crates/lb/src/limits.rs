//! What one balancer lets a client hold: connections per listener, and
//! how long a client (or a splice) may stay silent. The defaults are the
//! constants below; tests start balancers with short values.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::Instant;

/// Connections one listener (source port) serves at once; beyond that a
/// new connection is closed as soon as it is accepted.
pub const MAX_CONNECTIONS_PER_LISTENER: usize = 10_000;
/// Time a client has to send a request's headers (and, on a keep-alive
/// connection, the next request's first bytes).
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(30);
/// Time a client may go without sending any of a request body it started.
pub const BODY_IDLE_TIMEOUT: Duration = Duration::from_secs(60);
/// Time a TCP (or TLS) splice may go without a byte either way.
pub const TCP_IDLE_TIMEOUT: Duration = Duration::from_secs(3600);

/// The limits of one load balancer ([`LbRuntime::start_with_limits`](crate::LbRuntime::start_with_limits)).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LbLimits {
    /// Connections served at once per source port ([`MAX_CONNECTIONS_PER_LISTENER`]).
    pub max_connections_per_listener: usize,
    /// [`HEADER_READ_TIMEOUT`].
    pub header_read_timeout: Duration,
    /// [`BODY_IDLE_TIMEOUT`].
    pub body_idle_timeout: Duration,
    /// [`TCP_IDLE_TIMEOUT`].
    pub tcp_idle_timeout: Duration,
}

impl Default for LbLimits {
    fn default() -> Self {
        LbLimits {
            max_connections_per_listener: MAX_CONNECTIONS_PER_LISTENER,
            header_read_timeout: HEADER_READ_TIMEOUT,
            body_idle_timeout: BODY_IDLE_TIMEOUT,
            tcp_idle_timeout: TCP_IDLE_TIMEOUT,
        }
    }
}

/// When bytes last moved on a splice, in milliseconds since `start`.
#[derive(Clone)]
pub(crate) struct Activity {
    start: Instant,
    last_ms: Arc<AtomicU64>,
}

impl Activity {
    pub fn new() -> Self {
        Activity {
            start: Instant::now(),
            last_ms: Arc::new(AtomicU64::new(0)),
        }
    }

    fn touch(&self) {
        let ms = u64::try_from(self.start.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.last_ms.store(ms, Ordering::Relaxed);
    }

    /// The moment the splice becomes idle for `idle`, unless bytes move.
    pub fn idle_deadline(&self, idle: Duration) -> Instant {
        self.start + Duration::from_millis(self.last_ms.load(Ordering::Relaxed)) + idle
    }

    /// Wraps one side of the splice so its reads and writes count.
    pub fn track<IO>(&self, io: IO) -> Tracked<IO> {
        Tracked {
            io,
            activity: self.clone(),
        }
    }
}

/// An IO whose reads and writes of at least a byte mark [`Activity`].
pub(crate) struct Tracked<IO> {
    io: IO,
    activity: Activity,
}

impl<IO: AsyncRead + Unpin> AsyncRead for Tracked<IO> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.io).poll_read(cx, buf);
        if matches!(polled, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.activity.touch();
        }
        polled
    }
}

impl<IO: AsyncWrite + Unpin> AsyncWrite for Tracked<IO> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.io).poll_write(cx, buf);
        if matches!(polled, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.touch();
        }
        polled
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_splice_becomes_idle_only_after_its_last_byte() {
        let activity = Activity::new();
        let idle = Duration::from_secs(10);
        let first = activity.idle_deadline(idle);
        tokio::time::advance(Duration::from_secs(5)).await;
        let (a, mut b) = tokio::io::duplex(16);
        let mut a = activity.track(a);
        tokio::io::AsyncWriteExt::write_all(&mut a, b"x")
            .await
            .unwrap();
        let mut buf = [0u8; 1];
        tokio::io::AsyncReadExt::read_exact(&mut b, &mut buf)
            .await
            .unwrap();
        assert!(activity.idle_deadline(idle) >= first + Duration::from_secs(5));
    }
}
