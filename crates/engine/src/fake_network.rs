//! The networks of a [`crate::FakeEngine`]: kept in memory, with addresses
//! handed out in order from each network's subnet.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;

use crate::{EngineError, NetworkConfig, NetworkInfo};

#[derive(Debug, Default)]
pub(crate) struct FakeNetworks {
    networks: BTreeMap<String, (NetworkInfo, u32)>,
    next_id: u64,
}

impl FakeNetworks {
    pub(crate) fn create(&mut self, config: &NetworkConfig) -> Result<String, EngineError> {
        if self.networks.contains_key(&config.name) {
            return Err(EngineError::NameInUse(config.name.clone()));
        }
        self.next_id += 1;
        let id = format!("fakenet{:057x}", self.next_id);
        let info = NetworkInfo {
            id: id.clone(),
            name: config.name.clone(),
            subnet: config.subnet.clone(),
            gateway: config.gateway.clone(),
            bridge: config.bridge.clone(),
            labels: config.labels.clone(),
        };
        self.networks.insert(config.name.clone(), (info, 1));
        Ok(id)
    }

    pub(crate) fn inspect(&self, name: &str) -> Result<NetworkInfo, EngineError> {
        self.networks
            .values()
            .find(|(n, _)| n.name == name || n.id == name)
            .map(|(n, _)| n.clone())
            .ok_or_else(|| EngineError::NetworkNotFound(name.to_owned()))
    }

    pub(crate) fn list(&self, label_key: &str) -> Vec<NetworkInfo> {
        self.networks
            .values()
            .filter(|(n, _)| n.labels.contains_key(label_key))
            .map(|(n, _)| n.clone())
            .collect()
    }

    pub(crate) fn remove(&mut self, name: &str) {
        self.networks.remove(name);
    }

    /// The next free address of network `name` (`.2`, `.3`, ...), or
    /// `fixed` when given; an unknown network is an error, like Docker's.
    pub(crate) fn address(&mut self, name: &str, fixed: &str) -> Result<String, EngineError> {
        let (info, used) = self
            .networks
            .get_mut(name)
            .ok_or_else(|| EngineError::NetworkNotFound(name.to_owned()))?;
        if !fixed.is_empty() {
            return Ok(fixed.to_owned());
        }
        *used += 1;
        let base = info
            .subnet
            .split('/')
            .next()
            .and_then(|a| a.parse::<Ipv4Addr>().ok())
            .unwrap_or(Ipv4Addr::UNSPECIFIED);
        Ok(Ipv4Addr::from(u32::from(base).wrapping_add(*used)).to_string())
    }
}
