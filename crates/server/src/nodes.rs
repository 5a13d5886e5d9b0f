//! Agents join, heartbeat and report the status of their instances in
//! batches. Heartbeats are kept in memory (see
//! `corral_controllers::liveness`); a join writes the node.

use std::time::Instant;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::Method;

use corral_api::{JoinRequest, MAX_STATUS_BATCH, NodeAck, StatusBatch, StatusBatchResult};
use corral_types::{Kind, Node, NodeSpec, NodeState, Object, validate_label_key, validate_name};

use crate::error::{ApiError, decode_body};
use crate::instances;
use crate::objects::{get_object, require_environment};
use crate::state::AppState;

fn ack(state: &AppState, raw: corral_types::RawObject) -> Result<NodeAck, ApiError> {
    let node = Node::from_raw(raw)
        .map_err(|e| ApiError::Internal(format!("stored node does not decode: {e}")))?;
    Ok(NodeAck {
        node,
        heartbeat_interval_s: state.liveness.interval_s(),
    })
}

/// Creates the node, or updates what its agent reports, and marks it active.
pub async fn join(
    state: &AppState,
    env: &str,
    name: &str,
    body: &[u8],
) -> Result<NodeAck, ApiError> {
    validate_name("name", name)?;
    let join: JoinRequest = decode_body(body)?;
    for (k, v) in &join.labels {
        validate_label_key(k).map_err(|e| ApiError::invalid("labels", e.message))?;
        // The same bound as labels submitted with an object (submit.rs).
        if v.len() > 1024 {
            return Err(ApiError::invalid(
                format!("labels.{k}"),
                "value is longer than 1024 bytes",
            ));
        }
    }
    let mut status = join.status;
    status.state = NodeState::Active;
    status.last_heartbeat = state.clock.now_rfc3339();
    for _ in 0..10 {
        let result = match get_object(state, Kind::Node, env, name).await {
            Ok(raw) => {
                let mut node =
                    Node::from_raw(raw).map_err(|e| ApiError::Internal(e.to_string()))?;
                node.meta.labels.extend(join.labels.clone());
                node.status = status.clone();
                let raw = node
                    .to_raw()
                    .map_err(|e| ApiError::Internal(e.to_string()))?;
                state.store(move |s| s.update(raw)).await
            }
            Err(ApiError::NotFound(_)) => {
                let mut node: Node = Object::new(Kind::Node, env, name, NodeSpec::default());
                node.meta.uid = corral_controllers::new_uid();
                node.meta.created = state.clock.now_rfc3339();
                node.meta.generation = 1;
                node.meta.labels = join.labels.clone();
                node.status = status.clone();
                let raw = node
                    .to_raw()
                    .map_err(|e| ApiError::Internal(e.to_string()))?;
                state.store(move |s| s.create(raw)).await
            }
            Err(e) => return Err(e),
        };
        match result {
            Ok(raw) => {
                state.liveness.beat(env, name, Instant::now());
                tracing::info!("node {env}/{name} joined from {}", status.address);
                return ack(state, raw);
            }
            Err(ApiError::Conflict(_)) => continue,
            Err(e) => return Err(e),
        }
    }
    Err(ApiError::Conflict(format!(
        "node {name:?} keeps changing; join again"
    )))
}

/// Records that the node is alive. 404 tells the agent to join again.
pub async fn heartbeat(state: &AppState, env: &str, name: &str) -> Result<NodeAck, ApiError> {
    let raw = get_object(state, Kind::Node, env, name).await?;
    state.liveness.beat(env, name, Instant::now());
    ack(state, raw)
}

/// `POST /v1/environments/{env}/nodes/{node}/statuses`: the agent of `node`
/// reports the status of several of its instances; every changed one is
/// written in one store transaction (see [`instances::apply_status_batch`]).
pub async fn statuses(
    State(state): State<AppState>,
    method: Method,
    Path((env, node)): Path<(String, String)>,
    body: Bytes,
) -> Result<Json<StatusBatchResult>, ApiError> {
    if method != Method::POST {
        return Err(ApiError::MethodNotAllowed(format!(
            "{method} is not allowed on nodes/{node}/statuses"
        )));
    }
    require_environment(&state, &env).await?;
    validate_name("name", &node)?;
    let batch: StatusBatch = decode_body(&body)?;
    if batch.statuses.len() > MAX_STATUS_BATCH {
        return Err(ApiError::invalid(
            "statuses",
            format!(
                "{} reports in one request; at most {MAX_STATUS_BATCH} are allowed",
                batch.statuses.len()
            ),
        ));
    }
    for (i, report) in batch.statuses.iter().enumerate() {
        validate_name(&format!("statuses[{i}].instance"), &report.instance)?;
    }
    let result = instances::report_statuses(&state, &env, &node, batch.statuses).await?;
    Ok(Json(result))
}
