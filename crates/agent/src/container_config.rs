//! What container an instance becomes.

use corral_engine::{ContainerConfig, PortBinding, PortProtocol};
use corral_types::{ContainerLabels, DEFAULT_ENVIRONMENT, Instance, Protocol};

/// The container name: `<service>-<n>`, prefixed with `<environment>-` outside
/// the default environment so two environments on one host never clash.
pub fn container_name(inst: &Instance) -> String {
    if inst.meta.environment == DEFAULT_ENVIRONMENT {
        inst.meta.name.clone()
    } else {
        format!("{}-{}", inst.meta.environment, inst.meta.name)
    }
}

pub fn container_config(inst: &Instance, node: &str) -> ContainerConfig {
    let launch = &inst.spec.launch;
    let mut labels = launch.container_labels.clone();
    labels.insert(
        ContainerLabels::ENVIRONMENT.into(),
        inst.meta.environment.clone(),
    );
    labels.insert(ContainerLabels::SERVICE.into(), inst.spec.service.clone());
    labels.insert(ContainerLabels::INSTANCE.into(), inst.meta.name.clone());
    labels.insert(ContainerLabels::INSTANCE_UID.into(), inst.meta.uid.clone());
    labels.insert(ContainerLabels::NODE.into(), node.to_string());
    ContainerConfig {
        name: container_name(inst),
        image: launch.image.clone(),
        command: launch.command.clone(),
        env: launch.env.iter().map(|(k, v)| format!("{k}={v}")).collect(),
        labels,
        ports: launch
            .ports
            .iter()
            .map(|p| PortBinding {
                container_port: p.container_port,
                host_port: p.host_port,
                protocol: match p.protocol {
                    Protocol::Tcp => PortProtocol::Tcp,
                    Protocol::Udp => PortProtocol::Udp,
                },
            })
            .collect(),
        memory_bytes: 0,
        nano_cpus: 0,
        init: true,
    }
}
