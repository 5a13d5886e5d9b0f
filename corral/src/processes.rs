//! `corral server`, `corral agent` and `corral up`: the long-running processes.

use std::sync::Arc;

use anyhow::Context;
use tokio::sync::watch;

use corral_agent::{AgentOptions, run_agent};
use corral_cli::{AgentArgs, RetentionArgs, ServerArgs, TlsArgs, UpArgs, config, default_data_dir};
use corral_engine::{ContainerEngine, DockerEngine};
use corral_server::{ServerOptions, start};

/// The first admin's password (on the start that made it) and where the
/// break-glass token is; never a token itself.
fn print_credentials(server: &corral_server::RunningServer, data_dir: &std::path::Path) {
    if let Some(password) = &server.admin_password {
        println!(
            "user admin, password: {password} (also in {}; shown only now)",
            data_dir.join("admin-password").display()
        );
    }
    println!(
        "break-glass admin token in {}",
        data_dir.join("admin-token").display()
    );
}

/// The audit log's limits and the sessions' lifetime.
fn retention(options: &mut ServerOptions, args: &RetentionArgs) {
    options.audit.max_records = args.audit_max_records;
    options.audit.max_age_s = args.audit_max_age_days * 24 * 3600;
    options.session_ttl_s = args.session_hours * 3600;
}

/// The server's certificate: the operator's own files, else the internal
/// CA's, valid for the `--tls-san` names too.
fn tls(options: &mut ServerOptions, args: &TlsArgs) {
    if let (Some(cert), Some(key)) = (&args.tls_cert, &args.tls_key) {
        options.tls = corral_server::tls::TlsMode::Files {
            cert: cert.clone(),
            key: key.clone(),
        };
    }
    options.tls_names = args.tls_names.clone();
    plain_http_for_bench(options);
}

/// Plain HTTP, only in a build with the `bench-plain-http` feature and
/// only when `CORRAL_BENCH_PLAIN_HTTP=1`: what the scale bench compares
/// TLS with. Without the feature nothing here exists.
#[cfg(feature = "bench-plain-http")]
fn plain_http_for_bench(options: &mut ServerOptions) {
    if std::env::var("CORRAL_BENCH_PLAIN_HTTP").as_deref() == Ok("1") {
        tracing::warn!("CORRAL_BENCH_PLAIN_HTTP=1: serving plain HTTP, for a benchmark only");
        options.tls = corral_server::tls::TlsMode::Off;
    }
}

#[cfg(not(feature = "bench-plain-http"))]
fn plain_http_for_bench(_options: &mut ServerOptions) {}

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
    retention(&mut options, &args.retention);
    tls(&mut options, &args.tls);
    let server = start(options).await?;
    println!("corral server listening on {}", server.url);
    println!("CA fingerprint {}", server.ca_fingerprint);
    print_credentials(&server, &data_dir);
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
        args.registration_token.as_deref().unwrap_or_default(),
        &args.name.clone().unwrap_or_else(default_node_name),
    );
    options.state_dir = Some(
        args.state_dir
            .clone()
            .unwrap_or_else(|| default_data_dir().join("agent")),
    );
    options.labels = args.label_map();
    options.listen = args.listen.clone();
    options.address = args.address.clone();
    options.environment = environment;
    options.managed_network = !args.no_managed_network;
    options.ca_fingerprint = args.ca_fingerprint.clone();
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

/// A short-lived registration token for the embedded agent of `corral up`.
async fn embedded_registration_token(
    server: &corral_server::RunningServer,
) -> anyhow::Result<String> {
    let client = corral_api::Client::new(&server.url, &server.admin_token, &server.ca_pem)?;
    let created = client
        .create_registration_token(corral_types::DEFAULT_ENVIRONMENT, Some(600))
        .await
        .context("making a registration token for the embedded agent")?;
    Ok(created.token)
}

pub async fn up(args: UpArgs) -> anyhow::Result<()> {
    let data_dir = args.data_dir.unwrap_or_else(default_data_dir);
    let engine = connect_engine(args.docker_host.as_deref()).await?;
    let mut server_options = ServerOptions::new(&args.listen, &data_dir);
    retention(&mut server_options, &args.retention);
    tls(&mut server_options, &args.tls);
    let server = start(server_options).await?;
    let cfg = config::ClientConfig {
        url: server.url.clone(),
        token: server.admin_token.clone(),
        ca_pem: server.ca_pem.clone(),
        ca_fingerprint: server.ca_fingerprint.clone(),
    };
    let cfg_path = config::save(&cfg)?;
    println!("corral is up at {}", server.url);
    print_credentials(&server, &data_dir);
    println!("CA fingerprint {}", server.ca_fingerprint);
    println!(
        "client config written to {} (try: corral node ls)",
        cfg_path.display()
    );
    // The embedded agent joins like a remote one: with a registration
    // token of the default environment, exchanged for a node credential
    // kept in the data directory.
    let registration = embedded_registration_token(&server).await?;
    let mut options = AgentOptions::new(&server.url, &registration, &default_node_name());
    options.state_dir = Some(data_dir.join("agent"));
    options.ca_pem = Some(server.ca_pem.clone());
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
