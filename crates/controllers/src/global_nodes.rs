//! The nodes each global service should run on, remembered between passes.
//!
//! Working them out asks the scheduler about every node with a snapshot of
//! every placed instance, so it is redone only when the service's spec (its
//! generation: not its status, which changes with every count) or a node of
//! its environment changed, and at least every [`REFRESH`] (instances of
//! other services can free or take ports and resources meanwhile).

use std::collections::BTreeMap;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::time::{Duration, Instant};

use corral_types::{Instance, Node, Service, ServiceMode};

use crate::placement::{DemandOf, global_nodes_each};

/// Longest time a global service's node list is reused without a change.
pub const REFRESH: Duration = Duration::from_secs(5);

type ServiceKey = (String, String);

struct Entry {
    service_generation: u64,
    nodes_fingerprint: u64,
    computed: Instant,
    nodes: Vec<String>,
}

/// Node lists of global services by (environment, service).
#[derive(Default)]
pub struct GlobalNodesCache {
    entries: BTreeMap<ServiceKey, Entry>,
}

/// Changes whenever a node of `env` is added, removed or rewritten.
fn nodes_fingerprint(nodes: &[&Node], env: &str) -> u64 {
    let mut h = DefaultHasher::new();
    for n in nodes.iter().filter(|n| n.meta.environment == env) {
        n.meta.name.hash(&mut h);
        n.meta.revision.hash(&mut h);
    }
    h.finish()
}

impl GlobalNodesCache {
    /// Brings the lists up to date for `services` (every service of the
    /// cache; others are forgotten).
    pub fn refresh<'a>(
        &mut self,
        services: impl Iterator<Item = &'a Service>,
        nodes: &[&Node],
        instances: &[&Instance],
        demand_of: DemandOf,
        now: Instant,
    ) {
        let mut fingerprints: BTreeMap<&str, u64> = BTreeMap::new();
        let mut seen: Vec<ServiceKey> = Vec::new();
        let mut globals: Vec<(&Service, u64)> = Vec::new();
        let mut any_stale = false;
        for svc in services.filter(|s| s.spec.mode == ServiceMode::Global) {
            let env = svc.meta.environment.as_str();
            let fingerprint = *fingerprints
                .entry(env)
                .or_insert_with(|| nodes_fingerprint(nodes, env));
            let key = (env.to_string(), svc.meta.name.clone());
            let fresh = self.entries.get(&key).is_some_and(|e| {
                e.service_generation == svc.meta.generation
                    && e.nodes_fingerprint == fingerprint
                    && now.saturating_duration_since(e.computed) < REFRESH
            });
            any_stale |= !fresh;
            globals.push((svc, fingerprint));
            seen.push(key);
        }
        // The cost is indexing every placed instance, whatever the number
        // of services asked about: when one list is stale, all are redone.
        if any_stale {
            let services: Vec<&Service> = globals.iter().map(|(svc, _)| *svc).collect();
            let lists = global_nodes_each(&services, nodes, instances, demand_of);
            for ((svc, fingerprint), list) in globals.into_iter().zip(lists) {
                self.entries.insert(
                    (svc.meta.environment.clone(), svc.meta.name.clone()),
                    Entry {
                        service_generation: svc.meta.generation,
                        nodes_fingerprint: fingerprint,
                        computed: now,
                        nodes: list,
                    },
                );
            }
        }
        self.entries.retain(|k, _| seen.contains(k));
    }

    /// The nodes of global service `name` as of the last refresh.
    pub fn get(&self, environment: &str, name: &str) -> Option<&[String]> {
        self.entries
            .get(&(environment.to_string(), name.to_string()))
            .map(|e| e.nodes.as_slice())
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::placement::fresh_demand;
    use corral_store::Revision;
    use corral_types::{Kind, NodeSpec, NodeState, Object, ServiceSpec};

    fn node(name: &str, revision: Revision) -> Node {
        let mut n: Node = Object::new(Kind::Node, "default", name, NodeSpec::default());
        n.status.state = NodeState::Active;
        n.meta.revision = revision;
        n
    }

    fn global_service() -> Service {
        let mut s: Service = Object::new(
            Kind::Service,
            "default",
            "agent",
            ServiceSpec {
                image: "img".into(),
                mode: ServiceMode::Global,
                ..Default::default()
            },
        );
        s.meta.revision = 1;
        s
    }

    fn nodes_of(cache: &GlobalNodesCache) -> Vec<&str> {
        cache
            .get("default", "agent")
            .unwrap_or_default()
            .iter()
            .map(String::as_str)
            .collect()
    }

    #[test]
    fn a_new_node_is_seen_at_once_and_an_unchanged_cluster_reuses_the_list() {
        let mut cache = GlobalNodesCache::default();
        let svc = global_service();
        let (n1, n2) = (node("n1", 1), node("n2", 2));
        let now = Instant::now();
        cache.refresh(std::iter::once(&svc), &[&n1], &[], &fresh_demand, now);
        assert_eq!(nodes_of(&cache), vec!["n1"]);
        // Reused: a node list that did not change is not worked out again,
        // so a fake change the fingerprint cannot see is not picked up...
        let mut cordoned = n1.clone();
        cordoned.spec.unschedulable = true;
        cache.refresh(std::iter::once(&svc), &[&cordoned], &[], &fresh_demand, now);
        assert_eq!(nodes_of(&cache), vec!["n1"]);
        // ...but a node that joins (or is rewritten) is.
        cache.refresh(std::iter::once(&svc), &[&n1, &n2], &[], &fresh_demand, now);
        assert_eq!(nodes_of(&cache), vec!["n1", "n2"]);
        // And after REFRESH everything is worked out again.
        let later = now + REFRESH;
        cache.refresh(
            std::iter::once(&svc),
            &[&cordoned, &n2],
            &[],
            &fresh_demand,
            later,
        );
        assert_eq!(nodes_of(&cache), vec!["n2"]);
    }

    #[test]
    fn a_deleted_global_service_is_forgotten() {
        let mut cache = GlobalNodesCache::default();
        let svc = global_service();
        let n1 = node("n1", 1);
        let now = Instant::now();
        cache.refresh(std::iter::once(&svc), &[&n1], &[], &fresh_demand, now);
        assert_eq!(cache.len(), 1);
        cache.refresh(std::iter::empty(), &[&n1], &[], &fresh_demand, now);
        assert!(cache.is_empty());
    }
}
