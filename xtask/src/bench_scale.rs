//! `cargo xtask bench scale`: the real server (`corral server`, a child
//! process) and N simulated nodes (the real agent, each with its own API
//! client, on the recording fake engine; tasks of this process), then M
//! instances in S services of mixed shape (see `bench_scale_mix`). Measures
//! the time from the first create to every instance running, placements per
//! second, the latency of a probe client's reads and writes meanwhile, the
//! server's RSS (idle and peak), its CPU per thread, and the store's size.
//! Afterwards it checks that no placement rule was broken.
//!
//! Then, unless `--churn-percent 0`, the churn phase (`bench_scale_churn`):
//! a share of the nodes die and come back. The delivery lag (an instance
//! written → its container started, as reported) comes from the final
//! listing of every instance.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::Args;
use corral_api::Client;
use corral_types::{Instance, Kind, NodeState, Object, Service};
use tokio::task::JoinSet;

use crate::bench_scale_churn::{ChurnRun, delivery_lag_ms};
use crate::bench_scale_fleet::Fleet;
use crate::bench_scale_mix::{
    ServicePlan, check_rules, expected_total, plan_services, service_spec, spread_skew,
};
use crate::bench_scale_probe::{PROBE_SERVICE, Probe, create_probe_service, percentile};
use crate::bench_scale_report::ScaleReport;
use crate::bench_scale_server::ServerChild;

const ENV: &str = "default";
const POLL: Duration = Duration::from_millis(250);
/// Services created at once.
const CREATE_PARALLEL: usize = 8;

/// How the creation of the services ended, and when (none: still going).
type CreateOutcome = Arc<std::sync::Mutex<Option<(Result<(), String>, Duration)>>>;
/// Set in the environment of the copy of xtask started with a higher limit
/// of open files, so it does not start another.
const RAISED_ENV: &str = "CORRAL_BENCH_SCALE_FD_RAISED";

#[derive(Debug, Clone, Args)]
pub struct ScaleArgs {
    /// Simulated nodes.
    #[arg(long, default_value_t = 200)]
    pub nodes: usize,
    /// Instances in all (global services count one per node).
    #[arg(long, default_value_t = 5000)]
    pub instances: usize,
    /// Services; default: instances / 150, at least 10.
    #[arg(long)]
    pub services: Option<usize>,
    /// Build and run the server in release (`target/release/corral`), and
    /// the simulated nodes in child processes of a release build of xtask.
    #[arg(long)]
    pub release: bool,
    /// Use this `corral` binary instead of building one.
    #[arg(long)]
    pub server_binary: Option<PathBuf>,
    /// Limit of every wait, in seconds.
    #[arg(long, default_value_t = 600)]
    pub timeout: u64,
    /// Interval of the probe client's read and write, in milliseconds.
    #[arg(long, default_value_t = 50)]
    pub probe_ms: u64,
    /// Agents started at once, before a short pause.
    #[arg(long, default_value_t = 250)]
    pub start_batch: usize,
    /// Skip the rule check at the end (it lists every instance).
    #[arg(long)]
    pub no_check: bool,
    /// Share of the nodes (percent) that die and come back after the
    /// deploy; 0 skips the churn phase.
    #[arg(long, default_value_t = 10)]
    pub churn_percent: usize,
    /// Run the configuration this many times (each on a fresh server) and
    /// report min, median and max; the goals are judged on the worst.
    #[arg(long, default_value_t = 1)]
    pub runs: usize,
    /// The open files one process of simulated nodes may use (default: this
    /// process's limit); below what all the nodes need, they are split
    /// over several processes.
    #[arg(long)]
    pub files_per_process: Option<u64>,
    /// Serve the API over plain HTTP instead of TLS, to measure what TLS
    /// costs side by side; needs a `--server-binary` built with `cargo
    /// build --release -p corral --features bench-plain-http` (the same
    /// binary serves TLS without this flag).
    #[arg(long)]
    pub plain_http: bool,
}

/// What [`run_scale`] needs.
#[derive(Debug, Clone)]
pub struct ScaleOptions {
    pub binary: PathBuf,
    pub profile: &'static str,
    pub nodes: usize,
    pub instances: usize,
    pub services: usize,
    pub timeout: Duration,
    pub probe_every: Duration,
    pub start_batch: usize,
    pub check: bool,
    pub churn_percent: usize,
    pub files_per_process: Option<u64>,
    /// The API over plain HTTP (see [`ScaleArgs::plain_http`]).
    pub plain_http: bool,
    /// The xtask binary that runs simulated nodes in child processes.
    pub nodes_binary: PathBuf,
}

pub fn bench_scale(args: &ScaleArgs) -> anyhow::Result<()> {
    if args.nodes == 0 || args.instances == 0 || args.start_batch == 0 {
        bail!("--nodes, --instances and --start-batch must be at least 1");
    }
    let services = args.services.unwrap_or((args.instances / 150).max(10));
    // Each agent holds a listener, a watch and pooled connections.
    let fd_needed = 12 * args.nodes as u64 + 4096;
    ensure_fd_limit(fd_needed)?;
    let (binary, profile) = match &args.server_binary {
        Some(path) => (path.clone(), "given"),
        None => (
            build_corral(args.release)?,
            if args.release { "release" } else { "debug" },
        ),
    };
    let options = ScaleOptions {
        binary,
        profile,
        nodes: args.nodes,
        instances: args.instances,
        services,
        timeout: Duration::from_secs(args.timeout),
        probe_every: Duration::from_millis(args.probe_ms.max(1)),
        start_batch: args.start_batch,
        check: !args.no_check,
        churn_percent: args.churn_percent.min(100),
        files_per_process: args.files_per_process,
        plain_http: args.plain_http,
        nodes_binary: nodes_binary(args.release)?,
    };
    let mut runs = Vec::new();
    for run in 1..=args.runs.max(1) {
        if args.runs > 1 {
            eprintln!("==> run {run} of {}", args.runs);
        }
        let load_before = crate::bench_scale_runs::load_average();
        let report = run_scale(&options)?;
        report.print_table();
        let path = report.write()?;
        println!("figures written to {}", path.display());
        runs.push(crate::bench_scale_runs::RunOutcome {
            report,
            load_before,
        });
    }
    if runs.len() > 1 {
        let path = crate::bench_scale_runs::summarise(&runs)?;
        println!("the runs' figures written to {}", path.display());
    }
    for outcome in &runs {
        let report = &outcome.report;
        if let Some(e) = &report.churn_error {
            bail!("{e}");
        }
        if let Some(v) = report.violations.as_ref().filter(|v| !v.is_empty()) {
            for problem in v.iter().take(20) {
                eprintln!("  rule broken: {problem}");
            }
            bail!("{} placement rules broken", v.len())
        }
    }
    Ok(())
}

/// The binary whose `bench scale-nodes` runs simulated nodes in child
/// processes: this one, or with `release` a release build of xtask (the
/// agents are the product's code; a debug build of them takes the cores
/// the server is measured on).
fn nodes_binary(release: bool) -> anyhow::Result<PathBuf> {
    let this = std::env::current_exe().context("cannot find the xtask binary")?;
    let in_release = this.parent().is_some_and(|d| d.ends_with("release"));
    if !release || in_release {
        return Ok(this);
    }
    crate::bench_net::build_release_bin("xtask", Some("xtask"))
}

/// `cargo build -p corral`; returns the binary.
pub fn build_debug() -> anyhow::Result<PathBuf> {
    build_corral(false)
}

/// `cargo build [--release] -p corral`; returns the binary.
fn build_corral(release: bool) -> anyhow::Result<PathBuf> {
    if release {
        return crate::corral_up::build_release();
    }
    eprintln!("==> cargo build -p corral");
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let status = Command::new(cargo)
        .current_dir(corral_testing::workspace_root())
        .args(["build", "-p", "corral"])
        .status()
        .context("cannot run cargo build -p corral")?;
    if !status.success() {
        bail!("cargo build -p corral failed ({status})");
    }
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| corral_testing::workspace_root().join("target"));
    Ok(target.join("debug/corral"))
}

/// Starts the server and the nodes, runs the deploy, cleans up.
pub fn run_scale(options: &ScaleOptions) -> anyhow::Result<ScaleReport> {
    let plans = plan_services(options.nodes, options.instances, options.services)
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let tmp = tempfile::tempdir().context("cannot create a temporary directory")?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the tokio runtime")?;
    eprintln!(
        "==> corral server ({}, data in {})",
        options.profile,
        tmp.path().display()
    );
    let mut server = ServerChild::start_for(
        &options.binary,
        tmp.path(),
        12 * options.nodes as u64 + 4096,
        options.nodes,
        options.plain_http,
    )?;
    let result = runtime.block_on(run_on(options, &plans, &mut server));
    if result.is_err() {
        eprintln!("server log ends:\n{}", server.log_tail(10));
    }
    if let Err(e) = server.stop() {
        eprintln!("warning: {e:#}");
    }
    runtime.shutdown_timeout(Duration::from_secs(5));
    result
}

async fn run_on(
    options: &ScaleOptions,
    plans: &[ServicePlan],
    server: &mut ServerChild,
) -> anyhow::Result<ScaleReport> {
    let client = Client::with_trust(&server.url, &server.token, server.trust())?;
    let mut report = ScaleReport {
        nodes: options.nodes,
        instances: expected_total(plans),
        services: plans.len(),
        server_profile: if options.plain_http {
            format!("{}, API over plain HTTP", options.profile)
        } else {
            format!("{}, API over TLS", options.profile)
        },
        ..ScaleReport::default()
    };
    eprintln!("==> starting {} simulated nodes", options.nodes);
    let started = Instant::now();
    let mut nodes = start_nodes(options, server).await?;
    let outcome = deploy(
        options,
        plans,
        server,
        &client,
        &mut nodes,
        &mut report,
        started,
    )
    .await;
    eprintln!("==> stopping the simulated nodes");
    nodes.stop(Duration::from_secs(30)).await;
    outcome.map(|()| report)
}

/// Starts the agents in batches of `start_batch`, 200 ms apart (in child
/// processes when this one may not open enough files for them all).
async fn start_nodes(options: &ScaleOptions, server: &ServerChild) -> anyhow::Result<Fleet> {
    let limit = options
        .files_per_process
        .or_else(open_files_limit)
        .unwrap_or(20_000);
    let mut all = Fleet::start(
        &server.url,
        &server.token,
        &server.ca_pem,
        options.nodes,
        limit,
        &options.nodes_binary,
        // The run's temporary directory (the server's log is in it).
        server.log.parent().unwrap_or(Path::new("/tmp")),
    )
    .await?;
    let mut first = 0;
    while first < options.nodes {
        let count = options.start_batch.min(options.nodes - first);
        all.add(first, count).await?;
        first += count;
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    Ok(all)
}

async fn deploy(
    options: &ScaleOptions,
    plans: &[ServicePlan],
    server: &mut ServerChild,
    client: &Client,
    nodes: &mut Fleet,
    report: &mut ScaleReport,
    started: Instant,
) -> anyhow::Result<()> {
    wait_for_nodes(options, server, client, nodes).await?;
    report.seconds_to_join = started.elapsed().as_secs_f64();
    eprintln!(
        "==> {} nodes active after {:.1}s",
        options.nodes, report.seconds_to_join
    );
    create_probe_service(client).await?;
    tokio::time::sleep(Duration::from_secs(2)).await;
    report.server_idle_rss_mb = kib_to_mb(server.status_kib("VmRSS"));
    let cpu_before = server.cpu_by_thread();
    let nodes_before = nodes.cpu_seconds();
    let probe = Probe::start(client, options.probe_every, options.timeout)?;
    eprintln!(
        "==> creating {} services ({} instances)",
        plans.len(),
        report.instances
    );
    // The creates run while the progress is sampled: instances that run
    // before the last service is created count from when they ran.
    let t0 = Instant::now();
    let creating: CreateOutcome = Arc::default();
    {
        let (client, plans, timeout) = (client.clone(), plans.to_vec(), options.timeout);
        let outcome = creating.clone();
        tokio::spawn(async move {
            let created = create_services(&client, &plans, timeout)
                .await
                .map_err(|e| format!("{e:#}"));
            if let Ok(mut slot) = outcome.lock() {
                *slot = Some((created, t0.elapsed()));
            }
        });
    }
    let waited = wait_for_running(options, server, client, nodes, report, t0, &creating).await;
    if let Some((_, took)) = creating.lock().ok().and_then(|o| o.clone()) {
        report.seconds_to_create = took.as_secs_f64();
    }
    let figures = probe.finish()?;
    waited?;
    report.seconds_to_all_running = t0.elapsed().as_secs_f64();
    report.placements_per_s = report.instances as f64 / report.seconds_to_all_running;
    record_probe(report, &figures);
    let cpu_after = server.cpu_by_thread();
    report.server_cpu_s = cpu_after
        .iter()
        .map(|(k, v)| (k.clone(), v - cpu_before.get(k).copied().unwrap_or(0.0)))
        .collect();
    report.agents_cpu_s = nodes.cpu_seconds() - nodes_before;
    report.server_peak_rss_mb = kib_to_mb(server.status_kib("VmHWM"));
    report.server_rss_after_mb = kib_to_mb(server.status_kib("VmRSS"));
    report.store_mb = server.store_bytes() as f64 / 1e6;
    report.server_log_lines = server.log_lines();
    report.fake_containers_running = nodes.running_containers().await?;
    if options.check {
        eprintln!("==> checking the placement rules");
        let (violations, skew, lag) = check(client, plans).await?;
        report.violations = Some(violations);
        report.spread_skew = skew;
        report.delivery_lag_ms = lag;
    }
    if options.churn_percent > 0 {
        let churn = ChurnRun {
            client,
            nodes,
            node_count: options.nodes,
            share_percent: options.churn_percent,
            expected_running: report.instances,
            probe_every: options.probe_every,
            timeout: options.timeout,
        };
        // The deploy's figures are kept (and printed) when the churn fails.
        match churn.run().await {
            Ok(figures) => report.churn = Some(figures),
            Err(e) => report.churn_error = Some(format!("{e:#}")),
        }
    }
    report.server_peak_rss_run_mb = kib_to_mb(server.status_kib("VmHWM"));
    Ok(())
}

fn record_probe(report: &mut ScaleReport, figures: &crate::bench_scale_probe::ProbeFigures) {
    let all = figures.all_ms();
    report.api_p50_ms = percentile(&all, 50.0);
    report.api_p99_ms = percentile(&all, 99.0);
    report.read_p50_ms = percentile(&figures.reads_ms, 50.0);
    report.read_p99_ms = percentile(&figures.reads_ms, 99.0);
    report.write_p50_ms = percentile(&figures.writes_ms, 50.0);
    report.write_p99_ms = percentile(&figures.writes_ms, 99.0);
    report.probe_requests = all.len();
    report.probe_errors = figures.errors;
    if figures.errors > 0 {
        eprintln!(
            "probe: {} errors, the last: {}",
            figures.errors, figures.last_error
        );
    }
}

fn kib_to_mb(kib: Option<u64>) -> f64 {
    kib.map_or(f64::NAN, |k| k as f64 * 1024.0 / 1e6)
}

/// Errors when the server died or agents ended.
async fn check_health(server: &mut ServerChild, nodes: &mut Fleet) -> anyhow::Result<()> {
    server.check_alive()?;
    let failed = nodes.failed().await?;
    if !failed.is_empty() {
        bail!("{} simulated nodes ended, e.g. {}", failed.len(), failed[0]);
    }
    Ok(())
}

async fn wait_for_nodes(
    options: &ScaleOptions,
    server: &mut ServerChild,
    client: &Client,
    nodes: &mut Fleet,
) -> anyhow::Result<()> {
    let deadline = Instant::now() + options.timeout;
    let mut active = 0;
    while Instant::now() < deadline {
        check_health(server, nodes).await?;
        if let Ok(list) = client.nodes(ENV).await {
            active = list
                .items
                .iter()
                .filter(|n| n.status.state == NodeState::Active)
                .count();
            if active >= options.nodes {
                return Ok(());
            }
        }
        tokio::time::sleep(POLL).await;
    }
    bail!(
        "timed out after {}s: {active} of {} nodes active",
        options.timeout.as_secs(),
        options.nodes
    )
}

/// Creates the services, [`CREATE_PARALLEL`] at a time.
async fn create_services(
    client: &Client,
    plans: &[ServicePlan],
    timeout: Duration,
) -> anyhow::Result<()> {
    let mut pending = JoinSet::new();
    let deadline = tokio::time::Instant::now() + timeout;
    for plan in plans {
        if pending.len() >= CREATE_PARALLEL {
            join_one(&mut pending, deadline).await?;
        }
        let client = client.clone();
        let service: Service = Object::new(Kind::Service, ENV, &plan.name, service_spec(plan));
        pending.spawn(async move {
            client
                .create(&service)
                .await
                .with_context(|| format!("cannot create service {}", service.meta.name))
                .map(|_| ())
        });
    }
    while !pending.is_empty() {
        join_one(&mut pending, deadline).await?;
    }
    Ok(())
}

async fn join_one(
    set: &mut JoinSet<anyhow::Result<()>>,
    deadline: tokio::time::Instant,
) -> anyhow::Result<()> {
    match tokio::time::timeout_at(deadline, set.join_next()).await {
        Err(_) => bail!("timed out creating the services"),
        Ok(None) => Ok(()),
        Ok(Some(joined)) => joined.context("a create task failed")?,
    }
}

/// Polls the services' running counts until every instance runs; records
/// when shares of them ran, as reported and on the fake engines.
async fn wait_for_running(
    options: &ScaleOptions,
    server: &mut ServerChild,
    client: &Client,
    nodes: &mut Fleet,
    report: &mut ScaleReport,
    t0: Instant,
    creating: &CreateOutcome,
) -> anyhow::Result<()> {
    let expected = report.instances;
    let deadline = Instant::now() + options.timeout;
    let mut running = 0;
    let mut last_print = Instant::now();
    while Instant::now() < deadline {
        if let Some((Err(e), _)) = creating.lock().ok().and_then(|o| o.clone()) {
            bail!("creating the services: {e}");
        }
        check_health(server, nodes).await?;
        if let Ok(list) = client.services(ENV).await {
            running = list
                .items
                .iter()
                .filter(|s| s.meta.name != PROBE_SERVICE)
                .map(|s| u64::from(s.status.running))
                .sum();
        }
        let seconds = t0.elapsed().as_secs_f64();
        mark_progress(&mut report.progress, running, expected, seconds);
        let on_engines = nodes.running_containers().await? as u64;
        mark_progress(&mut report.engine_progress, on_engines, expected, seconds);
        if running >= expected {
            return Ok(());
        }
        if last_print.elapsed() >= Duration::from_secs(10) {
            eprintln!(
                "    {:.0}s: {running} of {expected} running",
                t0.elapsed().as_secs_f64()
            );
            last_print = Instant::now();
        }
        tokio::time::sleep(POLL).await;
    }
    bail!(
        "timed out after {}s: {running} of {expected} instances running",
        options.timeout.as_secs()
    )
}

/// Records the first time `done` of `expected` reached 1, 10, 50, 90, 99 and 100 %.
fn mark_progress(marks: &mut Vec<(u32, f64)>, done: u64, expected: u64, seconds: f64) {
    for mark in [1u32, 10, 50, 90, 99, 100] {
        let reached = done * 100 >= expected * u64::from(mark);
        if reached && !marks.iter().any(|(m, _)| *m == mark) {
            marks.push((mark, seconds));
        }
    }
}

type Checked = (Vec<String>, Option<(u32, String)>, Option<(f64, f64, f64)>);

/// Lists every node and instance, checks the placement rules and works out
/// the delivery lag.
async fn check(client: &Client, plans: &[ServicePlan]) -> anyhow::Result<Checked> {
    let nodes = client
        .nodes(ENV)
        .await
        .context("cannot list the nodes")?
        .items;
    let instances: Vec<Instance> = client
        .list(ENV, Kind::Instance, "")
        .await
        .context("cannot list the instances")?
        .items;
    let skew = spread_skew(plans, &nodes, &instances);
    let lag = delivery_lag_ms(&instances);
    Ok((check_rules(plans, &nodes, &instances), skew, lag))
}

/// Makes sure the soft limit of open files is at least `needed`: if not,
/// runs this same command again under `sh -c 'ulimit -n'` and exits with its
/// status (root may raise the limit; others go as far as the hard limit, and
/// the simulated nodes are then split over processes: `bench_scale_fleet`).
fn ensure_fd_limit(needed: u64) -> anyhow::Result<()> {
    let soft = open_files_limit().unwrap_or(0);
    if soft >= needed {
        return Ok(());
    }
    if std::env::var_os(RAISED_ENV).is_some() {
        eprintln!(
            "==> the limit of open files is {soft}, below the {needed} one process of this run \
             would need: the simulated nodes run in several processes"
        );
        return Ok(());
    }
    eprintln!("==> raising the limit of open files from {soft} to {needed} (running again)");
    let exe = std::env::current_exe().context("cannot find the xtask binary")?;
    // Else as far as the hard limit goes.
    let script = format!(
        "ulimit -n {needed} 2>/dev/null || ulimit -n \"$(ulimit -Hn)\" || true; exec \"$0\" \"$@\""
    );
    let status = Command::new("sh")
        .args(["-c", &script])
        .arg(&exe)
        .args(std::env::args_os().skip(1))
        .env(RAISED_ENV, "1")
        .status()
        .with_context(|| format!("cannot run {} again", exe.display()))?;
    std::process::exit(status.code().unwrap_or(1));
}

/// The soft limit of open files of this process.
fn open_files_limit() -> Option<u64> {
    let text = std::fs::read_to_string(Path::new("/proc/self/limits")).ok()?;
    let line = text.lines().find(|l| l.starts_with("Max open files"))?;
    line.trim_start_matches("Max open files")
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}
