//! Corral developer workflows: `cargo xtask setup|engine|images|test|ui|demo|bench`.

mod bench_catalog;
mod bench_dns;
mod bench_exec;
mod bench_failover;
mod bench_footprint;
mod bench_lb;
mod bench_net;
mod bench_report;
mod bench_scale;
mod bench_scale_churn;
mod bench_scale_fleet;
mod bench_scale_mix;
mod bench_scale_nodes;
mod bench_scale_probe;
mod bench_scale_report;
mod bench_scale_runs;
mod bench_scale_server;
mod bench_secrets;
mod bench_start;
mod bench_stats;
mod corral_up;
mod demo;
mod docker;
mod failures;
mod fuzz;
mod system_engine;
mod testbed;
mod ui;

use std::ffi::OsString;
use std::process::{Command, ExitCode};
use std::time::Instant;

use anyhow::{Context, bail};
use clap::{Parser, Subcommand};
use corral_testing::{PrivateEngine, TEST_DOCKER_HOST_ENV};

#[derive(Debug, Parser)]
#[command(
    name = "cargo xtask",
    bin_name = "cargo xtask",
    about = "Corral developer workflows"
)]
struct Cli {
    #[command(subcommand)]
    command: Task,
}

#[derive(Debug, Subcommand)]
enum Task {
    /// Install what the test bed needs (docker.io, busybox-static, ...) when missing.
    Setup,
    /// Start, stop or show the private Docker Engine of the test bed.
    Engine {
        #[command(subcommand)]
        action: EngineAction,
    },
    /// Start the private engine and build the test images locally.
    Images,
    /// The test command (CI runs it): set-up, the UI's build and checks,
    /// engine, images, `cargo test --workspace --all-targets`, the UI's
    /// browser test, fmt and clippy; stops the engine after.
    Test {
        /// Leave the private engine running afterwards.
        #[arg(long)]
        keep_engine: bool,
        /// Extra arguments for `cargo test` (after `--`), e.g. a filter.
        #[arg(last = true)]
        test_args: Vec<OsString>,
    },
    /// The web UI: `ui build` (npm ci, vite build into ui/dist, which the
    /// binary embeds) and `ui test` (typecheck, lint, unit tests, browser test).
    Ui(ui::UiArgs),
    /// Run Corral on the local Docker Engine with a demo service on
    /// http://127.0.0.1:8080/ (installs and starts what is missing).
    Demo(demo::DemoArgs),
    /// Benchmarks (`start` and `footprint` against the private engine, `scale`
    /// on simulated nodes).
    Bench {
        #[command(subcommand)]
        bench: Bench,
    },
    /// Fuzz the compose parser (cargo-fuzz, fuzz/) from a seed corpus; fails on a crash.
    Fuzz(fuzz::FuzzArgs),
    /// A cluster of N hosts on this machine (netns, dockerd and agent each)
    /// for trying Corral and for fault tests: `testbed up|down|status|kill|...`.
    Testbed(testbed::TestbedArgs),
}

#[derive(Debug, Subcommand)]
enum Bench {
    /// Time from `service scale` to N running containers, against plain
    /// `docker run -d --init` N times; writes target/bench/start.json.
    Start(bench_start::StartArgs),
    /// The real server and N simulated nodes (the real agent on a fake
    /// engine), M instances in services of mixed shape: time to all
    /// running, API latency, server RSS; writes target/bench/scale.json.
    Scale(bench_scale::ScaleArgs),
    /// The simulated nodes of one process of `bench scale` when they are
    /// split over several (started by it; not for direct use).
    #[command(hide = true)]
    ScaleNodes(bench_scale_fleet::NodesArgs),
    /// What the catalog costs: refresh, list and dry-run launches of a
    /// 130-template catalog (the community corpus) on the real server;
    /// writes target/bench/catalog.json.
    Catalog(bench_catalog::CatalogArgs),
    /// Resident memory of the real `corral server`, `corral agent` (on the
    /// private engine, idle and with N instances) and `corral up`; writes
    /// target/bench/footprint.json.
    Footprint(bench_footprint::FootprintArgs),
    /// Time from a host's death to its instances running elsewhere, on the
    /// 3-host test bed; writes target/bench/failover.json.
    Failover(bench_failover::FailoverArgs),
    /// corral-dns against dnsmasq serving the same records, both loaded by
    /// dnsperf; writes target/bench/dns.json.
    Dns(bench_dns::DnsArgs),
    /// corral-lb against HAProxy in front of the same corral-whoami
    /// backends, both loaded by wrk; writes target/bench/lb.json.
    Lb(bench_lb::LbArgs),
    /// The time from `secret update` to every instance of a service of N
    /// running with the new version, against the same rolling upgrade
    /// started by an environment change.
    Secrets(bench_secrets::SecretsArgs),
    /// What the agent's live stats cost: its sampler on N containers (100)
    /// against `docker stats --no-stream` of the same containers, CPU of
    /// each side and of dockerd; writes target/bench/stats.json.
    Stats(bench_stats::StatsArgs),
    /// The round trip of a keystroke through `corral exec -it` against
    /// `docker exec -it` into the same container, side by side; writes
    /// target/bench/exec.json.
    Exec(bench_exec::ExecArgs),
    /// The web UI: the first page's JavaScript (gzip), a dashboard of 1,000
    /// services and 10,000 instances, a burst of 1,000 watch events, in
    /// Chromium against the release server; writes target/bench/ui.json.
    Ui,
    /// What authorization costs the API: GET services and status batches
    /// through the gates and behind the admin token alone, side by side;
    /// and the time of one argon2id hash (`cargo bench -p corral-server
    /// --bench auth`).
    Auth,
    /// What TLS costs the API: GET services over HTTPS and over plain
    /// HTTP, side by side, keep-alive and a connection per request (`cargo
    /// bench -p corral-server --bench tls`).
    Tls,
}

#[derive(Debug, Subcommand)]
enum EngineAction {
    /// Start the private engine unless it runs.
    Up,
    /// Remove its containers, stop it, remove its bridge.
    Down,
    /// Print `export DOCKER_HOST=...` for the private engine.
    Env,
}

/// The allocator of the `corral` binary, so that the simulated nodes of
/// `bench scale` (the real agent code, run here) allocate as real agents do.
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Task::Setup => corral_testing::install_prerequisites(),
        Task::Engine { action } => engine(action),
        Task::Images => images().map(|_| ()),
        Task::Test {
            keep_engine,
            test_args,
        } => test(keep_engine, &test_args),
        Task::Ui(args) => ui::ui(&args),
        Task::Demo(args) => demo::demo(&args),
        Task::Bench {
            bench: Bench::Start(args),
        } => bench_start::bench_start(&args),
        Task::Bench {
            bench: Bench::Scale(args),
        } => bench_scale::bench_scale(&args),
        Task::Bench {
            bench: Bench::Catalog(args),
        } => bench_catalog::bench_catalog(&args),
        Task::Bench {
            bench: Bench::ScaleNodes(args),
        } => bench_scale_fleet::serve(&args),
        Task::Bench {
            bench: Bench::Footprint(args),
        } => bench_footprint::bench_footprint(&args),
        Task::Bench {
            bench: Bench::Failover(args),
        } => bench_failover::bench_failover(&args),
        Task::Bench {
            bench: Bench::Dns(args),
        } => bench_dns::bench_dns(&args),
        Task::Bench {
            bench: Bench::Secrets(args),
        } => bench_secrets::bench_secrets(&args),
        Task::Bench {
            bench: Bench::Lb(args),
        } => bench_lb::bench_lb(&args),
        Task::Bench {
            bench: Bench::Stats(args),
        } => bench_stats::bench_stats(&args),
        Task::Bench {
            bench: Bench::Exec(args),
        } => bench_exec::bench_exec(&args),
        Task::Bench { bench: Bench::Ui } => ui::bench(),
        Task::Bench { bench: Bench::Auth } => server_bench("auth"),
        Task::Bench { bench: Bench::Tls } => server_bench("tls"),
        Task::Fuzz(args) => fuzz::fuzz(&args),
        Task::Testbed(args) => testbed::testbed(&args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

/// `cargo xtask bench auth|tls`: one of the server's own benchmarks, in release.
fn server_bench(name: &str) -> anyhow::Result<()> {
    let status = Command::new(env!("CARGO"))
        .args(["bench", "-p", "corral-server", "--bench", name])
        .status()
        .context("cannot run cargo bench")?;
    if !status.success() {
        bail!("cargo bench -p corral-server --bench {name} failed ({status})");
    }
    Ok(())
}

fn engine(action: EngineAction) -> anyhow::Result<()> {
    match action {
        EngineAction::Up => {
            let engine = corral_testing::ensure_engine()?;
            eprintln!("private engine up at {}", engine.docker_host);
            Ok(())
        }
        EngineAction::Down => {
            corral_testing::stop_engine()?;
            eprintln!("private engine down");
            Ok(())
        }
        EngineAction::Env => {
            let root = corral_testing::engine_root();
            let host = format!("unix://{}", root.join("docker.sock").display());
            println!("export DOCKER_HOST={host}");
            println!("export {TEST_DOCKER_HOST_ENV}={host}");
            Ok(())
        }
    }
}

fn images() -> anyhow::Result<PrivateEngine> {
    let engine = corral_testing::ensure_engine()?;
    corral_testing::ensure_images(&engine)?;
    eprintln!(
        "images {} and {} ready in {}",
        corral_testing::BUSYBOX_IMAGE,
        corral_testing::WHOAMI_IMAGE,
        engine.docker_host
    );
    Ok(engine)
}

/// The outcome of one step of `cargo xtask test`.
struct Step {
    name: &'static str,
    result: anyhow::Result<()>,
    seconds: f64,
}

fn step(name: &'static str, body: impl FnOnce() -> anyhow::Result<()>) -> Step {
    eprintln!("==> {name}");
    let started = Instant::now();
    let result = body();
    if let Err(error) = &result {
        eprintln!("==> {name} failed: {error:#}");
    }
    Step {
        name,
        result,
        seconds: started.elapsed().as_secs_f64(),
    }
}

fn test(keep_engine: bool, test_args: &[OsString]) -> anyhow::Result<()> {
    let mut steps = Vec::new();
    let mut bed: Option<PrivateEngine> = None;
    steps.push(step("setup", corral_testing::install_prerequisites));
    let set_up = steps.iter().all(|s| s.result.is_ok());
    // The UI first: `cargo test` builds the binary, which embeds ui/dist.
    let mut ui_built = false;
    if set_up {
        let built = step("ui build", || {
            ui::install()?;
            ui::build()
        });
        ui_built = built.result.is_ok();
        steps.push(built);
    }
    if ui_built {
        steps.push(step("ui checks", ui::checks));
    }
    if set_up {
        steps.push(step("engine and images", || {
            bed = Some(images()?);
            Ok(())
        }));
    }
    if let Some(engine) = &bed {
        steps.push(step("cargo test", || cargo_test(engine, test_args)));
    }
    if ui_built {
        steps.push(step("ui browser test", ui::browser));
    }
    steps.push(step("cargo fmt --check", || {
        cargo(&["fmt", "--all", "--", "--check"])
    }));
    steps.push(step("cargo clippy", || {
        cargo(&[
            "clippy",
            "--workspace",
            "--all-targets",
            "--",
            "-D",
            "warnings",
        ])
    }));
    if !keep_engine {
        steps.push(step("engine down", corral_testing::stop_engine));
    }
    summarise(&steps)
}

fn summarise(steps: &[Step]) -> anyhow::Result<()> {
    eprintln!("==> summary");
    for step in steps {
        let verdict = if step.result.is_ok() { "ok" } else { "FAILED" };
        eprintln!("    {:<20} {verdict:<6} {:>7.1}s", step.name, step.seconds);
    }
    // Each failure again, with the tests it names: CI keeps only the tail.
    for step in steps {
        if let Err(error) = &step.result {
            eprintln!("==> {} failed: {error:#}", step.name);
        }
    }
    let failed: Vec<&str> = steps
        .iter()
        .filter(|s| s.result.is_err())
        .map(|s| s.name)
        .collect();
    if !failed.is_empty() {
        bail!("failed: {}", failed.join(", "));
    }
    Ok(())
}

fn cargo_command() -> Command {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut command = Command::new(cargo);
    command.current_dir(corral_testing::workspace_root());
    command
}

fn cargo(args: &[&str]) -> anyhow::Result<()> {
    let mut command = cargo_command();
    command.args(args);
    check(&mut command, &args.join(" "))
}

/// `cargo test --workspace --all-targets` against the private engine.
fn cargo_test(engine: &PrivateEngine, test_args: &[OsString]) -> anyhow::Result<()> {
    let mut command = cargo_command();
    command
        .args(["test", "--workspace", "--all-targets"])
        .env(TEST_DOCKER_HOST_ENV, &engine.docker_host)
        // Anything that falls back to DOCKER_HOST also uses the private engine.
        .env("DOCKER_HOST", &engine.docker_host);
    if !test_args.is_empty() {
        command.arg("--").args(test_args);
    }
    failures::run(
        &mut command,
        "cargo test --workspace --all-targets",
        failures::Runner::Cargo,
    )
}

fn check(command: &mut Command, what: &str) -> anyhow::Result<()> {
    let status = command
        .status()
        .with_context(|| format!("cannot run cargo {what}"))?;
    if !status.success() {
        bail!("cargo {what} failed ({status})");
    }
    Ok(())
}
