//! `cargo xtask bench footprint`: the resident memory of the real Corral
//! processes, read from `/proc/<pid>/status` while they run:
//!
//! 1. `corral server` idle (fresh data directory, no node);
//! 2. a real `corral agent` joined to it and driving the private Docker
//!    Engine: idle, then with N instances of `corral-whoami` running (the
//!    server is sampled alongside);
//! 3. `corral up` (server and agent in one process): idle, then with the
//!    same N instances.
//!
//! Each phase waits [`SETTLE`] and then samples VmRSS every
//! [`SAMPLE_EVERY`] for `--seconds`; the figures are the median and the
//! maximum of the samples, VmHWM (the peak over the process's life so far),
//! the anonymous and file-backed parts of RSS and the thread count at the
//! end. Writes `target/bench/footprint.json`.

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::Args;
use corral_api::Client;
use corral_testing::{PrivateEngine, WHOAMI_IMAGE};
use corral_types::{Kind, NodeState};
use serde_json::json;
use tokio::runtime::Runtime;

use crate::bench_scale_server::{ServerChild, status_kib, terminate_child};
use crate::bench_start::running_unless_failed;
use crate::corral_up::{build_release, release_binary, wait_for};
use crate::docker::Docker;

mod report;
use report::Report;

const ENV: &str = "default";
const SERVICE: &str = "footprint";
const AGENT_NODE: &str = "bench-agent";
const TIMEOUT: Duration = Duration::from_secs(120);
const POLL: Duration = Duration::from_millis(100);
/// The pause before a phase is sampled, so start-up work has finished.
const SETTLE: Duration = Duration::from_secs(2);
const SAMPLE_EVERY: Duration = Duration::from_millis(250);
/// The line `corral up` prints once its API listens.
const UP_LINE: &str = "corral is up at ";
/// Goals of the issue, in MiB.
pub const SERVER_GOAL_MIB: f64 = 50.0;
pub const AGENT_GOAL_MIB: f64 = 20.0;
/// Anchors, in MiB: k3s's server with a small workload and its agent.
const K3S_SERVER_MIB: f64 = 1600.0;
const K3S_AGENT_MIB: f64 = 275.0;

#[derive(Debug, Clone, Args)]
pub struct FootprintArgs {
    /// Build and measure `target/release/corral` (the goals are about the
    /// release build); without it, the debug build.
    #[arg(long)]
    pub release: bool,
    /// Measure this `corral` binary instead of building one.
    #[arg(long)]
    pub binary: Option<PathBuf>,
    /// Instances of the workload service (`corral-whoami`).
    #[arg(long, default_value_t = 10)]
    pub instances: u32,
    /// Seconds of RSS sampling per phase.
    #[arg(long, default_value_t = 5)]
    pub seconds: u64,
    /// Skip `corral up`. Its node is named after the host, like any other
    /// `corral up` on the same engine, so do not run it while tests use the
    /// private engine.
    #[arg(long)]
    pub no_up: bool,
}

pub fn bench_footprint(args: &FootprintArgs) -> anyhow::Result<()> {
    if args.instances == 0 || args.seconds == 0 {
        bail!("--instances and --seconds must be at least 1");
    }
    let (binary, profile) = match &args.binary {
        Some(path) => (path.clone(), "given"),
        None if args.release => (build_release()?, "release"),
        None => (build_debug()?, "debug"),
    };
    let root = corral_testing::engine_root();
    let was_up = corral_testing::ping(&root.join("docker.sock"));
    let engine = corral_testing::ensure_engine()?;
    let docker = Docker::new(&engine.docker_host);
    let engine_version = docker.server_version().unwrap_or_else(|_| "unknown".into());
    let filter = format!("label=io.corral.service={SERVICE}");
    let result = measure(&binary, &engine, &docker, args);
    if let Err(error) = docker.remove_all(&filter) {
        eprintln!("warning: cannot remove the benchmark's containers: {error:#}");
    }
    if !was_up {
        eprintln!("==> stopping the private engine (it was not running before)");
        corral_testing::stop_engine()?;
    }
    let rows = result?;
    let report = Report {
        binary,
        profile,
        engine_version,
        instances: args.instances,
        seconds: args.seconds,
        rows,
    };
    report.print();
    report.write()
}

/// `cargo build -p corral`; returns `target/debug/corral`.
fn build_debug() -> anyhow::Result<PathBuf> {
    eprintln!("==> cargo build -p corral (debug: pass --release for the figures of the goals)");
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let status = Command::new(cargo)
        .current_dir(corral_testing::workspace_root())
        .args(["build", "-p", "corral"])
        .stdin(Stdio::null())
        .status()
        .context("cannot run cargo build -p corral")?;
    if !status.success() {
        bail!("cargo build -p corral failed ({status})");
    }
    // release_binary() is <target>/release/corral: its sibling directory.
    let binary = release_binary()
        .parent()
        .and_then(Path::parent)
        .map(|target| target.join("debug/corral"))
        .context("the release binary path has no target directory")?;
    if !binary.is_file() {
        bail!("{} was not built", binary.display());
    }
    Ok(binary)
}

/// What a measurement needs.
struct Bed<'a> {
    binary: &'a Path,
    engine: &'a PrivateEngine,
    docker: &'a Docker,
    runtime: Runtime,
    instances: u32,
    seconds: u64,
    tmp: tempfile::TempDir,
}

fn measure(
    binary: &Path,
    engine: &PrivateEngine,
    docker: &Docker,
    args: &FootprintArgs,
) -> anyhow::Result<Vec<Row>> {
    eprintln!("==> image {WHOAMI_IMAGE} in {}", engine.docker_host);
    corral_testing::ensure_whoami_image(engine)?;
    docker.remove_all(&format!("label=io.corral.service={SERVICE}"))?;
    let bed = Bed {
        binary,
        engine,
        docker,
        runtime: tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .context("cannot start the tokio runtime")?,
        instances: args.instances,
        seconds: args.seconds,
        tmp: tempfile::tempdir().context("cannot create a temporary directory")?,
    };
    let mut rows = server_and_agent(&bed)?;
    if !args.no_up {
        rows.extend(up(&bed)?);
    }
    Ok(rows)
}

/// Phases 1 and 2: `corral server`, then a `corral agent` joined to it.
fn server_and_agent(bed: &Bed<'_>) -> anyhow::Result<Vec<Row>> {
    let dir = bed.tmp.path().join("server");
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    eprintln!("==> corral server (state in {})", dir.display());
    let server = ServerChild::start(bed.binary, &dir, 4096)?;
    let client = Client::new(&server.url, &server.token, &server.ca_pem)?;
    wait_for("the server's API", TIMEOUT, POLL, || {
        let doc: serde_json::Value = bed.runtime.block_on(client.get_path("/openapi.json"))?;
        Ok(doc.is_object().then_some(()))
    })?;
    let server_proc = Proc::new("corral server", server.pid);
    let mut rows = Vec::new();
    rows.extend(bed.sample("idle, no node", &[&server_proc])?);

    eprintln!("==> corral agent --name {AGENT_NODE}");
    let registration = bed
        .runtime
        .block_on(client.create_registration_token("default", Some(3600)))?
        .token;
    let mut command = Command::new(bed.binary);
    command
        .args(["agent", "--server", &server.url])
        .args(["--registration-token", &registration])
        .args([
            "--ca-fingerprint",
            &corral_pki::fingerprint_of_pem(&server.ca_pem)?,
        ])
        .arg("--state-dir")
        .arg(dir.join("agent-state"))
        .args(["--name", AGENT_NODE, "--listen", "127.0.0.1:0"])
        .args(["--docker-host", &bed.engine.docker_host])
        .env("DOCKER_HOST", &bed.engine.docker_host);
    let agent = Spawned::start("corral agent", command, &dir.join("agent.log"), None)?;
    wait_for_node(bed, &client, Some(AGENT_NODE))?;
    let agent_proc = Proc::new("corral agent", agent.pid);
    rows.extend(bed.sample("idle, joined", &[&agent_proc, &server_proc])?);
    let phase = format!("{} instances running", bed.instances);
    let ca_file = server.data_dir.join("ca.pem");
    run_workload(bed, &client, &server.url, &server.token, &ca_file)?;
    rows.extend(bed.sample(&phase, &[&agent_proc, &server_proc])?);
    remove_workload(bed, &client)?;
    agent.stop()?;
    server.stop()?;
    Ok(rows)
}

/// Phase 3: `corral up`, server and agent in one process.
fn up(bed: &Bed<'_>) -> anyhow::Result<Vec<Row>> {
    let dir = bed.tmp.path().join("up");
    let data = dir.join("data");
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    eprintln!("==> corral up (state in {})", dir.display());
    let mut command = Command::new(bed.binary);
    command
        .arg("up")
        .arg("--data-dir")
        .arg(&data)
        .args(["--listen", "127.0.0.1:0", "--agent-listen", "127.0.0.1:0"])
        .args(["--docker-host", &bed.engine.docker_host])
        .env("DOCKER_HOST", &bed.engine.docker_host)
        // Its client config goes here, not over the user's.
        .env("XDG_CONFIG_HOME", dir.join("config"))
        .env("XDG_DATA_HOME", dir.join("data-home"));
    let mut up = Spawned::start("corral up", command, &dir.join("up.log"), Some(UP_LINE))?;
    let url = up.wait_for_line()?;
    let token_path = data.join("admin-token");
    let token = std::fs::read_to_string(&token_path)
        .with_context(|| format!("cannot read {}", token_path.display()))?
        .trim()
        .to_owned();
    let ca_path = data.join("ca.pem");
    let ca_pem = std::fs::read_to_string(&ca_path)
        .with_context(|| format!("cannot read {}", ca_path.display()))?;
    let client = Client::new(&url, &token, &ca_pem)?;
    wait_for_node(bed, &client, None)?;
    let up_proc = Proc::new("corral up", up.pid);
    let mut rows = bed.sample("idle, its node active", &[&up_proc])?;
    let phase = format!("{} instances running", bed.instances);
    run_workload(bed, &client, &url, &token, &ca_path)?;
    rows.extend(bed.sample(&phase, &[&up_proc])?);
    remove_workload(bed, &client)?;
    up.stop()?;
    Ok(rows)
}

/// Waits until the node `name` (or any node) is active.
fn wait_for_node(bed: &Bed<'_>, client: &Client, name: Option<&str>) -> anyhow::Result<()> {
    eprintln!("==> waiting for the node to be active");
    wait_for("the node to be active", TIMEOUT, POLL, || {
        let nodes = bed.runtime.block_on(client.nodes(ENV))?;
        let active = nodes.items.iter().any(|n| {
            n.status.state == NodeState::Active && name.is_none_or(|name| n.meta.name == name)
        });
        Ok(active.then_some(()))
    })
}

/// `corral service create footprint --image corral-whoami --scale N` (the
/// CLI, as a user would) and waits until N instances run.
fn run_workload(
    bed: &Bed<'_>,
    client: &Client,
    url: &str,
    token: &str,
    ca_file: &Path,
) -> anyhow::Result<()> {
    eprintln!("==> {} instances of {WHOAMI_IMAGE}", bed.instances);
    let scale = bed.instances.to_string();
    let output = Command::new(bed.binary)
        .args(["service", "create", SERVICE, "--image", WHOAMI_IMAGE])
        .args(["--scale", &scale])
        .env("CORRAL_URL", url)
        .env("CORRAL_TOKEN", token)
        .env("CORRAL_CA_FILE", ca_file)
        .stdin(Stdio::null())
        .output()
        .context("cannot run corral service create")?;
    if !output.status.success() {
        bail!(
            "corral service create failed ({}): {}",
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    let started = Instant::now();
    wait_for("the instances to run", TIMEOUT, POLL, || {
        let list = bed
            .runtime
            .block_on(client.service_instances(ENV, SERVICE))?;
        let running = running_unless_failed(&list.items)?;
        Ok((running >= bed.instances as usize).then_some(()))
    })?;
    eprintln!(
        "    {} running after {:.1}s",
        bed.instances,
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// Deletes the service and waits until its instances and containers are gone.
fn remove_workload(bed: &Bed<'_>, client: &Client) -> anyhow::Result<()> {
    eprintln!("==> removing the service");
    bed.runtime
        .block_on(client.delete(ENV, Kind::Service, SERVICE))
        .context("cannot remove the footprint service")?;
    let filter = format!("label=io.corral.service={SERVICE}");
    wait_for("the service's containers to go", TIMEOUT, POLL, || {
        let instances = bed
            .runtime
            .block_on(client.service_instances(ENV, SERVICE))?;
        let gone = instances.items.is_empty() && bed.docker.ids(&filter)?.is_empty();
        Ok(gone.then_some(()))
    })
}

/// A process to sample.
struct Proc {
    name: &'static str,
    pid: u32,
}

impl Proc {
    fn new(name: &'static str, pid: u32) -> Self {
        Proc { name, pid }
    }
}

/// One reading of `/proc/<pid>/status`, in KiB (threads: a count).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Snapshot {
    rss: u64,
    hwm: u64,
    anon: u64,
    file: u64,
    threads: u64,
}

impl Snapshot {
    /// Reads a status file; `None` once the process has gone.
    fn read(path: &str) -> Option<Self> {
        Some(Snapshot {
            rss: status_kib(path, "VmRSS")?,
            hwm: status_kib(path, "VmHWM")?,
            anon: status_kib(path, "RssAnon")?,
            file: status_kib(path, "RssFile")?,
            // "Threads:\t4" has no unit; status_kib parses it all the same.
            threads: status_kib(path, "Threads")?,
        })
    }
}

/// One process in one phase.
#[derive(Debug, Clone)]
struct Row {
    process: &'static str,
    phase: String,
    samples: usize,
    rss_median_kib: u64,
    rss_max_kib: u64,
    /// The last sample: VmHWM, anon, file and threads.
    last: Snapshot,
}

impl Row {
    fn from_samples(process: &'static str, phase: &str, samples: &[Snapshot]) -> Option<Self> {
        let last = *samples.last()?;
        let mut rss: Vec<u64> = samples.iter().map(|s| s.rss).collect();
        rss.sort_unstable();
        Some(Row {
            process,
            phase: phase.to_owned(),
            samples: samples.len(),
            rss_median_kib: median_kib(&rss),
            rss_max_kib: rss.last().copied().unwrap_or(0),
            last,
        })
    }

    fn to_json(&self) -> serde_json::Value {
        json!({
            "process": self.process,
            "phase": self.phase,
            "samples": self.samples,
            "rss_median_mb": mib(self.rss_median_kib),
            "rss_max_mb": mib(self.rss_max_kib),
            "hwm_mb": mib(self.last.hwm),
            "rss_anon_mb": mib(self.last.anon),
            "rss_file_mb": mib(self.last.file),
            "threads": self.last.threads,
        })
    }
}

/// The median of sorted values (the lower middle one for an even count).
fn median_kib(sorted: &[u64]) -> u64 {
    match sorted.len() {
        0 => 0,
        n => sorted[(n - 1) / 2],
    }
}

/// KiB as MiB, rounded to 0.1.
fn mib(kib: u64) -> f64 {
    (kib as f64 / 1024.0 * 10.0).round() / 10.0
}

impl Bed<'_> {
    /// Waits [`SETTLE`], then samples every process for `seconds`.
    fn sample(&self, phase: &str, procs: &[&Proc]) -> anyhow::Result<Vec<Row>> {
        std::thread::sleep(SETTLE);
        eprintln!("==> sampling for {}s: {phase}", self.seconds);
        let mut samples: Vec<Vec<Snapshot>> = vec![Vec::new(); procs.len()];
        let deadline = Instant::now() + Duration::from_secs(self.seconds);
        loop {
            for (proc, taken) in procs.iter().zip(&mut samples) {
                let path = format!("/proc/{}/status", proc.pid);
                match Snapshot::read(&path) {
                    Some(snapshot) => taken.push(snapshot),
                    None => bail!("{} (pid {}) exited while sampled", proc.name, proc.pid),
                }
            }
            if Instant::now() >= deadline {
                break;
            }
            std::thread::sleep(SAMPLE_EVERY);
        }
        Ok(procs
            .iter()
            .zip(&samples)
            .filter_map(|(proc, taken)| Row::from_samples(proc.name, phase, taken))
            .collect())
    }
}

/// A child process (`corral agent`, `corral up`), its log in a file;
/// stopped with SIGTERM when dropped.
struct Spawned {
    name: &'static str,
    child: Child,
    pid: u32,
    log: PathBuf,
    lines: mpsc::Receiver<String>,
}

impl Spawned {
    /// Starts `command` with its stderr in `log`; the rest of each stdout
    /// line that starts with `prefix` is kept for [`Spawned::wait_for_line`].
    fn start(
        name: &'static str,
        mut command: Command,
        log: &Path,
        prefix: Option<&'static str>,
    ) -> anyhow::Result<Self> {
        let stderr =
            File::create(log).with_context(|| format!("cannot create {}", log.display()))?;
        let mut child = command
            .env("CORRAL_LOG", "warn")
            .env_remove("CORRAL_URL")
            .env_remove("CORRAL_TOKEN")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .with_context(|| format!("cannot run {name}"))?;
        let stdout = child.stdout.take().context("the child has no stdout")?;
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if let Some(rest) = prefix.and_then(|p| line.strip_prefix(p)) {
                    let _ = tx.send(rest.trim().to_owned());
                }
            }
        });
        let pid = child.id();
        Ok(Spawned {
            name,
            child,
            pid,
            log: log.to_path_buf(),
            lines,
        })
    }

    /// The first stdout line that started with the prefix.
    fn wait_for_line(&mut self) -> anyhow::Result<String> {
        let deadline = Instant::now() + TIMEOUT;
        while Instant::now() < deadline {
            if let Ok(line) = self.lines.recv_timeout(Duration::from_millis(200)) {
                return Ok(line);
            }
            if let Some(status) = self.child.try_wait()? {
                bail!(
                    "{} exited ({status}); its log ends:\n{}",
                    self.name,
                    corral_testing::log_tail(&self.log, 20)
                );
            }
        }
        bail!("{} did not start within {}s", self.name, TIMEOUT.as_secs())
    }

    fn stop(mut self) -> anyhow::Result<()> {
        self.terminate()
    }

    /// SIGTERM, then SIGKILL after 30 s.
    fn terminate(&mut self) -> anyhow::Result<()> {
        terminate_child(&mut self.child, self.pid, self.name)
    }
}

impl Drop for Spawned {
    fn drop(&mut self) {
        if let Err(error) = self.terminate() {
            eprintln!("warning: {error:#}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn snap(rss: u64) -> Snapshot {
        Snapshot {
            rss,
            hwm: rss + 100,
            anon: 1,
            file: 2,
            threads: 3,
        }
    }

    #[test]
    fn snapshot_reads_a_status_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("status");
        std::fs::write(
            &path,
            "Name:\tcorral\nVmHWM:\t   14740 kB\nVmRSS:\t   14000 kB\n\
             RssAnon:\t    4844 kB\nRssFile:\t    9156 kB\nThreads:\t4\n",
        )
        .unwrap();
        let snapshot = Snapshot::read(&path.to_string_lossy()).unwrap();
        assert_eq!(
            snapshot,
            Snapshot {
                rss: 14000,
                hwm: 14740,
                anon: 4844,
                file: 9156,
                threads: 4
            }
        );
        assert_eq!(Snapshot::read("/nonexistent/status"), None);
    }

    #[test]
    fn rows_take_median_max_and_the_last_sample() {
        let row =
            Row::from_samples("p", "idle", &[snap(30), snap(10), snap(20), snap(40)]).unwrap();
        assert_eq!(row.rss_median_kib, 20);
        assert_eq!(row.rss_max_kib, 40);
        assert_eq!(row.last.hwm, 140);
        assert_eq!(row.samples, 4);
        assert!(Row::from_samples("p", "idle", &[]).is_none());
    }

    #[test]
    fn mib_rounds_to_a_tenth() {
        assert_eq!(mib(1024), 1.0);
        assert_eq!(mib(15_000), 14.6);
    }

    #[test]
    fn headline_names_the_figures_of_the_issue() {
        let row = |process, phase: &str, rss| Row {
            process,
            phase: phase.to_owned(),
            samples: 1,
            rss_median_kib: rss,
            rss_max_kib: rss,
            last: snap(rss),
        };
        let report = Report {
            binary: PathBuf::from("corral"),
            profile: "release",
            engine_version: "x".into(),
            instances: 10,
            seconds: 5,
            rows: vec![
                row("corral server", "idle, no node", 10240),
                row("corral agent", "idle, joined", 5120),
                row("corral agent", "10 instances running", 6144),
            ],
        };
        let h = report.headline();
        assert_eq!(h["server_idle_rss_mb"], json!(10.0));
        assert_eq!(h["agent_idle_rss_mb"], json!(5.0));
        assert_eq!(h["agent_rss_10_instances_mb"], json!(6.0));
        assert!(!h.contains_key("up_idle_rss_mb"));
        let (server, agent) = report.goals();
        assert_eq!(server, Some(10.0));
        assert_eq!(agent, Some(mib(6144 + 100)));
    }
}
