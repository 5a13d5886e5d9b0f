//! Configs through the API: anyone who reads the environment reads them
//! (values included), writing follows the rule of secrets, only the agent
//! of the node an instance is placed on receives the values it mounts, a
//! new version rolls the services that mount it, a config in use is not
//! removed, stacks own theirs, and bad input is refused naming the field.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use corral_api::Client;
use corral_types::{
    Config, ConfigMount, ConfigValueRequest, Instance, InstanceSpec, Kind, Object, Role, Service,
    ServiceSpec,
};
use reqwest::Method;

use common::{TestServer, env, joined_node, start, user};

const NGINX: &str = "events {}\nhttp { server { listen 8080; } }\n";

fn value(name: &str, v: &str) -> ConfigValueRequest {
    ConfigValueRequest {
        name: name.into(),
        value: B64.encode(v),
        labels: Default::default(),
    }
}

fn mounting(env: &str, name: &str, config: &str, target: &str) -> Service {
    Object::new(
        Kind::Service,
        env,
        name,
        ServiceSpec {
            image: "nginx".into(),
            scale: 1,
            configs: vec![ConfigMount {
                source: config.into(),
                target: target.into(),
                ..ConfigMount::default()
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
async fn whoever_reads_services_reads_configs_with_their_values_but_only_members_write_them() {
    let s = start().await;
    env(&s, "dev").await;
    let mia = user(&s, "mia", "dev", Some(Role::Member)).await;
    let rita = user(&s, "rita", "dev", Some(Role::Restricted)).await;
    let rory = user(&s, "rory", "dev", Some(Role::ReadOnly)).await;
    let created = mia
        .create_config("dev", &value("nginx.conf", NGINX))
        .await
        .unwrap();
    let config: Config = Object::from_raw(created).unwrap();
    assert_eq!(config.status.version, 1);
    assert_eq!(config.status.size, NGINX.len() as u64);
    assert_eq!(config.status.digest.len(), 64, "a SHA-256, hex");
    for who in [&rita, &rory] {
        let err = who
            .create_config("dev", &value("mine", "x"))
            .await
            .unwrap_err();
        assert_eq!(err.status(), Some(403), "{err}");
        let got = who.config("dev", "nginx.conf").await.unwrap();
        assert_eq!(got.spec["data"], B64.encode(NGINX), "the value is readable");
        let listed = who.configs("dev").await.unwrap();
        assert_eq!(listed.items.len(), 1);
    }
    let err = rory
        .create(&mounting("dev", "web", "nginx.conf", ""))
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(403), "{err}");
    let svc = rita
        .create(&mounting(
            "dev",
            "web",
            "nginx.conf",
            "/etc/nginx/nginx.conf",
        ))
        .await
        .unwrap();
    assert_eq!(svc.spec.configs[0].version, 1, "the version is pinned");
    let err = rita.remove_config("dev", "nginx.conf").await.unwrap_err();
    assert_eq!(err.status(), Some(403), "{err}");
    // Stored as it is: a config is no secret.
    let stored = s.store.get(Kind::Config, "dev", "nginx.conf").unwrap();
    assert_eq!(stored.spec["data"], B64.encode(NGINX));
}

#[tokio::test]
async fn only_the_agent_of_the_node_an_instance_is_placed_on_receives_its_configs() {
    let s = start().await;
    env(&s, "dev").await;
    s.client
        .create_config("dev", &value("nginx.conf", NGINX))
        .await
        .unwrap();
    let svc = s
        .client
        .create(&mounting("dev", "web", "nginx.conf", ""))
        .await
        .unwrap();
    let n1 = node(&s, "dev", "n1").await;
    let n2 = node(&s, "dev", "n2").await;
    place(&s, "dev", &svc, "n1");

    let got = n1.config_values("dev", "n1", "web-1").await.unwrap();
    assert_eq!(got.configs.len(), 1);
    assert_eq!(got.configs[0].source, "nginx.conf");
    assert_eq!(got.configs[0].version, 1);
    assert_eq!(B64.decode(&got.configs[0].value).unwrap(), NGINX.as_bytes());

    let err = n2.config_values("dev", "n1", "web-1").await.unwrap_err();
    assert_eq!(err.status(), Some(403), "acting for another node: {err}");
    let err = n2.config_values("dev", "n2", "web-1").await.unwrap_err();
    assert_eq!(
        err.status(),
        Some(403),
        "an instance placed elsewhere: {err}"
    );
    assert!(err.to_string().contains("not placed on node"), "{err}");
    // Nor may a node write a config, though it may read one.
    let err = n1
        .create_config("dev", &value("planted", "x"))
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(403), "{err}");
}

#[tokio::test]
async fn a_new_version_rolls_the_services_that_mount_it_and_one_in_use_is_not_removed() {
    let s = start().await;
    env(&s, "dev").await;
    s.client
        .create_config("dev", &value("app.ini", "a=1\n"))
        .await
        .unwrap();
    s.client
        .create(&mounting("dev", "web", "app.ini", "/etc/app.ini"))
        .await
        .unwrap();
    s.client
        .create(&mounting("dev", "other", "missing", ""))
        .await
        .unwrap_err();
    let updated = s
        .client
        .update_config("dev", "app.ini", &value("", "a=2\n"))
        .await
        .unwrap();
    let config: Config = Object::from_raw(updated).unwrap();
    assert_eq!(config.status.version, 2);
    let web: Service = s.client.get("dev", Kind::Service, "web").await.unwrap();
    assert_eq!(web.spec.configs[0].version, 2, "the service rolls to it");
    assert!(web.meta.generation > 1, "{:?}", web.meta);

    let err = s.client.remove_config("dev", "app.ini").await.unwrap_err();
    assert_eq!(err.status(), Some(409), "{err}");
    assert!(
        err.to_string().contains("in use by service(s) web"),
        "{err}"
    );
    s.client.delete("dev", Kind::Service, "web").await.unwrap();
    s.client.remove_config("dev", "app.ini").await.unwrap();
    let err = s.client.config("dev", "app.ini").await.unwrap_err();
    assert_eq!(err.status(), Some(404), "{err}");
}

#[tokio::test]
async fn bad_configs_and_mounts_are_refused_naming_the_field_and_change_nothing() {
    let s = start().await;
    env(&s, "dev").await;
    let path = "/v1/environments/dev/configs";
    let body = |v: serde_json::Value| v.to_string();
    s.reject(
        Method::POST,
        path,
        body(serde_json::json!({"name": "c", "value": "not base64!"})),
        422,
        Some("value"),
    )
    .await;
    s.reject(
        Method::POST,
        path,
        body(serde_json::json!({"name": "../c", "value": "eA=="})),
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
        .create_config("dev", &value("app.ini", "a=1"))
        .await
        .unwrap();
    s.reject(
        Method::POST,
        path,
        body(serde_json::json!({"name": "app.ini", "value": "eA=="})),
        409,
        None,
    )
    .await;
    let services = "/v1/environments/dev/services";
    for (target, field) in [
        ("etc/app.ini", "spec.configs[0].target"),
        ("/etc/../../shadow", "spec.configs[0].target"),
    ] {
        let svc = mounting("dev", "web", "app.ini", target);
        s.reject(
            Method::POST,
            services,
            serde_json::to_string(&svc).unwrap(),
            422,
            Some(field),
        )
        .await;
    }
    let missing = mounting("dev", "web", "nope", "");
    s.reject(
        Method::POST,
        services,
        serde_json::to_string(&missing).unwrap(),
        422,
        Some("spec.configs[0].source"),
    )
    .await;
    s.reject(
        Method::PUT,
        "/v1/environments/dev/configs/nope",
        body(serde_json::json!({"value": "eA=="})),
        404,
        None,
    )
    .await;
}

const STACK_FILE: &str = "\
services:
  web:
    image: nginx
    configs:
      - source: nginx.conf
        target: /etc/nginx/nginx.conf
        mode: 0440
      - motd
configs:
  nginx.conf:
    file: nginx/nginx.conf
  motd:
    content: hello
";

fn deploy_request(file: &str, values: &[(&str, &str)], dry_run: bool) -> corral_api::DeployRequest {
    corral_api::DeployRequest {
        files: vec![corral_types::SourceFile {
            name: "compose.yaml".into(),
            content: file.into(),
        }],
        dry_run,
        configs: values
            .iter()
            .map(|(k, v)| (k.to_string(), B64.encode(v)))
            .collect(),
        ..corral_api::DeployRequest::default()
    }
}

#[tokio::test]
async fn a_stack_owns_its_configs_rolls_on_a_new_value_exports_references_and_removes_them() {
    let s = start().await;
    env(&s, "dev").await;
    let rita = user(&s, "rita", "dev", Some(Role::Restricted)).await;
    let err = rita
        .deploy_stack("dev", "shop", &deploy_request(STACK_FILE, &[], false))
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(422), "{err}");
    assert!(err.to_string().contains("nginx/nginx.conf"), "{err}");

    let plan = rita
        .deploy_stack(
            "dev",
            "shop",
            &deploy_request(STACK_FILE, &[("nginx.conf", NGINX)], false),
        )
        .await
        .unwrap();
    assert_eq!(
        plan.configs,
        vec!["create config shop_motd", "create config shop_nginx.conf"]
    );
    let web: Service = rita.get("dev", Kind::Service, "shop-web").await.unwrap();
    let m = &web.spec.configs;
    assert_eq!(
        (
            m[0].source.as_str(),
            m[0].container_path(),
            m[0].mode,
            m[0].version
        ),
        (
            "shop_nginx.conf",
            "/etc/nginx/nginx.conf".to_string(),
            Some(0o440),
            1
        )
    );
    assert_eq!(m[1].container_path(), "/motd");
    let motd = rita.config("dev", "shop_motd").await.unwrap();
    assert_eq!(motd.spec["data"], B64.encode("hello"));

    let changed = STACK_FILE.replace("content: hello", "content: bonjour");
    let plan = rita
        .deploy_stack(
            "dev",
            "shop",
            &deploy_request(&changed, &[("nginx.conf", NGINX)], false),
        )
        .await
        .unwrap();
    assert_eq!(
        plan.configs,
        vec![
            "new version 2 of config shop_motd",
            "config shop_nginx.conf unchanged (version 1)"
        ]
    );
    assert!(plan.changed[0].upgrade, "{plan:?}");

    let exported = rita.export_stack("dev", "shop").await.unwrap();
    let text = &exported[0].content;
    assert!(text.contains("shop_motd:\n    external: true"), "{text}");
    assert!(!text.contains("bonjour"), "{text}");

    rita.delete("dev", Kind::Stack, "shop").await.unwrap();
    for name in ["shop_motd", "shop_nginx.conf"] {
        let err = s.client.config("dev", name).await.unwrap_err();
        assert_eq!(err.status(), Some(404), "{name} goes with the stack: {err}");
    }
}

#[tokio::test]
async fn a_deploy_naming_an_unknown_or_foreign_config_is_refused_and_changes_nothing() {
    let s = start().await;
    env(&s, "dev").await;
    s.client
        .create_config("dev", &value("site.conf", "x"))
        .await
        .unwrap();
    let before = s.snapshot();
    let external = "services:\n  web:\n    image: nginx\n    configs: [shared]\nconfigs:\n  shared:\n    external: true\n";
    let err = s
        .client
        .deploy_stack("dev", "shop", &deploy_request(external, &[], false))
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(422), "{err}");
    assert!(err.to_string().contains("configs.shared"), "{err}");
    let foreign = "services:\n  web:\n    image: nginx\n    configs: [site]\nconfigs:\n  site:\n    content: mine\n    name: site.conf\n";
    let err = s
        .client
        .deploy_stack("dev", "shop", &deploy_request(foreign, &[], false))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("external: true"), "{err}");
    let relative = "services:\n  web:\n    image: nginx\n    configs:\n      - source: site\n        target: etc/site.conf\nconfigs:\n  site:\n    content: x\n";
    let err = s
        .client
        .deploy_stack("dev", "shop", &deploy_request(relative, &[], false))
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(422), "{err}");
    assert!(
        err.to_string()
            .contains("compose.yaml:6: services.web.configs[0].target"),
        "{err}"
    );
    assert_eq!(before, s.snapshot(), "nothing changed");
}
