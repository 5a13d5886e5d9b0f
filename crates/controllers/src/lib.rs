//! Corral's reconcilers. Each one looks at current state (a cache fed by a
//! store watch), computes a plan with a pure function, and commits it with
//! revision checks. Nothing is told why it runs: every change wakes all of
//! them, and a timer wakes them too as a safety net.
//!
//! - [`service_plan`]: keeps `scale` instances of every service, removes the
//!   instances of deleted services, replaces outdated ones.
//! - [`placement`]: places pending instances with the scheduler and records
//!   why the rest cannot be placed; [`global_nodes`] remembers the nodes of
//!   each global service between passes.
//! - [`liveness`]: marks nodes disconnected when their heartbeats stop;
//!   [`evacuation`] reschedules the instances of disconnected and removed
//!   nodes; [`drain`] moves instances off draining nodes start-first.
//! - [`service_status`]: counts running and pending instances per service.
//! - [`launch_memo`]: remembers which instances run their service's current
//!   launch config, so a pass does not compare every one again.

pub mod cache;
pub mod clock;
pub mod dependencies;
pub mod drain;
pub mod evacuation;
pub mod global_nodes;
pub mod launch_memo;
pub mod liveness;
mod pacing;
pub mod placement;
pub mod rollout;
#[cfg(test)]
mod rollout_tests;
mod runner;
pub mod service_plan;
pub mod service_status;
pub mod stack_plan;
mod writes;

pub use cache::Cache;
pub use clock::{Clock, SystemClock, new_uid};
pub use liveness::Liveness;
pub use runner::{ControllerConfig, DEFAULT_NODE_TIMEOUT, MAX_CREATES_PER_PASS, run_controllers};

/// A failed reconcile step; the next pass retries.
#[derive(Debug, thiserror::Error)]
pub enum ControllerError {
    #[error("store: {0}")]
    Store(#[from] corral_store::StoreError),
    #[error("decode {kind} {name}: {source}")]
    Decode {
        kind: corral_types::Kind,
        name: String,
        source: serde_json::Error,
    },
}
