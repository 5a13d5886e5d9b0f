//! An in-memory copy of the store, fed by a watch.

use std::collections::BTreeMap;

use corral_store::{Event, EventType, Query, Revision, Store, StoreError};
use corral_types::{Kind, RawObject};

type Key = (Kind, String, String);

/// Current objects by (kind, environment, name), at a known revision.
#[derive(Debug, Default, Clone)]
pub struct Cache {
    objects: BTreeMap<Key, RawObject>,
    revision: Revision,
}

impl Cache {
    /// Loads every object of the given kinds.
    pub fn load(store: &dyn Store, kinds: &[Kind]) -> Result<Cache, StoreError> {
        let mut cache = Cache::default();
        let revision = store.current_revision()?;
        for kind in kinds {
            let listing = store.list(&Query::kind(*kind))?;
            for obj in listing.items {
                cache.insert(obj);
            }
        }
        // Lists may have been read at later revisions than `revision`; a watch
        // from `revision` replays anything in between, and applying an event
        // twice is harmless because events carry whole objects.
        cache.revision = revision;
        Ok(cache)
    }

    pub fn revision(&self) -> Revision {
        self.revision
    }

    fn insert(&mut self, obj: RawObject) {
        let key = (
            obj.kind,
            obj.meta.environment.clone(),
            obj.meta.name.clone(),
        );
        match self.objects.get(&key) {
            Some(old) if old.meta.revision > obj.meta.revision => {}
            _ => {
                self.objects.insert(key, obj);
            }
        }
    }

    /// Applies one watch event.
    pub fn apply(&mut self, event: Event) {
        self.revision = self.revision.max(event.revision());
        match event.event_type {
            EventType::Created | EventType::Updated => self.insert(event.object),
            EventType::Deleted => {
                let o = &event.object;
                let key = (o.kind, o.meta.environment.clone(), o.meta.name.clone());
                if self
                    .objects
                    .get(&key)
                    .is_some_and(|old| old.meta.revision < o.meta.revision)
                {
                    self.objects.remove(&key);
                }
            }
        }
    }

    /// Every object of a kind, ordered by (environment, name).
    pub fn of_kind(&self, kind: Kind) -> impl Iterator<Item = &RawObject> {
        self.objects
            .range((kind, String::new(), String::new())..)
            .take_while(move |((k, _, _), _)| *k == kind)
            .map(|(_, v)| v)
    }

    pub fn get(&self, kind: Kind, environment: &str, name: &str) -> Option<&RawObject> {
        self.objects
            .get(&(kind, environment.to_string(), name.to_string()))
    }
}
