//! Stacks from compose files, end to end on the private engine: deploy,
//! dependency order, health, dry run, export round trip, upgrades and
//! automatic rollback, jobs, global services.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::PathBuf;
use std::time::Duration;

use common::{Cluster, http_get, wait_for};
use corral_types::{Health, InstanceState, Kind, Service, UpgradeState};

fn fixture(stack: &str, file: &str) -> String {
    let p: PathBuf = [
        env!("CARGO_MANIFEST_DIR"),
        "tests",
        "fixtures",
        "stacks",
        stack,
        file,
    ]
    .iter()
    .collect();
    p.to_string_lossy().to_string()
}

fn deploy(
    c: &Cluster,
    name: &str,
    files: &[String],
    env: &[(&str, &str)],
    extra: &[&str],
) -> serde_json::Value {
    let mut args = vec!["stack", "deploy", name];
    for f in files {
        args.push("-f");
        args.push(f);
    }
    args.extend_from_slice(extra);
    args.extend_from_slice(&["-o", "json"]);
    let out = c.cli_env(&args, env);
    assert!(
        out.status.success(),
        "deploy {name}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// `n` healthy instances of the current launch config right now, without waiting.
async fn assert_healthy_now(c: &Cluster, name: &str, n: usize) {
    let svc = service(c, name).await;
    let launch = svc.spec.launch();
    let good = c
        .instances(name)
        .await
        .iter()
        .filter(|i| {
            !i.spec.removing
                && i.spec.launch == launch
                && i.status.state == InstanceState::Running
                && matches!(i.status.health, Health::Healthy | Health::None)
        })
        .count();
    assert_eq!(good, n, "{name}: {good} of {n} ready");
}

async fn service(c: &Cluster, name: &str) -> Service {
    c.client.get("default", Kind::Service, name).await.unwrap()
}

/// Waits until `service` has `n` running instances of its current launch config that are healthy (or have no check).
async fn wait_healthy(c: &Cluster, name: &str, n: usize) {
    wait_for(
        &format!("{n} healthy instances of {name}"),
        Duration::from_secs(90),
        || async {
            let svc = service(c, name).await;
            let launch = svc.spec.launch();
            let insts = c.instances(name).await;
            let good = insts
                .iter()
                .filter(|i| {
                    !i.spec.removing
                        && i.spec.launch == launch
                        && i.status.state == InstanceState::Running
                        && matches!(i.status.health, Health::Healthy | Health::None)
                })
                .count();
            (good == n && insts.len() == n).then_some(())
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_web_app_with_database_and_cache_deploys_in_order_and_twice_changes_nothing() {
    let c = Cluster::start("it-st-webapp").await;
    let files = [fixture("webapp", "docker-compose.yml")];
    let plan = deploy(&c, "webapp", &files, &[("GREETING", "hi")], &[]);
    assert_eq!(
        plan["created"],
        serde_json::json!(["webapp-cache", "webapp-db", "webapp-web"])
    );
    assert_eq!(plan["applied"], true);
    wait_healthy(&c, "webapp-db", 1).await;
    wait_healthy(&c, "webapp-cache", 1).await;
    wait_healthy(&c, "webapp-web", 2).await;
    // depends_on: service_healthy: web started only after db was healthy.
    let db = c.instances("webapp-db").await;
    let web = c.instances("webapp-web").await;
    assert!(web.iter().all(|w| w.meta.created >= db[0].meta.created));
    assert_eq!(
        web[0].spec.launch.env.get("GREETING").map(String::as_str),
        Some("hi")
    );
    // The named volume exists with the stack's prefix.
    let out = c.docker(&["volume", "inspect", "webapp_dbdata"]);
    assert!(out.status.success(), "volume webapp_dbdata missing");

    let before = c.client.services("default").await.unwrap().revision;
    let again = deploy(&c, "webapp", &files, &[("GREETING", "hi")], &[]);
    assert_eq!(again["created"], serde_json::json!([]));
    assert_eq!(again["changed"], serde_json::json!([]));
    assert_eq!(again["removed"], serde_json::json!([]));
    tokio::time::sleep(Duration::from_millis(500)).await;
    let svc = service(&c, "webapp-web").await;
    assert!(svc.meta.revision <= before || svc.spec.image == "corral-whoami:latest");
    assert_eq!(
        svc.meta.generation, 1,
        "a second deploy of the same files changed the service"
    );

    let out = c.cli(&["stack", "rm", "webapp"]);
    assert!(out.status.success());
    wait_for(
        "every container of the stack gone",
        Duration::from_secs(30),
        || async {
            c.docker_ids("label=io.corral.stack=webapp")
                .is_empty()
                .then_some(())
        },
    )
    .await;
    let _ = c.docker(&["volume", "rm", "webapp_dbdata"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dry_run_plan_changes_nothing_and_matches_what_deploy_does() {
    let c = Cluster::start("it-st-dry").await;
    let files = [fixture("worker", "docker-compose.yml")];
    let rev = c.client.services("default").await.unwrap().revision;
    let plan = deploy(&c, "work", &files, &[], &["--dry-run"]);
    assert_eq!(plan["applied"], false);
    assert_eq!(
        plan["created"],
        serde_json::json!(["work-queue", "work-worker"])
    );
    let placements = plan["placements"].as_array().unwrap().clone();
    assert_eq!(placements.len(), 4);
    assert!(
        placements.iter().all(|p| p["node"] == "it-st-dry"),
        "{placements:?}"
    );
    assert_eq!(
        c.client.services("default").await.unwrap().revision,
        rev,
        "dry run changed the store"
    );
    assert!(c.client.stacks("default").await.unwrap().items.is_empty());

    let applied = deploy(&c, "work", &files, &[], &[]);
    assert_eq!(applied["created"], plan["created"]);
    wait_healthy(&c, "work-queue", 1).await;
    wait_healthy(&c, "work-worker", 3).await;
    for p in &placements {
        let name = p["instance"].as_str().unwrap();
        let inst: corral_types::Instance =
            c.client.get("default", Kind::Instance, name).await.unwrap();
        assert_eq!(inst.spec.node, p["node"].as_str().unwrap(), "{name}");
    }
    let worker = service(&c, "work-worker").await;
    assert_eq!(
        worker.spec.env.get("WORKER_THREADS").map(String::as_str),
        Some("4")
    );
    assert_eq!(worker.spec.stop_grace_period_ms, Some(2000));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_exported_rancher_stack_deploys_to_the_same_stack_unchanged() {
    let c = Cluster::start("it-st-export").await;
    let files = [
        fixture("rancher", "docker-compose.yml"),
        fixture("rancher", "rancher-compose.yml"),
    ];
    deploy(&c, "ranch", &files, &[], &[]);
    wait_healthy(&c, "ranch-app", 2).await;
    let app = service(&c, "ranch-app").await;
    assert_eq!(app.spec.sidekicks.len(), 1);
    assert!(app.spec.health_check.is_some());
    let dir = tempfile::tempdir().unwrap();
    let out = c.cli(&[
        "stack",
        "export",
        "ranch",
        "-d",
        dir.path().to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut exported: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().path().to_string_lossy().to_string())
        .collect();
    exported.sort_by_key(|p| p.contains("rancher-compose"));
    let plan = deploy(&c, "ranch", &exported, &[], &[]);
    assert_eq!(plan["created"], serde_json::json!([]));
    assert_eq!(
        plan["changed"],
        serde_json::json!([]),
        "export did not round-trip: {plan}"
    );
    assert_eq!(plan["removed"], serde_json::json!([]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upgrade_to_a_good_config_finishes_and_a_bad_one_rolls_back_by_itself() {
    let c = Cluster::start("it-st-upgrade").await;
    // --wait returns once every service is ready: nothing left to wait for.
    deploy(
        &c,
        "up",
        &[fixture("webapp", "docker-compose.yml")],
        &[],
        &["--wait", "--timeout", "120s"],
    );
    assert_healthy_now(&c, "up-web", 2).await;

    let out = c.cli(&[
        "service",
        "upgrade",
        "up-web",
        "-e",
        "VERSION=2",
        "--wait",
        "--timeout",
        "120s",
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("up-web: ready 2/2"), "{stderr}");
    let svc = service(&c, "up-web").await;
    assert_eq!(svc.status.upgrade.unwrap().state, UpgradeState::Done);
    assert_healthy_now(&c, "up-web", 2).await;
    // The replaced instances may still be on their way out (marked
    // removing, their containers stopping): what runs is the new ones.
    let insts: Vec<_> = c
        .instances("up-web")
        .await
        .into_iter()
        .filter(|i| !i.spec.removing)
        .collect();
    assert_eq!(insts.len(), 2);
    assert!(
        insts
            .iter()
            .all(|i| i.spec.launch.env.get("VERSION").map(String::as_str) == Some("2"))
    );

    // An image without the health check's binary: the new instance never
    // gets healthy, and --wait fails with the rollback's reason.
    let out = c.cli(&[
        "service",
        "upgrade",
        "up-web",
        "--image",
        "corral-busybox:latest",
        "--wait",
        "--timeout",
        "150s",
        "--",
        "httpd",
        "-f",
        "-p",
        "80",
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(stderr.contains("rolled back"), "{stderr}");
    let svc = wait_for(
        "the automatic rollback",
        Duration::from_secs(120),
        || async {
            let svc = service(&c, "up-web").await;
            let up = svc.status.upgrade.clone()?;
            (up.state == UpgradeState::RolledBack).then_some(svc)
        },
    )
    .await;
    assert_eq!(svc.spec.image, "corral-whoami:latest");
    assert!(!svc.status.upgrade.unwrap().reason.is_empty());
    wait_healthy(&c, "up-web", 2).await;
    let history = c.cli(&["service", "history", "up-web", "-o", "json"]);
    let rows: serde_json::Value = serde_json::from_slice(&history.stdout).unwrap();
    assert_eq!(rows.as_array().unwrap().len(), 4, "{rows}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upgrade_interrupted_by_a_server_restart_resumes_and_finishes() {
    let mut c = Cluster::start("it-st-resume").await;
    deploy(
        &c,
        "res",
        &[fixture("worker", "docker-compose.yml")],
        &[],
        &[],
    );
    wait_healthy(&c, "res-worker", 3).await;
    let out = c.cli(&[
        "service",
        "upgrade",
        "res-worker",
        "-e",
        "ROUND=2",
        "--interval",
        "1s",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    wait_for("the first batch", Duration::from_secs(60), || async {
        let insts = c.instances("res-worker").await;
        insts
            .iter()
            .any(|i| {
                i.spec.launch.env.contains_key("ROUND") && i.status.state == InstanceState::Running
            })
            .then_some(())
    })
    .await;
    c.restart().await;
    wait_for(
        "the upgrade to finish after the restart",
        Duration::from_secs(120),
        || async {
            let svc = service(&c, "res-worker").await;
            (svc.status.upgrade?.state == UpgradeState::Done).then_some(())
        },
    )
    .await;
    wait_healthy(&c, "res-worker", 3).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jobs_run_to_completion_and_a_global_service_runs_on_every_eligible_node() {
    let c = Cluster::start("it-st-jobs").await;
    deploy(
        &c,
        "jobs",
        &[fixture("job", "docker-compose.yml")],
        &[],
        &[],
    );
    for name in ["jobs-migrate", "jobs-once"] {
        let inst = wait_for(
            &format!("{name} to complete"),
            Duration::from_secs(60),
            || async {
                let insts = c.instances(name).await;
                insts
                    .into_iter()
                    .find(|i| i.status.state == InstanceState::Exited)
            },
        )
        .await;
        assert_eq!(inst.status.exit_code, Some(0));
        assert_eq!(inst.status.restarts, 0);
    }
    let migrate = service(&c, "jobs-migrate").await;
    assert_eq!(migrate.spec.job.map(|j| j.max_attempts), Some(3));

    deploy(
        &c,
        "glob",
        &[fixture("global", "docker-compose.yml")],
        &[],
        &[],
    );
    wait_healthy(&c, "glob-agent", 1).await;
    let insts = c.instances("glob-agent").await;
    assert_eq!(insts[0].spec.pinned_node, "it-st-jobs");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_v2_file_with_ranges_links_and_limits_runs_and_warns_about_container_name() {
    let c = Cluster::start("it-st-legacy").await;
    let plan = deploy(
        &c,
        "legacy",
        &[fixture("legacy", "docker-compose.yml")],
        &[],
        &[],
    );
    let warnings = plan["warnings"].to_string();
    assert!(warnings.contains("container_name"), "{warnings}");
    wait_healthy(&c, "legacy-front", 1).await;
    wait_healthy(&c, "legacy-back", 1).await;
    http_get(18490, "/").await;
    let front = service(&c, "legacy-front").await;
    assert_eq!(front.spec.ports.len(), 2);
    assert_eq!(front.spec.limits.memory_bytes, 128 * 1024 * 1024);
}
