//! The project's private Docker Engine: its own dockerd, socket, data,
//! bridge and pid file, so tests never touch a user's engine.

use std::fs::File;
use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

use crate::cmd::{self, run};
use crate::paths::{engine_root, exclusive_lock};

/// Set by `cargo xtask test` to the engine the tests must use.
pub const TEST_DOCKER_HOST_ENV: &str = "CORRAL_TEST_DOCKER_HOST";

const START_TIMEOUT: Duration = Duration::from_secs(30);
const STOP_TIMEOUT: Duration = Duration::from_secs(20);

/// A running private engine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrivateEngine {
    /// `unix:///.../docker.sock`, for `DOCKER_HOST` and `docker -H`.
    pub docker_host: String,
    /// The directory holding its socket, data, exec root, pid file and log.
    pub root: PathBuf,
}

impl PrivateEngine {
    fn at(root: PathBuf) -> Self {
        let docker_host = format!("unix://{}", root.join("docker.sock").display());
        Self { docker_host, root }
    }

    pub fn socket_path(&self) -> PathBuf {
        self.root.join("docker.sock")
    }

    pub fn log_path(&self) -> PathBuf {
        self.root.join("dockerd.log")
    }

    /// `docker -H <this engine>`, for the CLI.
    pub fn docker(&self) -> Command {
        let mut command = Command::new("docker");
        command.arg("-H").arg(&self.docker_host);
        command
    }

    /// Whether the engine answers `GET /_ping`.
    pub fn is_up(&self) -> bool {
        ping(&self.socket_path())
    }

    /// The bridge its containers attach to, named after its root so that two
    /// test beds on one machine (a clone in CI beside a developer's) never
    /// share one: `crl-` and 8 hex digits.
    pub fn bridge(&self) -> String {
        format!("crl-{:08x}", self.root_hash() & 0xffff_ffff)
    }

    /// The bridge's address: the one it has when it exists; else
    /// `172.30.X.1/24`, X from the root (16 to 239), or the next X whose
    /// /24 no route of this host uses yet (another worktree's engine may
    /// hold the one the hash picks).
    pub fn bridge_cidr(&self) -> String {
        if let Some(cidr) = bridge_address(&self.bridge()) {
            return cidr;
        }
        let start = u8::try_from(16 + (self.root_hash() >> 32) % 224).unwrap_or(16);
        format!("172.30.{}.1/24", free_subnet(start, subnet_in_use))
    }

    fn root_hash(&self) -> u64 {
        crate::paths::fnv1a(self.root.as_os_str().as_encoded_bytes())
    }
}

/// `GET /_ping` over the unix socket at `socket`: true if the engine says OK.
pub fn ping(socket: &Path) -> bool {
    fn attempt(socket: &Path) -> std::io::Result<bool> {
        let mut stream = UnixStream::connect(socket)?;
        stream.set_read_timeout(Some(Duration::from_secs(3)))?;
        stream.set_write_timeout(Some(Duration::from_secs(3)))?;
        stream.write_all(b"GET /_ping HTTP/1.0\r\nHost: docker\r\n\r\n")?;
        let mut response = String::new();
        stream.read_to_string(&mut response)?;
        Ok(response.starts_with("HTTP/1.")
            && response.contains(" 200 ")
            && response.ends_with("OK"))
    }
    attempt(socket).unwrap_or(false)
}

/// The engine the tests use: `CORRAL_TEST_DOCKER_HOST` if `cargo xtask test`
/// set it, else the private engine, started if needed.
pub fn test_engine() -> anyhow::Result<PrivateEngine> {
    if let Ok(host) = std::env::var(TEST_DOCKER_HOST_ENV)
        && let Some(socket) = host.strip_prefix("unix://")
    {
        let socket = PathBuf::from(socket);
        let root = socket.parent().map(Path::to_path_buf).unwrap_or_default();
        let engine = PrivateEngine {
            docker_host: host.clone(),
            root,
        };
        if !engine.is_up() {
            bail!("{TEST_DOCKER_HOST_ENV}={host} does not answer");
        }
        return Ok(engine);
    }
    ensure_engine()
}

/// Starts the private engine unless it already answers; safe to call from
/// many test processes at once.
pub fn ensure_engine() -> anyhow::Result<PrivateEngine> {
    let engine = PrivateEngine::at(engine_root());
    if engine.is_up() {
        return Ok(engine);
    }
    let _lock = exclusive_lock(&engine.root, "engine.lock")?;
    // Someone may have started it while we waited for the lock.
    if engine.is_up() {
        return Ok(engine);
    }
    if !cmd::exists("dockerd") {
        bail!("dockerd is not installed: run `cargo xtask setup` (as root)");
    }
    kill_stale_daemon(&engine)?;
    ensure_bridge(&engine)?;
    spawn_dockerd(&engine)?;
    wait_until_up(&engine)?;
    Ok(engine)
}

/// Removes the engine's containers, stops its dockerd and removes its
/// bridge. Fine if nothing runs.
pub fn stop_engine() -> anyhow::Result<()> {
    let engine = PrivateEngine::at(engine_root());
    if !engine.root.exists() {
        return remove_bridge(&engine);
    }
    let _lock = exclusive_lock(&engine.root, "engine.lock")?;
    if engine.is_up() {
        remove_all_containers(&engine)?;
    }
    if let Some(pid) = daemon_pid(&engine) {
        terminate(pid)?;
    }
    remove_bridge(&engine)
}

fn remove_all_containers(engine: &PrivateEngine) -> anyhow::Result<()> {
    let ids = run(engine.docker().args(["ps", "-aq"]))?;
    let ids: Vec<&str> = ids.split_whitespace().collect();
    if !ids.is_empty() {
        run(engine.docker().args(["rm", "-f", "-v"]).args(&ids))?;
    }
    Ok(())
}

/// The pid in the pid file, if that process is a live dockerd.
fn daemon_pid(engine: &PrivateEngine) -> Option<u32> {
    let text = std::fs::read_to_string(engine.root.join("docker.pid")).ok()?;
    let pid: u32 = text.trim().parse().ok()?;
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
    let cmdline = String::from_utf8_lossy(&cmdline);
    cmdline.contains("dockerd").then_some(pid)
}

/// A dockerd of ours that runs but does not answer: stop it before starting anew.
fn kill_stale_daemon(engine: &PrivateEngine) -> anyhow::Result<()> {
    match daemon_pid(engine) {
        Some(pid) => terminate(pid),
        None => Ok(()),
    }
}

/// SIGTERM, wait, then SIGKILL.
fn terminate(pid: u32) -> anyhow::Result<()> {
    let alive = || Path::new(&format!("/proc/{pid}")).exists() && !is_zombie(pid);
    let _ = run(Command::new("kill").args(["-TERM", &pid.to_string()]));
    let deadline = Instant::now() + STOP_TIMEOUT;
    while alive() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    if alive() {
        let _ = run(Command::new("kill").args(["-KILL", &pid.to_string()]));
        std::thread::sleep(Duration::from_millis(200));
    }
    if alive() {
        bail!("dockerd (pid {pid}) does not stop");
    }
    Ok(())
}

fn is_zombie(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|stat| {
            stat.rsplit(')')
                .next()
                .map(|rest| rest.trim_start().starts_with('Z'))
        })
        .unwrap_or(false)
}

/// The first X from `start` (wrapping within 16..=239) for which
/// `in_use(X)` is false; `start` itself when all are taken.
fn free_subnet(start: u8, in_use: impl Fn(u8) -> bool) -> u8 {
    (0..224u16)
        .filter_map(|i| u8::try_from(16 + (u16::from(start) - 16 + i) % 224).ok())
        .find(|x| !in_use(*x))
        .unwrap_or(start)
}

/// The IPv4 address (`A.B.C.D/N`) of device `name`, if it exists and has one.
fn bridge_address(name: &str) -> Option<String> {
    let out = Command::new("ip")
        .args(["-4", "-o", "addr", "show", "dev", name])
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    let mut words = text.split_whitespace();
    words.find(|w| *w == "inet")?;
    words.next().map(str::to_string)
}

/// Whether a route of this host covers `172.30.X.0/24`.
fn subnet_in_use(x: u8) -> bool {
    Command::new("ip")
        .args(["-4", "route", "show", "match", &format!("172.30.{x}.1")])
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .is_ok_and(|o| {
            String::from_utf8_lossy(&o.stdout)
                .lines()
                .any(|l| !l.starts_with("default"))
        })
}

fn bridge_exists(name: &str) -> bool {
    Command::new("ip")
        .args(["link", "show", name])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn ensure_bridge(engine: &PrivateEngine) -> anyhow::Result<()> {
    let name = engine.bridge();
    if bridge_exists(&name) {
        return Ok(());
    }
    run(Command::new("ip").args(["link", "add", &name, "type", "bridge"]))
        .context("cannot create the test bed bridge (root needed)")?;
    run(Command::new("ip").args(["addr", "add", &engine.bridge_cidr(), "dev", &name]))?;
    run(Command::new("ip").args(["link", "set", &name, "up"]))?;
    Ok(())
}

fn remove_bridge(engine: &PrivateEngine) -> anyhow::Result<()> {
    let name = engine.bridge();
    if bridge_exists(&name) {
        run(Command::new("ip").args(["link", "del", &name]))?;
    }
    Ok(())
}

/// Starts dockerd in its own session so that it outlives this process.
fn spawn_dockerd(engine: &PrivateEngine) -> anyhow::Result<()> {
    let root = &engine.root;
    let log = File::create(engine.log_path())
        .with_context(|| format!("cannot create {}", engine.log_path().display()))?;
    let log_err = log.try_clone().context("cannot duplicate the log file")?;
    let mut command = Command::new("setsid");
    // --fork: setsid's own process exits at once, dockerd is re-parented.
    command
        .arg("--fork")
        .arg("dockerd")
        .arg("--host")
        .arg(&engine.docker_host)
        .arg("--data-root")
        .arg(root.join("data"))
        .arg("--exec-root")
        .arg(root.join("exec"))
        .arg("--pidfile")
        .arg(root.join("docker.pid"))
        .args(["--bridge", &engine.bridge(), "--log-level", "warn"])
        .stdin(Stdio::null())
        .stdout(log)
        .stderr(log_err);
    let status = command
        .status()
        .with_context(|| format!("cannot run {}", cmd::describe(&command)))?;
    if !status.success() {
        bail!("{} failed ({status})", cmd::describe(&command));
    }
    Ok(())
}

fn wait_until_up(engine: &PrivateEngine) -> anyhow::Result<()> {
    let deadline = Instant::now() + START_TIMEOUT;
    while Instant::now() < deadline {
        if engine.is_up() {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    bail!(
        "the private engine at {} did not answer within {}s; end of {}:\n{}",
        engine.docker_host,
        START_TIMEOUT.as_secs(),
        engine.log_path().display(),
        log_tail(&engine.log_path(), 30)
    )
}

/// The last `lines` lines of the file at `path` (empty if unreadable).
pub fn log_tail(path: &Path, lines: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_subnet_another_engine_holds_is_skipped_wrapping_around() {
        assert_eq!(free_subnet(94, |_| false), 94);
        assert_eq!(free_subnet(94, |x| x == 94), 95);
        assert_eq!(free_subnet(239, |x| x == 239), 16);
        assert_eq!(free_subnet(50, |_| true), 50);
    }

    #[test]
    fn ping_of_a_missing_socket_is_false() {
        let dir = tempfile::tempdir().unwrap();
        assert!(!ping(&dir.path().join("nothing.sock")));
    }

    #[test]
    fn ping_accepts_only_an_ok_answer() {
        let dir = tempfile::tempdir().unwrap();
        let socket = dir.path().join("fake.sock");
        let listener = std::os::unix::net::UnixListener::bind(&socket).unwrap();
        let server = std::thread::spawn(move || {
            for answer in ["HTTP/1.1 200 OK\r\n\r\nOK", "HTTP/1.1 500 Oops\r\n\r\nno"] {
                let (mut stream, _) = listener.accept().unwrap();
                let mut request = [0u8; 256];
                let _ = stream.read(&mut request).unwrap();
                stream.write_all(answer.as_bytes()).unwrap();
            }
        });
        assert!(ping(&socket));
        assert!(!ping(&socket));
        server.join().unwrap();
    }

    #[test]
    fn docker_host_names_the_socket_under_the_root() {
        let engine = PrivateEngine::at(PathBuf::from("/tmp/bed"));
        assert_eq!(engine.docker_host, "unix:///tmp/bed/docker.sock");
        assert_eq!(engine.socket_path(), PathBuf::from("/tmp/bed/docker.sock"));
    }

    #[test]
    fn log_tail_keeps_the_last_lines() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log");
        std::fs::write(&path, "a\nb\nc\n").unwrap();
        assert_eq!(log_tail(&path, 2), "b\nc");
        assert_eq!(log_tail(&dir.path().join("none"), 2), "");
    }
}
