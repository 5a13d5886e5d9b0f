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
    let plan = plan_overlay("default", range(), "h1", &nodes).unwrap();
    assert_eq!(plan.gateway, Ipv4Addr::new(10, 42, 1, 1));
    assert_eq!(plan.vtep, Ipv4Addr::new(10, 42, 1, 0));
    assert_eq!(plan.local, Ipv4Addr::new(10, 0, 0, 11));
    assert_eq!(plan.network, "corral-default");
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
    let a = plan_overlay(&long, range(), "h1", &three()).unwrap();
    let b = plan_overlay("other", range(), "h1", &three()).unwrap();
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
        plan_overlay("default", range(), "h1", &nodes),
        Err(OverlayError::NotReady(_))
    ));
    let outside = vec![node("h1", "10.43.1.0/24", "10.0.0.11")];
    assert!(matches!(
        plan_overlay("default", range(), "h1", &outside),
        Err(OverlayError::InvalidNode { .. })
    ));
}

#[test]
fn peers_outside_the_range_or_on_this_nodes_slice_get_no_entries() {
    let mut nodes = three();
    nodes.push(node("stale", "10.42.1.0/24", "10.0.0.20"));
    nodes.push(node("alien", "10.43.9.0/24", "10.0.0.21"));
    nodes.push(node("noaddr", "10.42.7.0/24", "somewhere"));
    let plan = plan_overlay("default", range(), "h1", &nodes).unwrap();
    assert_eq!(plan.peers.len(), 2);
}

#[test]
fn masquerade_only_leaves_the_environment_range() {
    let plan = plan_overlay("default", range(), "h1", &three()).unwrap();
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
    let plan = plan_overlay("default", range(), "h1", &three()).unwrap();
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
    let plan = plan_overlay("default", range(), "h1", &three()).unwrap();
    net.add_link(&plan.bridge, "bridge");
    block_on(apply_plan(&net, &plan)).unwrap();
    net.take_changes();
    let two = &three()[..2];
    let smaller = plan_overlay("default", range(), "h1", two).unwrap();
    block_on(apply_plan(&net, &smaller)).unwrap();
    let changes = net.take_changes();
    assert_eq!(
        changes,
        [
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
    let plan = plan_overlay("default", range(), "h1", &three()).unwrap();
    net.add_link(&plan.bridge, "bridge");
    block_on(apply_plan(&net, &plan)).unwrap();
    net.take_changes();
    let mut moved = three();
    moved[0].status.address = "10.0.0.99".into();
    let plan = plan_overlay("default", range(), "h1", &moved).unwrap();
    block_on(apply_plan(&net, &plan)).unwrap();
    let changes = net.take_changes();
    assert_eq!(changes[0], format!("delete link {}", plan.vxlan));
    assert!(changes[1].starts_with("add vxlan"));
    // Everything on the device came back.
    assert_eq!(net.fdb_of(&plan.vxlan).len(), 2);
}

#[test]
fn a_changed_rule_set_rewrites_the_chain_and_the_jump_is_inserted_once() {
    let net = FakeNet::new();
    let plan = plan_overlay("default", range(), "h1", &three()).unwrap();
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
    let plan = plan_overlay("default", range(), "h1", &three()).unwrap();
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
