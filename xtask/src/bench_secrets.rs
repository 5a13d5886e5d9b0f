//! `cargo xtask bench secrets`: the time from `secret update` to every
//! instance of a service of N running with the new version, against its
//! anchor, the same rolling upgrade started by a change of an environment
//! variable (`service update`-like replace), on the same `corral up` and
//! the private engine; alternating which goes first, several runs.

use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use clap::Args;
use corral_api::Client;
use corral_testing::WHOAMI_IMAGE;
use corral_types::{
    Instance, InstanceState, Kind, NodeState, Object, SecretMount, SecretValueRequest, Service,
    ServiceSpec,
};
use tokio::runtime::Runtime;

use crate::bench_start::running_unless_failed;
use crate::corral_up::{CorralUp, UpOptions, build_release, wait_for};
use crate::docker::Docker;

const ENV: &str = "default";
const SERVICE: &str = "bench-secret";
const SECRET: &str = "bench-password";
const TIMEOUT: Duration = Duration::from_secs(300);
const POLL: Duration = Duration::from_millis(20);

#[derive(Debug, Clone, Args)]
pub struct SecretsArgs {
    /// Instances of the service.
    #[arg(long, default_value_t = 10)]
    pub instances: u32,
    /// Runs (each measures a secret update and an env change).
    #[arg(long, default_value_t = 3)]
    pub runs: u32,
}

struct Bed<'a> {
    runtime: &'a Runtime,
    client: &'a Client,
    count: u32,
}

pub fn bench_secrets(args: &SecretsArgs) -> anyhow::Result<()> {
    if args.instances == 0 || args.runs == 0 {
        bail!("--instances and --runs must be at least 1");
    }
    let root = corral_testing::engine_root();
    let was_up = corral_testing::ping(&root.join("docker.sock"));
    let engine = corral_testing::ensure_engine()?;
    let docker = Docker::new(&engine.docker_host);
    corral_testing::ensure_whoami_image(&engine)?;
    let binary = build_release()?;
    let tmp = tempfile::tempdir().context("cannot create a temporary directory")?;
    let up = CorralUp::start(&UpOptions {
        binary,
        docker_host: engine.docker_host.clone(),
        args: vec![
            "--data-dir".into(),
            tmp.path().join("data").into(),
            "--listen".into(),
            "127.0.0.1:0".into(),
            "--agent-listen".into(),
            "127.0.0.1:0".into(),
        ],
        config_home: Some(tmp.path().join("config")),
        data_home: Some(tmp.path().join("data-home")),
        echo: false,
    })?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the tokio runtime")?;
    let client = Client::new(&up.url, &up.token, &up.ca_pem)?;
    let bed = Bed {
        runtime: &runtime,
        client: &client,
        count: args.instances,
    };
    let result = run_all(&bed, args);
    up.stop()?;
    if let Err(e) = docker.remove_all(&format!("label=io.corral.service={SERVICE}")) {
        eprintln!("warning: cannot remove the benchmark's containers: {e:#}");
    }
    if !was_up {
        corral_testing::stop_engine()?;
    }
    result
}

fn run_all(bed: &Bed<'_>, args: &SecretsArgs) -> anyhow::Result<()> {
    wait_for("the node to be active", TIMEOUT, POLL, || {
        let nodes = bed.runtime.block_on(bed.client.nodes(ENV))?;
        Ok(nodes
            .items
            .iter()
            .any(|n| n.status.state == NodeState::Active)
            .then_some(()))
    })?;
    let secret = SecretValueRequest {
        name: SECRET.into(),
        value: B64.encode("version-0"),
        labels: Default::default(),
    };
    bed.runtime
        .block_on(bed.client.create_secret(ENV, &secret))?;
    let spec = ServiceSpec {
        image: WHOAMI_IMAGE.into(),
        scale: bed.count,
        secrets: vec![SecretMount {
            source: SECRET.into(),
            ..SecretMount::default()
        }],
        ..ServiceSpec::default()
    };
    let svc: Service = Object::new(Kind::Service, ENV, SERVICE, spec);
    bed.runtime.block_on(bed.client.create(&svc))?;
    settled(bed, |_| true)?;
    let mut rows = Vec::new();
    for run in 1..=args.runs {
        let secret_first = run % 2 == 1;
        let mut secret_s = 0.0;
        if secret_first {
            secret_s = secret_update(bed, run)?;
        }
        let env_s = env_change(bed, run)?;
        if !secret_first {
            secret_s = secret_update(bed, run)?;
        }
        eprintln!("    run {run}: secret update {secret_s:.2} s, env change {env_s:.2} s");
        rows.push((run, secret_s, env_s));
    }
    println!(
        "| run | secret update -> all {} running with it (s) | env change -> all running with it (s) |",
        bed.count
    );
    println!("|---:|---:|---:|");
    for (run, s, e) in &rows {
        println!("| {run} | {s:.2} | {e:.2} |");
    }
    bed.runtime
        .block_on(bed.client.delete(ENV, Kind::Service, SERVICE))?;
    Ok(())
}

/// Waits until `count` instances run and all of them satisfy `ok`; the time.
fn settled(bed: &Bed<'_>, ok: impl Fn(&Instance) -> bool) -> anyhow::Result<Duration> {
    let started = Instant::now();
    wait_for("the service to settle", TIMEOUT, POLL, || {
        let list = bed
            .runtime
            .block_on(bed.client.service_instances(ENV, SERVICE))?;
        let running = running_unless_failed(&list.items)?;
        let all_new = list.items.iter().all(&ok);
        let done = running == bed.count as usize && list.items.len() == running && all_new;
        Ok(done.then(|| started.elapsed()))
    })
}

fn secret_update(bed: &Bed<'_>, run: u32) -> anyhow::Result<f64> {
    let req = SecretValueRequest {
        value: B64.encode(format!("version-{run}")),
        ..SecretValueRequest::default()
    };
    let started = Instant::now();
    let updated = bed
        .runtime
        .block_on(bed.client.update_secret(ENV, SECRET, &req))?;
    let version = updated.status["version"].as_u64().unwrap_or_default();
    settled(bed, |i| {
        i.spec.launch.secrets.first().map(|m| m.version) == Some(version)
            && i.status.state == InstanceState::Running
    })?;
    Ok(started.elapsed().as_secs_f64())
}

fn env_change(bed: &Bed<'_>, run: u32) -> anyhow::Result<f64> {
    let value = format!("run-{run}");
    let mut svc: Service = bed
        .runtime
        .block_on(bed.client.get(ENV, Kind::Service, SERVICE))?;
    svc.spec.env.insert("BENCH_RUN".into(), value.clone());
    let started = Instant::now();
    bed.runtime.block_on(bed.client.update(&svc))?;
    settled(bed, |i| {
        i.spec.launch.env.get("BENCH_RUN") == Some(&value)
            && i.status.state == InstanceState::Running
    })?;
    Ok(started.elapsed().as_secs_f64())
}
