//! A service on the real engine: scale, self-healing, ports, restarts of Corral itself.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::{BUSYBOX, Cluster, WHOAMI, free_port, http_get, wait_for};
use corral_types::{InstanceState, RestartPolicy, ServiceSpec};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_service_of_scale_3_gets_3_running_containers_with_corral_labels() {
    let c = Cluster::start("it-scale3").await;
    c.create_service("s3web", WHOAMI, 3, &[], &[]).await;
    let running = c.wait_running("s3web", 3).await;
    let ids = c.running_containers("s3web");
    assert_eq!(ids.len(), 3);
    for inst in &running {
        assert_eq!(inst.spec.node, "it-scale3");
        assert!(
            ids.contains(&inst.status.container_id),
            "{} not on the engine",
            inst.status.container_id
        );
    }
    let out = c.docker(&["inspect", "--format", "{{.Name}} {{index .Config.Labels \"io.corral.environment\"}} {{index .Config.Labels \"io.corral.service\"}} {{index .Config.Labels \"io.corral.instance\"}}", "s3web-2"]);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "/s3web-2 default s3web s3web-2"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_container_removed_behind_corrals_back_is_replaced() {
    let c = Cluster::start("it-heal").await;
    c.create_service("healweb", WHOAMI, 2, &[], &[]).await;
    let before = c.wait_running("healweb", 2).await;
    let victim = before[0].status.container_id.clone();
    let out = c.docker(&["rm", "-f", &victim]);
    assert!(out.status.success());
    let after = wait_for(
        "a replacement container",
        Duration::from_secs(30),
        || async {
            let running = c.wait_running("healweb", 2).await;
            running
                .iter()
                .all(|i| i.status.container_id != victim)
                .then_some(running)
        },
    )
    .await;
    let replaced = after
        .iter()
        .find(|i| i.meta.name == before[0].meta.name)
        .unwrap();
    assert_eq!(replaced.status.restarts, 1);
    assert_eq!(c.running_containers("healweb").len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scaling_from_3_to_1_removes_two_containers() {
    let c = Cluster::start("it-down").await;
    c.create_service("downweb", WHOAMI, 3, &[], &[]).await;
    c.wait_running("downweb", 3).await;
    c.client
        .scale_service("default", "downweb", 1)
        .await
        .unwrap();
    let left = c.wait_running("downweb", 1).await;
    assert_eq!(left[0].meta.name, "downweb-1");
    wait_for(
        "two containers removed",
        Duration::from_secs(30),
        || async { (c.containers("downweb").len() == 1).then_some(()) },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_published_port_answers_http() {
    let c = Cluster::start("it-port").await;
    let port = free_port();
    c.create_service("portweb", WHOAMI, 1, &[&format!("{port}:80")], &[])
        .await;
    let running = c.wait_running("portweb", 1).await;
    let body = http_get(port, "/").await;
    let short_id = &running[0].status.container_id[..12];
    assert!(body.contains(&format!("Hostname: {short_id}")), "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_replica_needing_a_taken_host_port_stays_pending_with_its_reason() {
    let c = Cluster::start("it-pending").await;
    let port = free_port();
    c.create_service("pendweb", WHOAMI, 2, &[&format!("{port}:80")], &[])
        .await;
    let reason = format!("port {port}/tcp in use on all 1 nodes");
    let pending = wait_for(
        "one running, one pending with its reason",
        Duration::from_secs(30),
        || async {
            let insts = c.instances("pendweb").await;
            let running = insts
                .iter()
                .filter(|i| i.status.state == InstanceState::Running)
                .count();
            let pending: Vec<_> = insts
                .into_iter()
                .filter(|i| i.status.state == InstanceState::Pending && i.status.reason == reason)
                .collect();
            (running == 1 && pending.len() == 1).then_some(pending)
        },
    )
    .await;
    assert!(pending[0].spec.node.is_empty());
    c.client
        .scale_service("default", "pendweb", 1)
        .await
        .unwrap();
    c.wait_running("pendweb", 1).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pending_instance_is_placed_as_soon_as_room_appears() {
    let c = Cluster::start("it-room").await;
    let port = free_port();
    let publish = format!("{port}:80");
    c.create_service("roomold", WHOAMI, 1, &[&publish], &[])
        .await;
    c.wait_running("roomold", 1).await;
    c.create_service("roomnew", WHOAMI, 1, &[&publish], &[])
        .await;
    wait_for(
        "roomnew pending on the port",
        Duration::from_secs(30),
        || async {
            let insts = c.instances("roomnew").await;
            insts
                .iter()
                .any(|i| i.status.reason.contains(&format!("port {port}/tcp")))
                .then_some(())
        },
    )
    .await;
    c.client
        .delete("default", corral_types::Kind::Service, "roomold")
        .await
        .unwrap();
    let running = c.wait_running("roomnew", 1).await;
    assert!(running[0].status.reason.is_empty());
    let body = http_get(port, "/").await;
    assert!(
        body.contains(&running[0].status.container_id[..12]),
        "{body}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_restart_adopts_running_containers_without_duplicates() {
    let mut c = Cluster::start("it-restart").await;
    c.create_service("adoptweb", WHOAMI, 3, &[], &[]).await;
    c.wait_running("adoptweb", 3).await;
    let before = c.running_containers("adoptweb");
    c.stop_processes().await;
    // Containers keep running while Corral is down.
    assert_eq!(c.running_containers("adoptweb"), before);
    c.restart().await;
    c.wait_running("adoptweb", 3).await;
    // Give the agent a few passes to do anything wrong.
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(
        c.containers("adoptweb"),
        before,
        "containers were replaced or duplicated"
    );
    let insts = c.wait_running("adoptweb", 3).await;
    assert!(insts.iter().all(|i| i.status.restarts == 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rm_removes_every_container_of_the_service() {
    let c = Cluster::start("it-rm").await;
    c.create_service("rmweb", WHOAMI, 3, &[], &[]).await;
    c.wait_running("rmweb", 3).await;
    c.client
        .delete("default", corral_types::Kind::Service, "rmweb")
        .await
        .unwrap();
    wait_for(
        "every container and instance gone",
        Duration::from_secs(30),
        || async {
            let gone = c.containers("rmweb").is_empty() && c.instances("rmweb").await.is_empty();
            gone.then_some(())
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_policies_decide_what_an_exit_means() {
    let c = Cluster::start("it-policy").await;
    for (name, policy, code) in [
        ("onfail-ok", RestartPolicy::OnFailure, "0"),
        ("never-bad", RestartPolicy::Never, "3"),
        ("always-ok", RestartPolicy::Always, "0"),
    ] {
        let spec = ServiceSpec {
            image: BUSYBOX.into(),
            scale: 1,
            restart: policy,
            command: vec!["sh".into(), "-c".into(), format!("sleep 1; exit {code}")],
            ..Default::default()
        };
        c.create_service_spec(name, spec).await;
    }
    for (name, code) in [("onfail-ok", 0), ("never-bad", 3)] {
        let inst = wait_for(
            &format!("{name} to exit"),
            Duration::from_secs(30),
            || async {
                let insts = c.instances(name).await;
                insts
                    .into_iter()
                    .find(|i| i.status.state == InstanceState::Exited)
            },
        )
        .await;
        assert_eq!(inst.status.exit_code, Some(code));
        assert_eq!(inst.status.restarts, 0);
    }
    wait_for(
        "always-ok to be restarted",
        Duration::from_secs(30),
        || async {
            let insts = c.instances("always-ok").await;
            insts.iter().any(|i| i.status.restarts >= 1).then_some(())
        },
    )
    .await;
    // Not restarted later either.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let insts = c.instances("onfail-ok").await;
    assert_eq!(insts[0].status.restarts, 0);
    assert_eq!(insts[0].status.state, InstanceState::Exited);
}
