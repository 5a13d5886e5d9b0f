//! The API over TLS with the internal CA: clients pin the CA, plain HTTP
//! gets nothing, and a node's credential is taken only with the client
//! certificate it was issued with.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use corral_api::{Client, JoinRequest, RegisterRequest, Trust};
use corral_server::{RunningServer, ServerOptions, start};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

async fn server(dir: &std::path::Path) -> RunningServer {
    start(ServerOptions::new("127.0.0.1:0", dir)).await.unwrap()
}

/// A node registered with a signing request: its credential, certificate and key.
async fn register(admin: &Client, name: &str) -> (String, String, String) {
    let key = corral_pki::NodeKey::generate().unwrap();
    let answer = admin
        .register(&RegisterRequest {
            node: name.into(),
            environment: "default".into(),
            csr_pem: key.csr_pem(name).unwrap(),
        })
        .await
        .unwrap();
    assert!(!answer.certificate_pem.is_empty());
    (answer.credential, answer.certificate_pem, key.key_pem())
}

#[tokio::test]
async fn a_client_refuses_a_server_whose_certificate_is_not_from_the_pinned_ca() {
    let dir = tempfile::tempdir().unwrap();
    let s = server(dir.path()).await;
    assert!(s.url.starts_with("https://"));
    let pinned = Client::new(&s.url, &s.admin_token, &s.ca_pem).unwrap();
    assert!(pinned.environments().await.is_ok());

    let other = corral_pki::Authority::ephemeral().unwrap();
    let forged = Client::new(&s.url, &s.admin_token, other.cert_pem()).unwrap();
    let err = forged.environments().await.unwrap_err();
    assert!(err.status().is_none(), "refused before any request: {err}");
    let none = Client::with_trust(&s.url, &s.admin_token, Trust::default()).unwrap();
    assert!(none.environments().await.is_err());
    s.stop().await;
}

#[tokio::test]
async fn first_contact_shows_the_ca_and_a_wrong_fingerprint_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let s = server(dir.path()).await;
    let seen = corral_pki::first_contact::fetch_ca(&s.url, None)
        .await
        .unwrap();
    assert_eq!(seen.fingerprint, s.ca_fingerprint);
    assert_eq!(
        corral_pki::fingerprint_of_pem(&seen.ca_pem).unwrap(),
        s.ca_fingerprint
    );
    let other = corral_pki::Authority::ephemeral().unwrap();
    let err = corral_pki::first_contact::fetch_ca(&s.url, Some(other.fingerprint()))
        .await
        .unwrap_err();
    assert!(
        matches!(err, corral_pki::PkiError::FingerprintMismatch { .. }),
        "{err}"
    );
    s.stop().await;
}

#[tokio::test]
async fn plain_http_to_the_api_port_gets_no_answer() {
    let dir = tempfile::tempdir().unwrap();
    let s = server(dir.path()).await;
    let mut tcp = tokio::net::TcpStream::connect(s.local_addr).await.unwrap();
    tcp.write_all(b"GET /v1/environments HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut got = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(10), tcp.read_to_end(&mut got)).await;
    assert!(read.is_ok(), "the server closes the connection");
    let text = String::from_utf8_lossy(&got);
    assert!(!text.contains("HTTP/1.1"), "no HTTP answer: {text:?}");
    assert!(!text.contains("default"), "no data: {text:?}");
    s.stop().await;
}

#[tokio::test]
async fn a_node_credential_is_taken_only_with_its_own_client_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let s = server(dir.path()).await;
    let admin = Client::new(&s.url, &s.admin_token, &s.ca_pem).unwrap();
    let (cred1, cert1, key1) = register(&admin, "n1").await;
    let (_cred2, cert2, key2) = register(&admin, "n2").await;

    let own = Client::with_trust(
        &s.url,
        &cred1,
        Trust::pinned(&s.ca_pem).with_identity(&cert1, &key1),
    )
    .unwrap();
    own.join_node("default", "n1", &JoinRequest::default())
        .await
        .unwrap();
    own.heartbeat("default", "n1").await.unwrap();

    let bare = Client::new(&s.url, &cred1, &s.ca_pem).unwrap();
    let err = bare.heartbeat("default", "n1").await.unwrap_err();
    assert_eq!(err.status(), Some(401), "{err}");
    assert!(err.to_string().contains("client certificate"), "{err}");

    let borrowed = Client::with_trust(
        &s.url,
        &cred1,
        Trust::pinned(&s.ca_pem).with_identity(&cert2, &key2),
    )
    .unwrap();
    let err = borrowed.heartbeat("default", "n1").await.unwrap_err();
    assert_eq!(err.status(), Some(401), "{err}");

    // A certificate from another CA fails the handshake.
    let other = corral_pki::Authority::ephemeral().unwrap();
    let stranger_key = corral_pki::NodeKey::generate().unwrap();
    let stranger = other
        .sign_node(&stranger_key.csr_pem("n1").unwrap(), "default", "n1")
        .unwrap();
    let forged = Client::with_trust(
        &s.url,
        &cred1,
        Trust::pinned(&s.ca_pem).with_identity(&stranger.chain_pem, &stranger_key.key_pem()),
    )
    .unwrap();
    let err = forged.heartbeat("default", "n1").await.unwrap_err();
    assert!(err.status().is_none(), "refused at the TLS layer: {err}");

    // A removed node is refused at its next request.
    admin.remove_node("default", "n1", true).await.unwrap();
    let err = own.heartbeat("default", "n1").await.unwrap_err();
    assert_eq!(err.status(), Some(401), "{err}");
    s.stop().await;
}

#[tokio::test]
async fn a_renewal_binds_the_credential_to_the_new_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let s = server(dir.path()).await;
    let admin = Client::new(&s.url, &s.admin_token, &s.ca_pem).unwrap();
    let (cred, cert, key) = register(&admin, "n1").await;
    let old = Client::with_trust(
        &s.url,
        &cred,
        Trust::pinned(&s.ca_pem).with_identity(&cert, &key),
    )
    .unwrap();
    let new_key = corral_pki::NodeKey::generate().unwrap();
    let renewed = old
        .renew_node_certificate(
            "default",
            "n1",
            &corral_api::CertificateRequest {
                csr_pem: new_key.csr_pem("n1").unwrap(),
            },
        )
        .await
        .unwrap();
    let new = Client::with_trust(
        &s.url,
        &cred,
        Trust::pinned(&s.ca_pem).with_identity(&renewed.certificate_pem, &new_key.key_pem()),
    )
    .unwrap();
    new.join_node("default", "n1", &JoinRequest::default())
        .await
        .unwrap();
    let fresh_old = old.with_own_connections().unwrap();
    let err = fresh_old.heartbeat("default", "n1").await.unwrap_err();
    assert_eq!(
        err.status(),
        Some(401),
        "the old certificate is done: {err}"
    );
    s.stop().await;
}

#[tokio::test]
async fn registration_without_a_signing_request_is_refused_naming_the_field() {
    let dir = tempfile::tempdir().unwrap();
    let s = server(dir.path()).await;
    let admin = Client::new(&s.url, &s.admin_token, &s.ca_pem).unwrap();
    let err = admin
        .register(&RegisterRequest {
            node: "n1".into(),
            environment: "default".into(),
            ..RegisterRequest::default()
        })
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(422), "{err}");
    assert!(err.to_string().contains("csr_pem") || format!("{err:?}").contains("csr_pem"));
    s.stop().await;
}
