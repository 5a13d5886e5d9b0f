//! An in-memory store for unit tests: same semantics as SQLite, nothing durable.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};

use corral_types::{Kind, RawObject};

use crate::write::{self, Staging};
use crate::{Event, EventType, Listing, Op, Query, Revision, Store, StoreError, Watch, WatchHub};

/// How many events the in-memory history keeps by default; older ones are compacted.
pub const DEFAULT_HISTORY_LIMIT: usize = 100_000;

type Key = (Kind, String, String);

/// A store kept in a `BTreeMap` behind a mutex, with a bounded event history.
pub struct MemoryStore {
    inner: Mutex<Inner>,
    hub: WatchHub,
}

struct Inner {
    objects: BTreeMap<Key, RawObject>,
    /// Shared with the watch hub: an event is stored once.
    log: VecDeque<Arc<Event>>,
    revision: Revision,
    /// Events at or below this revision are no longer in `log`.
    compacted: Revision,
    history_limit: usize,
}

impl MemoryStore {
    /// An empty store keeping the last [`DEFAULT_HISTORY_LIMIT`] events.
    pub fn new() -> Self {
        Self::with_history_limit(DEFAULT_HISTORY_LIMIT)
    }

    /// An empty store keeping the last `limit` events (at least one).
    pub fn with_history_limit(limit: usize) -> Self {
        MemoryStore {
            inner: Mutex::new(Inner {
                objects: BTreeMap::new(),
                log: VecDeque::new(),
                revision: 0,
                compacted: 0,
                history_limit: limit.max(1),
            }),
            hub: WatchHub::new(0),
        }
    }

    /// The lock never guards a half-done write (commits cannot fail midway),
    /// so a poisoned lock still holds consistent state.
    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl Default for MemoryStore {
    fn default() -> Self {
        Self::new()
    }
}

fn key(kind: Kind, environment: &str, name: &str) -> Key {
    (kind, environment.to_string(), name.to_string())
}

/// The batch's writes layered over the committed objects.
struct Overlay<'a> {
    base: &'a BTreeMap<Key, RawObject>,
    changes: BTreeMap<Key, Option<RawObject>>,
}

impl Staging for Overlay<'_> {
    fn current(
        &mut self,
        kind: Kind,
        environment: &str,
        name: &str,
    ) -> Result<Option<RawObject>, StoreError> {
        let k = key(kind, environment, name);
        Ok(match self.changes.get(&k) {
            Some(change) => change.clone(),
            None => self.base.get(&k).cloned(),
        })
    }

    fn record(&mut self, event: &Event) -> Result<(), StoreError> {
        let obj = &event.object;
        let k = key(obj.kind, &obj.meta.environment, &obj.meta.name);
        let value = match event.event_type {
            EventType::Created | EventType::Updated => Some(obj.clone()),
            EventType::Deleted => None,
        };
        self.changes.insert(k, value);
        Ok(())
    }
}

impl Store for MemoryStore {
    fn get(&self, kind: Kind, environment: &str, name: &str) -> Result<RawObject, StoreError> {
        self.lock()
            .objects
            .get(&key(kind, environment, name))
            .cloned()
            .ok_or_else(|| write::not_found(kind, environment, name))
    }

    fn list(&self, query: &Query) -> Result<Listing, StoreError> {
        let inner = self.lock();
        let Some(page) = &query.page else {
            let mut items: Vec<RawObject> = inner
                .objects
                .values()
                .filter(|obj| query.matches(obj))
                .cloned()
                .collect();
            write::sort_for_listing(&mut items);
            return Ok(Listing {
                items,
                revision: inner.revision,
                next: None,
            });
        };
        // As the SQL store pages: the kind and environment narrow, the
        // order is the key's, and the label selector filters the page read.
        let mut keyed: Vec<(crate::ListKey, &RawObject)> = inner
            .objects
            .values()
            .filter(|obj| {
                query.kind.is_none_or(|k| k == obj.kind)
                    && query
                        .environment
                        .as_deref()
                        .is_none_or(|e| e == obj.meta.environment)
            })
            .map(|obj| (crate::ListKey::of(obj), obj))
            .filter(|(key, _)| page.after.as_ref().is_none_or(|a| key > a))
            .collect();
        keyed.sort_by(|a, b| a.0.cmp(&b.0));
        keyed.truncate(page.limit);
        let next = (keyed.len() == page.limit)
            .then(|| keyed.last().map(|(k, _)| k.clone()))
            .flatten();
        let items = keyed
            .into_iter()
            .filter(|(_, obj)| query.selector.matches(&obj.meta.labels))
            .map(|(_, obj)| obj.clone())
            .collect();
        Ok(Listing {
            items,
            revision: inner.revision,
            next,
        })
    }

    fn apply(&self, ops: Vec<Op>) -> Result<Vec<RawObject>, StoreError> {
        Ok(self
            .commit(ops)?
            .into_iter()
            .map(|ev| Arc::unwrap_or_clone(ev).object)
            .collect())
    }

    fn watch(&self, query: Query, from: Revision) -> Result<Watch, StoreError> {
        let inner = self.lock();
        // Under the lock no write can slip between the subscription and the backlog.
        let live = self.hub.subscribe(&query);
        if from < inner.compacted {
            return Err(StoreError::Compacted {
                requested: from,
                oldest: inner.compacted,
            });
        }
        let backlog = inner
            .log
            .iter()
            .filter(|ev| ev.revision() > from && query.matches(&ev.object))
            .map(|ev| Event::clone(ev))
            .collect();
        drop(inner);
        Ok(Watch::new(query, backlog, live, from))
    }

    fn current_revision(&self) -> Result<Revision, StoreError> {
        Ok(self.lock().revision)
    }

    fn watcher_count(&self) -> Option<usize> {
        Some(self.hub.watcher_count())
    }

    fn compact(&self, keep_after: Revision) -> Result<(), StoreError> {
        let mut inner = self.lock();
        let keep_after = keep_after.min(inner.revision);
        if keep_after <= inner.compacted {
            return Ok(());
        }
        while inner
            .log
            .front()
            .is_some_and(|ev| ev.revision() <= keep_after)
        {
            inner.log.pop_front();
        }
        inner.compacted = keep_after;
        Ok(())
    }
}

impl MemoryStore {
    /// Checks `ops` against the current state and, if all pass, commits them
    /// and publishes their events (still under the lock, so in revision order).
    fn commit(&self, ops: Vec<Op>) -> Result<Vec<Arc<Event>>, StoreError> {
        let mut inner = self.lock();
        let mut overlay = Overlay {
            base: &inner.objects,
            changes: BTreeMap::new(),
        };
        let events: Vec<Arc<Event>> = write::stage(&mut overlay, inner.revision, ops)?
            .into_iter()
            .map(Arc::new)
            .collect();
        let changes = overlay.changes;
        for (k, change) in changes {
            match change {
                Some(obj) => inner.objects.insert(k, obj),
                None => inner.objects.remove(&k),
            };
        }
        for ev in &events {
            inner.revision = ev.revision();
            inner.log.push_back(ev.clone());
        }
        self.hub.publish(&events);
        while inner.log.len() > inner.history_limit {
            if let Some(dropped) = inner.log.pop_front() {
                inner.compacted = dropped.revision();
            }
        }
        Ok(events)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn service(name: &str) -> RawObject {
        RawObject::new(Kind::Service, "dev", name, serde_json::Value::Null)
    }

    #[test]
    fn history_beyond_the_limit_is_compacted() {
        let store = MemoryStore::with_history_limit(3);
        for i in 0..5 {
            store.create(service(&format!("s{i}"))).unwrap();
        }
        assert!(matches!(
            store.watch(Query::default(), 1).err(),
            Some(StoreError::Compacted {
                requested: 1,
                oldest: 2
            })
        ));
        assert!(store.watch(Query::default(), 2).is_ok());
        assert_eq!(store.list(&Query::default()).unwrap().items.len(), 5);
    }
}
