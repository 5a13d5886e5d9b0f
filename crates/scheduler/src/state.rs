//! Per-node state, built once from the snapshot and updated as the plan places
//! instances, so no placement ever re-reads `snapshot.placed`.

use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasherDefault, Hasher};

use corral_types::{PlacementStrategy, Protocol, RuleTarget, Strength};

use crate::order::Room;
use crate::shape::{Key, Shapes};
use crate::{Demand, NodeView, Snapshot};

/// An interned name (service key, container label pair, instance or service
/// name): cheap to hash in the per-node counters.
pub(crate) type Id = u32;

/// A multiplicative hasher for small keys (ids, ports): the per-node maps are
/// looked up once per node and pending instance, SipHash would dominate.
#[derive(Default, Clone, Copy)]
pub(crate) struct FastHasher(u64);

impl Hasher for FastHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.write_u64(u64::from(*b));
        }
    }
    fn write_u16(&mut self, n: u16) {
        self.write_u64(u64::from(n));
    }
    fn write_u32(&mut self, n: u32) {
        self.write_u64(u64::from(n));
    }
    fn write_usize(&mut self, n: usize) {
        self.write_u64(n as u64);
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0.rotate_left(5) ^ n).wrapping_mul(0x517c_c1b7_2722_0a95);
    }
}

pub(crate) type IdMap<V> = HashMap<Id, V, BuildHasherDefault<FastHasher>>;

/// Instances of one service per value of one node label (`None`: nodes
/// without the label).
pub(crate) type ValueCounts<'a> = HashMap<Option<&'a str>, u32>;
type PortSet = HashSet<(u16, Protocol), BuildHasherDefault<FastHasher>>;

/// Adds one to `id`'s count.
fn bump(map: &mut IdMap<u32>, id: Id) {
    *map.entry(id).or_insert(0) += 1;
}

/// What is taken on one node, and what its instances bring along.
pub(crate) struct NodeState<'a> {
    pub(crate) view: &'a NodeView,
    /// Host ports held by instances on the node (port 0 is never recorded).
    pub(crate) ports: PortSet,
    pub(crate) cpu_used: u64,
    pub(crate) memory_used: u64,
    pub(crate) instances: u64,
    /// Instances per service.
    per_service: IdMap<u32>,
    /// Instances per container label pair.
    labels: IdMap<u32>,
    /// Instances per name: each instance counts under its own name and its
    /// service's name.
    names: IdMap<u32>,
    /// Label pairs and names that instances on the node exclude with a hard
    /// `!=` rule: an instance carrying one may not join them.
    pub(crate) repels_labels: IdMap<u32>,
    pub(crate) repels_names: IdMap<u32>,
}

impl<'a> NodeState<'a> {
    fn new(view: &'a NodeView) -> Self {
        NodeState {
            view,
            ports: PortSet::default(),
            cpu_used: 0,
            memory_used: 0,
            instances: 0,
            per_service: IdMap::default(),
            labels: IdMap::default(),
            names: IdMap::default(),
            repels_labels: IdMap::default(),
            repels_names: IdMap::default(),
        }
    }

    /// How many replicas of `service` run (or are planned) on the node.
    pub(crate) fn replicas_of(&self, service: Id) -> u32 {
        self.per_service.get(&service).copied().unwrap_or(0)
    }

    /// Whether an instance on the node has the container label pair `label`.
    pub(crate) fn has_label(&self, label: Id) -> bool {
        self.labels.contains_key(&label)
    }

    /// Whether an instance on the node is named `name`, or belongs to a
    /// service named `name`.
    pub(crate) fn has_name(&self, name: Id) -> bool {
        self.names.contains_key(&name)
    }

    /// The share of the node's capacity already reserved, CPU and memory
    /// added, in millionths (0 for a capacity of 0, that is unknown).
    pub(crate) fn allocation_ppm(&self) -> u64 {
        let ratio = |used: u64, capacity: u64| {
            if capacity == 0 {
                0
            } else {
                let ppm = u128::from(used) * 1_000_000 / u128::from(capacity);
                u64::try_from(ppm).unwrap_or(u64::MAX)
            }
        };
        ratio(self.cpu_used, self.view.cpu_millis)
            .saturating_add(ratio(self.memory_used, self.view.memory_bytes))
    }

    /// The CPU and memory left, `u64::MAX` for an unknown capacity: a
    /// demand fits when it needs no more of either (see `feasible::check`).
    pub(crate) fn room(&self) -> Room {
        let left = |capacity: u64, used: u64| {
            if capacity == 0 {
                u64::MAX
            } else {
                capacity.saturating_sub(used)
            }
        };
        (
            left(self.view.cpu_millis, self.cpu_used),
            left(self.view.memory_bytes, self.memory_used),
        )
    }

    /// The node's place in the cells of [`crate::shape`]: the strategy's part
    /// of the score, then its position.
    pub(crate) fn key(&self, strategy: PlacementStrategy, position: usize) -> Key {
        match strategy {
            PlacementStrategy::Spread => (self.instances, 0, position),
            PlacementStrategy::Binpack => (
                u64::MAX - self.allocation_ppm(),
                u64::MAX - self.instances,
                position,
            ),
        }
    }
}

/// The ids of what a demand brings onto a node, interned by [`Cluster::intern`].
pub(crate) struct Footprint {
    pub(crate) service: Id,
    labels: Vec<Id>,
    names: Vec<Id>,
    repels_labels: Vec<Id>,
    repels_names: Vec<Id>,
}

/// Every node of the snapshot, sorted by name, with what it holds.
pub(crate) struct Cluster<'a> {
    /// Sorted by name: scanning in order breaks score ties by name.
    pub(crate) nodes: Vec<NodeState<'a>>,
    by_name: HashMap<&'a str, usize>,
    services: HashMap<&'a str, Id>,
    labels: HashMap<(&'a str, &'a str), Id>,
    names: HashMap<&'a str, Id>,
    /// Instances of a service per value of a node label (`None`: nodes
    /// without the label), built on first use for a (service, key).
    spread: HashMap<(Id, &'a str), ValueCounts<'a>>,
    /// The keys of `spread` per service, to keep them current.
    spread_keys: IdMap<Vec<&'a str>>,
    pub(crate) strategy: PlacementStrategy,
    /// The nodes grouped and ordered per demand shape, kept current by
    /// [`Cluster::place`].
    pub(crate) shapes: Shapes<'a>,
}

/// The service part of an `environment/service` key.
pub(crate) fn service_name(key: &str) -> &str {
    key.split_once('/').map_or(key, |(_, name)| name)
}

fn intern<'a>(map: &mut HashMap<&'a str, Id>, name: &'a str) -> Id {
    let next = Id::try_from(map.len()).unwrap_or(Id::MAX);
    *map.entry(name).or_insert(next)
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
        let mut cluster = Cluster {
            by_name: views
                .iter()
                .enumerate()
                .map(|(i, v)| (v.name.as_str(), i))
                .collect(),
            nodes: views.into_iter().map(NodeState::new).collect(),
            services: HashMap::new(),
            labels: HashMap::new(),
            names: HashMap::new(),
            spread: HashMap::new(),
            spread_keys: IdMap::default(),
            strategy: snapshot.strategy,
            shapes: Shapes::default(),
        };
        for placed in &snapshot.placed {
            if let Some(index) = cluster.index_of(&placed.node) {
                cluster.place(index, &placed.demand);
            }
        }
        cluster
    }

    /// The position of the node named `name`.
    pub(crate) fn index_of(&self, name: &str) -> Option<usize> {
        self.by_name.get(name).copied()
    }

    /// The id of a service key, interning it on first sight.
    pub(crate) fn service_id(&mut self, key: &'a str) -> Id {
        intern(&mut self.services, key)
    }

    /// The id of a container label pair, if any instance carries or repels it.
    pub(crate) fn label_id(&self, key: &str, value: &str) -> Option<Id> {
        self.labels.get(&(key, value)).copied()
    }

    /// The id of an instance or service name, if any instance has or repels it.
    pub(crate) fn name_id(&self, name: &str) -> Option<Id> {
        self.names.get(name).copied()
    }

    /// Interns what `demand` brings onto a node.
    fn intern(&mut self, demand: &'a Demand) -> Footprint {
        let mut footprint = Footprint {
            service: self.service_id(&demand.service),
            labels: Vec::with_capacity(demand.labels.len()),
            names: Vec::with_capacity(2),
            repels_labels: Vec::new(),
            repels_names: Vec::new(),
        };
        for (key, value) in &demand.labels {
            footprint.labels.push(self.label(key, value));
        }
        for name in own_names(demand) {
            footprint.names.push(intern(&mut self.names, name));
        }
        for rule in &demand.rules {
            if rule.equal || rule.strength != Strength::Hard {
                continue;
            }
            match &rule.target {
                RuleTarget::ContainerLabel { key, value } => {
                    let id = self.label(key, value);
                    footprint.repels_labels.push(id);
                }
                RuleTarget::Instance { name } => {
                    footprint.repels_names.push(intern(&mut self.names, name));
                }
                _ => {}
            }
        }
        footprint
    }

    fn label(&mut self, key: &'a str, value: &'a str) -> Id {
        let next = Id::try_from(self.labels.len()).unwrap_or(Id::MAX);
        *self.labels.entry((key, value)).or_insert(next)
    }

    /// Records an instance on a node (from the snapshot, or placed by the
    /// plan): later decisions see it. Returns the node's name.
    pub(crate) fn place(&mut self, index: usize, demand: &'a Demand) -> &'a str {
        let footprint = self.intern(demand);
        let strategy = self.strategy;
        let node = &mut self.nodes[index];
        let old_key = node.key(strategy, index);
        node.ports
            .extend(demand.host_ports.iter().filter(|(port, _)| *port != 0));
        node.cpu_used = node.cpu_used.saturating_add(demand.cpu_millis);
        node.memory_used = node.memory_used.saturating_add(demand.memory_bytes);
        node.instances += 1;
        bump(&mut node.per_service, footprint.service);
        footprint
            .labels
            .iter()
            .for_each(|&id| bump(&mut node.labels, id));
        footprint
            .names
            .iter()
            .for_each(|&id| bump(&mut node.names, id));
        for &id in &footprint.repels_labels {
            bump(&mut node.repels_labels, id);
        }
        for &id in &footprint.repels_names {
            bump(&mut node.repels_names, id);
        }
        let view = node.view;
        self.shapes
            .moved(index, old_key, node.key(strategy, index), node.room());
        if let Some(keys) = self.spread_keys.get(&footprint.service) {
            for &key in keys {
                let value = view.labels.get(key).map(String::as_str);
                if let Some(counts) = self.spread.get_mut(&(footprint.service, key)) {
                    *counts.entry(value).or_insert(0) += 1;
                }
            }
        }
        view.name.as_str()
    }

    /// Makes sure the per-label-value counts of `service` over `key` exist:
    /// O(nodes) the first time, then kept current by [`Cluster::place`].
    pub(crate) fn track_spread(&mut self, service: Id, key: &'a str) {
        if self.spread.contains_key(&(service, key)) {
            return;
        }
        let mut counts = ValueCounts::new();
        for node in &self.nodes {
            let replicas = node.replicas_of(service);
            if replicas > 0 {
                let value = node.view.labels.get(key).map(String::as_str);
                *counts.entry(value).or_insert(0) += replicas;
            }
        }
        self.spread.insert((service, key), counts);
        self.spread_keys.entry(service).or_default().push(key);
    }

    /// The per-label-value counts built by [`Cluster::track_spread`].
    pub(crate) fn spread_counts(&self, service: Id, key: &'a str) -> Option<&ValueCounts<'a>> {
        self.spread.get(&(service, key))
    }
}

/// The names an instance answers to in `container` rules: its own, and its
/// service's (once when they are the same).
pub(crate) fn own_names(demand: &Demand) -> impl Iterator<Item = &str> {
    let service = service_name(&demand.service);
    let instance = (!demand.instance.is_empty() && demand.instance != service)
        .then_some(demand.instance.as_str());
    std::iter::once(service)
        .filter(|s| !s.is_empty())
        .chain(instance)
}
