//! `cargo xtask bench failover`: the time from a host's death to its
//! instances running elsewhere, on the 3-host test bed (release build).
//!
//! Each run deploys a service of N replicas (spread over the 3 hosts),
//! kills one host (SIGKILL to its agent, engine, shims and containers:
//! `Testbed::kill_host`), and polls the API every 50 ms for (a) the node
//! marked `disconnected` and (b) every replica running again, none on the
//! dead host. Then the host is started again, the service removed, and the
//! next run kills the next host. Writes target/bench/failover.json.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::Args;
use corral_api::Client;
use corral_testing::{Testbed, TestbedOptions, testbed_root};
use corral_types::{InstanceState, Kind, NodeState, Object, Service, ServiceSpec};

use crate::corral_up::build_release;

const HOSTS: usize = 3;
const POLL: Duration = Duration::from_millis(50);
/// Bounds a broken run; the figures are expected well under it.
const RUN_TIMEOUT: Duration = Duration::from_secs(120);

#[derive(Debug, Args)]
pub struct FailoverArgs {
    /// Replicas of the service (spread over the 3 hosts).
    #[arg(long, default_value_t = 6)]
    replicas: u32,
    /// Runs (each kills the next host).
    #[arg(long, default_value_t = 3)]
    runs: u32,
}

/// One run's figures, in seconds from the kill.
struct Figures {
    host: String,
    moved: usize,
    disconnected: f64,
    running_elsewhere: f64,
}

/// Takes the test bed down however the bench ends.
struct Down(PathBuf);

impl Drop for Down {
    fn drop(&mut self) {
        if let Err(e) = Testbed::down(&self.0) {
            eprintln!("testbed down: {}", e.chain());
        }
    }
}

pub fn bench_failover(args: &FailoverArgs) -> anyhow::Result<()> {
    if args.replicas == 0 || args.runs == 0 {
        bail!("--replicas and --runs must be at least 1");
    }
    corral_testing::install_prerequisites()?;
    let corral = build_release()?;
    let engine = corral_testing::ensure_engine().context("cannot start the private engine")?;
    corral_testing::ensure_images(&engine).context("cannot build the test images")?;
    let root = testbed_root("bench-failover");
    Testbed::down(&root).map_err(|e| anyhow::anyhow!(e.chain()))?;
    let _down = Down(root.clone());
    eprintln!("==> {HOSTS} hosts under {}", root.display());
    let bed = Testbed::up(
        &root,
        &TestbedOptions {
            hosts: HOSTS,
            corral,
            images_from: Some(engine),
        },
    )
    .map_err(|e| anyhow::anyhow!(e.chain()))?;
    let token = bed.token().map_err(|e| anyhow::anyhow!(e.chain()))?;
    let client = Client::new(
        bed.server_url(),
        &token,
        &bed.ca_pem().map_err(|e| anyhow::anyhow!(e.chain()))?,
    )?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let mut figures = Vec::new();
    for run in 1..=args.runs {
        let victim = usize::try_from(run - 1).unwrap_or(0) % HOSTS + 1;
        let f = rt.block_on(measure_run(&bed, &client, run, victim, args.replicas))?;
        eprintln!(
            "run {run}: h{victim} killed; disconnected after {:.2} s, its {} replicas running elsewhere after {:.2} s",
            f.disconnected, f.moved, f.running_elsewhere
        );
        figures.push(f);
    }
    report(&figures, args)
}

async fn measure_run(
    bed: &Testbed,
    client: &Client,
    run: u32,
    victim: usize,
    replicas: u32,
) -> anyhow::Result<Figures> {
    let host = format!("h{victim}");
    for i in 1..=HOSTS {
        wait_active(client, &format!("h{i}")).await?;
    }
    let name = format!("failover-{run}");
    let spec = ServiceSpec {
        image: corral_testing::WHOAMI_IMAGE.into(),
        scale: replicas,
        ..Default::default()
    };
    let service: Service = Object::new(Kind::Service, "default", &name, spec);
    client.create(&service).await?;
    let want = usize::try_from(replicas)?;
    let placed = poll("every replica running", || async {
        let all = client.service_instances("default", &name).await?.items;
        let running = all
            .iter()
            .filter(|i| i.status.state == InstanceState::Running)
            .count();
        Ok((all.len() == want && running == want).then_some(all))
    })
    .await?;
    let moved = placed.iter().filter(|i| i.spec.node == host).count();

    let killed_at = Instant::now();
    bed.kill_host(victim)
        .map_err(|e| anyhow::anyhow!(e.chain()))?;
    let mut disconnected = None;
    let mut elsewhere = None;
    while disconnected.is_none() || elsewhere.is_none() {
        if killed_at.elapsed() > RUN_TIMEOUT {
            bail!("run {run}: no failover of {host} within {RUN_TIMEOUT:?}");
        }
        if disconnected.is_none() {
            let nodes = client.nodes("default").await?.items;
            if nodes
                .iter()
                .any(|n| n.meta.name == host && n.status.state == NodeState::Disconnected)
            {
                disconnected = Some(killed_at.elapsed());
            }
        }
        if elsewhere.is_none() {
            let all = client.service_instances("default", &name).await?.items;
            let ok = all.len() == want
                && all
                    .iter()
                    .all(|i| i.status.state == InstanceState::Running && i.spec.node != host);
            if ok {
                elsewhere = Some(killed_at.elapsed());
            }
        }
        tokio::time::sleep(POLL).await;
    }

    // Back to three hosts and no service for the next run.
    bed.start_host(victim)
        .map_err(|e| anyhow::anyhow!(e.chain()))?;
    wait_active(client, &host).await?;
    client.delete("default", Kind::Service, &name).await?;
    poll("the service's instances gone", || async {
        let all = client.service_instances("default", &name).await?.items;
        Ok(all.is_empty().then_some(()))
    })
    .await?;
    Ok(Figures {
        host,
        moved,
        disconnected: disconnected.unwrap_or_default().as_secs_f64(),
        running_elsewhere: elsewhere.unwrap_or_default().as_secs_f64(),
    })
}

async fn wait_active(client: &Client, node: &str) -> anyhow::Result<()> {
    poll(&format!("node {node} active"), || async {
        let nodes = client.nodes("default").await?.items;
        Ok(nodes
            .iter()
            .any(|n| n.meta.name == node && n.status.state == NodeState::Active)
            .then_some(()))
    })
    .await
}

async fn poll<T, F, Fut>(what: &str, mut check: F) -> anyhow::Result<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<Option<T>>>,
{
    let deadline = Instant::now() + RUN_TIMEOUT;
    loop {
        if let Some(v) = check().await? {
            return Ok(v);
        }
        if Instant::now() > deadline {
            bail!("timed out waiting for {what}");
        }
        tokio::time::sleep(POLL).await;
    }
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    match values.len() {
        0 => 0.0,
        n if n % 2 == 1 => values[n / 2],
        n => (values[n / 2 - 1] + values[n / 2]) / 2.0,
    }
}

fn report(figures: &[Figures], args: &FailoverArgs) -> anyhow::Result<()> {
    println!();
    println!(
        "failover on the {HOSTS}-host test bed, {} replicas, release build",
        args.replicas
    );
    println!("RUN  KILLED  REPLICAS MOVED  KILL->DISCONNECTED  KILL->RUNNING ELSEWHERE");
    for (i, f) in figures.iter().enumerate() {
        println!(
            "{:<4} {:<7} {:<15} {:>16.2}s  {:>21.2}s",
            i + 1,
            f.host,
            f.moved,
            f.disconnected,
            f.running_elsewhere
        );
    }
    let disc = median(figures.iter().map(|f| f.disconnected).collect());
    let moved = median(figures.iter().map(|f| f.running_elsewhere).collect());
    println!("median{:>30.2}s  {:>21.2}s", disc, moved);
    let runs: Vec<serde_json::Value> = figures
        .iter()
        .map(|f| {
            serde_json::json!({
                "host": f.host,
                "replicas_moved": f.moved,
                "disconnected_s": f.disconnected,
                "running_elsewhere_s": f.running_elsewhere,
            })
        })
        .collect();
    let json = serde_json::json!({
        "bench": "failover",
        "hosts": HOSTS,
        "replicas": args.replicas,
        "runs": runs,
        "median_disconnected_s": disc,
        "median_running_elsewhere_s": moved,
    });
    let dir = corral_testing::workspace_root().join("target/bench");
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let path = dir.join("failover.json");
    std::fs::write(&path, serde_json::to_string_pretty(&json)?)
        .with_context(|| format!("writing {}", path.display()))?;
    eprintln!("wrote {}", path.display());
    Ok(())
}
