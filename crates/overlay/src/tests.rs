#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::Ipv4Addr;

use corral_types::{Ipv4Cidr, Kind, Node, NodeSpec, Object};

use super::*;

fn node(name: &str, subnet: &str, address: &str) -> Node {
    let mut n: Node = Object::new(Kind::Node, "default", name, NodeSpec::default());
    n.status.subnet = subnet.to_string();
    n.status.address = address.to_string();
    n
}

const CLUSTER: &str = "3f9a0c12ab45";

fn range() -> Ipv4Cidr {
    "10.42.0.0/16".parse().unwrap()
}

fn three() -> Vec<Node> {
    vec![
        node("h1", "10.42.1.0/24", "10.0.0.11"),
        node("h2", "10.42.2.0/24", "10.0.0.12"),
        node("h3", "10.42.3.0/24", "10.0.0.13"),
    ]
}

#[test]
fn plan_has_one_entry_per_other_node_with_a_slice() {
    let mut nodes = three();
    nodes.push(node("joining", "", "10.0.0.14"));
    let plan = plan_overlay(CLUSTER, "default", range(), "h1", &nodes).unwrap();
    assert_eq!(plan.gateway, Ipv4Addr::new(10, 42, 1, 1));
    assert_eq!(plan.vtep, Ipv4Addr::new(10, 42, 1, 0));
    assert_eq!(plan.local, Ipv4Addr::new(10, 0, 0, 11));
    assert_eq!(plan.network, "corral-default-3f9a0c12ab45");
    let peers: Vec<&str> = plan.peers.iter().map(|p| p.node.as_str()).collect();
    assert_eq!(peers, ["h2", "h3"]);
    let h3 = &plan.peers[1];
    assert_eq!(h3.vtep, Ipv4Addr::new(10, 42, 3, 0));
    assert_eq!(h3.mac, "0e:c0:0a:2a:03:00");
    assert_eq!(h3.address, Ipv4Addr::new(10, 0, 0, 13));
}

#[test]
fn device_names_fit_in_fifteen_bytes_and_differ_per_environment() {
    let long = "a".repeat(63);
    let a = plan_overlay(CLUSTER, &long, range(), "h1", &three()).unwrap();
    let b = plan_overlay(CLUSTER, "other", range(), "h1", &three()).unwrap();
    for name in [&a.bridge, &a.vxlan, &b.bridge, &b.vxlan] {
        assert!(name.len() <= 15, "{name}");
    }
    assert_ne!(a.vxlan, b.vxlan);
    assert_ne!(a.vni, b.vni);
    assert!(a.vni > 0 && a.vni < (1 << 24));
    for rules in &a.iptables {
        assert!(rules.chain.len() <= 28, "{}", rules.chain);
    }
}

#[test]
fn a_node_without_a_slice_is_not_ready() {
    let nodes = vec![node("h1", "", "10.0.0.11")];
    assert!(matches!(
        plan_overlay(CLUSTER, "default", range(), "h1", &nodes),
        Err(OverlayError::NotReady(_))
    ));
    let outside = vec![node("h1", "10.43.1.0/24", "10.0.0.11")];
    assert!(matches!(
        plan_overlay(CLUSTER, "default", range(), "h1", &outside),
        Err(OverlayError::InvalidNode { .. })
    ));
}

#[test]
fn peers_outside_the_range_or_on_this_nodes_slice_get_no_entries() {
    let mut nodes = three();
    nodes.push(node("stale", "10.42.1.0/24", "10.0.0.20"));
    nodes.push(node("alien", "10.43.9.0/24", "10.0.0.21"));
    nodes.push(node("noaddr", "10.42.7.0/24", "somewhere"));
    let plan = plan_overlay(CLUSTER, "default", range(), "h1", &nodes).unwrap();
    assert_eq!(plan.peers.len(), 2);
}

#[test]
fn masquerade_only_leaves_the_environment_range() {
    let plan = plan_overlay(CLUSTER, "default", range(), "h1", &three()).unwrap();
    let nat = plan.iptables.iter().find(|r| r.table == "nat").unwrap();
    assert_eq!(
        nat.rules,
        [format!(
            "-s 10.42.1.0/24 ! -d 10.42.0.0/16 ! -o {} -j MASQUERADE",
            plan.bridge
        )]
    );
    let filter = plan.iptables.iter().find(|r| r.table == "filter").unwrap();
    assert_eq!(filter.jump_from, "DOCKER-USER");
    assert!(filter.rules.contains(&format!("-i {} -j DROP", plan.vxlan)));
}

fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
        .block_on(f)
}

#[test]
fn applying_twice_changes_nothing_the_second_time() {
    let net = FakeNet::new();
    let plan = plan_overlay(CLUSTER, "default", range(), "h1", &three()).unwrap();
    net.add_link(&plan.bridge, "bridge");
    let first = block_on(apply_plan(&net, &plan)).unwrap();
    assert!(first.changes > 0);
    let changes = net.take_changes();
    assert!(changes.iter().any(|c| c.starts_with("add vxlan")));
    assert!(changes.contains(&format!(
        "route 10.42.2.0/24 via 10.42.2.0 dev {}",
        plan.vxlan
    )));
    assert!(changes.contains(&format!(
        "add address 169.254.169.250/32 dev {}",
        plan.bridge
    )));
    assert_eq!(net.addresses_of(&plan.vxlan), ["10.42.1.0/32"]);
    assert_eq!(net.fdb_of(&plan.vxlan).len(), 2);
    let second = block_on(apply_plan(&net, &plan)).unwrap();
    assert_eq!(second.changes, 0, "{:?}", net.take_changes());
}

#[test]
fn entries_of_a_node_that_left_are_removed() {
    let net = FakeNet::new();
    let plan = plan_overlay(CLUSTER, "default", range(), "h1", &three()).unwrap();
    net.add_link(&plan.bridge, "bridge");
    block_on(apply_plan(&net, &plan)).unwrap();
    net.take_changes();
    let two = &three()[..2];
    let smaller = plan_overlay(CLUSTER, "default", range(), "h1", two).unwrap();
    block_on(apply_plan(&net, &smaller)).unwrap();
    let changes = net.take_changes();
    let raw = &smaller.iptables[2];
    assert_eq!(
        changes,
        [
            format!("write chain raw {} (6 rules)", raw.chain),
            format!("delete route 10.42.3.0/24 dev {}", plan.vxlan),
            format!("delete neigh 10.42.3.0 dev {}", plan.vxlan),
            format!(
                "delete fdb 0e:c0:0a:2a:03:00 dst 10.0.0.13 dev {}",
                plan.vxlan
            ),
        ]
    );
    assert!(!net.routes_of(&plan.vxlan).contains_key("10.42.3.0/24"));
}

#[test]
fn a_moved_node_address_recreates_the_vxlan_device() {
    let net = FakeNet::new();
    let plan = plan_overlay(CLUSTER, "default", range(), "h1", &three()).unwrap();
    net.add_link(&plan.bridge, "bridge");
    block_on(apply_plan(&net, &plan)).unwrap();
    net.take_changes();
    let mut moved = three();
    moved[0].status.address = "10.0.0.99".into();
    let plan = plan_overlay(CLUSTER, "default", range(), "h1", &moved).unwrap();
    block_on(apply_plan(&net, &plan)).unwrap();
    let changes = net.take_changes();
    // The filter's peers did not change (h1's own address is not in it).
    assert_eq!(changes[0], format!("delete link {}", plan.vxlan));
    assert!(changes[1].starts_with("add vxlan"));
    // Everything on the device came back.
    assert_eq!(net.fdb_of(&plan.vxlan).len(), 2);
}

#[test]
fn a_changed_rule_set_rewrites_the_chain_and_the_jump_is_inserted_once() {
    let net = FakeNet::new();
    let plan = plan_overlay(CLUSTER, "default", range(), "h1", &three()).unwrap();
    net.add_link(&plan.bridge, "bridge");
    block_on(apply_plan(&net, &plan)).unwrap();
    let filter = &plan.iptables[0];
    let chain = net.chain_of("filter", &filter.chain).unwrap();
    assert_eq!(chain[0], marker_rule(filter));
    assert_eq!(
        net.chain_of("filter", "DOCKER-USER").unwrap(),
        [format!("-j {}", filter.chain)]
    );
    net.take_changes();
    let mut changed = plan.clone();
    changed.iptables[0].rules.push("-j RETURN".into());
    block_on(apply_plan(&net, &changed)).unwrap();
    assert_eq!(
        net.take_changes(),
        [format!("write chain filter {} (6 rules)", filter.chain)]
    );
}

#[test]
fn a_missing_bridge_or_a_failing_kernel_is_an_error() {
    let net = FakeNet::new();
    let plan = plan_overlay(CLUSTER, "default", range(), "h1", &three()).unwrap();
    assert!(matches!(
        block_on(apply_plan(&net, &plan)),
        Err(OverlayError::BridgeMissing { .. })
    ));
    net.fail_with("ip: not found");
    assert!(matches!(
        block_on(apply_plan(&net, &plan)),
        Err(OverlayError::Command { .. })
    ));
}

#[test]
fn device_names_chains_vni_and_engine_network_differ_per_cluster() {
    let a = plan_overlay("3f9a0c12ab45", "default", range(), "h1", &three()).unwrap();
    let b = plan_overlay("77e0d1c2b3a4", "default", range(), "h1", &three()).unwrap();
    for name in [&a.bridge, &a.vxlan, &b.bridge, &b.vxlan] {
        assert!(name.len() <= 15, "{name}");
    }
    assert_ne!(a.bridge, b.bridge);
    assert_ne!(a.vxlan, b.vxlan);
    assert_ne!(a.vni, b.vni);
    assert_ne!(a.network, b.network);
    assert_eq!(b.network, "corral-default-77e0d1c2b3a4");
    for (ra, rb) in a.iptables.iter().zip(&b.iptables) {
        assert_ne!(ra.chain, rb.chain);
        assert!(ra.chain.len() <= 28, "{}", ra.chain);
    }
    // The same cluster and environment: the same names on every node.
    let again = plan_overlay("3f9a0c12ab45", "default", range(), "h2", &three()).unwrap();
    assert_eq!((again.bridge, again.vni), (a.bridge, a.vni));
}

#[test]
fn vxlan_is_accepted_only_from_the_peers_host_addresses() {
    let plan = plan_overlay(CLUSTER, "default", range(), "h1", &three()).unwrap();
    let raw = plan.iptables.iter().find(|r| r.table == "raw").unwrap();
    assert_eq!(raw.jump_from, "PREROUTING");
    let vni = format!("{:#x}", plan.vni);
    assert_eq!(
        raw.rules,
        [
            "! -p udp -j RETURN".to_string(),
            "-p udp -m udp ! --dport 4789 -j RETURN".to_string(),
            format!("-m u32 ! --u32 0x0>>0x16&0x3c@0xc>>0x8={vni} -j RETURN"),
            "-s 10.0.0.12/32 -j RETURN".to_string(),
            "-s 10.0.0.13/32 -j RETURN".to_string(),
            "-m addrtype --dst-type LOCAL -j DROP".to_string(),
        ]
    );
    // A node alone accepts no tunnel packet of its environment at all.
    let alone = plan_overlay(CLUSTER, "default", range(), "h1", &three()[..1]).unwrap();
    let raw = alone.iptables.iter().find(|r| r.table == "raw").unwrap();
    assert!(!raw.rules.iter().any(|r| r.starts_with("-s ")));
    assert!(raw.rules.last().unwrap().ends_with("-j DROP"));
}

#[test]
fn two_nodes_on_one_host_address_are_one_accepted_source() {
    let mut nodes = three();
    nodes.push(node("h2b", "10.42.4.0/24", "10.0.0.12"));
    let plan = plan_overlay(CLUSTER, "default", range(), "h1", &nodes).unwrap();
    let raw = plan.iptables.iter().find(|r| r.table == "raw").unwrap();
    let sources: Vec<&String> = raw.rules.iter().filter(|r| r.starts_with("-s ")).collect();
    assert_eq!(
        sources,
        ["-s 10.0.0.12/32 -j RETURN", "-s 10.0.0.13/32 -j RETURN"]
    );
}

#[test]
fn the_vxlan_filter_follows_the_node_list() {
    let net = FakeNet::new();
    let plan = plan_overlay(CLUSTER, "default", range(), "h1", &three()).unwrap();
    net.add_link(&plan.bridge, "bridge");
    block_on(apply_plan(&net, &plan)).unwrap();
    let chain = plan.iptables[2].chain.clone();
    let has = |net: &FakeNet, source: &str| {
        net.chain_of("raw", &chain)
            .unwrap()
            .contains(&format!("-s {source}/32 -j RETURN"))
    };
    assert!(has(&net, "10.0.0.12") && has(&net, "10.0.0.13"));
    assert_eq!(
        net.chain_of("raw", "PREROUTING").unwrap(),
        [format!("-j {chain}")]
    );
    // h3 leaves: its address is no longer accepted.
    let two = plan_overlay(CLUSTER, "default", range(), "h1", &three()[..2]).unwrap();
    block_on(apply_plan(&net, &two)).unwrap();
    assert!(has(&net, "10.0.0.12") && !has(&net, "10.0.0.13"));
    // h4 joins: its address is.
    let mut four = three();
    four.push(node("h4", "10.42.4.0/24", "10.0.0.14"));
    let four = plan_overlay(CLUSTER, "default", range(), "h1", &four).unwrap();
    block_on(apply_plan(&net, &four)).unwrap();
    assert!(has(&net, "10.0.0.13") && has(&net, "10.0.0.14"));
    // The jump was inserted once.
    assert_eq!(net.chain_of("raw", "PREROUTING").unwrap().len(), 1);
}

#[test]
fn the_vxlan_filter_is_in_place_before_the_vxlan_device_exists() {
    let net = FakeNet::new();
    let plan = plan_overlay(CLUSTER, "default", range(), "h1", &three()).unwrap();
    net.add_link(&plan.bridge, "bridge");
    block_on(apply_plan(&net, &plan)).unwrap();
    let changes = net.take_changes();
    let position = |prefix: &str| changes.iter().position(|c| c.starts_with(prefix)).unwrap();
    assert!(position("jump raw PREROUTING") < position("add vxlan"));
    assert!(position("write chain raw") < position("add vxlan"));
}

#[test]
fn a_foreign_route_overlapping_the_range_is_refused_naming_both() {
    let net = FakeNet::new();
    let plan = plan_overlay(CLUSTER, "default", range(), "h1", &three()).unwrap();
    net.add_host_route("default", "eth0");
    net.add_host_route("10.0.0.0/24", "eth0");
    net.add_host_route(&plan.subnet.to_string(), &plan.bridge);
    block_on(check_host_routes(&net, &plan)).unwrap();
    // Another installation's bridge, with the same slice.
    net.add_host_route("10.42.1.0/24", "cr-933b5bde");
    let err = block_on(check_host_routes(&net, &plan)).unwrap_err();
    assert_eq!(
        err,
        OverlayError::RangeOverlap {
            environment: "default".into(),
            range: "10.42.0.0/16".into(),
            slice: "10.42.1.0/24".into(),
            route: "10.42.1.0/24".into(),
            device: "cr-933b5bde".into(),
        }
    );
    let message = err.to_string();
    for part in [
        "10.42.0.0/16",
        "10.42.1.0/24",
        "cr-933b5bde",
        "ip link delete cr-933b5bde; ip link delete vx-933b5bde",
    ] {
        assert!(message.contains(part), "{message}");
    }
}

#[test]
fn routes_that_hold_the_range_or_a_host_in_it_overlap_and_own_routes_do_not() {
    let plan = plan_overlay(CLUSTER, "default", range(), "h1", &three()).unwrap();
    let route = |dst: &str, dev: &str| HostRoute {
        dst: dst.into(),
        dev: dev.into(),
    };
    let overlaps = |r: HostRoute| foreign_overlap(&plan, std::slice::from_ref(&r)).is_some();
    assert!(overlaps(route("10.0.0.0/8", "tun0")));
    assert!(overlaps(route("10.42.200.7", "wg0")));
    assert!(overlaps(route("10.42.9.0/24", "")));
    assert!(!overlaps(route("default", "eth0")));
    assert!(!overlaps(route("0.0.0.0/0", "eth0")));
    assert!(!overlaps(route("10.43.0.0/16", "cr-other")));
    assert!(!overlaps(route("10.42.2.0/24", &plan.vxlan)));
    assert!(!overlaps(route("10.42.1.0/24", &plan.bridge)));
}

#[test]
fn only_a_corral_bridge_gets_a_hint_to_remove_what_it_left() {
    assert!(leftover_hint("docker0").is_empty());
    assert!(leftover_hint("").is_empty());
    let hint = leftover_hint("cr-a411ffbf2456");
    assert!(hint.contains("ip link delete vx-a411ffbf2456"), "{hint}");
    assert!(hint.contains("CORRAL-a411ffbf2456"), "{hint}");
}
