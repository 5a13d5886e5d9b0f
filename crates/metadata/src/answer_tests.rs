#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::IpAddr;

use serde_json::{Value, json};

use super::*;
use crate::fixture::{WEB1_IP, snapshot};

fn tree() -> MetadataTree {
    MetadataTree::from_snapshot(&snapshot(7))
}

fn web1() -> Option<IpAddr> {
    Some(WEB1_IP.parse().unwrap())
}

fn text_at(path: &str) -> String {
    answer(&tree(), web1(), path, false).unwrap().body
}

fn json_at(path: &str) -> Value {
    let a = answer(&tree(), web1(), path, true).unwrap();
    assert!(a.json);
    assert_eq!(a.content_type(), "application/json");
    serde_json::from_str(&a.body).unwrap()
}

#[test]
fn the_root_lists_the_versions() {
    assert_eq!(text_at("/"), "2015-07-25\n2015-12-19\n2016-07-29\nlatest\n");
    assert_eq!(text_at(""), text_at("/"));
    assert_eq!(
        json_at("/"),
        json!(["2015-07-25", "2015-12-19", "2016-07-29", "latest"])
    );
}

#[test]
fn a_version_lists_the_top_level_keys_with_a_slash_on_branches() {
    let expected = "containers/\nhosts/\nself/\nservices/\nstacks/\nversion\n";
    for v in VERSIONS {
        assert_eq!(text_at(&format!("/{v}")), expected, "{v}");
        assert_eq!(text_at(&format!("/{v}/")), expected, "{v}/");
    }
    assert_eq!(text_at("/latest/version"), "7");
}

#[test]
fn every_self_path_of_the_issue_answers() {
    let container = text_at("/latest/self/container");
    for key in [
        "create_index\n",
        "health_state\n",
        "host_uuid\n",
        "ips/\n",
        "labels/\n",
        "name\n",
        "ports/\n",
        "primary_ip\n",
        "service_name\n",
        "stack_name\n",
        "start_count\n",
        "uuid\n",
    ] {
        assert!(container.contains(key), "{key:?} missing from {container}");
    }
    assert_eq!(text_at("/2015-12-19/self/container/create_index"), "1");
    assert_eq!(text_at("/latest/self/container/primary_ip"), WEB1_IP);
    assert_eq!(text_at("/latest/self/container/service_name"), "web");
    assert_eq!(text_at("/latest/self/container/stack_name"), "shop");
    assert_eq!(text_at("/latest/self/service/name"), "web");
    assert_eq!(text_at("/latest/self/stack/name"), "shop");
    assert_eq!(text_at("/latest/self/host/agent_ip"), "192.168.1.1");
    assert_eq!(text_at("/latest/self/container/health_state"), "healthy");
    assert_eq!(text_at("/latest/self/container/host_uuid"), "uid-n1");
    assert_eq!(json_at("/latest/self/container")["name"], "shop-web-1");
    assert_eq!(json_at("/latest/self")["host"]["name"], "n1");
}

#[test]
fn every_list_path_of_the_issue_answers() {
    assert_eq!(
        text_at("/latest/containers"),
        "0=shop-db-1\n1=shop-web-1\n2=shop-web-2\n3=solo-1\n"
    );
    assert_eq!(text_at("/latest/services"), "0=db\n1=web\n2=solo\n");
    assert_eq!(text_at("/latest/stacks"), "0=shop\n");
    assert_eq!(text_at("/latest/hosts"), "0=n1\n1=n2\n");
    assert_eq!(json_at("/latest/hosts").as_array().unwrap().len(), 2);
}

#[test]
fn list_items_are_addressed_by_index_or_by_name() {
    assert_eq!(text_at("/latest/containers/1/name"), "shop-web-1");
    assert_eq!(text_at("/latest/containers/shop-web-1/create_index"), "1");
    assert_eq!(text_at("/latest/services/web/scale"), "2");
    assert_eq!(text_at("/latest/services/1/name"), "web");
    assert_eq!(text_at("/latest/stacks/shop/services/db/name"), "db");
    assert_eq!(
        text_at("/latest/stacks/0/services/1/containers/1/primary_ip"),
        "10.42.0.3"
    );
    assert_eq!(
        text_at("/latest/services/web/containers/shop-web-2/primary_ip"),
        "10.42.0.3"
    );
}

#[test]
fn lists_of_scalars_show_indexes_and_items_their_value() {
    assert_eq!(text_at("/latest/self/container/ports"), "0\n");
    assert_eq!(
        text_at("/latest/self/container/ports/0"),
        "0.0.0.0:8080:80/tcp"
    );
    assert_eq!(text_at("/latest/self/container/ips/0"), WEB1_IP);
    assert_eq!(text_at("/2015-07-25/services/web/containers"), "0\n1\n");
    assert_eq!(
        text_at("/2015-07-25/services/web/containers/1"),
        "shop-web-2"
    );
}

#[test]
fn keys_are_listed_escaped_and_walked_escaped_or_not() {
    let labels = text_at("/latest/self/container/labels");
    assert!(
        labels.contains("io.rancher.scheduler.affinity%3Ahost_label\n"),
        "{labels}"
    );
    assert_eq!(
        text_at("/latest/self/container/labels/io.rancher.scheduler.affinity%3Ahost_label"),
        "zone=a"
    );
    assert_eq!(
        text_at("/latest/self/container/labels/io.rancher.scheduler.affinity:host_label"),
        "zone=a"
    );
    assert_eq!(text_at("/latest/self/service/links"), "shop%2Fdb\n");
    assert_eq!(text_at("/latest/self/service/links/shop%2Fdb"), "database");
}

#[test]
fn empty_maps_and_lists_have_empty_text_and_json() {
    assert_eq!(text_at("/latest/self/service/metadata"), "");
    assert_eq!(json_at("/latest/self/service/metadata"), json!({}));
    assert_eq!(json_at("/latest/services/db/expose"), json!([]));
}

#[test]
fn scalars_render_without_a_trailing_newline_in_text_and_typed_in_json() {
    assert_eq!(text_at("/latest/self/container/start_count"), "3");
    assert_eq!(text_at("/latest/self/container/system"), "false");
    assert_eq!(json_at("/latest/self/container/start_count"), json!(3));
    assert_eq!(json_at("/latest/self/container/name"), json!("shop-web-1"));
}

#[test]
fn an_unknown_path_is_not_found() {
    let t = tree();
    for path in [
        "/latest/nothing",
        "/latest/containers/9",
        "/latest/containers/nobody",
        "/latest/self/container/name/deeper",
        "/latest/version/x",
    ] {
        let err = answer(&t, web1(), path, false).unwrap_err();
        assert!(matches!(err, NotFound::Path { .. }), "{path}: {err:?}");
        assert!(err.to_string().starts_with("not found"), "{err}");
    }
}

#[test]
fn an_unknown_version_is_not_found_and_names_the_known_ones() {
    let err = answer(&tree(), web1(), "/2014-01-01/self", false).unwrap_err();
    assert!(matches!(err, NotFound::Version { .. }));
    assert!(err.to_string().contains("2015-12-19"), "{err}");
}

#[test]
fn self_from_an_unknown_caller_is_not_found_with_the_reason() {
    let stranger: Option<IpAddr> = Some("10.1.1.1".parse().unwrap());
    let err = answer(&tree(), stranger, "/latest/self/container", false).unwrap_err();
    assert!(matches!(err, NotFound::NotAContainer { .. }));
    assert!(err.to_string().contains("10.1.1.1"), "{err}");
    // The rest of the tree still answers, and the listing has no self.
    let root = answer(&tree(), stranger, "/latest", false).unwrap().body;
    assert!(!root.contains("self/"), "{root}");
}

#[test]
fn percent_escapes_round_trip() {
    for s in ["a:b", "x/y", "plain-name_1.2~", "ü ö"] {
        assert_eq!(percent_decode(&percent_encode(s)), s);
    }
    assert_eq!(percent_decode("bad%zzend%4"), "bad%zzend%4");
}
