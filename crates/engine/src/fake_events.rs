//! Helpers of the [`crate::FakeEngine`]: Docker-like events, container
//! ids, and the follower of a container's log lines.

use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;
use tokio::sync::broadcast;

use crate::fake::{FakeContainer, Signal};
use crate::{ContainerEvent, EngineError};

/// Container ids are unique across every fake of the process, so that
/// simulated nodes sharing one server never collide.
static NEXT_ID: AtomicU64 = AtomicU64::new(1);

pub(crate) fn event(container: &FakeContainer, action: &str) -> ContainerEvent {
    // Like Docker's Actor.Attributes: the labels, the name and the image.
    let mut labels = container.config.labels.clone();
    labels.insert("name".to_owned(), container.config.name.clone());
    labels.insert("image".to_owned(), container.config.image.clone());
    ContainerEvent {
        container_id: container.id.clone(),
        action: action.to_owned(),
        labels,
    }
}

pub(crate) fn die_event(container: &FakeContainer, exit_code: i64) -> ContainerEvent {
    let mut event = event(container, "die");
    event
        .labels
        .insert("exitCode".to_owned(), exit_code.to_string());
    event
}

/// A sequence number and a 64-hex-digit id whose first 12 digits differ
/// between containers.
pub(crate) fn next_id() -> (u64, String) {
    let n = NEXT_ID.fetch_add(1, Ordering::Relaxed);
    // splitmix64: a bijection, so the leading digits are distinct.
    let mut z = n.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^= z >> 31;
    (n, format!("{z:016x}{n:048x}"))
}

/// New log lines of container `id` until it dies or is removed.
pub(crate) fn follow(
    receiver: broadcast::Receiver<Signal>,
    id: String,
) -> impl futures::Stream<Item = Result<Bytes, EngineError>> {
    futures::stream::unfold((receiver, id), |(mut receiver, id)| async move {
        loop {
            match receiver.recv().await {
                Ok(Signal::Log { id: from, line }) if from == id => {
                    return Some((Ok(line), (receiver, id)));
                }
                Ok(Signal::Event(e))
                    if e.container_id == id && (e.action == "die" || e.action == "destroy") =>
                {
                    return None;
                }
                Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => {}
                Err(broadcast::error::RecvError::Closed) => return None,
            }
        }
    })
}
