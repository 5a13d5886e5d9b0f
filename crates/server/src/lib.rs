//! The Corral API server: JSON over HTTP (axum), the store, and the controllers.
//!
//! One file per resource or verb: `environments`, `objects` (generic CRUD and
//! watch for nodes, services, instances), `actions` (scale, join, heartbeat,
//! status, logs), `watch`, `openapi`. [`start`] opens the store, bootstraps
//! the `default` environment and the admin token, starts the controllers and
//! serves.

// The OpenAPI document is one `json!` literal, deeper than the default limit.
#![recursion_limit = "256"]

pub mod access;
mod accounts;
mod actions;
mod admission;
mod apikeys;
pub mod audit;
mod audit_routes;
mod bootstrap;
pub mod catalogs;
mod cert_keys;
pub mod cluster_id;
mod configs;
mod data_dir;
mod environments;
mod error;
mod exec;
mod instances;
mod ldap;
mod login;
pub mod login_limits;
mod members;
mod mounted;
mod node_actions;
mod node_certificates;
mod nodes;
mod objects;
mod openapi;
mod paging;
mod registration;
pub mod routes;
mod secrets;
mod services;
mod slices;
mod stack_files;
mod stacks;
mod state;
mod stats;
pub mod stats_book;
mod submit;
pub mod tls;
pub mod ui;
mod unmatched;
mod users;
mod watch;

use std::net::SocketAddr;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use axum::extract::{Query, State};
use axum::response::Response;
use axum::{Extension, Router};
use tokio::sync::watch as signal;

use corral_controllers::{Clock, ControllerConfig, Liveness, SystemClock, run_controllers};
use corral_store::{SqliteStore, Store, StoreError};
use corral_types::{DEFAULT_ENVIRONMENT, Environment, EnvironmentSpec, Kind, Object};

pub use error::ApiError;
pub use openapi::document as openapi_document;
pub use state::AppState;

/// How to run a server.
#[derive(Debug, Clone)]
pub struct ServerOptions {
    /// `IP:PORT` to listen on (port 0 picks a free one).
    pub listen: String,
    pub data_dir: PathBuf,
    pub controllers: ControllerConfig,
    pub heartbeat_interval_s: u64,
    /// The address range of the `default` environment when a first start
    /// creates it (`corral server --default-network`): every node takes a
    /// /24 of it, so a /16 holds 255 nodes with the managed network.
    pub default_network: String,
    /// How much the audit log keeps.
    pub audit: audit::AuditLimits,
    /// How long a login session lasts.
    pub session_ttl_s: u64,
    /// Header-read and request timeouts, connections served at once
    /// (`corral_serve`'s defaults).
    pub limits: corral_serve::Limits,
    /// Where the server's TLS certificate comes from.
    pub tls: tls::TlsMode,
    /// Names and addresses the internal certificate is valid for besides
    /// the host's own (`--tls-san`).
    pub tls_names: Vec<String>,
    /// How long the nodes' client certificates are valid (a year; shorter
    /// in tests of renewal and expiry).
    pub node_certificate_validity: std::time::Duration,
}

impl ServerOptions {
    pub fn new(listen: &str, data_dir: &Path) -> Self {
        ServerOptions {
            listen: listen.to_string(),
            data_dir: data_dir.to_path_buf(),
            controllers: ControllerConfig::default(),
            heartbeat_interval_s: 1,
            default_network: corral_types::DEFAULT_ENV_NETWORK.to_string(),
            audit: audit::AuditLimits::default(),
            session_ttl_s: state::DEFAULT_SESSION_TTL_S,
            limits: corral_serve::Limits::default(),
            tls: tls::TlsMode::default(),
            tls_names: Vec::new(),
            node_certificate_validity: corral_pki::NODE_CERT_VALIDITY,
        }
    }
}

/// A server that is serving; [`RunningServer::stop`] stops it cleanly.
pub struct RunningServer {
    /// `https://IP:PORT` (`http://` only with [`tls::TlsMode::Off`]).
    pub url: String,
    /// The CA clients pin (PEM) and its fingerprint.
    pub ca_pem: String,
    pub ca_fingerprint: String,
    pub admin_token: String,
    /// The password of the `admin` user, when this start created it (it
    /// is also in `<data dir>/admin-password`, mode 0600).
    pub admin_password: Option<String>,
    pub local_addr: SocketAddr,
    /// True when this start created the `default` environment (a first start).
    pub first_start: bool,
    /// This installation's id (`<data dir>/cluster-id`, see [`cluster_id`]).
    pub cluster_id: String,
    shutdown: signal::Sender<bool>,
    http: tokio::task::JoinHandle<()>,
    controllers: std::thread::JoinHandle<()>,
}

impl RunningServer {
    pub async fn stop(mut self) {
        let _ = self.shutdown.send(true);
        // Open watch streams end at the shutdown signal; a client that keeps
        // any other request open gets a few seconds.
        if tokio::time::timeout(std::time::Duration::from_secs(5), &mut self.http)
            .await
            .is_err()
        {
            self.http.abort();
        }
        let _ = tokio::task::spawn_blocking(move || self.controllers.join()).await;
    }
}

/// The routes, for [`start`] and for tests with any store (see `routes/`).
pub fn router(state: AppState) -> Router {
    routes::router(state)
}

#[derive(Debug, serde::Deserialize, Default)]
struct WatchAllParams {
    #[serde(default)]
    revision: Option<u64>,
    #[serde(default)]
    kind: Option<String>,
    #[serde(default)]
    environment: Option<String>,
}

/// `GET /v1/watch`: every event an admin may see; for anyone else, the
/// events of the environments it has a role in when the watch starts.
async fn watch_all(
    State(state): State<AppState>,
    Extension(caller): Extension<access::Caller>,
    Query(p): Query<WatchAllParams>,
) -> Result<Response, ApiError> {
    let mut query = corral_store::Query::default();
    if let Some(k) = p.kind.as_deref() {
        let kind = Kind::from_plural(k)
            .or_else(|| k.parse().ok())
            .ok_or_else(|| ApiError::bad_request(Some("kind"), format!("unknown kind {k:?}")))?;
        query.kind = Some(kind);
    }
    query.environment = p.environment.clone();
    let mut view = watch::View::default();
    if !caller.principal.is_admin() {
        let principal = caller.principal.clone();
        let visible = state
            .store(move |s| {
                let envs = s.list(&corral_store::Query::kind(Kind::Environment))?;
                let mut visible = std::collections::HashSet::new();
                for env in envs.items {
                    let role = access::guard::env_role(s, &principal, &env.meta.name)
                        .map_err(|e| StoreError::Backend(e.to_string()))?;
                    if role.is_some() {
                        visible.insert(env.meta.name);
                    }
                }
                Ok(visible)
            })
            .await?;
        if let Some(env) = &p.environment
            && !visible.contains(env)
        {
            return Err(ApiError::NotFound(format!("environment {env:?} not found")));
        }
        view.environments = Some(Arc::new(visible));
    }
    watch::watch_response_in(&state, query, p.revision, view).await
}

/// Creates the `default` environment if missing; true if it did.
pub fn bootstrap(store: &dyn Store, clock: &dyn Clock, network: &str) -> Result<bool, StoreError> {
    match store.get(Kind::Environment, DEFAULT_ENVIRONMENT, DEFAULT_ENVIRONMENT) {
        Ok(_) => Ok(false),
        Err(StoreError::NotFound { .. }) => {
            let mut env: Environment = Object::new(
                Kind::Environment,
                DEFAULT_ENVIRONMENT,
                DEFAULT_ENVIRONMENT,
                EnvironmentSpec {
                    description: "created on first start".into(),
                    network: network.into(),
                    ..EnvironmentSpec::default()
                },
            );
            env.meta.uid = corral_controllers::new_uid();
            env.meta.created = clock.now_rfc3339();
            env.meta.generation = 1;
            let raw = env
                .to_raw()
                .map_err(|e| StoreError::Backend(format!("encode environment: {e}")))?;
            match store.create(raw) {
                Ok(_) => Ok(true),
                Err(StoreError::AlreadyExists { .. }) => Ok(false),
                Err(e) => Err(e),
            }
        }
        Err(e) => Err(e),
    }
}

/// Reads `<data_dir>/admin-token`, creating it (mode 0600) on first start.
pub fn load_or_create_token(data_dir: &Path) -> anyhow::Result<String> {
    load_or_create_secret(data_dir, "admin-token")
}

/// Reads `<data_dir>/<file>`, creating it with a new random secret (mode
/// 0600) when missing.
pub fn load_or_create_secret(data_dir: &Path, file: &str) -> anyhow::Result<String> {
    let path = data_dir.join(file);
    match std::fs::read_to_string(&path) {
        Ok(token) if !token.trim().is_empty() => return Ok(token.trim().to_string()),
        Ok(_) => anyhow::bail!("{} is empty; delete it to make a new token", path.display()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
    }
    let token = format!(
        "crl_{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    );
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&path)
        .with_context(|| format!("creating {}", path.display()))?;
    std::io::Write::write_all(&mut file, token.as_bytes())
        .and_then(|()| file.sync_all())
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(token)
}

/// Opens the store in `data_dir`, bootstraps, starts the controllers and serves.
pub async fn start(options: ServerOptions) -> anyhow::Result<RunningServer> {
    for warning in data_dir::prepare(&options.data_dir)? {
        tracing::warn!("{warning}");
    }
    let db = options.data_dir.join("corral.db");
    let sqlite = Arc::new(SqliteStore::open(&db)?);
    let store: Arc<dyn Store> = sqlite.clone();
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    corral_types::parse_env_range(&options.default_network)
        .map_err(|e| anyhow::anyhow!("--default-network: {}", e.message))?;
    let first_start = bootstrap(store.as_ref(), clock.as_ref(), &options.default_network)?;
    let admin_token = load_or_create_token(&options.data_dir)?;
    let listener = tokio::net::TcpListener::bind(&options.listen)
        .await
        .with_context(|| format!("listening on {}", options.listen))?;
    let local_addr = listener.local_addr()?;
    let authority = Arc::new(
        corral_pki::Authority::load_or_create(&options.data_dir)?
            .with_node_validity(options.node_certificate_validity),
    );
    let server_tls = tls::prepare(&authority, &options.tls, local_addr, &options.tls_names)?;
    let liveness = Arc::new(Liveness::with_interval(options.heartbeat_interval_s));
    let (shutdown, shutdown_rx) = signal::channel(false);
    let endpoint_secret = load_or_create_secret(&options.data_dir, "agent-key")?;
    let cluster_id = cluster_id::load_or_create(&options.data_dir)?;
    tracing::info!("cluster id {cluster_id}");
    let admin_password = bootstrap::first_admin(store.as_ref(), clock.as_ref(), &options.data_dir)?;
    let audit = audit::SqliteAudit::open(&options.data_dir.join("audit.db"), options.audit)?;
    let mut state = AppState::new(store.clone(), liveness.clone(), clock.clone(), &admin_token);
    state.endpoint_secret = endpoint_secret.into_bytes().into();
    state.cluster_id = cluster_id.as_str().into();
    state.shutdown = shutdown_rx.clone();
    state.audit = audit;
    state.session_ttl_s = options.session_ttl_s;
    let identity = authority
        .issue_server(&[])
        .context("issuing the server's client certificate for agents")?;
    state.agent_client_identity = Some(Arc::new((identity.chain_pem, identity.key_pem)));
    state.authority = Some(authority);
    state.ca_fingerprint = server_tls.ca_fingerprint.as_str().into();
    state.require_node_certificates = server_tls.config.is_some();
    state.sealer = Arc::new(corral_seal::Sealer::load_or_create(
        &options.data_dir.join("secret-key"),
    )?);
    let sealed = cert_keys::migrate(store.as_ref(), &state.sealer)?;
    if sealed > 0 {
        // No earlier version of those certificates may stay in the files.
        store.compact(store.current_revision()?)?;
        sqlite.scrub()?;
        tracing::info!("sealed the private keys of {sealed} certificate(s) stored in clear");
    }
    catalogs::builtin::add_once(store.as_ref(), clock.as_ref(), &options.data_dir)?;
    state.catalogs = Arc::new(catalogs::book::CatalogBook::new(
        Some(options.data_dir.join("catalogs")),
        Arc::new(catalogs::fetch::CatalogFetcher),
    ));
    tokio::spawn(catalogs::book::refresh_forever(
        state.clone(),
        catalogs::book::REFRESH_INTERVAL,
    ));
    let controllers = run_controllers(
        store,
        liveness,
        clock,
        options.controllers,
        shutdown_rx.clone(),
    )?;
    let app = router(state);
    let mut rx = shutdown_rx;
    let limits = options.limits;
    let tls_config = server_tls.config.clone();
    let scheme = if tls_config.is_some() {
        "https"
    } else {
        "http"
    };
    let http = tokio::spawn(async move {
        let stop = async move {
            let _ = rx.wait_for(|stop| *stop).await;
        };
        match tls_config {
            Some(config) => corral_serve::serve_tls(listener, app, limits, config, stop).await,
            None => corral_serve::serve(listener, app, limits, stop).await,
        }
    });
    let host = if local_addr.ip().is_unspecified() {
        "127.0.0.1".to_string()
    } else {
        local_addr.ip().to_string()
    };
    Ok(RunningServer {
        url: format!("{scheme}://{host}:{}", local_addr.port()),
        ca_pem: server_tls.ca_pem,
        ca_fingerprint: server_tls.ca_fingerprint,
        admin_token,
        admin_password,
        local_addr,
        first_start,
        cluster_id,
        shutdown,
        http,
        controllers,
    })
}
