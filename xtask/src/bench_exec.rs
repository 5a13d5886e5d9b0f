//! `cargo xtask bench exec`: the round trip of a keystroke through `corral
//! exec -it` (CLI → server → agent → the engine's exec → the container's
//! terminal, which echoes it, and back), against its anchor, `docker exec
//! -it` into the same container on the same private engine. Both run `cat`
//! on a real pseudo-terminal of ours, in raw mode (each CLI sets it), so a
//! key comes back only as the container's terminal echoes it. Rounds
//! alternate the two sides. Goal (issue 14): within 2 ms of docker's.

use std::io::{Read, Write};
use std::os::fd::AsFd;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::Args;
use corral_api::Client;
use corral_types::{Kind, NodeState, Object, Service, ServiceSpec};
use serde_json::json;

use crate::bench_start::running_unless_failed;
use crate::corral_up::{CorralUp, UpOptions, build_release, wait_for};
use crate::docker::Docker;

const ENV: &str = "default";
const SERVICE: &str = "bench-exec";
const TIMEOUT: Duration = Duration::from_secs(120);
/// How long one keystroke may take before the run is given up.
const KEY_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Debug, Clone, Args)]
pub struct ExecArgs {
    /// Keystrokes measured per round and side (after 20 unmeasured ones).
    #[arg(long, default_value_t = 300)]
    pub keys: u32,
    /// Rounds; each measures both sides, alternating which goes first.
    #[arg(long, default_value_t = 3)]
    pub rounds: u32,
}

pub fn bench_exec(args: &ExecArgs) -> anyhow::Result<()> {
    if args.keys == 0 || args.rounds == 0 {
        bail!("--keys and --rounds must be at least 1");
    }
    let root = corral_testing::engine_root();
    let was_up = corral_testing::ping(&root.join("docker.sock"));
    let engine = corral_testing::ensure_engine()?;
    let docker = Docker::new(&engine.docker_host);
    corral_testing::ensure_busybox_image(&engine)?;
    let binary = build_release()?;
    let tmp = tempfile::tempdir().context("cannot create a temporary directory")?;
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
    let result = run_all(&up, &docker, args);
    up.stop()?;
    if let Err(e) = docker.remove_all(&format!("label=io.corral.service={SERVICE}")) {
        eprintln!("warning: cannot remove the benchmark's container: {e:#}");
    }
    if !was_up {
        corral_testing::stop_engine()?;
    }
    result
}

fn run_all(up: &CorralUp, docker: &Docker, args: &ExecArgs) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the tokio runtime")?;
    let client = Client::new(&up.url, &up.token, &up.ca_pem)?;
    wait_for(
        "the node to be active",
        TIMEOUT,
        Duration::from_millis(100),
        || {
            let nodes = runtime.block_on(client.nodes(ENV))?;
            Ok(nodes
                .items
                .iter()
                .any(|n| n.status.state == NodeState::Active)
                .then_some(()))
        },
    )?;
    let spec = ServiceSpec {
        image: corral_testing::BUSYBOX_IMAGE.into(),
        scale: 1,
        command: vec!["sleep".into(), "3600".into()],
        ..ServiceSpec::default()
    };
    let svc: Service = Object::new(Kind::Service, ENV, SERVICE, spec);
    runtime.block_on(client.create(&svc))?;
    wait_for(
        "the instance to run",
        TIMEOUT,
        Duration::from_millis(100),
        || {
            let list = runtime.block_on(client.service_instances(ENV, SERVICE))?;
            Ok((running_unless_failed(&list.items)? == 1).then_some(()))
        },
    )?;
    let ids = docker.ids(&format!("label=io.corral.service={SERVICE}"))?;
    let container = ids
        .first()
        .context("no container of the benchmark's service")?;
    let instance = format!("{SERVICE}-1");

    let mut corral_ms = Vec::new();
    let mut docker_ms = Vec::new();
    let mut rows = Vec::new();
    for round in 1..=args.rounds {
        let corral_first = round % 2 == 1;
        let mut c = Vec::new();
        let mut d = Vec::new();
        for side in 0..2 {
            if (side == 0) == corral_first {
                let mut cmd = up.cli_command(&["exec", "-it", &instance, "--", "cat"]);
                c = keystrokes(&mut cmd, args.keys)?;
            } else {
                let mut cmd = docker.command();
                cmd.args(["exec", "-it", container, "cat"]);
                d = keystrokes(&mut cmd, args.keys)?;
            }
        }
        let (cm, dm) = (median(&c), median(&d));
        eprintln!(
            "    round {round}: corral exec median {cm:.3} ms p99 {:.3}, docker exec median {dm:.3} ms p99 {:.3}",
            percentile(&c, 0.99),
            percentile(&d, 0.99)
        );
        rows.push((round, cm, percentile(&c, 0.99), dm, percentile(&d, 0.99)));
        corral_ms.extend(c);
        docker_ms.extend(d);
    }
    println!(
        "| round | corral exec median (ms) | p99 | docker exec median (ms) | p99 | difference of medians (ms) |"
    );
    println!("|---:|---:|---:|---:|---:|---:|");
    for (round, cm, cp, dm, dp) in &rows {
        println!(
            "| {round} | {cm:.3} | {cp:.3} | {dm:.3} | {dp:.3} | {:+.3} |",
            cm - dm
        );
    }
    let (cm, dm) = (median(&corral_ms), median(&docker_ms));
    println!(
        "| all | {cm:.3} | {:.3} | {dm:.3} | {:.3} | {:+.3} (goal: at most +2) |",
        percentile(&corral_ms, 0.99),
        percentile(&docker_ms, 0.99),
        cm - dm
    );
    let figures = json!({
        "keys_per_round": args.keys,
        "rounds": args.rounds,
        "corral_exec": {"median_ms": cm, "p99_ms": percentile(&corral_ms, 0.99)},
        "docker_exec": {"median_ms": dm, "p99_ms": percentile(&docker_ms, 0.99)},
        "difference_of_medians_ms": cm - dm,
        "goal_ms": 2.0,
    });
    let dir = PathBuf::from("target/bench");
    std::fs::create_dir_all(&dir)?;
    std::fs::write(
        dir.join("exec.json"),
        serde_json::to_string_pretty(&figures)?,
    )?;
    eprintln!("==> wrote target/bench/exec.json");
    Ok(())
}

/// Runs `command` (an exec of `cat` with a terminal) on a new
/// pseudo-terminal and times `keys` keystrokes, each from its write to its
/// echo; 20 unmeasured ones first. Milliseconds.
fn keystrokes(command: &mut Command, keys: u32) -> anyhow::Result<Vec<f64>> {
    use rustix::pty::{OpenptFlags, grantpt, openpt, ptsname, unlockpt};
    let master = openpt(OpenptFlags::RDWR | OpenptFlags::NOCTTY).context("openpt")?;
    grantpt(&master).context("grantpt")?;
    unlockpt(&master).context("unlockpt")?;
    let name = ptsname(&master, Vec::new()).context("ptsname")?;
    let winsize = rustix::termios::Winsize {
        ws_row: 24,
        ws_col: 80,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    rustix::termios::tcsetwinsize(master.as_fd(), winsize).context("window size")?;
    let slave = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(name.to_string_lossy().as_ref())
        .context("cannot open the terminal")?;
    let child = command
        .stdin(Stdio::from(slave.try_clone()?))
        .stdout(Stdio::from(slave.try_clone()?))
        .stderr(Stdio::from(slave))
        .spawn()
        .context("cannot start the exec")?;
    let mut guard = Killed(child);
    let mut writer = std::fs::File::from(master.try_clone()?);
    let mut reader = std::fs::File::from(master);
    let (tx, rx) = mpsc::channel::<Vec<u8>>();
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while let Ok(n) = reader.read(&mut buf) {
            if n == 0 || tx.send(buf[..n].to_vec()).is_err() {
                break;
            }
        }
    });
    // Until the terminal answers at all (the exec is set up).
    let ready = Instant::now();
    loop {
        writer.write_all(b"r")?;
        if echoed(&rx, b'r', Duration::from_millis(500)).is_ok() {
            break;
        }
        if ready.elapsed() > TIMEOUT {
            bail!("the exec's terminal never echoed a key");
        }
    }
    // Drain echoes of the retries.
    while rx.recv_timeout(Duration::from_millis(200)).is_ok() {}
    let mut out = Vec::new();
    for i in 0..keys + 20 {
        let key = b'a' + (i % 26) as u8;
        let sent = Instant::now();
        writer.write_all(&[key])?;
        echoed(&rx, key, KEY_TIMEOUT)?;
        if i >= 20 {
            out.push(sent.elapsed().as_secs_f64() * 1000.0);
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    // Ctrl-D ends cat on a fresh line; the guard kills what is left.
    writer.write_all(b"\n\x04")?;
    let end = Instant::now();
    while end.elapsed() < Duration::from_secs(5) {
        if guard.0.try_wait()?.is_some() {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Ok(out)
}

/// Kills the exec's CLI if it is still there.
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Waits until `key` comes back.
fn echoed(rx: &mpsc::Receiver<Vec<u8>>, key: u8, timeout: Duration) -> anyhow::Result<()> {
    let deadline = Instant::now() + timeout;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let bytes = rx
            .recv_timeout(left)
            .map_err(|_| anyhow::anyhow!("no echo of {:?} within {timeout:?}", key as char))?;
        if bytes.contains(&key) {
            return Ok(());
        }
    }
}

fn median(v: &[f64]) -> f64 {
    percentile(v, 0.5)
}

fn percentile(v: &[f64], p: f64) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    let i = ((s.len() - 1) as f64 * p).round() as usize;
    s[i.min(s.len() - 1)]
}
