//! Placement rules, strategies, spread over label values, replicas per node,
//! pinned demands, `eligible_nodes` and the reasons naming the rules.

use std::collections::BTreeMap;

use corral_types::{PlacementRule, PlacementStrategy, Protocol, RuleTarget, Strength};

use crate::tests::{
    cordoned, demand, node, open_node, outcomes, placed, replicas, snapshot, with_port,
    with_resources,
};
use crate::{Decision, Demand, NodeView, Pending, Snapshot, eligible_nodes, schedule};

fn labelled(name: &str, labels: &[(&str, &str)], role: &str) -> NodeView {
    NodeView {
        labels: labels
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        role: role.to_string(),
        ..open_node(name)
    }
}

fn rule(target: RuleTarget, equal: bool, strength: Strength) -> PlacementRule {
    PlacementRule {
        target,
        equal,
        strength,
    }
}

fn host_label(key: &str, value: &str) -> RuleTarget {
    RuleTarget::NodeLabel {
        key: key.into(),
        value: value.into(),
    }
}

fn container_label(key: &str, value: &str) -> RuleTarget {
    RuleTarget::ContainerLabel {
        key: key.into(),
        value: value.into(),
    }
}

fn container(name: &str) -> RuleTarget {
    RuleTarget::Instance { name: name.into() }
}

fn with_rules(mut d: Demand, rules: Vec<PlacementRule>) -> Demand {
    d.rules = rules;
    d
}

/// An instance of `service` named `instance`, carrying `labels`.
fn member(service: &str, instance: &str, labels: &[(&str, &str)]) -> Demand {
    Demand {
        instance: instance.into(),
        labels: labels
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        ..demand(service)
    }
}

fn one(d: Demand) -> Vec<Pending> {
    vec![Pending {
        id: "x".into(),
        demand: d,
    }]
}

/// n1 (disk=ssd, manager) runs db-1 (app=db); n2 (disk=hdd) runs cache-1
/// (app=cache); n3 is empty. Every target below matches n1 only.
fn fixture() -> Snapshot {
    snapshot(
        vec![
            labelled("n1", &[("disk", "ssd")], "manager"),
            labelled("n2", &[("disk", "hdd")], "worker"),
            labelled("n3", &[], "worker"),
        ],
        vec![
            placed("n1", member("default/db", "db-1", &[("app", "db")])),
            placed(
                "n2",
                member("default/cache", "cache-1", &[("app", "cache")]),
            ),
        ],
    )
}

fn n1_targets() -> Vec<RuleTarget> {
    vec![
        host_label("disk", "ssd"),
        RuleTarget::NodeName { value: "n1".into() },
        RuleTarget::NodeRole {
            value: "manager".into(),
        },
        container_label("app", "db"),
        container("db"),
        container("db-1"),
    ]
}

#[test]
fn every_rule_kind_hard_and_soft_equal_and_not_equal() {
    let snap = fixture();
    for target in n1_targets() {
        for strength in [Strength::Hard, Strength::Soft] {
            // `==`: n1, although n3 is emptier; `!=`: n3 (emptier than n2).
            for (equal, expected) in [(true, "n1"), (false, "n3")] {
                let d = with_rules(demand("web"), vec![rule(target.clone(), equal, strength)]);
                let plan = schedule(&snap, &one(d));
                assert_eq!(
                    plan.decisions[0].1,
                    Decision::Place {
                        node: expected.into(),
                        dropped_soft: vec![]
                    },
                    "{target:?} equal={equal} {strength:?}"
                );
            }
        }
    }
}

#[test]
fn hard_rules_no_node_passes_name_the_rule_with_counts() {
    let snap = fixture();
    let cases = [
        (
            host_label("disk", "nvme"),
            true,
            "host label disk=nvme missing on all 3 nodes",
        ),
        (
            host_label("disk", "ssd"),
            false,
            "host label disk=ssd present",
        ),
        (
            RuleTarget::NodeName { value: "n9".into() },
            true,
            "node name is not n9 on all 3 nodes",
        ),
        (
            RuleTarget::NodeName { value: "n1".into() },
            false,
            "node name is n1",
        ),
        (
            RuleTarget::NodeRole {
                value: "leader".into(),
            },
            true,
            "node role is not leader on all 3 nodes",
        ),
        (
            RuleTarget::NodeRole {
                value: "manager".into(),
            },
            false,
            "node role is manager",
        ),
        (
            container_label("app", "web"),
            true,
            "container label app=web absent on all 3 nodes",
        ),
        (
            container_label("app", "db"),
            false,
            "container label app=db present",
        ),
        (
            container("web"),
            true,
            "container web absent on all 3 nodes",
        ),
        (container("db"), false, "container db present"),
    ];
    for (target, equal, expected) in cases {
        // A second rule every node fails, so `!=` rules show in a mixed reason.
        let d = with_rules(
            demand("web"),
            vec![
                rule(target.clone(), equal, Strength::Hard),
                rule(host_label("gpu", "yes"), true, Strength::Hard),
            ],
        );
        let plan = schedule(&snap, &one(d));
        let Decision::Unplaced { reason } = &plan.decisions[0].1 else {
            panic!("{target:?} placed");
        };
        if equal {
            assert_eq!(reason, expected, "{target:?}");
        } else {
            let mixed = format!("2 nodes: host label gpu=yes missing; 1 node: {expected}");
            assert_eq!(reason, &mixed, "{target:?}");
        }
    }
}

#[test]
fn container_rule_matches_the_exact_instance_name_or_the_service_name() {
    let snap = fixture();
    for (name, expected) in [
        ("db-1", "n1"),
        ("db", "n1"),
        ("default/db", "!"),
        ("db-2", "!"),
    ] {
        let d = with_rules(
            demand("web"),
            vec![rule(container(name), true, Strength::Hard)],
        );
        let got = outcomes(&schedule(&snap, &one(d))).remove(0);
        assert!(got.starts_with(expected), "{name}: {got}");
    }
}

#[test]
fn soft_rules_are_dropped_one_at_a_time_last_first() {
    let snap = snapshot(
        vec![
            labelled("a", &[("zone", "a"), ("disk", "hdd")], "worker"),
            labelled("b", &[("zone", "b"), ("disk", "ssd")], "worker"),
        ],
        vec![],
    );
    let zone_a = rule(host_label("zone", "a"), true, Strength::Soft);
    let zone_c = rule(host_label("zone", "c"), true, Strength::Soft);
    let ssd = rule(host_label("disk", "ssd"), true, Strength::Soft);
    let cases = [
        (
            vec![zone_a.clone(), ssd.clone()],
            "a",
            vec!["node.labels.disk == ssd (soft)"],
        ),
        (
            vec![ssd.clone(), zone_a.clone()],
            "b",
            vec!["node.labels.zone == a (soft)"],
        ),
        (
            vec![zone_c.clone(), ssd.clone()],
            "a",
            vec![
                "node.labels.zone == c (soft)",
                "node.labels.disk == ssd (soft)",
            ],
        ),
        // Dropping `zone == a` is not enough: `zone == c` goes too.
        (
            vec![ssd.clone(), zone_c, zone_a],
            "b",
            vec![
                "node.labels.zone == c (soft)",
                "node.labels.zone == a (soft)",
            ],
        ),
    ];
    for (rules, node, dropped) in cases {
        let plan = schedule(&snap, &one(with_rules(demand("web"), rules.clone())));
        assert_eq!(
            plan.decisions[0].1,
            Decision::Place {
                node: node.into(),
                dropped_soft: dropped.iter().map(|s| s.to_string()).collect()
            },
            "{rules:?}"
        );
    }
    // A hard rule wins over any soft one.
    let rules = vec![ssd, rule(host_label("zone", "a"), true, Strength::Hard)];
    assert_eq!(
        outcomes(&schedule(&snap, &one(with_rules(demand("web"), rules)))),
        ["a"]
    );
}

#[test]
fn binpack_fills_the_most_allocated_node_and_spread_the_least() {
    let nodes = vec![node("a", 1000, 0), node("b", 1000, 0)];
    let busy = vec![placed("b", with_resources(demand("db"), 500, 0))];
    let job = with_resources(demand("job"), 300, 0);
    let mut snap = snapshot(nodes, busy);
    assert_eq!(
        outcomes(&schedule(&snap, &replicas(&job, 3))),
        ["a", "b", "a"]
    );
    snap.strategy = PlacementStrategy::Binpack;
    assert_eq!(
        outcomes(&schedule(&snap, &replicas(&job, 3))),
        ["b", "a", "a"]
    );
}

#[test]
fn binpack_combines_cpu_and_memory_and_breaks_ties_by_name() {
    let mut snap = snapshot(
        vec![
            node("a", 1000, 1000),
            node("b", 1000, 1000),
            node("c", 1000, 1000),
        ],
        vec![
            placed("b", with_resources(demand("x"), 100, 500)),
            placed("c", with_resources(demand("y"), 400, 100)),
        ],
    );
    snap.strategy = PlacementStrategy::Binpack;
    // b: 60% allocated, c: 50%, a: 0%.
    assert_eq!(
        outcomes(&schedule(&snap, &replicas(&demand("z"), 1))),
        ["b"]
    );
    let empty = snapshot(vec![open_node("b"), open_node("a")], vec![]);
    let empty = Snapshot {
        strategy: PlacementStrategy::Binpack,
        ..empty
    };
    assert_eq!(
        outcomes(&schedule(&empty, &replicas(&demand("z"), 3))),
        ["a", "a", "a"]
    );
}

#[test]
fn spread_over_prefers_the_label_value_with_the_fewest_instances() {
    let nodes = vec![
        labelled("a1", &[("zone", "a")], "worker"),
        labelled("a2", &[("zone", "a")], "worker"),
        labelled("a3", &[("zone", "a")], "worker"),
        labelled("b1", &[("zone", "b")], "worker"),
        labelled("x", &[], "worker"),
    ];
    let web = Demand {
        spread_over: vec!["zone".into()],
        ..demand("web")
    };
    let snap = snapshot(nodes.clone(), vec![]);
    assert_eq!(
        outcomes(&schedule(&snap, &replicas(&web, 6))),
        ["a1", "b1", "x", "a2", "b1", "x"]
    );
    // Without it, replicas spread over nodes only.
    assert_eq!(
        outcomes(&schedule(&snap, &replicas(&demand("web"), 3))),
        ["a1", "a2", "a3"]
    );
    // Instances already placed count: zone a holds two.
    let snap = snapshot(
        nodes,
        vec![placed("a1", demand("web")), placed("a2", demand("web"))],
    );
    assert_eq!(
        outcomes(&schedule(&snap, &replicas(&web, 3))),
        ["b1", "x", "b1"]
    );
}

#[test]
fn max_per_node_is_a_hard_limit_even_under_binpack() {
    let web = Demand {
        max_per_node: 2,
        ..demand("web")
    };
    let snap = snapshot(vec![open_node("a")], vec![]);
    assert_eq!(
        outcomes(&schedule(&snap, &replicas(&web, 3))),
        ["a", "a", "!max 2 per node reached on all 1 nodes"]
    );
    let snap = Snapshot {
        strategy: PlacementStrategy::Binpack,
        ..snapshot(vec![open_node("a"), open_node("b")], vec![])
    };
    let one_each = Demand {
        max_per_node: 1,
        ..demand("web")
    };
    assert_eq!(
        outcomes(&schedule(&snap, &replicas(&one_each, 2))),
        ["a", "b"]
    );
}

#[test]
fn pinned_demand_goes_to_its_node_or_says_why_not_there() {
    let snap = snapshot(
        vec![open_node("a"), labelled("b", &[("disk", "hdd")], "worker")],
        vec![
            placed("a", demand("db")),
            placed("b", with_port(demand("lb"), 80, Protocol::Tcp)),
        ],
    );
    let pin = |node: &str, d: Demand| Demand {
        pinned_node: Some(node.into()),
        ..d
    };
    let cases = [
        (pin("a", demand("agent")), "a"),
        (
            pin("b", with_port(demand("web"), 80, Protocol::Tcp)),
            "!port 80/tcp in use on node b",
        ),
        (pin("zz", demand("agent")), "!node zz not found"),
        (
            pin(
                "b",
                with_rules(
                    demand("agent"),
                    vec![rule(host_label("disk", "ssd"), true, Strength::Hard)],
                ),
            ),
            "!host label disk=ssd missing on node b",
        ),
    ];
    for (d, expected) in cases {
        assert_eq!(outcomes(&schedule(&snap, &one(d))), [expected]);
    }
    let cordoned_only = snapshot(vec![cordoned("a"), open_node("b")], vec![]);
    assert_eq!(
        outcomes(&schedule(&cordoned_only, &one(pin("a", demand("agent"))))),
        ["!not active or cordoned on node a"]
    );
}

#[test]
fn eligible_nodes_apply_hard_rules_only() {
    let mut snap = fixture();
    snap.nodes.push(cordoned("n4"));
    // Full and port taken: still eligible (ports and resources are not checked).
    snap.nodes.push(NodeView {
        labels: BTreeMap::from([("disk".to_string(), "ssd".to_string())]),
        ..node("n5", 1, 1)
    });
    snap.placed
        .push(placed("n5", with_port(demand("lb"), 80, Protocol::Tcp)));
    let big = with_resources(with_port(demand("agent"), 80, Protocol::Tcp), 10, 10);
    assert_eq!(eligible_nodes(&snap, &big), ["n1", "n2", "n3", "n5"]);
    let ssd = with_rules(
        big.clone(),
        vec![
            rule(host_label("disk", "ssd"), true, Strength::Hard),
            rule(host_label("zone", "x"), true, Strength::Soft),
        ],
    );
    assert_eq!(eligible_nodes(&snap, &ssd), ["n1", "n5"]);
    let no_db = with_rules(
        big.clone(),
        vec![rule(container("db"), false, Strength::Hard)],
    );
    assert_eq!(eligible_nodes(&snap, &no_db), ["n2", "n3", "n5"]);
    let pinned = Demand {
        pinned_node: Some("n2".into()),
        ..ssd
    };
    assert!(eligible_nodes(&snap, &pinned).is_empty());
}

#[test]
fn mixed_failures_are_counted_per_rule_most_common_first() {
    let snap = snapshot(
        vec![
            labelled("a", &[], "worker"),
            labelled("b", &[("disk", "hdd")], "worker"),
            labelled("c", &[("disk", "ssd")], "worker"),
        ],
        vec![placed("c", with_port(demand("lb"), 80, Protocol::Tcp))],
    );
    let web = with_rules(
        with_port(demand("web"), 80, Protocol::Tcp),
        vec![rule(host_label("disk", "ssd"), true, Strength::Hard)],
    );
    assert_eq!(
        outcomes(&schedule(&snap, &one(web))),
        ["!2 nodes: host label disk=ssd missing; 1 node: port 80/tcp in use"]
    );
}

#[test]
fn anti_affinity_of_a_placed_instance_keeps_others_away() {
    let loner = with_rules(
        member("default/loner", "loner-1", &[]),
        vec![rule(container_label("app", "db"), false, Strength::Hard)],
    );
    // b is busier: only the anti-affinity keeps db off a.
    let snap = snapshot(
        vec![open_node("a"), open_node("b")],
        vec![
            placed("a", loner),
            placed("b", demand("x")),
            placed("b", demand("y")),
        ],
    );
    let db = member("default/db", "db-1", &[("app", "db")]);
    assert_eq!(outcomes(&schedule(&snap, &one(db.clone()))), ["b"]);
    let only_a = snapshot(vec![open_node("a")], snap.placed.clone());
    assert_eq!(
        outcomes(&schedule(&only_a, &one(db))),
        ["!excluded by a container's anti-affinity on all 1 nodes"]
    );
}

#[test]
fn replicas_avoiding_their_own_service_take_one_node_each() {
    let web = with_rules(
        member("default/web", "", &[]),
        vec![rule(container("web"), false, Strength::Hard)],
    );
    let snap = snapshot(vec![open_node("a"), open_node("b")], vec![]);
    let plan = schedule(
        &Snapshot {
            strategy: PlacementStrategy::Binpack,
            ..snap
        },
        &replicas(&web, 3),
    );
    assert_eq!(
        outcomes(&plan),
        ["a", "b", "!container web present on all 2 nodes"]
    );
}

#[test]
fn affinity_to_an_instance_planned_later_is_retried() {
    let snap = snapshot(
        vec![open_node("a"), open_node("b")],
        vec![placed("a", demand("x"))],
    );
    let web = with_rules(
        member("default/web", "web-1", &[]),
        vec![rule(container_label("app", "db"), true, Strength::Hard)],
    );
    let db = member("default/db", "db-1", &[("app", "db")]);
    let pending = vec![
        Pending {
            id: "web-1".into(),
            demand: web,
        },
        Pending {
            id: "db-1".into(),
            demand: db,
        },
    ];
    // db goes to the emptier b, and web follows it there.
    assert_eq!(outcomes(&schedule(&snap, &pending)), ["b", "b"]);
}
