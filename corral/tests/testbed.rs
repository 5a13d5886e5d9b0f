//! The multi-host test bed (crates/testing `Testbed`): two hosts, each a
//! network namespace with its own Docker Engine and `corral agent`, joined
//! to one `corral server`. Replicas spread one per host, and real faults (a
//! cut link, a killed host) disconnect the nodes.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::testbed::{blocking, bring_up};
use common::{WHOAMI, wait_for};
use corral_api::Client;
use corral_testing::{Host, Testbed};
use corral_types::{Instance, InstanceState, Kind, NodeState, Object, ServiceSpec};

/// The server marks a node disconnected 5 s after its last heartbeat
/// (`corral server --node-timeout`); this only bounds a broken run.
const DISCONNECT_TIMEOUT: Duration = Duration::from_secs(40);

async fn node_state(client: &Client, name: &str) -> Option<(NodeState, String)> {
    let nodes = client.nodes("default").await.ok()?;
    let node = nodes.items.into_iter().find(|n| n.meta.name == name)?;
    Some((node.status.state, node.status.address))
}

async fn wait_node(client: &Client, name: &str, state: NodeState, timeout: Duration) {
    wait_for(&format!("node {name} {state}"), timeout, || async move {
        let (now, _) = node_state(client, name).await?;
        (now == state).then_some(())
    })
    .await;
}

async fn running(client: &Client, service: &str, n: usize) -> Vec<Instance> {
    wait_for(
        &format!("{n} running instances of {service}"),
        Duration::from_secs(60),
        || async move {
            let all = client
                .service_instances("default", service)
                .await
                .ok()?
                .items;
            let running: Vec<Instance> = all
                .iter()
                .filter(|i| i.status.state == InstanceState::Running && !i.spec.removing)
                .cloned()
                .collect();
            (running.len() == n && all.len() == n).then_some(running)
        },
    )
    .await
}

/// `docker inspect` of a container on one host's engine: whether it runs
/// there (`None`: that engine does not know it).
fn runs_on(host: &Host, container: &str) -> Option<bool> {
    let out = host
        .docker()
        .args(["inspect", "--format", "{{.State.Running}}", container])
        .output()
        .unwrap();
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim() == "true")
}

/// How many containers of `service` run on `host`'s engine.
fn service_containers(host: &Host, service: &str) -> usize {
    let out = host
        .docker()
        .args(["ps", "-q", "--filter"])
        .arg(format!("label=io.corral.service={service}"))
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).lines().count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_spread_across_testbed_hosts_and_cut_or_killed_hosts_disconnect() {
    let (bed, mut down) = bring_up("test-faults", 2).await;
    let (h1, h2) = (bed.host(1).unwrap(), bed.host(2).unwrap());
    let client = common::testbed::client_of(&bed);

    // Both nodes join from their own namespace, so they report its address.
    for host in [&h1, &h2] {
        wait_node(
            &client,
            &host.name,
            NodeState::Active,
            Duration::from_secs(30),
        )
        .await;
        let (_, address) = node_state(&client, &host.name).await.unwrap();
        assert_eq!(
            address,
            host.address.to_string(),
            "address of {}",
            host.name
        );
    }
    assert_ne!(h1.address, h2.address);

    // Two replicas: one per host, each container on its own host's engine.
    let spec = ServiceSpec {
        image: WHOAMI.into(),
        scale: 2,
        ..Default::default()
    };
    let service: corral_types::Service = Object::new(Kind::Service, "default", "tb-web", spec);
    client.create(&service).await.unwrap();
    let instances = running(&client, "tb-web", 2).await;
    let mut nodes: Vec<&str> = instances.iter().map(|i| i.spec.node.as_str()).collect();
    nodes.sort_unstable();
    assert_eq!(nodes, ["h1", "h2"], "one replica per host");
    for instance in &instances {
        let (here, there) = if instance.spec.node == "h1" {
            (&h1, &h2)
        } else {
            (&h2, &h1)
        };
        let container = &instance.status.container_id;
        assert_eq!(
            runs_on(here, container),
            Some(true),
            "{container} on {}",
            here.name
        );
        assert_eq!(
            runs_on(there, container),
            None,
            "{container} on {}",
            there.name
        );
    }
    let container_on = |node: &str| {
        instances
            .iter()
            .find(|i| i.spec.node == node)
            .map(|i| i.status.container_id.clone())
            .unwrap()
    };
    let (on_h1, on_h2) = (container_on("h1"), container_on("h2"));

    // Both faults at once (their timeouts overlap): h2's cable is pulled,
    // h1 dies. Both of the two nodes are then disconnected: more than half,
    // so nothing is rescheduled.
    let faulted = bed.clone();
    blocking(move || {
        faulted.cut_link(2).unwrap();
        faulted.kill_host(1).unwrap();
    })
    .await;
    let status = bed.status();
    assert!(
        !status[0].engine && !status[0].agent,
        "h1 is dead: {status:?}"
    );
    assert_eq!(status[1].link_up, Some(false), "h2 is cut off: {status:?}");
    assert!(
        status[1].engine && status[1].agent,
        "h2 still runs: {status:?}"
    );
    wait_node(&client, "h2", NodeState::Disconnected, DISCONNECT_TIMEOUT).await;
    wait_node(&client, "h1", NodeState::Disconnected, DISCONNECT_TIMEOUT).await;
    // Cut off is not dead: h2's container kept running.
    assert_eq!(runs_on(&h2, &on_h2), Some(true));

    // The cable back in: h2 is active again. h1 started again: active, and
    // its agent brings its replica back.
    let healed = bed.clone();
    blocking(move || {
        healed.restore_link(2).unwrap();
        healed.start_host(1).unwrap();
    })
    .await;
    wait_node(&client, "h2", NodeState::Active, Duration::from_secs(30)).await;
    wait_node(&client, "h1", NodeState::Active, Duration::from_secs(30)).await;
    // Its old container died with it. Either h1's replica was kept (both
    // nodes disconnected: nothing moves) and its agent replaces the
    // container, or it was moved while h2 still looked alive: either way
    // the service ends with its 2 replicas running, one container each.
    let hosts = [h1.clone(), h2.clone()];
    wait_for(
        "2 running replicas of tb-web, 2 containers in all, h1's old one gone",
        Duration::from_secs(60),
        || {
            let (client, hosts, on_h1) = (&client, &hosts, &on_h1);
            async move {
                let all = client
                    .service_instances("default", "tb-web")
                    .await
                    .ok()?
                    .items;
                let running = all
                    .iter()
                    .filter(|i| i.status.state == InstanceState::Running)
                    .filter(|i| {
                        let host = hosts.iter().find(|h| h.name == i.spec.node);
                        host.is_some_and(|h| runs_on(h, &i.status.container_id) == Some(true))
                    })
                    .count();
                let containers: usize = hosts.iter().map(|h| service_containers(h, "tb-web")).sum();
                (all.len() == 2
                    && running == 2
                    && containers == 2
                    && runs_on(&hosts[0], on_h1) != Some(true))
                .then_some(())
            }
        },
    )
    .await;

    blocking(move || down.now())
        .await
        .unwrap_or_else(|e| panic!("{}", e.chain()));
    assert!(!Testbed::exists(bed.root()), "nothing is left");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_replicas_of_a_dead_host_are_rescheduled_on_live_hosts() {
    let (bed, mut down) = bring_up("test-reschedule", 3).await;
    let client = common::testbed::client_of(&bed);
    for name in ["h1", "h2", "h3"] {
        wait_node(&client, name, NodeState::Active, Duration::from_secs(30)).await;
    }
    let spec = ServiceSpec {
        image: WHOAMI.into(),
        scale: 2,
        ..Default::default()
    };
    let service: corral_types::Service = Object::new(Kind::Service, "default", "tb-move", spec);
    client.create(&service).await.unwrap();
    let before = running(&client, "tb-move", 2).await;
    let victim = before[0].spec.node.clone();
    let survivor = before[1].spec.node.clone();
    assert_ne!(victim, survivor, "one replica per host");
    let index: usize = victim.trim_start_matches('h').parse().unwrap();

    let killer = bed.clone();
    blocking(move || killer.kill_host(index).unwrap()).await;
    wait_node(
        &client,
        &victim,
        NodeState::Disconnected,
        DISCONNECT_TIMEOUT,
    )
    .await;
    // Lost as soon as it is marked disconnected (`--reschedule-after 0s`):
    // its replica is made again on the host that had none, and the other
    // replica is left alone.
    let after = wait_for(
        "the dead host's replica running elsewhere",
        Duration::from_secs(60),
        || {
            let (client, victim) = (&client, &victim);
            async move {
                let all = client
                    .service_instances("default", "tb-move")
                    .await
                    .ok()?
                    .items;
                let ok = all.len() == 2
                    && all.iter().all(|i| {
                        i.status.state == InstanceState::Running && &i.spec.node != victim
                    });
                ok.then_some(all)
            }
        },
    )
    .await;
    let mut nodes: Vec<&str> = after.iter().map(|i| i.spec.node.as_str()).collect();
    nodes.sort_unstable();
    let mut expected: Vec<&str> = ["h1", "h2", "h3"]
        .into_iter()
        .filter(|n| *n != victim)
        .collect();
    expected.sort_unstable();
    assert_eq!(nodes, expected, "spread over the live hosts");
    let kept = after.iter().find(|i| i.spec.node == survivor).unwrap();
    let was = before.iter().find(|i| i.spec.node == survivor).unwrap();
    assert_eq!(
        kept.status.container_id, was.status.container_id,
        "the live replica was not touched"
    );

    blocking(move || down.now())
        .await
        .unwrap_or_else(|e| panic!("{}", e.chain()));
}
