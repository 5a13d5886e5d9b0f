//! The local Docker Engine the demo runs on: the one at `DOCKER_HOST` or
//! the default socket, or the system's dockerd started in the background.

use std::fs::File;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use anyhow::{Context, bail};

use crate::corral_up::wait_for;
use crate::docker::Docker;

pub const DEFAULT_HOST: &str = "unix:///var/run/docker.sock";
const INIT_SCRIPT: &str = "/etc/init.d/docker";
const DEMO_LOG: &str = "/var/log/corral-demo-dockerd.log";
const PID_FILE: &str = "/var/run/docker.pid";
const START_TIMEOUT: Duration = Duration::from_secs(60);

/// How the demo got its engine, so `--no-wait` can undo what it started.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Started {
    /// It was running already (or DOCKER_HOST named it).
    No,
    /// `service docker start`.
    Service,
    /// `dockerd` spawned by the demo.
    Spawned,
}

/// The engine to use: `DOCKER_HOST` if set (it must answer), else the
/// default socket, started if nothing answers there.
pub fn ensure_local_engine() -> anyhow::Result<(Docker, Started)> {
    if let Some(host) = std::env::var("DOCKER_HOST").ok().filter(|h| !h.is_empty()) {
        let docker = Docker::new(&host);
        if !docker.answers() {
            bail!("DOCKER_HOST={host} does not answer; unset it to use the system engine");
        }
        return Ok((docker, Started::No));
    }
    let docker = Docker::new(DEFAULT_HOST);
    if socket_answers() {
        return Ok((docker, Started::No));
    }
    if Path::new(INIT_SCRIPT).exists() {
        eprintln!("==> service docker start");
        match start_with_service().and_then(|()| wait_until_up()) {
            Ok(()) => return Ok((docker, Started::Service)),
            Err(error) => eprintln!(
                "    service docker start did not start the engine ({error:#}): starting dockerd directly"
            ),
        }
    }
    eprintln!("==> dockerd (log in {DEMO_LOG})");
    spawn_dockerd()?;
    wait_until_up().with_context(|| {
        format!(
            "end of {DEMO_LOG}:\n{}",
            corral_testing::log_tail(Path::new(DEMO_LOG), 20)
        )
    })?;
    Ok((docker, Started::Spawned))
}

/// Stops the engine if the demo started it.
pub fn stop_if_started(started: Started) -> anyhow::Result<()> {
    match started {
        Started::No => Ok(()),
        Started::Service => {
            eprintln!("==> service docker stop");
            service(&["docker", "stop"])
        }
        Started::Spawned => {
            let pid = std::fs::read_to_string(PID_FILE)
                .with_context(|| format!("cannot read {PID_FILE}"))?;
            eprintln!(
                "==> stopping the dockerd the demo started (pid {})",
                pid.trim()
            );
            let status = Command::new("kill")
                .args(["-TERM", pid.trim()])
                .status()
                .context("cannot run kill")?;
            if !status.success() {
                bail!("kill -TERM {} failed ({status})", pid.trim());
            }
            wait_for("dockerd to stop", START_TIMEOUT, ms(200), || {
                Ok((!socket_answers()).then_some(()))
            })
        }
    }
}

fn ms(millis: u64) -> Duration {
    Duration::from_millis(millis)
}

fn socket_answers() -> bool {
    let socket = DEFAULT_HOST.trim_start_matches("unix://");
    corral_testing::ping(Path::new(socket))
}

fn wait_until_up() -> anyhow::Result<()> {
    wait_for(
        "the engine at /var/run/docker.sock",
        START_TIMEOUT,
        ms(250),
        || Ok(socket_answers().then_some(())),
    )
}

/// `service ARGS...`, or the init script itself where `service` is missing.
fn service(args: &[&str]) -> anyhow::Result<()> {
    let mut command = if Path::new("/usr/sbin/service").exists() {
        let mut c = Command::new("service");
        c.args(args);
        c
    } else {
        let mut c = Command::new(INIT_SCRIPT);
        c.args(&args[1..]);
        c
    };
    let status = command
        .stdin(Stdio::null())
        .status()
        .with_context(|| format!("cannot run service {}", args.join(" ")))?;
    if !status.success() {
        bail!("service {} failed ({status})", args.join(" "));
    }
    Ok(())
}

fn start_with_service() -> anyhow::Result<()> {
    service(&["docker", "start"])
}

/// `dockerd` in its own session (it outlives xtask), logging to [`DEMO_LOG`].
fn spawn_dockerd() -> anyhow::Result<()> {
    let log = File::create(DEMO_LOG).with_context(|| format!("cannot create {DEMO_LOG}"))?;
    let log_err = log.try_clone().context("cannot duplicate the log file")?;
    let status = Command::new("setsid")
        .args(["--fork", "dockerd", "--pidfile", PID_FILE])
        .stdin(Stdio::null())
        .stdout(log)
        .stderr(log_err)
        .status()
        .context("cannot run setsid --fork dockerd")?;
    if !status.success() {
        bail!("setsid --fork dockerd failed ({status})");
    }
    Ok(())
}
