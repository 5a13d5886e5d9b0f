#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::{IpAddr, Ipv6Addr};

use serde_json::{Value, json};

use super::*;
use crate::fixture::{WEB1_IP, snapshot};

fn web1() -> Option<IpAddr> {
    Some(WEB1_IP.parse().unwrap())
}

/// The JSON of the subtree at `path` (segments separated by `/`).
fn at(tree: &MetadataTree, version: &str, caller: Option<IpAddr>, path: &str) -> Value {
    let root = tree.root(version, caller).unwrap();
    let mut node = &root;
    for seg in path.split('/').filter(|s| !s.is_empty()) {
        node = node
            .child(seg)
            .unwrap_or_else(|| panic!("no {seg} in {path}"));
    }
    serde_json::to_value(node).unwrap()
}

#[test]
fn containers_are_the_placed_instances_by_service_then_ordinal() {
    let tree = MetadataTree::from_snapshot(&snapshot(1));
    let names: Vec<Value> = at(&tree, "latest", None, "containers")
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].clone())
        .collect();
    assert_eq!(names, ["shop-db-1", "shop-web-1", "shop-web-2", "solo-1"]);
}

#[test]
fn a_container_carries_the_fields_rancher_scripts_read() {
    let tree = MetadataTree::from_snapshot(&snapshot(1));
    let c = at(&tree, "latest", None, "containers/shop-web-1");
    assert_eq!(c["create_index"], 1);
    assert_eq!(c["service_index"], "1");
    assert_eq!(c["primary_ip"], WEB1_IP);
    assert_eq!(c["ips"], json!([WEB1_IP]));
    assert_eq!(c["service_name"], "web");
    assert_eq!(c["stack_name"], "shop");
    assert_eq!(c["service_uuid"], "uid-shop-web");
    assert_eq!(c["stack_uuid"], "uid-shop");
    assert_eq!(c["uuid"], "uid-shop-web-1");
    assert_eq!(c["ports"], json!(["0.0.0.0:8080:80/tcp"]));
    assert_eq!(c["health_state"], "healthy");
    assert_eq!(c["state"], "running");
    assert_eq!(c["host_uuid"], "uid-n1");
    assert_eq!(c["start_count"], 3);
    assert_eq!(c["hostname"], "000000000000");
    assert_eq!(c["labels"]["app"], "web");
    assert_eq!(c["labels"]["io.rancher.stack.name"], "shop");
    assert_eq!(c["labels"]["io.rancher.stack_service.name"], "shop/web");
    assert_eq!(c["labels"]["io.corral.instance"], "shop-web-1");
}

#[test]
fn a_service_lists_its_containers_links_and_sidekicks() {
    let tree = MetadataTree::from_snapshot(&snapshot(1));
    let s = at(&tree, "latest", None, "services/web");
    assert_eq!(s["kind"], "service");
    assert_eq!(s["stack_name"], "shop");
    assert_eq!(s["scale"], 2);
    assert_eq!(s["create_index"], 2);
    assert_eq!(s["links"], json!({"shop/db": "database"}));
    assert_eq!(s["sidekicks"], json!(["logger"]));
    assert_eq!(s["ports"], json!(["0.0.0.0:8080:80/tcp"]));
    assert_eq!(s["expose"], json!(["9000/udp"]));
    assert_eq!(s["containers"][1]["name"], "shop-web-2");
    assert_eq!(s["containers"][1]["primary_ip"], "10.42.0.3");
}

#[test]
fn version_2015_07_25_lists_a_services_containers_by_name() {
    let tree = MetadataTree::from_snapshot(&snapshot(1));
    let names = json!(["shop-web-1", "shop-web-2"]);
    assert_eq!(
        at(&tree, "2015-07-25", None, "services/web/containers"),
        names
    );
    let in_stack = at(
        &tree,
        "2015-07-25",
        None,
        "stacks/shop/services/web/containers",
    );
    assert_eq!(in_stack, names);
    // The top-level containers are maps in every version.
    assert_eq!(
        at(&tree, "2015-07-25", None, "containers/0/name"),
        json!("shop-db-1")
    );
    for v in ["2015-12-19", "2016-07-29", "latest"] {
        let c = at(&tree, v, None, "services/web/containers/0");
        assert_eq!(c["name"], "shop-web-1", "{v}");
    }
}

#[test]
fn a_stack_holds_its_services_and_a_host_its_node() {
    let tree = MetadataTree::from_snapshot(&snapshot(1));
    let stack = at(&tree, "latest", None, "stacks/shop");
    assert_eq!(stack["uuid"], "uid-shop");
    assert_eq!(stack["environment_name"], "default");
    let services: Vec<&Value> = stack["services"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| &s["name"])
        .collect();
    assert_eq!(services, ["db", "web"]);
    let host = at(&tree, "latest", None, "hosts/n2");
    assert_eq!(host["uuid"], "uid-n2");
    assert_eq!(host["agent_ip"], "192.168.1.2");
    assert_eq!(host["hostname"], "n2.example");
    assert_eq!(host["labels"], json!({"zone": "a"}));
    assert_eq!(host["milli_cpu"], 4000);
}

#[test]
fn self_is_the_callers_container_service_stack_and_host() {
    let tree = MetadataTree::from_snapshot(&snapshot(1));
    let me = at(&tree, "latest", web1(), "self");
    assert_eq!(me["container"]["name"], "shop-web-1");
    assert_eq!(me["service"]["name"], "web");
    assert_eq!(me["stack"]["name"], "shop");
    assert_eq!(me["host"]["name"], "n1");
    assert!(tree.knows(web1().unwrap()));
}

#[test]
fn an_ipv4_mapped_caller_is_the_same_container() {
    let tree = MetadataTree::from_snapshot(&snapshot(1));
    let mapped = IpAddr::V6(Ipv6Addr::from([0, 0, 0, 0, 0, 0xffff, 0x7f00, 2]));
    let me = at(&tree, "latest", Some(mapped), "self/container/name");
    assert_eq!(me, "shop-web-1");
}

#[test]
fn an_unknown_caller_has_no_self() {
    let tree = MetadataTree::from_snapshot(&snapshot(1));
    let root = tree
        .root("latest", Some("10.9.9.9".parse().unwrap()))
        .unwrap();
    assert!(root.child("self").is_none());
    assert!(root.child("containers").is_some());
}

#[test]
fn a_standalone_container_has_an_empty_stack() {
    let tree = MetadataTree::from_snapshot(&snapshot(1));
    let me = at(&tree, "latest", Some("10.42.0.5".parse().unwrap()), "self");
    assert_eq!(me["container"]["stack_name"], "");
    assert_eq!(me["service"]["name"], "solo");
    assert_eq!(me["stack"], json!({}));
}

#[test]
fn an_unknown_version_has_no_root() {
    let tree = MetadataTree::from_snapshot(&snapshot(1));
    assert!(tree.root("2014-01-01", None).is_none());
}

#[test]
fn the_version_changes_only_when_the_content_does() {
    let tree = MetadataTree::from_snapshot(&snapshot(1));
    assert_eq!(tree.version(), "1");
    assert!(tree.rebuild(&snapshot(2)).is_none(), "same content");
    let mut snap = snapshot(3);
    snap.instances.get_mut("shop-web-2").unwrap().status.ip = "10.42.0.9".into();
    let next = tree.rebuild(&snap).expect("an address changed");
    assert_eq!(next.version(), "3");
    assert_eq!(at(&next, "latest", None, "version"), "3");
}
