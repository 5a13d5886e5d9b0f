//! The managed network's address plan: environment ranges and node slices.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use reqwest::Method;
use serde_json::{Value, json};

use common::start;

fn join_body(address: &str) -> Value {
    json!({"status": {"address": address, "hostname": "h"}})
}

async fn join(s: &common::TestServer, env: &str, node: &str) -> String {
    let reply = s
        .post(
            &format!("/v1/environments/{env}/nodes/{node}/join"),
            &join_body("10.0.0.1"),
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    reply.json()["node"]["status"]["subnet"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

async fn env_network(s: &common::TestServer, env: &str) -> String {
    let reply = s.get(&format!("/v1/environments/{env}")).await;
    reply.json()["spec"]["network"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

#[tokio::test]
async fn environments_get_the_next_free_slash_16_and_overlaps_are_rejected() {
    let s = start().await;
    // The bootstrapped default environment gets its range on the first join.
    assert_eq!(join(&s, "default", "n1").await, "10.42.1.0/24");
    assert_eq!(env_network(&s, "default").await, "10.42.0.0/16");
    let created = s
        .post(
            "/v1/environments",
            &json!({"meta": {"name": "two"}, "spec": {}}),
        )
        .await;
    assert_eq!(created.status, 200, "{}", created.text);
    assert_eq!(created.json()["spec"]["network"], "10.43.0.0/16");
    let overlap = json!({"meta": {"name": "three"}, "spec": {"network": "10.0.0.0/8"}});
    s.reject(
        Method::POST,
        "/v1/environments",
        overlap.to_string(),
        422,
        Some("spec.network"),
    )
    .await;
    let invalid = json!({"meta": {"name": "three"}, "spec": {"network": "10.50.0.1/16"}});
    s.reject(
        Method::POST,
        "/v1/environments",
        invalid.to_string(),
        422,
        Some("spec.network"),
    )
    .await;
    let own = json!({"meta": {"name": "three"}, "spec": {"network": "192.168.0.0/22"}});
    let created = s.post("/v1/environments", &own).await;
    assert_eq!(created.status, 200, "{}", created.text);
    assert_eq!(join(&s, "three", "a").await, "192.168.1.0/24");
}

#[tokio::test]
async fn an_environment_range_cannot_change_but_a_replace_may_leave_it_out() {
    let s = start().await;
    let created = s
        .post(
            "/v1/environments",
            &json!({"meta": {"name": "two"}, "spec": {}}),
        )
        .await;
    let mut env = created.json();
    env["spec"]["description"] = "changed".into();
    env["spec"].as_object_mut().unwrap().remove("network");
    let replaced = s.put("/v1/environments/two", &env).await;
    assert_eq!(replaced.status, 200, "{}", replaced.text);
    assert_eq!(replaced.json()["spec"]["network"], "10.43.0.0/16");
    let mut env = replaced.json();
    env["spec"]["network"] = "10.99.0.0/16".into();
    s.reject(
        Method::PUT,
        "/v1/environments/two",
        env.to_string(),
        422,
        Some("spec.network"),
    )
    .await;
}

#[tokio::test]
async fn node_slices_are_the_lowest_free_and_kept_across_rejoins() {
    let s = start().await;
    assert_eq!(join(&s, "default", "a").await, "10.42.1.0/24");
    assert_eq!(join(&s, "default", "b").await, "10.42.2.0/24");
    assert_eq!(join(&s, "default", "a").await, "10.42.1.0/24");
    let deleted = s
        .call(Method::DELETE, "/v1/environments/default/nodes/a", "")
        .await;
    assert_eq!(deleted.status, 200, "{}", deleted.text);
    assert_eq!(join(&s, "default", "c").await, "10.42.1.0/24");
    assert_eq!(join(&s, "default", "b").await, "10.42.2.0/24");
}

#[tokio::test]
async fn concurrent_joins_never_share_a_slice() {
    let s = std::sync::Arc::new(start().await);
    let mut tasks = Vec::new();
    for i in 0..12 {
        let s = s.clone();
        tasks.push(tokio::spawn(async move {
            join(&s, "default", &format!("n{i}")).await
        }));
    }
    let mut slices = Vec::new();
    for t in tasks {
        slices.push(t.await.unwrap());
    }
    slices.sort();
    slices.dedup();
    assert_eq!(slices.len(), 12, "{slices:?}");
    assert!(slices.iter().all(|s| s.starts_with("10.42.")));
}
