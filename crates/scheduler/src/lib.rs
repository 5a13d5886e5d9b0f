//! Placement as a pure function: `(snapshot, pending) -> plan`.
//!
//! Filter (feasibility: node active and schedulable, free host ports, free
//! capacity), score (spread a service's replicas across nodes, then the least
//! loaded node), select. For every instance it cannot place, the plan says
//! why, per class of node (`port 8080/tcp in use on all 1 nodes`).

mod explain;
mod feasible;
mod plan;
mod rank;
mod state;
#[cfg(test)]
mod tests;

pub use plan::schedule;

use std::collections::BTreeMap;

use corral_types::Protocol;

/// A node as the scheduler sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeView {
    pub name: String,
    /// Active and not cordoned.
    pub schedulable: bool,
    pub labels: BTreeMap<String, String>,
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
}

/// An instance already placed on a node (it holds its ports and resources).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Placed {
    pub node: String,
    pub demand: Demand,
}

/// Everything the scheduler may look at.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    pub nodes: Vec<NodeView>,
    pub placed: Vec<Placed>,
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
    },
    /// Cannot be placed now; the reason names the rule and how many nodes failed it.
    Unplaced {
        reason: String,
    },
}

/// One decision per pending instance, in the order given.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Plan {
    pub decisions: Vec<(String, Decision)>,
}
