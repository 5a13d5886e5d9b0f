//! Instance verbs: agents report status; users read logs through the server,
//! which asks the agent of the instance's node.

use axum::body::Body;
use axum::response::{IntoResponse, Response};
use futures::TryStreamExt;

use corral_api::LogsQuery;
use corral_types::{Instance, InstanceStatus, Kind, Node};

use crate::error::{ApiError, decode_body};
use crate::objects::get_object;
use crate::state::AppState;

/// Replaces an instance's status (the agent is its only writer), retrying on races
/// with spec writers.
pub async fn report_status(
    state: &AppState,
    env: &str,
    name: &str,
    body: &[u8],
) -> Result<Instance, ApiError> {
    let status: InstanceStatus = decode_body(body)?;
    for _ in 0..10 {
        let raw = get_object(state, Kind::Instance, env, name).await?;
        let mut inst = Instance::from_raw(raw).map_err(|e| ApiError::Internal(e.to_string()))?;
        if inst.status == status {
            return Ok(inst);
        }
        inst.status = status.clone();
        let raw = inst
            .to_raw()
            .map_err(|e| ApiError::Internal(e.to_string()))?;
        match state.store(move |s| s.update(raw)).await {
            Ok(raw) => {
                return Instance::from_raw(raw).map_err(|e| ApiError::Internal(e.to_string()));
            }
            Err(ApiError::Conflict(_)) => continue,
            Err(e) => return Err(e),
        }
    }
    Err(ApiError::Conflict(format!(
        "instance {name:?} keeps changing; report again"
    )))
}

/// Streams the logs of an instance's container from its node's agent.
pub async fn logs(
    state: &AppState,
    env: &str,
    name: &str,
    query: LogsQuery,
) -> Result<Response, ApiError> {
    let raw = get_object(state, Kind::Instance, env, name).await?;
    let inst = Instance::from_raw(raw).map_err(|e| ApiError::Internal(e.to_string()))?;
    if inst.spec.node.is_empty() || inst.status.container_id.is_empty() {
        return Err(ApiError::Conflict(format!(
            "instance {name:?} has no container yet (state {})",
            inst.status.state
        )));
    }
    let raw = get_object(state, Kind::Node, env, &inst.spec.node).await?;
    let node = Node::from_raw(raw).map_err(|e| ApiError::Internal(e.to_string()))?;
    if node.status.agent_url.is_empty() {
        return Err(ApiError::BadGateway(format!(
            "node {:?} did not report an agent address",
            node.meta.name
        )));
    }
    let url = format!(
        "{}/v1/containers/{}/logs",
        node.status.agent_url.trim_end_matches('/'),
        inst.status.container_id
    );
    let mut req = state
        .http
        .get(&url)
        .bearer_auth(&*state.admin_token)
        .query(&[("follow", query.follow.to_string())]);
    if let Some(tail) = query.tail {
        req = req.query(&[("tail", tail.to_string())]);
    }
    let resp = req.send().await.map_err(|e| {
        ApiError::BadGateway(format!("agent of node {:?} at {url}: {e}", node.meta.name))
    })?;
    if !resp.status().is_success() {
        let code = resp.status();
        let text = resp.text().await.unwrap_or_default();
        return Err(ApiError::BadGateway(format!(
            "agent of node {:?} answered {code}: {}",
            node.meta.name,
            text.trim()
        )));
    }
    let stream = resp.bytes_stream().map_err(std::io::Error::other);
    Ok((
        [("content-type", "application/octet-stream")],
        Body::from_stream(stream),
    )
        .into_response())
}
