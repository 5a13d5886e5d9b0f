use std::fmt;

use serde::{Deserialize, Serialize};

use crate::service::ServiceSpec;

/// One replica of a service: its launch config, its ordinal, and the node it is placed on.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct InstanceSpec {
    pub service: String,
    /// 1-based and stable: the instance is named `<service>-<ordinal>`.
    pub ordinal: u32,
    /// The node it is placed on; empty while pending.
    pub node: String,
    /// The service's launch config at the generation this instance was made from.
    pub launch: ServiceSpec,
    pub service_generation: u64,
    /// Set when the instance must stop and go away; the agent removes its
    /// container and then deletes the instance.
    pub removing: bool,
    /// Global services: the only node this instance may run on.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub pinned_node: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum InstanceState {
    /// Not placed yet, or placed and not yet seen by its agent.
    #[default]
    Pending,
    Starting,
    Running,
    Stopping,
    /// Its container exited and will not be restarted (or waits for its backoff).
    Exited,
    /// Its container could not be created or started.
    Failed,
}

impl fmt::Display for InstanceState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            InstanceState::Pending => "pending",
            InstanceState::Starting => "starting",
            InstanceState::Running => "running",
            InstanceState::Stopping => "stopping",
            InstanceState::Exited => "exited",
            InstanceState::Failed => "failed",
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct InstanceStatus {
    pub state: InstanceState,
    pub container_id: String,
    /// Why it is pending or failed; empty otherwise.
    pub reason: String,
    pub exit_code: Option<i64>,
    /// How many times its container was replaced.
    pub restarts: u32,
    /// RFC 3339 time its current container started.
    pub started_at: String,
    /// What the health check says; `none` without one.
    #[serde(skip_serializing_if = "crate::launch::Health::is_none")]
    pub health: crate::launch::Health,
    /// Milliseconds since the Unix epoch when the primary container last started.
    #[serde(skip_serializing_if = "is_zero")]
    pub started_ms: u64,
    /// One entry per sidekick container.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub sidekicks: Vec<SidekickStatus>,
    /// The primary container's address on the environment's managed network
    /// (or on the engine's bridge, for a service in bridge mode); empty
    /// until it runs, and for host-network services.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub ip: String,
}

fn is_zero(v: &u64) -> bool {
    *v == 0
}

/// The state of one sidekick container of an instance.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SidekickStatus {
    pub name: String,
    pub state: InstanceState,
    pub container_id: String,
    pub exit_code: Option<i64>,
}

/// The labels Corral puts on every container it creates.
pub struct ContainerLabels;

impl ContainerLabels {
    pub const ENVIRONMENT: &'static str = "io.corral.environment";
    pub const SERVICE: &'static str = "io.corral.service";
    pub const INSTANCE: &'static str = "io.corral.instance";
    /// The uid of the instance object, so a container outliving its instance is recognised.
    pub const INSTANCE_UID: &'static str = "io.corral.instance.uid";
    /// The node the container was created for.
    pub const NODE: &'static str = "io.corral.node";
    /// The stack of the service, when it has one.
    pub const STACK: &'static str = "io.corral.stack";
    /// The sidekick name of a sidekick container (absent on the primary).
    pub const SIDEKICK: &'static str = "io.corral.sidekick";
}

impl InstanceSpec {
    /// The instance (and container) name: `<service>-<ordinal>`.
    pub fn instance_name(service: &str, ordinal: u32) -> String {
        format!("{service}-{ordinal}")
    }
}
