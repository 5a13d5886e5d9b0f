//! What an operator does to a node: drain it, activate it again, remove it.
//!
//! - `POST .../nodes/{node}/drain`: unschedulable and draining; the
//!   controllers move its instances off (see `corral_controllers::drain`).
//! - `POST .../nodes/{node}/activate`: schedulable again, not draining.
//! - `DELETE .../nodes/{node}[?force=true]`: refused (409) while the node is
//!   active and runs instances, unless forced; the controllers then
//!   reschedule its instances (see `corral_controllers::evacuation`).
//!

use axum::extract::{Path, Query, State};
use axum::{Extension, Json};
use serde::Deserialize;

use corral_store::Query as StoreQuery;
use corral_types::{ContainerLabels, Instance, Kind, LabelSelector, Node, NodeState, RawObject};

use crate::access::Caller;
use crate::admission::{Admission, Edit};
use crate::error::ApiError;
use crate::objects::{get_object, require_environment};
use crate::state::AppState;

/// `POST /v1/environments/{env}/nodes/{node}/drain`.
pub async fn drain(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path((env, node)): Path<(String, String)>,
) -> Result<Json<RawObject>, ApiError> {
    let admission = Admission::new(&state, &caller);
    set_draining(&admission, &env, &node, "drain", true).await
}

/// `POST /v1/environments/{env}/nodes/{node}/activate`.
pub async fn activate(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path((env, node)): Path<(String, String)>,
) -> Result<Json<RawObject>, ApiError> {
    let admission = Admission::new(&state, &caller);
    set_draining(&admission, &env, &node, "activate", false).await
}

/// Drain sets both `unschedulable` and `draining`; activate clears both.
async fn set_draining(
    admission: &Admission,
    env: &str,
    name: &str,
    action: &str,
    draining: bool,
) -> Result<Json<RawObject>, ApiError> {
    require_environment(admission.state(), env).await?;
    let raw = admission
        .edit(Kind::Node, env, name, |node: &mut Node| {
            if node.spec.draining == draining && node.spec.unschedulable == draining {
                return Ok(Edit::Keep);
            }
            node.spec.draining = draining;
            node.spec.unschedulable = draining;
            Ok(Edit::Write)
        })
        .await?;
    tracing::info!("node {env}/{name}: {action}");
    Ok(Json(raw))
}

#[derive(Debug, Deserialize, Default)]
pub struct RemoveParams {
    #[serde(default)]
    pub force: Option<bool>,
    #[serde(default)]
    pub revision: Option<u64>,
}

/// `DELETE /v1/environments/{env}/nodes/{node}`.
pub async fn remove(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path((env, name)): Path<(String, String)>,
    Query(params): Query<RemoveParams>,
) -> Result<Json<RawObject>, ApiError> {
    require_environment(&state, &env).await?;
    let node = Node::from_raw(get_object(&state, Kind::Node, &env, &name).await?)
        .map_err(|e| ApiError::Internal(format!("stored node does not decode: {e}")))?;
    if node.status.state == NodeState::Active && !params.force.unwrap_or(false) {
        let count = instances_on(&state, &env, &name).await?;
        if count > 0 {
            return Err(ApiError::Conflict(format!(
                "node {name:?} is active and runs {count} instance{}: drain it first, \
                 or force the removal (its instances are then rescheduled)",
                if count == 1 { "" } else { "s" }
            )));
        }
    }
    let (e, n) = (env.clone(), name.clone());
    // The node and its credentials go in one write: its agent can do
    // nothing more once the node is gone.
    let deleted = Admission::new(&state, &caller)
        .store(move |s| {
            let mut ops = vec![corral_store::Op::Delete {
                kind: Kind::Node,
                environment: e.clone(),
                name: n.clone(),
                revision: params.revision,
            }];
            ops.extend(crate::registration::revoke_ops(s, &e, &n)?);
            let mut written = s.apply(ops)?;
            Ok(written.swap_remove(0))
        })
        .await?;
    state.auth_cache.invalidate();
    state.liveness.forget(&env, &name);
    state.joins.lock().await.release(&env, &deleted.status);
    tracing::info!("node {env}/{name} removed");
    Ok(Json(deleted))
}

/// The instances placed on node `name` and not being removed.
async fn instances_on(state: &AppState, env: &str, name: &str) -> Result<usize, ApiError> {
    let selector = LabelSelector::parse(&format!("{}={name}", ContainerLabels::NODE))
        .map_err(|e| ApiError::Internal(format!("node selector: {e}")))?;
    let query = StoreQuery::kind(Kind::Instance)
        .in_environment(env)
        .with_selector(selector);
    let listing = state.store(move |s| s.list(&query)).await?;
    let mut count = 0;
    for raw in listing.items {
        let inst = Instance::from_raw(raw)
            .map_err(|e| ApiError::Internal(format!("stored instance does not decode: {e}")))?;
        if inst.spec.node == name && !inst.spec.removing {
            count += 1;
        }
    }
    Ok(count)
}
