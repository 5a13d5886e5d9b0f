//! The watch hub: fans committed events out to the live watches.
//!
//! Every watch has its own bounded channel of `Arc<Event>`, registered here
//! with its [`Query`]. A watch whose selector has an equality term
//! (`io.corral.node=n1`, its first one) is filed under that (key, value);
//! the others are kept in one plain list. Publishing an event looks up, for
//! each indexed key (or each of its labels, if fewer), the event object's
//! value of that label and offers the
//! event only to the watches filed under it (and to the plain list), so its
//! cost grows with the matching watches and the number of distinct indexed
//! keys, not with all watches. Each candidate still checks its full query.
//!
//! Events are published as `Arc<Event>`s the store made once: a watch gets
//! a reference, never a copy. Publishing never waits: a watch whose channel is full is dropped from the
//! hub and, after the events it already has, reports `Lagged`. A dropped
//! [`Subscription`] unregisters itself.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};

use tokio::sync::mpsc::{self, error::TrySendError};

use crate::{Event, Query, Revision};

/// Capacity of each watch's live channel: a watch further behind (that
/// many undelivered matching events) is dropped and gets `Lagged`.
pub const WATCH_CHANNEL_CAPACITY: usize = 16_384;

/// The live watches of one store. Backends publish every committed event
/// through [`WatchHub::publish`], in revision order.
pub struct WatchHub {
    shared: Arc<Shared>,
}

struct Shared {
    registry: Mutex<Registry>,
    /// The revision of the last published event. Stored after the event
    /// was offered to every watch, so a watch that has read every event in
    /// its channel has seen everything for it up to this revision.
    published: AtomicU64,
}

/// One watch's slot: the ids are unique for the hub's life.
type Bucket = HashMap<u64, Slot>;

#[derive(Default)]
struct Registry {
    next_id: u64,
    /// label key -> label value -> watches whose selector requires it.
    /// Empty buckets and keys are removed, so publishing looks at live ones only.
    by_label: HashMap<String, HashMap<String, Bucket>>,
    /// Watches without an equality term.
    unindexed: Bucket,
    count: usize,
}

struct Slot {
    query: Query,
    tx: mpsc::Sender<Arc<Event>>,
    lagged: Arc<AtomicBool>,
}

/// A watch's end of the hub: its channel, and its registration, removed on drop.
pub struct Subscription {
    id: u64,
    index: Option<(String, String)>,
    rx: mpsc::Receiver<Arc<Event>>,
    lagged: Arc<AtomicBool>,
    /// Weak, so that dropping the store drops every sender and the watches
    /// see `Closed`.
    hub: Weak<Shared>,
}

impl WatchHub {
    /// A hub for a store whose last committed revision is `revision`.
    pub fn new(revision: Revision) -> Self {
        WatchHub {
            shared: Arc::new(Shared {
                registry: Mutex::new(Registry::default()),
                published: AtomicU64::new(revision),
            }),
        }
    }

    /// Registers a watch for `query`. Every event published from now on that
    /// matches it is delivered, until the watch falls behind or is dropped.
    pub fn subscribe(&self, query: &Query) -> Subscription {
        let (tx, rx) = mpsc::channel(WATCH_CHANNEL_CAPACITY);
        let lagged = Arc::new(AtomicBool::new(false));
        let index = query
            .selector
            .first_equality()
            .map(|(k, v)| (k.to_string(), v.to_string()));
        let slot = Slot {
            query: query.clone(),
            tx,
            lagged: lagged.clone(),
        };
        let mut registry = self.shared.lock();
        let id = registry.next_id;
        registry.next_id += 1;
        let bucket = match &index {
            Some((key, value)) => registry
                .by_label
                .entry(key.clone())
                .or_default()
                .entry(value.clone())
                .or_default(),
            None => &mut registry.unindexed,
        };
        bucket.insert(id, slot);
        registry.count += 1;
        drop(registry);
        Subscription {
            id,
            index,
            rx,
            lagged,
            hub: Arc::downgrade(&self.shared),
        }
    }

    /// Offers `events` (in revision order) to the watches they match, each
    /// getting a reference to the same event. Never blocks on a watch: one
    /// with a full channel is dropped.
    pub fn publish<'a>(&self, events: impl IntoIterator<Item = &'a Arc<Event>>) {
        let mut registry = self.shared.lock();
        let mut last = None;
        for ev in events {
            registry.deliver(ev);
            last = Some(ev.revision());
        }
        if let Some(revision) = last {
            self.shared.published.store(revision, Ordering::SeqCst);
        }
    }

    /// How many watches are registered.
    pub fn watcher_count(&self) -> usize {
        self.shared.lock().count
    }
}

impl Shared {
    /// The registry is never left half-changed by a panic (a panic in
    /// `Query::matches` leaves the slots as they were).
    fn lock(&self) -> MutexGuard<'_, Registry> {
        self.registry.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Registry {
    fn deliver(&mut self, ev: &Arc<Event>) {
        let labels = &ev.object.meta.labels;
        let mut removed = 0;
        let mut emptied_key = false;
        let mut visit = |values: &mut HashMap<String, Bucket>, value: &String| {
            let Some(bucket) = values.get_mut(value) else {
                return;
            };
            removed += offer(bucket, ev);
            if bucket.is_empty() {
                values.remove(value);
                emptied_key |= values.is_empty();
            }
        };
        // Whichever is fewer: the indexed keys, or the object's labels.
        if labels.len() < self.by_label.len() {
            for (key, value) in labels {
                if let Some(values) = self.by_label.get_mut(key) {
                    visit(values, value);
                }
            }
        } else {
            for (key, values) in &mut self.by_label {
                if let Some(value) = labels.get(key) {
                    visit(values, value);
                }
            }
        }
        if emptied_key {
            self.by_label.retain(|_, values| !values.is_empty());
        }
        removed += offer(&mut self.unindexed, ev);
        self.count -= removed;
    }

    fn remove(&mut self, id: u64, index: Option<&(String, String)>) {
        let removed = match index {
            None => self.unindexed.remove(&id).is_some(),
            Some((key, value)) => {
                let Some(values) = self.by_label.get_mut(key) else {
                    return;
                };
                let Some(bucket) = values.get_mut(value) else {
                    return;
                };
                let removed = bucket.remove(&id).is_some();
                if bucket.is_empty() {
                    values.remove(value);
                    if values.is_empty() {
                        self.by_label.remove(key);
                    }
                }
                removed
            }
        };
        if removed {
            self.count -= 1;
        }
    }
}

/// Sends `ev` to the watches of `bucket` whose query it matches, dropping
/// those that are full or gone; returns how many were dropped.
fn offer(bucket: &mut Bucket, ev: &Arc<Event>) -> usize {
    let before = bucket.len();
    bucket.retain(|_, slot| {
        if !slot.query.matches(&ev.object) {
            return true;
        }
        match slot.tx.try_send(ev.clone()) {
            Ok(()) => true,
            Err(TrySendError::Full(_)) => {
                // Set before the sender is dropped, so the watch sees it
                // once it has drained its channel.
                slot.lagged.store(true, Ordering::SeqCst);
                false
            }
            Err(TrySendError::Closed(_)) => false,
        }
    });
    before - bucket.len()
}

impl Subscription {
    /// The next live event; `None` once the watch was dropped from the hub
    /// (see [`Subscription::lagged`]) or the store is gone, and its channel
    /// is drained. Cancel safe.
    pub(crate) async fn recv(&mut self) -> Option<Arc<Event>> {
        self.rx.recv().await
    }

    /// True if the watch was dropped for falling behind.
    pub(crate) fn lagged(&self) -> bool {
        self.lagged.load(Ordering::SeqCst)
    }

    /// The revision up to which every live event for this watch has been
    /// received: the last published one, if the channel is empty and the
    /// watch has not lagged.
    pub(crate) fn settled(&self) -> Option<Revision> {
        let hub = self.hub.upgrade()?;
        // The published revision first: every event up to it was offered
        // before it was stored, so an empty channel now means none is pending.
        let published = hub.published.load(Ordering::SeqCst);
        (!self.lagged() && self.rx.is_empty()).then_some(published)
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        if let Some(hub) = self.hub.upgrade() {
            hub.lock().remove(self.id, self.index.as_ref());
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use corral_types::{Kind, LabelSelector, RawObject};

    use super::*;
    use crate::EventType;

    fn event(revision: Revision, node: &str) -> Arc<Event> {
        let mut object = RawObject::new(Kind::Instance, "dev", "i", serde_json::Value::Null);
        object.meta.revision = revision;
        object
            .meta
            .labels
            .insert("io.corral.node".to_string(), node.to_string());
        Arc::new(Event {
            event_type: EventType::Created,
            object,
        })
    }

    fn on_node(node: &str) -> Query {
        Query::kind(Kind::Instance).with_selector(LabelSelector::equals("io.corral.node", node))
    }

    #[test]
    fn watches_are_filed_by_their_first_equality_term() {
        let hub = WatchHub::new(0);
        let a = hub.subscribe(&on_node("a"));
        let a2 = hub.subscribe(&on_node("a"));
        let b = hub.subscribe(&on_node("b"));
        let all = hub.subscribe(&Query::default());
        let not_a = hub.subscribe(
            &Query::default().with_selector(LabelSelector::parse("io.corral.node!=a").unwrap()),
        );
        // A second indexed key: now the event's one label is looked up instead.
        let zone =
            hub.subscribe(&Query::default().with_selector(LabelSelector::equals("zone", "x")));
        {
            let registry = hub.shared.lock();
            let values = &registry.by_label["io.corral.node"];
            assert_eq!(values["a"].len(), 2);
            assert_eq!(values["b"].len(), 1);
            assert_eq!(registry.unindexed.len(), 2);
        }
        hub.publish([&event(1, "a"), &event(2, "b")]);
        let revisions = |s: &mut Subscription| {
            let mut seen = Vec::new();
            while let Ok(ev) = s.rx.try_recv() {
                seen.push(ev.revision());
            }
            seen
        };
        let mut subs = [a, a2, b, all, not_a, zone];
        let seen: Vec<Vec<Revision>> = subs.iter_mut().map(revisions).collect();
        assert_eq!(
            seen,
            [vec![1], vec![1], vec![2], vec![1, 2], vec![2], vec![]]
        );
        assert_eq!(hub.watcher_count(), 6);
        drop(subs);
        assert_eq!(hub.watcher_count(), 0);
        let registry = hub.shared.lock();
        assert!(registry.by_label.is_empty() && registry.unindexed.is_empty());
    }

    #[test]
    fn a_full_watch_is_dropped_and_the_settled_revision_waits_for_the_channel() {
        let hub = WatchHub::new(0);
        let mut sub = hub.subscribe(&on_node("a"));
        let quiet = hub.subscribe(&on_node("b"));
        let n = WATCH_CHANNEL_CAPACITY as u64;
        let events: Vec<Arc<Event>> = (1..=n + 1).map(|r| event(r, "a")).collect();
        hub.publish(&events[..n as usize]);
        assert_eq!(sub.settled(), None);
        assert_eq!(quiet.settled(), Some(n));
        hub.publish(&events[n as usize..]);
        assert!(sub.lagged());
        assert_eq!(hub.watcher_count(), 1);
        for r in 1..=n {
            assert_eq!(sub.rx.try_recv().unwrap().revision(), r);
        }
        assert!(sub.rx.try_recv().is_err());
        assert_eq!(sub.settled(), None);
        drop(sub);
        assert_eq!(hub.watcher_count(), 1);
    }

    #[test]
    fn watches_can_move_between_threads() {
        fn shareable<T: Send + Sync + 'static>() {}
        shareable::<crate::Watch>();
        shareable::<WatchHub>();
    }

    #[test]
    fn dropping_the_hub_closes_every_watch() {
        let hub = WatchHub::new(0);
        let mut sub = hub.subscribe(&Query::default());
        hub.publish([&event(1, "a")]);
        drop(hub);
        assert_eq!(sub.rx.try_recv().unwrap().revision(), 1);
        assert!(matches!(
            sub.rx.try_recv(),
            Err(mpsc::error::TryRecvError::Disconnected)
        ));
        assert!(!sub.lagged());
        assert_eq!(sub.settled(), None);
    }
}
