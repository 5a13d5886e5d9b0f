//! Secrets through the API: who may create and mount them, that no answer
//! carries a value, that only the agent of the node an instance is placed
//! on receives the values it mounts, key rotation, and bad input.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use corral_api::Client;
use corral_types::{
    Instance, InstanceSpec, Kind, Object, Role, SecretMount, SecretValueRequest, Service,
    ServiceSpec,
};
use reqwest::Method;

use common::{TestServer, env, joined_node, start, user};

const VALUE: &str = "pa55-w0rd-91c2";

fn value(name: &str, v: &str) -> SecretValueRequest {
    SecretValueRequest {
        name: name.into(),
        value: B64.encode(v),
        labels: Default::default(),
    }
}

fn mounting(env: &str, name: &str, secret: &str) -> Service {
    Object::new(
        Kind::Service,
        env,
        name,
        ServiceSpec {
            image: "postgres".into(),
            scale: 1,
            secrets: vec![SecretMount {
                source: secret.into(),
                ..SecretMount::default()
            }],
            ..ServiceSpec::default()
        },
    )
}

async fn node(s: &TestServer, env: &str, name: &str) -> Client {
    joined_node(s, env, name).await.0
}

/// An instance of `service` placed on `node`, as the scheduler writes it.
fn place(s: &TestServer, env: &str, service: &Service, node: &str) {
    let mut inst: Instance = Object::new(
        Kind::Instance,
        env,
        &format!("{}-1", service.meta.name),
        InstanceSpec {
            service: service.meta.name.clone(),
            ordinal: 1,
            node: node.into(),
            launch: service.spec.clone(),
            service_generation: 1,
            ..InstanceSpec::default()
        },
    );
    inst.meta.uid = "u1".into();
    s.store.create(inst.to_raw().unwrap()).unwrap();
}

#[tokio::test]
async fn a_restricted_user_mounts_a_secret_but_creates_none_and_no_answer_holds_a_value() {
    let s = start().await;
    env(&s, "dev").await;
    let mia = user(&s, "mia", "dev", Some(Role::Member)).await;
    let rita = user(&s, "rita", "dev", Some(Role::Restricted)).await;
    mia.create_secret("dev", &value("db_password", VALUE))
        .await
        .unwrap();
    let err = rita
        .create_secret("dev", &value("mine", VALUE))
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(403), "{err}");
    let svc = rita
        .create(&mounting("dev", "db", "db_password"))
        .await
        .unwrap();
    assert_eq!(svc.spec.secrets[0].version, 1, "the version is pinned");
    let mut watch = s.watch("/v1/watch?kind=Secret&revision=0").await;
    let event = watch.next().await;
    assert_eq!(event["object"]["meta"]["name"], "db_password", "{event}");
    let answers = [
        serde_json::to_string(&rita.secrets("dev").await.unwrap()).unwrap(),
        serde_json::to_string(&rita.secret("dev", "db_password").await.unwrap()).unwrap(),
        event.to_string(),
    ];
    for answer in answers {
        assert!(!answer.contains("sealed"), "{answer}");
        assert!(!answer.contains("ciphertext"), "{answer}");
        assert!(!answer.contains(&B64.encode(VALUE)), "{answer}");
    }
    let stored = s.store.get(Kind::Secret, "dev", "db_password").unwrap();
    let sealed = stored.spec["sealed"]["ciphertext"].as_str().unwrap();
    assert!(
        !B64.decode(sealed)
            .unwrap()
            .windows(VALUE.len())
            .any(|w| w == VALUE.as_bytes())
    );
}

#[tokio::test]
async fn only_the_agent_of_the_node_an_instance_is_placed_on_receives_its_values() {
    let s = start().await;
    env(&s, "dev").await;
    s.client
        .create_secret("dev", &value("db_password", VALUE))
        .await
        .unwrap();
    let svc = s
        .client
        .create(&mounting("dev", "db", "db_password"))
        .await
        .unwrap();
    let n1 = node(&s, "dev", "n1").await;
    let n2 = node(&s, "dev", "n2").await;
    place(&s, "dev", &svc, "n1");

    let got = n1.secret_values("dev", "n1", "db-1").await.unwrap();
    assert_eq!(got.secrets.len(), 1);
    assert_eq!(B64.decode(&got.secrets[0].value).unwrap(), VALUE.as_bytes());

    let err = n2.secret_values("dev", "n1", "db-1").await.unwrap_err();
    assert_eq!(err.status(), Some(403), "acting for another node: {err}");
    let err = n2.secret_values("dev", "n2", "db-1").await.unwrap_err();
    assert_eq!(
        err.status(),
        Some(403),
        "an instance placed elsewhere: {err}"
    );
    assert!(err.to_string().contains("not placed on node"), "{err}");

    // A new key: every secret re-sealed, the values still open.
    let before = s.store.get(Kind::Secret, "dev", "db_password").unwrap();
    let rotated = s.client.rotate_secret_key().await.unwrap();
    assert_eq!(rotated["resealed"], 1);
    let after = s.store.get(Kind::Secret, "dev", "db_password").unwrap();
    assert_ne!(
        before.spec["sealed"]["key_id"], after.spec["sealed"]["key_id"],
        "re-sealed under the new key"
    );
    let got = n1.secret_values("dev", "n1", "db-1").await.unwrap();
    assert_eq!(B64.decode(&got.secrets[0].value).unwrap(), VALUE.as_bytes());
}

#[tokio::test]
async fn bad_secrets_and_mounts_are_refused_naming_the_field_and_change_nothing() {
    let s = start().await;
    env(&s, "dev").await;
    let path = "/v1/environments/dev/secrets";
    let body = |v: serde_json::Value| v.to_string();
    s.reject(
        Method::POST,
        path,
        body(serde_json::json!({"name": "pw", "value": "not base64!"})),
        422,
        Some("value"),
    )
    .await;
    s.reject(
        Method::POST,
        path,
        body(serde_json::json!({"name": "a/b", "value": "eA=="})),
        422,
        Some("name"),
    )
    .await;
    let big = B64.encode(vec![b'x'; 600 * 1024]);
    s.reject(
        Method::POST,
        path,
        body(serde_json::json!({"name": "big", "value": big})),
        422,
        Some("value"),
    )
    .await;
    s.client
        .create_secret("dev", &value("pw", VALUE))
        .await
        .unwrap();
    s.reject(
        Method::POST,
        path,
        body(serde_json::json!({"name": "pw", "value": "eA=="})),
        409,
        None,
    )
    .await;
    let missing = serde_json::to_string(&mounting("dev", "db", "nope")).unwrap();
    s.reject(
        Method::POST,
        "/v1/environments/dev/services",
        missing,
        422,
        Some("spec.secrets[0].source"),
    )
    .await;
    let mut escaping = mounting("dev", "db", "pw");
    escaping.spec.secrets[0].target = "../../etc/shadow".into();
    s.reject(
        Method::POST,
        "/v1/environments/dev/services",
        serde_json::to_string(&escaping).unwrap(),
        422,
        Some("spec.secrets[0].target"),
    )
    .await;
    s.reject(
        Method::PUT,
        "/v1/environments/dev/secrets/nope",
        body(serde_json::json!({"value": "eA=="})),
        404,
        None,
    )
    .await;
}

const STACK_FILE: &str = "\
services:
  db:
    image: mariadb
    secrets:
      - db-password
secrets:
  db-password:
    file: db/password.txt
";

fn deploy_request(values: &[(&str, &str)], dry_run: bool) -> corral_api::DeployRequest {
    corral_api::DeployRequest {
        files: vec![corral_types::SourceFile {
            name: "compose.yaml".into(),
            content: STACK_FILE.into(),
        }],
        dry_run,
        secrets: values
            .iter()
            .map(|(k, v)| (k.to_string(), B64.encode(v)))
            .collect(),
        ..corral_api::DeployRequest::default()
    }
}

#[tokio::test]
async fn a_stack_stores_its_own_secrets_and_a_new_value_rolls_the_services_that_mount_it() {
    let s = start().await;
    env(&s, "dev").await;
    let rita = user(&s, "rita", "dev", Some(Role::Restricted)).await;
    // Without the value: a dry run says what is missing, a deploy refuses.
    let plan = rita
        .deploy_stack("dev", "shop", &deploy_request(&[], true))
        .await
        .unwrap();
    assert!(plan.secrets[0].contains("no value was sent"), "{plan:?}");
    let err = rita
        .deploy_stack("dev", "shop", &deploy_request(&[], false))
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(422), "{err}");
    assert!(err.to_string().contains("db/password.txt"), "{err}");

    let plan = rita
        .deploy_stack(
            "dev",
            "shop",
            &deploy_request(&[("db-password", "one")], false),
        )
        .await
        .unwrap();
    assert_eq!(plan.secrets, vec!["create secret shop_db-password"]);
    let db: Service = rita.get("dev", Kind::Service, "shop-db").await.unwrap();
    let mount = &db.spec.secrets[0];
    assert_eq!(
        (mount.source.as_str(), mount.target.as_str(), mount.version),
        ("shop_db-password", "db-password", 1)
    );

    let plan = rita
        .deploy_stack(
            "dev",
            "shop",
            &deploy_request(&[("db-password", "one")], false),
        )
        .await
        .unwrap();
    assert!(plan.secrets[0].contains("unchanged"), "{plan:?}");
    assert_eq!(plan.unchanged, vec!["shop-db"]);

    let plan = rita
        .deploy_stack(
            "dev",
            "shop",
            &deploy_request(&[("db-password", "two")], false),
        )
        .await
        .unwrap();
    assert_eq!(
        plan.secrets,
        vec!["new version 2 of secret shop_db-password"]
    );
    assert!(plan.changed[0].upgrade, "{plan:?}");

    rita.delete("dev", Kind::Stack, "shop").await.unwrap();
    let err = s
        .client
        .secret("dev", "shop_db-password")
        .await
        .unwrap_err();
    assert_eq!(
        err.status(),
        Some(404),
        "the stack's secret goes with it: {err}"
    );
}

#[tokio::test]
async fn a_stack_may_not_replace_a_secret_it_does_not_own() {
    let s = start().await;
    env(&s, "dev").await;
    s.client
        .create_secret("dev", &value("db_password", VALUE))
        .await
        .unwrap();
    let file = STACK_FILE.replace(
        "    file: db/password.txt\n",
        "    file: db/password.txt\n    name: db_password\n",
    );
    let mut req = deploy_request(&[("db-password", "mine")], false);
    req.files[0].content = file;
    let before = s.snapshot();
    let err = s
        .client
        .deploy_stack("dev", "shop", &req)
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(422), "{err}");
    assert!(err.to_string().contains("external: true"), "{err}");
    assert_eq!(before, s.snapshot(), "nothing changed");
}
