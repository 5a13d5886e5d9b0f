//! The Docker create body for a [`ContainerConfig`].

use std::collections::HashMap;

use bollard::models::{
    ContainerCreateBody, HostConfig, Mount as DockerMount, MountType, NetworkingConfig,
    PortBinding as DockerPortBinding, ResourcesUlimits,
};

use crate::{ContainerConfig, Mount, MountKind, PortProtocol};

fn port_key(container_port: u16, protocol: PortProtocol) -> String {
    let protocol = match protocol {
        PortProtocol::Tcp => "tcp",
        PortProtocol::Udp => "udp",
    };
    format!("{container_port}/{protocol}")
}

type Bindings = HashMap<String, Option<Vec<DockerPortBinding>>>;

/// Exposed ports and host bindings.
fn ports(config: &ContainerConfig) -> (Vec<String>, Bindings) {
    let mut exposed = Vec::new();
    let mut bindings: Bindings = HashMap::new();
    for port in &config.ports {
        let key = port_key(port.container_port, port.protocol);
        if !exposed.contains(&key) {
            exposed.push(key.clone());
        }
        if port.host_port != 0 {
            bindings
                .entry(key)
                .or_insert_with(|| Some(Vec::new()))
                .get_or_insert_with(Vec::new)
                .push(DockerPortBinding {
                    host_ip: Some(String::new()),
                    host_port: Some(port.host_port.to_string()),
                });
        }
    }
    (exposed, bindings)
}

fn docker_mount(mount: &Mount) -> DockerMount {
    let typ = match mount.kind {
        MountKind::Volume => MountType::VOLUME,
        MountKind::Bind => MountType::BIND,
        MountKind::Tmpfs => MountType::TMPFS,
    };
    DockerMount {
        target: Some(mount.target.clone()),
        source: (!mount.source.is_empty() && mount.kind != MountKind::Tmpfs)
            .then(|| mount.source.clone()),
        typ: Some(typ),
        read_only: mount.read_only.then_some(true),
        ..Default::default()
    }
}

fn non_empty<T: Clone>(v: &[T]) -> Option<Vec<T>> {
    (!v.is_empty()).then(|| v.to_vec())
}

fn non_empty_str(s: &str) -> Option<String> {
    (!s.is_empty()).then(|| s.to_owned())
}

fn host_config(config: &ContainerConfig, bindings: Bindings) -> HostConfig {
    let ulimits = config
        .ulimits
        .iter()
        .map(|u| ResourcesUlimits {
            name: Some(u.name.clone()),
            soft: Some(u.soft),
            hard: Some(u.hard),
        })
        .collect::<Vec<_>>();
    HostConfig {
        port_bindings: (!bindings.is_empty()).then_some(bindings),
        memory: positive(config.memory_bytes),
        nano_cpus: positive(config.nano_cpus),
        // Docker's init as PID 1 forwards signals and reaps zombies, so a
        // process that ignores SIGTERM as PID 1 still stops at once.
        init: config.init.then_some(true),
        mounts: (!config.mounts.is_empty())
            .then(|| config.mounts.iter().map(docker_mount).collect()),
        cap_add: non_empty(&config.cap_add),
        cap_drop: non_empty(&config.cap_drop),
        privileged: config.privileged.then_some(true),
        ulimits: non_empty(&ulimits),
        network_mode: non_empty_str(&config.network_mode)
            .or_else(|| non_empty_str(&config.network)),
        dns: non_empty(&config.dns),
        volumes_from: non_empty(&config.volumes_from),
        pid_mode: non_empty_str(&config.pid_mode),
        ipc_mode: non_empty_str(&config.ipc_mode),
        uts_mode: non_empty_str(&config.uts_mode),
        ..Default::default()
    }
}

/// The create body for `config`.
pub(crate) fn create_body(config: &ContainerConfig) -> ContainerCreateBody {
    let (exposed, bindings) = ports(config);
    // A container in another's (or the host's) network namespace can
    // neither expose ports nor have a hostname of its own.
    let shares_network =
        config.network_mode.starts_with("container:") || config.network_mode == "host";
    // Joining a named network at a fixed address needs an endpoint config.
    let networking_config =
        (config.network_mode.is_empty() && !config.network.is_empty() && !config.ip.is_empty())
            .then(|| NetworkingConfig {
                endpoints_config: Some(HashMap::from([(
                    config.network.clone(),
                    crate::docker_network::endpoint(&config.ip),
                )])),
            });
    ContainerCreateBody {
        image: Some(config.image.clone()),
        cmd: non_empty(&config.command),
        entrypoint: config.entrypoint.clone(),
        env: non_empty(&config.env),
        labels: Some(config.labels.clone().into_iter().collect()),
        exposed_ports: (!exposed.is_empty() && !shares_network).then_some(exposed),
        working_dir: non_empty_str(&config.working_dir),
        user: non_empty_str(&config.user),
        // Nor may a container in the host's UTS namespace set one.
        hostname: non_empty_str(&config.hostname)
            .filter(|_| !shares_network && config.uts_mode != "host"),
        stop_signal: non_empty_str(&config.stop_signal),
        stop_timeout: config.stop_timeout_s.map(i64::from),
        host_config: Some(host_config(config, bindings)),
        networking_config,
        ..Default::default()
    }
}

/// `Some(n)` for a limit, `None` for 0 (no limit); saturates at `i64::MAX`.
fn positive(value: u64) -> Option<i64> {
    (value > 0).then(|| i64::try_from(value).unwrap_or(i64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{PortBinding, Ulimit};

    #[test]
    fn create_body_publishes_only_ports_with_a_host_port() {
        let config = ContainerConfig {
            name: "web".into(),
            image: "corral-whoami:latest".into(),
            ports: vec![
                PortBinding {
                    container_port: 80,
                    host_port: 8080,
                    protocol: PortProtocol::Tcp,
                },
                PortBinding {
                    container_port: 53,
                    host_port: 0,
                    protocol: PortProtocol::Udp,
                },
            ],
            memory_bytes: 64 << 20,
            ..Default::default()
        };
        let body = create_body(&config);
        let exposed = body.exposed_ports.unwrap();
        assert_eq!(exposed, vec!["80/tcp".to_string(), "53/udp".to_string()]);
        let host = body.host_config.unwrap();
        let bindings = host.port_bindings.unwrap();
        assert_eq!(bindings.len(), 1);
        let web = bindings["80/tcp"].as_ref().unwrap();
        assert_eq!(web[0].host_port.as_deref(), Some("8080"));
        assert_eq!(web[0].host_ip.as_deref(), Some(""));
        assert_eq!(host.memory, Some(64 << 20));
        assert_eq!(host.nano_cpus, None);
        assert_eq!(body.cmd, None, "an empty command keeps the image's default");
        assert_eq!(body.entrypoint, None);
        assert_eq!(body.user, None);
        assert_eq!(host.mounts, None);
    }

    #[test]
    fn create_body_carries_the_whole_launch_config() {
        let config = ContainerConfig {
            image: "img".into(),
            entrypoint: Some(vec!["/bin/sh".into(), "-c".into()]),
            working_dir: "/srv".into(),
            user: "1000".into(),
            hostname: "box".into(),
            mounts: vec![
                Mount {
                    kind: MountKind::Volume,
                    source: "st_data".into(),
                    target: "/data".into(),
                    read_only: false,
                },
                Mount {
                    kind: MountKind::Tmpfs,
                    source: String::new(),
                    target: "/tmp".into(),
                    read_only: false,
                },
                Mount {
                    kind: MountKind::Bind,
                    source: "/etc/hosts".into(),
                    target: "/h".into(),
                    read_only: true,
                },
            ],
            cap_add: vec!["NET_ADMIN".into()],
            ulimits: vec![Ulimit {
                name: "nofile".into(),
                soft: 1024,
                hard: 2048,
            }],
            stop_signal: "SIGINT".into(),
            stop_timeout_s: Some(3),
            ..Default::default()
        };
        let body = create_body(&config);
        assert_eq!(body.working_dir.as_deref(), Some("/srv"));
        assert_eq!(body.hostname.as_deref(), Some("box"));
        assert_eq!(body.stop_timeout, Some(3));
        assert_eq!(body.stop_signal.as_deref(), Some("SIGINT"));
        let host = body.host_config.unwrap();
        let mounts = host.mounts.unwrap();
        assert_eq!(mounts[0].typ, Some(MountType::VOLUME));
        assert_eq!(mounts[0].source.as_deref(), Some("st_data"));
        assert_eq!(mounts[1].typ, Some(MountType::TMPFS));
        assert_eq!(mounts[1].source, None);
        assert_eq!(mounts[2].read_only, Some(true));
        assert_eq!(host.cap_add, Some(vec!["NET_ADMIN".to_string()]));
        assert_eq!(host.ulimits.unwrap()[0].hard, Some(2048));
    }

    #[test]
    fn a_managed_container_joins_its_network_with_the_gateway_as_dns() {
        let config = ContainerConfig {
            image: "img".into(),
            network: "corral-default".into(),
            ip: "10.42.1.7".into(),
            dns: vec!["10.42.1.1".into()],
            ..Default::default()
        };
        let body = create_body(&config);
        let endpoints = body.networking_config.unwrap().endpoints_config.unwrap();
        let ipam = endpoints["corral-default"].ipam_config.clone().unwrap();
        assert_eq!(ipam.ipv4_address.as_deref(), Some("10.42.1.7"));
        let host = body.host_config.unwrap();
        assert_eq!(host.network_mode.as_deref(), Some("corral-default"));
        assert_eq!(host.dns, Some(vec!["10.42.1.1".to_string()]));
        let host_mode = ContainerConfig {
            image: "img".into(),
            hostname: "x".into(),
            network_mode: "host".into(),
            ..Default::default()
        };
        let body = create_body(&host_mode);
        assert_eq!(body.hostname, None);
        assert_eq!(body.networking_config, None);
    }

    #[test]
    fn a_container_in_another_namespace_exposes_nothing() {
        let config = ContainerConfig {
            image: "img".into(),
            hostname: "x".into(),
            network_mode: "container:abc".into(),
            volumes_from: vec!["web-1".into()],
            ports: vec![PortBinding {
                container_port: 80,
                host_port: 0,
                protocol: PortProtocol::Tcp,
            }],
            ..Default::default()
        };
        let body = create_body(&config);
        assert_eq!(body.exposed_ports, None);
        assert_eq!(body.hostname, None);
        let host = body.host_config.unwrap();
        assert_eq!(host.network_mode.as_deref(), Some("container:abc"));
        assert_eq!(host.volumes_from, Some(vec!["web-1".to_string()]));
    }

    #[test]
    fn host_namespaces_reach_the_host_config_and_drop_the_hostname() {
        let config = ContainerConfig {
            image: "img".into(),
            hostname: "x".into(),
            pid_mode: "host".into(),
            ipc_mode: "host".into(),
            uts_mode: "host".into(),
            ..Default::default()
        };
        let body = create_body(&config);
        assert_eq!(body.hostname, None, "the host's UTS namespace has its name");
        let host = body.host_config.unwrap();
        assert_eq!(host.pid_mode.as_deref(), Some("host"));
        assert_eq!(host.ipc_mode.as_deref(), Some("host"));
        assert_eq!(host.uts_mode.as_deref(), Some("host"));
        let plain = create_body(&ContainerConfig::default());
        let host = plain.host_config.unwrap();
        assert_eq!(
            (host.pid_mode, host.ipc_mode, host.uts_mode),
            (None, None, None)
        );
    }
}
