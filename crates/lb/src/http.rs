//! HTTP/1.1 proxying, one task per client connection: read a request
//! head into the connection's buffer, route it by host and path, pick a
//! backend (sticky cookie or round robin), copy the edited head into the
//! write buffer, send it on a pooled backend connection that this task
//! owns for the exchange, move the bodies both ways as they come, and
//! retry another backend when one cannot be reached before it answered.
//! No channel or other task per request.

use std::net::SocketAddr;
use std::sync::Arc;

use bytes::{Buf, BytesMut};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::backend::Backend;
use crate::body::{self, BodyState, PumpError, Recode};
use crate::exchange::{Sending, Sent, relay, send};
use crate::h1::{self, BodyLen, Forwarding, HeadError};
use crate::runtime::Shared;
use crate::table::{Sticky, Target};

/// Backends tried for one request.
const MAX_TRIES: usize = 3;
/// Initial room of a client connection's buffers.
const BUF: usize = 8 * 1024;

/// One client connection's context, shared by its requests.
pub(crate) struct ConnCtx {
    pub shared: Arc<Shared>,
    pub port: u16,
    pub client_ip: String,
    /// `http` or `https`.
    pub proto: &'static str,
    /// The source port, for `X-Forwarded-Port`.
    pub port_value: String,
}

/// The client side of the connection: what was read and not used yet,
/// and the buffer heads and bodies are written from.
pub(crate) struct Client<IO> {
    pub io: IO,
    pub buf: BytesMut,
    pub out: Vec<u8>,
}

/// What becomes of the client connection after an exchange.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Next {
    KeepAlive,
    Close,
}

/// What one request needs once its head was parsed (the head itself is
/// already in the client's write buffer, edited for the backend).
pub(crate) struct Plan {
    pub head_len: usize,
    pub body: BodyLen,
    /// A HEAD request: the response has no body.
    pub head_method: bool,
    /// GET, HEAD, OPTIONS or TRACE: may be sent again.
    pub idempotent: bool,
    /// HTTP/1.0 client.
    pub http10: bool,
    /// The client wants the connection kept.
    pub keep_alive: bool,
    pub expect_continue: bool,
    route: Result<(Arc<Target>, Option<Arc<Backend>>), &'static str>,
    pub sticky: Option<Arc<Sticky>>,
}

impl Plan {
    /// Whether the connection closes after an answer of the balancer's
    /// own: when the request body was not read to its end, the client did
    /// not want it kept, or speaks HTTP/1.0 (the answer says nothing of
    /// keep-alive).
    fn close_after_answer(&self, body_read: bool) -> bool {
        !body_read || !self.keep_alive || self.http10
    }
}

/// Serves HTTP/1.1 with keep-alive on one client connection until it
/// closes, or finishes the request in flight and closes on `shutdown`.
/// A connection waiting `header_read_timeout` for a request head (since
/// it opened or since its last response) is closed.
pub(crate) async fn serve<IO>(
    shared: Arc<Shared>,
    port: u16,
    io: IO,
    peer: SocketAddr,
    https: bool,
    shutdown: CancellationToken,
) where
    IO: AsyncRead + AsyncWrite + Unpin,
{
    let ctx = ConnCtx {
        shared,
        port,
        client_ip: peer.ip().to_string(),
        proto: if https { "https" } else { "http" },
        port_value: port.to_string(),
    };
    let mut client = Client {
        io,
        buf: BytesMut::with_capacity(BUF),
        out: Vec::with_capacity(BUF),
    };
    let timeout = ctx.shared.limits.header_read_timeout;
    // One timer per connection, looked at only when it fires.
    let mut deadline = Instant::now() + timeout;
    let timer = tokio::time::sleep_until(deadline);
    tokio::pin!(timer);
    // A child token: its own lock is the one taken each time the wait for
    // a head is polled, not the one every connection shares.
    let shutdown = shutdown.child_token();
    let cancelled = shutdown.cancelled();
    tokio::pin!(cancelled);
    loop {
        let head = tokio::select! {
            biased;
            r = client.read_head() => r,
            () = &mut cancelled => return,
            () = &mut timer => {
                if Instant::now() >= deadline {
                    tracing::debug!(%peer, "no request head within the header read timeout: closing");
                    return;
                }
                timer.as_mut().reset(deadline);
                continue;
            }
        };
        match head {
            Ok(true) => {}
            Ok(false) => return,
            Err(e) => {
                tracing::debug!(%peer, error = ?e, "bad request head");
                let (status, text) = match e {
                    HeadError::TooLarge => (431, "request head too large\n"),
                    HeadError::Malformed(_) => (400, "bad request\n"),
                };
                client.answer(status, text, true, true).await;
                return;
            }
        }
        if exchange(&ctx, &mut client, &shutdown).await == Next::Close || shutdown.is_cancelled() {
            return;
        }
        deadline = Instant::now() + timeout;
    }
}

impl<IO: AsyncRead + AsyncWrite + Unpin> Client<IO> {
    /// Reads until the buffer starts with a complete request head: true,
    /// or false when the client closed first.
    async fn read_head(&mut self) -> Result<bool, HeadError> {
        loop {
            if !self.buf.is_empty() {
                let mut slots = h1::slots();
                if h1::parse_request(&self.buf, &mut slots)?.is_some() {
                    return Ok(true);
                }
            }
            match body::read_more(&mut self.io, &mut self.buf, None).await {
                Ok(0) | Err(_) => return Ok(false),
                Ok(_) => {}
            }
        }
    }

    /// Writes an answer of the balancer's own.
    pub async fn answer(&mut self, status: u16, text: &str, with_body: bool, close: bool) -> Next {
        self.out.clear();
        h1::write_message(status, text, with_body, close, &mut self.out);
        let written = self.io.write_all(&self.out).await.is_ok() && self.io.flush().await.is_ok();
        self.out.clear();
        if close || !written {
            let _ = self.io.shutdown().await;
            return Next::Close;
        }
        Next::KeepAlive
    }
}

/// Reads the head at the start of `buf`, routes it and writes the head
/// for the backend into `out`.
fn plan(ctx: &ConnCtx, buf: &[u8], out: &mut Vec<u8>) -> Result<Plan, HeadError> {
    let mut slots = h1::slots();
    let req = h1::parse_request(buf, &mut slots)?.ok_or(HeadError::Malformed("incomplete head"))?;
    if req.method == "CONNECT" {
        return Err(HeadError::Malformed("CONNECT"));
    }
    let body = h1::request_body(req.headers)?;
    let host = h1::host(&req)?;
    let path = h1::path(req.target);
    let table = ctx.shared.table.load();
    let route = match table.port(ctx.port) {
        None => Err("no rule serves this port\n"),
        Some(routes) => match routes.route(host, path) {
            None => Err("no rule matches this request\n"),
            Some(target) => {
                let wanted = table
                    .sticky
                    .as_ref()
                    .and_then(|s| h1::cookie(req.headers, &s.cookie))
                    .and_then(|v| target.by_cookie(v))
                    .cloned();
                Ok((target.clone(), wanted))
            }
        },
    };
    let http10 = req.minor == 0;
    let keep_alive = if http10 {
        h1::connection_has(req.headers, "keep-alive")
    } else {
        !h1::connection_has(req.headers, "close")
    };
    let expect_continue = h1::single(req.headers, "expect")
        .ok()
        .flatten()
        .is_some_and(|v| v.eq_ignore_ascii_case(b"100-continue"));
    let fwd = Forwarding {
        client_ip: &ctx.client_ip,
        proto: ctx.proto,
        port: &ctx.port_value,
        trust: table.trust_forwarded_for,
    };
    out.clear();
    h1::write_request_head(&req, body, &fwd, out);
    Ok(Plan {
        head_len: req.len,
        body,
        head_method: req.method == "HEAD",
        idempotent: matches!(req.method, "GET" | "HEAD" | "OPTIONS" | "TRACE"),
        http10,
        keep_alive,
        expect_continue,
        route,
        sticky: table.sticky.clone(),
    })
}

/// Serves the request whose head starts the client's buffer.
async fn exchange<IO>(ctx: &ConnCtx, c: &mut Client<IO>, shutdown: &CancellationToken) -> Next
where
    IO: AsyncRead + AsyncWrite + Unpin,
{
    let plan = match plan(ctx, &c.buf, &mut c.out) {
        Ok(p) => p,
        Err(HeadError::Malformed("CONNECT")) => {
            return c.answer(501, "CONNECT is not proxied\n", true, true).await;
        }
        Err(e) => {
            tracing::debug!(error = ?e, "bad request head");
            let status = if e == HeadError::TooLarge { 431 } else { 400 };
            return c.answer(status, "bad request\n", true, true).await;
        }
    };
    c.buf.advance(plan.head_len);
    // Whatever the buffer holds of the body goes with the head.
    let mut req_body = BodyState::new(plan.body, Recode::Chunked);
    let complete = match req_body.take(&mut c.buf, &mut c.out) {
        Ok(done) => done,
        Err(_) => return c.answer(400, "bad chunked body\n", true, true).await,
    };
    let route = match &plan.route {
        Ok((target, wanted)) => (target.clone(), wanted.clone()),
        Err(text) => {
            let close = plan.close_after_answer(complete);
            return c.answer(503, text, !plan.head_method, close).await;
        }
    };
    forward(ctx, c, &plan, route, req_body, complete, shutdown).await
}

/// Sends the request to a backend of `target`, trying up to three of them
/// when one cannot be reached, then relays the response.
async fn forward<IO>(
    ctx: &ConnCtx,
    c: &mut Client<IO>,
    plan: &Plan,
    (target, wanted): (Arc<Target>, Option<Arc<Backend>>),
    mut req_body: BodyState,
    complete: bool,
    shutdown: &CancellationToken,
) -> Next
where
    IO: AsyncRead + AsyncWrite + Unpin,
{
    let mut tried: Vec<&Arc<Backend>> = Vec::new();
    let idle = ctx.shared.limits.body_idle_timeout;
    for attempt in 0..MAX_TRIES {
        let backend = match (&wanted, attempt) {
            (Some(w), 0) => w.clone(),
            _ => match target.pick(&tried) {
                Some(b) => b.clone(),
                None if attempt == 0 => {
                    let close = plan.close_after_answer(complete);
                    let text = "no backend is serving this request\n";
                    return c.answer(503, text, !plan.head_method, close).await;
                }
                None => break,
            },
        };
        match send(c, plan, &backend, &mut req_body, complete, idle).await {
            Sent::Answered(conn) => {
                let set_cookie = plan.sticky.as_ref().and_then(|s| {
                    let same = wanted.as_ref().is_some_and(|w| Arc::ptr_eq(w, &backend));
                    (!same).then(|| format!("{}={}{}", s.cookie, backend.cookie, s.attributes))
                });
                let sending = Sending {
                    request_done: req_body.is_done(),
                    closing: shutdown.is_cancelled(),
                };
                return relay(c, plan, &backend, conn, set_cookie.as_deref(), sending).await;
            }
            Sent::Retry => {
                // Remembered only when it failed: the first try allocates nothing.
                if let Some(b) = target.backends.iter().find(|b| Arc::ptr_eq(b, &backend)) {
                    tried.push(b);
                }
            }
            Sent::Failed(e) => return failed(c, plan, e).await,
        }
    }
    let close = plan.close_after_answer(req_body.is_done());
    c.answer(
        502,
        "no backend could be reached\n",
        !plan.head_method,
        close,
    )
    .await
}

/// Answers a request that failed after it was (partly) sent.
async fn failed<IO>(c: &mut Client<IO>, plan: &Plan, e: PumpError) -> Next
where
    IO: AsyncRead + AsyncWrite + Unpin,
{
    tracing::debug!(error = %e, "request failed");
    match e {
        PumpError::Framing(_) => c.answer(400, "bad chunked body\n", true, true).await,
        // As before this path: a body stalled past the idle timeout fails
        // the request with 502.
        PumpError::Read(e) if e.kind() == std::io::ErrorKind::TimedOut => {
            let text = "the request body stalled\n";
            c.answer(502, text, !plan.head_method, true).await
        }
        // The client went away mid-body: nothing to answer.
        PumpError::Read(_) | PumpError::Truncated => {
            let _ = c.io.shutdown().await;
            Next::Close
        }
        PumpError::Write(_) => {
            let text = "the backend failed before answering\n";
            c.answer(502, text, !plan.head_method, true).await
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::table::Table;

    fn ctx(trust: bool) -> ConnCtx {
        let shared = Shared::default();
        let mut table = Table::default();
        table.trust_forwarded_for = trust;
        shared.table.store(Arc::new(table));
        ConnCtx {
            shared: Arc::new(shared),
            port: 8080,
            client_ip: "192.0.2.7".into(),
            proto: "https",
            port_value: "8080".into(),
        }
    }

    #[test]
    fn a_request_to_a_port_without_rules_is_planned_as_a_503_with_its_head_consumed() {
        let mut out = Vec::new();
        let buf = b"GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b";
        let plan = plan(&ctx(false), buf, &mut out).unwrap();
        assert_eq!(plan.head_len, buf.len() - 6);
        assert_eq!(plan.route.err(), Some("no rule serves this port\n"));
        assert!(plan.keep_alive && plan.idempotent && !plan.http10);
    }

    #[test]
    fn http10_keeps_the_connection_only_when_asked_and_http11_unless_closed() {
        let mut out = Vec::new();
        let cases: [(&[u8], bool); 4] = [
            (b"GET / HTTP/1.0\r\n\r\n", false),
            (b"GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n", true),
            (b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", true),
            (b"GET / HTTP/1.1\r\nConnection: close\r\n\r\n", false),
        ];
        for (head, keep) in cases {
            let p = plan(&ctx(false), head, &mut out).unwrap();
            assert_eq!(p.keep_alive, keep, "{}", String::from_utf8_lossy(head));
        }
    }

    #[test]
    fn an_answer_of_the_balancers_own_closes_when_the_body_or_http10_requires() {
        let mut out = Vec::new();
        let p11 = plan(&ctx(false), b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", &mut out).unwrap();
        assert!(!p11.close_after_answer(true));
        assert!(p11.close_after_answer(false), "an unread body");
        let p10 = plan(
            &ctx(false),
            b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
            &mut out,
        );
        assert!(p10.unwrap().close_after_answer(true));
    }

    #[test]
    fn two_host_headers_and_connect_are_refused() {
        let mut out = Vec::new();
        let two = b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n";
        assert!(matches!(
            plan(&ctx(false), two, &mut out),
            Err(HeadError::Malformed(_))
        ));
        let connect = b"CONNECT a:443 HTTP/1.1\r\nHost: a:443\r\n\r\n";
        assert_eq!(
            plan(&ctx(false), connect, &mut out).err(),
            Some(HeadError::Malformed("CONNECT"))
        );
    }
}
