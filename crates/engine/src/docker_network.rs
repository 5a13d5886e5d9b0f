//! Engine networks over bollard: the bridge network of an environment's
//! managed containers.

use std::collections::HashMap;

use bollard::Docker;
use bollard::errors::Error as BollardError;
use bollard::models::{
    EndpointIpamConfig, EndpointSettings, Ipam, IpamConfig, Network, NetworkConnectRequest,
    NetworkCreateRequest, NetworkInspect,
};
use bollard::query_parameters::{InspectNetworkOptions, ListNetworksOptionsBuilder};

use crate::{EngineError, NetworkConfig, NetworkInfo};

/// Docker's bridge driver options.
const BRIDGE_NAME: &str = "com.docker.network.bridge.name";
const MASQUERADE: &str = "com.docker.network.bridge.enable_ip_masquerade";
const MTU: &str = "com.docker.network.driver.mtu";

fn api_error(operation: &'static str, error: BollardError) -> EngineError {
    EngineError::Api {
        operation,
        message: error.to_string(),
    }
}

fn status_of(error: &BollardError) -> Option<u16> {
    match error {
        BollardError::DockerResponseServerError { status_code, .. } => Some(*status_code),
        _ => None,
    }
}

/// The create request of a bridge network.
pub(crate) fn create_request(config: &NetworkConfig) -> NetworkCreateRequest {
    let mut options = HashMap::new();
    if !config.bridge.is_empty() {
        options.insert(BRIDGE_NAME.to_owned(), config.bridge.clone());
    }
    options.insert(MASQUERADE.to_owned(), config.masquerade.to_string());
    if config.mtu > 0 {
        options.insert(MTU.to_owned(), config.mtu.to_string());
    }
    let ipam = IpamConfig {
        subnet: Some(config.subnet.clone()),
        gateway: (!config.gateway.is_empty()).then(|| config.gateway.clone()),
        ..Default::default()
    };
    NetworkCreateRequest {
        name: config.name.clone(),
        driver: Some("bridge".to_owned()),
        ipam: Some(Ipam {
            driver: Some("default".to_owned()),
            config: Some(vec![ipam]),
            options: None,
        }),
        options: Some(options),
        labels: Some(config.labels.clone().into_iter().collect()),
        ..Default::default()
    }
}

fn info_of(
    name: Option<String>,
    id: Option<String>,
    ipam: Option<Ipam>,
    options: Option<HashMap<String, String>>,
    labels: Option<HashMap<String, String>>,
) -> NetworkInfo {
    let first = ipam
        .and_then(|i| i.config)
        .and_then(|c| c.into_iter().next())
        .unwrap_or_default();
    let options = options.unwrap_or_default();
    NetworkInfo {
        id: id.unwrap_or_default(),
        name: name.unwrap_or_default(),
        subnet: first.subnet.unwrap_or_default(),
        gateway: first.gateway.unwrap_or_default(),
        bridge: options.get(BRIDGE_NAME).cloned().unwrap_or_default(),
        labels: labels.unwrap_or_default().into_iter().collect(),
    }
}

fn from_inspect(n: NetworkInspect) -> NetworkInfo {
    info_of(n.name, n.id, n.ipam, n.options, n.labels)
}

fn from_list(n: Network) -> NetworkInfo {
    info_of(n.name, n.id, n.ipam, n.options, n.labels)
}

pub(crate) async fn create(docker: &Docker, config: &NetworkConfig) -> Result<String, EngineError> {
    docker
        .create_network(create_request(config))
        .await
        .map(|r| r.id)
        .map_err(|e| match status_of(&e) {
            Some(409) => EngineError::NameInUse(config.name.clone()),
            _ => api_error("create network", e),
        })
}

pub(crate) async fn inspect(docker: &Docker, name: &str) -> Result<NetworkInfo, EngineError> {
    docker
        .inspect_network(name, None::<InspectNetworkOptions>)
        .await
        .map(from_inspect)
        .map_err(|e| match status_of(&e) {
            Some(404) => EngineError::NetworkNotFound(name.to_owned()),
            _ => api_error("inspect network", e),
        })
}

pub(crate) async fn list(
    docker: &Docker,
    label_key: &str,
) -> Result<Vec<NetworkInfo>, EngineError> {
    let filters = HashMap::from([("label", vec![label_key])]);
    let options = ListNetworksOptionsBuilder::default()
        .filters(&filters)
        .build();
    docker
        .list_networks(Some(options))
        .await
        .map(|all| all.into_iter().map(from_list).collect())
        .map_err(|e| api_error("list networks", e))
}

pub(crate) async fn remove(docker: &Docker, name: &str) -> Result<(), EngineError> {
    match docker.remove_network(name).await {
        Ok(()) => Ok(()),
        Err(e) if status_of(&e) == Some(404) => Ok(()),
        Err(e) => Err(api_error("remove network", e)),
    }
}

pub(crate) async fn connect(
    docker: &Docker,
    network: &str,
    container_id: &str,
    ip: &str,
) -> Result<(), EngineError> {
    let request = NetworkConnectRequest {
        container: container_id.to_owned(),
        endpoint_config: Some(endpoint(ip)),
    };
    docker
        .connect_network(network, request)
        .await
        .map_err(|e| match status_of(&e) {
            Some(404) => EngineError::NetworkNotFound(network.to_owned()),
            _ => api_error("connect network", e),
        })
}

/// An endpoint, with a fixed address when `ip` is not empty.
pub(crate) fn endpoint(ip: &str) -> EndpointSettings {
    EndpointSettings {
        ipam_config: (!ip.is_empty()).then(|| EndpointIpamConfig {
            ipv4_address: Some(ip.to_owned()),
            ..Default::default()
        }),
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn create_request_names_the_bridge_and_turns_masquerade_off() {
        let config = NetworkConfig {
            name: "corral-default".into(),
            subnet: "10.42.1.0/24".into(),
            gateway: "10.42.1.1".into(),
            bridge: "cr-12345678".into(),
            mtu: 1450,
            masquerade: false,
            ..Default::default()
        };
        let request = create_request(&config);
        let options = request.options.unwrap();
        assert_eq!(options[BRIDGE_NAME], "cr-12345678");
        assert_eq!(options[MASQUERADE], "false");
        assert_eq!(options[MTU], "1450");
        let ipam = &request.ipam.unwrap().config.unwrap()[0];
        assert_eq!(ipam.subnet.as_deref(), Some("10.42.1.0/24"));
        assert_eq!(ipam.gateway.as_deref(), Some("10.42.1.1"));
    }
}
