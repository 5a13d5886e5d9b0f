//! Load-balancer certificates' private keys: sealed at rest, never
//! answered, kept on a replace that does not send one, handed only to the
//! agent of the node running a balancer that names the certificate, and
//! sealed at start when an older store holds them in clear.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use corral_api::Client;
use corral_types::{
    Certificate, CertificateSpec, Instance, InstanceSpec, Kind, LbConfig, Object, ServiceSpec,
};

use common::{TestServer, env, joined_node, start};

const CHAIN: &str = "-----BEGIN CERTIFICATE-----\nMIIBchain\n-----END CERTIFICATE-----\n";
const KEY: &str = "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC-key-material\n-----END PRIVATE KEY-----\n";

fn cert(env: &str, name: &str) -> Certificate {
    Object::new(
        Kind::Certificate,
        env,
        name,
        CertificateSpec {
            certificate: CHAIN.into(),
            key: KEY.into(),
            sealed_key: None,
        },
    )
}

async fn node(s: &TestServer, env: &str, name: &str) -> Client {
    joined_node(s, env, name).await.0
}

/// A balancer instance naming `cert`, placed on `node`.
fn place_balancer(s: &TestServer, env: &str, cert: &str, node: &str) {
    let launch = ServiceSpec {
        scale: 1,
        lb: Some(LbConfig {
            certificates: vec![cert.into()],
            ..LbConfig::default()
        }),
        ..ServiceSpec::default()
    };
    let mut inst: Instance = Object::new(
        Kind::Instance,
        env,
        "lb-1",
        InstanceSpec {
            service: "lb".into(),
            ordinal: 1,
            node: node.into(),
            launch,
            service_generation: 1,
            ..InstanceSpec::default()
        },
    );
    inst.meta.uid = "u1".into();
    s.store.create(inst.to_raw().unwrap()).unwrap();
}

#[tokio::test]
async fn a_certificates_key_is_sealed_never_answered_and_kept_on_a_replace_without_one() {
    let s = start().await;
    env(&s, "dev").await;
    let created = s.client.create(&cert("dev", "web")).await.unwrap();
    assert_eq!(created.spec.key, "", "the answer carries no key");
    assert!(created.spec.sealed_key.is_none());
    let stored = s.store.get(Kind::Certificate, "dev", "web").unwrap();
    let text = stored.spec.to_string();
    assert!(!text.contains("key-material"), "{text}");
    assert!(
        stored.spec["sealed_key"]["ciphertext"].is_string(),
        "{text}"
    );
    for answer in [
        s.get("/v1/environments/dev/certificates").await.text,
        s.get("/v1/environments/dev/certificates/web").await.text,
    ] {
        assert!(!answer.contains("key-material"), "{answer}");
        assert!(!answer.contains("sealed_key"), "{answer}");
    }
    // A client sends back what it read (no key): the stored key stays.
    let mut read: Certificate = s.client.get("dev", Kind::Certificate, "web").await.unwrap();
    read.meta.labels.insert("team".into(), "blue".into());
    s.client.update(&read).await.unwrap();

    let n1 = node(&s, "dev", "n1").await;
    let n2 = node(&s, "dev", "n2").await;
    place_balancer(&s, "dev", "web", "n1");
    let got = n1.certificate_material("dev", "n1", "lb-1").await.unwrap();
    assert_eq!(got.certificates.len(), 1);
    assert_eq!(got.certificates[0].key, KEY);
    assert_eq!(got.certificates[0].certificate, CHAIN);
    let err = n2
        .certificate_material("dev", "n2", "lb-1")
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(403), "{err}");

    // A new key-encryption key re-seals certificate keys too.
    s.client.rotate_secret_key().await.unwrap();
    let got = n1.certificate_material("dev", "n1", "lb-1").await.unwrap();
    assert_eq!(got.certificates[0].key, KEY);
}

#[test]
fn keys_stored_in_clear_by_an_older_server_are_sealed_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("corral.db");
    {
        let store = corral_store::SqliteStore::open(&db).unwrap();
        use corral_store::Store;
        let mut raw = cert("default", "old").to_raw().unwrap();
        raw.meta.uid = "u".into();
        store.create(raw).unwrap();
    }
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let options = corral_server::ServerOptions::new("127.0.0.1:0", dir.path());
        let server = corral_server::start(options).await.unwrap();
        server.stop().await;
    });
    let store = corral_store::SqliteStore::open(&db).unwrap();
    use corral_store::Store;
    let raw = store.get(Kind::Certificate, "default", "old").unwrap();
    assert_eq!(raw.spec["key"], "", "{}", raw.spec);
    assert!(raw.spec["sealed_key"]["ciphertext"].is_string());
    let bytes = std::fs::read(&db).unwrap();
    let wal = std::fs::read(dir.path().join("corral.db-wal")).unwrap_or_default();
    for file in [bytes, wal] {
        assert!(
            !file.windows(12).any(|w| w == b"key-material"),
            "the key in clear is still on disk"
        );
    }
}
