use std::sync::Arc;

use corral_controllers::{Clock, Liveness};
use corral_store::{Store, StoreError};

use crate::error::ApiError;

/// What every handler shares.
#[derive(Clone)]
pub struct AppState {
    pub store: Arc<dyn Store>,
    pub liveness: Arc<Liveness>,
    pub clock: Arc<dyn Clock>,
    pub admin_token: Arc<str>,
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
}

impl AppState {
    /// Runs a store call off the async workers (SQLite writes wait for fsync).
    pub async fn store<T, F>(&self, f: F) -> Result<T, ApiError>
    where
        T: Send + 'static,
        F: FnOnce(&dyn Store) -> Result<T, StoreError> + Send + 'static,
    {
        let store = self.store.clone();
        tokio::task::spawn_blocking(move || f(store.as_ref()))
            .await
            .map_err(|e| ApiError::Internal(format!("store task failed: {e}")))?
            .map_err(ApiError::from)
    }
}
