//! The managed network of an environment: a VXLAN overlay, flannel style.
//!
//! Each environment has an address range (such as 10.42.0.0/16) and each of
//! its nodes a /24 slice of it. Everything made on a host is named after a
//! tag ([`env_tag`]: 12 hex digits of a hash of the cluster id and the
//! environment's name), so two Corral installations on one host never
//! share a device, a chain or a VNI, even with environments of the same
//! name. On every node the agent keeps:
//!
//! - an engine bridge network `corral-<env>-<cluster>` whose subnet is the
//!   node's slice (gateway `.1`, bridge device `cr-<tag>`); managed
//!   containers get their addresses there;
//! - a VXLAN device `vx-<tag>` (VNI from the cluster id and environment,
//!   port 4789, `nolearning`) holding the slice's `.0/32`;
//! - for every other node M: a route to M's slice via M's `.0` (onlink), a
//!   permanent neighbour entry giving that `.0` M's MAC, and a forwarding
//!   entry sending that MAC to M's host address. MACs derive from the
//!   slices, so nothing but the node list is exchanged;
//! - iptables chains `CORRAL-<tag>`: forwarding only between the bridge and
//!   the VXLAN device (`filter`, jumped from DOCKER-USER), masquerading of
//!   the slice towards addresses outside the range (`nat`, from
//!   POSTROUTING), and the VXLAN filter (`raw`, from PREROUTING): a tunnel
//!   packet with the environment's VNI is dropped unless it comes from the
//!   host address of another node of the environment
//!   ([`vxlan_filter_rules`] says why `raw` and not `filter` INPUT).
//!
//! [`plan_overlay`] computes all that from the node list (pure);
//! [`check_host_routes`] refuses a range that overlaps a route of the host
//! that is not the plan's own ([`foreign_overlap`]: another installation's
//! bridge, a VPN, a LAN), naming both; [`apply_plan`] makes the kernel
//! match the plan (chains first, so the filter is there before the tunnel)
//! through a [`NetProgrammer`]: [`IpCommands`] runs `ip`, `bridge` and
//! `iptables`; [`FakeNet`] is an in-memory kernel for tests.

mod fake;
mod iproute;
mod plan;
mod programmer;

pub use fake::FakeNet;
pub use iproute::IpCommands;
pub use plan::{
    DOCKER_USER_CHAIN, HostRoute, METADATA_ADDRESS, OVERLAY_MTU, OverlayPlan, Peer, Rules,
    VXLAN_FILTER_HOOK, VXLAN_PORT, env_tag, foreign_overlap, mac_of, network_name, plan_overlay,
    vni_of, vxlan_filter_rules,
};
pub use programmer::{
    Applied, LinkInfo, NetProgrammer, VxlanSpec, apply_plan, check_host_routes, marker_rule,
};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OverlayError {
    /// Nothing to program yet (the node has no slice); try again later.
    #[error("overlay not ready: {0}")]
    NotReady(String),
    #[error("node {node}: {message}")]
    InvalidNode { node: String, message: String },
    #[error("bridge {bridge} of engine network {network} does not exist")]
    BridgeMissing { bridge: String, network: String },
    #[error("{command} failed: {message}")]
    Command { command: String, message: String },
    /// The environment's range overlaps a route of the host that is not
    /// this cluster's: programming it would share addresses with it.
    #[error(
        "the range {range} of environment {environment} (this node's slice {slice}) overlaps \
         the route {route} on device {device}, which is not this cluster's (another Corral \
         installation or network on this host?): the managed network is not programmed; \
         remove that network or use an environment with another range{}",
        leftover_hint(.device)
    )]
    RangeOverlap {
        environment: String,
        range: String,
        slice: String,
        route: String,
        device: String,
    },
}

/// For a Corral bridge (`cr-TAG`) left by an installation whose data
/// directory is gone: the commands that remove it, its tunnel and its
/// chain. Empty for any other device.
pub fn leftover_hint(device: &str) -> String {
    let Some(tag) = device.strip_prefix("cr-") else {
        return String::new();
    };
    format!(
        " (if the installation that made {device} is gone, `ip link delete {device}; \
         ip link delete vx-{tag}` removes its bridge and tunnel, and `iptables -S | grep \
         CORRAL-{tag}` shows its rules)"
    )
}

#[cfg(test)]
mod tests;
