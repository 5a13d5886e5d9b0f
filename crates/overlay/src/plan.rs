//! The pure part: what one node's kernel must hold for its environment's
//! managed network, computed from the node list.

use std::net::Ipv4Addr;

use corral_types::{Ipv4Cidr, Node};

use crate::OverlayError;

/// The UDP port of the VXLAN tunnels (IANA's).
pub const VXLAN_PORT: u16 = 4789;
/// MTU of the VXLAN device and the containers' interfaces: 1500 minus the
/// 50 bytes of VXLAN, UDP, IP and Ethernet headers.
pub const OVERLAY_MTU: u32 = 1450;
/// The metadata service's address, on every environment bridge.
pub const METADATA_ADDRESS: &str = "169.254.169.250/32";
/// The Docker chain that runs first in FORWARD and is left to users.
pub const DOCKER_USER_CHAIN: &str = "DOCKER-USER";

/// Another node of the environment, as this node's kernel needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Peer {
    pub node: String,
    /// Its /24 slice.
    pub subnet: Ipv4Cidr,
    /// The address of its VXLAN device: the first of its slice (`.0`).
    pub vtep: Ipv4Addr,
    /// The MAC of its VXLAN device, derived from its slice.
    pub mac: String,
    /// Its host address: where the tunnel's UDP packets go.
    pub address: Ipv4Addr,
}

/// One iptables rule in one of the environment's own chains, in
/// `iptables-save` syntax without the `-A CHAIN` prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rules {
    /// `filter` or `nat`.
    pub table: &'static str,
    /// The environment's chain in that table.
    pub chain: String,
    /// The built-in (or Docker's) chain that jumps to it.
    pub jump_from: &'static str,
    pub rules: Vec<String>,
}

/// What one node's kernel must hold for one environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OverlayPlan {
    pub environment: String,
    /// The VXLAN network identifier, derived from the environment's name.
    pub vni: u32,
    /// The engine's network for managed containers: `corral-<env>`.
    pub network: String,
    /// Its bridge device: `cr-<hash>`.
    pub bridge: String,
    /// The VXLAN device: `vx-<hash>`.
    pub vxlan: String,
    pub env_range: Ipv4Cidr,
    /// This node's slice, the engine network's subnet.
    pub subnet: Ipv4Cidr,
    /// The bridge's address (`.1`): the containers' gateway and DNS server.
    pub gateway: Ipv4Addr,
    /// This node's VXLAN device address (`.0/32`).
    pub vtep: Ipv4Addr,
    /// This node's VXLAN device MAC.
    pub mac: String,
    /// This node's host address, the tunnels' local end.
    pub local: Ipv4Addr,
    /// Extra addresses of the bridge (the metadata service's).
    pub bridge_addresses: Vec<String>,
    pub peers: Vec<Peer>,
    /// The filter rules (isolation) and the nat rules (masquerade).
    pub iptables: Vec<Rules>,
}

/// 32-bit FNV-1a.
fn fnv1a(bytes: &[u8]) -> u32 {
    bytes.iter().fold(0x811c_9dc5_u32, |h, b| {
        (h ^ u32::from(*b)).wrapping_mul(0x0100_0193)
    })
}

/// Eight hex digits naming the environment's devices and chains.
pub fn env_tag(environment: &str) -> String {
    format!("{:08x}", fnv1a(environment.as_bytes()))
}

/// The VNI of an environment: 24 bits of a hash of its name, never 0.
pub fn vni_of(environment: &str) -> u32 {
    (fnv1a(environment.as_bytes()) >> 8).max(1)
}

/// The engine network of an environment's managed containers.
pub fn network_name(environment: &str) -> String {
    format!("corral-{environment}")
}

/// A locally administered unicast MAC from a slice's network address, so
/// nodes need not exchange their MACs.
pub fn mac_of(slice: &Ipv4Cidr) -> String {
    let [a, b, c, d] = slice.network().octets();
    format!("0e:c0:{a:02x}:{b:02x}:{c:02x}:{d:02x}")
}

fn parse_subnet(node: &Node) -> Result<Ipv4Cidr, String> {
    let subnet: Ipv4Cidr = node.status.subnet.parse()?;
    if subnet.prefix != 24 || subnet.network() != subnet.addr {
        return Err(format!("{} is not a /24 network", node.status.subnet));
    }
    Ok(subnet)
}

/// The plan of node `this_node` of environment `environment`, whose range
/// is `env_range`, from every node of the environment. Nodes without a
/// slice or a parseable IPv4 address are left out (they join later);
/// nodes that are gone have no entries.
pub fn plan_overlay(
    environment: &str,
    env_range: Ipv4Cidr,
    this_node: &str,
    nodes: &[Node],
) -> Result<OverlayPlan, OverlayError> {
    let me = nodes
        .iter()
        .find(|n| n.meta.name == this_node)
        .ok_or_else(|| OverlayError::NotReady(format!("node {this_node} is not in the list")))?;
    if me.status.subnet.is_empty() {
        return Err(OverlayError::NotReady(format!(
            "node {this_node} has no slice of {env_range} yet"
        )));
    }
    let subnet = parse_subnet(me).map_err(|m| OverlayError::InvalidNode {
        node: this_node.to_string(),
        message: m,
    })?;
    if env_range.slice_index(&subnet).is_none() {
        return Err(OverlayError::InvalidNode {
            node: this_node.to_string(),
            message: format!("slice {subnet} is not a /24 of {env_range}"),
        });
    }
    let local: Ipv4Addr = me
        .status
        .address
        .parse()
        .map_err(|_| OverlayError::InvalidNode {
            node: this_node.to_string(),
            message: format!("address {:?} is not an IPv4 address", me.status.address),
        })?;
    let mine = subnet;
    // A peer claiming this node's slice or one outside the range gets no
    // entries (the server never gives a slice twice; a stale copy might).
    let mut peers: Vec<Peer> = nodes
        .iter()
        .filter(|n| n.meta.name != this_node)
        .filter_map(|n| {
            let subnet = parse_subnet(n).ok()?;
            let address = n.status.address.parse().ok()?;
            (env_range.slice_index(&subnet).is_some() && subnet != mine).then(|| Peer {
                node: n.meta.name.clone(),
                subnet,
                vtep: subnet.host(0),
                mac: mac_of(&subnet),
                address,
            })
        })
        .collect();
    peers.sort_by_key(|p| p.subnet);
    peers.dedup_by(|a, b| a.subnet == b.subnet);
    let tag = env_tag(environment);
    let (bridge, vxlan) = (format!("cr-{tag}"), format!("vx-{tag}"));
    let iptables = iptables_rules(&tag, &bridge, &vxlan, env_range, subnet);
    Ok(OverlayPlan {
        environment: environment.to_string(),
        vni: vni_of(environment),
        network: network_name(environment),
        bridge,
        vxlan,
        env_range,
        subnet,
        gateway: subnet.host(1),
        vtep: subnet.host(0),
        mac: mac_of(&subnet),
        local,
        bridge_addresses: vec![METADATA_ADDRESS.to_string()],
        peers,
        iptables,
    })
}

/// The environment's chains: forwarding only between its bridge and its
/// VXLAN device (traffic of other environments' devices never enters
/// them), and masquerading of its slice towards everything outside its range.
fn iptables_rules(
    tag: &str,
    bridge: &str,
    vxlan: &str,
    env_range: Ipv4Cidr,
    subnet: Ipv4Cidr,
) -> Vec<Rules> {
    let chain = format!("CORRAL-{tag}");
    let filter = vec![
        format!("-i {vxlan} -o {bridge} -j ACCEPT"),
        format!("-i {bridge} -o {vxlan} -j ACCEPT"),
        format!("-i {vxlan} -j DROP"),
        format!("-o {vxlan} -j DROP"),
    ];
    let nat = vec![format!(
        "-s {subnet} ! -d {env_range} ! -o {bridge} -j MASQUERADE"
    )];
    vec![
        Rules {
            table: "filter",
            chain: chain.clone(),
            jump_from: DOCKER_USER_CHAIN,
            rules: filter,
        },
        Rules {
            table: "nat",
            chain,
            jump_from: "POSTROUTING",
            rules: nat,
        },
    ]
}
