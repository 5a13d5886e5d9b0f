//! What an operator does to a node: drain it, activate it again, remove it.
//!
//! - `POST .../nodes/{node}/drain`: unschedulable and draining; the
//!   controllers move its instances off (see `corral_controllers::drain`).
//! - `POST .../nodes/{node}/activate`: schedulable again, not draining.
//! - `DELETE .../nodes/{node}[?force=true]`: refused (409) while the node is
//!   active and runs instances, unless forced; the controllers then
//!   reschedule its instances (see `corral_controllers::evacuation`).
//!
//! `GET` and `PUT` of a node are the generic ones, routed here because the
//! node's path has its own route.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::Method;
use serde::Deserialize;

use corral_store::Query as StoreQuery;
use corral_types::{ContainerLabels, Instance, Kind, LabelSelector, Node, NodeState, RawObject};

use crate::error::ApiError;
use crate::objects::{get_object, replace_object, require_environment};
use crate::state::AppState;

/// Attempts of a read-modify-write that keeps losing to the node's agent.
const ATTEMPTS: usize = 10;

/// `POST /v1/environments/{env}/nodes/{node}/drain`.
pub async fn drain(
    State(state): State<AppState>,
    method: Method,
    Path((env, node)): Path<(String, String)>,
) -> Result<Json<RawObject>, ApiError> {
    set_draining(&state, method, &env, &node, "drain", true).await
}

/// `POST /v1/environments/{env}/nodes/{node}/activate`.
pub async fn activate(
    State(state): State<AppState>,
    method: Method,
    Path((env, node)): Path<(String, String)>,
) -> Result<Json<RawObject>, ApiError> {
    set_draining(&state, method, &env, &node, "activate", false).await
}

/// Drain sets both `unschedulable` and `draining`; activate clears both.
async fn set_draining(
    state: &AppState,
    method: Method,
    env: &str,
    name: &str,
    action: &str,
    draining: bool,
) -> Result<Json<RawObject>, ApiError> {
    if method != Method::POST {
        return Err(ApiError::MethodNotAllowed(format!(
            "{method} is not allowed on nodes/{name}/{action}"
        )));
    }
    require_environment(state, env).await?;
    for _ in 0..ATTEMPTS {
        let mut node = decode(get_object(state, Kind::Node, env, name).await?)?;
        if node.spec.draining == draining && node.spec.unschedulable == draining {
            return Ok(Json(encode(&node)?));
        }
        node.spec.draining = draining;
        node.spec.unschedulable = draining;
        node.meta.generation += 1;
        let raw = encode(&node)?;
        match state.store(move |s| s.update(raw)).await {
            Ok(updated) => {
                tracing::info!("node {env}/{name}: {action}");
                return Ok(Json(updated));
            }
            Err(ApiError::Conflict(_)) => continue,
            Err(e) => return Err(e),
        }
    }
    Err(ApiError::Conflict(format!(
        "node {name:?} keeps changing; try again"
    )))
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
    Path((env, name)): Path<(String, String)>,
    Query(params): Query<RemoveParams>,
) -> Result<Json<RawObject>, ApiError> {
    require_environment(&state, &env).await?;
    let node = decode(get_object(&state, Kind::Node, &env, &name).await?)?;
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
    let deleted = state
        .store(move |s| s.delete(Kind::Node, &e, &n, params.revision))
        .await?;
    state.liveness.forget(&env, &name);
    state.joins.lock().await.release(&env, &deleted.status);
    tracing::info!("node {env}/{name} removed");
    Ok(Json(deleted))
}

/// `GET /v1/environments/{env}/nodes/{node}`.
pub async fn get(
    State(state): State<AppState>,
    Path((env, name)): Path<(String, String)>,
) -> Result<Json<RawObject>, ApiError> {
    require_environment(&state, &env).await?;
    Ok(Json(get_object(&state, Kind::Node, &env, &name).await?))
}

/// `PUT /v1/environments/{env}/nodes/{node}`.
pub async fn replace(
    State(state): State<AppState>,
    Path((env, name)): Path<(String, String)>,
    body: Bytes,
) -> Result<Json<RawObject>, ApiError> {
    require_environment(&state, &env).await?;
    replace_object(&state, Kind::Node, &env, &name, &body).await
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

fn decode(raw: RawObject) -> Result<Node, ApiError> {
    Node::from_raw(raw).map_err(|e| ApiError::Internal(format!("stored node does not decode: {e}")))
}

fn encode(node: &Node) -> Result<RawObject, ApiError> {
    node.to_raw()
        .map_err(|e| ApiError::Internal(format!("encode node: {e}")))
}
