use std::sync::Arc;

use corral_controllers::{Clock, Liveness};
use corral_store::{Store, StoreError};

use crate::audit::AuditLog;
use crate::error::ApiError;
use crate::login_limits::LoginLimiter;

/// What every handler shares.
#[derive(Clone)]
pub struct AppState {
    /// Private: handlers read through [`AppState::store`] and write
    /// through [`crate::admission::Admission`].
    store: Arc<dyn Store>,
    pub liveness: Arc<Liveness>,
    pub clock: Arc<dyn Clock>,
    /// The break-glass admin token (`<data dir>/admin-token`).
    pub admin_token: Arc<str>,
    /// Keys the server presents to agents' own endpoints: one per node,
    /// derived from this secret (`<data dir>/agent-key`), given to the
    /// agent when it registers.
    pub endpoint_secret: Arc<[u8]>,
    /// Used to reach agents (logs).
    pub http: reqwest::Client,
    /// Becomes true when the server stops; open watch streams end then.
    pub shutdown: tokio::sync::watch::Receiver<bool>,
    /// Held by a join while it picks a node's slice of the managed range
    /// and writes it: joins to this server then never race each other for
    /// the environment object (hundreds of agents joining at once would
    /// otherwise retry each other into 409s); the revision check on that
    /// object still guards against other servers. It holds the slices the
    /// nodes hold, so a join need not list every node.
    pub joins: Arc<tokio::sync::Mutex<crate::slices::SliceBook>>,
    pub audit: Arc<dyn AuditLog>,
    /// Failed logins, per user and per client address.
    pub logins: Arc<LoginLimiter>,
    /// How long a session lasts.
    pub session_ttl_s: u64,
    /// When each API key's `last_used` was last written (at most once a
    /// minute per key, so a busy key does not write on every request).
    pub key_uses: Arc<std::sync::Mutex<std::collections::HashMap<String, std::time::Instant>>>,
    /// Credentials checked within the last seconds (see `access::cache`).
    pub auth_cache: Arc<crate::access::cache::AuthCache>,
    /// Seals and opens secrets' values (`<data dir>/secret-key`).
    pub sealer: Arc<corral_seal::Sealer>,
    /// The internal CA, which signs the nodes' client certificates
    /// (`None` in tests that need no node certificate).
    pub authority: Option<Arc<corral_pki::Authority>>,
    /// The fingerprint of the CA of the server's TLS certificate, for the
    /// web UI's Add Host command (`whoami`); empty in tests.
    pub ca_fingerprint: Arc<str>,
    /// Node credentials are taken only with their client certificate
    /// (true when the server serves TLS).
    pub require_node_certificates: bool,
    /// The certificate chain and key (PEM) the server presents to agents'
    /// endpoints (issued by the internal CA at start).
    pub agent_client_identity: Option<Arc<(String, String)>>,
    /// This installation's id (`<data dir>/cluster-id`), sent to agents
    /// with every join and heartbeat: they name their host-level devices,
    /// chains and engine networks after it (see `crate::cluster_id`).
    pub cluster_id: Arc<str>,
    /// The last hour of live stats, in memory (see `crate::stats_book`).
    pub stats: Arc<crate::stats_book::StatsBook>,
    /// The catalogs' templates as last refreshed.
    pub catalogs: Arc<crate::catalogs::book::CatalogBook>,
}

impl AppState {
    /// A state over `store` with a memory audit log, for tests and tools.
    pub fn new(
        store: Arc<dyn Store>,
        liveness: Arc<Liveness>,
        clock: Arc<dyn Clock>,
        admin_token: &str,
    ) -> Self {
        AppState {
            store,
            liveness,
            clock,
            admin_token: admin_token.into(),
            endpoint_secret: crate::access::secrets::new_secret().into_bytes().into(),
            http: reqwest::Client::new(),
            shutdown: tokio::sync::watch::channel(false).1,
            joins: Default::default(),
            audit: Arc::new(crate::audit::MemoryAudit::new(Default::default())),
            logins: Arc::default(),
            session_ttl_s: DEFAULT_SESSION_TTL_S,
            key_uses: Arc::default(),
            auth_cache: Arc::default(),
            sealer: Arc::new(corral_seal::Sealer::in_memory()),
            authority: None,
            ca_fingerprint: "".into(),
            require_node_certificates: false,
            agent_client_identity: None,
            cluster_id: crate::cluster_id::new_id().into(),
            catalogs: Arc::new(crate::catalogs::book::CatalogBook::new(
                None,
                Arc::new(crate::catalogs::fetch::CatalogFetcher),
            )),
            stats: Arc::new(crate::stats_book::StatsBook::new(
                crate::stats_book::DEFAULT_MAX_SERIES,
            )),
        }
    }

    /// Runs a store call off the async workers, reading only: writes go
    /// through [`crate::admission::Admission`] (a write through this store
    /// is answered as an internal error).
    pub async fn store<T, F>(&self, f: F) -> Result<T, ApiError>
    where
        T: Send + 'static,
        F: FnOnce(&dyn Store) -> Result<T, StoreError> + Send + 'static,
    {
        let store = crate::admission::ReadOnlyStore(self.store.clone());
        tokio::task::spawn_blocking(move || f(&store))
            .await
            .map_err(|e| ApiError::Internal(format!("store task failed: {e}")))?
            .map_err(ApiError::from)
    }

    /// The store itself: for admission and watches.
    pub(crate) fn store_handle(&self) -> Arc<dyn Store> {
        self.store.clone()
    }

    /// The key this server presents to the agent of node `node` of `env`
    /// (HMAC-SHA256 of `env/node` under the endpoint secret, hex).
    pub fn endpoint_key(&self, env: &str, node: &str) -> String {
        use hmac::{KeyInit, Mac};
        let Ok(mut mac) = hmac::Hmac::<sha2::Sha256>::new_from_slice(&self.endpoint_secret) else {
            // HMAC takes keys of any length; this branch is never taken.
            return String::new();
        };
        mac.update(env.as_bytes());
        mac.update(b"/");
        mac.update(node.as_bytes());
        crate::access::secrets::hex(&mac.finalize().into_bytes())
    }
}

/// Sessions last 16 hours unless the server is told otherwise.
pub const DEFAULT_SESSION_TTL_S: u64 = 16 * 3600;
