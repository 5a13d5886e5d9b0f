//! An in-memory copy of the store, fed by a watch, holding typed objects.
//!
//! Each object is decoded once, when its event arrives, so a reconcile pass
//! reads the cache by reference instead of decoding every object again (at
//! 150,000 instances that decoding was most of a pass).

use std::collections::BTreeMap;
use std::sync::Arc;

use corral_scheduler::Demand;
use corral_store::{Event, EventType, Query, Revision, Store, StoreError};
use corral_types::{Environment, Instance, Kind, Node, Object, RawObject, Service};

use crate::placement::demand;

/// Objects of one kind by (environment, name).
type Table<O> = BTreeMap<(String, String), O>;

/// Current environments, nodes, services and instances, at a known revision.
#[derive(Debug, Default, Clone)]
pub struct Cache {
    environments: Table<Environment>,
    nodes: Table<Node>,
    services: Table<Service>,
    instances: Table<CachedInstance>,
    revision: Revision,
}

/// An instance and what it asks of the scheduler. The demand is derived
/// once per spec (uid and generation: a status report changes neither), so
/// a placement pass builds its snapshot of every placed instance without
/// copying their labels, rules and ports again.
///
/// The instance is boxed: a B-tree keeps its values inline in its nodes,
/// 11 to a node, and instances made in name order leave the nodes half
/// full. Inline, the 1.3 kB instances made the table twice their size (a
/// heap profile of 150,000 instances put 550 MB under its inserts).
#[derive(Debug, Clone)]
struct CachedInstance {
    object: Box<Instance>,
    demand: Arc<Demand>,
}

/// The kinds the cache keeps.
pub const CACHED_KINDS: [Kind; 4] = [Kind::Environment, Kind::Node, Kind::Service, Kind::Instance];

impl Cache {
    /// Loads every object of the cached kinds.
    pub fn load(store: &dyn Store) -> Result<Cache, StoreError> {
        let mut cache = Cache::default();
        let revision = store.current_revision()?;
        for kind in CACHED_KINDS {
            let listing = store.list(&Query::kind(kind))?;
            for obj in listing.items {
                cache.upsert(&obj);
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

    fn upsert(&mut self, raw: &RawObject) {
        match raw.kind {
            Kind::Environment => insert_newer(&mut self.environments, raw),
            Kind::Node => insert_newer(&mut self.nodes, raw),
            Kind::Service => insert_newer(&mut self.services, raw),
            Kind::Instance => self.upsert_instance(raw),
            _ => {}
        }
    }

    fn upsert_instance(&mut self, raw: &RawObject) {
        let key = (raw.meta.environment.clone(), raw.meta.name.clone());
        let old = self.instances.get(&key);
        // The same revision is the same write: the event of this process's
        // own write, already applied.
        if old.is_some_and(|old| old.object.meta.revision >= raw.meta.revision) {
            return;
        }
        match Object::from_raw_ref(raw) {
            Ok(object) => {
                let demand = match old {
                    Some(old) if same_spec(&old.object, &object) => old.demand.clone(),
                    _ => Arc::new(demand(&object)),
                };
                let object = Box::new(object);
                self.instances
                    .insert(key, CachedInstance { object, demand });
            }
            Err(e) => {
                tracing::warn!("skipping instance {}/{}: {e}", key.0, key.1);
                self.instances.remove(&key);
            }
        }
    }

    fn remove(&mut self, raw: &RawObject) {
        let key = (raw.meta.environment.clone(), raw.meta.name.clone());
        let rev = raw.meta.revision;
        match raw.kind {
            Kind::Environment => remove_older(&mut self.environments, &key, rev),
            Kind::Node => remove_older(&mut self.nodes, &key, rev),
            Kind::Service => remove_older(&mut self.services, &key, rev),
            Kind::Instance
                if self
                    .instances
                    .get(&key)
                    .is_some_and(|old| old.object.meta.revision < rev) =>
            {
                self.instances.remove(&key);
            }
            _ => {}
        }
    }

    /// Applies one watch event.
    pub fn apply(&mut self, event: &Event) {
        self.revision = self.revision.max(event.revision());
        match event.event_type {
            EventType::Created | EventType::Updated => self.upsert(&event.object),
            EventType::Deleted => self.remove(&event.object),
        }
    }

    /// Puts an object this process just wrote (or deleted) into the cache
    /// before its watch event arrives; the event, when it comes, carries the
    /// same revision and changes nothing. The cache's revision (where a
    /// watch would resume) is left to the events.
    pub fn apply_own_write(&mut self, deleted: bool, object: RawObject) {
        if deleted {
            self.remove(&object);
        } else {
            self.upsert(&object);
        }
    }

    pub fn environments(&self) -> impl Iterator<Item = &Environment> {
        self.environments.values()
    }

    /// Nodes ordered by (environment, name).
    pub fn nodes(&self) -> impl Iterator<Item = &Node> {
        self.nodes.values()
    }

    /// Services ordered by (environment, name).
    pub fn services(&self) -> impl Iterator<Item = &Service> {
        self.services.values()
    }

    /// Instances ordered by (environment, name).
    pub fn instances(&self) -> impl Iterator<Item = &Instance> {
        self.instances.values().map(|c| &*c.object)
    }

    pub fn instance(&self, environment: &str, name: &str) -> Option<&Instance> {
        self.instances
            .get(&(environment.to_string(), name.to_string()))
            .map(|c| &*c.object)
    }

    /// What `inst` asks of the scheduler: the cached demand when the cache
    /// holds the same spec of it, else derived now (a new instance).
    pub fn demand_of(&self, inst: &Instance) -> Arc<Demand> {
        let key = (inst.meta.environment.clone(), inst.meta.name.clone());
        match self.instances.get(&key) {
            Some(cached) if same_spec(&cached.object, inst) => cached.demand.clone(),
            _ => Arc::new(demand(inst)),
        }
    }
}

/// Whether two copies of an instance have the same spec: every spec change
/// (by the API or the controllers) raises the generation.
fn same_spec(a: &Instance, b: &Instance) -> bool {
    a.meta.uid == b.meta.uid && a.meta.generation == b.meta.generation
}

/// Decodes `raw` and keeps it unless the same revision (the same write) or
/// a newer one is already there. An
/// object that does not decode is skipped with a warning (and drops the
/// older copy: planning on a state the store no longer holds is worse).
fn insert_newer<S, T>(table: &mut Table<Object<S, T>>, raw: &RawObject)
where
    S: serde::Serialize + serde::de::DeserializeOwned,
    T: serde::Serialize + serde::de::DeserializeOwned + Default,
{
    let key = (raw.meta.environment.clone(), raw.meta.name.clone());
    if table
        .get(&key)
        .is_some_and(|old| old.meta.revision >= raw.meta.revision)
    {
        return;
    }
    let kind = raw.kind;
    match Object::from_raw_ref(raw) {
        Ok(obj) => {
            table.insert(key, obj);
        }
        Err(e) => {
            tracing::warn!("skipping {kind} {}/{}: {e}", key.0, key.1);
            table.remove(&key);
        }
    }
}

fn remove_older<O: HasRevision>(table: &mut Table<O>, key: &(String, String), rev: Revision) {
    if table.get(key).is_some_and(|old| old.revision() < rev) {
        table.remove(key);
    }
}

trait HasRevision {
    fn revision(&self) -> Revision;
}

impl<S, T> HasRevision for Object<S, T> {
    fn revision(&self) -> Revision {
        self.meta.revision
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use corral_types::{InstanceSpec, ServiceSpec};

    fn raw_instance(name: &str, revision: Revision) -> RawObject {
        let mut inst: Instance = Object::new(
            Kind::Instance,
            "default",
            name,
            InstanceSpec {
                service: "web".into(),
                ..Default::default()
            },
        );
        inst.meta.revision = revision;
        inst.to_raw().unwrap_or_else(|e| panic!("{e}"))
    }

    fn event(event_type: EventType, object: RawObject) -> Event {
        Event { event_type, object }
    }

    #[test]
    fn an_older_event_never_replaces_a_newer_object() {
        let mut cache = Cache::default();
        cache.apply(&event(EventType::Updated, raw_instance("web-1", 5)));
        cache.apply(&event(EventType::Updated, raw_instance("web-1", 3)));
        assert_eq!(
            cache.instance("default", "web-1").map(|i| i.meta.revision),
            Some(5)
        );
        cache.apply(&event(EventType::Deleted, raw_instance("web-1", 4)));
        assert!(cache.instance("default", "web-1").is_some());
        cache.apply(&event(EventType::Deleted, raw_instance("web-1", 6)));
        assert!(cache.instance("default", "web-1").is_none());
        assert_eq!(cache.revision(), 6);
    }

    #[test]
    fn the_event_of_an_own_write_already_applied_is_not_decoded_again() {
        let mut cache = Cache::default();
        cache.apply_own_write(false, raw_instance("web-1", 7));
        // Its event carries the same revision: the same write. A copy that
        // would not even decode shows that it is skipped.
        let mut echo = raw_instance("web-1", 7);
        echo.spec = serde_json::json!({"service": 42});
        cache.apply(&event(EventType::Updated, echo));
        assert_eq!(
            cache
                .instance("default", "web-1")
                .map(|i| i.spec.service.clone()),
            Some("web".to_string())
        );
        assert_eq!(cache.revision(), 7);
    }

    #[test]
    fn an_object_that_does_not_decode_is_dropped_not_kept_stale() {
        let mut cache = Cache::default();
        cache.apply(&event(EventType::Created, raw_instance("web-1", 1)));
        let mut bad = raw_instance("web-1", 2);
        bad.spec = serde_json::json!({"service": 42});
        cache.apply(&event(EventType::Updated, bad));
        assert!(cache.instance("default", "web-1").is_none());
    }

    #[test]
    fn a_status_report_keeps_the_instance_demand_and_a_spec_change_renews_it() {
        let mut cache = Cache::default();
        let mut raw = raw_instance("web-1", 1);
        raw.meta.uid = "u1".into();
        raw.meta.generation = 1;
        cache.apply(&event(EventType::Created, raw.clone()));
        let first = cache
            .instance("default", "web-1")
            .map(|i| cache.demand_of(i));

        raw.meta.revision = 2;
        raw.status = serde_json::json!({"state": "running"});
        cache.apply(&event(EventType::Updated, raw.clone()));
        let Some(inst) = cache.instance("default", "web-1") else {
            panic!("web-1 is cached");
        };
        let after_status = cache.demand_of(inst);
        assert!(
            first
                .as_ref()
                .is_some_and(|f| Arc::ptr_eq(f, &after_status))
        );

        raw.meta.revision = 3;
        raw.meta.generation = 2;
        raw.spec = serde_json::json!({"service": "web", "pinned_node": "n1"});
        cache.apply(&event(EventType::Updated, raw));
        let Some(inst) = cache.instance("default", "web-1") else {
            panic!("web-1 is cached");
        };
        let after_spec = cache.demand_of(inst);
        assert!(!Arc::ptr_eq(&after_status, &after_spec));
        assert_eq!(after_spec.pinned_node.as_deref(), Some("n1"));
    }

    #[test]
    fn objects_of_other_kinds_are_ignored() {
        let mut cache = Cache::default();
        let svc: Service = Object::new(Kind::Service, "default", "web", ServiceSpec::default());
        let mut stack = svc.to_raw().unwrap_or_else(|e| panic!("{e}"));
        stack.kind = Kind::Stack;
        cache.apply(&event(EventType::Created, stack));
        assert_eq!(cache.services().count(), 0);
        assert_eq!(cache.revision(), 0);
    }
}
