//! What one balancer lets a client hold: connections per listener, and
//! how long a client (or a splice) may stay silent. The defaults are the
//! constants below; tests start balancers with short values.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::{Instant, Sleep};

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

/// A client's request body that fails when no frame came for `idle`, so
/// a client that stops sending mid-body does not hold a backend forever.
pub(crate) struct IdleBody<B> {
    inner: B,
    idle: Duration,
    timer: Pin<Box<Sleep>>,
    armed: bool,
}

impl<B> IdleBody<B> {
    pub fn new(inner: B, idle: Duration) -> Self {
        IdleBody {
            inner,
            idle,
            timer: Box::pin(tokio::time::sleep(idle)),
            armed: false,
        }
    }
}

impl<B> Body for IdleBody<B>
where
    B: Body<Data = Bytes> + Unpin,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    type Data = Bytes;
    type Error = Box<dyn std::error::Error + Send + Sync>;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let this = &mut *self;
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(frame) => {
                this.armed = false;
                Poll::Ready(frame.map(|r| r.map_err(Into::into)))
            }
            Poll::Pending => {
                if !this.armed {
                    this.armed = true;
                    let deadline = Instant::now() + this.idle;
                    this.timer.as_mut().reset(deadline);
                }
                match this.timer.as_mut().poll(cx) {
                    Poll::Ready(()) => Poll::Ready(Some(Err(Box::new(io::Error::new(
                        io::ErrorKind::TimedOut,
                        format!("the client sent no body for {:?}", this.idle),
                    ))))),
                    Poll::Pending => Poll::Pending,
                }
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// The header-read deadline of one HTTP connection, checked coarsely: a
/// request marks the connection busy until its response body is dropped
/// (written to the end, or the connection ended), and the connection's
/// one timer looks at the clock only when it fires. Cheaper than a timer
/// armed and cancelled per request (what hyper's `header_read_timeout`
/// does), with the same limit: a connection that is not serving a request
/// is closed once it has waited `HEADER_READ_TIMEOUT` for a complete head
/// since it opened or since its last response.
pub(crate) struct HeadClock {
    start: Instant,
    /// When the connection last became idle, in milliseconds since `start`.
    idle_since_ms: AtomicU64,
    /// Requests whose response body is not dropped yet.
    busy: AtomicUsize,
}

/// A request being served; marks the connection idle again on drop.
pub(crate) struct Busy {
    clock: Arc<HeadClock>,
}

impl HeadClock {
    pub fn new() -> Arc<Self> {
        Arc::new(HeadClock {
            start: Instant::now(),
            idle_since_ms: AtomicU64::new(0),
            busy: AtomicUsize::new(0),
        })
    }

    /// Marks a request (its head was read) as being served.
    pub fn busy(self: &Arc<Self>) -> Busy {
        self.busy.fetch_add(1, Ordering::AcqRel);
        Busy {
            clock: Arc::clone(self),
        }
    }

    /// `None` when the connection has waited `timeout` for a head, else
    /// the moment to look again.
    pub fn next_check(&self, timeout: Duration) -> Option<Instant> {
        let now = Instant::now();
        if self.busy.load(Ordering::Acquire) > 0 {
            return Some(now + timeout);
        }
        let idle_since =
            self.start + Duration::from_millis(self.idle_since_ms.load(Ordering::Acquire));
        let deadline = idle_since + timeout;
        (deadline > now).then_some(deadline)
    }
}

impl Drop for Busy {
    fn drop(&mut self) {
        let clock = &self.clock;
        let ms = u64::try_from(clock.start.elapsed().as_millis()).unwrap_or(u64::MAX);
        clock.idle_since_ms.store(ms, Ordering::Release);
        clock.busy.fetch_sub(1, Ordering::AcqRel);
    }
}

/// A response body that holds its request's [`Busy`] mark until it is
/// dropped.
pub(crate) struct ServedBody<B> {
    inner: B,
    _busy: Busy,
}

impl<B> ServedBody<B> {
    pub fn new(inner: B, busy: Busy) -> Self {
        ServedBody { inner, _busy: busy }
    }
}

impl<B: Body + Unpin> Body for ServedBody<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<B::Data>, B::Error>>> {
        Pin::new(&mut self.inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
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
    use http_body_util::BodyExt;

    /// A body that never yields a frame.
    struct Stalled;

    impl Body for Stalled {
        type Data = Bytes;
        type Error = io::Error;

        fn poll_frame(
            self: Pin<&mut Self>,
            _cx: &mut Context<'_>,
        ) -> Poll<Option<Result<Frame<Bytes>, io::Error>>> {
            Poll::Pending
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_stalled_body_fails_after_the_idle_timeout() {
        let mut body = IdleBody::new(Stalled, Duration::from_secs(60));
        let err = body.frame().await.and_then(Result::err);
        assert!(err.is_some_and(|e| e.to_string().contains("sent no body")));
    }

    #[tokio::test(start_paused = true)]
    async fn a_connection_expires_only_after_waiting_the_timeout_for_a_head() {
        let timeout = Duration::from_secs(30);
        let clock = HeadClock::new();
        let first = clock.next_check(timeout).unwrap();
        tokio::time::advance(Duration::from_secs(20)).await;
        let busy = clock.busy();
        tokio::time::advance(Duration::from_secs(40)).await;
        assert!(
            clock.next_check(timeout).is_some(),
            "a request being served keeps the connection"
        );
        drop(busy);
        let next = clock.next_check(timeout).unwrap();
        assert!(
            next >= first + Duration::from_secs(60),
            "idle again from now"
        );
        tokio::time::advance(Duration::from_secs(31)).await;
        assert!(clock.next_check(timeout).is_none(), "no head for 31 s");
    }

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
