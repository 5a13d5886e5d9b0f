//! The server of the scale benchmark: `corral server` as a child process,
//! so that its memory (VmHWM, VmRSS) and CPU time can be read from /proc
//! apart from the simulated agents', and the size of its store.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

const START_TIMEOUT: Duration = Duration::from_secs(60);
const STOP_TIMEOUT: Duration = Duration::from_secs(30);
const LISTENING: &str = "corral server listening on ";

/// A running `corral server`; killed when dropped.
pub struct ServerChild {
    child: Child,
    pub pid: u32,
    pub url: String,
    pub token: String,
    /// The server's CA (`<data dir>/ca.pem`; empty for a plain-HTTP server).
    pub ca_pem: String,
    pub data_dir: PathBuf,
    pub log: PathBuf,
}

/// The `default` environment's range in the benchmark for `nodes` nodes,
/// a /24 for each: a /11 up to 8,191 nodes (a /16 holds 255), else a /10
/// (16,383).
fn bench_network(nodes: usize) -> &'static str {
    if nodes <= 8191 {
        "10.64.0.0/11"
    } else {
        "10.64.0.0/10"
    }
}

impl ServerChild {
    /// Starts `binary server` on a free loopback port with its data in
    /// `dir/data` and its log in `dir/server.log`, with the soft limit of
    /// open files raised to `fd_limit` (through `sh -c 'ulimit -n'`; if that
    /// is refused it keeps the limit it has).
    pub fn start(binary: &Path, dir: &Path, fd_limit: u64) -> anyhow::Result<Self> {
        Self::start_for(binary, dir, fd_limit, 0, false)
    }

    /// [`ServerChild::start`] with an overlay range for `nodes` nodes, and
    /// with `plain_http` over plain HTTP (a binary built with the
    /// `bench-plain-http` feature; any other is refused).
    pub fn start_for(
        binary: &Path,
        dir: &Path,
        fd_limit: u64,
        nodes: usize,
        plain_http: bool,
    ) -> anyhow::Result<Self> {
        let data_dir = dir.join("data");
        let log = dir.join("server.log");
        let stderr =
            File::create(&log).with_context(|| format!("cannot create {}", log.display()))?;
        let script = format!("ulimit -n {fd_limit} 2>/dev/null || true; exec \"$0\" \"$@\"");
        let mut command = Command::new("sh");
        if plain_http {
            command.env("CORRAL_BENCH_PLAIN_HTTP", "1");
        } else {
            command.env_remove("CORRAL_BENCH_PLAIN_HTTP");
        }
        let mut child = command
            .args(["-c", &script])
            .arg(binary)
            .args(["server", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(&data_dir)
            .args(["--default-network", bench_network(nodes)])
            // Warnings only, unless the caller asks for more.
            .env(
                "CORRAL_LOG",
                std::env::var("CORRAL_LOG").unwrap_or_else(|_| "warn".to_string()),
            )
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .with_context(|| format!("cannot run {} server", binary.display()))?;
        let stdout = child.stdout.take().context("corral server has no stdout")?;
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if let Some(url) = line.strip_prefix(LISTENING) {
                    let _ = tx.send(url.trim().to_string());
                }
            }
        });
        let pid = child.id();
        let mut server = ServerChild {
            child,
            pid,
            url: String::new(),
            token: String::new(),
            ca_pem: String::new(),
            data_dir,
            log,
        };
        server.url = server.wait_for_url(&rx)?;
        if plain_http && !server.url.starts_with("http://") {
            anyhow::bail!(
                "{} serves {} although plain HTTP was asked for: build it with `cargo build --release -p corral --features bench-plain-http`",
                binary.display(),
                server.url
            );
        }
        // A server from before TLS (an A/B run with `--server-binary`)
        // serves plain HTTP and has no CA.
        if server.url.starts_with("https://") {
            let ca_path = server.data_dir.join("ca.pem");
            server.ca_pem = std::fs::read_to_string(&ca_path)
                .with_context(|| format!("cannot read {}", ca_path.display()))?;
        }
        let token_path = server.data_dir.join("admin-token");
        server.token = std::fs::read_to_string(&token_path)
            .with_context(|| format!("cannot read {}", token_path.display()))?
            .trim()
            .to_string();
        Ok(server)
    }

    fn wait_for_url(&mut self, rx: &mpsc::Receiver<String>) -> anyhow::Result<String> {
        let deadline = Instant::now() + START_TIMEOUT;
        while Instant::now() < deadline {
            if let Ok(url) = rx.recv_timeout(Duration::from_millis(200)) {
                return Ok(url);
            }
            self.check_alive()?;
        }
        bail!(
            "corral server did not print its URL within {}s",
            START_TIMEOUT.as_secs()
        )
    }

    /// An error (with the end of its log) once the server has exited.
    pub fn check_alive(&mut self) -> anyhow::Result<()> {
        if let Some(status) = self
            .child
            .try_wait()
            .context("cannot wait for corral server")?
        {
            bail!(
                "corral server exited ({status}); its log ends:\n{}",
                self.log_tail(20)
            );
        }
        Ok(())
    }

    /// The last `lines` lines of the server's log.
    pub fn log_tail(&self, lines: usize) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let all: Vec<&str> = text.lines().collect();
        all[all.len().saturating_sub(lines)..].join("\n")
    }

    /// How many lines the server logged (warnings and errors).
    pub fn log_lines(&self) -> usize {
        std::fs::read_to_string(&self.log).map_or(0, |t| t.lines().count())
    }

    /// A `/proc/<pid>/status` field in KiB (`VmHWM`, `VmRSS`).
    pub fn status_kib(&self, field: &str) -> Option<u64> {
        status_kib(&format!("/proc/{}/status", self.pid), field)
    }

    /// CPU seconds of the server per thread name (`controllers`,
    /// `tokio-runtime-w`, ...).
    pub fn cpu_by_thread(&self) -> BTreeMap<String, f64> {
        cpu_by_thread(&self.pid.to_string())
    }

    /// Bytes of `corral.db` and its WAL and shared-memory files.
    pub fn store_bytes(&self) -> u64 {
        ["corral.db", "corral.db-wal", "corral.db-shm"]
            .iter()
            .filter_map(|f| std::fs::metadata(self.data_dir.join(f)).ok())
            .map(|m| m.len())
            .sum()
    }

    /// SIGTERM, then SIGKILL after [`STOP_TIMEOUT`].
    pub fn stop(mut self) -> anyhow::Result<()> {
        self.terminate()
    }

    fn terminate(&mut self) -> anyhow::Result<()> {
        terminate_child(&mut self.child, self.pid, "corral server")
    }
}

/// Stops a child process: SIGTERM, then SIGKILL (and an error naming
/// `what`) if it is still there after [`STOP_TIMEOUT`].
pub fn terminate_child(child: &mut Child, pid: u32, what: &str) -> anyhow::Result<()> {
    if child.try_wait()?.is_some() {
        return Ok(());
    }
    let _ = Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .stdin(Stdio::null())
        .status();
    let deadline = Instant::now() + STOP_TIMEOUT;
    while Instant::now() < deadline {
        if child.try_wait()?.is_some() {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = child.kill();
    let _ = child.wait();
    bail!(
        "{what} did not stop within {}s of SIGTERM: killed",
        STOP_TIMEOUT.as_secs()
    )
}

impl Drop for ServerChild {
    fn drop(&mut self) {
        if let Err(error) = self.terminate() {
            eprintln!("warning: {error:#}");
        }
    }
}

/// A `Name:  N kB` field of a /proc status file, in KiB.
pub fn status_kib(path: &str, field: &str) -> Option<u64> {
    let text = std::fs::read_to_string(path).ok()?;
    text.lines().find_map(|line| {
        let (k, v) = line.split_once(':')?;
        (k == field).then(|| v.trim().trim_end_matches("kB").trim().parse().ok())?
    })
}

/// CPU seconds (user + system) per thread name of process `pid` (or `self`).
pub fn cpu_by_thread(pid: &str) -> BTreeMap<String, f64> {
    let ticks = clock_ticks();
    let mut by_name = BTreeMap::new();
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return by_name;
    };
    for task in tasks.flatten() {
        let Ok(stat) = std::fs::read_to_string(task.path().join("stat")) else {
            continue;
        };
        if let Some((name, seconds)) = parse_stat(&stat, ticks) {
            *by_name.entry(name).or_insert(0.0) += seconds;
        }
    }
    by_name
}

/// The thread name and its CPU seconds from a `/proc/.../stat` line.
fn parse_stat(stat: &str, ticks: f64) -> Option<(String, f64)> {
    let open = stat.find('(')?;
    let close = stat.rfind(')')?;
    let name = stat.get(open + 1..close)?.to_string();
    // After the name: state (field 3), ... utime is field 14, stime 15.
    let rest: Vec<&str> = stat.get(close + 1..)?.split_whitespace().collect();
    let utime: f64 = rest.get(11)?.parse().ok()?;
    let stime: f64 = rest.get(12)?.parse().ok()?;
    Some((name, (utime + stime) / ticks))
}

/// `getconf CLK_TCK`, 100 when it cannot be asked.
fn clock_ticks() -> f64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
        .unwrap_or(100.0)
}

impl ServerChild {
    /// The client side of TLS for this server: its CA pinned, or nothing
    /// for a plain-HTTP server.
    pub fn trust(&self) -> corral_api::Trust {
        if self.ca_pem.is_empty() {
            corral_api::Trust::default()
        } else {
            corral_api::Trust::pinned(&self.ca_pem)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bench_range_holds_a_slice_for_every_node() {
        assert_eq!(bench_network(5000), "10.64.0.0/11");
        assert_eq!(bench_network(8191), "10.64.0.0/11");
        assert_eq!(bench_network(10_000), "10.64.0.0/10");
    }

    #[test]
    fn parse_stat_reads_name_and_cpu() {
        let line = "42 (tokio-runtime-w) S 1 2 3 4 5 6 7 8 9 10 150 50 0 0 20 0";
        let (name, seconds) = parse_stat(line, 100.0).unwrap();
        assert_eq!(name, "tokio-runtime-w");
        assert!((seconds - 2.0).abs() < 1e-9);
    }

    #[test]
    fn status_kib_reads_a_field() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("status");
        std::fs::write(&path, "Name:\tx\nVmHWM:\t  1234 kB\nVmRSS:\t 1000 kB\n").unwrap();
        let path = path.to_string_lossy();
        assert_eq!(status_kib(&path, "VmHWM"), Some(1234));
        assert_eq!(status_kib(&path, "VmRSS"), Some(1000));
        assert_eq!(status_kib(&path, "VmPeak"), None);
    }
}
