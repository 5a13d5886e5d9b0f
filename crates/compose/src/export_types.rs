//! The serde shapes export writes: only what load reads back.

use std::collections::BTreeMap;

use corral_types::DependencyCondition;
use serde::Serialize;
use serde::ser::{SerializeMap, Serializer};

/// A mapping that keeps its order.
#[derive(Debug, PartialEq)]
pub(crate) struct Ordered<V>(pub Vec<(String, V)>);

impl<V> Default for Ordered<V> {
    fn default() -> Self {
        Ordered(Vec::new())
    }
}

impl<V: Serialize> Serialize for Ordered<V> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (k, v) in &self.0 {
            map.serialize_entry(k, v)?;
        }
        map.end()
    }
}

impl<V> Ordered<V> {
    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

fn is_false(b: &bool) -> bool {
    !*b
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

#[derive(Debug, Default, Serialize)]
pub(crate) struct ServiceOut {
    pub image: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub command: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub entrypoint: Option<Vec<String>>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub environment: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub ports: Vec<String>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub working_dir: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub user: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub hostname: String,
    /// `host` or `bridge`; absent for the managed network (the default).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub network_mode: Option<&'static str>,
    /// `host`; absent for the container's own namespace (the default).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pid: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ipc: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub uts: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub restart: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub healthcheck: Option<Healthcheck>,
    #[serde(skip_serializing_if = "Ordered::is_empty")]
    pub depends_on: Ordered<DependsOut>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub volumes: Vec<Mount>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub volumes_from: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub cap_add: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub cap_drop: Vec<String>,
    #[serde(skip_serializing_if = "is_false")]
    pub privileged: bool,
    #[serde(skip_serializing_if = "Ordered::is_empty")]
    pub ulimits: Ordered<UlimitOut>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stop_grace_period: Option<String>,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub stop_signal: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub links: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub networks: Option<Ordered<Option<NetworkOut>>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deploy: Option<Deploy>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub secrets: Vec<SecretOut>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub configs: Vec<SecretOut>,
    /// Moved into `deploy` when written; kept here while building.
    #[serde(skip)]
    pub restart_policy: Option<RestartOut>,
}

/// A service's secret or config, long syntax; `source` is the stored name, declared
/// external at the top level.
#[derive(Debug, Serialize)]
pub(crate) struct SecretOut {
    pub source: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub target: String,
    /// A secret delivered as this environment variable (a catalog app's
    /// password answer).
    #[serde(rename = "x-corral-env", skip_serializing_if = "String::is_empty")]
    pub env: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub uid: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gid: Option<String>,
    /// Octal, as compose files write it (`0440`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mode: Option<String>,
}

/// A top-level secret or config written back: a reference, never a value.
#[derive(Debug, Serialize)]
pub(crate) struct ExternalSecret {
    pub external: bool,
}

#[derive(Debug, Serialize)]
pub(crate) struct Mount {
    #[serde(rename = "type")]
    pub kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    pub target: String,
    #[serde(skip_serializing_if = "is_false")]
    pub read_only: bool,
}

#[derive(Debug, Serialize)]
pub(crate) struct UlimitOut {
    pub soft: i64,
    pub hard: i64,
}

impl From<(i64, i64)> for UlimitOut {
    fn from((soft, hard): (i64, i64)) -> Self {
        UlimitOut { soft, hard }
    }
}

#[derive(Debug, Serialize)]
pub(crate) struct DependsOut {
    pub condition: &'static str,
}

impl From<DependencyCondition> for DependsOut {
    fn from(c: DependencyCondition) -> Self {
        DependsOut {
            condition: match c {
                DependencyCondition::ServiceStarted => "service_started",
                DependencyCondition::ServiceHealthy => "service_healthy",
                DependencyCondition::ServiceCompletedSuccessfully => {
                    "service_completed_successfully"
                }
            },
        }
    }
}

#[derive(Debug, Serialize)]
pub(crate) struct NetworkOut {
    pub aliases: Vec<String>,
}

impl From<Vec<String>> for NetworkOut {
    fn from(aliases: Vec<String>) -> Self {
        NetworkOut { aliases }
    }
}

#[derive(Debug, Serialize)]
pub(crate) struct Healthcheck {
    pub test: Vec<String>,
    pub interval: String,
    pub timeout: String,
    pub retries: u32,
    pub start_period: String,
}

#[derive(Debug, Default, PartialEq, Serialize)]
pub(crate) struct Deploy {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mode: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub replicas: Option<u32>,
    #[serde(skip_serializing_if = "ResourcesOut::is_empty")]
    pub resources: ResourcesOut,
    #[serde(skip_serializing_if = "Placement::is_empty")]
    pub placement: Placement,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub update_config: Option<UpdateOut>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rollback_config: Option<UpdateOut>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub restart_policy: Option<RestartOut>,
}

#[derive(Debug, Default, PartialEq, Serialize)]
pub(crate) struct ResourcesOut {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limits: Option<Limits>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reservations: Option<Limits>,
}

impl ResourcesOut {
    fn is_empty(&self) -> bool {
        self.limits.is_none() && self.reservations.is_none()
    }
}

#[derive(Debug, Default, PartialEq, Serialize)]
pub(crate) struct Limits {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cpus: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub memory: Option<String>,
}

#[derive(Debug, Default, PartialEq, Serialize)]
pub(crate) struct Placement {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub constraints: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub preferences: Vec<BTreeMap<String, String>>,
    #[serde(skip_serializing_if = "is_zero")]
    pub max_replicas_per_node: u32,
}

impl Placement {
    fn is_empty(&self) -> bool {
        *self == Placement::default()
    }
}

#[derive(Debug, PartialEq, Serialize)]
pub(crate) struct UpdateOut {
    pub parallelism: u32,
    pub delay: String,
    pub monitor: String,
    pub order: &'static str,
    pub failure_action: &'static str,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub(crate) struct RestartOut {
    pub condition: &'static str,
    pub max_attempts: u32,
}

#[derive(Debug, Serialize)]
pub(crate) struct RancherFile {
    pub version: String,
    pub services: Ordered<RancherService>,
}

#[derive(Debug, Serialize)]
pub(crate) struct RancherService {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub health_check: Option<RancherHealth>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lb_config: Option<LbConfigOut>,
}

/// Rancher's `lb_config`.
#[derive(Debug, Serialize)]
pub(crate) struct LbConfigOut {
    pub port_rules: Vec<PortRuleOut>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub certs: Vec<String>,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub default_cert: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stickiness_policy: Option<StickinessOut>,
}

#[derive(Debug, Serialize)]
pub(crate) struct PortRuleOut {
    pub source_port: u16,
    pub protocol: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub hostname: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub path: String,
    #[serde(skip_serializing_if = "is_zero")]
    pub priority: u32,
    pub service: String,
    #[serde(skip_serializing_if = "is_zero_port")]
    pub target_port: u16,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub backend_name: String,
}

fn is_zero_port(n: &u16) -> bool {
    *n == 0
}

#[derive(Debug, Serialize)]
pub(crate) struct StickinessOut {
    pub cookie: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub domain: String,
}

#[derive(Debug, Serialize)]
pub(crate) struct RancherHealth {
    pub port: u16,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_line: Option<String>,
    pub interval: u64,
    pub response_timeout: u64,
    pub healthy_threshold: u32,
    pub unhealthy_threshold: u32,
    pub initializing_timeout: u64,
    pub reinitializing_timeout: u64,
    pub strategy: &'static str,
}
