//! `cargo xtask bench stats`: what the agent's live stats cost. N
//! containers run on the private engine, labelled as Corral's instances;
//! the agent's own sampler (`corral_agent::stats::Sampler`) samples them
//! and the host every interval for the given time, and the CPU of this
//! process and of dockerd is measured over that time. The anchor, in the
//! same run: Docker's stats API through `docker stats --no-stream` of the
//! same containers, at the same interval (its CPU is the client's and
//! dockerd's). Goal (issue 14): under 2 % of a core for 100 containers.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::Args;
use serde_json::json;

use crate::docker::Docker;

const PREFIX: &str = "bench-stats-";

#[derive(Debug, Clone, Args)]
pub struct StatsArgs {
    /// Containers to sample.
    #[arg(long, default_value_t = 100)]
    pub containers: u32,
    /// Seconds each side is measured.
    #[arg(long, default_value_t = 60)]
    pub seconds: u64,
    /// Seconds between two rounds (the agent's default is 5).
    #[arg(long, default_value_t = 5)]
    pub interval: u64,
    /// Instances whose hour of samples the server's book is filled with,
    /// for its memory.
    #[arg(long, default_value_t = 1_000)]
    pub book_instances: u32,
}

/// Resident memory of this process, in bytes.
fn rss_bytes() -> anyhow::Result<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm")?;
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .context("/proc/self/statm")?;
    Ok(pages * rustix::param::page_size() as u64)
}

/// The server's memory for an hour of stats of `instances` instances on
/// 10 nodes: their reports, every 5 s for an hour, into the server's own
/// `StatsBook`; resident memory before and after, and the time per report.
fn server_memory(instances: u32) -> anyhow::Result<()> {
    use corral_api::stats::{InstanceSamples, Sample, StatsReport};
    use corral_server::stats_book::{DEFAULT_MAX_SERIES, StatsBook};
    const NODES: u32 = 10;
    let book = StatsBook::new(DEFAULT_MAX_SERIES);
    let before = rss_bytes()?;
    let start_ms = 1_000_000_000_000u64;
    let mut reports = 0u32;
    let started = Instant::now();
    for tick in 0..720u64 {
        let time_ms = start_ms + tick * 5_000;
        let sample = |i: u64| Sample {
            time_ms,
            cpu_percent: (i % 100) as f64,
            memory_bytes: 50 << 20,
            memory_limit_bytes: 1 << 30,
            net_rx_bytes_per_s: 1_000 + i,
            ..Sample::default()
        };
        for node in 0..NODES {
            let report = StatsReport {
                host: vec![sample(u64::from(node))],
                instances: (0..instances)
                    .filter(|i| i % NODES == node)
                    .map(|i| InstanceSamples {
                        instance: format!("web{}-{}", i / 10, i % 10 + 1),
                        service: format!("web{}", i / 10),
                        samples: vec![sample(u64::from(i))],
                    })
                    .collect(),
            };
            book.ingest("default", &format!("n{node}"), &report, time_ms);
            reports += 1;
        }
    }
    let spent = started.elapsed();
    let after = rss_bytes()?;
    let grown = after.saturating_sub(before);
    println!(
        "server book: an hour of {instances} instances ({} series): {:.1} MiB resident more, {:.0} µs per report of {} instances",
        book.series_count(),
        grown as f64 / (1u64 << 20) as f64,
        spent.as_secs_f64() * 1e6 / f64::from(reports),
        instances / NODES
    );
    Ok(())
}

/// CPU seconds of a process (`self`, or a pid), and of its waited-for
/// children, from /proc.
fn cpu_seconds(pid: &str) -> anyhow::Result<(f64, f64)> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // Fields after the command's closing parenthesis; utime is field 14.
    let rest = text.rsplit_once(')').map(|(_, r)| r).unwrap_or_default();
    let f: Vec<f64> = rest
        .split_whitespace()
        .map(|x| x.parse().unwrap_or(0.0))
        .collect();
    let tick = rustix::param::clock_ticks_per_second() as f64;
    let at = |i: usize| f.get(i - 3).copied().unwrap_or(0.0) / tick;
    Ok((at(14) + at(15), at(16) + at(17)))
}

pub fn bench_stats(args: &StatsArgs) -> anyhow::Result<()> {
    if args.containers == 0 || args.seconds == 0 || args.interval == 0 {
        bail!("--containers, --seconds and --interval must be at least 1");
    }
    server_memory(args.book_instances)?;
    let engine = corral_testing::ensure_engine()?;
    corral_testing::ensure_images(&engine)?;
    let docker = Docker::new(&engine.docker_host);
    docker.remove_all(&format!("name={PREFIX}"))?;
    let result = measure(args, &engine, &docker);
    if let Err(e) = docker.remove_all(&format!("name={PREFIX}")) {
        eprintln!("warning: cannot remove the benchmark's containers: {e:#}");
    }
    result
}

fn measure(
    args: &StatsArgs,
    engine: &corral_testing::PrivateEngine,
    docker: &Docker,
) -> anyhow::Result<()> {
    eprintln!(
        "==> {} containers on {}",
        args.containers, engine.docker_host
    );
    let mut names = Vec::new();
    for i in 1..=args.containers {
        let name = format!("{PREFIX}{i}");
        docker.run(&[
            "run",
            "-d",
            "--name",
            &name,
            "--label",
            &format!("io.corral.instance={name}"),
            "--label",
            "io.corral.service=bench-stats",
            corral_testing::BUSYBOX_IMAGE,
            "sleep",
            "3600",
        ])?;
        names.push(name);
    }
    let dockerd = std::fs::read_to_string(engine.root.join("docker.pid"))
        .context("the private engine's pid file")?
        .trim()
        .to_string();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let interval = Duration::from_secs(args.interval);
    let period = Duration::from_secs(args.seconds);

    // Corral's sampler.
    let host = engine.docker_host.clone();
    let (corral, samples) = runtime.block_on(async {
        let engine = corral_engine::DockerEngine::connect(Some(&host)).await?;
        let mut sampler = corral_agent::stats::Sampler::new(PathBuf::from("/"));
        // The first round finds each container's process (one inspect each).
        sampler.round(&engine).await;
        let (own0, _) = cpu_seconds("self")?;
        let (d0, _) = cpu_seconds(&dockerd)?;
        let start = Instant::now();
        let mut samples = 0;
        let mut rounds = 0;
        while start.elapsed() < period {
            tokio::time::sleep(interval).await;
            samples += sampler.round(&engine).await.instances.len();
            rounds += 1;
        }
        let wall = start.elapsed().as_secs_f64();
        let (own1, _) = cpu_seconds("self")?;
        let (d1, _) = cpu_seconds(&dockerd)?;
        anyhow::Ok(((own1 - own0, d1 - d0, wall, rounds), samples))
    })?;

    // The anchor: Docker's stats API, through its own client.
    let (_, kids0) = cpu_seconds("self")?;
    let (d0, _) = cpu_seconds(&dockerd)?;
    let start = Instant::now();
    let mut rounds = 0;
    while start.elapsed() < period {
        std::thread::sleep(interval);
        let mut cmd = docker.command();
        cmd.args(["stats", "--no-stream", "--format", "{{.Name}} {{.CPUPerc}}"])
            .args(&names);
        let out = cmd.output().context("docker stats")?;
        if !out.status.success() {
            bail!("docker stats: {}", String::from_utf8_lossy(&out.stderr));
        }
        rounds += 1;
    }
    let wall = start.elapsed().as_secs_f64();
    let (_, kids1) = cpu_seconds("self")?;
    let (d1, _) = cpu_seconds(&dockerd)?;
    let anchor = (kids1 - kids0, d1 - d0, wall, rounds);

    let pct = |cpu: f64, wall: f64| cpu / wall * 100.0;
    let (own, dd, wall_c, rounds_c) = corral;
    println!(
        "| sampler | rounds | samples | own CPU | dockerd CPU | own % of a core | with dockerd |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|");
    println!(
        "| corral (cgroup files) | {rounds_c} | {samples} | {own:.2} s | {dd:.2} s | {:.2} % | {:.2} % |",
        pct(own, wall_c),
        pct(own + dd, wall_c)
    );
    let (client, dd_a, wall_a, rounds_a) = anchor;
    println!(
        "| docker stats --no-stream | {rounds_a} | {} | {client:.2} s | {dd_a:.2} s | {:.2} % | {:.2} % |",
        rounds_a * names.len(),
        pct(client, wall_a),
        pct(client + dd_a, wall_a)
    );
    let figures = json!({
        "containers": args.containers,
        "seconds": args.seconds,
        "interval_s": args.interval,
        "corral": {"rounds": rounds_c, "samples": samples, "own_cpu_s": own, "dockerd_cpu_s": dd,
                   "wall_s": wall_c, "own_core_pct": pct(own, wall_c), "with_dockerd_core_pct": pct(own + dd, wall_c)},
        "docker_stats": {"rounds": rounds_a, "client_cpu_s": client, "dockerd_cpu_s": dd_a,
                         "wall_s": wall_a, "client_core_pct": pct(client, wall_a), "with_dockerd_core_pct": pct(client + dd_a, wall_a)},
        "goal_core_pct": 2.0,
    });
    let dir = PathBuf::from("target/bench");
    std::fs::create_dir_all(&dir)?;
    std::fs::write(
        dir.join("stats.json"),
        serde_json::to_string_pretty(&figures)?,
    )?;
    eprintln!("==> wrote target/bench/stats.json");
    Ok(())
}
