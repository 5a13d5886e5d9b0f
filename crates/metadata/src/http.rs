//! The HTTP server: one handler for every path, the caller identified by
//! its source address, long polls that hold no lock and end on shutdown.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use tokio::sync::watch;

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

#[derive(Clone)]
struct AppState {
    trees: watch::Receiver<Arc<MetadataTree>>,
    shutdown: watch::Receiver<bool>,
}

/// Serves the metadata of `view` on `listener` until `shutdown` becomes
/// true (open long polls are answered at once then). The tree is rebuilt
/// whenever the snapshot's revision changes.
pub async fn serve(
    listener: tokio::net::TcpListener,
    view: watch::Receiver<Arc<EnvSnapshot>>,
    shutdown: watch::Receiver<bool>,
) -> Result<(), MetadataError> {
    let first = view.borrow().clone();
    let (trees_tx, trees) = watch::channel(Arc::new(MetadataTree::from_snapshot(&first)));
    let builder = tokio::spawn(follow(view, first.revision, trees_tx, shutdown.clone()));
    let app = router(trees, shutdown.clone());
    let result = axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(stopped(shutdown))
    .await;
    builder.abort();
    result.map_err(|source| MetadataError::Serve { source })
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
