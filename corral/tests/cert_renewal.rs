//! A running agent renews its node's client certificate in place before it
//! expires (here the server issues certificates for 30 s) and goes on
//! working once the first one has expired, while the expired certificate
//! is refused at the TLS layer.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::{BUSYBOX, Cluster, wait_for};
use corral_api::{Client, Trust};
use corral_types::NodeState;

/// The node's certificate and key and its credential, as the agent keeps
/// them in its state directory.
fn saved(state: &std::path::Path) -> (String, String, String) {
    let text = std::fs::read_to_string(state.join("credential.json")).unwrap();
    let id: serde_json::Value = serde_json::from_str(&text).unwrap();
    let field = |name: &str| id[name].as_str().unwrap().to_string();
    (
        field("certificate_pem"),
        field("key_pem"),
        field("credential"),
    )
}

fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        .try_into()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_running_agent_renews_its_certificate_and_works_on_after_the_first_expired() {
    let state = tempfile::tempdir().unwrap();
    let state_dir = state.path().to_path_buf();
    let cluster = Cluster::start_with("renewer", move |server, agent| {
        server.node_certificate_validity = Duration::from_secs(30);
        agent.renewal_check = Duration::from_millis(500);
        agent.state_dir = Some(state_dir.clone());
    })
    .await;
    let (first_cert, first_key, credential) = saved(state.path());
    let first_expires = corral_pki::expires_of_pem(&first_cert).unwrap();

    // Due with a third of its 37.5 s (30 s and a quarter backdated) left.
    wait_for(
        "the agent to renew its certificate",
        Duration::from_secs(40),
        || {
            let dir = state.path().to_path_buf();
            let first = first_cert.clone();
            async move { (saved(&dir).0 != first).then_some(()) }
        },
    )
    .await;
    let wait = first_expires + 2 - unix_now();
    tokio::time::sleep(Duration::from_secs(wait.max(0).try_into().unwrap())).await;

    // The first certificate has expired: refused before any request.
    let url = cluster.url();
    let ca = std::fs::read_to_string(cluster.data_dir.join("ca.pem")).unwrap();
    let expired = Client::with_trust(
        &url,
        &credential,
        Trust::pinned(&ca).with_identity(&first_cert, &first_key),
    )
    .unwrap();
    let err = expired.heartbeat("default", "renewer").await.unwrap_err();
    assert!(err.status().is_none(), "refused at the TLS layer: {err}");

    // The agent works on with its new certificate: the node stays active
    // and a new service's container runs on it.
    let nodes = cluster.client.nodes("default").await.unwrap();
    let node = nodes
        .items
        .iter()
        .find(|n| n.meta.name == "renewer")
        .unwrap();
    assert_eq!(node.status.state, NodeState::Active);
    cluster
        .create_service("after-expiry", BUSYBOX, 1, &[], &["sleep", "300"])
        .await;
    cluster.wait_running("after-expiry", 1).await;
    // The certificate the agent keeps is the one the server takes (read
    // again should a renewal fall between the read and the request).
    wait_for(
        "a heartbeat with the kept certificate",
        Duration::from_secs(10),
        || {
            let (url, ca, credential) = (url.clone(), ca.clone(), credential.clone());
            let dir = state.path().to_path_buf();
            async move {
                let (cert, key, _) = saved(&dir);
                assert!(corral_pki::expires_of_pem(&cert).unwrap() > unix_now());
                let renewed = Client::with_trust(
                    &url,
                    &credential,
                    Trust::pinned(&ca).with_identity(&cert, &key),
                )
                .unwrap();
                renewed
                    .heartbeat("default", "renewer")
                    .await
                    .ok()
                    .map(|_| ())
            }
        },
    )
    .await;
}
