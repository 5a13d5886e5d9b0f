//! The node agent: joins the server like any remote agent, heartbeats,
//! follows the instances placed on its node, and makes the local container
//! engine match them.
//!
//! - `join`: join and heartbeat.
//! - `desired`: a list-then-watch of this node's instances.
//! - `plan`: a pure function from instances, containers and restart backoff to steps.
//! - `execute`: carries the steps out against the engine and reports status;
//!   `launch`: creating the containers of an instance (volumes, primary, sidekicks).
//! - `reporter`: status reports queued, coalesced and sent in batches.
//! - `health`: health-check state machine and one probe task per instance;
//!   `probe`: the HTTP, TCP and command probes.
//! - `endpoint`: the agent's own HTTP endpoint (container logs for the server).
//! - `overlay`: the environment's managed network on this node; its state
//!   (the gateway address) is `Shared::overlay`.
//! - `netservices`: the internal DNS (gateway:53) and the metadata service
//!   (169.254.169.250:80), answering from `Shared::view` (crates/netview).
//! - `balancers`: load-balancer instances, run in this process (crates/lb).

mod backoff;
mod balancers;
mod container_config;
mod desired;
mod endpoint;
mod exec;
mod execute;
mod health;
mod join;
mod launch;
mod mounted_files;
mod netservices;
mod overlay;
mod plan;
mod probe;
mod register;
mod reporter;
pub mod stats;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use tokio::sync::watch;

use corral_api::Client;
use corral_engine::ContainerEngine;

pub use container_config::{
    container_config, container_name, sidekick_config, sidekick_container_name, volume_name,
};
pub use overlay::OverlayState;
pub use plan::{NodeFacts, SidekickLaunch, Step, plan_node};

/// How an agent runs.
#[derive(Debug, Clone)]
pub struct AgentOptions {
    pub server_url: String,
    /// The CA the server's certificate must chain to (PEM), when known
    /// (`corral up` runs both); else read from the server on first contact
    /// and checked against [`AgentOptions::ca_fingerprint`].
    pub ca_pem: Option<String>,
    /// The CA's fingerprint (`corral host add-command` prints it).
    pub ca_fingerprint: Option<String>,
    /// What the agent registers with when it has no credential yet (a
    /// registration token; an admin's credential in tests and benchmarks).
    pub token: String,
    /// Where the node's credential is kept between starts (mode 0600);
    /// `None`: registered again at every start.
    pub state_dir: Option<std::path::PathBuf>,
    pub name: String,
    pub environment: String,
    pub labels: BTreeMap<String, String>,
    /// Where the agent's own endpoint listens (`IP:PORT`).
    pub listen: String,
    /// The address to report; detected when `None`.
    pub address: Option<String>,
    /// Full resync of the engine at least this often.
    pub resync: Duration,
    /// Program the environment's managed network on this host and serve
    /// the internal DNS and the metadata service on it (needs root).
    pub managed_network: bool,
    /// Follow the whole environment (every node, service and instance) for
    /// the load balancers, the DNS and the metadata service. Off only for
    /// simulated nodes in benchmarks.
    pub env_view: bool,
    /// How often the node's client certificate is checked for renewal
    /// while the agent runs (an hour).
    pub renewal_check: Duration,
    /// How often the host and the containers are sampled for live stats
    /// (5 s); `None`: not at all (simulated nodes).
    pub stats_interval: Option<Duration>,
}

impl AgentOptions {
    pub fn new(server_url: &str, token: &str, name: &str) -> Self {
        AgentOptions {
            server_url: server_url.to_string(),
            ca_pem: None,
            ca_fingerprint: None,
            token: token.to_string(),
            state_dir: None,
            name: name.to_string(),
            environment: corral_types::DEFAULT_ENVIRONMENT.to_string(),
            labels: BTreeMap::new(),
            listen: "127.0.0.1:0".to_string(),
            address: None,
            resync: Duration::from_secs(5),
            managed_network: true,
            env_view: true,
            renewal_check: Duration::from_secs(3600),
            stats_interval: Some(Duration::from_secs(5)),
        }
    }
}

/// State shared by the agent's tasks.
pub(crate) struct Shared {
    pub options: AgentOptions,
    pub client: Client,
    pub engine: Arc<dyn ContainerEngine>,
    pub desired: desired::Desired,
    /// Status reports on their way to the server.
    pub reporter: reporter::Reporter,
    pub wake: tokio::sync::Notify,
    /// This node's managed network once programmed (its gateway address is
    /// the containers' DNS server); `None` before, or when it cannot be.
    pub overlay: watch::Receiver<Option<OverlayState>>,
    /// The whole environment, for the load balancers, DNS and metadata.
    pub view: watch::Receiver<Arc<corral_netview::EnvSnapshot>>,
    /// The load balancers running on this node.
    pub balancers: balancers::Balancers,
    /// What the server presents to this agent's own endpoint.
    pub endpoint_key: String,
    /// The server's cluster id, from its answer to the join (empty from a
    /// server that predates it); the overlay and the secrets directory are
    /// named after it.
    pub cluster: std::sync::OnceLock<String>,
    /// Why the managed network is not programmed (empty when it is):
    /// reported in the node's `status.network_error` with each join.
    pub network_error: std::sync::Mutex<String>,
    /// What the agent joined with, for joining again.
    pub joined: std::sync::OnceLock<corral_api::JoinRequest>,
    /// The heartbeat interval the server asked for, in seconds.
    pub heartbeat_interval_s: std::sync::atomic::AtomicU64,
    /// Held by a status report or a heartbeat while it is in flight, so
    /// that the two take turns on one pooled connection instead of each
    /// holding one (over HTTP/1.1 a request in flight needs a connection
    /// of its own; at 5,000 nodes the overlap opened one more TLS
    /// connection per node in every deploy). The server counts a report of
    /// the node as a heartbeat; a heartbeat waits at most an interval.
    pub request_slot: tokio::sync::Mutex<()>,
}

impl Shared {
    /// The heartbeat interval the server asked for (1 s until it answered).
    pub fn heartbeat_interval(&self) -> Duration {
        Duration::from_secs(
            self.heartbeat_interval_s
                .load(std::sync::atomic::Ordering::Relaxed),
        )
    }

    /// The cluster id, once joined.
    pub fn cluster(&self) -> &str {
        self.cluster.get().map_or("", String::as_str)
    }
}

/// Runs the agent until `shutdown` becomes true. Containers keep running after it stops.
pub async fn run_agent(
    options: AgentOptions,
    engine: Arc<dyn ContainerEngine>,
    mut shutdown: watch::Receiver<bool>,
) -> anyhow::Result<()> {
    corral_types::validate_name("--name", &options.name)?;
    let Some(mut identity) = register::identity(&options, &mut shutdown).await? else {
        return Ok(());
    };
    // A session runs until shutdown, or until a renewed certificate is in
    // hand; then it stops (containers keep running) and the next one
    // presents the new certificate.
    loop {
        let (session_stop, session) = watch::channel(false);
        let renewal = tokio::spawn(renew_when_due(
            options.clone(),
            identity.clone(),
            shutdown.clone(),
            session_stop,
        ));
        let ran = run_session(options.clone(), &identity, engine.clone(), session).await;
        if ran.is_err() {
            renewal.abort();
        }
        ran?;
        match renewal.await {
            Ok(Some(renewed)) if !*shutdown.borrow() => identity = renewed,
            _ => return Ok(()),
        }
    }
}

/// Checks the node's certificate every [`AgentOptions::renewal_check`];
/// when it is due, renews it (a failure is logged and tried again at the
/// next check) and stops the session. Returns the renewed identity, or
/// `None` at shutdown.
async fn renew_when_due(
    options: AgentOptions,
    mut identity: register::Identity,
    mut shutdown: watch::Receiver<bool>,
    session_stop: watch::Sender<bool>,
) -> Option<register::Identity> {
    let renewed = if identity.certificate_pem.is_empty() {
        let _ = shutdown.wait_for(|stop| *stop).await;
        None
    } else {
        // (`interval` takes no zero period.)
        let period = options.renewal_check.max(Duration::from_millis(100));
        let mut check = tokio::time::interval(period);
        check.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = shutdown.wait_for(|stop| *stop) => break None,
                _ = check.tick() => {}
            }
            if !register::renewal_due(&identity.certificate_pem) {
                continue;
            }
            match register::renew(&options, &mut identity).await {
                Ok(()) => break Some(identity),
                Err(e) => tracing::warn!("{e:#}; trying again in {period:?}"),
            }
        }
    };
    let _ = session_stop.send(true);
    renewed
}

/// The agent acting as its node, with one certificate, until `shutdown`.
async fn run_session(
    mut options: AgentOptions,
    identity: &register::Identity,
    engine: Arc<dyn ContainerEngine>,
    mut shutdown: watch::Receiver<bool>,
) -> anyhow::Result<()> {
    // From here on the agent acts as its node, in the environment its
    // credential is bound to.
    options.environment = identity.environment.clone();
    let client = Client::with_trust(&options.server_url, &identity.credential, identity.trust())?;
    let info = engine
        .info()
        .await
        .context("asking the container engine about this host")?;
    let listener = tokio::net::TcpListener::bind(&options.listen)
        .await
        .with_context(|| format!("agent endpoint: listening on {}", options.listen))?;
    let local = listener.local_addr()?;
    let address = match &options.address {
        Some(a) => a.clone(),
        None => detect_address(local, &options.server_url),
    };
    // With a node certificate the endpoint serves HTTPS with it, and takes
    // only clients with a certificate of the CA (the server, which also
    // presents the endpoint key and pins this node's certificate).
    let endpoint_tls = if identity.certificate_pem.is_empty() {
        None
    } else {
        Some(corral_pki::tls::server_config_with(
            &identity.certificate_pem,
            &identity.key_pem,
            &identity.ca_pem,
            corral_pki::tls::ClientAuth::Required,
        )?)
    };
    let scheme = if endpoint_tls.is_some() {
        "https"
    } else {
        "http"
    };
    let agent_url = format!("{scheme}://{address}:{}", local.port());
    let (overlay_tx, overlay_rx) = watch::channel(None);
    let view = if options.env_view {
        corral_netview::follow_environment(
            client.clone(),
            &options.environment,
            corral_netview::FollowOptions::default(),
            shutdown.clone(),
        )
    } else {
        let empty = corral_netview::EnvSnapshot {
            environment: options.environment.clone(),
            ..Default::default()
        };
        watch::channel(Arc::new(empty)).1
    };
    let managed_network = options.managed_network;
    let shared = Arc::new(Shared {
        options,
        client,
        engine,
        desired: desired::Desired::default(),
        reporter: reporter::Reporter::default(),
        wake: tokio::sync::Notify::new(),
        overlay: overlay_rx,
        view,
        balancers: balancers::Balancers::default(),
        endpoint_key: identity.endpoint_key.clone(),
        cluster: std::sync::OnceLock::new(),
        network_error: std::sync::Mutex::new(String::new()),
        joined: std::sync::OnceLock::new(),
        heartbeat_interval_s: std::sync::atomic::AtomicU64::new(1),
        request_slot: tokio::sync::Mutex::new(()),
    });
    let endpoint = tokio::spawn(endpoint::serve(
        listener,
        shared.clone(),
        endpoint_tls,
        shutdown.clone(),
    ));
    join::join_until_accepted(&shared, &info, &address, &agent_url, &mut shutdown).await;
    // The managed network first, so the first containers join it (bounded:
    // a server that does not answer does not hold the agent back).
    let mut tasks = Vec::new();
    if managed_network {
        let (first_tx, first_rx) = tokio::sync::oneshot::channel();
        tasks.push(tokio::spawn(overlay::run(
            shared.clone(),
            overlay_tx,
            first_tx,
            shutdown.clone(),
        )));
        let _ = tokio::time::timeout(Duration::from_secs(20), first_rx).await;
        tasks.push(tokio::spawn(netservices::run(
            shared.clone(),
            shutdown.clone(),
        )));
    } else {
        drop(overlay_tx);
    }
    tasks.extend([
        tokio::spawn(join::heartbeat_loop(
            shared.clone(),
            info,
            address,
            agent_url,
            shutdown.clone(),
        )),
        tokio::spawn(desired::follow(shared.clone(), shutdown.clone())),
        tokio::spawn(execute::follow_engine_events(
            shared.clone(),
            shutdown.clone(),
        )),
        tokio::spawn(execute::reconcile_loop(shared.clone(), shutdown.clone())),
        tokio::spawn(reporter::run(shared.clone(), shutdown.clone())),
    ]);
    if let Some(interval) = shared.options.stats_interval {
        tasks.push(tokio::spawn(stats::run(
            shared.clone(),
            interval,
            shutdown.clone(),
        )));
    }
    let _ = shutdown.wait_for(|stop| *stop).await;
    for t in tasks {
        let _ = t.await;
    }
    let _ = endpoint.await;
    Ok(())
}

/// The address other hosts reach this agent at: the listen address if it is
/// specific, else the local address of a route towards the server.
fn detect_address(listen: SocketAddr, server_url: &str) -> String {
    if !listen.ip().is_unspecified() {
        return listen.ip().to_string();
    }
    let host_port = server_url
        .split("://")
        .nth(1)
        .unwrap_or(server_url)
        .split('/')
        .next()
        .unwrap_or_default()
        .to_string();
    let probe = std::net::UdpSocket::bind("0.0.0.0:0").and_then(|s| {
        s.connect(host_port.as_str())?;
        s.local_addr()
    });
    match probe {
        Ok(addr) if !addr.ip().is_unspecified() => addr.ip().to_string(),
        _ => "127.0.0.1".to_string(),
    }
}
