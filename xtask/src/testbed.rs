//! `cargo xtask testbed up|down|status|kill|start|cut|restore`: a cluster of
//! N hosts on this machine (network namespaces on a bridge, one Docker
//! Engine and one `corral agent` each, one `corral server`), for trying
//! Corral as a cluster and for fault tests. See docs/TESTBED.md.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use corral_api::Client;
use corral_testing::{Testbed, TestbedOptions, default_testbed_root};
use corral_types::{Node, NodeState};

/// How long `up` waits for every node to be `active`.
const NODES_ACTIVE_TIMEOUT: Duration = Duration::from_secs(60);

#[derive(Debug, Args)]
pub struct TestbedArgs {
    #[command(subcommand)]
    action: TestbedAction,
}

#[derive(Debug, Subcommand)]
enum TestbedAction {
    /// Build N hosts (netns + dockerd + agent each) and a server; returns
    /// when every node is active.
    Up {
        /// Number of hosts.
        #[arg(long, default_value_t = 3)]
        hosts: usize,
        /// Run target/release/corral (built with --release).
        #[arg(long)]
        release: bool,
    },
    /// Remove everything: agents, engines and containers, server, netns,
    /// links, bridge, iptables rule, files. Fine if nothing is up.
    Down,
    /// Hosts, their processes and links, and their nodes' states.
    Status,
    /// Kill host N like a crash (its agent, engine, shims and containers).
    Kill { host: usize },
    /// Start host N's engine and agent again after `kill`.
    Start { host: usize },
    /// Cut host N's link (`ip link set <veth> down`).
    Cut { host: usize },
    /// Restore host N's link.
    Restore { host: usize },
}

pub fn testbed(args: &TestbedArgs) -> anyhow::Result<()> {
    let root = default_testbed_root();
    match args.action {
        TestbedAction::Up { hosts, release } => up(&root, hosts, release),
        TestbedAction::Down => {
            let started = Instant::now();
            Testbed::down(&root).map_err(|e| anyhow::anyhow!(e.chain()))?;
            eprintln!(
                "test bed at {} down in {:.1}s",
                root.display(),
                started.elapsed().as_secs_f64()
            );
            Ok(())
        }
        TestbedAction::Status => status(&root),
        TestbedAction::Kill { host } => fault(&root, host, "killed", Testbed::kill_host),
        TestbedAction::Start { host } => fault(&root, host, "started", Testbed::start_host),
        TestbedAction::Cut { host } => fault(&root, host, "cut off", Testbed::cut_link),
        TestbedAction::Restore { host } => fault(&root, host, "reconnected", Testbed::restore_link),
    }
}

fn open(root: &std::path::Path) -> anyhow::Result<Testbed> {
    Testbed::open(root)
        .map_err(|e| anyhow::anyhow!(e.chain()))
        .context("no test bed: start one with `cargo xtask testbed up --hosts N`")
}

fn up(root: &std::path::Path, hosts: usize, release: bool) -> anyhow::Result<()> {
    if Testbed::exists(root) {
        bail!(
            "a test bed is already up at {}: run `cargo xtask testbed down` first \
             (`cargo xtask testbed status` shows it)",
            root.display()
        );
    }
    corral_testing::install_prerequisites()?;
    let corral = build_corral(release)?;
    let engine = corral_testing::ensure_engine().context("cannot start the private engine")?;
    corral_testing::ensure_images(&engine).context("cannot build the test images")?;
    eprintln!("==> {hosts} hosts under {}", root.display());
    let started = Instant::now();
    let options = TestbedOptions {
        hosts,
        corral,
        images_from: Some(engine),
    };
    let bed = Testbed::up(root, &options)
        .map_err(|e| anyhow::anyhow!(e.chain()))
        .with_context(|| {
            format!(
                "the half-built test bed is left for inspection (logs under {}); \
                 `cargo xtask testbed down` removes it",
                root.display()
            )
        })?;
    let built = started.elapsed();
    let token = bed.token().map_err(|e| anyhow::anyhow!(e.chain()))?;
    let ca = bed.ca_pem().map_err(|e| anyhow::anyhow!(e.chain()))?;
    let nodes = runtime()?.block_on(wait_all_active(bed.server_url(), &token, &ca, hosts))?;
    eprintln!(
        "==> test bed up in {:.1}s (hosts built in {:.1}s, every node active {:.1}s later)",
        started.elapsed().as_secs_f64(),
        built.as_secs_f64(),
        (started.elapsed() - built).as_secs_f64()
    );
    print_nodes(&bed, &nodes);
    println!();
    println!("server  {}", bed.server_url());
    println!("token   {token}");
    println!();
    println!(
        "export CORRAL_URL={} CORRAL_TOKEN={token} CORRAL_CA_FILE={}",
        bed.server_url(),
        bed.root().join("server/ca.pem").display()
    );
    println!("corral node ls");
    println!("corral service create web --image corral-whoami --scale {hosts}");
    println!();
    println!(
        "faults: cargo xtask testbed kill|start|cut|restore N; remove all: cargo xtask testbed down"
    );
    Ok(())
}

fn status(root: &std::path::Path) -> anyhow::Result<()> {
    let bed = open(root)?;
    println!("root    {}", bed.root().display());
    println!(
        "server  {} ({})",
        bed.server_url(),
        if bed.server_running() {
            "running"
        } else {
            "not running"
        }
    );
    let nodes = match bed.token().and_then(|t| Ok((t, bed.ca_pem()?))) {
        Ok((token, ca)) if bed.server_running() => runtime()?
            .block_on(fetch_nodes(bed.server_url(), &token, &ca))
            .unwrap_or_else(|e| {
                eprintln!("cannot list the nodes: {e:#}");
                Vec::new()
            }),
        _ => Vec::new(),
    };
    print_nodes(&bed, &nodes);
    Ok(())
}

fn print_nodes(bed: &Testbed, nodes: &[Node]) {
    let by_name: BTreeMap<&str, &Node> = nodes.iter().map(|n| (n.meta.name.as_str(), n)).collect();
    println!("HOST  ADDRESS         ENGINE   AGENT    LINK   NODE          NETNS");
    for status in bed.status() {
        let yes_no = |b: bool| if b { "running" } else { "dead" };
        let link = match status.link_up {
            Some(true) => "up",
            Some(false) => "cut",
            None => "gone",
        };
        let node = by_name
            .get(status.host.name.as_str())
            .map(|n| n.status.state.to_string())
            .unwrap_or_else(|| "-".into());
        println!(
            "{:<5} {:<15} {:<8} {:<8} {:<6} {:<13} {}",
            status.host.name,
            status.host.address.to_string(),
            yes_no(status.engine),
            yes_no(status.agent),
            link,
            node,
            status.host.netns
        );
    }
}

fn fault(
    root: &std::path::Path,
    host: usize,
    done: &str,
    action: fn(&Testbed, usize) -> Result<(), corral_testing::TestbedError>,
) -> anyhow::Result<()> {
    let bed = open(root)?;
    action(&bed, host).map_err(|e| anyhow::anyhow!(e.chain()))?;
    eprintln!("host h{host} {done}");
    Ok(())
}

/// `cargo build -p corral [--release]`; the binary's path.
fn build_corral(release: bool) -> anyhow::Result<PathBuf> {
    let profile = if release { "release" } else { "debug" };
    eprintln!(
        "==> cargo build -p corral{}",
        if release { " --release" } else { "" }
    );
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let workspace = corral_testing::workspace_root();
    let mut build = Command::new(cargo);
    build
        .current_dir(&workspace)
        .args(["build", "-p", "corral"]);
    if release {
        build.arg("--release");
    }
    let status = build.status().context("cannot run cargo build -p corral")?;
    if !status.success() {
        bail!("cargo build -p corral failed ({status})");
    }
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace.join("target"));
    let binary = target.join(profile).join("corral");
    if !binary.is_file() {
        bail!("{} was not built", binary.display());
    }
    Ok(binary)
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

async fn fetch_nodes(url: &str, token: &str, ca_pem: &str) -> anyhow::Result<Vec<Node>> {
    let client =
        Client::new(url, token, ca_pem).with_context(|| format!("bad server url {url}"))?;
    let nodes = client
        .nodes("default")
        .await
        .with_context(|| format!("cannot list the nodes of {url}"))?;
    Ok(nodes.items)
}

/// Polls the nodes until `hosts` of them are `active`.
async fn wait_all_active(
    url: &str,
    token: &str,
    ca_pem: &str,
    hosts: usize,
) -> anyhow::Result<Vec<Node>> {
    let deadline = Instant::now() + NODES_ACTIVE_TIMEOUT;
    loop {
        let last = fetch_nodes(url, token, ca_pem).await;
        if let Ok(nodes) = &last
            && nodes
                .iter()
                .filter(|n| n.status.state == NodeState::Active)
                .count()
                >= hosts
        {
            return last;
        }
        if Instant::now() > deadline {
            let seen = match last {
                Ok(nodes) => nodes
                    .iter()
                    .map(|n| format!("{} {}", n.meta.name, n.status.state))
                    .collect::<Vec<_>>()
                    .join(", "),
                Err(e) => format!("{e:#}"),
            };
            bail!(
                "not every one of {hosts} nodes was active within {}s (seen: {seen}); \
                 see the agent logs under {}",
                NODES_ACTIVE_TIMEOUT.as_secs(),
                default_testbed_root().display()
            );
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
