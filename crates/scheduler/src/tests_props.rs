//! Property tests of `schedule` on random clusters, checked against a naive
//! oracle over the final state; and an ignored micro benchmark.

use std::collections::BTreeMap;
use std::time::Instant;

use proptest::prelude::*;

use corral_types::{PlacementRule, PlacementStrategy, Protocol, RuleTarget, Strength};

use crate::state::service_name;
use crate::{Decision, Demand, NodeView, Pending, Placed, Snapshot, schedule};

const MIB: u64 = 1 << 20;
const NODES: usize = 6;
const SERVICES: usize = 5;

fn arb_node(index: usize) -> impl Strategy<Value = NodeView> {
    (
        prop::sample::select(vec![0u64, 1000, 2000, 4000]),
        prop::sample::select(vec![0u64, 512 * MIB, 2048 * MIB]),
        prop::option::of(prop::sample::select(vec!["a", "b", "c"])),
        prop::option::of(prop::sample::select(vec!["ssd", "hdd"])),
        any::<bool>(),
        prop::bool::weighted(0.85),
    )
        .prop_map(move |(cpu, memory, zone, disk, manager, schedulable)| {
            let mut labels = BTreeMap::new();
            if let Some(zone) = zone {
                labels.insert("zone".to_string(), zone.to_string());
            }
            if let Some(disk) = disk {
                labels.insert("disk".to_string(), disk.to_string());
            }
            NodeView {
                name: format!("n{index}"),
                schedulable,
                labels,
                role: if manager { "manager" } else { "worker" }.to_string(),
                cpu_millis: cpu,
                memory_bytes: memory,
            }
        })
}

fn arb_target() -> impl Strategy<Value = RuleTarget> {
    let label = |key: &'static str, values: Vec<&'static str>| {
        prop::sample::select(values).prop_map(move |v| RuleTarget::NodeLabel {
            key: key.into(),
            value: v.into(),
        })
    };
    prop_oneof![
        label("zone", vec!["a", "b", "c"]),
        label("disk", vec!["ssd", "hdd"]),
        (0..NODES).prop_map(|i| RuleTarget::NodeName {
            value: format!("n{i}")
        }),
        prop::sample::select(vec!["manager", "worker"])
            .prop_map(|r| RuleTarget::NodeRole { value: r.into() }),
        (0..SERVICES).prop_map(|s| RuleTarget::ContainerLabel {
            key: "app".into(),
            value: format!("svc{s}"),
        }),
        (0..SERVICES, any::<bool>()).prop_map(|(s, exact)| RuleTarget::Instance {
            name: if exact {
                format!("svc{s}-1")
            } else {
                format!("svc{s}")
            },
        }),
    ]
}

fn arb_rule() -> impl Strategy<Value = PlacementRule> {
    (arb_target(), any::<bool>(), prop::bool::weighted(0.4)).prop_map(|(target, equal, soft)| {
        PlacementRule {
            target,
            equal,
            strength: if soft { Strength::Soft } else { Strength::Hard },
        }
    })
}

/// A service's launch config: every instance of it shares this demand.
fn arb_service(index: usize) -> impl Strategy<Value = Demand> {
    (
        prop::collection::vec(arb_rule(), 0..3),
        prop::option::of(prop::sample::select(vec![
            (80u16, Protocol::Tcp),
            (53, Protocol::Udp),
            (53, Protocol::Tcp),
        ])),
        prop::sample::select(vec![0u64, 300, 700, 1500]),
        prop::sample::select(vec![0u64, 256 * MIB, 1024 * MIB]),
        0u32..3,
        any::<bool>(),
    )
        .prop_map(move |(rules, port, cpu, memory, max, spread)| Demand {
            service: format!("env/svc{index}"),
            host_ports: port.into_iter().collect(),
            cpu_millis: cpu,
            memory_bytes: memory,
            rules,
            spread_over: if spread { vec!["zone".into()] } else { vec![] },
            max_per_node: max,
            instance: String::new(),
            labels: BTreeMap::from([("app".to_string(), format!("svc{index}"))]),
            pinned_node: None,
        })
}

/// An instance of service `s` named `svc<s>-<ordinal>`, maybe pinned.
fn instance(services: &[Demand], s: usize, ordinal: usize, pin: Option<usize>) -> Demand {
    Demand {
        instance: format!("svc{s}-{ordinal}"),
        pinned_node: pin.map(|n| format!("n{n}")),
        ..services[s].clone()
    }
}

pub(crate) fn arb_case() -> impl Strategy<Value = (Snapshot, Vec<Pending>)> {
    let nodes = (1..=NODES).prop_flat_map(|n| (0..n).map(arb_node).collect::<Vec<_>>());
    let services = (0..SERVICES).map(arb_service).collect::<Vec<_>>();
    let placed = prop::collection::vec((0..SERVICES, 0..NODES), 0..8);
    let pending = prop::collection::vec(
        (0..SERVICES, prop::option::weighted(0.15, 0..NODES + 1)),
        0..24,
    );
    (nodes, services, placed, pending, any::<bool>()).prop_map(
        |(nodes, services, placed, pending, binpack)| {
            let placed = placed
                .iter()
                .enumerate()
                .map(|(i, &(s, n))| Placed {
                    node: format!("n{n}"),
                    demand: instance(&services, s, 100 + i, None).into(),
                })
                .collect();
            let pending = pending
                .iter()
                .enumerate()
                .map(|(i, &(s, pin))| Pending {
                    id: format!("p{i}"),
                    demand: instance(&services, s, i + 1, pin),
                })
                .collect();
            let strategy = if binpack {
                PlacementStrategy::Binpack
            } else {
                PlacementStrategy::Spread
            };
            let snapshot = Snapshot {
                nodes,
                placed,
                strategy,
            };
            (snapshot, pending)
        },
    )
}

/// Whether `rule` holds for an instance on `node` beside `others`, written
/// the slow, obvious way.
fn holds(rule: &PlacementRule, node: &NodeView, others: &[&Demand]) -> bool {
    let found = match &rule.target {
        RuleTarget::NodeLabel { key, value } => node.labels.get(key) == Some(value),
        RuleTarget::NodeName { value } => &node.name == value,
        RuleTarget::NodeRole { value } => &node.role == value,
        RuleTarget::ContainerLabel { key, value } => {
            others.iter().any(|o| o.labels.get(key) == Some(value))
        }
        RuleTarget::Instance { name } => others
            .iter()
            .any(|o| &o.instance == name || service_name(&o.service) == name),
    };
    found == rule.equal
}

/// The hard rules of `d`, and the hard `!=` container rules of `others`
/// (which keep `d` away).
fn rules_ok(node: &NodeView, others: &[&Demand], d: &Demand) -> bool {
    let hard = |r: &&PlacementRule| r.strength == Strength::Hard;
    let own = d.rules.iter().filter(hard).all(|r| holds(r, node, others));
    let theirs = others.iter().all(|o| {
        o.rules
            .iter()
            .filter(hard)
            .filter(|r| !r.equal)
            .filter(|r| {
                matches!(
                    r.target,
                    RuleTarget::ContainerLabel { .. } | RuleTarget::Instance { .. }
                )
            })
            .all(|r| holds(r, node, &[d]))
    });
    node.schedulable && d.pinned_node.as_ref().is_none_or(|p| p == &node.name) && own && theirs
}

/// Everything besides the rules: replicas per node, ports, cpu, memory.
fn room_ok(node: &NodeView, others: &[&Demand], d: &Demand) -> bool {
    let replicas = others.iter().filter(|o| o.service == d.service).count();
    let ports = d
        .host_ports
        .iter()
        .all(|key| others.iter().all(|o| !o.host_ports.contains(key)));
    let fits =
        |capacity: u64, used: u64, need: u64| capacity == 0 || need == 0 || used + need <= capacity;
    let cpu: u64 = others.iter().map(|o| o.cpu_millis).sum();
    let memory: u64 = others.iter().map(|o| o.memory_bytes).sum();
    (d.max_per_node == 0 || replicas < d.max_per_node as usize)
        && ports
        && fits(node.cpu_millis, cpu, d.cpu_millis)
        && fits(node.memory_bytes, memory, d.memory_bytes)
}

/// The final state: per node, the snapshot's instances then the plan's, each
/// with its pending index (`None` for the snapshot's).
fn final_state<'a>(
    snap: &'a Snapshot,
    pending: &'a [Pending],
    decisions: &'a [(String, Decision)],
) -> BTreeMap<&'a str, Vec<(Option<usize>, &'a Demand)>> {
    let mut on: BTreeMap<&str, Vec<(Option<usize>, &Demand)>> = BTreeMap::new();
    for p in &snap.placed {
        on.entry(p.node.as_str())
            .or_default()
            .push((None, &p.demand));
    }
    for (i, (_, decision)) in decisions.iter().enumerate() {
        if let Decision::Place { node, .. } = decision {
            on.entry(node.as_str())
                .or_default()
                .push((Some(i), &pending[i].demand));
        }
    }
    on
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    #[test]
    fn plans_keep_capacity_ports_and_hard_rules_and_place_all_that_fits(
        (snap, pending) in arb_case()
    ) {
        let plan = schedule(&snap, &pending);
        prop_assert_eq!(plan.decisions.len(), pending.len());
        let on = final_state(&snap, &pending, &plan.decisions);
        for view in &snap.nodes {
            let here = on.get(view.name.as_str()).map_or(&[][..], |v| v);
            for (k, &(origin, d)) in here.iter().enumerate() {
                let Some(i) = origin else { continue };
                // Each placement, against everything else on its node at the end.
                let others: Vec<&Demand> = here
                    .iter()
                    .enumerate()
                    .filter(|&(j, _)| j != k)
                    .map(|(_, &(_, o))| o)
                    .collect();
                prop_assert!(rules_ok(view, &others, d), "p{} breaks a hard rule on {}", i, view.name);
                let replicas = others.iter().filter(|o| o.service == d.service).count();
                prop_assert!(d.max_per_node == 0 || replicas < d.max_per_node as usize);
                for key in &d.host_ports {
                    prop_assert!(others.iter().all(|o| !o.host_ports.contains(key)), "port {:?} twice on {}", key, view.name);
                }
            }
            let placed_by_plan = |need: fn(&Demand) -> u64| {
                here.iter().any(|(origin, d)| origin.is_some() && need(d) > 0)
            };
            let cpu: u64 = here.iter().map(|(_, d)| d.cpu_millis).sum();
            let memory: u64 = here.iter().map(|(_, d)| d.memory_bytes).sum();
            if placed_by_plan(|d| d.cpu_millis) && view.cpu_millis > 0 {
                prop_assert!(cpu <= view.cpu_millis, "{} over cpu", view.name);
            }
            if placed_by_plan(|d| d.memory_bytes) && view.memory_bytes > 0 {
                prop_assert!(memory <= view.memory_bytes, "{} over memory", view.name);
            }
        }
        for (i, (_, decision)) in plan.decisions.iter().enumerate() {
            let Decision::Unplaced { reason } = decision else { continue };
            prop_assert!(!reason.is_empty());
            let d = &pending[i].demand;
            for view in &snap.nodes {
                let here: Vec<&Demand> = on
                    .get(view.name.as_str())
                    .map_or(vec![], |v| v.iter().map(|&(_, o)| o).collect());
                let fits = rules_ok(view, &here, d) && room_ok(view, &here, d);
                prop_assert!(!fits, "p{} left unplaced ({}) but fits on {}", i, reason, view.name);
            }
        }
    }

    #[test]
    fn plans_are_deterministic_whatever_the_node_order((snap, pending) in arb_case()) {
        let first = schedule(&snap, &pending);
        let mut reversed = snap.clone();
        reversed.nodes.reverse();
        prop_assert_eq!(first, schedule(&reversed, &pending));
    }
}

/// Places 15,000 instances of 300 services on 500 nodes and prints the rate.
/// Run with `cargo test --release -p corral-scheduler -- --ignored --nocapture`.
#[test]
#[ignore]
fn micro_benchmark_15000_instances_on_500_nodes() {
    let zones = ["a", "b", "c"];
    let nodes: Vec<NodeView> = (0..500)
        .map(|i| NodeView {
            name: format!("node-{i:04}"),
            schedulable: true,
            labels: BTreeMap::from([
                ("zone".to_string(), zones[i % 3].to_string()),
                (
                    "disk".to_string(),
                    if i % 2 == 0 { "ssd" } else { "hdd" }.to_string(),
                ),
            ]),
            role: "worker".to_string(),
            cpu_millis: 32_000,
            memory_bytes: 64 << 30,
        })
        .collect();
    let services: Vec<Demand> = (0..300)
        .map(|s| {
            let mut rules = Vec::new();
            if s % 3 == 0 {
                rules.push(PlacementRule {
                    target: RuleTarget::NodeLabel {
                        key: "disk".into(),
                        value: "ssd".into(),
                    },
                    equal: true,
                    strength: if s % 2 == 0 {
                        Strength::Hard
                    } else {
                        Strength::Soft
                    },
                });
            }
            Demand {
                service: format!("env/svc{s}"),
                host_ports: if s % 10 == 0 {
                    vec![(8000 + s as u16, Protocol::Tcp)]
                } else {
                    vec![]
                },
                cpu_millis: 100,
                memory_bytes: 128 * MIB,
                rules,
                spread_over: if s % 4 == 0 {
                    vec!["zone".into()]
                } else {
                    vec![]
                },
                labels: BTreeMap::from([("app".to_string(), format!("svc{s}"))]),
                ..Demand::default()
            }
        })
        .collect();
    let pending: Vec<Pending> = (0..15_000)
        .map(|i| Pending {
            id: format!("i{i}"),
            demand: Demand {
                instance: format!("svc{}-{}", i % 300, i / 300 + 1),
                ..services[i % 300].clone()
            },
        })
        .collect();
    for strategy in [PlacementStrategy::Spread, PlacementStrategy::Binpack] {
        let snap = Snapshot {
            nodes: nodes.clone(),
            placed: vec![],
            strategy,
        };
        let start = Instant::now();
        let plan = schedule(&snap, &pending);
        let elapsed = start.elapsed();
        let placed = plan
            .decisions
            .iter()
            .filter(|(_, d)| matches!(d, Decision::Place { .. }))
            .count();
        println!(
            "{strategy:?}: {} instances ({placed} placed) on 500 nodes in {:.3} s: {:.0} placements/s",
            pending.len(),
            elapsed.as_secs_f64(),
            pending.len() as f64 / elapsed.as_secs_f64()
        );
    }
}
