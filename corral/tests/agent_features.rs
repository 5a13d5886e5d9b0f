//! The agent's launch-config features on the real engine: every field
//! reaching Docker, health checks, sidekicks and jobs.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeMap;
use std::process::Command;
use std::time::Duration;

use common::{BUSYBOX, Cluster, WHOAMI, wait_for};
use corral_types::{
    Health, HealthCheck, HealthStrategy, Instance, InstanceState, JobSpec, MountKind, Probe,
    Resources, RestartPolicy, ServiceSpec, Sidekick, Ulimit, VolumeMount,
};
use serde_json::Value;

/// Removes named volumes when dropped; declare it before the cluster so
/// that it runs after the cluster removed the containers using them.
#[derive(Default)]
struct Volumes {
    docker_host: String,
    names: Vec<String>,
}

impl Drop for Volumes {
    fn drop(&mut self) {
        if !self.docker_host.is_empty() && !self.names.is_empty() {
            let _ = Command::new("docker")
                .args(["-H", &self.docker_host, "volume", "rm", "-f"])
                .args(&self.names)
                .output();
        }
    }
}

fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

fn sh(script: &str) -> Vec<String> {
    strings(&["sh", "-c", script])
}

fn inspect(c: &Cluster, container: &str) -> Value {
    let out = c.docker(&["inspect", container]);
    assert!(out.status.success(), "docker inspect {container}");
    let all: Value = serde_json::from_slice(&out.stdout).unwrap();
    all[0].clone()
}

fn logs(c: &Cluster, container: &str) -> String {
    let out = c.docker(&["logs", container]);
    String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr)
}

/// Waits until the only instance of `service` satisfies `ok`.
async fn wait_instance(
    c: &Cluster,
    service: &str,
    what: &str,
    timeout: Duration,
    ok: impl Fn(&Instance) -> bool,
) -> Instance {
    let what = format!("{service}: {what}");
    wait_for(&what, timeout, || async {
        let insts = c.instances(service).await;
        insts.into_iter().find(|i| ok(i))
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_launch_config_field_reaches_docker() {
    let mut volumes = Volumes::default();
    let c = Cluster::start("it-feat-config").await;
    volumes.docker_host = c.docker_host.clone();
    volumes.names.push("featstack_cfgdata".into());
    let spec = ServiceSpec {
        image: BUSYBOX.into(),
        scale: 1,
        stack: "featstack".into(),
        entrypoint: Some(strings(&["/bin/sh", "-c"])),
        command: strings(&["echo started; sleep 1000"]),
        env: BTreeMap::from([("GREETING".into(), "hi".into())]),
        working_dir: "/tmp".into(),
        user: "1000:1000".into(),
        hostname: "cfghost".into(),
        container_labels: BTreeMap::from([("team".into(), "blue".into())]),
        volumes: vec![
            VolumeMount {
                kind: MountKind::Volume,
                source: "cfgdata".into(),
                target: "/data".into(),
                read_only: false,
            },
            VolumeMount {
                kind: MountKind::Tmpfs,
                source: String::new(),
                target: "/scratch".into(),
                read_only: false,
            },
        ],
        cap_add: strings(&["NET_ADMIN"]),
        cap_drop: strings(&["MKNOD"]),
        limits: Resources {
            cpu_millis: 500,
            memory_bytes: 64 << 20,
        },
        ulimits: vec![Ulimit {
            name: "nofile".into(),
            soft: 1024,
            hard: 2048,
        }],
        stop_signal: "SIGINT".into(),
        stop_grace_period_ms: Some(2500),
        ..Default::default()
    };
    c.create_service_spec("cfgsvc", spec).await;
    let running = c.wait_running("cfgsvc", 1).await;
    let info = inspect(&c, &running[0].status.container_id);
    let config = &info["Config"];
    let host = &info["HostConfig"];
    assert_eq!(config["Entrypoint"], serde_json::json!(["/bin/sh", "-c"]));
    assert_eq!(
        config["Cmd"],
        serde_json::json!(["echo started; sleep 1000"])
    );
    let env: Vec<String> = serde_json::from_value(config["Env"].clone()).unwrap();
    assert!(env.contains(&"GREETING=hi".to_string()), "{env:?}");
    assert_eq!(config["WorkingDir"], "/tmp");
    assert_eq!(config["User"], "1000:1000");
    assert_eq!(config["Hostname"], "cfghost");
    assert_eq!(config["Labels"]["team"], "blue");
    assert_eq!(config["Labels"]["io.corral.stack"], "featstack");
    assert_eq!(config["StopSignal"], "SIGINT");
    assert_eq!(config["StopTimeout"], 3);
    let mounts = info["Mounts"].as_array().unwrap();
    assert!(
        mounts
            .iter()
            .any(|m| m["Type"] == "volume" && m["Name"] == "featstack_cfgdata"),
        "{mounts:?}"
    );
    let host_mounts = host["Mounts"].as_array().unwrap();
    assert!(
        host_mounts
            .iter()
            .any(|m| m["Type"] == "tmpfs" && m["Target"] == "/scratch"),
        "{host_mounts:?}"
    );
    assert_eq!(host["CapAdd"], serde_json::json!(["NET_ADMIN"]));
    assert_eq!(host["CapDrop"], serde_json::json!(["MKNOD"]));
    assert_eq!(host["Memory"], 64 << 20);
    assert_eq!(host["NanoCpus"], 500_000_000);
    assert_eq!(host["Ulimits"][0]["Name"], "nofile");
    assert_eq!(host["Ulimits"][0]["Hard"], 2048);
    let volume = c.docker(&["volume", "inspect", "featstack_cfgdata"]);
    let volume: Value = serde_json::from_slice(&volume.stdout).unwrap();
    assert_eq!(volume[0]["Labels"]["io.corral.stack"], "featstack");
    assert_eq!(volume[0]["Labels"]["io.corral.environment"], "default");
    assert!(running[0].status.started_ms > 0);
    assert_eq!(running[0].status.health, Health::None);
}

fn check(probe: Probe) -> HealthCheck {
    HealthCheck {
        probe,
        interval_ms: 300,
        timeout_ms: 1000,
        healthy_threshold: 2,
        unhealthy_threshold: 2,
        start_period_ms: 0,
        initializing_timeout_ms: 0,
        reinitializing_timeout_ms: 0,
        strategy: HealthStrategy::Recreate,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_checks_report_health_and_replace_unhealthy_instances() {
    let c = Cluster::start("it-feat-health").await;
    let http = ServiceSpec {
        image: WHOAMI.into(),
        scale: 1,
        health_check: Some(check(Probe::Http {
            port: 80,
            request_line: "/health".into(),
        })),
        ..Default::default()
    };
    c.create_service_spec("hhttp", http).await;
    let tcp = ServiceSpec {
        image: WHOAMI.into(),
        scale: 1,
        health_check: Some(check(Probe::Tcp { port: 81 })),
        ..Default::default()
    };
    c.create_service_spec("htcp", tcp).await;
    let command = ServiceSpec {
        image: BUSYBOX.into(),
        scale: 1,
        command: sh("touch /tmp/ok; sleep 1000"),
        health_check: Some(check(Probe::Command {
            command: strings(&["CMD-SHELL", "test -f /tmp/ok"]),
        })),
        ..Default::default()
    };
    c.create_service_spec("hcmd", command).await;

    let t = Duration::from_secs(45);
    wait_instance(&c, "hhttp", "healthy", t, |i| {
        i.status.health == Health::Healthy && i.status.state == InstanceState::Running
    })
    .await;
    wait_instance(&c, "hcmd", "healthy", t, |i| {
        i.status.health == Health::Healthy
    })
    .await;
    let first = wait_instance(&c, "htcp", "running", t, |i| {
        i.status.state == InstanceState::Running
    })
    .await;
    let replaced = wait_instance(&c, "htcp", "replaced after unhealthy", t, |i| {
        i.status.restarts >= 1 && i.status.container_id != first.status.container_id
    })
    .await;
    assert_ne!(replaced.status.health, Health::Healthy);
    // The healthy ones were never replaced.
    let http = c.instances("hhttp").await;
    assert_eq!(http[0].status.restarts, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sidekicks_share_the_network_namespace_and_volumes() {
    let mut volumes = Volumes::default();
    let c = Cluster::start("it-feat-sidekick").await;
    volumes.docker_host = c.docker_host.clone();
    volumes.names.push("skshared".into());
    let web = ServiceSpec {
        image: WHOAMI.into(),
        scale: 1,
        sidekicks: vec![Sidekick {
            name: "probe".into(),
            image: BUSYBOX.into(),
            // `echo` ends the line: Docker holds a partial line back from its logs.
            command: sh(
                "while true; do wget -qO- http://127.0.0.1:80/health && echo && sleep 1000; sleep 1; done",
            ),
            ..Default::default()
        }],
        ..Default::default()
    };
    c.create_service_spec("skweb", web).await;
    let data = ServiceSpec {
        image: BUSYBOX.into(),
        scale: 1,
        command: sh("echo hello > /data/x; sleep 1000"),
        volumes: vec![VolumeMount {
            kind: MountKind::Volume,
            source: "skshared".into(),
            target: "/data".into(),
            read_only: false,
        }],
        sidekicks: vec![Sidekick {
            name: "reader".into(),
            image: BUSYBOX.into(),
            command: sh("while ! cat /data/x; do sleep 1; done; sleep 1000"),
            volumes_from: vec![String::new()],
            ..Default::default()
        }],
        ..Default::default()
    };
    c.create_service_spec("skvol", data).await;

    let t = Duration::from_secs(45);
    let web = wait_instance(&c, "skweb", "sidekick running", t, |i| {
        i.status.state == InstanceState::Running
            && i.status.sidekicks.len() == 1
            && i.status.sidekicks[0].state == InstanceState::Running
    })
    .await;
    let sidekick = &web.status.sidekicks[0];
    assert_eq!(sidekick.name, "probe");
    let info = inspect(&c, "skweb-1-probe");
    assert_eq!(info["Id"], sidekick.container_id.as_str());
    assert_eq!(
        info["HostConfig"]["NetworkMode"],
        format!("container:{}", web.status.container_id)
    );
    assert_eq!(info["Config"]["Labels"]["io.corral.sidekick"], "probe");
    wait_for("ok in the sidekick's logs", t, || async {
        logs(&c, "skweb-1-probe").contains("ok").then_some(())
    })
    .await;
    wait_instance(&c, "skvol", "sidekick running", t, |i| {
        i.status.sidekicks.first().map(|s| s.state) == Some(InstanceState::Running)
    })
    .await;
    wait_for("hello read through volumes_from", t, || async {
        logs(&c, "skvol-1-reader").contains("hello").then_some(())
    })
    .await;

    // A sidekick removed behind Corral's back comes back beside the same primary.
    let out = c.docker(&["rm", "-f", "skweb-1-probe"]);
    assert!(out.status.success());
    let again = wait_instance(&c, "skweb", "sidekick recreated", t, |i| {
        i.status.sidekicks.first().is_some_and(|s| {
            s.state == InstanceState::Running && s.container_id != sidekick.container_id
        })
    })
    .await;
    assert_eq!(again.status.container_id, web.status.container_id);
}

/// The volume mounted at `target` in `container`'s `docker inspect`.
fn mount_at(info: &Value, target: &str) -> Value {
    let mounts = info["Mounts"].as_array().cloned().unwrap_or_default();
    mounts
        .into_iter()
        .find(|m| m["Destination"] == target)
        .unwrap_or_else(|| panic!("no mount at {target}: {}", info["Mounts"]))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_primary_mounts_the_volumes_of_its_start_once_data_sidekick() {
    let mut volumes = Volumes::default();
    let c = Cluster::start("it-feat-datavol").await;
    volumes.docker_host = c.docker_host.clone();
    let spec = ServiceSpec {
        image: WHOAMI.into(),
        scale: 1,
        volumes_from: vec!["data".into()],
        sidekicks: vec![Sidekick {
            name: "data".into(),
            image: BUSYBOX.into(),
            entrypoint: Some(sh("echo seeded > /data/seed")),
            volumes: vec![VolumeMount {
                kind: MountKind::Volume,
                source: String::new(),
                target: "/data".into(),
                read_only: false,
            }],
            start_once: true,
            ..Default::default()
        }],
        ..Default::default()
    };
    c.create_service_spec("datavol", spec).await;
    let t = Duration::from_secs(45);
    let seeded = |i: &Instance| {
        i.status.state == InstanceState::Running
            && i.status.sidekicks.len() == 1
            && i.status.sidekicks[0].state == InstanceState::Exited
            && i.status.sidekicks[0].exit_code == Some(0)
    };
    let first = wait_instance(&c, "datavol", "data sidekick exited 0", t, seeded).await;
    let data = inspect(&c, "datavol-1-data");
    let volume = mount_at(&data, "/data")["Name"]
        .as_str()
        .unwrap()
        .to_string();
    volumes.names.push(volume.clone());
    assert_eq!(data["Id"], first.status.sidekicks[0].container_id.as_str());
    assert_ne!(
        data["HostConfig"]["NetworkMode"],
        format!("container:{}", first.status.container_id)
    );
    let primary = inspect(&c, "datavol-1");
    assert_eq!(primary["HostConfig"]["VolumesFrom"][0], "datavol-1-data");
    assert_eq!(mount_at(&primary, "/data")["Name"], volume.as_str());
    let out = c.docker(&[
        "run",
        "--rm",
        "--volumes-from",
        "datavol-1",
        BUSYBOX,
        "cat",
        "/data/seed",
    ]);
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "seeded");

    // A start_once sidekick is not started again.
    let started_at = data["State"]["StartedAt"].clone();
    tokio::time::sleep(Duration::from_secs(4)).await;
    let again = inspect(&c, "datavol-1-data");
    assert_eq!(again["State"]["Status"], "exited");
    assert_eq!(again["State"]["StartedAt"], started_at);
    let now = c.instances("datavol").await;
    assert!(seeded(&now[0]), "{:?}", now[0].status);
    assert_eq!(now[0].status.restarts, 0);

    // Replacing the primary keeps the data sidekick, so its volume.
    let out = c.docker(&["kill", "datavol-1"]);
    assert!(out.status.success());
    let replaced = wait_instance(&c, "datavol", "primary replaced", t, |i| {
        seeded(i) && i.status.restarts >= 1 && i.status.container_id != first.status.container_id
    })
    .await;
    assert_eq!(
        replaced.status.sidekicks[0].container_id,
        first.status.sidekicks[0].container_id
    );
    let primary = inspect(&c, "datavol-1");
    assert_eq!(mount_at(&primary, "/data")["Name"], volume.as_str());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jobs_run_to_completion_or_give_up_after_max_attempts() {
    let c = Cluster::start("it-feat-job").await;
    let ok = ServiceSpec {
        image: BUSYBOX.into(),
        scale: 1,
        command: sh("exit 0"),
        restart: RestartPolicy::OnFailure,
        job: Some(JobSpec { max_attempts: 0 }),
        ..Default::default()
    };
    c.create_service_spec("jobok", ok).await;
    let failing = ServiceSpec {
        image: BUSYBOX.into(),
        scale: 1,
        command: sh("exit 1"),
        restart: RestartPolicy::OnFailure,
        job: Some(JobSpec { max_attempts: 2 }),
        ..Default::default()
    };
    c.create_service_spec("jobfail", failing).await;

    let t = Duration::from_secs(45);
    wait_instance(&c, "jobok", "exited 0", t, |i| {
        i.status.state == InstanceState::Exited && i.status.exit_code == Some(0)
    })
    .await;
    let failed = wait_instance(&c, "jobfail", "failed", t, |i| {
        i.status.state == InstanceState::Failed
    })
    .await;
    assert_eq!(
        failed.status.reason,
        "gave up after 2 attempts (last exit code 1)"
    );
    assert_eq!(failed.status.restarts, 1);
    tokio::time::sleep(Duration::from_secs(4)).await;
    let done = c.instances("jobok").await;
    assert_eq!(done[0].status.state, InstanceState::Exited);
    assert_eq!(done[0].status.restarts, 0);
    assert_eq!(c.containers("jobok").len(), 1);
    let still = c.instances("jobfail").await;
    assert_eq!(still[0].status.state, InstanceState::Failed);
    assert_eq!(still[0].status.restarts, 1);
}
