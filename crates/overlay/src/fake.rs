//! [`FakeNet`]: an in-memory kernel for unit tests. It keeps devices,
//! addresses, routes, neighbours, forwarding entries and chains, answers
//! reads from them, and records every change as a line of text.

use std::collections::{BTreeMap, BTreeSet};
use std::net::Ipv4Addr;
use std::sync::{Mutex, MutexGuard, PoisonError};

use crate::OverlayError;
use crate::plan::HostRoute;
use crate::programmer::{LinkInfo, NetProgrammer, VxlanSpec};

#[derive(Debug, Default)]
struct State {
    links: BTreeMap<String, LinkInfo>,
    addresses: BTreeMap<String, Vec<String>>,
    routes: BTreeMap<String, BTreeMap<String, Option<Ipv4Addr>>>,
    neighbours: BTreeMap<String, BTreeMap<Ipv4Addr, String>>,
    fdb: BTreeMap<String, BTreeSet<(String, Ipv4Addr)>>,
    chains: BTreeMap<(String, String), Vec<String>>,
    /// Routes of the host that are not on a device the overlay programs
    /// (another installation's bridge, the LAN): destination and device.
    other_routes: Vec<HostRoute>,
    changes: Vec<String>,
    fail_all: Option<String>,
}

/// An in-memory [`NetProgrammer`]; see the module docs.
#[derive(Debug, Default)]
pub struct FakeNet {
    state: Mutex<State>,
}

impl FakeNet {
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Records `change`, or fails every call after [`FakeNet::fail_with`].
    fn change(&self, change: String) -> Result<MutexGuard<'_, State>, OverlayError> {
        let mut state = self.check()?;
        state.changes.push(change);
        Ok(state)
    }

    fn check(&self) -> Result<MutexGuard<'_, State>, OverlayError> {
        let state = self.lock();
        match &state.fail_all {
            Some(message) => Err(OverlayError::Command {
                command: "fake".into(),
                message: message.clone(),
            }),
            None => Ok(state),
        }
    }

    /// Makes every later call fail (as on a host without `ip`).
    pub fn fail_with(&self, message: &str) {
        self.lock().fail_all = Some(message.to_string());
    }

    /// Adds a device (the engine's bridge, say).
    pub fn add_link(&self, name: &str, kind: &str) {
        let link = LinkInfo {
            kind: kind.to_string(),
            up: true,
            mtu: 1500,
            ..LinkInfo::default()
        };
        self.lock().links.insert(name.to_string(), link);
    }

    /// Adds a route the overlay did not make (`dst` via device `dev`).
    pub fn add_host_route(&self, dst: &str, dev: &str) {
        self.lock().other_routes.push(HostRoute {
            dst: dst.to_string(),
            dev: dev.to_string(),
        });
    }

    /// The changes made so far, forgetting them.
    pub fn take_changes(&self) -> Vec<String> {
        std::mem::take(&mut self.lock().changes)
    }

    pub fn routes_of(&self, dev: &str) -> BTreeMap<String, Option<Ipv4Addr>> {
        self.lock().routes.get(dev).cloned().unwrap_or_default()
    }

    pub fn fdb_of(&self, dev: &str) -> BTreeSet<(String, Ipv4Addr)> {
        self.lock().fdb.get(dev).cloned().unwrap_or_default()
    }

    pub fn addresses_of(&self, dev: &str) -> Vec<String> {
        self.lock().addresses.get(dev).cloned().unwrap_or_default()
    }

    pub fn chain_of(&self, table: &str, chain: &str) -> Option<Vec<String>> {
        self.lock()
            .chains
            .get(&(table.to_string(), chain.to_string()))
            .cloned()
    }
}

#[async_trait::async_trait]
impl NetProgrammer for FakeNet {
    async fn link(&self, name: &str) -> Result<Option<LinkInfo>, OverlayError> {
        Ok(self.check()?.links.get(name).cloned())
    }

    async fn add_vxlan(&self, spec: &VxlanSpec) -> Result<(), OverlayError> {
        let mut s = self.change(format!("add vxlan {} id {}", spec.name, spec.vni))?;
        let link = LinkInfo {
            kind: "vxlan".into(),
            mac: "02:00:00:00:00:01".into(),
            mtu: 1500,
            up: false,
            vni: Some(spec.vni),
            local: Some(spec.local),
            port: Some(spec.port),
        };
        s.links.insert(spec.name.clone(), link);
        Ok(())
    }

    async fn delete_link(&self, name: &str) -> Result<(), OverlayError> {
        let mut s = self.change(format!("delete link {name}"))?;
        s.links.remove(name);
        s.addresses.remove(name);
        s.routes.remove(name);
        s.neighbours.remove(name);
        s.fdb.remove(name);
        Ok(())
    }

    async fn set_link(&self, name: &str, mac: &str, mtu: u32) -> Result<(), OverlayError> {
        let mut s = self.change(format!("set link {name} {mac} mtu {mtu} up"))?;
        let link = s.links.get_mut(name).ok_or_else(|| OverlayError::Command {
            command: "set link".into(),
            message: format!("{name} does not exist"),
        })?;
        link.mac = mac.to_string();
        link.mtu = mtu;
        link.up = true;
        Ok(())
    }

    async fn addresses(&self, dev: &str) -> Result<Vec<String>, OverlayError> {
        Ok(self
            .check()?
            .addresses
            .get(dev)
            .cloned()
            .unwrap_or_default())
    }

    async fn add_address(&self, dev: &str, cidr: &str) -> Result<(), OverlayError> {
        let mut s = self.change(format!("add address {cidr} dev {dev}"))?;
        s.addresses
            .entry(dev.to_string())
            .or_default()
            .push(cidr.to_string());
        Ok(())
    }

    async fn delete_address(&self, dev: &str, cidr: &str) -> Result<(), OverlayError> {
        let mut s = self.change(format!("delete address {cidr} dev {dev}"))?;
        s.addresses
            .entry(dev.to_string())
            .or_default()
            .retain(|a| a != cidr);
        Ok(())
    }

    async fn routes(&self, dev: &str) -> Result<BTreeMap<String, Option<Ipv4Addr>>, OverlayError> {
        Ok(self.check()?.routes.get(dev).cloned().unwrap_or_default())
    }

    async fn replace_route(&self, dev: &str, dst: &str, via: Ipv4Addr) -> Result<(), OverlayError> {
        let mut s = self.change(format!("route {dst} via {via} dev {dev}"))?;
        s.routes
            .entry(dev.to_string())
            .or_default()
            .insert(dst.to_string(), Some(via));
        Ok(())
    }

    async fn delete_route(&self, dev: &str, dst: &str) -> Result<(), OverlayError> {
        let mut s = self.change(format!("delete route {dst} dev {dev}"))?;
        s.routes.entry(dev.to_string()).or_default().remove(dst);
        Ok(())
    }

    async fn host_routes(&self) -> Result<Vec<HostRoute>, OverlayError> {
        let s = self.check()?;
        let mut all = s.other_routes.clone();
        for (dev, routes) in &s.routes {
            all.extend(routes.keys().map(|dst| HostRoute {
                dst: dst.clone(),
                dev: dev.clone(),
            }));
        }
        Ok(all)
    }

    async fn neighbours(&self, dev: &str) -> Result<BTreeMap<Ipv4Addr, String>, OverlayError> {
        Ok(self
            .check()?
            .neighbours
            .get(dev)
            .cloned()
            .unwrap_or_default())
    }

    async fn replace_neighbour(
        &self,
        dev: &str,
        ip: Ipv4Addr,
        mac: &str,
    ) -> Result<(), OverlayError> {
        let mut s = self.change(format!("neigh {ip} lladdr {mac} dev {dev}"))?;
        s.neighbours
            .entry(dev.to_string())
            .or_default()
            .insert(ip, mac.to_string());
        Ok(())
    }

    async fn delete_neighbour(&self, dev: &str, ip: Ipv4Addr) -> Result<(), OverlayError> {
        let mut s = self.change(format!("delete neigh {ip} dev {dev}"))?;
        s.neighbours.entry(dev.to_string()).or_default().remove(&ip);
        Ok(())
    }

    async fn fdb(&self, dev: &str) -> Result<BTreeSet<(String, Ipv4Addr)>, OverlayError> {
        Ok(self.check()?.fdb.get(dev).cloned().unwrap_or_default())
    }

    async fn append_fdb(&self, dev: &str, mac: &str, dst: Ipv4Addr) -> Result<(), OverlayError> {
        let mut s = self.change(format!("fdb {mac} dst {dst} dev {dev}"))?;
        s.fdb
            .entry(dev.to_string())
            .or_default()
            .insert((mac.to_string(), dst));
        Ok(())
    }

    async fn delete_fdb(&self, dev: &str, mac: &str, dst: Ipv4Addr) -> Result<(), OverlayError> {
        let mut s = self.change(format!("delete fdb {mac} dst {dst} dev {dev}"))?;
        s.fdb
            .entry(dev.to_string())
            .or_default()
            .remove(&(mac.to_string(), dst));
        Ok(())
    }

    async fn chain(&self, table: &str, chain: &str) -> Result<Option<Vec<String>>, OverlayError> {
        let key = (table.to_string(), chain.to_string());
        Ok(self.check()?.chains.get(&key).cloned())
    }

    async fn write_chain(
        &self,
        table: &str,
        chain: &str,
        rules: &[String],
    ) -> Result<(), OverlayError> {
        let mut s = self.change(format!(
            "write chain {table} {chain} ({} rules)",
            rules.len()
        ))?;
        s.chains
            .insert((table.to_string(), chain.to_string()), rules.to_vec());
        Ok(())
    }

    async fn has_jump(&self, table: &str, from: &str, to: &str) -> Result<bool, OverlayError> {
        let key = (table.to_string(), from.to_string());
        let jump = format!("-j {to}");
        Ok(self
            .check()?
            .chains
            .get(&key)
            .is_some_and(|r| r.contains(&jump)))
    }

    async fn insert_jump(&self, table: &str, from: &str, to: &str) -> Result<(), OverlayError> {
        let mut s = self.change(format!("jump {table} {from} -> {to}"))?;
        s.chains
            .entry((table.to_string(), from.to_string()))
            .or_default()
            .insert(0, format!("-j {to}"));
        Ok(())
    }
}
