use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::launch::{
    Dependency, HealthCheck, JobSpec, Link, NetworkAttachment, Placement, ServiceMode, Sidekick,
    Ulimit, UpdateConfig, VolumeMount,
};
use crate::lb::LbConfig;
use crate::validate::{ValidationError, validate_label_key};

/// What a user wants: `scale` identical containers of one launch config.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServiceSpec {
    pub image: String,
    /// Arguments given to the image's entrypoint (Docker's `Cmd`); empty keeps the image's.
    pub command: Vec<String>,
    pub env: BTreeMap<String, String>,
    pub ports: Vec<PortSpec>,
    pub scale: u32,
    pub restart: RestartPolicy,
    /// Reserved for each instance when placing it.
    pub resources: Resources,
    /// Labels put on every container of the service (besides Corral's own).
    pub container_labels: BTreeMap<String, String>,

    /// The stack this service belongs to; empty for a standalone service.
    #[serde(skip_serializing_if = "is_default")]
    pub stack: String,
    #[serde(skip_serializing_if = "is_default")]
    pub mode: ServiceMode,
    /// Docker's `Entrypoint`; `None` keeps the image's.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub entrypoint: Option<Vec<String>>,
    #[serde(skip_serializing_if = "is_default")]
    pub working_dir: String,
    #[serde(skip_serializing_if = "is_default")]
    pub user: String,
    #[serde(skip_serializing_if = "is_default")]
    pub hostname: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub volumes: Vec<VolumeMount>,
    /// Names of the service's own sidekicks whose volumes the primary mounts
    /// (Rancher's data-volume sidekicks). The agent creates them before the
    /// primary, outside its network namespace.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub volumes_from: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub cap_add: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub cap_drop: Vec<String>,
    #[serde(skip_serializing_if = "is_default")]
    pub privileged: bool,
    /// Hard limits enforced by the engine (memory, CPUs).
    #[serde(skip_serializing_if = "is_default")]
    pub limits: Resources,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub ulimits: Vec<Ulimit>,
    /// Time between the stop signal and a kill; `None`: 10 s.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stop_grace_period_ms: Option<u64>,
    #[serde(skip_serializing_if = "is_default")]
    pub stop_signal: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub links: Vec<Link>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub networks: Vec<NetworkAttachment>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub depends_on: Vec<Dependency>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub health_check: Option<HealthCheck>,
    #[serde(skip_serializing_if = "is_default")]
    pub update: UpdateConfig,
    #[serde(skip_serializing_if = "is_default")]
    pub rollback: UpdateConfig,
    #[serde(skip_serializing_if = "is_default")]
    pub placement: Placement,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub sidekicks: Vec<Sidekick>,
    /// Set for run-to-completion services.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub job: Option<JobSpec>,
    /// Set for load balancers: the agent runs a proxy for each instance
    /// instead of a container (`image` stays empty).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lb: Option<LbConfig>,
    /// Which network the containers join: the environment's managed
    /// network (the default), the engine's bridge, or the host's.
    #[serde(skip_serializing_if = "is_default")]
    pub network_mode: NetworkMode,
    /// `pid`, `ipc` and `uts: host`: share the host's namespace.
    #[serde(skip_serializing_if = "is_default")]
    pub pid_mode: crate::NamespaceMode,
    #[serde(skip_serializing_if = "is_default")]
    pub ipc_mode: crate::NamespaceMode,
    #[serde(skip_serializing_if = "is_default")]
    pub uts_mode: crate::NamespaceMode,
    /// Secrets mounted into the containers (read-only files on a tmpfs).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub secrets: Vec<crate::SecretMount>,
    /// Configs mounted into the containers (read-only files).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub configs: Vec<crate::ConfigMount>,
}

fn is_default<T: Default + PartialEq>(v: &T) -> bool {
    *v == T::default()
}

/// The network of a service's containers (sidekicks share the primary's).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NetworkMode {
    /// An address on the environment's managed (overlay) network, reachable
    /// from every container of the environment on any node.
    #[default]
    Managed,
    /// The engine's default bridge: reachable from the same node only.
    Bridge,
    /// The host's network namespace.
    Host,
}

impl fmt::Display for NetworkMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            NetworkMode::Managed => "managed",
            NetworkMode::Bridge => "bridge",
            NetworkMode::Host => "host",
        })
    }
}

impl FromStr for NetworkMode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "managed" => Ok(NetworkMode::Managed),
            "bridge" => Ok(NetworkMode::Bridge),
            "host" => Ok(NetworkMode::Host),
            other => Err(format!(
                "network mode {other:?} is not one of managed, bridge, host"
            )),
        }
    }
}

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default, Serialize, Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    #[default]
    Tcp,
    Udp,
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Protocol::Tcp => "tcp",
            Protocol::Udp => "udp",
        })
    }
}

/// A container port, optionally published on a host port.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PortSpec {
    /// 0 means not published on the host.
    #[serde(default)]
    pub host_port: u16,
    pub container_port: u16,
    #[serde(default)]
    pub protocol: Protocol,
}

impl FromStr for PortSpec {
    type Err = String;
    /// Parses `HOSTPORT:PORT[/udp|/tcp]` or `PORT[/proto]`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (ports, protocol) = match s.split_once('/') {
            Some((p, "tcp")) => (p, Protocol::Tcp),
            Some((p, "udp")) => (p, Protocol::Udp),
            Some((_, other)) => {
                return Err(format!("port {s:?}: protocol {other:?} is not tcp or udp"));
            }
            None => (s, Protocol::Tcp),
        };
        let parse = |p: &str, what: &str| -> Result<u16, String> {
            match p.parse::<u16>() {
                Ok(0) | Err(_) => Err(format!(
                    "port {s:?}: {what} {p:?} is not a number from 1 to 65535"
                )),
                Ok(n) => Ok(n),
            }
        };
        let (host_port, container_port) = match ports.split_once(':') {
            Some((h, c)) => (parse(h, "host port")?, parse(c, "container port")?),
            None => (0, parse(ports, "container port")?),
        };
        Ok(PortSpec {
            host_port,
            container_port,
            protocol,
        })
    }
}

impl fmt::Display for PortSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.host_port != 0 {
            write!(f, "{}:", self.host_port)?;
        }
        write!(f, "{}/{}", self.container_port, self.protocol)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RestartPolicy {
    /// Replace the container whenever it stops.
    #[default]
    Always,
    /// Replace it only when it exits non-zero.
    OnFailure,
    /// Never replace it.
    Never,
}

impl FromStr for RestartPolicy {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "always" => Ok(RestartPolicy::Always),
            "on-failure" => Ok(RestartPolicy::OnFailure),
            "never" | "no" => Ok(RestartPolicy::Never),
            other => Err(format!(
                "restart policy {other:?} is not one of always, on-failure, never"
            )),
        }
    }
}

impl fmt::Display for RestartPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            RestartPolicy::Always => "always",
            RestartPolicy::OnFailure => "on-failure",
            RestartPolicy::Never => "never",
        })
    }
}

/// Resources reserved for one instance.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Resources {
    /// 1000 = one CPU.
    pub cpu_millis: u64,
    pub memory_bytes: u64,
}

/// Maximum scale of one service.
pub const MAX_SCALE: u32 = 10_000;

impl ServiceSpec {
    /// Checks every field; the error names the first field at fault.
    pub fn validate(&self) -> Result<(), ValidationError> {
        if let Some(lb) = &self.lb {
            self.validate_lb(lb)?;
        } else if self.image.trim().is_empty() {
            return Err(ValidationError::new("spec.image", "must not be empty"));
        }
        if self.image.chars().any(char::is_whitespace) {
            return Err(ValidationError::new(
                "spec.image",
                format!("{:?} must not contain whitespace", self.image),
            ));
        }
        if self.scale > MAX_SCALE {
            return Err(ValidationError::new(
                "spec.scale",
                format!("{} is above the maximum of {MAX_SCALE}", self.scale),
            ));
        }
        for (k, _) in self.env.iter() {
            if k.is_empty() || k.contains('=') || k.contains('\0') {
                return Err(ValidationError::new(
                    format!("spec.env.{k}"),
                    "variable names must be non-empty and contain no '=' or NUL",
                ));
            }
        }
        let mut seen = std::collections::BTreeSet::new();
        for (i, p) in self.ports.iter().enumerate() {
            if p.container_port == 0 {
                return Err(ValidationError::new(
                    format!("spec.ports[{i}].container_port"),
                    "must be from 1 to 65535",
                ));
            }
            if p.host_port != 0 && !seen.insert((p.host_port, p.protocol)) {
                return Err(ValidationError::new(
                    format!("spec.ports[{i}].host_port"),
                    format!("{}/{} is published twice", p.host_port, p.protocol),
                ));
            }
        }
        for k in self.container_labels.keys() {
            validate_label_key(k)
                .map_err(|e| ValidationError::new("spec.container_labels", e.message))?;
            if k.starts_with("io.corral.") {
                return Err(ValidationError::new(
                    "spec.container_labels",
                    format!("{k:?}: the io.corral. prefix is reserved"),
                ));
            }
        }
        crate::validate_secret_mounts("spec.secrets", &self.secrets)?;
        crate::validate_config_mounts("spec.configs", &self.configs)?;
        self.validate_file_paths()?;
        self.validate_volumes_from()
    }

    /// A load balancer runs no container: no image, no sidekicks; its
    /// source ports are published as host ports.
    fn validate_lb(&self, lb: &LbConfig) -> Result<(), ValidationError> {
        lb.validate()
            .map_err(|e| ValidationError::new(format!("spec.lb.{}", e.field), e.message))?;
        if !self.image.is_empty() {
            return Err(ValidationError::new(
                "spec.image",
                "must be empty for a load balancer: it runs in the agent, not in a container",
            ));
        }
        if !self.sidekicks.is_empty() {
            return Err(ValidationError::new(
                "spec.sidekicks",
                "a load balancer has no sidekicks",
            ));
        }
        for p in lb.port_specs() {
            if !self.host_ports().any(|h| h == (p.host_port, p.protocol)) {
                return Err(ValidationError::new(
                    "spec.ports",
                    format!(
                        "must publish the load balancer's source port {}/tcp as a host port",
                        p.host_port
                    ),
                ));
            }
        }
        Ok(())
    }

    /// The primary mounts volumes of its own sidekicks only; those are created
    /// before it, so they cannot mount the primary's or a later sidekick's.
    /// A secret and a config never land at one path.
    fn validate_file_paths(&self) -> Result<(), ValidationError> {
        let secrets: std::collections::BTreeSet<String> =
            self.secrets.iter().map(|m| m.container_path()).collect();
        for (i, m) in self.configs.iter().enumerate() {
            if secrets.contains(&m.container_path()) {
                return Err(ValidationError::new(
                    format!("spec.configs[{i}].target"),
                    format!("{} is also where a secret is mounted", m.container_path()),
                ));
            }
        }
        Ok(())
    }

    fn validate_volumes_from(&self) -> Result<(), ValidationError> {
        for (i, name) in self.volumes_from.iter().enumerate() {
            let Some(sk) = self.sidekicks.iter().find(|s| &s.name == name) else {
                return Err(ValidationError::new(
                    format!("spec.volumes_from[{i}]"),
                    format!("{name:?} is not a sidekick of this service"),
                ));
            };
            if let Some(from) = sk
                .volumes_from
                .iter()
                .find(|f| !self.volumes_from.contains(f))
            {
                return Err(ValidationError::new(
                    format!("spec.volumes_from[{i}]"),
                    format!(
                        "sidekick {name:?} is created before the primary: it cannot mount the volumes of {}",
                        if from.is_empty() {
                            "the primary".to_string()
                        } else {
                            format!("{from:?}")
                        }
                    ),
                ));
            }
        }
        Ok(())
    }

    /// The launch config: what every instance runs. Scale and the update and
    /// rollback settings are left out, so changing them replaces nothing.
    pub fn launch(&self) -> ServiceSpec {
        ServiceSpec {
            scale: 0,
            update: UpdateConfig::default(),
            rollback: UpdateConfig::default(),
            ..self.clone()
        }
    }

    /// Host ports this service needs on every node it runs on.
    pub fn host_ports(&self) -> impl Iterator<Item = (u16, Protocol)> + '_ {
        self.ports
            .iter()
            .filter(|p| p.host_port != 0)
            .map(|p| (p.host_port, p.protocol))
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct ServiceStatus {
    /// Instances whose container is running.
    pub running: u32,
    /// Instances not yet placed.
    pub pending: u32,
    /// The spec generation the controller last acted on.
    pub observed_generation: u64,
    /// healthy | degraded | unhealthy (or empty before any instance reports).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub health: String,
    /// The rollout of the latest launch-config change.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub upgrade: Option<UpgradeStatus>,
    /// Launch configs, the current one last (at most [`HISTORY_LIMIT`]).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub history: Vec<LaunchRevision>,
}

/// How many earlier launch configs a service keeps.
pub const HISTORY_LIMIT: usize = 10;

/// One launch config of a service, as rolled out.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct LaunchRevision {
    /// 1 for the first launch config, counting up.
    pub revision: u64,
    /// The launch config (see `ServiceSpec::launch`): what instances of this revision run.
    pub launch: ServiceSpec,
    /// RFC 3339 time it was first seen.
    pub created_at: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum UpgradeState {
    #[default]
    Upgrading,
    RollingBack,
    Done,
    RolledBack,
    Paused,
}

impl fmt::Display for UpgradeState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            UpgradeState::Upgrading => "upgrading",
            UpgradeState::RollingBack => "rolling-back",
            UpgradeState::Done => "done",
            UpgradeState::RolledBack => "rolled-back",
            UpgradeState::Paused => "paused",
        })
    }
}

/// Where a rollout stands. It always ends in done, rolled-back or paused.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct UpgradeStatus {
    pub state: UpgradeState,
    /// The launch revision being rolled out.
    pub revision: u64,
    /// Why it was rolled back or paused.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub reason: String,
    /// Milliseconds since the Unix epoch when the current batch started.
    pub batch_started_ms: u64,
    pub started_at: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub finished_at: String,
    /// Set by `corral service upgrade --pause`; cleared by `--resume`.
    #[serde(skip_serializing_if = "is_default")]
    pub pause_requested: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn port_spec_parses_the_cli_forms() {
        assert_eq!(
            "8080:80".parse::<PortSpec>().unwrap(),
            PortSpec {
                host_port: 8080,
                container_port: 80,
                protocol: Protocol::Tcp
            }
        );
        assert_eq!(
            "53:53/udp".parse::<PortSpec>().unwrap().protocol,
            Protocol::Udp
        );
        assert_eq!("80".parse::<PortSpec>().unwrap().host_port, 0);
        assert!("0:80".parse::<PortSpec>().is_err());
        assert!("80:70000".parse::<PortSpec>().is_err());
        assert!("80:80/sctp".parse::<PortSpec>().is_err());
        assert!("x:80".parse::<PortSpec>().is_err());
    }

    #[test]
    fn port_spec_display_parses_back() {
        for s in ["8080:80/tcp", "53/udp"] {
            let p: PortSpec = s.parse().unwrap();
            assert_eq!(p.to_string(), s);
        }
    }

    #[test]
    fn validate_names_the_field_at_fault() {
        let mut spec = ServiceSpec {
            image: "img".into(),
            scale: 1,
            ..Default::default()
        };
        assert!(spec.validate().is_ok());
        spec.ports = vec!["80:80".parse().unwrap(), "80:81".parse().unwrap()];
        assert_eq!(
            spec.validate().unwrap_err().field,
            "spec.ports[1].host_port"
        );
        spec.ports.clear();
        spec.image = String::new();
        assert_eq!(spec.validate().unwrap_err().field, "spec.image");
        spec.image = "img".into();
        spec.container_labels
            .insert("io.corral.service".into(), "x".into());
        assert_eq!(spec.validate().unwrap_err().field, "spec.container_labels");
    }

    #[test]
    fn volumes_from_names_data_sidekicks_only() {
        let sk = |name: &str, from: &[&str]| Sidekick {
            name: name.into(),
            image: "busybox".into(),
            volumes_from: from.iter().map(|s| s.to_string()).collect(),
            ..Default::default()
        };
        let mut spec = ServiceSpec {
            image: "img".into(),
            volumes_from: vec!["data".into()],
            sidekicks: vec![sk("data", &[]), sk("log", &["", "data"])],
            ..Default::default()
        };
        assert!(spec.validate().is_ok());
        let json = serde_json::to_string(&spec).unwrap();
        assert_eq!(serde_json::from_str::<ServiceSpec>(&json).unwrap(), spec);
        spec.volumes_from = vec!["nope".into()];
        assert_eq!(spec.validate().unwrap_err().field, "spec.volumes_from[0]");
        spec.volumes_from = vec!["data".into()];
        spec.sidekicks[0].volumes_from = vec![String::new()];
        let err = spec.validate().unwrap_err();
        assert!(err.message.contains("the primary"), "{}", err.message);
        // Nothing new is written for specs that do not use it.
        let plain = ServiceSpec::default();
        let json = serde_json::to_string(&plain).unwrap();
        assert!(!json.contains("volumes_from") && !json.contains("start_once"));
    }

    #[test]
    fn network_mode_is_lowercase_and_managed_is_not_written() {
        let plain = serde_json::to_string(&ServiceSpec::default()).unwrap();
        assert!(!plain.contains("network_mode"));
        let spec: ServiceSpec =
            serde_json::from_str(r#"{"image":"a","network_mode":"host"}"#).unwrap();
        assert_eq!(spec.network_mode, NetworkMode::Host);
        assert!(serde_json::from_str::<ServiceSpec>(r#"{"network_mode":"overlay"}"#).is_err());
        assert_eq!("bridge".parse::<NetworkMode>(), Ok(NetworkMode::Bridge));
    }

    #[test]
    fn unknown_spec_fields_are_rejected() {
        let err = serde_json::from_str::<ServiceSpec>(r#"{"image":"a","scael":3}"#).unwrap_err();
        assert!(err.to_string().contains("scael"));
    }
}
