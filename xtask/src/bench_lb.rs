//! `cargo xtask bench lb`: Corral's load balancer (corral-lb, in release
//! build, from a hand-made environment snapshot) against HAProxy configured
//! for the same backends, both loaded by `wrk` with the same options, one
//! after the other.
//!
//! The backends: `--backends` processes of `corral-whoami` (release build)
//! on 127.0.0.2, 127.0.0.3, ... (all of 127.0.0.0/8 is loopback on Linux),
//! one port, the instances of service `bench-web` for corral-lb and the
//! servers of a round-robin HTTP backend for HAProxy. Before the load, each
//! balancer must answer 200 on `--path` twice per backend. Writes
//! `target/bench/lb.json`.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, bail};
use clap::Args;
use serde_json::json;

use crate::bench_net::{self, Proc};

mod wrk;
use wrk::WrkFigures;

const PACKAGES: &[(&str, &str)] = &[("wrk", "wrk"), ("haproxy", "haproxy")];

/// The balancers' names in the rows.
const CORRAL: &str = "corral-lb";
const HAPROXY: &str = "haproxy";
const BASELINE: &str = "corral-base";

#[derive(Debug, Clone, Args)]
pub struct LbArgs {
    /// Seconds of load per balancer (wrk -d).
    #[arg(long, default_value_t = 10)]
    pub seconds: u64,
    /// wrk threads (-t).
    #[arg(long, default_value_t = 2)]
    pub threads: u32,
    /// wrk connections (-c), kept alive.
    #[arg(long, default_value_t = 64)]
    pub connections: u32,
    /// Backend processes (corral-whoami).
    #[arg(long, default_value_t = 3)]
    pub backends: u8,
    /// The path requested: `/health` is the backends' cheapest answer, so
    /// the balancer's own cost shows most.
    #[arg(long, default_value = "/health")]
    pub path: String,
    /// Pin the balancer to CPU 0 and wrk and the backends to CPU 1.
    #[arg(long)]
    pub pin: bool,
    /// HAProxy's nbthread; default 2, or 1 with --pin.
    #[arg(long)]
    pub haproxy_threads: Option<u32>,
    /// Measure each balancer this many times, alternating which goes first.
    #[arg(long, default_value_t = 1)]
    pub runs: u32,
    /// Also measure corral-lb from this `corral-netbench-server` binary
    /// (built from another commit), as `corral-base`, in the same runs.
    #[arg(long)]
    pub baseline_server: Option<PathBuf>,
}

impl LbArgs {
    fn haproxy_threads(&self) -> u32 {
        self.haproxy_threads.unwrap_or(if self.pin { 1 } else { 2 })
    }

    fn balancer_cpus(&self) -> Option<&'static str> {
        self.pin.then_some("0")
    }

    fn other_cpus(&self) -> Option<&'static str> {
        self.pin.then_some("1")
    }
}

/// One balancer's measurement.
#[derive(Debug, Clone)]
struct Row {
    balancer: &'static str,
    run: u32,
    figures: WrkFigures,
    cpu_s: f64,
    peak_rss_mib: f64,
}

/// What every measurement needs.
struct Bed<'a> {
    args: &'a LbArgs,
    server_bin: PathBuf,
    backends: Vec<SocketAddr>,
    dir: &'a Path,
}

pub fn bench_lb(args: &LbArgs) -> anyhow::Result<()> {
    if args.seconds == 0 || args.runs == 0 || args.backends == 0 || args.backends > 200 {
        bail!("--seconds and --runs must be at least 1, --backends from 1 to 200");
    }
    if !args.path.starts_with('/') {
        bail!("--path must start with /");
    }
    bench_net::ensure_packages(PACKAGES)?;
    let whoami = bench_net::build_release_bin("corral-whoami", None)?;
    let server_bin = bench_net::build_release_bin("xtask", Some(bench_net::SERVER_BIN))?;
    let dir = tempfile::tempdir().context("cannot make a temporary directory")?;
    let port = bench_net::free_port()?;
    let backends: Vec<SocketAddr> = (0..args.backends)
        .map(|i| SocketAddr::from(([127, 0, 0, i + 2], port)))
        .collect();
    // Dropped (stopped) at the end, also on error.
    let mut procs = Vec::new();
    for (i, addr) in backends.iter().enumerate() {
        let argv = ["--listen".to_owned(), addr.to_string()];
        let command = bench_net::command_on(args.other_cpus(), &whoami, &argv);
        let log = dir.path().join(format!("whoami-{i}.log"));
        let mut proc = Proc::spawn(&format!("corral-whoami {addr}"), command, log)?;
        bench_net::wait_tcp(&mut proc, *addr)?;
        procs.push(proc);
    }
    let bed = Bed {
        args,
        server_bin,
        backends,
        dir: dir.path(),
    };
    let mut rows = Vec::new();
    let mut order = vec![CORRAL, HAPROXY];
    if let Some(bin) = &args.baseline_server {
        if !bin.is_file() {
            bail!("--baseline-server {}: no such file", bin.display());
        }
        order.push(BASELINE);
    }
    for run in 1..=args.runs {
        // Each balancer goes first in turn.
        let mut this_run = order.clone();
        this_run.rotate_left((run as usize - 1) % order.len());
        for balancer in this_run {
            let row = match (balancer, &args.baseline_server) {
                (HAPROXY, _) => bed.measure_haproxy(run)?,
                (BASELINE, Some(bin)) => bed.measure_corral(BASELINE, bin, run)?,
                _ => bed.measure_corral(CORRAL, &bed.server_bin, run)?,
            };
            print_row(&row);
            rows.push(row);
        }
        for proc in &mut procs {
            proc.check_alive().context("a backend died")?;
        }
    }
    for proc in procs {
        proc.stop()?;
    }
    report(args, &rows)
}

impl Bed<'_> {
    fn measure_corral(&self, name: &'static str, bin: &Path, run: u32) -> anyhow::Result<Row> {
        let port = bench_net::free_port()?;
        let mut argv = vec![
            "lb".to_owned(),
            "--listen".into(),
            format!("127.0.0.1:{port}"),
        ];
        for backend in &self.backends {
            argv.push("--backend".into());
            argv.push(backend.to_string());
        }
        let command = bench_net::command_on(self.args.balancer_cpus(), bin, &argv);
        let log = self.dir.join(format!("{name}-{run}.log"));
        let proc = Proc::spawn(&format!("{name} ({})", bin.display()), command, log)?;
        self.load(name, proc, port, run)
    }

    fn measure_haproxy(&self, run: u32) -> anyhow::Result<Row> {
        let port = bench_net::free_port()?;
        let cfg = self.dir.join(format!("haproxy-{run}.cfg"));
        let text = haproxy_config(port, &self.backends, self.args.haproxy_threads());
        std::fs::write(&cfg, text).with_context(|| format!("cannot write {}", cfg.display()))?;
        let haproxy = bench_net::find_binary("haproxy").context("haproxy is not installed")?;
        let argv = ["-f".to_owned(), cfg.display().to_string(), "-db".into()];
        let command = bench_net::command_on(self.args.balancer_cpus(), &haproxy, &argv);
        let log = self.dir.join(format!("haproxy-{run}.log"));
        let proc = Proc::spawn("haproxy", command, log)?;
        self.load("haproxy", proc, port, run)
    }

    /// Checks the balancer's answers, runs wrk against it and stops it.
    fn load(&self, name: &'static str, mut proc: Proc, port: u16, run: u32) -> anyhow::Result<Row> {
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        bench_net::wait_tcp(&mut proc, addr)?;
        for _ in 0..self.backends.len() * 2 {
            check_answer(addr, &self.args.path)
                .with_context(|| format!("{name} does not answer right"))?;
        }
        let url = format!("http://{addr}{}", self.args.path);
        eprintln!(
            "==> wrk against {name} (pid {}) at {url} for {} s",
            proc.pid(),
            self.args.seconds
        );
        let cpu_before = proc.cpu_seconds();
        let output = self.run_wrk(&url)?;
        let cpu_s = proc.cpu_seconds() - cpu_before;
        proc.check_alive()
            .with_context(|| format!("{name} died under load"))?;
        let peak_rss_mib = proc.peak_rss_mib();
        proc.stop()?;
        let figures =
            wrk::parse(&output).with_context(|| format!("cannot read wrk's output:\n{output}"))?;
        Ok(Row {
            balancer: name,
            run,
            figures,
            cpu_s,
            peak_rss_mib,
        })
    }

    fn run_wrk(&self, url: &str) -> anyhow::Result<String> {
        let wrk = bench_net::find_binary("wrk").context("wrk is not installed")?;
        let argv = vec![
            format!("-t{}", self.args.threads),
            format!("-c{}", self.args.connections),
            format!("-d{}s", self.args.seconds),
            "--latency".into(),
            url.to_owned(),
        ];
        let output = bench_net::command_on(self.args.other_cpus(), &wrk, &argv)
            .stdin(std::process::Stdio::null())
            .output()
            .context("cannot run wrk")?;
        if !output.status.success() {
            bail!(
                "wrk failed ({}): {}",
                output.status,
                String::from_utf8_lossy(&output.stderr)
            );
        }
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    }
}

/// HAProxy in HTTP mode, round robin over the backends, connections kept
/// alive on both sides.
fn haproxy_config(port: u16, backends: &[SocketAddr], threads: u32) -> String {
    let mut text = format!(
        "global\n    nbthread {threads}\n    maxconn 4096\n\n\
         defaults\n    mode http\n    option http-keep-alive\n    \
         timeout connect 5s\n    timeout client 30s\n    timeout server 30s\n    \
         timeout http-keep-alive 30s\n\n\
         frontend bench\n    bind 127.0.0.1:{port}\n    default_backend web\n\n\
         backend web\n    balance roundrobin\n"
    );
    for (i, addr) in backends.iter().enumerate() {
        text.push_str(&format!("    server web{} {addr}\n", i + 1));
    }
    text
}

/// One `GET path` with `Connection: close`; fails unless the status is 200.
fn check_answer(addr: SocketAddr, path: &str) -> anyhow::Result<()> {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(2))
        .with_context(|| format!("cannot connect to {addr}"))?;
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    let request = format!("GET {path} HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes())?;
    let mut answer = Vec::new();
    stream
        .read_to_end(&mut answer)
        .with_context(|| format!("no answer from {addr}"))?;
    let text = String::from_utf8_lossy(&answer);
    let status = text.lines().next().unwrap_or_default();
    if status.split_whitespace().nth(1) != Some("200") {
        bail!("GET {path}: {status:?}, wanted 200");
    }
    Ok(())
}

fn print_header() {
    println!(
        "{:<11} {:>3} {:>10} {:>9} {:>8} {:>8} {:>8} {:>8} {:>7} {:>7} {:>12}",
        "balancer",
        "run",
        "req/s",
        "requests",
        "p50 ms",
        "p90 ms",
        "p99 ms",
        "max ms",
        "errors",
        "cpu s",
        "req per cpu-s"
    );
}

fn print_row(row: &Row) {
    let f = &row.figures;
    println!(
        "{:<11} {:>3} {:>10.0} {:>9} {:>8.3} {:>8.3} {:>8.3} {:>8.2} {:>7} {:>7.2} {:>12.0}",
        row.balancer,
        row.run,
        f.requests_per_s,
        f.requests,
        f.p50_ms,
        f.p90_ms,
        f.p99_ms,
        f.latency_max_ms,
        f.errors(),
        row.cpu_s,
        bench_net::ratio(f.requests as f64, row.cpu_s)
    );
}

fn median_of(rows: &[Row], balancer: &str, pick: fn(&Row) -> f64) -> f64 {
    let values: Vec<f64> = rows
        .iter()
        .filter(|r| r.balancer == balancer)
        .map(pick)
        .collect();
    crate::bench_report::median(&values)
}

fn report(args: &LbArgs, rows: &[Row]) -> anyhow::Result<()> {
    println!();
    println!(
        "{} backends (corral-whoami); wrk -t{} -c{} -d{}s --latency {}; haproxy nbthread {}; {}",
        args.backends,
        args.threads,
        args.connections,
        args.seconds,
        args.path,
        args.haproxy_threads(),
        if args.pin {
            "balancer on CPU 0, wrk and backends on CPU 1"
        } else {
            "not pinned: balancer, backends and wrk share every core"
        }
    );
    print_header();
    for row in rows {
        print_row(row);
    }
    let rps = |r: &Row| r.figures.requests_per_s;
    let p99 = |r: &Row| r.figures.p99_ms;
    let (corral_rps, haproxy_rps) = (
        median_of(rows, "corral-lb", rps),
        median_of(rows, "haproxy", rps),
    );
    let (corral_p99, haproxy_p99) = (
        median_of(rows, "corral-lb", p99),
        median_of(rows, "haproxy", p99),
    );
    let corral_errors: u64 = rows
        .iter()
        .filter(|r| r.balancer == "corral-lb")
        .map(|r| r.figures.errors())
        .sum();
    let goal_met = corral_rps >= haproxy_rps && corral_p99 <= haproxy_p99 && corral_errors == 0;
    let baseline = args.baseline_server.as_ref().map(|bin| {
        let (rps, p99) = (median_of(rows, BASELINE, rps), median_of(rows, BASELINE, p99));
        println!(
            "corral-base ({}) / haproxy: req/s {:.2} ({rps:.0}), p99 {p99:.3} ms; corral-lb / corral-base: req/s {:.2}",
            bin.display(),
            bench_net::ratio(rps, haproxy_rps),
            bench_net::ratio(corral_rps, rps),
        );
        json!({ "server": bin.display().to_string(), "rps_median": rps, "p99_ms_median": p99 })
    });
    println!(
        "corral-lb / haproxy: req/s {:.2} ({corral_rps:.0} / {haproxy_rps:.0}), \
         p99 {corral_p99:.3} / {haproxy_p99:.3} ms; corral-lb errors {corral_errors}; goal {}",
        bench_net::ratio(corral_rps, haproxy_rps),
        if goal_met { "met" } else { "MISSED" }
    );
    let record = json!({
        "bench": "lb",
        "machine": bench_net::machine(),
        "tools": {
            "wrk": bench_net::tool_version("wrk", "-v"),
            "haproxy": bench_net::tool_version("haproxy", "-v"),
        },
        "args": {
            "seconds": args.seconds, "threads": args.threads,
            "connections": args.connections, "backends": args.backends,
            "path": args.path, "pinned": args.pin,
            "haproxy_threads": args.haproxy_threads(), "runs": args.runs,
        },
        "rows": rows.iter().map(row_json).collect::<Vec<_>>(),
        "corral_rps_median": corral_rps,
        "haproxy_rps_median": haproxy_rps,
        "corral_p99_ms_median": corral_p99,
        "haproxy_p99_ms_median": haproxy_p99,
        "ratio_rps": bench_net::ratio(corral_rps, haproxy_rps),
        "corral_errors": corral_errors,
        "goal_met": goal_met,
        "baseline": baseline,
    });
    bench_net::write_json("lb", &record)
}

fn row_json(row: &Row) -> serde_json::Value {
    let f = &row.figures;
    let s = f.socket_errors;
    json!({
        "balancer": row.balancer, "run": row.run,
        "requests": f.requests, "duration_s": f.duration_s,
        "requests_per_s": f.requests_per_s,
        "latency_avg_ms": f.latency_avg_ms, "latency_max_ms": f.latency_max_ms,
        "p50_ms": f.p50_ms, "p75_ms": f.p75_ms, "p90_ms": f.p90_ms, "p99_ms": f.p99_ms,
        "non_2xx_3xx": f.non_2xx_3xx,
        "socket_errors": {
            "connect": s.connect, "read": s.read, "write": s.write, "timeout": s.timeout,
        },
        "cpu_s": row.cpu_s,
        "peak_rss_mib": row.peak_rss_mib,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn haproxy_balances_round_robin_over_every_backend() {
        let backends = [
            SocketAddr::from(([127, 0, 0, 2], 8080)),
            SocketAddr::from(([127, 0, 0, 3], 8080)),
        ];
        let cfg = haproxy_config(9000, &backends, 2);
        assert!(cfg.contains("nbthread 2"));
        assert!(cfg.contains("bind 127.0.0.1:9000"));
        assert!(cfg.contains("balance roundrobin"));
        assert!(cfg.contains("option http-keep-alive"));
        assert!(cfg.contains("server web1 127.0.0.2:8080\n"));
        assert!(cfg.contains("server web2 127.0.0.3:8080\n"));
    }
}
