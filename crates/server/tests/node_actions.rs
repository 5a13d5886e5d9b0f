//! `node drain`, `node activate` and `node rm` through the API (no
//! controllers run here: what the API itself does to the store).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{TestServer, start};
use reqwest::{Method, StatusCode};

use corral_api::JoinRequest;
use corral_types::{
    ContainerLabels, Instance, InstanceSpec, Kind, Node, NodeState, NodeStatus, Object, ServiceSpec,
};

async fn join(s: &TestServer, name: &str) {
    let req = JoinRequest {
        labels: Default::default(),
        status: NodeStatus {
            address: "10.0.0.1".into(),
            cpu_millis: 2000,
            memory_bytes: 1 << 30,
            ..NodeStatus::default()
        },
    };
    s.client.join_node("default", name, &req).await.unwrap();
}

fn stored_node(s: &TestServer, name: &str) -> Node {
    Node::from_raw(s.store.get(Kind::Node, "default", name).unwrap()).unwrap()
}

/// An instance placed on `node`, as the controllers would write it.
fn place(s: &TestServer, name: &str, node: &str, removing: bool) {
    let mut inst: Instance = Object::new(
        Kind::Instance,
        "default",
        name,
        InstanceSpec {
            service: "web".into(),
            node: node.into(),
            launch: ServiceSpec {
                image: "img".into(),
                ..Default::default()
            },
            removing,
            ..Default::default()
        },
    );
    inst.meta
        .labels
        .insert(ContainerLabels::NODE.into(), node.into());
    inst.meta.uid = format!("uid-{name}");
    s.store.create(inst.to_raw().unwrap()).unwrap();
}

#[tokio::test]
async fn drain_marks_the_node_draining_and_unschedulable_and_activate_clears_both() {
    let s = start().await;
    join(&s, "n1").await;
    let drained = s.client.drain_node("default", "n1").await.unwrap();
    assert!(drained.spec.draining && drained.spec.unschedulable);
    let stored = stored_node(&s, "n1");
    assert!(stored.spec.draining && stored.spec.unschedulable);
    // Idempotent: a second drain writes nothing.
    let rev = s.revision();
    s.client.drain_node("default", "n1").await.unwrap();
    assert_eq!(s.revision(), rev);
    // The agent joining again (a restart) keeps what the operator asked.
    join(&s, "n1").await;
    assert!(stored_node(&s, "n1").spec.draining);

    let active = s.client.activate_node("default", "n1").await.unwrap();
    assert!(!active.spec.draining && !active.spec.unschedulable);
    assert_eq!(stored_node(&s, "n1").spec, Default::default());
}

#[tokio::test]
async fn drain_and_activate_of_an_unknown_node_are_404_and_other_methods_405() {
    let s = start().await;
    for action in ["drain", "activate"] {
        let path = format!("/v1/environments/default/nodes/nope/{action}");
        s.reject(Method::POST, &path, Vec::new(), 404, None).await;
        let path = format!("/v1/environments/nope/nodes/n1/{action}");
        s.reject(Method::POST, &path, Vec::new(), 404, None).await;
    }
    join(&s, "n1").await;
    s.reject(
        Method::GET,
        "/v1/environments/default/nodes/n1/drain",
        Vec::new(),
        405,
        None,
    )
    .await;
}

#[tokio::test]
async fn removing_an_active_node_with_instances_is_refused_unless_forced() {
    let s = start().await;
    join(&s, "n1").await;
    place(&s, "web-1", "n1", false);
    place(&s, "web-2", "n1", false);
    let reply = s
        .reject(
            Method::DELETE,
            "/v1/environments/default/nodes/n1",
            Vec::new(),
            409,
            None,
        )
        .await;
    assert!(
        reply.text.contains("active and runs 2 instances"),
        "{}",
        reply.text
    );
    let err = s
        .client
        .remove_node("default", "n1", false)
        .await
        .unwrap_err();
    assert!(err.is_conflict());

    s.client.remove_node("default", "n1", true).await.unwrap();
    assert!(s.store.get(Kind::Node, "default", "n1").is_err());
    // The instances stay for the controllers to reschedule.
    assert!(s.store.get(Kind::Instance, "default", "web-1").is_ok());
}

#[tokio::test]
async fn an_empty_or_disconnected_node_is_removed_without_force() {
    let s = start().await;
    join(&s, "empty").await;
    join(&s, "lost").await;
    // Instances being removed do not count.
    place(&s, "web-1", "empty", true);
    place(&s, "web-2", "lost", false);
    let mut lost = stored_node(&s, "lost");
    lost.status.state = NodeState::Disconnected;
    s.store.update(lost.to_raw().unwrap()).unwrap();

    s.client
        .remove_node("default", "empty", false)
        .await
        .unwrap();
    s.client
        .remove_node("default", "lost", false)
        .await
        .unwrap();
    assert_eq!(s.client.nodes("default").await.unwrap().items.len(), 0);
    let err = s
        .client
        .remove_node("default", "lost", false)
        .await
        .unwrap_err();
    assert!(err.is_not_found(), "{err}");
}

#[tokio::test]
async fn the_node_route_still_gets_and_replaces_nodes() {
    let s = start().await;
    join(&s, "n1").await;
    let reply = s.get("/v1/environments/default/nodes/n1").await;
    assert_eq!(reply.status, StatusCode::OK);
    let mut node: Node = serde_json::from_str(&reply.text).unwrap();
    node.spec.unschedulable = true;
    let updated = s.client.update(&node).await.unwrap();
    assert!(updated.spec.unschedulable && !updated.spec.draining);
    assert_eq!(
        s.get("/v1/environments/nope/nodes/n1").await.status,
        StatusCode::NOT_FOUND
    );
    // The other node routes are untouched.
    s.client.heartbeat("default", "n1").await.unwrap();
}

#[tokio::test]
async fn a_status_batch_of_the_node_itself_counts_as_its_heartbeat_and_an_admins_does_not() {
    let s = start().await;
    let (node, _) = common::joined_node(&s, "default", "n1").await;
    let seen = |s: &TestServer| {
        s.state
            .liveness
            .last_seen("default", "n1", std::time::Instant::now())
    };
    let joined = seen(&s);
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    s.client
        .report_statuses("default", "n1", &[])
        .await
        .unwrap();
    assert_eq!(seen(&s), joined, "the admin's batch is not the node's");
    node.report_statuses("default", "n1", &[]).await.unwrap();
    assert!(seen(&s) > joined, "the node's own batch is a heartbeat");
}
