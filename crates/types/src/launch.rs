//! The parts of a launch config beyond image, command and ports: volumes,
//! health checks, update strategy, placement rules, sidekicks, jobs.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::service::{PortSpec, Resources};

fn is_default<T: Default + PartialEq>(v: &T) -> bool {
    *v == T::default()
}

/// Replicated: `scale` instances. Global: one instance on every eligible node.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ServiceMode {
    #[default]
    Replicated,
    Global,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MountKind {
    /// A named volume, created with the stack (`<stack>_<name>` on the engine).
    #[default]
    Volume,
    /// A host path.
    Bind,
    /// A tmpfs at `target`.
    Tmpfs,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct VolumeMount {
    pub kind: MountKind,
    /// Volume name or host path; empty for tmpfs and anonymous volumes.
    pub source: String,
    pub target: String,
    #[serde(skip_serializing_if = "is_default")]
    pub read_only: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Ulimit {
    pub name: String,
    pub soft: i64,
    pub hard: i64,
}

/// A network a service joins, with extra DNS names on it.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NetworkAttachment {
    pub name: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub aliases: Vec<String>,
}

/// `links: [db:database]`: service `db` is also reachable as `database`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Link {
    pub service: String,
    pub alias: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DependencyCondition {
    /// Start after the dependency's containers started.
    #[default]
    ServiceStarted,
    /// Start after the dependency is healthy.
    ServiceHealthy,
    /// Start after the dependency ran to completion with exit code 0.
    ServiceCompletedSuccessfully,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Dependency {
    /// A service of the same stack.
    pub service: String,
    pub condition: DependencyCondition,
}

/// How the agent probes an instance.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase", tag = "type", deny_unknown_fields)]
pub enum Probe {
    /// `GET path` (or a full request line such as `GET /healthz HTTP/1.0`)
    /// to the container's address on `port`; 2xx and 3xx are healthy.
    Http { port: u16, request_line: String },
    /// A TCP connect to `port`.
    Tcp { port: u16 },
    /// A command run inside the container; exit code 0 is healthy.
    /// `["CMD", ...]` runs directly, `["CMD-SHELL", "..."]` through `/bin/sh -c`.
    Command { command: Vec<String> },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum HealthStrategy {
    /// Replace an unhealthy instance.
    #[default]
    Recreate,
    /// Only report it.
    None,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HealthCheck {
    pub probe: Probe,
    pub interval_ms: u64,
    pub timeout_ms: u64,
    /// Consecutive successes to become healthy.
    pub healthy_threshold: u32,
    /// Consecutive failures to become unhealthy.
    pub unhealthy_threshold: u32,
    /// Failures during this time after start do not count (compose `start_period`).
    pub start_period_ms: u64,
    /// An instance not healthy this long after start is unhealthy (Rancher's
    /// `initializing_timeout`); 0: no limit.
    pub initializing_timeout_ms: u64,
    /// The same after it was healthy once and began failing; 0: no limit.
    pub reinitializing_timeout_ms: u64,
    pub strategy: HealthStrategy,
}

impl Default for HealthCheck {
    fn default() -> Self {
        HealthCheck {
            probe: Probe::Tcp { port: 80 },
            interval_ms: 2000,
            timeout_ms: 2000,
            healthy_threshold: 2,
            unhealthy_threshold: 3,
            start_period_ms: 0,
            initializing_timeout_ms: 60_000,
            reinitializing_timeout_ms: 60_000,
            strategy: HealthStrategy::Recreate,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum UpdateOrder {
    /// Stop an old instance, then start its replacement.
    #[default]
    StopFirst,
    /// Start the replacement, then stop the old instance.
    StartFirst,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FailureAction {
    /// Roll back to the previous launch config.
    #[default]
    Rollback,
    /// Stop the upgrade where it is, with a reason.
    Pause,
    /// Go on regardless.
    Continue,
}

/// How a launch-config change rolls out (compose `deploy.update_config`,
/// Rancher `upgrade_strategy`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct UpdateConfig {
    /// Instances replaced at once (`parallelism`, `batch_size`); at least 1.
    pub batch_size: u32,
    /// Wait between batches (`delay`, `interval_millis`).
    pub interval_ms: u64,
    pub order: UpdateOrder,
    pub failure_action: FailureAction,
    /// How long a new instance has to become healthy (or running, without a
    /// health check) before the batch fails (`monitor`).
    pub monitor_ms: u64,
}

impl Default for UpdateConfig {
    fn default() -> Self {
        UpdateConfig {
            batch_size: 1,
            interval_ms: 0,
            order: UpdateOrder::StopFirst,
            failure_action: FailureAction::Rollback,
            monitor_ms: 60_000,
        }
    }
}

/// Whether a rule must hold or should hold (dropped when nothing fits).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Strength {
    #[default]
    Hard,
    Soft,
}

/// What a placement rule looks at.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "on", deny_unknown_fields)]
pub enum RuleTarget {
    /// A node label (compose `node.labels.K`, Rancher `affinity:host_label`).
    NodeLabel { key: String, value: String },
    /// The node's name (`node.name`, `node.hostname`).
    NodeName { value: String },
    /// The node's role (`node.role`): `manager` or `worker` (every Corral node
    /// is a worker; the node running the server is also a manager).
    NodeRole { value: String },
    /// A container label of another instance on the node (`affinity:container_label`).
    ContainerLabel { key: String, value: String },
    /// An instance by name on the node (`affinity:container`), `service` or `service-n`.
    Instance { name: String },
}

/// One placement rule: the target must (`equal`) or must not (`!equal`) be
/// found on the node, hard or soft.
// No `deny_unknown_fields` here: serde does not support it together with `flatten`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct PlacementRule {
    #[serde(flatten)]
    pub target: RuleTarget,
    /// True for `==` / must; false for `!=` / `_ne`.
    pub equal: bool,
    pub strength: Strength,
}

impl Default for PlacementRule {
    fn default() -> Self {
        PlacementRule {
            target: RuleTarget::NodeName {
                value: String::new(),
            },
            equal: true,
            strength: Strength::Hard,
        }
    }
}

impl fmt::Display for PlacementRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let op = if self.equal { "==" } else { "!=" };
        let soft = if self.strength == Strength::Soft {
            " (soft)"
        } else {
            ""
        };
        match &self.target {
            RuleTarget::NodeLabel { key, value } => {
                write!(f, "node.labels.{key} {op} {value}{soft}")
            }
            RuleTarget::NodeName { value } => write!(f, "node.name {op} {value}{soft}"),
            RuleTarget::NodeRole { value } => write!(f, "node.role {op} {value}{soft}"),
            RuleTarget::ContainerLabel { key, value } => {
                write!(
                    f,
                    "container label {key}={value} {}{soft}",
                    if self.equal { "present" } else { "absent" }
                )
            }
            RuleTarget::Instance { name } => {
                write!(
                    f,
                    "container {name} {}{soft}",
                    if self.equal { "present" } else { "absent" }
                )
            }
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Placement {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub rules: Vec<PlacementRule>,
    /// Spread instances evenly over the values of these node labels
    /// (compose `placement.preferences: - spread: node.labels.zone`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub spread_over: Vec<String>,
    /// At most this many instances of the service per node; 0: no limit
    /// (compose `max_replicas_per_node`).
    #[serde(skip_serializing_if = "is_default")]
    pub max_per_node: u32,
}

/// A container that runs beside the primary in each instance, sharing its
/// network namespace (Rancher's sidekick). A sidekick named by the primary's
/// `volumes_from` is a data sidekick: created before the primary, with a
/// network of its own.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Sidekick {
    /// Its service name in the compose file; containers are `<instance>-<name>`.
    pub name: String,
    pub image: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub command: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub entrypoint: Option<Vec<String>>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub env: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub volumes: Vec<VolumeMount>,
    /// Names of the primary (empty string) or other sidekicks whose volumes it mounts.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub volumes_from: Vec<String>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub container_labels: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub ports: Vec<PortSpec>,
    #[serde(skip_serializing_if = "is_default")]
    pub working_dir: String,
    #[serde(skip_serializing_if = "is_default")]
    pub user: String,
    #[serde(skip_serializing_if = "is_default")]
    pub privileged: bool,
    #[serde(skip_serializing_if = "is_default")]
    pub limits: Resources,
    /// Started once and never restarted after it exits, whatever the exit
    /// code (Rancher's `io.rancher.container.start_once`).
    #[serde(skip_serializing_if = "is_default")]
    pub start_once: bool,
}

/// A run-to-completion service: an instance that exits 0 is done and not
/// restarted; one that fails is retried with backoff at most `max_attempts` times.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct JobSpec {
    /// 0: no limit.
    pub max_attempts: u32,
}

/// Instance health as the agent sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Health {
    /// No health check.
    #[default]
    None,
    Initializing,
    Healthy,
    Unhealthy,
}

impl fmt::Display for Health {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Health::None => "none",
            Health::Initializing => "initializing",
            Health::Healthy => "healthy",
            Health::Unhealthy => "unhealthy",
        })
    }
}

impl Health {
    pub fn is_none(&self) -> bool {
        *self == Health::None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placement_rules_round_trip_through_json() {
        let rules = vec![
            PlacementRule {
                target: RuleTarget::NodeLabel {
                    key: "disk".into(),
                    value: "ssd".into(),
                },
                equal: false,
                strength: Strength::Soft,
            },
            PlacementRule {
                target: RuleTarget::Instance { name: "db".into() },
                ..Default::default()
            },
        ];
        let json = serde_json::to_string(&rules).unwrap();
        let back: Vec<PlacementRule> = serde_json::from_str(&json).unwrap();
        assert_eq!(back, rules);
    }
}
