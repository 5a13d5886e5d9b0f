//! `cargo xtask bench dns`: Corral's DNS server (corral-dns, in release
//! build, answering from a hand-made environment snapshot) against dnsmasq
//! serving the same records, both loaded by `dnsperf` with the same query
//! file, duration and client options, one server after the other.
//!
//! The records: `--services` services of `--instances` running instances
//! each in stack `bench` of environment `default`, addresses 10.77.x.y,
//! queried as `svcNNN.bench.default.corral.internal A`. One hosts file
//! holds them: dnsmasq reads it with `--addn-hosts`, and
//! `corral-netbench-server dns` builds the snapshot from the same file.
//! Before the load, one query to each server must answer NOERROR with every
//! address of the service. Writes `target/bench/dns.json`.

use std::fmt::Write as _;
use std::net::{Ipv4Addr, SocketAddr, UdpSocket};
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::Args;
use serde_json::json;

use crate::bench_net::{self, Proc};
use crate::bench_scale_probe::percentile;

mod dnsperf;
use dnsperf::DnsperfFigures;

/// CoreDNS's published throughput, queries/s per core (the anchor).
const COREDNS_QPS_PER_CORE: f64 = 17_000.0;
const STACK: &str = "bench";
const ENVIRONMENT: &str = "default";
const DOMAIN: &str = "corral.internal";
const PACKAGES: &[(&str, &str)] = &[("dnsperf", "dnsperf"), ("dnsmasq", "dnsmasq-base")];

#[derive(Debug, Clone, Args)]
pub struct DnsArgs {
    /// Services in the stack (one name each in the query file).
    #[arg(long, default_value_t = 100)]
    pub services: u32,
    /// Running instances (A records) per service.
    #[arg(long, default_value_t = 3)]
    pub instances: u32,
    /// Seconds of load per server (dnsperf -l).
    #[arg(long, default_value_t = 10)]
    pub seconds: u64,
    /// dnsperf clients (-c: source ports).
    #[arg(long, default_value_t = 4)]
    pub clients: u32,
    /// dnsperf queries outstanding at most (-q).
    #[arg(long, default_value_t = 100)]
    pub outstanding: u32,
    /// dnsperf threads (-T).
    #[arg(long, default_value_t = 1)]
    pub threads: u32,
    /// Do not pin: by default the server runs on CPU 0 and dnsperf on CPU 1
    /// (`taskset`), so each server gets one core (dnsmasq is single-threaded;
    /// CoreDNS's anchor is per core).
    #[arg(long)]
    pub no_pin: bool,
    /// Measure each server this many times, alternating which goes first.
    #[arg(long, default_value_t = 1)]
    pub runs: u32,
    /// Seconds of a second dnsperf pass with `-v` (one line per answer,
    /// with its latency) after the load, for p50/p99: dnsperf 2.10 prints
    /// no percentiles. Printing slows the client, so this pass is kept out
    /// of queries/s. 0: no latency pass.
    #[arg(long, default_value_t = 2)]
    pub latency_seconds: u64,
}

/// One server's measurement.
#[derive(Debug, Clone)]
struct Row {
    server: &'static str,
    run: u32,
    figures: DnsperfFigures,
    /// CPU seconds the server used during the load.
    server_cpu_s: f64,
    /// Answer latency percentiles of the `-v` pass, in milliseconds.
    p50_ms: f64,
    p99_ms: f64,
    server_peak_rss_mib: f64,
}

impl Row {
    fn qps_per_cpu_second(&self) -> f64 {
        bench_net::ratio(self.figures.completed as f64, self.server_cpu_s)
    }
}

pub fn bench_dns(args: &DnsArgs) -> anyhow::Result<()> {
    if args.services == 0 || args.instances == 0 || args.seconds == 0 || args.runs == 0 {
        bail!("--services, --instances, --seconds and --runs must be at least 1");
    }
    if u64::from(args.services) * u64::from(args.instances) > 60_000 {
        bail!("at most 60,000 records (addresses 10.77.0.1 to 10.77.239.250)");
    }
    bench_net::ensure_packages(PACKAGES)?;
    let server_bin = bench_net::build_release_bin("xtask", Some(bench_net::SERVER_BIN))?;
    let dir = tempfile::tempdir().context("cannot make a temporary directory")?;
    let hosts = dir.path().join("hosts");
    let queries = dir.path().join("queries");
    write_records(args, &hosts, &queries)?;
    let mut rows = Vec::new();
    for run in 1..=args.runs {
        let corral_first = run % 2 == 1;
        for corral in [corral_first, !corral_first] {
            let row = if corral {
                measure_corral(args, &server_bin, &hosts, &queries, dir.path(), run)?
            } else {
                measure_dnsmasq(args, &hosts, &queries, dir.path(), run)?
            };
            print_row(&row);
            rows.push(row);
        }
    }
    report(args, &rows)
}

/// The name of service `i`, fully qualified.
fn fqdn(i: u32) -> String {
    format!("svc{i:03}.{STACK}.{ENVIRONMENT}.{DOMAIN}")
}

/// The address of record `k` (0-based): 10.77.0.1, ..., 10.77.0.250, 10.77.1.1, ...
fn address(k: u32) -> Ipv4Addr {
    let third = u8::try_from(k / 250).unwrap_or(u8::MAX);
    // k % 250 + 1 is in 1..=250 and fits a u8.
    let fourth = u8::try_from(k % 250 + 1).unwrap_or(u8::MAX);
    Ipv4Addr::new(10, 77, third, fourth)
}

/// The hosts file (one `ADDRESS NAME` line per record) and dnsperf's query
/// file (each name once, type A).
fn write_records(args: &DnsArgs, hosts: &Path, queries: &Path) -> anyhow::Result<()> {
    let (mut host_lines, mut query_lines) = (String::new(), String::new());
    for i in 0..args.services {
        let name = fqdn(i);
        for j in 0..args.instances {
            let _ = writeln!(host_lines, "{} {name}", address(i * args.instances + j));
        }
        let _ = writeln!(query_lines, "{name} A");
    }
    std::fs::write(hosts, host_lines)
        .with_context(|| format!("cannot write {}", hosts.display()))?;
    std::fs::write(queries, query_lines)
        .with_context(|| format!("cannot write {}", queries.display()))
}

fn server_cpus(args: &DnsArgs) -> Option<&'static str> {
    (!args.no_pin).then_some("0")
}

fn measure_corral(
    args: &DnsArgs,
    server_bin: &Path,
    hosts: &Path,
    queries: &Path,
    dir: &Path,
    run: u32,
) -> anyhow::Result<Row> {
    let port = bench_net::free_port()?;
    let listen = format!("127.0.0.1:{port}");
    let argv = [
        "dns".to_owned(),
        "--listen".into(),
        listen,
        "--hosts".into(),
        hosts.display().to_string(),
        "--domain".into(),
        DOMAIN.into(),
    ];
    let command = bench_net::command_on(server_cpus(args), server_bin, &argv);
    let log = dir.join(format!("corral-dns-{run}.log"));
    let server = Proc::spawn("corral-dns (corral-netbench-server)", command, log)?;
    load("corral-dns", args, server, port, queries, run)
}

fn measure_dnsmasq(
    args: &DnsArgs,
    hosts: &Path,
    queries: &Path,
    dir: &Path,
    run: u32,
) -> anyhow::Result<Row> {
    let port = bench_net::free_port()?;
    let dnsmasq = bench_net::find_binary("dnsmasq").context("dnsmasq is not installed")?;
    let cache = (args.services * args.instances).max(150) * 2;
    let argv = vec![
        "--no-resolv".to_owned(),
        "--no-hosts".into(),
        format!("--addn-hosts={}", hosts.display()),
        format!("--port={port}"),
        "--listen-address=127.0.0.1".into(),
        "--bind-interfaces".into(),
        "--keep-in-foreground".into(),
        format!("--cache-size={cache}"),
        "--user=root".into(),
        "--log-facility=-".into(),
        "--pid-file=".into(),
    ];
    let command = bench_net::command_on(server_cpus(args), &dnsmasq, &argv);
    let server = Proc::spawn("dnsmasq", command, dir.join(format!("dnsmasq-{run}.log")))?;
    load("dnsmasq", args, server, port, queries, run)
}

/// Waits for a right answer, then runs dnsperf against the server and stops it.
fn load(
    name: &'static str,
    args: &DnsArgs,
    mut server: Proc,
    port: u16,
    queries: &Path,
    run: u32,
) -> anyhow::Result<Row> {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    wait_for_answer(&mut server, addr, &fqdn(0), args.instances)
        .with_context(|| format!("{name} does not answer right"))?;
    eprintln!(
        "==> dnsperf against {name} (pid {}) on {addr} for {} s",
        server.pid(),
        args.seconds
    );
    let cpu_before = server.cpu_seconds();
    let output = run_dnsperf(args, port, queries, args.seconds, false)?;
    let server_cpu_s = server.cpu_seconds() - cpu_before;
    server
        .check_alive()
        .with_context(|| format!("{name} died under load"))?;
    let (mut p50_ms, mut p99_ms) = (f64::NAN, f64::NAN);
    if args.latency_seconds > 0 {
        let verbose = run_dnsperf(args, port, queries, args.latency_seconds, true)?;
        let latencies = dnsperf::answer_latencies(&verbose);
        p50_ms = percentile(&latencies, 50.0) * 1000.0;
        p99_ms = percentile(&latencies, 99.0) * 1000.0;
        server
            .check_alive()
            .with_context(|| format!("{name} died under load"))?;
    }
    let server_peak_rss_mib = server.peak_rss_mib();
    server.stop()?;
    let figures = dnsperf::parse(&output)
        .with_context(|| format!("cannot read dnsperf's output:\n{output}"))?;
    Ok(Row {
        server: name,
        run,
        figures,
        server_cpu_s,
        p50_ms,
        p99_ms,
        server_peak_rss_mib,
    })
}

fn run_dnsperf(
    args: &DnsArgs,
    port: u16,
    queries: &Path,
    seconds: u64,
    verbose: bool,
) -> anyhow::Result<String> {
    let dnsperf = bench_net::find_binary("dnsperf").context("dnsperf is not installed")?;
    let mut argv: Vec<String> = [
        "-s",
        "127.0.0.1",
        "-p",
        &port.to_string(),
        "-d",
        &queries.display().to_string(),
        "-l",
        &seconds.to_string(),
        "-c",
        &args.clients.to_string(),
        "-q",
        &args.outstanding.to_string(),
        "-T",
        &args.threads.to_string(),
    ]
    .map(String::from)
    .into();
    if verbose {
        argv.push("-v".into());
    }
    let client_cpus = (!args.no_pin).then_some("1");
    let output = bench_net::command_on(client_cpus, &dnsperf, &argv)
        .stdin(std::process::Stdio::null())
        .output()
        .context("cannot run dnsperf")?;
    if !output.status.success() {
        bail!(
            "dnsperf failed ({}): {}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        );
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

/// Asks `name A` until the server answers NOERROR with `answers` records.
fn wait_for_answer(
    server: &mut Proc,
    addr: SocketAddr,
    name: &str,
    answers: u32,
) -> anyhow::Result<()> {
    let socket = UdpSocket::bind("127.0.0.1:0").context("cannot bind a UDP socket")?;
    socket.set_read_timeout(Some(Duration::from_millis(200)))?;
    let deadline = Instant::now() + bench_net::READY_TIMEOUT;
    let mut last = String::from("no answer");
    let mut id: u16 = 0x4242;
    while Instant::now() < deadline {
        server.check_alive()?;
        id = id.wrapping_add(1);
        socket.send_to(&dnsperf::query(id, name), addr)?;
        let mut buf = [0u8; 1500];
        if let Ok((n, _)) = socket.recv_from(&mut buf) {
            match dnsperf::answer_header(&buf[..n], id) {
                Some((0, count)) if count == answers => return Ok(()),
                Some((rcode, count)) => last = format!("rcode {rcode}, {count} answers"),
                None => last = "a malformed answer".into(),
            }
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    bail!("{name} A: {last}, wanted NOERROR with {answers} answers")
}

fn print_header() {
    println!(
        "{:<11} {:>3} {:>10} {:>10} {:>6} {:>10} {:>8} {:>8} {:>8} {:>8} {:>7} {:>12}",
        "server",
        "run",
        "q/s",
        "completed",
        "lost",
        "NOERROR",
        "avg ms",
        "max ms",
        "p50 ms",
        "p99 ms",
        "cpu s",
        "q per cpu-s"
    );
}

fn print_row(row: &Row) {
    let f = &row.figures;
    println!(
        "{:<11} {:>3} {:>10.0} {:>10} {:>6} {:>10} {:>8.3} {:>8.3} {:>8.3} {:>8.3} {:>7.2} {:>12.0}",
        row.server,
        row.run,
        f.qps,
        f.completed,
        f.lost,
        f.noerror,
        f.avg_latency_s * 1000.0,
        f.max_latency_s * 1000.0,
        row.p50_ms,
        row.p99_ms,
        row.server_cpu_s,
        row.qps_per_cpu_second()
    );
}

fn median_of(rows: &[Row], server: &str, pick: fn(&Row) -> f64) -> f64 {
    let values: Vec<f64> = rows
        .iter()
        .filter(|r| r.server == server)
        .map(pick)
        .collect();
    crate::bench_report::median(&values)
}

fn report(args: &DnsArgs, rows: &[Row]) -> anyhow::Result<()> {
    println!();
    println!(
        "{} names x {} A records; dnsperf -c {} -q {} -T {} -l {} (then -v -l {} for p50/p99); {}",
        args.services,
        args.instances,
        args.clients,
        args.outstanding,
        args.threads,
        args.seconds,
        args.latency_seconds,
        if args.no_pin {
            "not pinned: server and dnsperf share every core"
        } else {
            "server on CPU 0, dnsperf on CPU 1"
        }
    );
    print_header();
    for row in rows {
        print_row(row);
    }
    let corral_qps = median_of(rows, "corral-dns", |r| r.figures.qps);
    let dnsmasq_qps = median_of(rows, "dnsmasq", |r| r.figures.qps);
    let lost: u64 = rows
        .iter()
        .filter(|r| r.server == "corral-dns")
        .map(|r| r.figures.lost)
        .sum();
    let wrong: u64 = rows
        .iter()
        .map(|r| r.figures.completed - r.figures.noerror.min(r.figures.completed))
        .sum();
    let corral_p99 = median_of(rows, "corral-dns", |r| r.p99_ms);
    let dnsmasq_p99 = median_of(rows, "dnsmasq", |r| r.p99_ms);
    // Without a latency pass (NaN) the p99 is not part of the verdict.
    let p99_ok = corral_p99.is_nan() || dnsmasq_p99.is_nan() || corral_p99 <= dnsmasq_p99;
    let goal_met = corral_qps >= dnsmasq_qps && lost == 0 && p99_ok;
    println!(
        "corral-dns / dnsmasq: {:.2} (median q/s {corral_qps:.0} / {dnsmasq_qps:.0}); \
         median p99 {corral_p99:.3} / {dnsmasq_p99:.3} ms (-v pass); \
         corral-dns lost {lost}; answers other than NOERROR (both) {wrong}; goal {}",
        bench_net::ratio(corral_qps, dnsmasq_qps),
        if goal_met { "met" } else { "MISSED" }
    );
    let record = json!({
        "bench": "dns",
        "machine": bench_net::machine(),
        "tools": {
            "dnsperf": bench_net::tool_version("dnsperf", "-h"),
            "dnsmasq": bench_net::tool_version("dnsmasq", "--version"),
        },
        "args": {
            "services": args.services, "instances": args.instances,
            "seconds": args.seconds, "clients": args.clients,
            "outstanding": args.outstanding, "threads": args.threads,
            "pinned": !args.no_pin, "runs": args.runs,
            "latency_seconds": args.latency_seconds,
        },
        "rows": rows.iter().map(row_json).collect::<Vec<_>>(),
        "corral_qps_median": corral_qps,
        "dnsmasq_qps_median": dnsmasq_qps,
        "ratio": bench_net::ratio(corral_qps, dnsmasq_qps),
        "corral_p99_ms_median": corral_p99,
        "dnsmasq_p99_ms_median": dnsmasq_p99,
        "corral_lost": lost,
        "coredns_qps_per_core_published": COREDNS_QPS_PER_CORE,
        "goal_met": goal_met,
    });
    bench_net::write_json("dns", &record)
}

fn row_json(row: &Row) -> serde_json::Value {
    let f = &row.figures;
    json!({
        "server": row.server, "run": row.run,
        "sent": f.sent, "completed": f.completed, "lost": f.lost,
        "noerror": f.noerror, "response_codes": f.response_codes,
        "qps": f.qps, "run_time_s": f.run_time_s,
        "avg_latency_ms": f.avg_latency_s * 1000.0,
        "min_latency_ms": f.min_latency_s * 1000.0,
        "max_latency_ms": f.max_latency_s * 1000.0,
        "server_cpu_s": row.server_cpu_s,
        "p50_ms": row.p50_ms, "p99_ms": row.p99_ms,
        "qps_per_cpu_second": row.qps_per_cpu_second(),
        "server_peak_rss_mib": row.server_peak_rss_mib,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_count_through_the_third_octet() {
        assert_eq!(address(0), Ipv4Addr::new(10, 77, 0, 1));
        assert_eq!(address(249), Ipv4Addr::new(10, 77, 0, 250));
        assert_eq!(address(250), Ipv4Addr::new(10, 77, 1, 1));
    }

    #[test]
    fn names_are_fully_qualified_in_the_bench_stack() {
        assert_eq!(fqdn(7), "svc007.bench.default.corral.internal");
    }
}
