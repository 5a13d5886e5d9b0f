//! The Corral API server: JSON over HTTP (axum), the store, and the controllers.
//!
//! One file per resource or verb: `environments`, `objects` (generic CRUD and
//! watch for nodes, services, instances), `actions` (scale, join, heartbeat,
//! status, logs), `watch`, `openapi`. [`start`] opens the store, bootstraps
//! the `default` environment and the admin token, starts the controllers and
//! serves.

mod actions;
mod auth;
mod environments;
mod error;
mod instances;
mod node_actions;
mod nodes;
mod objects;
mod openapi;
mod services;
mod slices;
mod stacks;
mod state;
mod submit;
mod watch;

use std::net::SocketAddr;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use axum::Router;
use axum::extract::{Query, State};
use axum::response::Response;
use axum::routing::{any, get};
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
}

impl ServerOptions {
    pub fn new(listen: &str, data_dir: &Path) -> Self {
        ServerOptions {
            listen: listen.to_string(),
            data_dir: data_dir.to_path_buf(),
            controllers: ControllerConfig::default(),
            heartbeat_interval_s: 1,
            default_network: corral_types::DEFAULT_ENV_NETWORK.to_string(),
        }
    }
}

/// A server that is serving; [`RunningServer::stop`] stops it cleanly.
pub struct RunningServer {
    pub url: String,
    pub admin_token: String,
    pub local_addr: SocketAddr,
    /// True when this start created the `default` environment (a first start).
    pub first_start: bool,
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

/// The routes, for [`start`] and for tests with any store.
pub fn router(state: AppState) -> Router {
    let api = Router::new()
        .route("/openapi.json", get(openapi::serve))
        .route(
            "/v1/environments",
            get(environments::list).post(environments::create),
        )
        .route(
            "/v1/environments/{env}",
            get(environments::get)
                .put(environments::replace)
                .delete(environments::delete),
        )
        .route(
            "/v1/environments/{env}/{kind}",
            get(objects::list).post(objects::create),
        )
        .route(
            "/v1/environments/{env}/{kind}/{name}",
            get(objects::get)
                .put(objects::replace)
                .delete(objects::delete),
        )
        .route(
            "/v1/environments/{env}/{kind}/{name}/{action}",
            any(actions::dispatch),
        )
        // A node action, routed on its own (the static `nodes` segment wins
        // over `{kind}`): the batch of status reports of one node's agent.
        .route(
            "/v1/environments/{env}/nodes/{node}/statuses",
            any(nodes::statuses),
        )
        .route(
            "/v1/environments/{env}/nodes/{node}",
            get(node_actions::get)
                .put(node_actions::replace)
                .delete(node_actions::remove),
        )
        .route(
            "/v1/environments/{env}/nodes/{node}/drain",
            any(node_actions::drain),
        )
        .route(
            "/v1/environments/{env}/nodes/{node}/activate",
            any(node_actions::activate),
        )
        .route("/v1/watch", get(watch_all))
        .fallback(not_found)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            auth::require_token,
        ));
    api.with_state(state)
}

async fn not_found() -> ApiError {
    ApiError::NotFound("no such endpoint; see /openapi.json".into())
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

async fn watch_all(
    State(state): State<AppState>,
    Query(p): Query<WatchAllParams>,
) -> Result<Response, ApiError> {
    let mut query = corral_store::Query::default();
    if let Some(k) = p.kind.as_deref() {
        let kind = Kind::from_plural(k)
            .or_else(|| k.parse().ok())
            .ok_or_else(|| ApiError::bad_request(Some("kind"), format!("unknown kind {k:?}")))?;
        query.kind = Some(kind);
    }
    query.environment = p.environment;
    watch::watch_response(&state, query, p.revision).await
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
    let path = data_dir.join("admin-token");
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
    std::fs::create_dir_all(&options.data_dir)
        .with_context(|| format!("creating data directory {}", options.data_dir.display()))?;
    let db = options.data_dir.join("corral.db");
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&db)?);
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    corral_types::parse_env_range(&options.default_network)
        .map_err(|e| anyhow::anyhow!("--default-network: {}", e.message))?;
    let first_start = bootstrap(store.as_ref(), clock.as_ref(), &options.default_network)?;
    let admin_token = load_or_create_token(&options.data_dir)?;
    let listener = tokio::net::TcpListener::bind(&options.listen)
        .await
        .with_context(|| format!("listening on {}", options.listen))?;
    let local_addr = listener.local_addr()?;
    let liveness = Arc::new(Liveness::with_interval(options.heartbeat_interval_s));
    let (shutdown, shutdown_rx) = signal::channel(false);
    let state = AppState {
        store: store.clone(),
        liveness: liveness.clone(),
        clock: clock.clone(),
        admin_token: admin_token.clone().into(),
        http: reqwest::Client::new(),
        shutdown: shutdown_rx.clone(),
        joins: Default::default(),
    };
    let controllers = run_controllers(
        store,
        liveness,
        clock,
        options.controllers,
        shutdown_rx.clone(),
    )?;
    let app = router(state);
    let mut rx = shutdown_rx;
    let http = tokio::spawn(async move {
        let stop = async move {
            let _ = rx.wait_for(|stop| *stop).await;
        };
        if let Err(e) = axum::serve(listener, app)
            .with_graceful_shutdown(stop)
            .await
        {
            tracing::error!("http server: {e}");
        }
    });
    let host = if local_addr.ip().is_unspecified() {
        "127.0.0.1".to_string()
    } else {
        local_addr.ip().to_string()
    };
    Ok(RunningServer {
        url: format!("http://{host}:{}", local_addr.port()),
        admin_token,
        local_addr,
        first_start,
        shutdown,
        http,
        controllers,
    })
}
