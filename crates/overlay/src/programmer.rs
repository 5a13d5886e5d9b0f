//! The side effects behind a small trait, and [`apply_plan`]: read what
//! the kernel holds, change only what differs from the plan.

use std::collections::{BTreeMap, BTreeSet};
use std::net::Ipv4Addr;

use crate::OverlayError;
use crate::plan::{HostRoute, OVERLAY_MTU, OverlayPlan, Rules, VXLAN_PORT, foreign_overlap};

/// A network device as the kernel reports it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LinkInfo {
    /// `vxlan`, `bridge`, ... (empty when the kernel does not say).
    pub kind: String,
    pub mac: String,
    pub mtu: u32,
    pub up: bool,
    /// For a VXLAN device: its id, local address and port.
    pub vni: Option<u32>,
    pub local: Option<Ipv4Addr>,
    pub port: Option<u16>,
}

/// A VXLAN device to create.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VxlanSpec {
    pub name: String,
    pub vni: u32,
    pub local: Ipv4Addr,
    pub port: u16,
}

/// The kernel operations the overlay needs, one small call each. The real
/// implementation runs `ip`, `bridge` and `iptables`
/// ([`crate::IpCommands`]); [`crate::FakeNet`] keeps the state in memory
/// and records every change.
#[async_trait::async_trait]
pub trait NetProgrammer: Send + Sync {
    /// The device `name`; `None` when it does not exist.
    async fn link(&self, name: &str) -> Result<Option<LinkInfo>, OverlayError>;
    async fn add_vxlan(&self, spec: &VxlanSpec) -> Result<(), OverlayError>;
    async fn delete_link(&self, name: &str) -> Result<(), OverlayError>;
    /// Sets the MAC and MTU and brings the device up.
    async fn set_link(&self, name: &str, mac: &str, mtu: u32) -> Result<(), OverlayError>;
    /// IPv4 addresses of `dev`, as `A.B.C.D/N`.
    async fn addresses(&self, dev: &str) -> Result<Vec<String>, OverlayError>;
    async fn add_address(&self, dev: &str, cidr: &str) -> Result<(), OverlayError>;
    async fn delete_address(&self, dev: &str, cidr: &str) -> Result<(), OverlayError>;
    /// Routes through `dev`: destination (`A.B.C.D/N`) to gateway (if any).
    async fn routes(&self, dev: &str) -> Result<BTreeMap<String, Option<Ipv4Addr>>, OverlayError>;
    /// Adds or replaces the route to `dst` via `via` on `dev` (`onlink`).
    async fn replace_route(&self, dev: &str, dst: &str, via: Ipv4Addr) -> Result<(), OverlayError>;
    async fn delete_route(&self, dev: &str, dst: &str) -> Result<(), OverlayError>;
    /// Every IPv4 route of the host's main table, whatever its device.
    async fn host_routes(&self) -> Result<Vec<HostRoute>, OverlayError>;
    /// Neighbour entries of `dev`: address to MAC.
    async fn neighbours(&self, dev: &str) -> Result<BTreeMap<Ipv4Addr, String>, OverlayError>;
    /// Adds or replaces a permanent neighbour entry.
    async fn replace_neighbour(
        &self,
        dev: &str,
        ip: Ipv4Addr,
        mac: &str,
    ) -> Result<(), OverlayError>;
    async fn delete_neighbour(&self, dev: &str, ip: Ipv4Addr) -> Result<(), OverlayError>;
    /// Forwarding entries of the VXLAN device `dev` that have a remote: MAC to remote.
    async fn fdb(&self, dev: &str) -> Result<BTreeSet<(String, Ipv4Addr)>, OverlayError>;
    async fn append_fdb(&self, dev: &str, mac: &str, dst: Ipv4Addr) -> Result<(), OverlayError>;
    async fn delete_fdb(&self, dev: &str, mac: &str, dst: Ipv4Addr) -> Result<(), OverlayError>;
    /// The rules of `chain` in `table` (without the `-A CHAIN` prefix);
    /// `None` when the chain does not exist.
    async fn chain(&self, table: &str, chain: &str) -> Result<Option<Vec<String>>, OverlayError>;
    /// Creates or flushes `chain` and fills it with `rules`, at once.
    async fn write_chain(
        &self,
        table: &str,
        chain: &str,
        rules: &[String],
    ) -> Result<(), OverlayError>;
    /// True when `from` starts with (or holds) a jump to `to`.
    async fn has_jump(&self, table: &str, from: &str, to: &str) -> Result<bool, OverlayError>;
    /// Inserts a jump to `to` as the first rule of `from` (creating `from`
    /// if it is missing).
    async fn insert_jump(&self, table: &str, from: &str, to: &str) -> Result<(), OverlayError>;
}

/// How many changes an [`apply_plan`] made; 0 when the kernel already matched.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Applied {
    pub changes: usize,
}

/// Refuses a host whose routes overlap the plan's range, other than the
/// plan's own ([`foreign_overlap`]). Run it before the engine network is
/// created: the bridge of a network with the same addresses would
/// otherwise share them silently with whatever holds that route.
pub async fn check_host_routes(
    net: &dyn NetProgrammer,
    plan: &OverlayPlan,
) -> Result<(), OverlayError> {
    let routes = net.host_routes().await?;
    match foreign_overlap(plan, &routes) {
        None => Ok(()),
        Some(route) => Err(OverlayError::RangeOverlap {
            environment: plan.environment.clone(),
            range: plan.env_range.to_string(),
            slice: plan.subnet.to_string(),
            route: route.dst.clone(),
            device: if route.dev.is_empty() {
                "(none)".into()
            } else {
                route.dev.clone()
            },
        }),
    }
}

/// Makes the kernel match `plan`: the iptables chains first (so the VXLAN
/// filter is in place before the device exists), then the VXLAN device,
/// its address, the routes, neighbour and forwarding entries of every peer
/// (removing those of nodes that left) and the bridge's extra addresses.
/// The engine network (and so the bridge) must exist already.
/// Idempotent: a second call with the same plan changes nothing.
pub async fn apply_plan(
    net: &dyn NetProgrammer,
    plan: &OverlayPlan,
) -> Result<Applied, OverlayError> {
    let mut applied = Applied::default();
    if net.link(&plan.bridge).await?.is_none() {
        return Err(OverlayError::BridgeMissing {
            bridge: plan.bridge.clone(),
            network: plan.network.clone(),
        });
    }
    for rules in &plan.iptables {
        chains(net, rules, &mut applied).await?;
    }
    vxlan_device(net, plan, &mut applied).await?;
    bridge_addresses(net, plan, &mut applied).await?;
    routes(net, plan, &mut applied).await?;
    neighbours(net, plan, &mut applied).await?;
    fdb(net, plan, &mut applied).await?;
    Ok(applied)
}

async fn vxlan_device(
    net: &dyn NetProgrammer,
    plan: &OverlayPlan,
    applied: &mut Applied,
) -> Result<(), OverlayError> {
    let spec = VxlanSpec {
        name: plan.vxlan.clone(),
        vni: plan.vni,
        local: plan.local,
        port: VXLAN_PORT,
    };
    let current = net.link(&plan.vxlan).await?;
    let matches = current.as_ref().is_some_and(|l| {
        l.kind == "vxlan"
            && l.vni == Some(spec.vni)
            && l.local == Some(spec.local)
            && l.port.is_none_or(|p| p == spec.port)
    });
    if !matches {
        if current.is_some() {
            // Another node address or VNI: the device is made anew.
            net.delete_link(&plan.vxlan).await?;
            applied.changes += 1;
        }
        net.add_vxlan(&spec).await?;
        applied.changes += 1;
    }
    let link = if matches { current } else { None };
    if !link.is_some_and(|l| l.up && l.mtu == OVERLAY_MTU && l.mac.eq_ignore_ascii_case(&plan.mac))
    {
        net.set_link(&plan.vxlan, &plan.mac, OVERLAY_MTU).await?;
        applied.changes += 1;
    }
    let want = format!("{}/32", plan.vtep);
    let have = net.addresses(&plan.vxlan).await?;
    for extra in have.iter().filter(|a| **a != want) {
        net.delete_address(&plan.vxlan, extra).await?;
        applied.changes += 1;
    }
    if !have.contains(&want) {
        net.add_address(&plan.vxlan, &want).await?;
        applied.changes += 1;
    }
    Ok(())
}

async fn bridge_addresses(
    net: &dyn NetProgrammer,
    plan: &OverlayPlan,
    applied: &mut Applied,
) -> Result<(), OverlayError> {
    let have = net.addresses(&plan.bridge).await?;
    for want in &plan.bridge_addresses {
        if !have.contains(want) {
            net.add_address(&plan.bridge, want).await?;
            applied.changes += 1;
        }
    }
    Ok(())
}

async fn routes(
    net: &dyn NetProgrammer,
    plan: &OverlayPlan,
    applied: &mut Applied,
) -> Result<(), OverlayError> {
    let want: BTreeMap<String, Option<Ipv4Addr>> = plan
        .peers
        .iter()
        .map(|p| (p.subnet.to_string(), Some(p.vtep)))
        .collect();
    let have = net.routes(&plan.vxlan).await?;
    for dst in have.keys().filter(|d| !want.contains_key(*d)) {
        net.delete_route(&plan.vxlan, dst).await?;
        applied.changes += 1;
    }
    for (dst, via) in &want {
        if have.get(dst) != Some(via)
            && let Some(via) = via
        {
            net.replace_route(&plan.vxlan, dst, *via).await?;
            applied.changes += 1;
        }
    }
    Ok(())
}

async fn neighbours(
    net: &dyn NetProgrammer,
    plan: &OverlayPlan,
    applied: &mut Applied,
) -> Result<(), OverlayError> {
    let want: BTreeMap<Ipv4Addr, String> =
        plan.peers.iter().map(|p| (p.vtep, p.mac.clone())).collect();
    let have = net.neighbours(&plan.vxlan).await?;
    for ip in have.keys().filter(|ip| !want.contains_key(*ip)) {
        net.delete_neighbour(&plan.vxlan, *ip).await?;
        applied.changes += 1;
    }
    for (ip, mac) in &want {
        if !have.get(ip).is_some_and(|m| m.eq_ignore_ascii_case(mac)) {
            net.replace_neighbour(&plan.vxlan, *ip, mac).await?;
            applied.changes += 1;
        }
    }
    Ok(())
}

async fn fdb(
    net: &dyn NetProgrammer,
    plan: &OverlayPlan,
    applied: &mut Applied,
) -> Result<(), OverlayError> {
    let want: BTreeSet<(String, Ipv4Addr)> = plan
        .peers
        .iter()
        .map(|p| (p.mac.clone(), p.address))
        .collect();
    let have: BTreeSet<(String, Ipv4Addr)> = net
        .fdb(&plan.vxlan)
        .await?
        .into_iter()
        .map(|(mac, dst)| (mac.to_ascii_lowercase(), dst))
        .collect();
    for (mac, dst) in have.difference(&want) {
        net.delete_fdb(&plan.vxlan, mac, *dst).await?;
        applied.changes += 1;
    }
    for (mac, dst) in want.difference(&have) {
        net.append_fdb(&plan.vxlan, mac, *dst).await?;
        applied.changes += 1;
    }
    Ok(())
}

/// The marker rule that heads a chain: a comment naming a hash of the
/// rules, so an unchanged chain is recognised whatever form `iptables -S`
/// prints the rules in.
pub fn marker_rule(rules: &Rules) -> String {
    let text = rules.rules.join("\n");
    let hash = text.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    format!("-m comment --comment corral-{hash:016x}")
}

async fn chains(
    net: &dyn NetProgrammer,
    rules: &Rules,
    applied: &mut Applied,
) -> Result<(), OverlayError> {
    let marker = marker_rule(rules);
    let current = net.chain(rules.table, &rules.chain).await?;
    let up_to_date = current
        .as_ref()
        .and_then(|r| r.first())
        .is_some_and(|first| first.contains(marker.rsplit(' ').next().unwrap_or_default()));
    if !up_to_date {
        let mut all = vec![marker];
        all.extend(rules.rules.iter().cloned());
        net.write_chain(rules.table, &rules.chain, &all).await?;
        applied.changes += 1;
    }
    if !net
        .has_jump(rules.table, rules.jump_from, &rules.chain)
        .await?
    {
        net.insert_jump(rules.table, rules.jump_from, &rules.chain)
            .await?;
        applied.changes += 1;
    }
    Ok(())
}
