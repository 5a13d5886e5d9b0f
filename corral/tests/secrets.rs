//! Secrets end to end on the private engine: a service reads its secret at
//! /run/secrets/NAME from a tmpfs, the value is nowhere in the engine's
//! container config, the store's files or the API's answers, a new version
//! rolls the service, and a secret in use cannot be removed.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use common::probe::found_in_files;
use common::{BUSYBOX, Cluster, wait_for};
use corral_types::{InstanceState, SecretMount, SecretValueRequest, ServiceSpec};

const FIRST: &str = "first-Value-7f3a9c";
const SECOND: &str = "second-Value-b21e04";

fn value(name: &str, v: &str) -> SecretValueRequest {
    SecretValueRequest {
        name: name.into(),
        value: B64.encode(v),
        labels: Default::default(),
    }
}

fn exec(c: &Cluster, container: &str, script: &str) -> String {
    let out = c.docker(&["exec", container, "sh", "-c", script]);
    assert!(
        out.status.success(),
        "{script}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_service_reads_its_secret_from_a_tmpfs_and_the_value_is_nowhere_else() {
    let c = Cluster::start("it-secrets").await;
    c.client
        .create_secret("default", &value("db_password", FIRST))
        .await
        .unwrap();
    let spec = ServiceSpec {
        image: BUSYBOX.into(),
        scale: 1,
        command: vec!["sleep".into(), "1000".into()],
        secrets: vec![SecretMount {
            source: "db_password".into(),
            mode: Some(0o400),
            ..SecretMount::default()
        }],
        ..Default::default()
    };
    c.create_service_spec("db", spec).await;
    let running = c.wait_running("db", 1).await;
    let id = &running[0].status.container_id;

    assert_eq!(exec(&c, id, "cat /run/secrets/db_password"), FIRST);
    assert_eq!(exec(&c, id, "stat -c %a /run/secrets/db_password"), "400");
    let mounts = exec(&c, id, "grep ' /run/secrets/db_password ' /proc/mounts");
    assert!(mounts.contains("tmpfs"), "{mounts}");

    let inspect = c.docker(&["inspect", id]);
    assert!(inspect.status.success());
    let inspect = String::from_utf8_lossy(&inspect.stdout);
    assert!(!inspect.contains(FIRST), "docker inspect shows the value");

    let stored = found_in_files(&c.data_dir, FIRST.as_bytes());
    assert!(stored.is_empty(), "the value is in {stored:?}");

    let listed = serde_json::to_string(&c.client.secrets("default").await.unwrap()).unwrap();
    let got =
        serde_json::to_string(&c.client.secret("default", "db_password").await.unwrap()).unwrap();
    for answer in [&listed, &got] {
        assert!(!answer.contains("sealed"), "{answer}");
        assert!(!answer.contains(&B64.encode(FIRST)), "{answer}");
        assert!(answer.contains("\"version\":1"), "{answer}");
    }

    let err = c
        .client
        .remove_secret("default", "db_password")
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(409), "{err}");
    assert!(err.to_string().contains("db"), "{err}");

    // A new version rolls the service.
    c.client
        .update_secret("default", "db_password", &value("", SECOND))
        .await
        .unwrap();
    let rolled = wait_for(
        "db runs with the new version",
        Duration::from_secs(60),
        || async {
            let insts = c.instances("db").await;
            insts.into_iter().find(|i| {
                i.status.state == InstanceState::Running
                    && i.spec.launch.secrets.first().map(|m| m.version) == Some(2)
                    && !i.status.container_id.is_empty()
            })
        },
    )
    .await;
    assert_eq!(
        exec(
            &c,
            &rolled.status.container_id,
            "cat /run/secrets/db_password"
        ),
        SECOND
    );
    let stored = found_in_files(&c.data_dir, SECOND.as_bytes());
    assert!(stored.is_empty(), "the new value is in {stored:?}");

    c.client
        .delete("default", corral_types::Kind::Service, "db")
        .await
        .unwrap();
    wait_for("db gone", Duration::from_secs(30), || async {
        c.instances("db").await.is_empty().then_some(())
    })
    .await;
    c.client
        .remove_secret("default", "db_password")
        .await
        .unwrap();
}

/// `corral stack deploy` of a compose file whose secret is a file beside
/// it (as docker/awesome-compose's examples): the CLI reads and sends it,
/// the container reads it at /run/secrets/<key>, and `stack export` writes
/// it back as a reference.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_compose_file_with_a_secret_file_deploys_unchanged_through_the_cli() {
    let c = Cluster::start("it-secrets-cli").await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("db")).unwrap();
    std::fs::write(dir.path().join("db/password.txt"), FIRST).unwrap();
    let compose = dir.path().join("compose.yaml");
    std::fs::write(
        &compose,
        format!(
            "services:\n  db:\n    image: {BUSYBOX}\n    command: [sleep, '1000']\n    secrets:\n      - db-password\nsecrets:\n  db-password:\n    file: db/password.txt\n"
        ),
    )
    .unwrap();
    let compose = compose.to_string_lossy().to_string();
    let out = c.cli(&["stack", "deploy", "shop", "-f", &compose]);
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("create secret shop_db-password"), "{text}");
    let running = c.wait_running("shop-db", 1).await;
    assert_eq!(
        exec(
            &c,
            &running[0].status.container_id,
            "cat /run/secrets/db-password"
        ),
        FIRST
    );
    let out = c.cli(&["stack", "export", "shop", "--stdout"]);
    let exported = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(exported.contains("external: true"), "{exported}");
    assert!(!exported.contains(FIRST), "{exported}");
    let out = c.cli(&["stack", "rm", "shop"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The `corral secret` verbs and `service create --secret` with the real
/// binary: create from a file, list and inspect without the value, mount,
/// update (the service rolls), refuse removal while mounted, rotate the key.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_secret_verbs_of_the_cli_work_end_to_end_and_never_print_a_value() {
    let c = Cluster::start("it-secrets-verbs").await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("pw.txt");
    std::fs::write(&file, FIRST).unwrap();
    let ok = |out: std::process::Output| {
        let text = String::from_utf8_lossy(&out.stdout).to_string();
        assert!(
            out.status.success(),
            "{text}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(!text.contains(FIRST) && !text.contains(SECOND), "{text}");
        text
    };
    ok(c.cli(&["secret", "create", "cli_pw", "-f", file.to_str().unwrap()]));
    let listed = ok(c.cli(&["secret", "ls", "-o", "json"]));
    assert!(
        listed.contains("cli_pw") && listed.contains("\"version\": 1"),
        "{listed}"
    );
    let inspected = ok(c.cli(&["secret", "inspect", "cli_pw"]));
    assert!(!inspected.contains("sealed"), "{inspected}");
    ok(c.cli(&[
        "service",
        "create",
        "clidb",
        "--image",
        BUSYBOX,
        "--secret",
        "source=cli_pw,target=pw,mode=0400",
        "--",
        "sleep",
        "1000",
    ]));
    let running = c.wait_running("clidb", 1).await;
    assert_eq!(
        exec(&c, &running[0].status.container_id, "cat /run/secrets/pw"),
        FIRST
    );
    let updated = ok(c.cli(&["secret", "update", "cli_pw", "--from-literal", SECOND]));
    assert_eq!(updated.trim(), "cli_pw version 2");
    let rolled = wait_for(
        "clidb runs with version 2",
        Duration::from_secs(60),
        || async {
            c.instances("clidb").await.into_iter().find(|i| {
                i.status.state == InstanceState::Running
                    && i.spec.launch.secrets.first().map(|m| m.version) == Some(2)
                    && !i.status.container_id.is_empty()
            })
        },
    )
    .await;
    assert_eq!(
        exec(&c, &rolled.status.container_id, "cat /run/secrets/pw"),
        SECOND
    );
    let refused = c.cli(&["secret", "rm", "cli_pw"]);
    assert!(!refused.status.success());
    let err = String::from_utf8_lossy(&refused.stderr);
    assert!(err.contains("in use by service(s) clidb"), "{err}");
    let rotated = ok(c.cli(&["secret", "rotate-key"]));
    assert!(
        rotated.contains("1 secret(s) and certificate key(s) re-sealed"),
        "{rotated}"
    );
}
