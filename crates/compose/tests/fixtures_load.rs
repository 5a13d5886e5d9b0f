//! The project's own fixtures: each mapping, and the round trip through export.

mod common;

use std::collections::BTreeMap;

use common::*;
use corral_compose::{load, parse_env_file};
use corral_types::*;

#[test]
fn v2_file_with_links_and_a_sidekick_group() {
    let l = load_ok(&[file("v2-sidekick.yml")]);
    assert_eq!(
        l.services.keys().collect::<Vec<_>>(),
        ["cache", "db", "web"]
    );
    let web = &l.services["web"];
    assert_eq!(web.stack, "demo");
    assert_eq!(
        web.links,
        [
            Link {
                service: "db".into(),
                alias: "db".into()
            },
            Link {
                service: "cache".into(),
                alias: "redis".into()
            },
        ]
    );
    assert_eq!(web.sidekicks.len(), 2);
    assert_eq!(web.sidekicks[0].name, "web-data");
    assert_eq!(
        web.sidekicks[0].entrypoint,
        Some(vec!["/bin/true".to_string()])
    );
    assert_eq!(web.sidekicks[1].volumes_from, ["", "web-data"]);
    assert_eq!(
        web.container_labels
            .get("com.example.tier")
            .map(String::as_str),
        Some("front")
    );
    assert!(!web.container_labels.contains_key("io.rancher.sidekicks"));
    let cache = &l.services["cache"];
    assert_eq!(cache.command, ["redis-server", "--appendonly", "yes"]);
    assert_eq!(
        cache.limits,
        Resources {
            cpu_millis: 500,
            memory_bytes: 256 << 20
        }
    );
    assert_eq!(cache.restart, RestartPolicy::OnFailure);
    assert_eq!(l.services["db"].restart, RestartPolicy::Always);
    assert_eq!(l.volumes.iter().collect::<Vec<_>>(), ["pgdata", "static"]);
    assert_round_trip("demo", &l);
}

#[test]
fn v3_file_with_deploy() {
    let l = load_ok(&[file("v3-deploy.yml")]);
    let api = &l.services["api"];
    assert_eq!(api.scale, 3);
    assert_eq!(api.env["WORKERS"], "4");
    assert_eq!(
        api.ports,
        [PortSpec {
            host_port: 80,
            container_port: 8000,
            protocol: Protocol::Tcp
        }]
    );
    assert_eq!(
        api.limits,
        Resources {
            cpu_millis: 500,
            memory_bytes: 512 << 20
        }
    );
    assert_eq!(
        api.resources,
        Resources {
            cpu_millis: 250,
            memory_bytes: 128 << 20
        }
    );
    let rules: Vec<String> = api
        .placement
        .rules
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(
        rules,
        [
            "node.labels.zone == eu-1",
            "node.name != build-box",
            "node.role != manager"
        ]
    );
    assert_eq!(api.placement.spread_over, ["rack"]);
    assert_eq!(api.placement.max_per_node, 2);
    assert_eq!(
        api.update,
        UpdateConfig {
            batch_size: 2,
            interval_ms: 10_000,
            order: UpdateOrder::StartFirst,
            failure_action: FailureAction::Pause,
            monitor_ms: 90_000,
        }
    );
    assert_eq!(
        api.rollback.batch_size, 3,
        "parallelism 0 means the whole scale"
    );
    assert_eq!(api.rollback.interval_ms, 500);
    assert_eq!(api.restart, RestartPolicy::OnFailure);
    assert_eq!(api.job, Some(JobSpec { max_attempts: 5 }));
    assert_eq!(api.stop_grace_period_ms, Some(60_000));
    assert_eq!(api.stop_signal, "SIGINT");
    assert_eq!(
        api.ulimits,
        [
            Ulimit {
                name: "nproc".into(),
                soft: 65535,
                hard: 65535
            },
            Ulimit {
                name: "nofile".into(),
                soft: 20000,
                hard: 40000
            },
        ]
    );
    let agent = &l.services["agent"];
    assert_eq!(agent.mode, ServiceMode::Global);
    assert_eq!(agent.cap_add, ["NET_ADMIN"]);
    assert_eq!(agent.cap_drop, ["MKNOD"]);
    assert!(agent.privileged);
    let migrate = &l.services["migrate"];
    assert_eq!(migrate.command, ["./manage", "migrate"]);
    assert_eq!(migrate.restart, RestartPolicy::Never);
    assert_eq!(migrate.job, Some(JobSpec { max_attempts: 1 }));
    assert_round_trip("demo", &l);
}

#[test]
fn compose_spec_file_with_anchors_merge_keys_and_env_file() {
    let mut vars = BTreeMap::new();
    vars.insert("FROM_SHELL".to_string(), "shell-value".to_string());
    let files = [file("spec-anchors.yml"), file("backend.env")];
    let l = load("demo", &files, &vars).unwrap();
    let fe = &l.services["frontend"];
    assert_eq!(fe.image, "example/frontend:latest");
    assert_eq!(fe.env["TZ"], "UTC");
    assert_eq!(fe.container_labels["com.example.stack"], "demo");
    assert_eq!(
        fe.ports,
        [
            PortSpec {
                host_port: 3000,
                container_port: 3000,
                protocol: Protocol::Tcp
            },
            PortSpec {
                host_port: 9229,
                container_port: 9229,
                protocol: Protocol::Tcp
            },
        ]
    );
    assert_eq!(
        fe.depends_on,
        [
            Dependency {
                service: "backend".into(),
                condition: DependencyCondition::ServiceHealthy
            },
            Dependency {
                service: "init".into(),
                condition: DependencyCondition::ServiceCompletedSuccessfully
            },
        ]
    );
    let be = &l.services["backend"];
    assert_eq!(be.env["TZ"], "UTC");
    assert_eq!(
        be.env["DB_URL"], "postgres://db/app",
        "environment wins over env_file"
    );
    assert_eq!(be.env["DB_POOL"], "10");
    assert_eq!(be.env["GREETING"], "hello world");
    assert_eq!(be.env["FROM_SHELL"], "shell-value");
    assert_eq!(
        be.entrypoint,
        Some(vec![
            "/bin/sh".into(),
            "-c".into(),
            "exec backend --port 8080".into()
        ])
    );
    let hc = be.health_check.as_ref().unwrap();
    assert_eq!(
        hc.probe,
        Probe::Command {
            command: vec![
                "CMD".into(),
                "curl".into(),
                "-f".into(),
                "http://localhost:8080/health".into()
            ]
        }
    );
    assert_eq!(
        (
            hc.interval_ms,
            hc.timeout_ms,
            hc.unhealthy_threshold,
            hc.start_period_ms
        ),
        (10_000, 5_000, 5, 30_000)
    );
    assert_eq!(
        be.volumes,
        [
            VolumeMount {
                kind: MountKind::Tmpfs,
                source: String::new(),
                target: "/tmp".into(),
                read_only: false
            },
            VolumeMount {
                kind: MountKind::Volume,
                source: "cache".into(),
                target: "/var/cache".into(),
                read_only: false
            },
            VolumeMount {
                kind: MountKind::Bind,
                source: "/etc/ssl/certs".into(),
                target: "/etc/ssl/certs".into(),
                read_only: true
            },
        ]
    );
    assert_eq!(
        be.networks[1],
        NetworkAttachment {
            name: "private".into(),
            aliases: vec!["api".into(), "api.internal".into()]
        }
    );
    assert_eq!(
        (
            be.user.as_str(),
            be.working_dir.as_str(),
            be.hostname.as_str()
        ),
        ("1000:1000", "/srv", "backend")
    );
    let init = &l.services["init"];
    assert_eq!(init.restart, RestartPolicy::Never);
    assert_eq!(
        init.health_check.as_ref().unwrap().probe,
        Probe::Command {
            command: vec!["CMD-SHELL".into(), "backend check".into()]
        }
    );
    assert_eq!(l.networks.iter().collect::<Vec<_>>(), ["private", "public"]);
    let w: Vec<String> = l.warnings.iter().map(ToString::to_string).collect();
    assert!(
        w.iter().any(|w| w.starts_with(
            "spec-anchors.yml:18: services.frontend.ports[1]: host address 127.0.0.1 ignored"
        )),
        "{w:#?}"
    );
    assert_round_trip("demo", &l);
}

#[test]
fn rancher_pair_with_scale_health_upgrade_sidekicks_global_start_once_affinity() {
    let l = load_ok(&[
        file("rancher/docker-compose.yml"),
        file("rancher/rancher-compose.yml"),
    ]);
    assert_eq!(
        l.services.keys().collect::<Vec<_>>(),
        ["lb-target", "monitor", "setup"]
    );
    let t = &l.services["lb-target"];
    assert_eq!(t.scale, 3);
    let hc = t.health_check.as_ref().unwrap();
    assert_eq!(
        hc.probe,
        Probe::Http {
            port: 8080,
            request_line: "GET /healthz HTTP/1.0".into()
        }
    );
    assert_eq!(hc.initializing_timeout_ms, 60_000);
    assert_eq!(
        (t.update.batch_size, t.update.interval_ms, t.update.order),
        (2, 3000, UpdateOrder::StartFirst)
    );
    assert_eq!(t.sidekicks.len(), 1);
    assert_eq!(t.sidekicks[0].volumes_from, [""]);
    assert_eq!(
        t.container_labels.keys().collect::<Vec<_>>(),
        ["io.rancher.container.pull_image"]
    );
    let rules: Vec<String> = t.placement.rules.iter().map(ToString::to_string).collect();
    assert_eq!(
        rules,
        [
            "container db-1 absent",
            "container label io.rancher.stack_service.name=demo/lb-target absent (soft)",
            "node.labels.disk == ssd",
            "node.labels.maintenance != true",
            "node.labels.role == app",
            "node.labels.zone != b (soft)",
            "node.labels.zone == a (soft)",
        ]
    );
    let m = &l.services["monitor"];
    assert_eq!(m.mode, ServiceMode::Global);
    assert_eq!(
        m.placement.rules[0].to_string(),
        "node.labels.monitored == yes"
    );
    assert_eq!(
        m.health_check.as_ref().unwrap().probe,
        Probe::Tcp { port: 9100 }
    );
    let s = &l.services["setup"];
    assert_eq!(
        (s.restart, s.job),
        (RestartPolicy::Never, Some(JobSpec { max_attempts: 0 }))
    );
    assert!(s.container_labels.is_empty());
    let w: Vec<String> = l.warnings.iter().map(ToString::to_string).collect();
    assert!(
        !w.iter().any(|w| w.contains(".catalog")),
        "the catalog section is the catalog's, not a warning: {w:#?}"
    );
    for expected in [
        "rancher-compose.yml:11: services.lb-target.start_on_create: ignored",
        "rancher-compose.yml:12: services.lb-target.retain_ip: ignored",
        "rancher-compose.yml:34: services.monitor.health_check.strategy: ignored",
        "docker-compose.yml:15: services.lb-target.tty: ignored",
    ] {
        assert!(
            w.iter().any(|w| w.starts_with(expected)),
            "no {expected:?} in {w:#?}"
        );
    }
    let files = assert_round_trip("demo", &l);
    assert_eq!(
        files.len(),
        2,
        "http health checks need a rancher-compose.yml"
    );
}

#[test]
fn interpolation_fixture() {
    let vars = parse_env_file("interpolation.env", &file("interpolation.env").content).unwrap();
    let l = load("demo", &[file("interpolation.yml")], &vars).unwrap();
    let app = &l.services["app"];
    assert_eq!(app.image, "registry.local:5000/example/app:1.2.3");
    assert_eq!(app.env["PLAIN"], "/home/app/data");
    assert_eq!(app.env["DEFAULT_EMPTY"], "fallback");
    assert_eq!(app.env["COLON_DEFAULT"], "used");
    assert_eq!(app.env["DASH_DEFAULT"], "");
    assert_eq!(app.env["LITERAL"], "cost: $5");
    assert_eq!(app.env["NESTED"], "deep");
    assert_eq!(app.env["MISSING"], "xy");
    assert_eq!(app.env["FROM_VARS"], "from vars");
    assert_eq!(app.ports[0].host_port, 8080);
    assert_eq!(app.command, ["echo", "${SHELL_VAR}"]);
    let w: Vec<String> = l.warnings.iter().map(ToString::to_string).collect();
    assert_eq!(
        w,
        [
            "interpolation.yml:11: services.app.environment.MISSING: variable NOT_SET is not set: substituting an empty string"
        ]
    );
    assert_round_trip("demo", &l);
    let names = corral_compose::referenced_variables(&[file("interpolation.yml")]);
    assert_eq!(
        names.into_iter().collect::<Vec<_>>(),
        [
            "EMPTY_VAR",
            "HOME_DIR",
            "INNER",
            "NOT_SET",
            "OUTER",
            "PORT",
            "REGISTRY",
            "TAG",
            "UNSET_VAR"
        ]
    );
}

#[test]
fn later_compose_files_override_earlier_ones() {
    let base = src(
        "docker-compose.yml",
        "services:\n  web:\n    image: a:1\n    environment: [A=1, B=2]\n    ports: [\"80:80\"]\n    command: run\n",
    );
    let over = src(
        "docker-compose.prod.yml",
        "services:\n  web:\n    image: a:2\n    environment:\n      B: three\n    ports: [\"443:443\"]\n    command: [serve, --prod]\n",
    );
    let l = load_ok(&[base, over]);
    let web = &l.services["web"];
    assert_eq!(web.image, "a:2");
    assert_eq!(web.env["A"], "1");
    assert_eq!(web.env["B"], "three");
    assert_eq!(web.ports.len(), 2);
    assert_eq!(web.command, ["serve", "--prod"]);
}

#[test]
fn a_second_file_of_rancher_keys_only_is_an_overlay() {
    let base = src("docker-compose.yml", "services:\n  web:\n    image: a:1\n");
    let over = src("override.yml", "services:\n  web:\n    scale: 4\n");
    assert_eq!(load_ok(&[base, over]).services["web"].scale, 4);
}

#[test]
fn a_primary_mounts_its_data_sidekicks_that_start_once() {
    let l = load_ok(&[file("rancher-data-sidekick.yml")]);
    assert_eq!(l.services.keys().collect::<Vec<_>>(), ["mongo-cluster"]);
    let m = &l.services["mongo-cluster"];
    assert_eq!(m.volumes_from, ["mongo-datavolume", "mongo-base"]);
    let names: Vec<&str> = m.sidekicks.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["mongo-base", "mongo-datavolume"]);
    assert!(m.sidekicks.iter().all(|s| s.start_once));
    assert_eq!(m.sidekicks[1].volumes[0].target, "/data/db");
    assert!(
        m.sidekicks
            .iter()
            .all(|s| !s.container_labels.keys().any(|k| k.ends_with("start_once")))
    );
    // start_once is the sidekick's own: no restart warning for it.
    assert!(
        !l.warnings
            .iter()
            .any(|w| w.to_string().contains("ignored for a sidekick")),
        "{:?}",
        l.warnings
    );
    let files = assert_round_trip("demo", &l);
    assert!(files[0].content.contains("io.rancher.container.start_once"));
}
