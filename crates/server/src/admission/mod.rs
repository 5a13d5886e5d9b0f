//! The one path every write of the API takes. A handler gets an
//! [`Admission`] for its caller and writes through it; the store it is
//! handed otherwise ([`AppState::store`]) refuses writes. Each write is
//! checked against what the route is for (its rule's resource and
//! environment, and a node's credential against its own node: see
//! `scope.rs`), against the environment's state and the policy for host
//! access (`policy.rs`), then stored, and what was stored is noted for the
//! audit entry the gate records for the request.
//!
//! The gate (`access/guard.rs`) decided the caller may call the route;
//! admission makes sure that what the route's handler then writes is what
//! the route is for.

mod edit;
pub mod policy;
pub mod scope;
mod store;

use corral_store::{Op, Store};
use corral_types::{Kind, RawObject};

pub use edit::{ATTEMPTS, Edit};
pub use policy::{check_service_host_access, environment_open_for_writes};
pub use store::ReadOnlyStore;

use crate::access::Caller;
use crate::error::ApiError;
use crate::state::AppState;
use store::AdmittedStore;

/// Writes on behalf of one caller.
#[derive(Clone)]
pub struct Admission {
    state: AppState,
    caller: Caller,
}

impl Admission {
    pub fn new(state: &AppState, caller: &Caller) -> Admission {
        Admission {
            state: state.clone(),
            caller: caller.clone(),
        }
    }

    pub fn caller(&self) -> &Caller {
        &self.caller
    }

    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Runs `f` off the async workers with a store whose writes are
    /// admitted; a refused write answers its refusal (403, 404 or 409)
    /// and stores nothing.
    pub async fn store<T, F>(&self, f: F) -> Result<T, ApiError>
    where
        T: Send + 'static,
        F: FnOnce(&dyn Store) -> Result<T, ApiError> + Send + 'static,
    {
        let admitted = AdmittedStore::new(self.state.store_handle(), self.caller.clone());
        let (result, refusal) = tokio::task::spawn_blocking(move || {
            let result = f(&admitted);
            (result, admitted.take_refusal())
        })
        .await
        .map_err(|e| ApiError::Internal(format!("store task failed: {e}")))?;
        match refusal {
            Some(refused) => Err(refused),
            None => result,
        }
    }

    pub async fn create(&self, obj: RawObject) -> Result<RawObject, ApiError> {
        self.store(move |s| Ok(s.create(obj)?)).await
    }

    pub async fn update(&self, obj: RawObject) -> Result<RawObject, ApiError> {
        self.store(move |s| Ok(s.update(obj)?)).await
    }

    pub async fn delete(
        &self,
        kind: Kind,
        env: &str,
        name: &str,
        revision: Option<u64>,
    ) -> Result<RawObject, ApiError> {
        let (e, n) = (env.to_string(), name.to_string());
        self.store(move |s| Ok(s.delete(kind, &e, &n, revision)?))
            .await
    }

    pub async fn apply(&self, ops: Vec<Op>) -> Result<Vec<RawObject>, ApiError> {
        self.store(move |s| Ok(s.apply(ops)?)).await
    }
}
