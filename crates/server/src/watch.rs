//! Watch responses: one JSON event per line, a bookmark every 15 s, and an
//! `expired` event (then the end) when the watch cannot go on.

use std::time::Duration;

use axum::body::Body;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;

use corral_api::{WatchEvent, WatchEventType};
use corral_store::{EventType, Query, Watch};
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
        let from = match revision {
            Some(r) => r,
            None => store.current_revision()?,
        };
        store.watch(query, from)
    })
    .await
    .map_err(|e| ApiError::Internal(e.to_string()))??;
    let stream = futures::stream::unfold(Some(watch), next_line);
    Ok((
        [
            ("content-type", "application/x-ndjson"),
            ("cache-control", "no-cache"),
        ],
        Body::from_stream(stream),
    )
        .into_response())
}

fn line(event: &WatchEvent) -> Bytes {
    let mut v = serde_json::to_vec(event).unwrap_or_default();
    v.push(b'\n');
    Bytes::from(v)
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

async fn next_line(state: Option<Watch>) -> Option<(Result<Bytes, std::io::Error>, Option<Watch>)> {
    let mut watch = state?;
    match tokio::time::timeout(BOOKMARK_EVERY, watch.next()).await {
        Err(_) => {
            let rev = watch.last_revision();
            Some((
                Ok(line(&marker(WatchEventType::Bookmark, rev))),
                Some(watch),
            ))
        }
        Ok(Ok(ev)) => {
            let event_type = match ev.event_type {
                EventType::Created => WatchEventType::Created,
                EventType::Updated => WatchEventType::Updated,
                EventType::Deleted => WatchEventType::Deleted,
            };
            let out = WatchEvent {
                event_type,
                object: ev.object,
            };
            Some((Ok(line(&out)), Some(watch)))
        }
        Ok(Err(_)) => {
            let rev = watch.last_revision();
            Some((Ok(line(&marker(WatchEventType::Expired, rev))), None))
        }
    }
}
