//! Agents join and heartbeat. Heartbeats are kept in memory (see
//! `corral_controllers::liveness`); a join writes the node.

use std::time::Instant;

use corral_api::{JoinRequest, NodeAck};
use corral_types::{Kind, Node, NodeSpec, NodeState, Object, validate_label_key, validate_name};

use crate::error::{ApiError, decode_body};
use crate::objects::get_object;
use crate::state::AppState;

fn ack(state: &AppState, raw: corral_types::RawObject) -> Result<NodeAck, ApiError> {
    let node = Node::from_raw(raw)
        .map_err(|e| ApiError::Internal(format!("stored node does not decode: {e}")))?;
    Ok(NodeAck {
        node,
        heartbeat_interval_s: state.heartbeat_interval_s,
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
