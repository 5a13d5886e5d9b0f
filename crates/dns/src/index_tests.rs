#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;
use std::net::IpAddr;

use super::*;
use crate::testkit::{Condition, Env, aliases, link, sidekick};

fn ip(text: &str) -> IpAddr {
    text.parse().unwrap()
}

/// The sorted addresses of an answer, or a marker for the other outcomes.
fn addrs(answer: Answer<'_>) -> Vec<String> {
    match answer {
        Answer::Addresses(list) => {
            let set: BTreeSet<String> = list.iter().map(|a| a.to_string()).collect();
            set.into_iter().collect()
        }
        Answer::NxDomain => vec!["NXDOMAIN".into()],
        Answer::Forward => vec!["FORWARD".into()],
    }
}

const SHOP_WEB: [&str; 2] = ["10.42.0.1", "10.42.0.2"];
const SHOP_CLIENT: &str = "10.42.0.1";
const BLOG_CLIENT: &str = "10.42.1.1";
const LONE_CLIENT: &str = "10.42.2.1";
const STRANGER: &str = "192.168.7.7";

/// Two stacks with a `web` each, a standalone `db`, and a sidekick, alias
/// and link in `shop`.
fn env() -> Env {
    let mut env = Env::new();
    let web = env.service("shop", "web", |s| {
        s.sidekicks = vec![sidekick("web-data")];
        s.networks = vec![aliases(&["frontend"])];
        s.links = vec![link("db", "database")];
    });
    env.instance(&web, 1, SHOP_WEB[0], Condition::Serving);
    env.instance(&web, 2, SHOP_WEB[1], Condition::Serving);
    let db = env.service("shop", "db", |_| {});
    env.instance(&db, 1, "10.42.0.9", Condition::Serving);
    let blog = env.service("blog", "web", |_| {});
    env.instance(&blog, 1, BLOG_CLIENT, Condition::Serving);
    let lone = env.service("", "db", |_| {});
    env.instance(&lone, 1, LONE_CLIENT, Condition::Serving);
    env
}

fn resolve(index: &Index, name: &str, client: &str) -> Vec<String> {
    addrs(index.resolve(name, ip(client)))
}

#[test]
fn a_bare_service_name_resolves_within_the_clients_stack() {
    let index = Index::build(&env().snapshot);
    assert_eq!(resolve(&index, "web", SHOP_CLIENT), SHOP_WEB);
    assert_eq!(resolve(&index, "web", BLOG_CLIENT), [BLOG_CLIENT]);
    assert_eq!(resolve(&index, "db", SHOP_CLIENT), ["10.42.0.9"]);
    // Standalone clients and strangers see the standalone services.
    assert_eq!(resolve(&index, "db", LONE_CLIENT), [LONE_CLIENT]);
    assert_eq!(resolve(&index, "db", STRANGER), [LONE_CLIENT]);
    assert_eq!(resolve(&index, "web", LONE_CLIENT), ["NXDOMAIN"]);
    assert_eq!(resolve(&index, "db", BLOG_CLIENT), ["NXDOMAIN"]);
}

#[test]
fn qualified_names_resolve_from_anywhere_in_any_case() {
    let index = Index::build(&env().snapshot);
    for client in [SHOP_CLIENT, BLOG_CLIENT, LONE_CLIENT, STRANGER] {
        for name in [
            "web.shop",
            "web.shop.",
            "WEB.Shop",
            "web.shop.corral.internal",
            "web.shop.default.corral.internal.",
            "Web.Shop.Default.Corral.Internal",
        ] {
            assert_eq!(
                resolve(&index, name, client),
                SHOP_WEB,
                "{name} from {client}"
            );
        }
        assert_eq!(resolve(&index, "web.blog", client), [BLOG_CLIENT]);
        assert_eq!(resolve(&index, "db.corral.internal", client), [LONE_CLIENT]);
        assert_eq!(
            resolve(&index, "db.default.corral.internal", client),
            [LONE_CLIENT]
        );
    }
    assert_eq!(
        resolve(&index, "web.shop.other.corral.internal", SHOP_CLIENT),
        ["NXDOMAIN"]
    );
}

#[test]
fn the_configured_environment_names_the_fully_qualified_form() {
    let index = Index::build_for(&env().snapshot, "Prod");
    assert_eq!(
        resolve(&index, "web.shop.prod.corral.internal", STRANGER),
        SHOP_WEB
    );
    assert_eq!(
        resolve(&index, "web.shop.default.corral.internal", STRANGER),
        ["NXDOMAIN"]
    );
}

#[test]
fn sidekicks_answer_with_their_primarys_addresses() {
    let index = Index::build(&env().snapshot);
    assert_eq!(resolve(&index, "web-data.web", SHOP_CLIENT), SHOP_WEB);
    assert_eq!(resolve(&index, "web-data", SHOP_CLIENT), SHOP_WEB);
    for client in [SHOP_CLIENT, BLOG_CLIENT, STRANGER] {
        assert_eq!(resolve(&index, "web-data.web.shop", client), SHOP_WEB);
        assert_eq!(
            resolve(&index, "web-data.web.shop.default.corral.internal", client),
            SHOP_WEB
        );
    }
    assert_eq!(resolve(&index, "web-data.web", BLOG_CLIENT), ["NXDOMAIN"]);
}

#[test]
fn an_instance_name_answers_that_instance_only() {
    let index = Index::build(&env().snapshot);
    for client in [SHOP_CLIENT, BLOG_CLIENT, STRANGER] {
        assert_eq!(resolve(&index, "shop-web-2", client), [SHOP_WEB[1]]);
        assert_eq!(
            resolve(&index, "shop-web-1.corral.internal", client),
            [SHOP_WEB[0]]
        );
    }
    assert_eq!(resolve(&index, "shop-web-3", SHOP_CLIENT), ["NXDOMAIN"]);
}

#[test]
fn compose_aliases_resolve_for_clients_of_the_same_stack_only() {
    let index = Index::build(&env().snapshot);
    assert_eq!(resolve(&index, "frontend", SHOP_CLIENT), SHOP_WEB);
    assert_eq!(resolve(&index, "frontend", "10.42.0.9"), SHOP_WEB);
    assert_eq!(resolve(&index, "frontend", BLOG_CLIENT), ["NXDOMAIN"]);
    assert_eq!(resolve(&index, "frontend", STRANGER), ["NXDOMAIN"]);
}

#[test]
fn a_link_alias_resolves_for_clients_of_the_linking_service_only() {
    let index = Index::build(&env().snapshot);
    assert_eq!(resolve(&index, "database", SHOP_CLIENT), ["10.42.0.9"]);
    assert_eq!(resolve(&index, "database", SHOP_WEB[1]), ["10.42.0.9"]);
    // The linked service itself does not get the alias.
    assert_eq!(resolve(&index, "database", "10.42.0.9"), ["NXDOMAIN"]);
    assert_eq!(resolve(&index, "database", BLOG_CLIENT), ["NXDOMAIN"]);
}

#[test]
fn a_link_alias_wins_over_a_service_name_and_a_service_name_over_an_alias() {
    let mut env = env();
    let web = env.service("shop", "web", |s| {
        s.links = vec![link("db", "cache")];
    });
    env.instance(&web, 1, SHOP_CLIENT, Condition::Serving);
    let cache = env.service("shop", "cache", |_| {});
    env.instance(&cache, 1, "10.42.0.20", Condition::Serving);
    let db = env.service("shop", "db", |s| s.networks = vec![aliases(&["cache"])]);
    env.instance(&db, 1, "10.42.0.9", Condition::Serving);
    let index = Index::build(&env.snapshot);
    assert_eq!(resolve(&index, "cache", SHOP_CLIENT), ["10.42.0.9"]);
    assert_eq!(resolve(&index, "cache", "10.42.0.9"), ["10.42.0.20"]);
}

#[test]
fn only_serving_instances_are_answered() {
    let mut env = Env::new();
    let web = env.service("shop", "web", |_| {});
    env.instance(&web, 1, "10.42.0.1", Condition::Serving);
    env.instance(&web, 2, "10.42.0.2", Condition::Unhealthy);
    env.instance(&web, 3, "10.42.0.3", Condition::Initializing);
    env.instance(&web, 4, "10.42.0.4", Condition::Removing);
    env.instance(&web, 5, "10.42.0.5", Condition::Exited);
    env.instance(&web, 6, "", Condition::NoAddress);
    let index = Index::build(&env.snapshot);
    assert_eq!(resolve(&index, "web.shop", STRANGER), ["10.42.0.1"]);
    assert_eq!(resolve(&index, "shop-web-2", STRANGER), ["NXDOMAIN"]);
    // An unhealthy client still resolves names of its stack.
    assert_eq!(resolve(&index, "web", "10.42.0.2"), ["10.42.0.1"]);
}

#[test]
fn a_service_without_serving_instances_is_nxdomain() {
    let mut env = Env::new();
    let web = env.service("shop", "web", |_| {});
    env.instance(&web, 1, "10.42.0.1", Condition::Unhealthy);
    env.service("shop", "idle", |_| {});
    let index = Index::build(&env.snapshot);
    assert_eq!(index.resolve("web.shop", ip(STRANGER)), Answer::NxDomain);
    assert_eq!(index.resolve("idle.shop", ip(STRANGER)), Answer::NxDomain);
    assert_eq!(index.resolve("idle", ip("10.42.0.1")), Answer::NxDomain);
}

#[test]
fn metadata_names_always_answer_the_metadata_address() {
    let index = Index::build(&Env::new().snapshot);
    for name in [
        "rancher-metadata",
        "metadata",
        "rancher-metadata.corral.internal",
        "Metadata.Corral.Internal.",
    ] {
        for client in [SHOP_CLIENT, STRANGER, "::1"] {
            assert_eq!(resolve(&index, name, client), ["169.254.169.250"], "{name}");
        }
    }
}

#[test]
fn unknown_internal_names_are_nxdomain_and_the_rest_is_forwarded() {
    let index = Index::build(&env().snapshot);
    for name in [
        "nope",
        "localhost",
        "nope.shop",
        "nope.web.shop",
        "corral.internal",
        "nope.corral.internal",
        "a.b.c.corral.internal",
        "shop-web-1.shop",
    ] {
        assert_eq!(
            index.resolve(name, ip(SHOP_CLIENT)),
            Answer::NxDomain,
            "{name}"
        );
    }
    for name in [
        "example.com",
        "www.example.com.",
        "web.example.com",
        "shop.example",
        "",
        ".",
    ] {
        assert_eq!(
            index.resolve(name, ip(SHOP_CLIENT)),
            Answer::Forward,
            "{name}"
        );
    }
}

#[test]
fn an_ipv4_mapped_client_address_is_the_ipv4_client() {
    let index = Index::build(&env().snapshot);
    let v4: Ipv4Addr = BLOG_CLIENT.parse().unwrap();
    let mapped = IpAddr::V6(v4.to_ipv6_mapped());
    assert_eq!(addrs(index.resolve("web", mapped)), [BLOG_CLIENT]);
}

#[test]
fn ipv6_instance_addresses_are_indexed() {
    let mut env = Env::new();
    let web = env.service("shop", "web", |_| {});
    env.instance(&web, 1, "fd00::1", Condition::Serving);
    env.instance(&web, 2, "10.42.0.2", Condition::Serving);
    let index = Index::build(&env.snapshot);
    assert_eq!(resolve(&index, "web", "fd00::1"), ["10.42.0.2", "fd00::1"]);
}

#[test]
fn the_index_remembers_its_snapshot_revision() {
    let mut env = env();
    let snapshot = env.bump();
    assert_eq!(Index::build(&snapshot).revision(), snapshot.revision);
}
