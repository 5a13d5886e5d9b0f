//! Placements per second of `schedule` alone, on a mixed workload.
//!
//! `cargo bench -p corral-scheduler` (add `-- spread/5000` to run one). Each
//! group places `instances` instances of 1,000 services on `nodes` nodes
//! (150,000 on 5,000, and 15,000 on 500 to show the growth), once per
//! strategy:
//!
//! - 10 zones (`zone` label), a third of the nodes `disk=ssd`, one node in
//!   five twice as big (32 cores, 128 GiB, else 16 and 64), 1% cordoned, 3
//!   managers;
//! - 5 global services (one instance pinned to each eligible node, a host
//!   port and a small reservation; 2 of them on `disk=ssd` nodes only);
//! - 995 replicated services sharing the rest, by `s % 10`: spread over
//!   `zone` (0, 1, 3, 5), a host port (1, 9), a hard `disk == ssd` rule
//!   (2, 4), a soft one (6), CPU and memory reservations (3, 4, 7, 9),
//!   `max_per_node: 2` (7), nothing (8).
//!
//! The pending instances come grouped by service, as the controllers list
//! them. Before each benchmark runs, one plan is made and summarised (placed,
//! unplaced) so the workload can be checked.

use std::collections::BTreeMap;
use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, SamplingMode, Throughput, criterion_group, criterion_main};

use corral_scheduler::{Decision, Demand, NodeView, Pending, Snapshot, eligible_nodes, schedule};
use corral_types::{PlacementRule, PlacementStrategy, Protocol, RuleTarget, Strength};

const MIB: u64 = 1 << 20;
const GIB: u64 = 1 << 30;
const ZONES: usize = 10;
const SERVICES: usize = 1000;

fn nodes(count: usize) -> Vec<NodeView> {
    (0..count)
        .map(|i| {
            let big = i % 5 == 4;
            NodeView {
                name: format!("node-{i:05}"),
                schedulable: i % 100 != 99,
                labels: BTreeMap::from([
                    ("zone".to_string(), format!("z{}", i % ZONES)),
                    (
                        "disk".to_string(),
                        if i % 3 == 0 { "ssd" } else { "hdd" }.to_string(),
                    ),
                ]),
                role: if i < 3 { "manager" } else { "worker" }.to_string(),
                cpu_millis: if big { 32_000 } else { 16_000 },
                memory_bytes: if big { 128 * GIB } else { 64 * GIB },
            }
        })
        .collect()
}

fn ssd_only(strength: Strength) -> PlacementRule {
    PlacementRule {
        target: RuleTarget::NodeLabel {
            key: "disk".into(),
            value: "ssd".into(),
        },
        equal: true,
        strength,
    }
}

fn is_global(s: usize) -> bool {
    s.is_multiple_of(200)
}

/// The launch config of service `s`.
fn service(s: usize) -> Demand {
    let mut d = Demand {
        service: format!("prod/svc-{s:04}"),
        labels: BTreeMap::from([("app".to_string(), format!("svc-{s:04}"))]),
        ..Demand::default()
    };
    let port = 10_000 + u16::try_from(s).unwrap_or(0);
    if is_global(s) {
        d.host_ports = vec![(port, Protocol::Tcp)];
        d.cpu_millis = 100;
        d.memory_bytes = 128 * MIB;
        if s % 400 == 200 {
            d.rules.push(ssd_only(Strength::Hard));
        }
        return d;
    }
    let kind = s % 10;
    if matches!(kind, 0 | 1 | 3 | 5) {
        d.spread_over = vec!["zone".into()];
    }
    if matches!(kind, 1 | 9) {
        d.host_ports = vec![(port, Protocol::Tcp)];
    }
    if matches!(kind, 2 | 4) {
        d.rules.push(ssd_only(Strength::Hard));
    }
    if kind == 6 {
        d.rules.push(ssd_only(Strength::Soft));
    }
    if matches!(kind, 3 | 4 | 7 | 9) {
        d.cpu_millis = 250 * (1 + (s / 10) as u64 % 4);
        d.memory_bytes = 256 * MIB * (1 + (s / 10) as u64 % 4);
    }
    if kind == 7 {
        d.max_per_node = 2;
    }
    d
}

/// `nodes` nodes and about `instances` pending instances (the global
/// services take one per eligible node, the others share the rest).
fn workload(
    nodes_count: usize,
    instances: usize,
    strategy: PlacementStrategy,
) -> (Snapshot, Vec<Pending>) {
    let snapshot = Snapshot {
        nodes: nodes(nodes_count),
        placed: vec![],
        strategy,
    };
    let mut pending = Vec::with_capacity(instances);
    let mut push = |demand: Demand, ordinal: usize, pinned_node: Option<String>| {
        let instance = format!("{}-{ordinal}", demand.service.trim_start_matches("prod/"));
        pending.push(Pending {
            id: format!("prod/{instance}"),
            demand: Demand {
                instance,
                pinned_node,
                ..demand
            },
        });
    };
    let globals: Vec<(Demand, Vec<String>)> = (0..SERVICES)
        .filter(|&s| is_global(s))
        .map(|s| {
            let d = service(s);
            let eligible = eligible_nodes(&snapshot, &d);
            (d, eligible)
        })
        .collect();
    let global_total: usize = globals.iter().map(|(_, e)| e.len()).sum();
    let replicated = SERVICES - globals.len();
    let rest = instances.saturating_sub(global_total);
    let mut globals = globals.into_iter();
    let mut r = 0;
    for s in 0..SERVICES {
        if is_global(s) {
            if let Some((d, eligible)) = globals.next() {
                for (i, node) in eligible.into_iter().enumerate() {
                    push(d.clone(), i + 1, Some(node));
                }
            }
            continue;
        }
        let count = rest / replicated + usize::from(r < rest % replicated);
        r += 1;
        let d = service(s);
        for i in 0..count {
            push(d.clone(), i + 1, None);
        }
    }
    (snapshot, pending)
}

fn summary(snapshot: &Snapshot, pending: &[Pending]) -> String {
    let plan = schedule(snapshot, pending);
    let mut unplaced: BTreeMap<&str, usize> = BTreeMap::new();
    for (_, decision) in &plan.decisions {
        if let Decision::Unplaced { reason } = decision {
            *unplaced.entry(reason.as_str()).or_default() += 1;
        }
    }
    let total: usize = unplaced.values().sum();
    let mut text = format!(
        "{} nodes, {} pending: {} placed, {total} unplaced",
        snapshot.nodes.len(),
        pending.len(),
        pending.len() - total
    );
    for (reason, count) in unplaced.iter().take(3) {
        text.push_str(&format!("\n  {count} x {reason}"));
    }
    text
}

fn bench(c: &mut Criterion) {
    for strategy in [PlacementStrategy::Spread, PlacementStrategy::Binpack] {
        let name = match strategy {
            PlacementStrategy::Spread => "spread",
            PlacementStrategy::Binpack => "binpack",
        };
        let mut group = c.benchmark_group(name);
        group
            .sample_size(10)
            .sampling_mode(SamplingMode::Flat)
            .warm_up_time(Duration::from_millis(500))
            .measurement_time(Duration::from_secs(8));
        for (nodes_count, instances) in [(500, 15_000), (5_000, 150_000)] {
            let (snapshot, pending) = workload(nodes_count, instances, strategy);
            let mut summarised = false;
            group.throughput(Throughput::Elements(pending.len() as u64));
            group.bench_function(nodes_count.to_string(), |b| {
                // Here rather than before: skipped when the group is filtered out.
                if !summarised {
                    summarised = true;
                    println!("{name}/{nodes_count}: {}", summary(&snapshot, &pending));
                }
                b.iter(|| schedule(black_box(&snapshot), black_box(&pending)));
            });
        }
        group.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
