//! Configs end to end on the private engine: a service reads its config
//! at the target path with the right content and mode (and at `/NAME` by
//! default), a new version rolls the service, one in use cannot be
//! removed, and a compose file's own configs (`file:` beside it and
//! `content:`) deploy through the CLI and go with `stack rm`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use common::{BUSYBOX, Cluster, wait_for};
use corral_types::{ConfigMount, ConfigValueRequest, InstanceState, ServiceSpec};

const FIRST: &str = "listen = 8080\nname = first\n";
const SECOND: &str = "listen = 8081\nname = second\n";

fn value(name: &str, v: &str) -> ConfigValueRequest {
    ConfigValueRequest {
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
    String::from_utf8_lossy(&out.stdout).to_string()
}

fn ok(out: std::process::Output) -> String {
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    text
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_service_reads_its_config_at_the_target_with_its_mode_and_a_new_version_rolls_it() {
    let c = Cluster::start("it-configs").await;
    c.client
        .create_config("default", &value("app.conf", FIRST))
        .await
        .unwrap();
    let spec = ServiceSpec {
        image: BUSYBOX.into(),
        scale: 1,
        command: vec!["sleep".into(), "1000".into()],
        configs: vec![
            ConfigMount {
                source: "app.conf".into(),
                target: "/etc/app/app.conf".into(),
                mode: Some(0o440),
                uid: Some(1000),
                ..ConfigMount::default()
            },
            ConfigMount {
                source: "app.conf".into(),
                ..ConfigMount::default()
            },
        ],
        ..Default::default()
    };
    c.create_service_spec("app", spec).await;
    let running = c.wait_running("app", 1).await;
    let id = &running[0].status.container_id;

    assert_eq!(exec(&c, id, "cat /etc/app/app.conf"), FIRST);
    assert_eq!(
        exec(&c, id, "stat -c '%a %u' /etc/app/app.conf").trim(),
        "440 1000"
    );
    assert_eq!(
        exec(&c, id, "cat /app.conf"),
        FIRST,
        "Swarm's default target"
    );
    assert_eq!(exec(&c, id, "stat -c %a /app.conf").trim(), "444");
    let ro = c.docker(&["exec", id, "sh", "-c", "echo x > /etc/app/app.conf"]);
    assert!(!ro.status.success(), "the file is mounted read-only");

    // Readable through the API and the CLI, bytes as they are.
    let raw = ok(c.cli(&["config", "inspect", "app.conf", "-o", "value"]));
    assert_eq!(raw, FIRST);
    let shown = ok(c.cli(&["config", "inspect", "app.conf"]));
    assert!(shown.contains("name = first"), "{shown}");

    let refused = c.cli(&["config", "rm", "app.conf"]);
    assert!(!refused.status.success());
    let err = String::from_utf8_lossy(&refused.stderr);
    assert!(err.contains("in use by service(s) app"), "{err}");

    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), SECOND).unwrap();
    let updated = ok(c.cli(&[
        "config",
        "update",
        "app.conf",
        "-f",
        file.path().to_str().unwrap(),
    ]));
    assert_eq!(updated.trim(), "app.conf version 2");
    let rolled = wait_for(
        "app runs with version 2",
        Duration::from_secs(60),
        || async {
            c.instances("app").await.into_iter().find(|i| {
                i.status.state == InstanceState::Running
                    && i.spec.launch.configs.first().map(|m| m.version) == Some(2)
                    && !i.status.container_id.is_empty()
            })
        },
    )
    .await;
    assert_eq!(
        exec(&c, &rolled.status.container_id, "cat /etc/app/app.conf"),
        SECOND
    );
}

/// `corral stack deploy` of a compose file with a config file beside it
/// and an inline `content:`; `stack export` writes references, and
/// `stack rm` removes the stack's own configs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_compose_file_with_configs_deploys_through_the_cli_and_its_configs_go_with_the_stack() {
    let c = Cluster::start("it-configs-cli").await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("conf")).unwrap();
    std::fs::write(dir.path().join("conf/app.conf"), FIRST).unwrap();
    let compose = dir.path().join("compose.yaml");
    std::fs::write(
        &compose,
        format!(
            "services:\n  app:\n    image: {BUSYBOX}\n    command: [sleep, '1000']\n    configs:\n      - source: app-conf\n        target: /etc/app.conf\n        mode: 0400\n      - motd\nconfigs:\n  app-conf:\n    file: conf/app.conf\n  motd:\n    content: hello from compose\n"
        ),
    )
    .unwrap();
    let compose = compose.to_string_lossy().to_string();
    let text = ok(c.cli(&["stack", "deploy", "shop", "-f", &compose]));
    assert!(text.contains("create config shop_app-conf"), "{text}");
    assert!(text.contains("create config shop_motd"), "{text}");
    let running = c.wait_running("shop-app", 1).await;
    let id = &running[0].status.container_id;
    assert_eq!(exec(&c, id, "cat /etc/app.conf"), FIRST);
    assert_eq!(exec(&c, id, "stat -c %a /etc/app.conf").trim(), "400");
    assert_eq!(exec(&c, id, "cat /motd"), "hello from compose");

    let exported = ok(c.cli(&["stack", "export", "shop", "--stdout"]));
    assert!(
        exported.contains("shop_app-conf:\n    external: true"),
        "{exported}"
    );
    assert!(!exported.contains("name = first"), "{exported}");

    ok(c.cli(&["stack", "rm", "shop"]));
    let listed = ok(c.cli(&["config", "ls", "-o", "json"]));
    assert!(!listed.contains("shop_"), "{listed}");
}
