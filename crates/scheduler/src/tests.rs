//! Properties of `schedule`, on small fixtures built by the helpers below.

use std::collections::{BTreeMap, HashMap, HashSet};

use corral_types::Protocol;

use crate::{Decision, Demand, NodeView, Pending, Placed, Plan, Snapshot, schedule};

pub(crate) const MIB: u64 = 1 << 20;

pub(crate) fn node(name: &str, cpu_millis: u64, memory_bytes: u64) -> NodeView {
    NodeView {
        name: name.to_string(),
        schedulable: true,
        labels: BTreeMap::new(),
        role: "worker".to_string(),
        cpu_millis,
        memory_bytes,
    }
}

/// A node with unknown (unlimited) capacity.
pub(crate) fn open_node(name: &str) -> NodeView {
    node(name, 0, 0)
}

pub(crate) fn cordoned(name: &str) -> NodeView {
    NodeView {
        schedulable: false,
        ..open_node(name)
    }
}

pub(crate) fn demand(service: &str) -> Demand {
    Demand {
        service: service.to_string(),
        ..Demand::default()
    }
}

pub(crate) fn with_port(mut d: Demand, port: u16, protocol: Protocol) -> Demand {
    d.host_ports.push((port, protocol));
    d
}

pub(crate) fn with_resources(mut d: Demand, cpu_millis: u64, memory_bytes: u64) -> Demand {
    d.cpu_millis = cpu_millis;
    d.memory_bytes = memory_bytes;
    d
}

pub(crate) fn placed(node: &str, demand: Demand) -> Placed {
    Placed {
        node: node.to_string(),
        demand: demand.into(),
    }
}

/// `count` replicas of one demand, with ids `<service>-1`, `<service>-2`, ...
pub(crate) fn replicas(d: &Demand, count: usize) -> Vec<Pending> {
    (1..=count)
        .map(|i| Pending {
            id: format!("{}-{i}", d.service),
            demand: Demand {
                instance: format!("{}-{i}", d.service),
                ..d.clone()
            },
        })
        .collect()
}

pub(crate) fn snapshot(nodes: Vec<NodeView>, placed: Vec<Placed>) -> Snapshot {
    Snapshot {
        nodes,
        placed,
        ..Snapshot::default()
    }
}

/// The node of each decision, or `!reason` when unplaced.
pub(crate) fn outcomes(plan: &Plan) -> Vec<String> {
    plan.decisions
        .iter()
        .map(|(_, d)| match d {
            Decision::Place { node, .. } => node.clone(),
            Decision::Unplaced { reason } => format!("!{reason}"),
        })
        .collect()
}

#[test]
fn replicas_spread_one_per_node_on_empty_nodes() {
    let snap = snapshot(vec![open_node("c"), open_node("a"), open_node("b")], vec![]);
    let plan = schedule(&snap, &replicas(&demand("web"), 3));
    assert_eq!(outcomes(&plan), ["a", "b", "c"]);
    assert_eq!(plan.decisions[0].0, "web-1");
}

#[test]
fn spread_prefers_nodes_without_the_service_over_emptier_nodes() {
    // a runs two other instances, b runs one replica of web: a still wins for web.
    let snap = snapshot(
        vec![open_node("a"), open_node("b")],
        vec![
            placed("a", demand("db")),
            placed("a", demand("cache")),
            placed("b", demand("web")),
        ],
    );
    let plan = schedule(&snap, &replicas(&demand("web"), 1));
    assert_eq!(outcomes(&plan), ["a"]);
}

#[test]
fn least_loaded_node_wins_between_equal_spread() {
    let snap = snapshot(
        vec![open_node("a"), open_node("b")],
        vec![placed("a", demand("db"))],
    );
    let plan = schedule(&snap, &replicas(&demand("web"), 1));
    assert_eq!(outcomes(&plan), ["b"]);
}

#[test]
fn second_replica_needing_a_taken_host_port_stays_unplaced() {
    let snap = snapshot(vec![open_node("only")], vec![]);
    let web = with_port(demand("web"), 8080, Protocol::Tcp);
    let plan = schedule(&snap, &replicas(&web, 2));
    assert_eq!(
        outcomes(&plan),
        ["only", "!port 8080/tcp in use on all 1 nodes"]
    );
}

#[test]
fn ports_of_different_protocols_do_not_clash() {
    let snap = snapshot(
        vec![open_node("a")],
        vec![placed("a", with_port(demand("dns-tcp"), 53, Protocol::Tcp))],
    );
    let plan = schedule(
        &snap,
        &replicas(&with_port(demand("dns"), 53, Protocol::Udp), 1),
    );
    assert_eq!(outcomes(&plan), ["a"]);
}

#[test]
fn port_held_by_placed_instance_excludes_only_its_node() {
    let snap = snapshot(
        vec![open_node("a"), open_node("b")],
        vec![placed("a", with_port(demand("lb"), 80, Protocol::Tcp))],
    );
    let plan = schedule(
        &snap,
        &replicas(&with_port(demand("web"), 80, Protocol::Tcp), 1),
    );
    assert_eq!(outcomes(&plan), ["b"]);
}

#[test]
fn cpu_capacity_is_respected() {
    let snap = snapshot(
        vec![node("a", 1000, 0)],
        vec![placed("a", with_resources(demand("db"), 600, 0))],
    );
    let pending = [
        replicas(&with_resources(demand("big"), 500, 0), 1),
        replicas(&with_resources(demand("small"), 400, 0), 1),
    ]
    .concat();
    let plan = schedule(&snap, &pending);
    assert_eq!(
        outcomes(&plan),
        [
            "!insufficient cpu (needs 500m, 400m free) on all 1 nodes",
            "a"
        ]
    );
}

#[test]
fn memory_capacity_is_respected() {
    let snap = snapshot(
        vec![node("a", 0, 768 * MIB)],
        vec![placed("a", with_resources(demand("db"), 0, 512 * MIB))],
    );
    let plan = schedule(
        &snap,
        &replicas(&with_resources(demand("web"), 0, 512 * MIB), 1),
    );
    assert_eq!(
        outcomes(&plan),
        ["!insufficient memory (needs 512 MiB, 256 MiB free) on all 1 nodes"]
    );
}

#[test]
fn unknown_capacity_is_unlimited_and_zero_demand_always_fits() {
    // Capacity 0 = unknown; the node is "full" for cpu but a 0-cpu demand fits.
    let snap = snapshot(
        vec![open_node("unknown"), node("full", 100, 100)],
        vec![placed("full", with_resources(demand("x"), 100, 100))],
    );
    let huge = with_resources(demand("huge"), 1 << 40, 1 << 60);
    let zero = demand("zero");
    let pending = [replicas(&huge, 1), replicas(&zero, 2)].concat();
    let plan = schedule(&snap, &pending);
    assert_eq!(outcomes(&plan), ["unknown", "full", "unknown"]);
}

#[test]
fn unschedulable_nodes_are_skipped() {
    let snap = snapshot(vec![cordoned("a"), open_node("b")], vec![]);
    let plan = schedule(&snap, &replicas(&demand("web"), 2));
    assert_eq!(outcomes(&plan), ["b", "b"]);
}

#[test]
fn all_unschedulable_nodes_say_so() {
    let snap = snapshot(vec![cordoned("a"), cordoned("b")], vec![]);
    let plan = schedule(&snap, &replicas(&demand("web"), 1));
    assert_eq!(
        outcomes(&plan),
        ["!no schedulable nodes (2 not active or cordoned)"]
    );
}

#[test]
fn no_nodes_is_the_reason_without_nodes() {
    let plan = schedule(&Snapshot::default(), &replicas(&demand("web"), 1));
    assert_eq!(outcomes(&plan), ["!no nodes"]);
}

#[test]
fn placements_within_one_plan_hold_their_ports() {
    let snap = snapshot(vec![open_node("a"), open_node("b")], vec![]);
    let web = with_port(demand("web"), 80, Protocol::Tcp);
    let plan = schedule(&snap, &replicas(&web, 3));
    assert_eq!(
        outcomes(&plan),
        ["a", "b", "!port 80/tcp in use on all 2 nodes"]
    );
}

#[test]
fn placements_within_one_plan_hold_their_capacity() {
    let snap = snapshot(vec![node("a", 1000, 1024 * MIB)], vec![]);
    let job = with_resources(demand("job"), 300, 256 * MIB);
    let plan = schedule(&snap, &replicas(&job, 5));
    assert_eq!(
        outcomes(&plan),
        [
            "a",
            "a",
            "a",
            "!insufficient cpu (needs 300m, 100m free) on all 1 nodes",
            "!insufficient cpu (needs 300m, 100m free) on all 1 nodes",
        ]
    );
}

#[test]
fn reasons_group_node_classes_most_common_first() {
    let port_80 = || with_port(demand("lb"), 80, Protocol::Tcp);
    let snap = snapshot(
        vec![
            cordoned("a"),
            open_node("b"),
            open_node("c"),
            node("d", 0, 256 * MIB),
            node("e", 0, 128 * MIB),
        ],
        vec![placed("b", port_80()), placed("c", port_80())],
    );
    let web = with_resources(with_port(demand("web"), 80, Protocol::Tcp), 0, 512 * MIB);
    let plan = schedule(&snap, &replicas(&web, 1));
    assert_eq!(
        outcomes(&plan),
        ["!2 nodes: port 80/tcp in use; \
          2 nodes: insufficient memory (needs 512 MiB, at most 256 MiB free); \
          1 node: not active or cordoned"]
    );
}

#[test]
fn node_failing_several_rules_counts_under_the_first() {
    // Cordoned and port taken and too small: counted as not schedulable only.
    let snap = snapshot(
        vec![
            NodeView {
                schedulable: false,
                ..node("a", 100, 100)
            },
            node("b", 100, 100),
        ],
        vec![
            placed("a", with_port(demand("lb"), 80, Protocol::Tcp)),
            placed("b", with_port(demand("lb"), 80, Protocol::Tcp)),
        ],
    );
    let web = with_resources(with_port(demand("web"), 80, Protocol::Tcp), 500, 500);
    let plan = schedule(&snap, &replicas(&web, 1));
    assert_eq!(
        outcomes(&plan),
        ["!1 node: not active or cordoned; 1 node: port 80/tcp in use"]
    );
}

#[test]
fn same_input_gives_the_same_plan() {
    let (snap, pending) = generated(20, 200, 7);
    let first = schedule(&snap, &pending);
    assert_eq!(first, schedule(&snap, &pending));
    // Node order in the snapshot does not matter either.
    let mut reversed = snap.clone();
    reversed.nodes.reverse();
    assert_eq!(first, schedule(&reversed, &pending));
}

#[test]
fn generated_cluster_plan_breaks_no_rule() {
    let (snap, pending) = generated(50, 500, 42);
    let plan = schedule(&snap, &pending);
    assert_eq!(plan.decisions.len(), pending.len());
    let (mut placed_count, mut unplaced_count) = (0, 0);
    // Final state per node: the snapshot's instances plus the plan's.
    let mut on_node: HashMap<&str, Vec<&Demand>> = HashMap::new();
    for p in &snap.placed {
        on_node.entry(p.node.as_str()).or_default().push(&p.demand);
    }
    for ((id, decision), p) in plan.decisions.iter().zip(&pending) {
        assert_eq!(id, &p.id, "decisions keep the pending order");
        if let Decision::Place { node, .. } = decision {
            on_node.entry(node.as_str()).or_default().push(&p.demand);
            placed_count += 1;
        }
    }
    let nodes: HashMap<&str, &NodeView> = snap.nodes.iter().map(|n| (n.name.as_str(), n)).collect();
    for (name, demands) in &on_node {
        let n = nodes[name];
        let mut ports = HashSet::new();
        for d in demands {
            for key in &d.host_ports {
                assert!(ports.insert(*key), "port {key:?} double-booked on {name}");
            }
        }
        let cpu: u64 = demands.iter().map(|d| d.cpu_millis).sum();
        let memory: u64 = demands.iter().map(|d| d.memory_bytes).sum();
        assert!(n.cpu_millis == 0 || cpu <= n.cpu_millis, "{name} over cpu");
        assert!(
            n.memory_bytes == 0 || memory <= n.memory_bytes,
            "{name} over memory"
        );
    }
    for ((_, decision), p) in plan.decisions.iter().zip(&pending) {
        match decision {
            Decision::Place { node, .. } => assert!(nodes[node.as_str()].schedulable),
            Decision::Unplaced { reason } => {
                unplaced_count += 1;
                assert!(!reason.is_empty());
                // Nodes only fill up during a plan: unplaced means nothing fits at the end either.
                let fits = snap.nodes.iter().any(|n| {
                    fits_naively(
                        n,
                        on_node.get(n.name.as_str()).map_or(&[][..], |v| v),
                        &p.demand,
                    )
                });
                assert!(!fits, "{} was left unplaced but fits: {reason}", p.id);
            }
        }
    }
    assert!(
        placed_count > 100 && unplaced_count > 0,
        "{placed_count} placed, {unplaced_count} unplaced"
    );
}

/// The rules written the slow, obvious way, as an oracle.
fn fits_naively(n: &NodeView, on: &[&Demand], d: &Demand) -> bool {
    let ports_free = d
        .host_ports
        .iter()
        .all(|key| on.iter().all(|o| !o.host_ports.contains(key)));
    let cpu: u64 = on.iter().map(|o| o.cpu_millis).sum::<u64>() + d.cpu_millis;
    let memory: u64 = on.iter().map(|o| o.memory_bytes).sum::<u64>() + d.memory_bytes;
    n.schedulable
        && ports_free
        && (n.cpu_millis == 0 || d.cpu_millis == 0 || cpu <= n.cpu_millis)
        && (n.memory_bytes == 0 || d.memory_bytes == 0 || memory <= n.memory_bytes)
}

/// A tiny seeded LCG (Knuth's MMIX constants): reproducible without a crate.
struct Lcg(u64);

impl Lcg {
    fn below(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) % n
    }
}

/// `nodes` nodes (some cordoned, some of unknown capacity) already running a
/// few instances, and `instances` pending ones of 40 services, some with host ports.
fn generated(nodes: usize, instances: usize, seed: u64) -> (Snapshot, Vec<Pending>) {
    let mut rng = Lcg(seed);
    let mut snap = Snapshot::default();
    for i in 0..nodes {
        let mut n = node(
            &format!("node-{i:03}"),
            1000 * (1 + rng.below(8)),
            MIB * 512 * (1 + rng.below(16)),
        );
        n.schedulable = rng.below(10) != 0;
        if rng.below(10) == 0 {
            n.cpu_millis = 0;
        }
        snap.nodes.push(n);
    }
    let random_demand = |rng: &mut Lcg| {
        let service = rng.below(40);
        let mut d = with_resources(
            demand(&format!("svc-{service}")),
            100 * rng.below(12),
            MIB * 128 * rng.below(12),
        );
        if service.is_multiple_of(4) {
            let protocol = if rng.below(2) == 0 {
                Protocol::Tcp
            } else {
                Protocol::Udp
            };
            d = with_port(d, 8000 + (service as u16), protocol);
        }
        d
    };
    for i in 0..nodes * 2 {
        let d = random_demand(&mut rng);
        // Ports are not checked for the existing instances: keep them portless.
        let d = Demand {
            host_ports: vec![],
            ..d
        };
        snap.placed.push(placed(
            &format!("node-{:03}", i % nodes),
            with_resources(d, 100, 64 * MIB),
        ));
    }
    let pending = (0..instances)
        .map(|i| Pending {
            id: format!("instance-{i}"),
            demand: random_demand(&mut rng),
        })
        .collect();
    (snap, pending)
}
