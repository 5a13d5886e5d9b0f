//! The agent's own endpoint: the server fetches container logs and runs
//! commands in containers (`exec.rs`) here. Over
//! HTTPS (with the node's certificate, requiring a client certificate of
//! the CA) once the node has a certificate; it needs the key the server
//! presents (given to the agent when it registered), and serves only
//! containers Corral made.

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use tokio::sync::watch;

use corral_api::LogsQuery;
use corral_engine::LogOptions;
use corral_types::ContainerLabels;

use crate::Shared;

/// Connections the endpoint serves at once (the server's log requests and
/// follows of this node's containers).
const MAX_CONNECTIONS: usize = 1_024;

/// Serves the endpoint until `shutdown` turns true, with `corral_serve`'s
/// header-read and request timeouts and [`MAX_CONNECTIONS`].
pub async fn serve(
    listener: tokio::net::TcpListener,
    shared: Arc<Shared>,
    tls: Option<Arc<rustls::ServerConfig>>,
    mut shutdown: watch::Receiver<bool>,
) {
    let app = Router::new()
        .route("/v1/containers/{id}/logs", get(logs))
        .route("/v1/containers/{id}/exec", get(crate::exec::exec))
        .with_state(shared);
    let stop = async move {
        let _ = shutdown.wait_for(|s| *s).await;
    };
    let limits = corral_serve::Limits {
        max_connections: MAX_CONNECTIONS,
        ..corral_serve::Limits::default()
    };
    match tls {
        Some(tls) => corral_serve::serve_tls(listener, app, limits, tls, stop).await,
        None => corral_serve::serve(listener, app, limits, stop).await,
    }
}

pub(crate) fn authorized(shared: &Shared, headers: &HeaderMap) -> bool {
    let presented = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token)
        .unwrap_or_default()
        .as_bytes();
    let want = shared.endpoint_key.as_bytes();
    presented.len() == want.len()
        && presented
            .iter()
            .zip(want)
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
}

async fn logs(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Query(q): Query<LogsQuery>,
) -> Response {
    if !authorized(&shared, &headers) {
        return (StatusCode::UNAUTHORIZED, "missing or invalid bearer token").into_response();
    }
    match shared.engine.inspect(&id).await {
        Ok(c) if c.labels.contains_key(ContainerLabels::INSTANCE) => {}
        Ok(_) => return (StatusCode::NOT_FOUND, "not a corral container").into_response(),
        Err(e) => return (StatusCode::NOT_FOUND, e.to_string()).into_response(),
    }
    let stream = shared.engine.logs(
        &id,
        LogOptions {
            follow: q.follow,
            tail: q.tail,
        },
    );
    let body = Body::from_stream(futures::StreamExt::map(stream, |r| {
        r.map_err(std::io::Error::other)
    }));
    ([("content-type", "application/octet-stream")], body).into_response()
}
