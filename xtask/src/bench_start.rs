//! `cargo xtask bench start`: the time from `service scale` to N more
//! running containers, against plain `docker run -d --init` of the same
//! image N times (sequentially, and 8 at a time), on the same engine.

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, anyhow, bail};
use clap::Args;
use corral_api::Client;
use corral_testing::{PrivateEngine, WHOAMI_IMAGE};
use corral_types::{InstanceState, Kind, NodeState};
use tokio::runtime::Runtime;

use crate::bench_report::{Figures, report};
use crate::corral_up::{CorralUp, UpOptions, build_release, wait_for};
use crate::docker::Docker;

const ENV: &str = "default";
const SERVICE: &str = "bench";
const DOCKER_PREFIX: &str = "bench-docker-";
/// Corral's agent runs this many engine operations at once.
const PARALLEL: u32 = 8;
const TIMEOUT: Duration = Duration::from_secs(120);
const POLL: Duration = Duration::from_millis(10);

#[derive(Debug, Clone, Args)]
pub struct StartArgs {
    /// How many containers to start per measurement.
    #[arg(long, default_value_t = 20)]
    pub count: u32,
    /// How many runs (each measures Corral and both docker anchors).
    #[arg(long, default_value_t = 3)]
    pub runs: u32,
}

/// Everything one run needs.
struct Bed<'a> {
    runtime: &'a Runtime,
    client: &'a Client,
    up: &'a CorralUp,
    docker: &'a Docker,
    count: u32,
}

pub fn bench_start(args: &StartArgs) -> anyhow::Result<()> {
    if args.count == 0 || args.runs == 0 {
        bail!("--count and --runs must be at least 1");
    }
    let root = corral_testing::engine_root();
    let was_up = corral_testing::ping(&root.join("docker.sock"));
    let engine = corral_testing::ensure_engine()?;
    let docker = Docker::new(&engine.docker_host);
    let result = bench_on(&engine, &docker, args);
    if let Err(error) = remove_bench_containers(&docker) {
        eprintln!("warning: cannot remove the benchmark's containers: {error:#}");
    }
    if !was_up {
        eprintln!("==> stopping the private engine (it was not running before)");
        corral_testing::stop_engine()?;
    }
    result
}

fn remove_bench_containers(docker: &Docker) -> anyhow::Result<()> {
    docker.remove_all(&format!("label=io.corral.service={SERVICE}"))?;
    docker.remove_all(&format!("name={DOCKER_PREFIX}"))?;
    Ok(())
}

fn bench_on(engine: &PrivateEngine, docker: &Docker, args: &StartArgs) -> anyhow::Result<()> {
    eprintln!("==> image {WHOAMI_IMAGE} in {}", engine.docker_host);
    corral_testing::ensure_whoami_image(engine)?;
    let binary = build_release()?;
    remove_bench_containers(docker)?;
    let tmp = tempfile::tempdir().context("cannot create a temporary directory")?;
    eprintln!("==> corral up (state in {})", tmp.path().display());
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
        up: &up,
        docker,
        count: args.count,
    };
    wait_for_active_node(&bed)?;
    let mut figures = Vec::new();
    for run in 0..args.runs {
        figures.push(measure_run(&bed, run)?);
    }
    up.stop()?;
    report(&figures, args, docker)
}

fn wait_for_active_node(bed: &Bed<'_>) -> anyhow::Result<()> {
    eprintln!("==> waiting for the node to be active");
    wait_for(
        "the embedded node to be active",
        TIMEOUT,
        Duration::from_millis(100),
        || {
            let nodes = bed.runtime.block_on(bed.client.nodes(ENV))?;
            let active = nodes
                .items
                .iter()
                .any(|n| n.status.state == NodeState::Active);
            Ok(active.then_some(()))
        },
    )
}

/// One run: Corral, then both docker anchors, or the other way round on
/// odd runs, so neither always meets a warm or a cold engine.
fn measure_run(bed: &Bed<'_>, run: u32) -> anyhow::Result<Figures> {
    let corral_first = run.is_multiple_of(2);
    let order = if corral_first {
        "corral, docker, docker-par"
    } else {
        "docker, docker-par, corral"
    };
    eprintln!("==> run {} of the benchmark ({order})", run + 1);
    let mut corral = Duration::ZERO;
    if corral_first {
        corral = corral_start(bed)?;
    }
    let docker_seq = docker_sequential(bed.docker, bed.count)?;
    settle();
    let docker_par = docker_parallel(bed.docker, bed.count)?;
    settle();
    if !corral_first {
        corral = corral_start(bed)?;
    }
    let figures = Figures::new(run + 1, order, corral, docker_seq, docker_par);
    eprintln!(
        "    corral {:.3}s  docker {:.3}s  docker-par {:.3}s  ratio {:.2}  ratio-par {:.2}",
        figures.corral_s, figures.docker_s, figures.docker_par_s, figures.ratio, figures.ratio_par
    );
    Ok(figures)
}

/// A pause between measurements, so one's clean-up does not bleed into the next.
fn settle() {
    std::thread::sleep(Duration::from_secs(1));
}

/// Creates `bench` at scale 0, scales it to N and times until N instances
/// run; then removes it and waits until its containers are gone.
fn corral_start(bed: &Bed<'_>) -> anyhow::Result<Duration> {
    bed.up.cli(&[
        "service",
        "create",
        SERVICE,
        "--image",
        WHOAMI_IMAGE,
        "--scale",
        "0",
    ])?;
    let started = Instant::now();
    bed.runtime
        .block_on(bed.client.scale_service(ENV, SERVICE, bed.count))
        .context("cannot scale the bench service")?;
    let elapsed = wait_for("the bench instances to run", TIMEOUT, POLL, || {
        let list = bed
            .runtime
            .block_on(bed.client.service_instances(ENV, SERVICE))?;
        let running = running_unless_failed(&list.items)?;
        Ok((running >= bed.count as usize).then(|| started.elapsed()))
    })?;
    settle();
    remove_service(bed)?;
    settle();
    Ok(elapsed)
}

fn remove_service(bed: &Bed<'_>) -> anyhow::Result<()> {
    bed.runtime
        .block_on(bed.client.delete(ENV, Kind::Service, SERVICE))
        .context("cannot remove the bench service")?;
    let filter = format!("label=io.corral.service={SERVICE}");
    wait_for(
        "the bench service and its containers to go",
        TIMEOUT,
        Duration::from_millis(100),
        || {
            let instances = bed
                .runtime
                .block_on(bed.client.service_instances(ENV, SERVICE))?;
            let gone = instances.items.is_empty() && bed.docker.ids(&filter)?.is_empty();
            Ok(gone.then_some(()))
        },
    )
}

fn docker_run(docker: &Docker, name: &str) -> anyhow::Result<()> {
    docker.run(&["run", "-d", "--init", "--name", name, WHOAMI_IMAGE])?;
    Ok(())
}

/// `docker run -d --init` N times, one after the other.
fn docker_sequential(docker: &Docker, count: u32) -> anyhow::Result<Duration> {
    let started = Instant::now();
    for i in 1..=count {
        docker_run(docker, &format!("{DOCKER_PREFIX}{i}"))?;
    }
    let elapsed = started.elapsed();
    docker.remove_all(&format!("name={DOCKER_PREFIX}"))?;
    Ok(elapsed)
}

/// `docker run -d --init` N times, [`PARALLEL`] at a time.
fn docker_parallel(docker: &Docker, count: u32) -> anyhow::Result<Duration> {
    let next = AtomicU32::new(1);
    let started = Instant::now();
    let outcome: anyhow::Result<()> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..PARALLEL.min(count))
            .map(|_| {
                scope.spawn(|| -> anyhow::Result<()> {
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        if i > count {
                            return Ok(());
                        }
                        docker_run(docker, &format!("{DOCKER_PREFIX}par-{i}"))?;
                    }
                })
            })
            .collect();
        for worker in workers {
            worker
                .join()
                .map_err(|_| anyhow!("a docker run thread panicked"))??;
        }
        Ok(())
    });
    let elapsed = started.elapsed();
    let removed = docker.remove_all(&format!("name={DOCKER_PREFIX}"));
    outcome?;
    removed?;
    Ok(elapsed)
}

/// How many of `instances` run; an error naming the first one that failed.
pub(crate) fn running_unless_failed(instances: &[corral_types::Instance]) -> anyhow::Result<usize> {
    if let Some(failed) = instances
        .iter()
        .find(|i| i.status.state == InstanceState::Failed)
    {
        bail!("{} failed: {}", failed.meta.name, failed.status.reason);
    }
    Ok(instances
        .iter()
        .filter(|i| i.status.state == InstanceState::Running)
        .count())
}
