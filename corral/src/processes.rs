//! `corral server`, `corral agent` and `corral up`: the long-running processes.

use std::sync::Arc;

use anyhow::Context;
use tokio::sync::watch;

use corral_agent::{AgentOptions, run_agent};
use corral_cli::{AgentArgs, ServerArgs, UpArgs, config, default_data_dir};
use corral_engine::{ContainerEngine, DockerEngine};
use corral_server::{ServerOptions, start};

/// Resolves on SIGINT or SIGTERM.
async fn stop_signal() -> anyhow::Result<&'static str> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).context("installing the SIGTERM handler")?;
    let mut int = signal(SignalKind::interrupt()).context("installing the SIGINT handler")?;
    Ok(tokio::select! {
        _ = term.recv() => "SIGTERM",
        _ = int.recv() => "SIGINT",
    })
}

pub async fn server(args: ServerArgs) -> anyhow::Result<()> {
    let data_dir = args.data_dir.unwrap_or_else(default_data_dir);
    let mut options = ServerOptions::new(&args.listen, &data_dir);
    options.controllers.node_timeout = args.liveness.node_timeout;
    options.controllers.reschedule_after = args.liveness.reschedule_after;
    options.default_network = args.default_network;
    let server = start(options).await?;
    println!("corral server listening on {}", server.url);
    println!("admin token in {}", data_dir.join("admin-token").display());
    let sig = stop_signal().await?;
    tracing::info!("{sig}: stopping");
    server.stop().await;
    Ok(())
}

async fn connect_engine(docker_host: Option<&str>) -> anyhow::Result<Arc<dyn ContainerEngine>> {
    let engine = DockerEngine::connect(docker_host).await?;
    Ok(Arc::new(engine))
}

/// A node name from the host name: lowercase, `[a-z0-9-]`, at most 63 characters.
fn default_node_name() -> String {
    let raw = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .unwrap_or_else(|_| "node".into());
    let mut name: String = raw
        .trim()
        .to_lowercase()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .take(63)
        .collect();
    name = name.trim_matches('-').to_string();
    if name.is_empty() { "node".into() } else { name }
}

/// The agent of one node of `environment` (the global `--environment`).
pub async fn agent(args: AgentArgs, environment: String) -> anyhow::Result<()> {
    let engine = connect_engine(args.docker_host.as_deref()).await?;
    let mut options = AgentOptions::new(
        &args.server,
        &args.token,
        &args.name.clone().unwrap_or_else(default_node_name),
    );
    options.labels = args.label_map();
    options.listen = args.listen.clone();
    options.address = args.address.clone();
    options.environment = environment;
    options.managed_network = !args.no_managed_network;
    let (stop, stopped) = watch::channel(false);
    let mut agent = tokio::spawn(run_agent(options, engine, stopped));
    tokio::select! {
        sig = stop_signal() => {
            tracing::info!("{}: stopping", sig?);
            let _ = stop.send(true);
            (&mut agent).await.context("agent task")?
        }
        res = &mut agent => res.context("agent task")?,
    }
}

pub async fn up(args: UpArgs) -> anyhow::Result<()> {
    let data_dir = args.data_dir.unwrap_or_else(default_data_dir);
    let engine = connect_engine(args.docker_host.as_deref()).await?;
    let server = start(ServerOptions::new(&args.listen, &data_dir)).await?;
    let cfg = config::ClientConfig {
        url: server.url.clone(),
        token: server.admin_token.clone(),
    };
    let cfg_path = config::save(&cfg)?;
    println!("corral is up at {}", server.url);
    if server.first_start {
        println!("admin token: {}", server.admin_token);
    } else {
        println!("admin token in {}", data_dir.join("admin-token").display());
    }
    println!(
        "client config written to {} (try: corral node ls)",
        cfg_path.display()
    );
    let mut options = AgentOptions::new(&server.url, &server.admin_token, &default_node_name());
    options.listen = args.agent_listen.clone();
    options.managed_network = !args.no_managed_network;
    let (stop, stopped) = watch::channel(false);
    let mut agent = tokio::spawn(run_agent(options, engine, stopped));
    let outcome = tokio::select! {
        sig = stop_signal() => sig.map(|s| tracing::info!("{s}: stopping")),
        res = &mut agent => {
            server.stop().await;
            return res.context("agent task")?;
        }
    };
    let _ = stop.send(true);
    let _ = agent.await;
    server.stop().await;
    outcome
}
