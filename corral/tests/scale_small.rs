//! The scale benchmark's run at a small size, as a correctness check (not a
//! timing): the real server in-process, simulated nodes (the real agent on
//! the recording fake engine), and the benchmark's mix of services. Every
//! instance must be placed and running with no rule broken: no host port
//! booked twice on a node, the `disk=ssd` rule held, one instance of each
//! global service per node, no node over its CPU or memory, replicas spread
//! over the zones.

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[allow(dead_code)]
#[path = "../../xtask/src/bench_scale_mix.rs"]
mod bench_scale_mix;
#[allow(dead_code)]
#[path = "../../xtask/src/bench_scale_nodes.rs"]
mod bench_scale_nodes;

use std::time::{Duration, Instant};

use bench_scale_mix::{check_rules, expected_total, plan_services, service_spec, spread_skew};
use bench_scale_nodes::SimNodes;
use corral_api::Client;
use corral_server::{ServerOptions, start};
use corral_types::{Instance, Kind, NodeState, Object, Service};

const ENV: &str = "default";
const NODES: usize = 50;
const INSTANCES: usize = 1000;
const SERVICES: usize = 20;
const TIMEOUT: Duration = Duration::from_secs(120);

/// Polls `check` every 250 ms until it yields a value; panics after [`TIMEOUT`]
/// with the last thing it said.
async fn wait_until<T, F, Fut>(what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, String>>,
{
    let deadline = Instant::now() + TIMEOUT;
    loop {
        let last = match check().await {
            Ok(value) => return value,
            Err(last) => last,
        };
        assert!(
            Instant::now() < deadline,
            "timed out after {}s waiting for {what}: {last}",
            TIMEOUT.as_secs()
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_small_scale_run_places_everything_and_breaks_no_rule() {
    let tmp = tempfile::tempdir().unwrap();
    let mut options = ServerOptions::new("127.0.0.1:0", &tmp.path().join("data"));
    // Many passes make the instances, a few hundred each, as a large
    // deploy does with the default cap.
    options.controllers.max_creates_per_pass = 150;
    let server = start(options).await.unwrap();
    let client = Client::new(&server.url, &server.admin_token, &server.ca_pem).unwrap();
    let mut nodes = SimNodes::start(&server.url, &server.admin_token, &server.ca_pem, 0, NODES);
    wait_until("the simulated nodes to be active", || async {
        let list = client.nodes(ENV).await.map_err(|e| e.to_string())?;
        let active = list
            .items
            .iter()
            .filter(|n| n.status.state == NodeState::Active)
            .count();
        (active == NODES)
            .then_some(())
            .ok_or(format!("{active} of {NODES} active"))
    })
    .await;

    let plans = plan_services(NODES, INSTANCES, SERVICES).unwrap();
    assert_eq!(expected_total(&plans), INSTANCES as u64, "{plans:#?}");
    for plan in &plans {
        let service: Service = Object::new(Kind::Service, ENV, &plan.name, service_spec(plan));
        client.create(&service).await.unwrap();
    }
    let expected = expected_total(&plans);
    wait_until("every instance to run", || async {
        let services = client.services(ENV).await.map_err(|e| e.to_string())?;
        let running: u64 = services
            .items
            .iter()
            .map(|s| u64::from(s.status.running))
            .sum();
        (running == expected)
            .then_some(())
            .ok_or(format!("{running} of {expected} running"))
    })
    .await;
    let failed = nodes.failed();
    assert!(failed.is_empty(), "agents ended: {failed:?}");
    assert_eq!(nodes.running_containers() as u64, expected);

    let all_nodes = client.nodes(ENV).await.unwrap().items;
    let instances: Vec<Instance> = client.list(ENV, Kind::Instance, "").await.unwrap().items;
    let problems = check_rules(&plans, &all_nodes, &instances);
    assert!(
        problems.is_empty(),
        "rules broken:\n{}",
        problems.join("\n")
    );

    nodes.stop(Duration::from_secs(10)).await;
    server.stop().await;
}

#[test]
fn the_mix_has_every_shape_and_the_asked_total() {
    use bench_scale_mix::Shape;
    for (nodes, instances, services) in [
        (NODES, INSTANCES, SERVICES),
        (500, 15_000, 100),
        (1000, 50_000, 333),
        (5000, 150_000, 1000),
    ] {
        let plans = plan_services(nodes, instances, services).unwrap();
        assert_eq!(plans.len(), services);
        assert_eq!(expected_total(&plans), instances as u64);
        for word in ["spread", "port", "ssd", "reserved", "global"] {
            assert!(
                plans.iter().any(|p| p.shape.word() == word),
                "{word} missing at {nodes}"
            );
        }
        for p in &plans {
            if let Shape::HostPort(_) = p.shape {
                assert!(p.scale as usize <= nodes);
            }
        }
    }
}

/// The check is not vacuous: it finds each kind of broken rule.
#[test]
fn the_check_finds_broken_rules() {
    use bench_scale_mix::{Shape, node_labels, node_name};
    use corral_types::{InstanceSpec, InstanceState, Node, NodeSpec, NodeStatus};
    let plans = plan_services(3, 30, 10).unwrap();
    let nodes: Vec<Node> = (0..3)
        .map(|i| {
            let mut node: Node = Object::new(Kind::Node, ENV, &node_name(i), NodeSpec::default());
            node.meta.labels = node_labels(i);
            node.status = NodeStatus {
                cpu_millis: 1000,
                memory_bytes: 1 << 30,
                ..NodeStatus::default()
            };
            node
        })
        .collect();
    // Every instance of every service on node 1 (not an ssd node).
    let mut instances = Vec::new();
    for plan in &plans {
        for ordinal in 1..=plan.expected {
            let spec = InstanceSpec {
                service: plan.name.clone(),
                ordinal,
                node: node_name(1),
                launch: service_spec(plan),
                ..InstanceSpec::default()
            };
            let name = format!("{}-{ordinal}", plan.name);
            let mut inst: Instance = Object::new(Kind::Instance, ENV, &name, spec);
            inst.status.state = InstanceState::Running;
            instances.push(inst);
        }
    }
    let problems = check_rules(&plans, &nodes, &instances).join("\n");
    let shapes: Vec<Shape> = plans.iter().map(|p| p.shape).collect();
    assert!(shapes.contains(&Shape::Ssd) && shapes.contains(&Shape::Reserved));
    for expected in [
        "booked twice",
        "not an ssd node",
        "two instances on",
        "over capacity",
    ] {
        assert!(
            problems.contains(expected),
            "{expected:?} not found in:\n{problems}"
        );
    }
    assert!(spread_skew(&plans, &nodes, &instances).unwrap().0 > 1);
    instances.pop();
    let problems = check_rules(&plans, &nodes, &instances).join("\n");
    assert!(problems.contains("expected"), "{problems}");
}
