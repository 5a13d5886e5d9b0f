//! What `cargo xtask bench dns` and `bench lb` share: the Debian tools they
//! drive, child processes that are always stopped, free loopback ports, the
//! release build of the in-process servers (`corral-netbench-server`), the
//! machine's description and the JSON record.

use std::fs::File;
use std::net::{SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde_json::json;

use crate::bench_scale_server::terminate_child;
use crate::corral_up::release_binary;

/// The bin target of xtask that runs corral-dns or corral-lb from a
/// hand-made snapshot (xtask/src/bin/corral-netbench-server.rs).
pub const SERVER_BIN: &str = "corral-netbench-server";
/// How long a server may take to answer after it was started.
pub const READY_TIMEOUT: Duration = Duration::from_secs(20);
/// Debian's hook to forbid services starting during package installation
/// (haproxy's package would start the system's haproxy otherwise).
const POLICY_RC_D: &str = "/usr/sbin/policy-rc.d";

/// Installs the Debian packages whose binaries are missing, with apt-get
/// (needs root). `wanted` is `(binary, package)`.
pub fn ensure_packages(wanted: &[(&str, &str)]) -> anyhow::Result<()> {
    let missing: Vec<&str> = wanted
        .iter()
        .filter(|(binary, _)| find_binary(binary).is_none())
        .map(|(_, package)| *package)
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    if !corral_testing::is_root()? {
        bail!(
            "missing: run as root, or `apt-get install -y {}`",
            missing.join(" ")
        );
    }
    eprintln!("==> apt-get install -y {}", missing.join(" "));
    let policy_written = !Path::new(POLICY_RC_D).exists();
    if policy_written {
        write_policy_rc_d()?;
    }
    let installed = apt_get(&["update"]).and_then(|()| {
        let mut args = vec!["install", "-y", "--no-install-recommends"];
        args.extend(&missing);
        apt_get(&args)
    });
    if policy_written {
        std::fs::remove_file(POLICY_RC_D)
            .with_context(|| format!("cannot remove {POLICY_RC_D}"))?;
    }
    installed?;
    for (binary, package) in wanted {
        if find_binary(binary).is_none() {
            bail!("{binary} still missing after apt-get install {package}");
        }
    }
    Ok(())
}

fn apt_get(args: &[&str]) -> anyhow::Result<()> {
    let status = Command::new("apt-get")
        .args(args)
        .env("DEBIAN_FRONTEND", "noninteractive")
        .stdin(Stdio::null())
        .status()
        .context("cannot run apt-get")?;
    if !status.success() {
        bail!("apt-get {} failed ({status})", args.join(" "));
    }
    Ok(())
}

fn write_policy_rc_d() -> anyhow::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::write(POLICY_RC_D, "#!/bin/sh\nexit 101\n")
        .with_context(|| format!("cannot write {POLICY_RC_D}"))?;
    std::fs::set_permissions(POLICY_RC_D, std::fs::Permissions::from_mode(0o755))
        .with_context(|| format!("cannot make {POLICY_RC_D} executable"))
}

/// The path of `binary` on PATH or in the sbin directories (dnsmasq and
/// haproxy live in /usr/sbin, which a user's PATH may lack).
pub fn find_binary(binary: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin", "/sbin", "/usr/bin"].map(PathBuf::from))
        .map(|dir| dir.join(binary))
        .find(|candidate| candidate.is_file())
}

/// The first line of `binary ARG` (stdout, else stderr), for the record.
pub fn tool_version(binary: &str, arg: &str) -> String {
    let Some(path) = find_binary(binary) else {
        return "missing".into();
    };
    let Ok(out) = Command::new(path).arg(arg).stdin(Stdio::null()).output() else {
        return "unknown".into();
    };
    let text = if out.stdout.is_empty() {
        out.stderr
    } else {
        out.stdout
    };
    let text = String::from_utf8_lossy(&text);
    // dnsperf prints its name first and "Version 2.10.0" on the next line.
    text.lines()
        .find(|l| l.contains("ersion"))
        .or_else(|| text.lines().find(|l| !l.trim().is_empty()))
        .unwrap_or("unknown")
        .trim()
        .to_owned()
}

/// `program args...`, under `taskset -c CPUS` when `cpus` is given.
pub fn command_on(cpus: Option<&str>, program: &Path, args: &[String]) -> Command {
    match cpus {
        Some(cpus) => {
            let mut command = Command::new("taskset");
            command.arg("-c").arg(cpus).arg(program).args(args);
            command
        }
        None => {
            let mut command = Command::new(program);
            command.args(args);
            command
        }
    }
}

/// A child process with its output in a log file, stopped (SIGTERM, then
/// SIGKILL) when dropped, also on error paths.
pub struct Proc {
    name: String,
    child: Child,
    pid: u32,
    log: PathBuf,
}

impl Proc {
    pub fn spawn(name: &str, mut command: Command, log: PathBuf) -> anyhow::Result<Self> {
        let out = File::create(&log).with_context(|| format!("cannot create {}", log.display()))?;
        let err = out.try_clone().context("cannot share the log file")?;
        let child = command
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .with_context(|| format!("cannot start {name} ({command:?})"))?;
        let pid = child.id();
        Ok(Proc {
            name: name.to_owned(),
            child,
            pid,
            log,
        })
    }

    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// Fails (with the end of its log) if the process has exited.
    pub fn check_alive(&mut self) -> anyhow::Result<()> {
        if let Some(status) = self.child.try_wait()? {
            bail!("{} exited ({status}): {}", self.name, self.log_tail(20));
        }
        Ok(())
    }

    /// The last `lines` lines of its output.
    pub fn log_tail(&self, lines: usize) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let all: Vec<&str> = text.lines().collect();
        all[all.len().saturating_sub(lines)..].join("\n")
    }

    /// CPU seconds (user + system) it has used so far, threads that have
    /// exited included; 0 when it cannot be read.
    pub fn cpu_seconds(&self) -> f64 {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.pid)).unwrap_or_default();
        process_ticks(&stat).map_or(0.0, |ticks| ticks / clock_ticks())
    }

    /// Peak resident memory so far, in MiB.
    pub fn peak_rss_mib(&self) -> f64 {
        let path = format!("/proc/{}/status", self.pid);
        crate::bench_scale_server::status_kib(&path, "VmHWM").unwrap_or(0) as f64 / 1024.0
    }

    pub fn stop(mut self) -> anyhow::Result<()> {
        terminate_child(&mut self.child, self.pid, &self.name)
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        if let Err(error) = terminate_child(&mut self.child, self.pid, &self.name) {
            eprintln!("warning: {error:#}");
        }
    }
}

/// utime + stime of a `/proc/PID/stat` line, in clock ticks.
fn process_ticks(stat: &str) -> Option<f64> {
    // The name (field 2) may hold spaces: count fields after its ')'.
    let rest: Vec<&str> = stat
        .get(stat.rfind(')')? + 1..)?
        .split_whitespace()
        .collect();
    let utime: f64 = rest.get(11)?.parse().ok()?;
    let stime: f64 = rest.get(12)?.parse().ok()?;
    Some(utime + stime)
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

/// A loopback port free for TCP and UDP at the moment of asking.
pub fn free_port() -> anyhow::Result<u16> {
    for _ in 0..20 {
        let tcp = TcpListener::bind("127.0.0.1:0").context("cannot bind a loopback port")?;
        let port = tcp.local_addr()?.port();
        if UdpSocket::bind(("127.0.0.1", port)).is_ok() {
            return Ok(port);
        }
    }
    bail!("no loopback port free for both TCP and UDP")
}

/// Waits until `addr` accepts TCP connections while `proc` runs.
pub fn wait_tcp(proc: &mut Proc, addr: SocketAddr) -> anyhow::Result<()> {
    let deadline = Instant::now() + READY_TIMEOUT;
    loop {
        proc.check_alive()?;
        if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!(
                "{addr} did not accept connections within {}s: {}",
                READY_TIMEOUT.as_secs(),
                proc.log_tail(20)
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// `target/release/<name>` (honouring `CARGO_TARGET_DIR`).
pub fn release_path(name: &str) -> anyhow::Result<PathBuf> {
    let corral = release_binary();
    let dir = corral
        .parent()
        .context("the release binary path has no directory")?;
    Ok(dir.join(name))
}

/// `cargo build --release -p PACKAGE [--bin BIN]`; returns the binary.
pub fn build_release_bin(package: &str, bin: Option<&str>) -> anyhow::Result<PathBuf> {
    let mut args = vec!["build", "--release", "-p", package];
    if let Some(bin) = bin {
        args.extend(["--bin", bin]);
    }
    eprintln!("==> cargo {}", args.join(" "));
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let status = Command::new(cargo)
        .current_dir(corral_testing::workspace_root())
        .args(&args)
        .stdin(Stdio::null())
        .status()
        .with_context(|| format!("cannot run cargo {}", args.join(" ")))?;
    if !status.success() {
        bail!("cargo {} failed ({status})", args.join(" "));
    }
    let binary = release_path(bin.unwrap_or(package))?;
    if !binary.is_file() {
        bail!("{} was not built", binary.display());
    }
    Ok(binary)
}

/// The machine, for the record: CPUs, their model, memory, kernel, and
/// the load average when the figures are written (other work on the machine).
pub fn machine() -> serde_json::Value {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let memory_kib: u64 = proc_field(&meminfo, "MemTotal")
        .and_then(|v| v.trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0);
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    json!({
        "nproc": std::thread::available_parallelism().map_or(0, usize::from),
        "cpu_model": proc_field(&cpuinfo, "model name").unwrap_or_else(|| "unknown".into()),
        "memory_gib": (memory_kib as f64 / 1024.0 / 1024.0 * 10.0).round() / 10.0,
        "kernel": kernel.trim(),
        "loadavg_at_end": load.split_whitespace().take(3).collect::<Vec<_>>().join(" "),
    })
}

fn proc_field(text: &str, key: &str) -> Option<String> {
    text.lines().find_map(|line| {
        let (k, v) = line.split_once(':')?;
        (k.trim() == key).then(|| v.trim().to_owned())
    })
}

/// Writes `target/bench/<name>.json`.
pub fn write_json(name: &str, record: &serde_json::Value) -> anyhow::Result<()> {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| corral_testing::workspace_root().join("target"));
    let dir = target.join("bench");
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let path = dir.join(format!("{name}.json"));
    let mut text = serde_json::to_string_pretty(record).context("cannot encode the figures")?;
    text.push('\n');
    std::fs::write(&path, text).with_context(|| format!("cannot write {}", path.display()))?;
    println!("figures written to {}", path.display());
    Ok(())
}

/// `a / b` as a ratio, `NaN` when `b` is zero.
pub fn ratio(a: f64, b: f64) -> f64 {
    if b == 0.0 { f64::NAN } else { a / b }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_free_port_is_not_zero() -> anyhow::Result<()> {
        assert_ne!(free_port()?, 0);
        Ok(())
    }

    #[test]
    fn pinned_commands_run_under_taskset() {
        let command = command_on(Some("1"), Path::new("/usr/bin/wrk"), &["-t1".into()]);
        assert_eq!(command.get_program(), "taskset");
        let args: Vec<_> = command.get_args().collect();
        assert_eq!(args, ["-c", "1", "/usr/bin/wrk", "-t1"]);
        let plain = command_on(None, Path::new("/usr/bin/wrk"), &[]);
        assert_eq!(plain.get_program(), "/usr/bin/wrk");
    }

    #[test]
    fn process_ticks_are_user_plus_system() {
        let stat = "42 (tokio (rt)) S 1 42 42 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 3";
        assert_eq!(process_ticks(stat), Some(300.0));
        assert_eq!(process_ticks("garbage"), None);
    }

    #[test]
    fn proc_fields_are_read_by_key() {
        let text = "model name\t: Xeon\nMemTotal:  1024 kB\n";
        assert_eq!(proc_field(text, "model name").as_deref(), Some("Xeon"));
        assert_eq!(proc_field(text, "MemTotal").as_deref(), Some("1024 kB"));
    }
}
