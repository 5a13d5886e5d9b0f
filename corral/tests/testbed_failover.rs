//! Failover on the 3-host test bed: a killed host's instances run
//! elsewhere; a partitioned host heals without duplicates; a drained node
//! empties while its services stay at scale. The time a failover takes is
//! measured by `cargo xtask bench failover`, not asserted here.
//!
//! The tests take turns (one test bed at a time): three test beds at once
//! on a small machine would starve the agents' heartbeats, and the node
//! timeout is 5 s.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use common::testbed::{Down, blocking};
use common::{WHOAMI, wait_for};
use corral_api::Client;
use corral_testing::{Host, Testbed};
use corral_types::{
    ContainerLabels, Instance, InstanceState, Kind, NodeState, Object, ServiceMode, ServiceSpec,
};

/// Generous: the node timeout is 5 s; this only bounds a broken run.
const WAIT: Duration = Duration::from_secs(60);

static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

async fn bring_up(name: &'static str) -> (Testbed, Client, Down) {
    let (bed, down) = common::testbed::bring_up(name, 3).await;
    let client = common::testbed::client_of(&bed);
    for name in ["h1", "h2", "h3"] {
        wait_node(&client, name, NodeState::Active).await;
    }
    (bed, client, down)
}

async fn wait_node(client: &Client, name: &str, state: NodeState) {
    wait_for(&format!("node {name} {state}"), WAIT, || async move {
        let nodes = client.nodes("default").await.ok()?;
        let node = nodes.items.into_iter().find(|n| n.meta.name == name)?;
        (node.status.state == state).then_some(())
    })
    .await;
}

async fn create(client: &Client, name: &str, scale: u32, mode: ServiceMode) {
    let spec = ServiceSpec {
        image: WHOAMI.into(),
        scale,
        mode,
        ..Default::default()
    };
    let service: corral_types::Service = Object::new(Kind::Service, "default", name, spec);
    client.create(&service).await.unwrap();
}

async fn instances(client: &Client, service: &str) -> Option<Vec<Instance>> {
    Some(
        client
            .service_instances("default", service)
            .await
            .ok()?
            .items,
    )
}

/// Waits until the service has exactly `n` instances, all running, none
/// on `avoid`.
async fn running_without(client: &Client, service: &str, n: usize, avoid: &str) -> Vec<Instance> {
    wait_for(
        &format!("{n} running instances of {service}, none on {avoid:?}"),
        WAIT,
        || async move {
            let all = instances(client, service).await?;
            let ok = all.len() == n
                && all
                    .iter()
                    .all(|i| i.status.state == InstanceState::Running && i.spec.node != avoid);
            ok.then_some(all)
        },
    )
    .await
}

/// The ids of the containers of `service` running on `host`'s engine.
fn containers_on(host: &Host, service: &str) -> Vec<String> {
    let out = host
        .docker()
        .args(["ps", "-q", "--no-trunc", "--filter"])
        .arg(format!("label={}={service}", ContainerLabels::SERVICE))
        .output()
        .unwrap();
    assert!(out.status.success(), "docker ps on {}", host.name);
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_string)
        .collect()
}

/// Running containers of `service` per live host (a killed host's engine
/// does not answer and counts as none).
fn containers_per_host(
    bed: &Testbed,
    service: &str,
    skip: Option<usize>,
) -> BTreeMap<String, usize> {
    bed.all_hosts()
        .iter()
        .filter(|h| Some(h.index) != skip)
        .map(|h| (h.name.clone(), containers_on(h, service).len()))
        .collect()
}

fn host_index(node: &str) -> usize {
    node.trim_start_matches('h').parse().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_hosts_instances_run_elsewhere_and_removing_it_drops_its_global_instance() {
    let _turn = ONE_AT_A_TIME.lock().await;
    let (bed, client, _down) = bring_up("test-failover-kill").await;
    create(&client, "fo-web", 6, ServiceMode::Replicated).await;
    create(&client, "fo-glob", 0, ServiceMode::Global).await;
    let before = running_without(&client, "fo-web", 6, "").await;
    running_without(&client, "fo-glob", 3, "").await;
    let victim = "h2".to_string();
    let on_victim = before.iter().filter(|i| i.spec.node == victim).count();
    assert_eq!(on_victim, 2, "6 replicas spread 2 per host");

    let killer = bed.clone();
    let killed_at = Instant::now();
    blocking(move || killer.kill_host(host_index("h2")).unwrap()).await;
    let after = running_without(&client, "fo-web", 6, &victim).await;
    eprintln!(
        "the killed host's replicas ran elsewhere {:.1} s after the kill",
        killed_at.elapsed().as_secs_f64()
    );
    let kept: Vec<&Instance> = before.iter().filter(|i| i.spec.node != victim).collect();
    for old in kept {
        let now = after.iter().find(|i| i.meta.name == old.meta.name).unwrap();
        assert_eq!(
            now.status.container_id, old.status.container_id,
            "{} on a live host was left alone",
            old.meta.name
        );
    }
    let per_host = containers_per_host(&bed, "fo-web", Some(host_index("h2")));
    assert_eq!(per_host.values().sum::<usize>(), 6, "{per_host:?}");
    // The global instance of the dead host stays (it resumes if the host
    // comes back) ...
    let glob = instances(&client, "fo-glob").await.unwrap();
    assert!(glob.iter().any(|i| i.spec.node == victim), "{glob:?}");

    // ... until the node is removed (disconnected: no --force needed).
    client.remove_node("default", &victim, false).await.unwrap();
    wait_for("fo-glob without h2's instance", WAIT, || async {
        let all = instances(&client, "fo-glob").await?;
        (all.len() == 2 && all.iter().all(|i| i.spec.node != victim)).then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_partitioned_host_heals_without_duplicates_and_its_global_instance_resumes() {
    let _turn = ONE_AT_A_TIME.lock().await;
    let (bed, client, _down) = bring_up("test-failover-cut").await;
    create(&client, "fo-heal", 3, ServiceMode::Replicated).await;
    create(&client, "fo-stay", 0, ServiceMode::Global).await;
    running_without(&client, "fo-heal", 3, "").await;
    let globals = running_without(&client, "fo-stay", 3, "").await;
    let h3 = bed.host(3).unwrap();
    let old_on_h3 = containers_on(&h3, "fo-heal");
    assert_eq!(old_on_h3.len(), 1, "one replica per host");
    let global_on_h3 = globals.iter().find(|i| i.spec.node == "h3").unwrap();

    let cutter = bed.clone();
    blocking(move || cutter.cut_link(3).unwrap()).await;
    wait_node(&client, "h3", NodeState::Disconnected).await;
    running_without(&client, "fo-heal", 3, "h3").await;
    // Cut off, not dead: the old container still runs there meanwhile.
    assert_eq!(containers_on(&h3, "fo-heal"), old_on_h3);

    let healer = bed.clone();
    blocking(move || healer.restore_link(3).unwrap()).await;
    wait_node(&client, "h3", NodeState::Active).await;
    // Its agent finds the replaced instance gone and removes its container.
    let h3_again = h3.clone();
    wait_for("the replaced container gone from h3", WAIT, || {
        let h3 = &h3_again;
        async move { containers_on(h3, "fo-heal").is_empty().then_some(()) }
    })
    .await;
    // No service runs more containers than its scale, now or a little later.
    for _ in 0..6 {
        let per_host = containers_per_host(&bed, "fo-heal", None);
        assert_eq!(per_host.values().sum::<usize>(), 3, "{per_host:?}");
        let per_host = containers_per_host(&bed, "fo-stay", None);
        assert_eq!(per_host.values().sum::<usize>(), 3, "{per_host:?}");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    // The global instance was not replaced: the same container resumed.
    let now = instances(&client, "fo-stay").await.unwrap();
    let again = now.iter().find(|i| i.spec.node == "h3").unwrap();
    assert_eq!(again.meta.uid, global_on_h3.meta.uid);
    assert_eq!(
        containers_on(&h3, "fo-stay"),
        std::slice::from_ref(&again.status.container_id)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_drained_node_empties_while_its_services_stay_at_scale() {
    let _turn = ONE_AT_A_TIME.lock().await;
    let (bed, client, _down) = bring_up("test-failover-drain").await;
    create(&client, "fo-drain", 3, ServiceMode::Replicated).await;
    create(&client, "fo-every", 0, ServiceMode::Global).await;
    running_without(&client, "fo-drain", 3, "").await;
    running_without(&client, "fo-every", 3, "").await;
    let cli = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_corral"))
            .args(args)
            .env("CORRAL_URL", bed.server_url())
            .env("CORRAL_TOKEN", bed.token().unwrap())
            .env("CORRAL_CA_FILE", bed.root().join("server/ca.pem"))
            .output()
            .unwrap()
    };

    let refused = cli(&["node", "rm", "h1"]);
    assert_eq!(refused.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(stderr.contains("active and runs 2 instances"), "{stderr}");

    let drained = client.drain_node("default", "h1").await.unwrap();
    assert!(drained.spec.draining);
    let ls = cli(&["node", "ls"]);
    assert!(String::from_utf8_lossy(&ls.stdout).contains("draining"));
    // Start-first: at every look, at least 3 replicas run and are kept.
    let deadline = Instant::now() + WAIT;
    loop {
        let all = instances(&client, "fo-drain").await.unwrap();
        let serving = all
            .iter()
            .filter(|i| i.status.state == InstanceState::Running && !i.spec.removing)
            .count();
        assert!(
            serving >= 3,
            "only {serving} serving during the drain: {all:?}"
        );
        let done = all.len() == 3 && all.iter().all(|i| i.spec.node != "h1");
        if done && serving == 3 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the drain did not finish: {all:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    running_without(&client, "fo-every", 2, "h1").await;
    let h1 = bed.host(1).unwrap();
    let h1_again = h1.clone();
    wait_for("h1's engine without corral containers", WAIT, || {
        let h1 = &h1_again;
        async move {
            (containers_on(h1, "fo-drain").is_empty() && containers_on(h1, "fo-every").is_empty())
                .then_some(())
        }
    })
    .await;
    let waited = cli(&["node", "drain", "h1", "--wait", "--timeout", "10s"]);
    assert!(waited.status.success(), "{waited:?}");

    let activated = cli(&["node", "activate", "h1"]);
    assert!(activated.status.success(), "{activated:?}");
    // Schedulable again: the global service comes back to it.
    running_without(&client, "fo-every", 3, "").await;
    let ls = cli(&["node", "ls"]);
    assert!(!String::from_utf8_lossy(&ls.stdout).contains("draining"));
}
