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
/// Where the VXLAN filter is jumped from: the `raw` table's PREROUTING,
/// the first hook a packet arriving at the host meets (see
/// [`vxlan_filter_rules`]).
pub const VXLAN_FILTER_HOOK: &str = "PREROUTING";

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
    /// `filter`, `nat` or `raw`.
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
    /// The id of the cluster (the server's installation) the environment
    /// belongs to; empty only with a server that predates cluster ids.
    pub cluster: String,
    pub environment: String,
    /// The VXLAN network identifier, derived from the cluster id and the
    /// environment's name.
    pub vni: u32,
    /// The engine's network for managed containers: `corral-<env>-<cluster>`.
    pub network: String,
    /// Its bridge device: `cr-<tag>` ([`env_tag`]).
    pub bridge: String,
    /// The VXLAN device: `vx-<tag>`.
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
    /// The filter rules (isolation), the nat rules (masquerade) and the
    /// raw rules (VXLAN accepted from the peers' host addresses only).
    pub iptables: Vec<Rules>,
}

/// 64-bit FNV-1a.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// The hash every host-level name of one environment of one cluster
/// derives from: two installations on one host with an environment of the
/// same name get different devices, chains and VNIs.
fn env_hash(cluster: &str, environment: &str) -> u64 {
    fnv1a(format!("{cluster}/{environment}").as_bytes())
}

/// Twelve hex digits naming the environment's devices (`cr-<tag>`,
/// `vx-<tag>`: 15 bytes, Linux's limit) and chains (`CORRAL-<tag>`), from
/// the cluster id and the environment's name.
pub fn env_tag(cluster: &str, environment: &str) -> String {
    format!("{:012x}", env_hash(cluster, environment) & 0xffff_ffff_ffff)
}

/// The VNI of an environment: 24 bits of a hash of the cluster id and its
/// name, never 0. Every node of a cluster computes the same; two clusters
/// on one host do not share a VNI on port 4789 (the kernel refuses a
/// second device with the same VNI and port).
pub fn vni_of(cluster: &str, environment: &str) -> u32 {
    let top = env_hash(cluster, environment) >> 40;
    u32::try_from(top & 0xff_ffff).unwrap_or(1).max(1)
}

/// The engine network of an environment's managed containers:
/// `corral-<env>-<cluster>` (`corral-<env>` without a cluster id).
pub fn network_name(cluster: &str, environment: &str) -> String {
    if cluster.is_empty() {
        format!("corral-{environment}")
    } else {
        format!("corral-{environment}-{cluster}")
    }
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

/// The plan of node `this_node` of environment `environment` of cluster
/// `cluster`, whose range is `env_range`, from every node of the
/// environment. Nodes without a slice or a parseable IPv4 address are left
/// out (they join later); nodes that are gone have no entries.
pub fn plan_overlay(
    cluster: &str,
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
    let tag = env_tag(cluster, environment);
    let (bridge, vxlan) = (format!("cr-{tag}"), format!("vx-{tag}"));
    let vni = vni_of(cluster, environment);
    let chain = format!("CORRAL-{tag}");
    let mut iptables = iptables_rules(&chain, &bridge, &vxlan, env_range, subnet);
    iptables.push(Rules {
        table: "raw",
        chain,
        jump_from: VXLAN_FILTER_HOOK,
        rules: vxlan_filter_rules(vni, &peers),
    });
    Ok(OverlayPlan {
        cluster: cluster.to_string(),
        environment: environment.to_string(),
        vni,
        network: network_name(cluster, environment),
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
    chain: &str,
    bridge: &str,
    vxlan: &str,
    env_range: Ipv4Cidr,
    subnet: Ipv4Cidr,
) -> Vec<Rules> {
    let chain = chain.to_string();
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

/// The VXLAN filter (`raw` table, jumped from PREROUTING): a UDP packet to
/// port 4789 carrying this environment's VNI and addressed to this host is
/// dropped unless its source is the host address of one of the
/// environment's other nodes. Everything else returns at once: other
/// protocols, other ports, other VNIs (another environment's or another
/// installation's tunnels on the same port have their own chain), and
/// packets the host only forwards.
///
/// Why `raw` PREROUTING rather than `filter` INPUT: a tunnel packet is
/// delivered to the kernel's VXLAN socket after INPUT, so both would stop
/// it before its frame reaches the bridge; `raw` drops it earlier, before
/// connection tracking (a flood of foreign or forged sources creates no
/// conntrack entries) and before a host firewall's INPUT rules
/// (ufw, firewalld) that might accept port 4789 first.
///
/// The VNI sits in bytes 4 to 6 of the VXLAN header, which follows the
/// 8-byte UDP header: `0>>22&0x3C` is the IP header's length, `@12` moves
/// to byte 12 of the UDP header, `>>8` keeps its top 24 bits.
pub fn vxlan_filter_rules(vni: u32, peers: &[Peer]) -> Vec<String> {
    let mut sources: Vec<Ipv4Addr> = peers.iter().map(|p| p.address).collect();
    sources.sort_unstable();
    sources.dedup();
    let mut rules = vec![
        "! -p udp -j RETURN".to_string(),
        format!("-p udp -m udp ! --dport {VXLAN_PORT} -j RETURN"),
        format!("-m u32 ! --u32 0x0>>0x16&0x3c@0xc>>0x8={vni:#x} -j RETURN"),
    ];
    rules.extend(sources.iter().map(|a| format!("-s {a}/32 -j RETURN")));
    rules.push("-m addrtype --dst-type LOCAL -j DROP".to_string());
    rules
}

/// A route of the host's main table, as the kernel reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostRoute {
    /// `A.B.C.D/N`, `A.B.C.D` (a host route) or `default`.
    pub dst: String,
    /// The device it goes through (empty for routes without one).
    pub dev: String,
}

impl HostRoute {
    /// Its destination as a network; `None` for the default route and
    /// what does not parse.
    fn network(&self) -> Option<Ipv4Cidr> {
        if self.dst.contains('/') {
            self.dst.parse().ok()
        } else {
            let addr: Ipv4Addr = self.dst.parse().ok()?;
            Some(Ipv4Cidr { addr, prefix: 32 })
        }
    }
}

/// The first route of the host that overlaps the environment's range
/// (either holds the other) and is not this plan's own (on its bridge or
/// its VXLAN device): another installation's bridge with the same
/// addresses, a VPN, a LAN. The default route (and any /0) is not an
/// overlap: the range's own routes are more specific.
pub fn foreign_overlap<'a>(plan: &OverlayPlan, routes: &'a [HostRoute]) -> Option<&'a HostRoute> {
    routes.iter().find(|r| {
        r.dev != plan.bridge
            && r.dev != plan.vxlan
            && r.network()
                .is_some_and(|n| n.prefix > 0 && n.overlaps(&plan.env_range))
    })
}
