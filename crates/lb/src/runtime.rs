//! Starting, updating and stopping one load balancer: its listeners, the
//! task that rebuilds the routing table when the environment changes, and
//! the connections it serves.

use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use arc_swap::{ArcSwap, ArcSwapOption};
use corral_netview::EnvSnapshot;
use corral_types::{LbConfig, LbProtocol, ValidationError};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Mutex, Semaphore, watch};
use tokio::task::JoinHandle;
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::limits::LbLimits;
use crate::table::{self, Registry, Table};
use crate::tls::{self, TlsConfigs, TlsError, TlsMaterial};
use crate::{http, tcp};

/// How long `stop` lets connections finish before closing them.
pub const DRAIN_TIMEOUT: Duration = Duration::from_secs(10);
/// Time a client has to complete its TLS handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Why a load balancer could not start or take a new config.
#[derive(Debug, thiserror::Error)]
pub enum LbError {
    #[error("load balancer {name}: invalid config: lb_config.{source}")]
    InvalidConfig {
        name: String,
        source: ValidationError,
    },
    #[error("load balancer {name}: listen on {addr}: {source}")]
    Bind {
        name: String,
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("load balancer {name}: {source}")]
    Tls { name: String, source: TlsError },
}

/// What every connection reads: the routing table, the TLS configs and
/// the limits.
#[derive(Default)]
pub(crate) struct Shared {
    pub table: ArcSwap<Table>,
    tls: ArcSwapOption<TlsConfigs>,
    pub limits: LbLimits,
}

/// Starts load balancers.
pub struct LbRuntime;

impl LbRuntime {
    /// Binds every source port of `config` on `listen_ip` and serves them,
    /// routing to the serving instances seen in `view` (rebuilt whenever its
    /// snapshot's revision changes). `stack` is the load balancer's own
    /// stack, for targets written without one; `certs` holds the
    /// certificates the config names. An error names the port or field.
    /// The limits are the defaults ([`LbLimits::default`]).
    pub async fn start(
        name: &str,
        config: LbConfig,
        stack: &str,
        certs: BTreeMap<String, TlsMaterial>,
        view: watch::Receiver<Arc<EnvSnapshot>>,
        listen_ip: IpAddr,
    ) -> Result<LbHandle, LbError> {
        Self::start_with_limits(
            name,
            config,
            stack,
            certs,
            view,
            listen_ip,
            LbLimits::default(),
        )
        .await
    }

    /// [`LbRuntime::start`] with other limits (connections per listener,
    /// idle timeouts).
    pub async fn start_with_limits(
        name: &str,
        config: LbConfig,
        stack: &str,
        certs: BTreeMap<String, TlsMaterial>,
        view: watch::Receiver<Arc<EnvSnapshot>>,
        listen_ip: IpAddr,
        limits: LbLimits,
    ) -> Result<LbHandle, LbError> {
        let inner = Arc::new(Inner {
            name: name.to_string(),
            stack: stack.to_string(),
            listen_ip,
            shared: Arc::new(Shared {
                limits,
                ..Shared::default()
            }),
            state: Mutex::new(State {
                config: LbConfig::default(),
                registry: Registry::default(),
                listeners: BTreeMap::new(),
                snapshot: view.borrow().clone(),
            }),
            tracker: TaskTracker::new(),
            shutdown: CancellationToken::new(),
            abort: CancellationToken::new(),
        });
        inner.apply(config, &certs).await?;
        let watcher = tokio::spawn(watch_snapshots(inner.clone(), view));
        Ok(LbHandle { inner, watcher })
    }
}

/// A running load balancer.
pub struct LbHandle {
    inner: Arc<Inner>,
    watcher: JoinHandle<()>,
}

impl LbHandle {
    /// Takes a new config and certificates: binds new source ports, closes
    /// ports no longer used, reroutes at once. On error nothing changes.
    pub async fn update(
        &self,
        config: LbConfig,
        certs: BTreeMap<String, TlsMaterial>,
    ) -> Result<(), LbError> {
        self.inner.apply(config, &certs).await
    }

    /// The addresses listened on, by source port.
    pub async fn local_addrs(&self) -> BTreeMap<u16, SocketAddr> {
        let state = self.inner.state.lock().await;
        state.listeners.iter().map(|(p, l)| (*p, l.addr)).collect()
    }

    /// Stops accepting, lets requests in flight finish (at most
    /// [`DRAIN_TIMEOUT`]), then closes every connection.
    pub async fn stop(self) {
        self.watcher.abort();
        let inner = self.inner;
        {
            let mut state = inner.state.lock().await;
            for (_, l) in std::mem::take(&mut state.listeners) {
                l.task.abort();
            }
        }
        inner.shutdown.cancel();
        inner.tracker.close();
        if tokio::time::timeout(DRAIN_TIMEOUT, inner.tracker.wait())
            .await
            .is_err()
        {
            tracing::warn!(lb = %inner.name, "connections still open after the drain timeout: closing them");
        }
        inner.abort.cancel();
        inner.tracker.wait().await;
        inner.state.lock().await.registry.retire_all();
    }
}

struct Inner {
    name: String,
    stack: String,
    listen_ip: IpAddr,
    shared: Arc<Shared>,
    state: Mutex<State>,
    tracker: TaskTracker,
    /// Stop accepting; HTTP connections close after their request in flight.
    shutdown: CancellationToken,
    /// Close every connection now.
    abort: CancellationToken,
}

struct State {
    config: LbConfig,
    registry: Registry,
    listeners: BTreeMap<u16, Listener>,
    snapshot: Arc<EnvSnapshot>,
}

struct Listener {
    addr: SocketAddr,
    task: JoinHandle<()>,
}

impl Inner {
    async fn apply(
        self: &Arc<Self>,
        config: LbConfig,
        certs: &BTreeMap<String, TlsMaterial>,
    ) -> Result<(), LbError> {
        config.validate().map_err(|source| LbError::InvalidConfig {
            name: self.name.clone(),
            source,
        })?;
        let tls = tls::load(&config, certs).map_err(|source| LbError::Tls {
            name: self.name.clone(),
            source,
        })?;
        let mut guard = self.state.lock().await;
        let state = &mut *guard;
        let wanted: BTreeSet<u16> = config.port_rules.iter().map(|r| r.source_port).collect();
        let mut bound = Vec::new();
        for port in wanted.iter().filter(|p| !state.listeners.contains_key(p)) {
            let addr = SocketAddr::new(self.listen_ip, *port);
            match TcpListener::bind(addr).await {
                Ok(l) => bound.push((*port, l)),
                Err(source) => {
                    return Err(LbError::Bind {
                        name: self.name.clone(),
                        addr,
                        source,
                    });
                }
            }
        }
        self.shared.tls.store(tls.map(Arc::new));
        let table = table::build(&config, &self.stack, &state.snapshot, &mut state.registry);
        self.shared.table.store(Arc::new(table));
        state.config = config;
        for (port, listener) in bound {
            let addr = listener
                .local_addr()
                .unwrap_or(SocketAddr::new(self.listen_ip, port));
            let task = tokio::spawn(accept_loop(self.clone(), port, listener));
            state.listeners.insert(port, Listener { addr, task });
        }
        let gone: Vec<u16> = state
            .listeners
            .keys()
            .filter(|p| !wanted.contains(p))
            .copied()
            .collect();
        for port in gone {
            if let Some(l) = state.listeners.remove(&port) {
                l.task.abort();
            }
        }
        Ok(())
    }

    async fn rebuild(&self, snapshot: Arc<EnvSnapshot>) {
        let mut state = self.state.lock().await;
        let state = &mut *state;
        state.snapshot = snapshot;
        let table = table::build(
            &state.config,
            &self.stack,
            &state.snapshot,
            &mut state.registry,
        );
        self.shared.table.store(Arc::new(table));
    }
}

/// Rebuilds the table whenever the snapshot's revision changes.
async fn watch_snapshots(inner: Arc<Inner>, mut view: watch::Receiver<Arc<EnvSnapshot>>) {
    let mut seen = view.borrow_and_update().revision;
    while view.changed().await.is_ok() {
        let snapshot = view.borrow_and_update().clone();
        if snapshot.revision == seen {
            continue;
        }
        seen = snapshot.revision;
        inner.rebuild(snapshot).await;
    }
}

/// Accepts connections on one source port; beyond
/// `max_connections_per_listener` served at once, a new connection is
/// closed as soon as it is accepted.
async fn accept_loop(inner: Arc<Inner>, port: u16, listener: TcpListener) {
    let slots = Arc::new(Semaphore::new(
        inner
            .shared
            .limits
            .max_connections_per_listener
            .min(Semaphore::MAX_PERMITS),
    ));
    loop {
        let (stream, peer) = tokio::select! {
            r = listener.accept() => match r {
                Ok(x) => x,
                Err(e) => {
                    // Out of file descriptors and the like: back off a little.
                    tracing::warn!(lb = %inner.name, port, error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = inner.shutdown.cancelled() => return,
        };
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            tracing::debug!(lb = %inner.name, port, %peer, "connection limit reached: closing a new connection");
            drop(stream);
            continue;
        };
        let _ = stream.set_nodelay(true);
        let conn = serve_connection(inner.clone(), port, stream, peer);
        inner.tracker.spawn(async move {
            conn.await;
            drop(slot);
        });
    }
}

async fn serve_connection(inner: Arc<Inner>, port: u16, stream: TcpStream, peer: SocketAddr) {
    let protocol = match inner.shared.table.load().port(port) {
        Some(r) => r.protocol,
        None => return,
    };
    let shared = inner.shared.clone();
    let abort = inner.abort.clone();
    let graceful = inner.shutdown.clone();
    let work = async move {
        match protocol {
            LbProtocol::Http => http::serve(shared, port, stream, peer, false, graceful).await,
            LbProtocol::Tcp => tcp::serve(shared, port, stream).await,
            LbProtocol::Https | LbProtocol::Tls => {
                let Some(configs) = shared.tls.load_full() else {
                    return;
                };
                let https = protocol == LbProtocol::Https;
                let config = if https {
                    configs.https.clone()
                } else {
                    configs.tls.clone()
                };
                let accept = TlsAcceptor::from(config).accept(stream);
                let tls = match tokio::time::timeout(HANDSHAKE_TIMEOUT, accept).await {
                    Ok(Ok(s)) => s,
                    Ok(Err(e)) => {
                        tracing::debug!(%peer, error = %e, "tls handshake failed");
                        return;
                    }
                    Err(_) => return,
                };
                if https {
                    http::serve(shared, port, tls, peer, true, graceful).await;
                } else {
                    tcp::serve(shared, port, tls).await;
                }
            }
        }
    };
    tokio::select! {
        biased;
        () = work => {}
        () = abort.cancelled() => {}
    }
}
