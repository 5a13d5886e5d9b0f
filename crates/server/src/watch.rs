//! Watch responses: one JSON event per line, a bookmark every 15 s, and an
//! `expired` event (then the end) when the watch cannot go on.

use std::time::Duration;

use axum::body::Body;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use futures::FutureExt;

use corral_api::{WatchEvent, WatchEventType};
use corral_store::{Event, EventType, Query, Watch};
use corral_types::{Kind, Meta, RawObject};

use crate::error::ApiError;
use crate::state::AppState;

const BOOKMARK_EVERY: Duration = Duration::from_secs(15);

/// Starts a watch after `revision` (default: now) and streams it.
pub async fn watch_response(
    state: &AppState,
    query: Query,
    revision: Option<u64>,
) -> Result<Response, ApiError> {
    let store = state.store.clone();
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
    let stream = futures::stream::unfold(Some((watch, state.shutdown.clone())), next_line);
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

/// A store event as the API sends it.
fn wire_event(ev: Event) -> WatchEvent {
    let event_type = match ev.event_type {
        EventType::Created => WatchEventType::Created,
        EventType::Updated => WatchEventType::Updated,
        EventType::Deleted => WatchEventType::Deleted,
    };
    WatchEvent {
        event_type,
        object: ev.object,
    }
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

type StreamState = Option<(Watch, tokio::sync::watch::Receiver<bool>)>;

async fn next_line(state: StreamState) -> Option<(Result<Bytes, std::io::Error>, StreamState)> {
    let (mut watch, mut shutdown) = state?;
    let next = tokio::select! {
        next = tokio::time::timeout(BOOKMARK_EVERY, watch.next()) => next,
        _ = stopped(&mut shutdown) => return None,
    };
    match next {
        Err(_) => {
            let rev = watch.last_revision();
            let bookmark = line(&marker(WatchEventType::Bookmark, rev));
            Some((Ok(bookmark), Some((watch, shutdown))))
        }
        Ok(Ok(ev)) => {
            // Events already waiting go out in the same chunk: one write
            // (and one read on the other end) for a burst, not one each.
            let mut chunk = Vec::with_capacity(4096);
            push_line(&mut chunk, &wire_event(ev));
            while chunk.len() < CHUNK_BYTES {
                match watch.next().now_or_never() {
                    Some(Ok(ev)) => push_line(&mut chunk, &wire_event(ev)),
                    // An error stays: the next call meets it again.
                    Some(Err(_)) | None => break,
                }
            }
            Some((Ok(Bytes::from(chunk)), Some((watch, shutdown))))
        }
        Ok(Err(_)) => {
            let rev = watch.last_revision();
            Some((Ok(line(&marker(WatchEventType::Expired, rev))), None))
        }
    }
}
