//! Watch responses: one JSON event per line, a bookmark every 15 s, and an
//! `expired` event (then the end) when the watch cannot go on.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use futures::FutureExt;

use corral_api::{WatchEvent, WatchEventType};
use corral_store::{Event, EventType, Query, Watch};
use corral_types::{Kind, Meta, RawObject};

use crate::access::secrets::{holds_hashes, redact};
use crate::error::ApiError;
use crate::state::AppState;

const BOOKMARK_EVERY: Duration = Duration::from_secs(15);

/// Which events of a watch a caller sees.
#[derive(Debug, Clone, Default)]
pub struct View {
    /// The environments whose objects are sent; `None`: all of them.
    pub environments: Option<Arc<HashSet<String>>>,
}

impl View {
    fn shows(&self, ev: &Event) -> bool {
        self.environments
            .as_ref()
            .is_none_or(|envs| envs.contains(&ev.object.meta.environment))
    }
}

/// Starts a watch after `revision` (default: now) and streams it.
pub async fn watch_response(
    state: &AppState,
    query: Query,
    revision: Option<u64>,
) -> Result<Response, ApiError> {
    watch_response_in(state, query, revision, View::default()).await
}

/// [`watch_response`] of the events `view` shows.
pub async fn watch_response_in(
    state: &AppState,
    query: Query,
    revision: Option<u64>,
    view: View,
) -> Result<Response, ApiError> {
    let store = state.store_handle();
    let watch = tokio::task::spawn_blocking(move || {
        let current = store.current_revision()?;
        let from = revision.unwrap_or(current);
        // A revision this store never reached is from another history: the
        // watch would silently skip every event up to it.
        if from > current {
            return Err(ApiError::bad_request(
                Some("revision"),
                format!("revision {from} is in the future; the store is at {current}"),
            ));
        }
        Ok(store.watch(query, from)?)
    })
    .await
    .map_err(|e| ApiError::Internal(e.to_string()))??;
    let stream = futures::stream::unfold(Some((watch, state.shutdown.clone(), view)), next_line);
    Ok((
        [
            ("content-type", "application/x-ndjson"),
            ("cache-control", "no-cache"),
        ],
        Body::from_stream(stream),
    )
        .into_response())
}

/// One event alone as a chunk (a bookmark, the expiry).
fn line(event: &WatchEvent) -> Bytes {
    let mut v = Vec::new();
    push_line(&mut v, event);
    Bytes::from(v)
}

/// A chunk of the response takes the events already waiting up to about
/// this size.
const CHUNK_BYTES: usize = 64 * 1024;

/// A store event as the API sends it (without password or token hashes).
fn wire_event(ev: Event) -> WatchEvent {
    let event_type = match ev.event_type {
        EventType::Created => WatchEventType::Created,
        EventType::Updated => WatchEventType::Updated,
        EventType::Deleted => WatchEventType::Deleted,
    };
    let object = if holds_hashes(ev.object.kind) {
        redact(ev.object)
    } else {
        ev.object
    };
    WatchEvent { event_type, object }
}

/// Appends `event` as one line of JSON.
fn push_line(chunk: &mut Vec<u8>, event: &WatchEvent) {
    let start = chunk.len();
    match serde_json::to_writer(&mut *chunk, event) {
        Ok(()) => chunk.push(b'\n'),
        // Never half a line (a stored object always encodes).
        Err(_) => chunk.truncate(start),
    }
}

fn marker(event_type: WatchEventType, revision: u64) -> WatchEvent {
    WatchEvent {
        event_type,
        object: RawObject {
            kind: Kind::Environment,
            meta: Meta {
                revision,
                ..Meta::default()
            },
            spec: serde_json::Value::Null,
            status: serde_json::Value::Null,
        },
    }
}

/// Resolves when the server stops (never, if nobody can signal it).
async fn stopped(shutdown: &mut tokio::sync::watch::Receiver<bool>) {
    if shutdown.wait_for(|stop| *stop).await.is_err() {
        std::future::pending::<()>().await;
    }
}

type StreamState = Option<(Watch, tokio::sync::watch::Receiver<bool>, View)>;

async fn next_line(state: StreamState) -> Option<(Result<Bytes, std::io::Error>, StreamState)> {
    let (mut watch, mut shutdown, view) = state?;
    let next = tokio::select! {
        next = tokio::time::timeout(BOOKMARK_EVERY, watch.next()) => next,
        _ = stopped(&mut shutdown) => return None,
    };
    match next {
        Err(_) => {
            let rev = watch.last_revision();
            let bookmark = line(&marker(WatchEventType::Bookmark, rev));
            Some((Ok(bookmark), Some((watch, shutdown, view))))
        }
        Ok(Ok(ev)) => {
            // Events already waiting go out in the same chunk: one write
            // (and one read on the other end) for a burst, not one each.
            let mut chunk = Vec::with_capacity(4096);
            if view.shows(&ev) {
                push_line(&mut chunk, &wire_event(ev));
            }
            while chunk.len() < CHUNK_BYTES {
                match watch.next().now_or_never() {
                    Some(Ok(ev)) if view.shows(&ev) => push_line(&mut chunk, &wire_event(ev)),
                    Some(Ok(_)) => {}
                    // An error stays: the next call meets it again.
                    Some(Err(_)) | None => break,
                }
            }
            Some((Ok(Bytes::from(chunk)), Some((watch, shutdown, view))))
        }
        Ok(Err(_)) => {
            let rev = watch.last_revision();
            Some((Ok(line(&marker(WatchEventType::Expired, rev))), None))
        }
    }
}
