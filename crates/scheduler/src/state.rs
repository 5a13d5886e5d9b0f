//! Per-node state, built once from the snapshot and updated as the plan places
//! instances, so no placement ever re-reads `snapshot.placed`.

use std::collections::{HashMap, HashSet};

use corral_types::Protocol;

use crate::{Demand, NodeView, Snapshot};

/// An interned service name: cheap to hash in the per-node counters.
pub(crate) type ServiceId = usize;

/// What is already taken on one node.
pub(crate) struct NodeState<'a> {
    pub(crate) view: &'a NodeView,
    /// Host ports held by instances on the node (port 0 is never recorded).
    pub(crate) ports: HashSet<(u16, Protocol)>,
    pub(crate) cpu_used: u64,
    pub(crate) memory_used: u64,
    pub(crate) instances: u64,
    per_service: HashMap<ServiceId, u32>,
}

impl<'a> NodeState<'a> {
    fn new(view: &'a NodeView) -> Self {
        NodeState {
            view,
            ports: HashSet::new(),
            cpu_used: 0,
            memory_used: 0,
            instances: 0,
            per_service: HashMap::new(),
        }
    }

    /// How many replicas of `service` run (or are planned) on the node.
    pub(crate) fn replicas_of(&self, service: ServiceId) -> u32 {
        self.per_service.get(&service).copied().unwrap_or(0)
    }

    fn add(&mut self, demand: &Demand, service: ServiceId) {
        self.ports
            .extend(demand.host_ports.iter().filter(|(port, _)| *port != 0));
        self.cpu_used = self.cpu_used.saturating_add(demand.cpu_millis);
        self.memory_used = self.memory_used.saturating_add(demand.memory_bytes);
        self.instances += 1;
        *self.per_service.entry(service).or_insert(0) += 1;
    }
}

/// Every node of the snapshot, sorted by name, with what it holds.
pub(crate) struct Cluster<'a> {
    /// Sorted by name: scanning in order breaks score ties by name.
    pub(crate) nodes: Vec<NodeState<'a>>,
    services: HashMap<&'a str, ServiceId>,
}

impl<'a> Cluster<'a> {
    /// Indexes the snapshot in O(nodes log nodes + placed).
    ///
    /// A node name given twice keeps its first entry; an instance placed on a
    /// node missing from the snapshot is ignored (it takes nothing from the
    /// nodes the scheduler may choose).
    pub(crate) fn build(snapshot: &'a Snapshot) -> Self {
        let mut views: Vec<&NodeView> = snapshot.nodes.iter().collect();
        views.sort_by(|a, b| a.name.cmp(&b.name));
        views.dedup_by(|later, kept| later.name == kept.name);
        let by_name: HashMap<&str, usize> = views
            .iter()
            .enumerate()
            .map(|(i, v)| (v.name.as_str(), i))
            .collect();
        let mut cluster = Cluster {
            nodes: views.into_iter().map(NodeState::new).collect(),
            services: HashMap::new(),
        };
        for placed in &snapshot.placed {
            if let Some(&index) = by_name.get(placed.node.as_str()) {
                let service = cluster.service_id(&placed.demand.service);
                cluster.nodes[index].add(&placed.demand, service);
            }
        }
        cluster
    }

    /// The id of a service name, interning it on first sight.
    pub(crate) fn service_id(&mut self, name: &'a str) -> ServiceId {
        let next = self.services.len();
        *self.services.entry(name).or_insert(next)
    }

    /// Records a placement made by the plan; later decisions see it.
    /// Returns the node's name.
    pub(crate) fn place(&mut self, index: usize, demand: &Demand, service: ServiceId) -> &'a str {
        let node = &mut self.nodes[index];
        node.add(demand, service);
        node.view.name.as_str()
    }
}
