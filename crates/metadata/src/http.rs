//! The HTTP server: one handler for every path, the caller identified by
//! its source address (only the environment's containers are answered),
//! long polls that hold no lock and end on shutdown. Connections are served
//! by hyper directly: at most [`MAX_CONNECTIONS`] at once, each given
//! [`HEADER_READ_TIMEOUT`] to send a request's headers.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, Request, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};
use tower::ServiceExt as _;

use corral_netview::EnvSnapshot;

use crate::answer::answer;
use crate::poll;
use crate::tree::MetadataTree;

/// Why the metadata service stopped.
#[derive(Debug, thiserror::Error)]
pub enum MetadataError {
    #[error("serving metadata: {source}")]
    Serve { source: std::io::Error },
}

/// How long a client has to send the headers of a request: from the
/// connection's start, and again after each response on a kept-alive
/// connection. A client that is slower is disconnected.
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(5);

/// Connections served at once; further ones wait in the listen backlog
/// until one closes. Every long poll holds one.
pub const MAX_CONNECTIONS: usize = 512;

/// The limits of the HTTP server ([`serve_with`]).
#[derive(Debug, Clone)]
pub struct MetadataConfig {
    /// See [`HEADER_READ_TIMEOUT`].
    pub header_read_timeout: Duration,
    /// See [`MAX_CONNECTIONS`]; 0 is taken as 1.
    pub max_connections: usize,
}

impl Default for MetadataConfig {
    fn default() -> Self {
        MetadataConfig {
            header_read_timeout: HEADER_READ_TIMEOUT,
            max_connections: MAX_CONNECTIONS,
        }
    }
}

#[derive(Clone)]
struct AppState {
    trees: watch::Receiver<Arc<MetadataTree>>,
    shutdown: watch::Receiver<bool>,
}

/// Serves the metadata of `view` on `listener` until `shutdown` becomes
/// true (open long polls are answered at once then), with the default
/// limits ([`MetadataConfig`]). The tree is rebuilt whenever the
/// snapshot's revision changes.
pub async fn serve(
    listener: TcpListener,
    view: watch::Receiver<Arc<EnvSnapshot>>,
    shutdown: watch::Receiver<bool>,
) -> Result<(), MetadataError> {
    serve_with(listener, view, shutdown, MetadataConfig::default()).await
}

/// [`serve`] with the limits of `config`. Returns once every connection
/// has closed after `shutdown`.
pub async fn serve_with(
    listener: TcpListener,
    view: watch::Receiver<Arc<EnvSnapshot>>,
    shutdown: watch::Receiver<bool>,
    config: MetadataConfig,
) -> Result<(), MetadataError> {
    let first = view.borrow().clone();
    let (trees_tx, trees) = watch::channel(Arc::new(MetadataTree::from_snapshot(&first)));
    let builder = tokio::spawn(follow(view, first.revision, trees_tx, shutdown.clone()));
    let app = router(trees, shutdown.clone());
    accept(listener, app, shutdown, &config).await;
    builder.abort();
    Ok(())
}

/// Accepts connections while fewer than `max_connections` are open, until
/// shutdown; then waits for the open ones to finish (each is asked to
/// close once its current request is answered).
async fn accept(
    listener: TcpListener,
    app: Router,
    shutdown: watch::Receiver<bool>,
    config: &MetadataConfig,
) {
    let max = u32::try_from(config.max_connections.max(1)).unwrap_or(u32::MAX);
    let connections = Arc::new(Semaphore::new(max as usize));
    let mut http = http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(config.header_read_timeout);
    let stop = stopped(shutdown.clone());
    tokio::pin!(stop);
    loop {
        let permit = tokio::select! {
            permit = Arc::clone(&connections).acquire_owned() => match permit {
                Ok(permit) => permit,
                Err(_) => break,
            },
            () = &mut stop => break,
        };
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            () = &mut stop => break,
        };
        match accepted {
            Ok((stream, peer)) => {
                let conn = connection(stream, peer, app.clone(), http.clone(), shutdown.clone());
                tokio::spawn(hold(permit, conn));
            }
            Err(err) => {
                tracing::debug!(error = %err, "metadata: accept failed");
                // Out of file descriptors and the like: do not spin.
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
    drop(listener);
    // Every connection gives its permit back when it ends.
    let _ = connections.acquire_many(max).await;
}

/// Runs `work` and gives the connection slot back after it.
async fn hold(permit: OwnedSemaphorePermit, work: impl Future<Output = ()>) {
    work.await;
    drop(permit);
}

/// Serves one connection; the handlers find the caller in `ConnectInfo`.
async fn connection(
    stream: TcpStream,
    peer: SocketAddr,
    app: Router,
    http: http1::Builder,
    shutdown: watch::Receiver<bool>,
) {
    let service = hyper::service::service_fn(move |mut req: Request<Incoming>| {
        req.extensions_mut().insert(ConnectInfo(peer));
        app.clone().oneshot(req)
    });
    let conn = http.serve_connection(TokioIo::new(stream), service);
    tokio::pin!(conn);
    let stop = stopped(shutdown);
    tokio::pin!(stop);
    let result = tokio::select! {
        result = conn.as_mut() => result,
        () = &mut stop => {
            conn.as_mut().graceful_shutdown();
            conn.await
        }
    };
    if let Err(err) = result {
        // A header-read timeout, a reset, a malformed request.
        tracing::debug!(%peer, error = %err, "metadata connection ended");
    }
}

/// The routes, over a channel of trees (built by [`serve`]'s follower).
fn router(trees: watch::Receiver<Arc<MetadataTree>>, shutdown: watch::Receiver<bool>) -> Router {
    Router::new()
        .route("/", get(handle))
        .route("/{*path}", get(handle))
        .with_state(AppState { trees, shutdown })
}

/// Resolves when `shutdown` becomes true; never when its sender is gone
/// without having said so.
async fn stopped(mut shutdown: watch::Receiver<bool>) {
    if shutdown.wait_for(|stop| *stop).await.is_err() {
        std::future::pending::<()>().await;
    }
}

/// Rebuilds the tree when a snapshot with a new revision arrives. The build
/// runs on the blocking pool: a large environment takes a while.
async fn follow(
    mut view: watch::Receiver<Arc<EnvSnapshot>>,
    mut revision: u64,
    trees: watch::Sender<Arc<MetadataTree>>,
    shutdown: watch::Receiver<bool>,
) {
    let stop = stopped(shutdown);
    tokio::pin!(stop);
    loop {
        tokio::select! {
            changed = view.changed() => {
                if changed.is_err() {
                    return;
                }
            }
            () = &mut stop => return,
        }
        let snap = view.borrow_and_update().clone();
        if snap.revision == revision {
            continue;
        }
        revision = snap.revision;
        let current = trees.borrow().clone();
        match tokio::task::spawn_blocking(move || current.rebuild(&snap)).await {
            Ok(Some(next)) => {
                trees.send_replace(Arc::new(next));
            }
            Ok(None) => {}
            Err(e) => tracing::error!("metadata: building the tree of revision {revision}: {e}"),
        }
    }
}

fn accepts_json(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.to_ascii_lowercase().contains("application/json"))
}

fn plain(status: StatusCode, body: String) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        body,
    )
        .into_response()
}

async fn handle(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let json = accepts_json(&headers);
    let caller = peer.ip().to_canonical();
    if !state.trees.borrow().knows(caller) {
        return forbidden(caller);
    }
    let tree = match poll::parse(uri.query()) {
        Err(e) => return plain(StatusCode::BAD_REQUEST, e.to_string()),
        Ok(Some(p)) => wait_for_change(state, &p.value, p.max_wait).await,
        Ok(None) => state.trees.borrow().clone(),
    };
    match answer(&tree, Some(peer.ip()), uri.path(), json) {
        Ok(a) => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, a.content_type())],
            a.body,
        )
            .into_response(),
        Err(e) => plain(StatusCode::NOT_FOUND, e.to_string()),
    }
}

/// The answer to a caller that is not a container of the environment: the
/// service answers its containers only, about their own environment.
fn forbidden(caller: IpAddr) -> Response {
    plain(
        StatusCode::FORBIDDEN,
        format!("forbidden: {caller} is not a container of this environment\n"),
    )
}

/// The current tree once its version differs from `value`, or when
/// `max_wait` has passed, or at shutdown. Holds no borrow across a wait.
async fn wait_for_change(state: AppState, value: &str, max_wait: Duration) -> Arc<MetadataTree> {
    let AppState {
        mut trees,
        shutdown,
    } = state;
    let deadline = tokio::time::sleep(max_wait);
    let stop = stopped(shutdown);
    tokio::pin!(deadline, stop);
    let mut following = true;
    loop {
        let current = trees.borrow_and_update().clone();
        if current.version() != value {
            return current;
        }
        tokio::select! {
            changed = trees.changed(), if following => following = changed.is_ok(),
            () = &mut deadline => return current,
            () = &mut stop => return current,
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    #[test]
    fn json_is_chosen_by_the_accept_header() {
        let mut h = HeaderMap::new();
        assert!(!accepts_json(&h));
        h.insert(header::ACCEPT, "text/plain".parse().unwrap());
        assert!(!accepts_json(&h));
        h.insert(header::ACCEPT, "Application/JSON; q=1".parse().unwrap());
        assert!(accepts_json(&h));
    }
}
