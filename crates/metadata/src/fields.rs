//! The fields of one container, service, stack or host, named as Rancher's
//! metadata service named them.

use std::collections::BTreeMap;
use std::sync::Arc;

use corral_netview::{EnvSnapshot, InstanceView, service_short_name};
use corral_types::{
    ContainerLabels, Health, Instance, InstanceState, Node as HostNode, PortSpec, Service,
    ServiceMode, Stack,
};

use crate::node::{MapBuilder, Node, string_map, strings};

/// Rancher's own container labels, added when the user did not set them,
/// so scripts reading `labels/io.rancher.stack.name` keep working.
pub const RANCHER_STACK_NAME: &str = "io.rancher.stack.name";
pub const RANCHER_STACK_SERVICE_NAME: &str = "io.rancher.stack_service.name";
pub const RANCHER_CONTAINER_NAME: &str = "io.rancher.container.name";
pub const RANCHER_CONTAINER_UUID: &str = "io.rancher.container.uuid";

/// `hostIP:hostPort:containerPort/proto` for a published port (Rancher's
/// form; Corral publishes on every address, so the host IP is `0.0.0.0`).
pub fn port_string(p: &PortSpec) -> String {
    format!(
        "0.0.0.0:{}:{}/{}",
        p.host_port, p.container_port, p.protocol
    )
}

fn published(ports: &[PortSpec]) -> Node {
    strings(ports.iter().filter(|p| p.host_port != 0).map(port_string))
}

fn exposed(ports: &[PortSpec]) -> Node {
    strings(
        ports
            .iter()
            .filter(|p| p.host_port == 0)
            .map(|p| format!("{}/{}", p.container_port, p.protocol)),
    )
}

/// `healthy`, `unhealthy` or `initializing`. Without a health check a
/// running container is `healthy`, so scripts waiting for `healthy` work.
pub fn health_state(inst: &Instance) -> &'static str {
    match inst.status.state {
        InstanceState::Pending | InstanceState::Starting => "initializing",
        InstanceState::Stopping | InstanceState::Exited | InstanceState::Failed => "unhealthy",
        InstanceState::Running => match inst.status.health {
            Health::Healthy => "healthy",
            Health::Unhealthy => "unhealthy",
            Health::Initializing => "initializing",
            Health::None if inst.spec.launch.health_check.is_some() => "initializing",
            Health::None => "healthy",
        },
    }
}

/// The container's state; `removing` once it is being removed.
fn state(inst: &Instance) -> String {
    if inst.spec.removing {
        return "removing".to_string();
    }
    inst.status.state.to_string()
}

/// What Docker uses when no hostname is set: the short container id.
fn hostname(inst: &Instance) -> String {
    if !inst.spec.launch.hostname.is_empty() {
        return inst.spec.launch.hostname.clone();
    }
    inst.status.container_id.chars().take(12).collect()
}

fn container_labels(view: &InstanceView<'_>) -> Node {
    let inst = view.instance;
    let mut labels: BTreeMap<String, String> = inst.spec.launch.container_labels.clone();
    let mut corral = vec![
        (ContainerLabels::ENVIRONMENT, inst.meta.environment.clone()),
        (ContainerLabels::SERVICE, inst.spec.service.clone()),
        (ContainerLabels::INSTANCE, inst.meta.name.clone()),
        (ContainerLabels::INSTANCE_UID, inst.meta.uid.clone()),
        (ContainerLabels::NODE, inst.spec.node.clone()),
        (RANCHER_CONTAINER_NAME, inst.meta.name.clone()),
        (RANCHER_CONTAINER_UUID, inst.meta.uid.clone()),
    ];
    if !view.stack_name.is_empty() {
        corral.push((ContainerLabels::STACK, view.stack_name.to_string()));
        corral.push((RANCHER_STACK_NAME, view.stack_name.to_string()));
        corral.push((
            RANCHER_STACK_SERVICE_NAME,
            format!("{}/{}", view.stack_name, view.service_name),
        ));
    }
    for (k, v) in corral {
        labels.entry(k.to_string()).or_insert(v);
    }
    string_map(labels.iter())
}

/// One container (the primary container of an instance).
pub fn container(snap: &EnvSnapshot, view: &InstanceView<'_>) -> Node {
    let inst = view.instance;
    let launch = &inst.spec.launch;
    let uid_of = |o: Option<&str>| o.unwrap_or_default().to_string();
    let ips = if inst.status.ip.is_empty() {
        strings(Vec::<String>::new())
    } else {
        strings([inst.status.ip.as_str()])
    };
    let started = !inst.status.container_id.is_empty();
    let start_count = if started {
        u64::from(inst.status.restarts) + 1
    } else {
        0
    };
    MapBuilder::new()
        .with("name", inst.meta.name.as_str())
        .with("uuid", inst.meta.uid.as_str())
        .with("create_index", u64::from(inst.spec.ordinal))
        .with("service_index", inst.spec.ordinal.to_string())
        .with("service_suffix", inst.spec.ordinal.to_string())
        .with("primary_ip", inst.status.ip.as_str())
        .with("ips", ips)
        .with("service_name", view.service_name)
        .with(
            "service_uuid",
            uid_of(view.service.map(|s| s.meta.uid.as_str())),
        )
        .with("stack_name", view.stack_name)
        .with(
            "stack_uuid",
            uid_of(
                snap.stacks
                    .get(view.stack_name)
                    .map(|s| s.meta.uid.as_str()),
            ),
        )
        .with("environment_uuid", environment_uuid(snap))
        .with("labels", container_labels(view))
        .with("ports", published(&launch.ports))
        .with("health_state", health_state(inst))
        .with("state", state(inst))
        .with(
            "host_uuid",
            uid_of(snap.nodes.get(&inst.spec.node).map(|n| n.meta.uid.as_str())),
        )
        .with("hostname", hostname(inst))
        .with("external_id", inst.status.container_id.as_str())
        .with("start_count", start_count)
        .with("memory_reservation", launch.resources.memory_bytes)
        .with("milli_cpu_reservation", launch.resources.cpu_millis)
        .with("system", false)
        .build()
}

pub fn environment_uuid(snap: &EnvSnapshot) -> String {
    snap.environment_object
        .as_ref()
        .map(|e| e.meta.uid.clone())
        .unwrap_or_default()
}

/// One service. `containers` is the list of its containers: maps from
/// 2015-12-19 on, names in 2015-07-25 (the caller chooses).
pub fn service(snap: &EnvSnapshot, svc: &Service, containers: Arc<Node>, last: u32) -> Node {
    let spec = &svc.spec;
    let stack = spec.stack.as_str();
    let links: BTreeMap<String, String> = spec
        .links
        .iter()
        .map(|l| {
            let target = if stack.is_empty() {
                l.service.clone()
            } else {
                format!("{stack}/{}", l.service)
            };
            (target, l.alias.clone())
        })
        .collect();
    let scale = match (spec.mode, containers.as_ref()) {
        (ServiceMode::Global, Node::List(items)) => items.len() as u64,
        _ => u64::from(spec.scale),
    };
    MapBuilder::new()
        .with("name", service_short_name(svc))
        .with("uuid", svc.meta.uid.as_str())
        .with("kind", "service")
        .with("stack_name", stack)
        .with(
            "stack_uuid",
            snap.stacks
                .get(stack)
                .map(|s| s.meta.uid.clone())
                .unwrap_or_default(),
        )
        .with("environment_uuid", environment_uuid(snap))
        .with("scale", scale)
        .with("create_index", u64::from(last))
        .with("labels", string_map(spec.container_labels.iter()))
        .with("ports", published(&spec.ports))
        .with("expose", exposed(&spec.ports))
        .with(
            "sidekicks",
            strings(spec.sidekicks.iter().map(|s| s.name.clone())),
        )
        .with("links", string_map(links.iter()))
        .with("metadata", MapBuilder::new().build())
        .with("health_state", svc.status.health.as_str())
        .with("system", false)
        .with_shared("containers", containers)
        .build()
}

/// One stack with its services (maps).
pub fn stack(snap: &EnvSnapshot, stack: &Stack, services: Vec<Arc<Node>>) -> Node {
    MapBuilder::new()
        .with("name", stack.meta.name.as_str())
        .with("uuid", stack.meta.uid.as_str())
        .with("environment_name", snap.environment.as_str())
        .with("environment_uuid", environment_uuid(snap))
        .with("system", false)
        .with("services", Node::List(services))
        .build()
}

/// One host (a node).
pub fn host(node: &HostNode) -> Node {
    MapBuilder::new()
        .with("name", node.meta.name.as_str())
        .with("uuid", node.meta.uid.as_str())
        .with("host_id", node.meta.uid.as_str())
        .with("hostname", node.status.hostname.as_str())
        .with("agent_ip", node.status.address.as_str())
        .with("labels", string_map(node.meta.labels.iter()))
        .with("memory", node.status.memory_bytes)
        .with("milli_cpu", node.status.cpu_millis)
        .with("state", node.status.state.to_string())
        .build()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use corral_types::{HealthCheck, Kind, Object, Protocol};

    use super::*;

    fn instance(state: InstanceState, health: Health, check: bool) -> Instance {
        let mut inst: Instance =
            Object::new(Kind::Instance, "default", "web-1", Default::default());
        inst.status.state = state;
        inst.status.health = health;
        if check {
            inst.spec.launch.health_check = Some(HealthCheck::default());
        }
        inst
    }

    #[test]
    fn a_running_container_without_health_check_is_healthy() {
        let inst = instance(InstanceState::Running, Health::None, false);
        assert_eq!(health_state(&inst), "healthy");
    }

    #[test]
    fn a_container_with_a_check_not_yet_reported_is_initializing() {
        let inst = instance(InstanceState::Running, Health::None, true);
        assert_eq!(health_state(&inst), "initializing");
        let inst = instance(InstanceState::Running, Health::Unhealthy, true);
        assert_eq!(health_state(&inst), "unhealthy");
        let inst = instance(InstanceState::Exited, Health::Healthy, true);
        assert_eq!(health_state(&inst), "unhealthy");
    }

    #[test]
    fn published_ports_are_written_the_rancher_way() {
        let p = PortSpec {
            host_port: 8080,
            container_port: 80,
            protocol: Protocol::Tcp,
        };
        assert_eq!(port_string(&p), "0.0.0.0:8080:80/tcp");
        let unpublished = PortSpec { host_port: 0, ..p };
        assert_eq!(
            published(&[p, unpublished]),
            strings(["0.0.0.0:8080:80/tcp"])
        );
        assert_eq!(exposed(&[p, unpublished]), strings(["80/tcp"]));
    }
}
