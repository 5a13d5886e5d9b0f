//! Agents join, heartbeat and report the status of their instances in
//! batches. Heartbeats are kept in memory (see
//! `corral_controllers::liveness`); a join writes the node.

use std::time::Instant;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::{Extension, Json};

use corral_api::{JoinRequest, MAX_STATUS_BATCH, NodeAck, StatusBatch, StatusBatchResult};
use corral_store::{Op, Query as StoreQuery};
use corral_types::{
    Ipv4Cidr, Kind, Node, NodeSpec, NodeState, Object, RawObject, validate_label_key, validate_name,
};

use crate::access::{Caller, Principal};
use crate::admission::Admission;
use crate::environments::{free_range, network_of, ranges_in_use};
use crate::error::{ApiError, decode_body};
use crate::instances;
use crate::objects::{get_object, require_environment};
use crate::slices::SliceBook;
use crate::state::AppState;

fn ack(state: &AppState, raw: corral_types::RawObject) -> Result<NodeAck, ApiError> {
    let node = Node::from_raw(raw)
        .map_err(|e| ApiError::Internal(format!("stored node does not decode: {e}")))?;
    Ok(NodeAck {
        node,
        heartbeat_interval_s: state.liveness.interval_s(),
        cluster: state.cluster_id.to_string(),
    })
}

/// `POST /v1/environments/{env}/nodes/{name}/join`.
pub async fn join_route(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path((env, name)): Path<(String, String)>,
    body: Bytes,
) -> Result<Json<NodeAck>, ApiError> {
    require_environment(&state, &env).await?;
    let admission = Admission::new(&state, &caller);
    Ok(Json(join(&admission, &env, &name, &body).await?))
}

/// `POST /v1/environments/{env}/nodes/{name}/heartbeat`.
pub async fn heartbeat_route(
    State(state): State<AppState>,
    Path((env, name)): Path<(String, String)>,
) -> Result<Json<NodeAck>, ApiError> {
    require_environment(&state, &env).await?;
    Ok(Json(heartbeat(&state, &env, &name).await?))
}

/// Creates the node, or updates what its agent reports, and marks it active.
pub async fn join(
    admission: &Admission,
    env: &str,
    name: &str,
    body: &[u8],
) -> Result<NodeAck, ApiError> {
    let state = admission.state();
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
    let mut book = state.joins.lock().await;
    for _ in 0..10 {
        let existing = match get_object(state, Kind::Node, env, name).await {
            Ok(raw) => Some(Node::from_raw(raw).map_err(|e| ApiError::Internal(e.to_string()))?),
            Err(ApiError::NotFound(_)) => None,
            Err(e) => return Err(e),
        };
        let (subnet, env_write) = slice_for(state, &mut book, env, name, existing.as_ref()).await?;
        status.subnet = subnet;
        let node_op = match existing {
            Some(mut node) => {
                node.meta.labels.extend(join.labels.clone());
                node.status = status.clone();
                Op::Update(
                    node.to_raw()
                        .map_err(|e| ApiError::Internal(e.to_string()))?,
                )
            }
            None => {
                let mut node: Node = Object::new(Kind::Node, env, name, NodeSpec::default());
                node.meta.uid = corral_controllers::new_uid();
                node.meta.created = state.clock.now_rfc3339();
                node.meta.generation = 1;
                node.meta.labels = join.labels.clone();
                node.status = status.clone();
                Op::Create(
                    node.to_raw()
                        .map_err(|e| ApiError::Internal(e.to_string()))?,
                )
            }
        };
        let mut ops = vec![node_op];
        ops.extend(env_write.map(Op::Update));
        let result = admission.apply(ops).await;
        match result.map(|written| written.into_iter().next()) {
            Ok(Some(raw)) => {
                state.liveness.beat(env, name, Instant::now());
                tracing::info!(
                    "node {env}/{name} joined from {} (slice {})",
                    status.address,
                    if status.subnet.is_empty() {
                        "none"
                    } else {
                        &status.subnet
                    }
                );
                return ack(state, raw);
            }
            Ok(None) => return Err(ApiError::Internal("a join wrote nothing".into())),
            Err(ApiError::Conflict(_)) => {
                book.forget(env);
                continue;
            }
            Err(e) => return Err(e),
        }
    }
    Err(ApiError::Conflict(format!(
        "node {name:?} keeps changing; join again"
    )))
}

/// The node's slice of the environment's managed range: the one it has
/// (kept across rejoins), else the lowest free /24 from index 1, taken
/// from `book` (see `slices.rs`). A new slice comes with a write of the
/// environment object at the revision read (its range is filled in if it
/// had none), so two servers' joins cannot take the same slice: the second
/// one conflicts and retries.
/// Without an environment object (or a free slice) the node gets none.
async fn slice_for(
    state: &AppState,
    book: &mut SliceBook,
    env: &str,
    name: &str,
    existing: Option<&Node>,
) -> Result<(String, Option<RawObject>), ApiError> {
    let mut env_obj = match get_object(state, Kind::Environment, env, env).await {
        Ok(raw) => raw,
        Err(ApiError::NotFound(_)) => return Ok((String::new(), None)),
        Err(e) => return Err(e),
    };
    let stored_range = network_of(&env_obj.spec).parse::<Ipv4Cidr>().ok();
    let range = match stored_range {
        Some(range) => range,
        None => {
            let range = free_range(&ranges_in_use(state, env).await?)?;
            if let Some(spec) = env_obj.spec.as_object_mut() {
                spec.insert("network".into(), range.to_string().into());
            }
            range
        }
    };
    if let Some(node) = existing
        && let Ok(slice) = node.status.subnet.parse::<Ipv4Cidr>()
        && range.slice_index(&slice).is_some()
    {
        // Kept; the environment is written only if its range was just filled in.
        return Ok((slice.to_string(), stored_range.is_none().then_some(env_obj)));
    }
    let mut free = book.take(env, &range);
    if free.is_none() {
        // Not loaded yet, or out of slices: the store knows which nodes are
        // still there.
        let e = env.to_string();
        let nodes = state
            .store(move |s| s.list(&StoreQuery::kind(Kind::Node).in_environment(&e)))
            .await?;
        book.load(env, range, &nodes.items);
        free = book.take(env, &range);
    }
    match free {
        Some(slice) => Ok((slice.to_string(), Some(env_obj))),
        None => {
            tracing::warn!("environment {env}: no free /24 left in {range} for node {name}");
            Ok((String::new(), None))
        }
    }
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
    Extension(caller): Extension<Caller>,
    Path((env, node)): Path<(String, String)>,
    body: Bytes,
) -> Result<Json<StatusBatchResult>, ApiError> {
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
    // A batch from the node's own agent says it is alive, as a heartbeat
    // does: the agent sends its heartbeats and its reports in turn on one
    // connection, so a heartbeat may wait behind a report.
    if let Principal::Node {
        environment,
        node: from,
        ..
    } = &caller.principal
        && environment == &env
        && from == &node
    {
        state.liveness.beat(&env, &node, Instant::now());
    }
    let admission = Admission::new(&state, &caller);
    let result = instances::report_statuses(&admission, &env, &node, batch.statuses).await?;
    Ok(Json(result))
}
