//! Placement as a pure function: `(snapshot, pending) -> plan`.
//!
//! Filter (node active and schedulable, the demand's hard placement rules,
//! anti-affinity of the instances already on the node, replicas per node,
//! free host ports, free capacity), score (soft rules, spread over node label
//! values, then spread or bin-pack), select. For every instance it cannot
//! place, the plan says why, per class of node
//! (`2 nodes: host label disk=ssd missing; 1 node: port 80/tcp in use`).

mod explain;
mod feasible;
mod order;
mod plan;
mod rank;
mod rules;
mod shape;
mod state;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_index;
#[cfg(test)]
mod tests_props;
#[cfg(test)]
mod tests_rules;

pub use plan::{eligible_nodes, eligible_nodes_each, schedule};

use std::collections::BTreeMap;
use std::sync::Arc;

use corral_types::{PlacementRule, PlacementStrategy, Protocol};

/// A node as the scheduler sees it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NodeView {
    pub name: String,
    /// Active and not cordoned.
    pub schedulable: bool,
    pub labels: BTreeMap<String, String>,
    /// `manager` or `worker` (for `node.role` rules).
    pub role: String,
    pub cpu_millis: u64,
    pub memory_bytes: u64,
}

/// What an instance needs from a node.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Demand {
    /// `environment/service`: replicas of one service are spread apart.
    pub service: String,
    pub host_ports: Vec<(u16, Protocol)>,
    pub cpu_millis: u64,
    pub memory_bytes: u64,
    /// Placement rules, hard and soft, in the order given (soft rules are
    /// dropped from the last when nothing fits).
    pub rules: Vec<PlacementRule>,
    /// Node label keys: spread the service's instances evenly over the
    /// label's values (a node without the label counts as one more value).
    /// The first four keys are used, the first one first.
    pub spread_over: Vec<String>,
    /// At most this many instances of the service per node; 0: no limit.
    pub max_per_node: u32,
    /// The instance name (`web-3`), for other instances' `container` rules.
    pub instance: String,
    /// The container labels, for other instances' `container_label` rules.
    pub labels: BTreeMap<String, String>,
    /// The only node the instance may go on (global services).
    pub pinned_node: Option<String>,
}

/// An instance already placed on a node (it holds its ports and resources).
///
/// The demand is shared: a caller that keeps one per instance between
/// plans (the controllers do) builds a snapshot of 150,000 placed
/// instances without copying their labels and rules.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Placed {
    pub node: String,
    pub demand: Arc<Demand>,
}

/// Everything the scheduler may look at: one environment.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    pub nodes: Vec<NodeView>,
    pub placed: Vec<Placed>,
    /// How to choose among the nodes that fit.
    pub strategy: PlacementStrategy,
}

/// An instance waiting for a node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pending {
    /// Opaque key the caller uses to match the plan back (such as `env/instance`).
    pub id: String,
    pub demand: Demand,
}

/// The scheduler's decision for one pending instance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    Place {
        node: String,
        /// The soft rules that had to be dropped to find a node, as written
        /// by `PlacementRule`'s `Display` (`node.labels.disk == ssd (soft)`).
        dropped_soft: Vec<String>,
    },
    /// Cannot be placed now; the reason names the rule and how many nodes failed it.
    Unplaced { reason: String },
}

/// One decision per pending instance, in the order given.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Plan {
    pub decisions: Vec<(String, Decision)>,
}
