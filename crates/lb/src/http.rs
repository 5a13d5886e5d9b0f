//! HTTP/1.1 proxying: route by host and path, pick a backend (sticky
//! cookie or round robin), send on a pooled connection, retry another
//! backend when one cannot be reached before it answered.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::{Either, Empty, Full};
use hyper::body::Incoming;
use hyper::header::{self, HeaderMap, HeaderName, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_util::sync::CancellationToken;

use crate::backend::{Backend, PooledBody, ReqBody};
use crate::limits::{HeadClock, IdleBody, ServedBody};
use crate::runtime::Shared;
use crate::table::Target;

/// What goes back to the client: a backend's body or a short message.
pub(crate) type RespBody = Either<PooledBody, Full<Bytes>>;

/// Backends tried for one request.
const MAX_TRIES: usize = 3;

static X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
static X_FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");
static X_FORWARDED_PORT: HeaderName = HeaderName::from_static("x-forwarded-port");
static X_REAL_IP: HeaderName = HeaderName::from_static("x-real-ip");
static KEEP_ALIVE: HeaderName = HeaderName::from_static("keep-alive");
static PROXY_CONNECTION: HeaderName = HeaderName::from_static("proxy-connection");

/// One client connection's context, shared by its requests.
struct ConnCtx {
    shared: Arc<Shared>,
    port: u16,
    client_ip: HeaderValue,
    proto: HeaderValue,
    /// The source port, for `X-Forwarded-Port`.
    port_value: HeaderValue,
}

/// Serves HTTP/1.1 with keep-alive on one client connection until it
/// closes, or finishes the request in flight and closes on `shutdown`.
pub(crate) async fn serve<IO>(
    shared: Arc<Shared>,
    port: u16,
    io: IO,
    peer: SocketAddr,
    https: bool,
    shutdown: CancellationToken,
) where
    IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let ctx = Arc::new(ConnCtx {
        shared,
        port,
        client_ip: HeaderValue::from_str(&peer.ip().to_string())
            .unwrap_or_else(|_| HeaderValue::from_static("unknown")),
        proto: HeaderValue::from_static(if https { "https" } else { "http" }),
        port_value: HeaderValue::from(port),
    });
    let header_read_timeout = ctx.shared.limits.header_read_timeout;
    let clock = HeadClock::new();
    let requests = Arc::clone(&clock);
    let service = hyper::service::service_fn(move |req| {
        let busy = requests.busy();
        let ctx = ctx.clone();
        async move {
            let resp = handle(ctx, req).await?;
            Ok::<_, Infallible>(resp.map(|body| ServedBody::new(body, busy)))
        }
    });
    // No hyper timer: the header-read deadline is the coarse `HeadClock`
    // below, not a timer armed and cancelled per request.
    let conn = hyper::server::conn::http1::Builder::new()
        .keep_alive(true)
        .header_read_timeout(None)
        // One buffer for head and small body: one write(2), no iovec.
        .writev(false)
        .serve_connection(TokioIo::new(io), service);
    tokio::pin!(conn);
    let check = tokio::time::sleep(header_read_timeout);
    tokio::pin!(check);
    loop {
        tokio::select! {
            biased;
            r = conn.as_mut() => {
                if let Err(e) = r {
                    tracing::trace!(error = %e, "client connection ended");
                }
                return;
            }
            () = shutdown.cancelled() => {
                conn.as_mut().graceful_shutdown();
                let _ = conn.await;
                return;
            }
            () = check.as_mut() => match clock.next_check(header_read_timeout) {
                Some(next) => check.as_mut().reset(next),
                None => {
                    tracing::debug!(%peer, "no request head within the header read timeout: closing");
                    return;
                }
            },
        }
    }
}

fn message(status: StatusCode, text: &'static str) -> Response<RespBody> {
    let mut resp = Response::new(Either::Right(Full::new(Bytes::from_static(
        text.as_bytes(),
    ))));
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    resp
}

/// The Host header (or the URI's authority) without its port.
fn host_of<B>(req: &Request<B>) -> &str {
    let raw = req
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .or_else(|| req.uri().authority().map(|a| a.as_str()))
        .unwrap_or("");
    match raw.rfind(':') {
        Some(i) if !raw.ends_with(']') => &raw[..i],
        _ => raw,
    }
}

/// The value of cookie `name` in the request's Cookie headers.
fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|pair| {
            let (k, v) = pair.trim().split_once('=')?;
            (k == name).then_some(v)
        })
}

async fn handle(
    ctx: Arc<ConnCtx>,
    req: Request<Incoming>,
) -> Result<Response<RespBody>, Infallible> {
    let (target, sticky, trust) = {
        let table = ctx.shared.table.load();
        let Some(routes) = table.port(ctx.port) else {
            return Ok(message(
                StatusCode::SERVICE_UNAVAILABLE,
                "no rule serves this port\n",
            ));
        };
        let Some(target) = routes.route(host_of(&req), req.uri().path()) else {
            return Ok(message(
                StatusCode::SERVICE_UNAVAILABLE,
                "no rule matches this request\n",
            ));
        };
        (
            target.clone(),
            table.sticky.clone(),
            table.trust_forwarded_for,
        )
    };
    let wanted = sticky
        .as_ref()
        .and_then(|s| cookie(req.headers(), &s.cookie))
        .and_then(|v| target.by_cookie(v))
        .cloned();
    let req = prepare(&ctx, req, trust);
    let (mut resp, backend) = match forward(&target, wanted.clone(), req).await {
        Ok(r) => r,
        Err(status) => {
            let text = if status == StatusCode::SERVICE_UNAVAILABLE {
                "no backend is serving this request\n"
            } else {
                "no backend could be reached\n"
            };
            return Ok(message(status, text));
        }
    };
    if let Some(s) = sticky {
        let same = wanted.is_some_and(|w| Arc::ptr_eq(&w, &backend));
        if !same {
            let value = format!("{}={}{}", s.cookie, backend.cookie, s.attributes);
            if let Ok(v) = HeaderValue::try_from(value) {
                resp.headers_mut().append(header::SET_COOKIE, v);
            }
        }
    }
    Ok(resp)
}

/// Headers for the backend: hop-by-hop ones removed, the forwarding ones
/// set. A request without a body gets an empty one, so it can be sent
/// again; a body the client stops sending fails after the idle timeout.
fn prepare(ctx: &ConnCtx, req: Request<Incoming>, trust: bool) -> Request<ReqBody> {
    let (mut parts, body) = req.into_parts();
    strip_hop_by_hop(&mut parts.headers);
    set_forwarding(&mut parts.headers, ctx, trust);
    let bodiless = !parts.headers.contains_key(header::TRANSFER_ENCODING)
        && parts
            .headers
            .get(header::CONTENT_LENGTH)
            .is_none_or(|v| v.as_bytes() == b"0");
    let body = if bodiless {
        Either::Right(Empty::new())
    } else {
        Either::Left(IdleBody::new(body, ctx.shared.limits.body_idle_timeout))
    };
    Request::from_parts(parts, body)
}

/// `X-Forwarded-For`, `X-Real-IP`, `X-Forwarded-Proto` and
/// `X-Forwarded-Port` for the backend. Not trusted (the default): what the
/// client sent of them (and `Forwarded`) is replaced by what the balancer
/// saw, so a client cannot pass for another address. Trusted: the peer is
/// appended to `X-Forwarded-For` and the others are kept when present.
fn set_forwarding(headers: &mut HeaderMap, ctx: &ConnCtx, trust: bool) {
    if !trust {
        headers.remove(header::FORWARDED);
        headers.insert(X_FORWARDED_FOR.clone(), ctx.client_ip.clone());
        headers.insert(X_REAL_IP.clone(), ctx.client_ip.clone());
        headers.insert(X_FORWARDED_PROTO.clone(), ctx.proto.clone());
        headers.insert(X_FORWARDED_PORT.clone(), ctx.port_value.clone());
        return;
    }
    let mut chain: Vec<u8> = Vec::new();
    for prev in headers.get_all(&X_FORWARDED_FOR) {
        chain.extend_from_slice(prev.as_bytes());
        chain.extend_from_slice(b", ");
    }
    chain.extend_from_slice(ctx.client_ip.as_bytes());
    let xff = HeaderValue::from_bytes(&chain).unwrap_or_else(|_| ctx.client_ip.clone());
    headers.insert(X_FORWARDED_FOR.clone(), xff);
    for (name, value) in [
        (&X_REAL_IP, &ctx.client_ip),
        (&X_FORWARDED_PROTO, &ctx.proto),
        (&X_FORWARDED_PORT, &ctx.port_value),
    ] {
        if !headers.contains_key(name) {
            headers.insert(name.clone(), value.clone());
        }
    }
}

fn strip_hop_by_hop(headers: &mut HeaderMap) {
    if let Some(listed) = headers.get(header::CONNECTION).cloned() {
        if let Ok(listed) = listed.to_str() {
            for name in listed.split(',').map(str::trim) {
                if !name.eq_ignore_ascii_case("close") && !name.eq_ignore_ascii_case("keep-alive") {
                    headers.remove(name);
                }
            }
        }
        headers.remove(header::CONNECTION);
    }
    headers.remove(&KEEP_ALIVE);
    headers.remove(&PROXY_CONNECTION);
    headers.remove(header::TE);
    headers.remove(header::TRAILER);
    headers.remove(header::UPGRADE);
}

/// A copy to send again if the first backend fails after the request was
/// written: only for requests without a body whose method is idempotent.
fn retry_copy(req: &Request<ReqBody>) -> Option<Request<ReqBody>> {
    let idempotent = matches!(
        *req.method(),
        Method::GET | Method::HEAD | Method::OPTIONS | Method::TRACE
    );
    if !idempotent || matches!(req.body(), Either::Left(_)) {
        return None;
    }
    let mut copy = Request::new(Either::Right(Empty::new()));
    *copy.method_mut() = req.method().clone();
    *copy.uri_mut() = req.uri().clone();
    *copy.version_mut() = req.version();
    *copy.headers_mut() = req.headers().clone();
    Some(copy)
}

/// Sends the request to a backend of `target`, trying up to three of them
/// when one cannot be reached. Errors are the status to answer with.
async fn forward<'a>(
    target: &'a Arc<Target>,
    wanted: Option<Arc<Backend>>,
    req: Request<ReqBody>,
) -> Result<(Response<RespBody>, Arc<Backend>), StatusCode> {
    let mut tried: Vec<&'a Arc<Backend>> = Vec::new();
    let mut req = Some(req);
    let mut copy = req.as_ref().and_then(retry_copy);
    for attempt in 0..MAX_TRIES {
        let backend = match (&wanted, attempt) {
            (Some(w), 0) => w.clone(),
            _ => match target.pick(&tried) {
                Some(b) => b.clone(),
                None if attempt == 0 => return Err(StatusCode::SERVICE_UNAVAILABLE),
                None => break,
            },
        };
        // Remembered only when it failed: the first try allocates nothing.
        let failed = |tried: &mut Vec<&'a Arc<Backend>>| {
            if let Some(b) = target.backends.iter().find(|b| Arc::ptr_eq(b, &backend)) {
                tried.push(b);
            }
        };
        let Some(r) = req.take() else { break };
        let mut sender = match backend.checkout().await {
            Ok(s) => s,
            Err(e) => {
                tracing::debug!(instance = %backend.instance, error = %e, "backend unreachable, trying another");
                failed(&mut tried);
                req = Some(r);
                continue;
            }
        };
        match sender.try_send_request(r).await {
            Ok(resp) => {
                let (mut parts, body) = resp.into_parts();
                strip_hop_by_hop(&mut parts.headers);
                let body = Either::Left(PooledBody::new(body, sender, backend.clone()));
                return Ok((Response::from_parts(parts, body), backend));
            }
            Err(mut e) => {
                tracing::debug!(instance = %backend.instance, error = %e.error(), "backend failed before answering");
                failed(&mut tried);
                req = e
                    .take_message()
                    .or_else(|| copy.take().inspect(|c| copy = retry_copy(c)));
                if req.is_none() {
                    return Err(StatusCode::BAD_GATEWAY);
                }
            }
        }
    }
    Err(StatusCode::BAD_GATEWAY)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_is_read_without_its_port() {
        let req = Request::builder()
            .uri("/x")
            .header("host", "Example.com:8080")
            .body(())
            .unwrap();
        assert_eq!(host_of(&req), "Example.com");
        let v6 = Request::builder()
            .uri("/x")
            .header("host", "[::1]")
            .body(())
            .unwrap();
        assert_eq!(host_of(&v6), "[::1]");
    }

    #[test]
    fn cookies_are_found_among_several() {
        let mut h = HeaderMap::new();
        h.append(header::COOKIE, HeaderValue::from_static("a=1; LB=abc"));
        h.append(header::COOKIE, HeaderValue::from_static("b=2"));
        assert_eq!(cookie(&h, "LB"), Some("abc"));
        assert_eq!(cookie(&h, "b"), Some("2"));
        assert_eq!(cookie(&h, "c"), None);
    }

    fn ctx() -> ConnCtx {
        ConnCtx {
            shared: Arc::new(Shared::default()),
            port: 8080,
            client_ip: HeaderValue::from_static("192.0.2.7"),
            proto: HeaderValue::from_static("https"),
            port_value: HeaderValue::from(8080u16),
        }
    }

    fn spoofed() -> HeaderMap {
        let mut h = HeaderMap::new();
        h.append(&X_FORWARDED_FOR, HeaderValue::from_static("10.0.0.1"));
        h.append(&X_FORWARDED_FOR, HeaderValue::from_static("10.0.0.2"));
        h.insert(&X_REAL_IP, HeaderValue::from_static("10.0.0.1"));
        h.insert(header::FORWARDED, HeaderValue::from_static("for=10.0.0.1"));
        h.insert(&X_FORWARDED_PROTO, HeaderValue::from_static("gopher"));
        h
    }

    #[test]
    fn forwarding_headers_a_client_sends_are_replaced_by_the_peer_unless_trusted() {
        let mut h = spoofed();
        set_forwarding(&mut h, &ctx(), false);
        assert_eq!(h.get_all(&X_FORWARDED_FOR).iter().count(), 1);
        assert_eq!(h[&X_FORWARDED_FOR], "192.0.2.7");
        assert_eq!(h[&X_REAL_IP], "192.0.2.7");
        assert_eq!(h[&X_FORWARDED_PROTO], "https");
        assert_eq!(h[&X_FORWARDED_PORT], "8080");
        assert!(!h.contains_key(header::FORWARDED));
    }

    #[test]
    fn trusted_forwarding_headers_get_the_peer_appended_and_are_kept() {
        let mut h = spoofed();
        set_forwarding(&mut h, &ctx(), true);
        assert_eq!(h[&X_FORWARDED_FOR], "10.0.0.1, 10.0.0.2, 192.0.2.7");
        assert_eq!(h[&X_REAL_IP], "10.0.0.1");
        assert_eq!(h[&X_FORWARDED_PROTO], "gopher");
        assert_eq!(h[&X_FORWARDED_PORT], "8080");
        assert_eq!(h[header::FORWARDED], "for=10.0.0.1");
    }

    #[test]
    fn hop_by_hop_headers_are_removed() {
        let mut h = HeaderMap::new();
        h.insert(
            header::CONNECTION,
            HeaderValue::from_static("keep-alive, x-secret"),
        );
        h.insert("x-secret", HeaderValue::from_static("1"));
        h.insert("keep-alive", HeaderValue::from_static("timeout=5"));
        h.insert("x-kept", HeaderValue::from_static("1"));
        strip_hop_by_hop(&mut h);
        assert_eq!(h.len(), 1);
        assert!(h.contains_key("x-kept"));
    }
}
