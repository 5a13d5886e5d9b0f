//! The one serving loop of Corral's axum servers (the API server and the
//! agent's endpoint), in place of `axum::serve`, which has no limits:
//!
//! - a client has [`Limits::header_read_timeout`] to send a request's
//!   headers (and, on a keep-alive connection, the next request), so
//!   half-open connections (slowloris) do not stay;
//! - a handler, reading of the request body included, has
//!   [`Limits::request_timeout`] to produce its response head, else the
//!   client gets 503; a streaming body (watch streams, log follows) is not
//!   cut, since the handler returned when it began;
//! - at most [`Limits::max_connections`] connections are served at once;
//!   beyond that a new connection is closed as soon as it is accepted;
//! - on `shutdown` the listener closes, every connection finishes its
//!   request in flight and closes, and `serve` returns once all are
//!   closed. Dropping the future of `serve` closes them all at once.
//!
//! HTTP/1.1 only (as the workspace's axum features), with upgrades; the
//! client's address is in each request as `ConnectInfo<SocketAddr>`.
//!
//! [`serve_tls`] serves HTTPS only: the TLS handshake must finish within
//! the header-read timeout, and when the client presented a certificate
//! (which the rustls configuration has verified), each request carries its
//! fingerprint as a [`ClientCertificate`] extension.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{HeaderValue, Request, Response, StatusCode, header};
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, watch};
use tokio::task::JoinSet;
use tokio_rustls::TlsAcceptor;
use tower_service::Service;

/// Time a client has to send a request's headers.
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(30);
/// Time a handler has to read the request and answer with a response head.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);
/// Connections the API server serves at once (5,000 agents hold about
/// three each).
pub const MAX_CONNECTIONS: usize = 32_768;

/// The certificate a TLS client presented (verified by the server's
/// rustls configuration), as a request extension.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientCertificate {
    /// `sha256:<hex>` of the client's certificate.
    pub fingerprint: String,
}

/// What one server lets its clients hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// [`HEADER_READ_TIMEOUT`].
    pub header_read_timeout: Duration,
    /// [`REQUEST_TIMEOUT`].
    pub request_timeout: Duration,
    /// [`MAX_CONNECTIONS`].
    pub max_connections: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            header_read_timeout: HEADER_READ_TIMEOUT,
            request_timeout: REQUEST_TIMEOUT,
            max_connections: MAX_CONNECTIONS,
        }
    }
}

/// Serves `app` on `listener` within `limits` until `shutdown` completes,
/// then lets the open connections finish their requests (see the crate's
/// documentation). Accept errors (out of file descriptors) are logged and
/// retried after a short pause.
pub async fn serve<F>(listener: TcpListener, app: Router, limits: Limits, shutdown: F)
where
    F: Future<Output = ()> + Send,
{
    serve_with(listener, app, limits, None, shutdown).await;
}

/// [`serve`] over TLS with `tls`: a client that does not finish its
/// handshake within the header-read timeout is dropped.
pub async fn serve_tls<F>(
    listener: TcpListener,
    app: Router,
    limits: Limits,
    tls: Arc<rustls::ServerConfig>,
    shutdown: F,
) where
    F: Future<Output = ()> + Send,
{
    serve_with(
        listener,
        app,
        limits,
        Some(TlsAcceptor::from(tls)),
        shutdown,
    )
    .await;
}

async fn serve_with<F>(
    listener: TcpListener,
    app: Router,
    limits: Limits,
    tls: Option<TlsAcceptor>,
    shutdown: F,
) where
    F: Future<Output = ()> + Send,
{
    let slots = Arc::new(Semaphore::new(
        limits.max_connections.clamp(1, Semaphore::MAX_PERMITS),
    ));
    let (closing, closing_rx) = watch::channel(false);
    let mut connections = JoinSet::new();
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            () = &mut shutdown => break,
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
            accepted = listener.accept() => {
                let (stream, peer) = match accepted {
                    Ok(x) => x,
                    Err(e) => {
                        tracing::warn!(error = %e, "accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let Ok(slot) = slots.clone().try_acquire_owned() else {
                    tracing::debug!(%peer, "connection limit reached: closing a new connection");
                    drop(stream);
                    continue;
                };
                let (app, closing) = (app.clone(), closing_rx.clone());
                let tls = tls.clone();
                connections.spawn(async move {
                    match tls {
                        None => serve_connection(stream, peer, None, app, limits, closing).await,
                        Some(acceptor) => {
                            let handshake = acceptor.accept(stream);
                            match tokio::time::timeout(limits.header_read_timeout, handshake).await {
                                Ok(Ok(stream)) => {
                                    let cert = stream
                                        .get_ref()
                                        .1
                                        .peer_certificates()
                                        .and_then(|certs| certs.first())
                                        .map(|der| ClientCertificate {
                                            fingerprint: corral_pki::fingerprint(der),
                                        });
                                    serve_connection(stream, peer, cert, app, limits, closing).await;
                                }
                                Ok(Err(e)) => tracing::debug!(%peer, error = %e, "TLS handshake failed"),
                                Err(_) => tracing::debug!(%peer, "no TLS handshake in time"),
                            }
                        }
                    }
                    drop(slot);
                });
            }
        }
    }
    drop(listener);
    let _ = closing.send(true);
    while connections.join_next().await.is_some() {}
}

async fn serve_connection<S>(
    stream: S,
    peer: SocketAddr,
    cert: Option<ClientCertificate>,
    app: Router,
    limits: Limits,
    mut closing: watch::Receiver<bool>,
) where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let service = hyper::service::service_fn(move |mut req: Request<Incoming>| {
        req.extensions_mut().insert(ConnectInfo(peer));
        if let Some(cert) = &cert {
            req.extensions_mut().insert(cert.clone());
        }
        let mut app = app.clone();
        async move {
            let answer = tokio::time::timeout(limits.request_timeout, app.call(req)).await;
            Ok::<_, std::convert::Infallible>(match answer {
                Ok(Ok(resp)) => resp,
                Ok(Err(never)) => match never {},
                Err(_) => request_timed_out(limits.request_timeout),
            })
        }
    });
    let conn = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .serve_connection(TokioIo::new(stream), service)
        .with_upgrades();
    tokio::pin!(conn);
    tokio::select! {
        r = conn.as_mut() => {
            if let Err(e) = r {
                tracing::trace!(%peer, error = %e, "connection ended");
            }
            return;
        }
        _ = closing.wait_for(|c| *c) => {}
    }
    conn.as_mut().graceful_shutdown();
    if let Err(e) = conn.await {
        tracing::trace!(%peer, error = %e, "connection ended");
    }
}

/// 503 with the API's error body.
fn request_timed_out(after: Duration) -> Response<Body> {
    let text = format!(
        "{{\"error\":\"the request was not read and answered within {} s\"}}",
        after.as_secs()
    );
    let mut resp = Response::new(Body::from(text));
    *resp.status_mut() = StatusCode::SERVICE_UNAVAILABLE;
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    resp
}
