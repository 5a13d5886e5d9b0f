//! The indexed ranking (`shape.rs`) against the full scan (`rank::scan`):
//! the same plan, decision for decision, on random clusters.

use std::collections::BTreeMap;

use proptest::prelude::*;

use corral_types::{PlacementRule, PlacementStrategy, Protocol, RuleTarget, Strength};

use crate::plan::{Ranking, schedule_with};
use crate::tests_props::arb_case;
use crate::{Decision, Demand, NodeView, Pending, Placed, Snapshot, schedule};

const MIB: u64 = 1 << 20;

/// Both rankings agree; returns the plan.
fn same_plan(snapshot: &Snapshot, pending: &[Pending]) -> crate::Plan {
    let indexed = schedule_with(snapshot, pending, Ranking::Indexed);
    let scanned = schedule_with(snapshot, pending, Ranking::Scan);
    for (i, (a, b)) in indexed.decisions.iter().zip(&scanned.decisions).enumerate() {
        assert_eq!(a, b, "decision {i} differs ({:?})", pending[i].demand);
    }
    assert_eq!(indexed, scanned);
    indexed
}

fn node_rule(key: &str, value: &str, equal: bool, strength: Strength) -> PlacementRule {
    PlacementRule {
        target: RuleTarget::NodeLabel {
            key: key.into(),
            value: value.into(),
        },
        equal,
        strength,
    }
}

/// A cluster of `nodes` nodes (zones, racks, disks, some cordoned, some of
/// unknown capacity, a few instances already placed) and about `instances`
/// pending instances of services of every kind, drawn from `seed`.
fn mixed(
    nodes: usize,
    instances: usize,
    seed: u64,
    strategy: PlacementStrategy,
) -> (Snapshot, Vec<Pending>) {
    let mut state = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    let mut below = move |n: u64| {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (state >> 33) % n
    };
    let views: Vec<NodeView> = (0..nodes)
        .map(|i| {
            let mut labels = BTreeMap::new();
            labels.insert("zone".to_string(), format!("z{}", below(4)));
            if below(5) != 0 {
                labels.insert("rack".to_string(), format!("r{}", below(6)));
            }
            if below(3) == 0 {
                labels.insert("disk".to_string(), "ssd".to_string());
            }
            NodeView {
                name: format!("n{i:03}"),
                schedulable: below(12) != 0,
                labels,
                role: if below(4) == 0 { "manager" } else { "worker" }.to_string(),
                cpu_millis: if below(8) == 0 {
                    0
                } else {
                    1000 * (2 + below(6))
                },
                memory_bytes: if below(8) == 0 {
                    0
                } else {
                    1024 * MIB * (2 + below(6))
                },
            }
        })
        .collect();
    let services: Vec<Demand> = (0..24)
        .map(|s| {
            let mut d = Demand {
                service: format!("env/s{s}"),
                labels: BTreeMap::from([
                    ("app".to_string(), format!("s{s}")),
                    ("tier".to_string(), format!("t{}", s % 3)),
                ]),
                ..Demand::default()
            };
            let bits = below(1 << 12);
            if bits & 1 != 0 {
                d.spread_over.push("zone".into());
            }
            if bits & 2 != 0 {
                d.spread_over.push("rack".into());
            }
            if bits & 4 != 0 {
                // Few port numbers: services clash with each other too.
                let protocol = if below(2) == 0 {
                    Protocol::Tcp
                } else {
                    Protocol::Udp
                };
                d.host_ports.push((80 + below(3) as u16, protocol));
            }
            if bits & 8 != 0 {
                d.rules
                    .push(node_rule("disk", "ssd", below(3) != 0, Strength::Hard));
            }
            if bits & 16 != 0 {
                d.rules.push(node_rule(
                    "zone",
                    &format!("z{}", below(4)),
                    below(2) == 0,
                    Strength::Soft,
                ));
            }
            if bits & 32 != 0 {
                d.rules.push(node_rule(
                    "rack",
                    &format!("r{}", below(6)),
                    true,
                    Strength::Soft,
                ));
            }
            if bits & 64 != 0 {
                d.cpu_millis = 250 * (1 + below(6));
                d.memory_bytes = 256 * MIB * (1 + below(6));
            }
            if bits & 128 != 0 {
                d.max_per_node = 1 + below(2) as u32;
            }
            if bits & 256 != 0 {
                // Anti-affinity: away from a tier, or from another service.
                let target = if below(2) == 0 {
                    RuleTarget::ContainerLabel {
                        key: "tier".into(),
                        value: format!("t{}", below(3)),
                    }
                } else {
                    RuleTarget::Instance {
                        name: format!("s{}", below(24)),
                    }
                };
                d.rules.push(PlacementRule {
                    target,
                    equal: false,
                    strength: Strength::Hard,
                });
            }
            if bits & 512 != 0 && bits & 1024 != 0 {
                // Affinity: scanned, and retried.
                d.rules.push(PlacementRule {
                    target: RuleTarget::Instance {
                        name: format!("s{}", below(24)),
                    },
                    equal: true,
                    strength: if below(2) == 0 {
                        Strength::Hard
                    } else {
                        Strength::Soft
                    },
                });
            }
            if bits & 2048 != 0 && bits & 1 == 0 {
                d.rules.push(PlacementRule {
                    target: RuleTarget::NodeRole {
                        value: "manager".into(),
                    },
                    equal: below(2) == 0,
                    strength: Strength::Hard,
                });
            }
            d
        })
        .collect();
    let instance = |s: usize, ordinal: usize, pinned_node: Option<String>| Demand {
        instance: format!("s{s}-{ordinal}"),
        pinned_node,
        ..services[s].clone()
    };
    let placed = (0..nodes / 2)
        .map(|i| {
            let s = below(24) as usize;
            Placed {
                node: format!("n{:03}", below(nodes as u64 + 1)),
                demand: instance(s, 1000 + i, None).into(),
            }
        })
        .collect();
    let pending = (0..instances)
        .map(|i| {
            // Grouped by service in runs, as the controllers list them.
            let s = (i / 7 + below(2) as usize) % 24;
            let pin = (below(20) == 0).then(|| format!("n{:03}", below(nodes as u64 + 1)));
            Pending {
                id: format!("p{i}"),
                demand: instance(s, i + 1, pin),
            }
        })
        .collect();
    let snapshot = Snapshot {
        nodes: views,
        placed,
        strategy,
    };
    (snapshot, pending)
}

#[test]
fn indexed_and_scanned_rankings_agree_on_mixed_clusters() {
    let mut placed = 0;
    let mut unplaced = 0;
    for seed in 0..12 {
        for strategy in [PlacementStrategy::Spread, PlacementStrategy::Binpack] {
            let (snapshot, pending) = mixed(40 + seed as usize * 13, 500, seed, strategy);
            let plan = same_plan(&snapshot, &pending);
            for (_, decision) in &plan.decisions {
                match decision {
                    Decision::Place { .. } => placed += 1,
                    Decision::Unplaced { .. } => unplaced += 1,
                }
            }
        }
    }
    // Both outcomes are well exercised.
    assert!(
        placed > 5_000 && unplaced > 500,
        "{placed} placed, {unplaced} unplaced"
    );
}

#[test]
fn node_order_does_not_change_the_indexed_plan() {
    for strategy in [PlacementStrategy::Spread, PlacementStrategy::Binpack] {
        let (snapshot, pending) = mixed(120, 800, 99, strategy);
        let mut reversed = snapshot.clone();
        reversed.nodes.reverse();
        assert_eq!(schedule(&snapshot, &pending), schedule(&reversed, &pending));
    }
}

#[test]
fn shapes_not_worth_indexing_are_scanned_with_the_same_plan() {
    // Spread over a label unique to each node: a cell per node, not kept.
    // And more shapes (a `node.hostname !=` rule each) than are kept.
    for strategy in [PlacementStrategy::Spread, PlacementStrategy::Binpack] {
        let (mut snapshot, mut pending) = mixed(150, 400, 5, strategy);
        for (i, node) in snapshot.nodes.iter_mut().enumerate() {
            node.labels.insert("host".into(), format!("h{i}"));
        }
        for (i, p) in pending.iter_mut().enumerate() {
            if i % 3 == 0 {
                p.demand.spread_over = vec!["host".into()];
            } else if i % 3 == 1 {
                p.demand.rules.push(PlacementRule {
                    target: RuleTarget::NodeName {
                        value: format!("n{:03}", i % 100),
                    },
                    equal: false,
                    strength: Strength::Hard,
                });
            }
        }
        same_plan(&snapshot, &pending);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn indexed_and_scanned_rankings_agree((snapshot, pending) in arb_case()) {
        let indexed = schedule_with(&snapshot, &pending, Ranking::Indexed);
        let scanned = schedule_with(&snapshot, &pending, Ranking::Scan);
        prop_assert_eq!(indexed, scanned);
    }

}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn indexed_and_scanned_rankings_agree_on_larger_clusters(
        nodes in 1usize..80,
        instances in 0usize..300,
        seed in any::<u64>(),
        binpack in any::<bool>(),
    ) {
        let strategy = if binpack { PlacementStrategy::Binpack } else { PlacementStrategy::Spread };
        let (snapshot, pending) = mixed(nodes, instances, seed, strategy);
        let indexed = schedule_with(&snapshot, &pending, Ranking::Indexed);
        let scanned = schedule_with(&snapshot, &pending, Ranking::Scan);
        prop_assert_eq!(indexed, scanned);
    }
}
