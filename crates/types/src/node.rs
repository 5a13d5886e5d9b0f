use std::fmt;

use serde::{Deserialize, Serialize};

/// What an agent reports when it joins; the node's labels are the user's.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NodeSpec {
    /// When true the scheduler places nothing new here.
    pub unschedulable: bool,
    /// Set by `corral node drain`: everything moves off (replicated
    /// instances start-first, global ones are removed) until `node
    /// activate` clears it. A draining node is also unschedulable.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub draining: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NodeState {
    /// Joined but not yet heartbeating.
    #[default]
    Joining,
    /// Ready to run instances.
    Active,
    /// Missed its heartbeats.
    Disconnected,
}

impl fmt::Display for NodeState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            NodeState::Joining => "joining",
            NodeState::Active => "active",
            NodeState::Disconnected => "disconnected",
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NodeStatus {
    pub state: NodeState,
    /// The address other hosts and users reach this node at.
    pub address: String,
    pub hostname: String,
    /// Logical CPUs, in millicores (1000 = one CPU).
    pub cpu_millis: u64,
    pub memory_bytes: u64,
    pub engine_version: String,
    /// Base URL of the agent's own endpoint (logs), reachable from the server.
    pub agent_url: String,
    /// RFC 3339 time of the last heartbeat the server saw.
    pub last_heartbeat: String,
    /// The node's /24 slice of its environment's managed network (such as
    /// `10.42.3.0/24`), given by the server when the node joins; empty until then.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub subnet: String,
    /// Why the agent does not program the environment's managed network
    /// on this node (such as a range that overlaps a route already on the
    /// host); empty when it does, or when it runs without one.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub network_error: String,
}
