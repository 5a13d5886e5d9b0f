//! What containers an instance becomes: its primary and its sidekicks.

use std::collections::BTreeMap;

use corral_engine::{ContainerConfig, Mount, MountKind, PortBinding, PortProtocol, Ulimit};
use corral_types::{
    ContainerLabels, DEFAULT_ENVIRONMENT, Instance, MountKind as SpecMountKind, NamespaceMode,
    NetworkMode, PortSpec, Protocol, Resources, ServiceSpec, Sidekick, VolumeMount,
};

use crate::overlay::OverlayState;

/// Seconds a container gets to stop when the launch config does not say.
pub const DEFAULT_STOP_GRACE_S: u32 = 10;

/// The container name: `<service>-<n>`, prefixed with `<environment>-` outside
/// the default environment so two environments on one host never clash.
pub fn container_name(inst: &Instance) -> String {
    if inst.meta.environment == DEFAULT_ENVIRONMENT {
        inst.meta.name.clone()
    } else {
        format!("{}-{}", inst.meta.environment, inst.meta.name)
    }
}

/// The container name of sidekick `name`: `<container name>-<name>`.
pub fn sidekick_container_name(inst: &Instance, name: &str) -> String {
    format!("{}-{name}", container_name(inst))
}

/// The engine's name of named volume `name`: `<stack>_<name>` in a stack.
pub fn volume_name(launch: &ServiceSpec, name: &str) -> String {
    if launch.stack.is_empty() {
        name.to_string()
    } else {
        format!("{}_{name}", launch.stack)
    }
}

/// The stop grace period in whole seconds, rounded up; 10 s by default.
pub fn stop_grace_seconds(launch: &ServiceSpec) -> u32 {
    launch
        .stop_grace_period_ms
        .map_or(DEFAULT_STOP_GRACE_S, |ms| {
            u32::try_from(ms.div_ceil(1000)).unwrap_or(u32::MAX)
        })
}

/// The named volumes the instance's containers mount (engine names), each once.
pub fn named_volumes(inst: &Instance) -> Vec<String> {
    let launch = &inst.spec.launch;
    let all = launch
        .volumes
        .iter()
        .chain(launch.sidekicks.iter().flat_map(|s| s.volumes.iter()));
    let mut names: Vec<String> = all
        .filter(|v| v.kind == SpecMountKind::Volume && !v.source.is_empty())
        .map(|v| volume_name(launch, &v.source))
        .collect();
    names.sort();
    names.dedup();
    names
}

/// The labels of the instance's named volumes.
pub fn volume_labels(inst: &Instance) -> BTreeMap<String, String> {
    let mut labels = BTreeMap::from([(
        ContainerLabels::ENVIRONMENT.to_string(),
        inst.meta.environment.clone(),
    )]);
    if !inst.spec.launch.stack.is_empty() {
        labels.insert(
            ContainerLabels::STACK.to_string(),
            inst.spec.launch.stack.clone(),
        );
    }
    labels
}

fn mounts(launch: &ServiceSpec, volumes: &[VolumeMount]) -> Vec<Mount> {
    volumes
        .iter()
        .map(|v| Mount {
            kind: match v.kind {
                SpecMountKind::Volume => MountKind::Volume,
                SpecMountKind::Bind => MountKind::Bind,
                SpecMountKind::Tmpfs => MountKind::Tmpfs,
            },
            source: match v.kind {
                SpecMountKind::Volume if !v.source.is_empty() => volume_name(launch, &v.source),
                SpecMountKind::Tmpfs => String::new(),
                _ => v.source.clone(),
            },
            target: v.target.clone(),
            read_only: v.read_only,
        })
        .collect()
}

fn port_bindings<'a>(ports: impl Iterator<Item = &'a PortSpec>) -> Vec<PortBinding> {
    ports
        .map(|p| PortBinding {
            container_port: p.container_port,
            host_port: p.host_port,
            protocol: match p.protocol {
                Protocol::Tcp => PortProtocol::Tcp,
                Protocol::Udp => PortProtocol::Udp,
            },
        })
        .collect()
}

fn env_list(env: &BTreeMap<String, String>) -> Vec<String> {
    env.iter().map(|(k, v)| format!("{k}={v}")).collect()
}

fn nano_cpus(limits: &Resources) -> u64 {
    limits.cpu_millis.saturating_mul(1_000_000)
}

/// Corral's labels on every container of the instance.
fn corral_labels(inst: &Instance, node: &str) -> BTreeMap<String, String> {
    let mut labels = BTreeMap::new();
    labels.insert(
        ContainerLabels::ENVIRONMENT.into(),
        inst.meta.environment.clone(),
    );
    labels.insert(ContainerLabels::SERVICE.into(), inst.spec.service.clone());
    labels.insert(ContainerLabels::INSTANCE.into(), inst.meta.name.clone());
    labels.insert(ContainerLabels::INSTANCE_UID.into(), inst.meta.uid.clone());
    labels.insert(ContainerLabels::NODE.into(), node.to_string());
    if !inst.spec.launch.stack.is_empty() {
        labels.insert(
            ContainerLabels::STACK.into(),
            inst.spec.launch.stack.clone(),
        );
    }
    labels
}

/// Whether the primary mounts the volumes of sidekick `name` (a data sidekick).
pub fn is_data_sidekick(launch: &ServiceSpec, name: &str) -> bool {
    launch.volumes_from.iter().any(|n| n == name)
}

/// The data sidekicks in the order they must be created: one that mounts
/// the volumes of another comes after it (a cycle is left in spec order).
pub fn data_sidekicks(launch: &ServiceSpec) -> Vec<&Sidekick> {
    let mut rest: Vec<&Sidekick> = launch
        .sidekicks
        .iter()
        .filter(|s| is_data_sidekick(launch, &s.name))
        .collect();
    let mut out: Vec<&Sidekick> = Vec::new();
    while !rest.is_empty() {
        let waiting = |s: &&Sidekick| {
            s.volumes_from
                .iter()
                .any(|f| rest.iter().any(|r| &r.name == f && r.name != s.name))
        };
        let (ready, later): (Vec<&Sidekick>, Vec<&Sidekick>) =
            rest.iter().partition(|s| !waiting(s));
        if ready.is_empty() {
            out.extend(later);
            break;
        }
        out.extend(ready);
        rest = later;
    }
    out
}

/// The network of the primary container (its sidekicks share it): the
/// managed network with the gateway as DNS server, the engine's bridge
/// (also for a managed service while `overlay` is `None`: not programmed
/// on this node), or the host's.
fn set_network(config: &mut ContainerConfig, mode: NetworkMode, overlay: Option<&OverlayState>) {
    match (mode, overlay) {
        (NetworkMode::Managed, Some(overlay)) => {
            config.network = overlay.network.clone();
            config.dns = vec![overlay.gateway.to_string()];
        }
        (NetworkMode::Managed | NetworkMode::Bridge, _) => {}
        (NetworkMode::Host, _) => config.network_mode = "host".to_string(),
    }
}

/// The primary container. It publishes the ports of the sidekicks in its
/// network namespace too, and mounts the volumes of its data sidekicks.
pub fn container_config(
    inst: &Instance,
    node: &str,
    overlay: Option<&OverlayState>,
) -> ContainerConfig {
    let mut config = primary_config(inst, node);
    set_network(&mut config, inst.spec.launch.network_mode, overlay);
    config
}

/// Docker's `host` for a host namespace; empty for the engine's default.
fn host_mode(mode: NamespaceMode) -> String {
    if mode.is_host() {
        "host".to_string()
    } else {
        String::new()
    }
}

fn primary_config(inst: &Instance, node: &str) -> ContainerConfig {
    let launch = &inst.spec.launch;
    let mut labels = launch.container_labels.clone();
    labels.extend(corral_labels(inst, node));
    let ports = launch.ports.iter().chain(
        launch
            .sidekicks
            .iter()
            .filter(|s| !is_data_sidekick(launch, &s.name))
            .flat_map(|s| s.ports.iter()),
    );
    ContainerConfig {
        name: container_name(inst),
        image: launch.image.clone(),
        command: launch.command.clone(),
        env: env_list(&launch.env),
        labels,
        ports: port_bindings(ports),
        memory_bytes: launch.limits.memory_bytes,
        nano_cpus: nano_cpus(&launch.limits),
        init: true,
        entrypoint: launch.entrypoint.clone(),
        working_dir: launch.working_dir.clone(),
        user: launch.user.clone(),
        hostname: launch.hostname.clone(),
        mounts: mounts(launch, &launch.volumes),
        cap_add: launch.cap_add.clone(),
        cap_drop: launch.cap_drop.clone(),
        privileged: launch.privileged,
        ulimits: launch
            .ulimits
            .iter()
            .map(|u| Ulimit {
                name: u.name.clone(),
                soft: u.soft,
                hard: u.hard,
            })
            .collect(),
        stop_signal: launch.stop_signal.clone(),
        stop_timeout_s: Some(stop_grace_seconds(launch)),
        network_mode: String::new(),
        pid_mode: host_mode(launch.pid_mode),
        ipc_mode: host_mode(launch.ipc_mode),
        uts_mode: host_mode(launch.uts_mode),
        volumes_from: launch
            .volumes_from
            .iter()
            .map(|n| sidekick_container_name(inst, n))
            .collect(),
        ..ContainerConfig::default()
    }
}

/// Sidekick `sidekick` of the instance, in the network namespace of the
/// primary container `primary_id`; a data sidekick, created before the
/// primary, gets a network of its own and publishes its own ports.
pub fn sidekick_config(
    inst: &Instance,
    node: &str,
    sidekick: &Sidekick,
    primary_id: &str,
) -> ContainerConfig {
    let launch = &inst.spec.launch;
    let mut labels = sidekick.container_labels.clone();
    labels.extend(corral_labels(inst, node));
    labels.insert(ContainerLabels::SIDEKICK.into(), sidekick.name.clone());
    let data = is_data_sidekick(launch, &sidekick.name);
    let volumes_from = sidekick
        .volumes_from
        .iter()
        .map(|from| {
            if from.is_empty() {
                container_name(inst)
            } else {
                sidekick_container_name(inst, from)
            }
        })
        .collect();
    ContainerConfig {
        name: sidekick_container_name(inst, &sidekick.name),
        image: sidekick.image.clone(),
        command: sidekick.command.clone(),
        env: env_list(&sidekick.env),
        labels,
        memory_bytes: sidekick.limits.memory_bytes,
        nano_cpus: nano_cpus(&sidekick.limits),
        init: true,
        entrypoint: sidekick.entrypoint.clone(),
        working_dir: sidekick.working_dir.clone(),
        user: sidekick.user.clone(),
        mounts: mounts(launch, &sidekick.volumes),
        privileged: sidekick.privileged,
        stop_signal: launch.stop_signal.clone(),
        stop_timeout_s: Some(stop_grace_seconds(launch)),
        network_mode: if data {
            String::new()
        } else {
            format!("container:{primary_id}")
        },
        ports: if data {
            port_bindings(sidekick.ports.iter())
        } else {
            Vec::new()
        },
        volumes_from,
        ..ContainerConfig::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use corral_types::{InstanceSpec, Kind, Object};

    fn instance(launch: ServiceSpec) -> Instance {
        let mut i: Instance = Object::new(
            Kind::Instance,
            "default",
            "web-1",
            InstanceSpec {
                service: "web".into(),
                ordinal: 1,
                node: "n1".into(),
                launch,
                ..Default::default()
            },
        );
        i.meta.uid = "u1".into();
        i
    }

    #[test]
    fn named_volumes_are_prefixed_with_the_stack() {
        let data = VolumeMount {
            kind: SpecMountKind::Volume,
            source: "data".into(),
            target: "/data".into(),
            read_only: false,
        };
        let mut launch = ServiceSpec {
            image: "img".into(),
            volumes: vec![data.clone()],
            stop_grace_period_ms: Some(1500),
            ..Default::default()
        };
        let config = container_config(&instance(launch.clone()), "n1", None);
        assert_eq!(config.mounts[0].source, "data");
        assert_eq!(config.stop_timeout_s, Some(2));
        launch.stack = "st".into();
        let inst = instance(launch);
        let config = container_config(&inst, "n1", None);
        assert_eq!(config.mounts[0].source, "st_data");
        assert_eq!(config.labels[ContainerLabels::STACK], "st");
        assert_eq!(named_volumes(&inst), vec!["st_data".to_string()]);
        assert_eq!(volume_labels(&inst)[ContainerLabels::STACK], "st");
    }

    #[test]
    fn sidekicks_join_the_primary_and_map_volumes_from() {
        let sidekick = Sidekick {
            name: "log".into(),
            image: "busy".into(),
            volumes_from: vec![String::new(), "other".into()],
            ..Default::default()
        };
        let inst = instance(ServiceSpec {
            image: "img".into(),
            sidekicks: vec![sidekick.clone()],
            ..Default::default()
        });
        let config = sidekick_config(&inst, "n1", &sidekick, "abc");
        assert_eq!(config.name, "web-1-log");
        assert_eq!(config.network_mode, "container:abc");
        assert_eq!(config.volumes_from, vec!["web-1", "web-1-other"]);
        assert_eq!(config.labels[ContainerLabels::SIDEKICK], "log");
        assert_eq!(config.labels[ContainerLabels::INSTANCE_UID], "u1");
        assert!(
            !container_config(&inst, "n1", None)
                .labels
                .contains_key(ContainerLabels::SIDEKICK)
        );
    }

    #[test]
    fn managed_containers_join_the_overlay_with_its_gateway_as_dns() {
        let overlay = OverlayState {
            environment: "default".into(),
            network: "corral-default".into(),
            bridge: "cr-1".into(),
            env_range: "10.42.0.0/16".parse().unwrap(),
            subnet: "10.42.3.0/24".parse().unwrap(),
            gateway: "10.42.3.1".parse().unwrap(),
        };
        let mut launch = ServiceSpec {
            image: "img".into(),
            ..Default::default()
        };
        let managed = container_config(&instance(launch.clone()), "n1", Some(&overlay));
        assert_eq!(managed.network, "corral-default");
        assert_eq!(managed.dns, ["10.42.3.1"]);
        assert_eq!(managed.network_mode, "");
        let fallback = container_config(&instance(launch.clone()), "n1", None);
        assert_eq!((fallback.network.as_str(), fallback.dns.len()), ("", 0));
        launch.network_mode = NetworkMode::Bridge;
        let bridge = container_config(&instance(launch.clone()), "n1", Some(&overlay));
        assert_eq!(
            (bridge.network.as_str(), bridge.network_mode.as_str()),
            ("", "")
        );
        launch.network_mode = NetworkMode::Host;
        let host = container_config(&instance(launch), "n1", Some(&overlay));
        assert_eq!(
            (host.network.as_str(), host.network_mode.as_str()),
            ("", "host")
        );
    }

    #[test]
    fn host_pid_ipc_and_uts_reach_the_primary_only() {
        let launch = ServiceSpec {
            image: "img".into(),
            pid_mode: NamespaceMode::Host,
            ipc_mode: NamespaceMode::Host,
            uts_mode: NamespaceMode::Host,
            sidekicks: vec![Sidekick {
                name: "log".into(),
                image: "busy".into(),
                ..Default::default()
            }],
            ..Default::default()
        };
        let inst = instance(launch);
        let config = container_config(&inst, "n1", None);
        assert_eq!(
            (
                config.pid_mode.as_str(),
                config.ipc_mode.as_str(),
                config.uts_mode.as_str()
            ),
            ("host", "host", "host")
        );
        let side = sidekick_config(&inst, "n1", &inst.spec.launch.sidekicks[0], "abc");
        assert_eq!((side.pid_mode.as_str(), side.uts_mode.as_str()), ("", ""));
        let plain = container_config(&instance(ServiceSpec::default()), "n1", None);
        assert_eq!((plain.pid_mode.as_str(), plain.ipc_mode.as_str()), ("", ""));
    }

    #[test]
    fn data_sidekicks_come_first_with_their_own_network() {
        let sk = |name: &str, from: &[&str]| Sidekick {
            name: name.into(),
            image: "busy".into(),
            volumes_from: from.iter().map(|s| s.to_string()).collect(),
            ports: vec!["8080:80".parse().unwrap()],
            ..Default::default()
        };
        let inst = instance(ServiceSpec {
            image: "img".into(),
            volumes_from: vec!["conf".into(), "data".into()],
            sidekicks: vec![sk("log", &[""]), sk("conf", &["data"]), sk("data", &[])],
            ..Default::default()
        });
        let launch = &inst.spec.launch;
        let order: Vec<&str> = data_sidekicks(launch)
            .iter()
            .map(|s| s.name.as_str())
            .collect();
        assert_eq!(order, ["data", "conf"]);
        let primary = container_config(&inst, "n1", None);
        assert_eq!(primary.volumes_from, ["web-1-conf", "web-1-data"]);
        assert_eq!(primary.ports.len(), 1, "only the log sidekick's port");
        let data = sidekick_config(&inst, "n1", &launch.sidekicks[2], "");
        assert_eq!(data.network_mode, "");
        assert_eq!(data.ports.len(), 1);
        let conf = sidekick_config(&inst, "n1", &launch.sidekicks[1], "");
        assert_eq!(conf.volumes_from, ["web-1-data"]);
        let log = sidekick_config(&inst, "n1", &launch.sidekicks[0], "abc");
        assert_eq!(log.network_mode, "container:abc");
        assert!(log.ports.is_empty());
    }
}
