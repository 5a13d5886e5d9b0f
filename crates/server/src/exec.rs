//! `GET .../instances/{name}/exec`: a command in an instance's container,
//! over a WebSocket (the protocol of `corral_api::exec`). The server opens
//! the same socket to the agent of the instance's node first, so that
//! every refusal (no container, not running, agent unreachable) is an HTTP
//! error before the client's upgrade, then relays messages both ways. The
//! audit log records the command line, never the session's bytes.

use axum::extract::ws::{self, WebSocket, WebSocketUpgrade};
use axum::extract::{Path, RawQuery, State};
use axum::response::Response;
use futures::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::Message as AgentMessage;

use corral_api::exec::{ExecConnectError, ExecControl, ExecOptions, ExecSocket, MAX_MESSAGE};
use corral_types::{Instance, InstanceState, Kind, Node};

use crate::audit::AuditNote;
use crate::error::ApiError;
use crate::objects::get_object;
use crate::state::AppState;

/// The route's handler.
pub async fn exec(
    State(state): State<AppState>,
    Path((env, name)): Path<(String, String)>,
    RawQuery(query): RawQuery,
    upgrade: WebSocketUpgrade,
) -> Result<Response, ApiError> {
    crate::objects::require_environment(&state, &env).await?;
    let mut options = ExecOptions::from_query(query.as_deref().unwrap_or_default())
        .map_err(|e| ApiError::bad_request(Some(&e.field), e.to_string()))?;
    if !options.instance_uid.is_empty() {
        return Err(ApiError::bad_request(
            Some("instance_uid"),
            "instance_uid: is set by the server, not by clients",
        ));
    }
    let raw = get_object(&state, Kind::Instance, &env, &name).await?;
    let inst = Instance::from_raw(raw).map_err(|e| ApiError::Internal(e.to_string()))?;
    let container = container_of(&inst, &options.container)?;
    options.instance_uid = inst.meta.uid.clone();
    let agent = open_agent(&state, &env, &inst, &container, &options).await?;
    let summary = format!(
        "exec {name}{}{}: {}",
        if options.container.is_empty() {
            String::new()
        } else {
            format!(" -c {}", options.container)
        },
        if options.tty { " (tty)" } else { "" },
        options.command_line()
    );
    let mut response = upgrade
        .protocols([corral_api::exec::PROTOCOL])
        .max_message_size(MAX_MESSAGE)
        .on_upgrade(move |client| relay(client, agent));
    response.extensions_mut().insert(AuditNote {
        user: None,
        summary,
    });
    Ok(response)
}

/// The id of the running container to run in: the primary's, or the
/// sidekick `sidekick`'s.
fn container_of(inst: &Instance, sidekick: &str) -> Result<String, ApiError> {
    let name = &inst.meta.name;
    let (state, id) = if sidekick.is_empty() {
        (inst.status.state, inst.status.container_id.clone())
    } else {
        let found = inst
            .status
            .sidekicks
            .iter()
            .find(|s| s.name == sidekick)
            .ok_or_else(|| {
                let names: Vec<&str> = inst
                    .status
                    .sidekicks
                    .iter()
                    .map(|s| s.name.as_str())
                    .collect();
                ApiError::bad_request(
                    Some("container"),
                    format!(
                        "container: instance {name:?} has no sidekick {sidekick:?} (it has: {})",
                        if names.is_empty() {
                            "none".to_string()
                        } else {
                            names.join(", ")
                        }
                    ),
                )
            })?;
        (found.state, found.container_id.clone())
    };
    if inst.spec.node.is_empty() || id.is_empty() || state != InstanceState::Running {
        return Err(ApiError::Conflict(format!(
            "instance {name:?} has no running container{} (state {state})",
            if sidekick.is_empty() {
                String::new()
            } else {
                format!(" {sidekick:?}")
            }
        )));
    }
    Ok(id)
}

/// The socket to the agent of the instance's node, with the command
/// started.
async fn open_agent(
    state: &AppState,
    env: &str,
    inst: &Instance,
    container: &str,
    options: &ExecOptions,
) -> Result<ExecSocket, ApiError> {
    let node_name = &inst.spec.node;
    let raw = get_object(state, Kind::Node, env, node_name).await?;
    let node = Node::from_raw(raw).map_err(|e| ApiError::Internal(e.to_string()))?;
    let base = node.status.agent_url.trim_end_matches('/');
    if base.is_empty() {
        return Err(ApiError::BadGateway(format!(
            "node {node_name:?} did not report an agent address"
        )));
    }
    let url = format!(
        "{base}/v1/containers/{container}/exec?{}",
        options.to_query()
    );
    let tls = crate::instances::agent_tls(state, env, node_name, base)
        .await?
        .map(std::sync::Arc::new);
    let key = state.endpoint_key(env, node_name);
    corral_api::exec::connect(&url, &key, tls)
        .await
        .map_err(|e| match e {
            ExecConnectError::Status {
                status: 409,
                message,
            } => ApiError::Conflict(message),
            ExecConnectError::Status { status, message } => ApiError::BadGateway(format!(
                "agent of node {node_name:?} answered {status}: {message}"
            )),
            ExecConnectError::Transport(message) => {
                ApiError::BadGateway(format!("agent of node {node_name:?}: {message}"))
            }
        })
}

/// Messages both ways until either side closes.
async fn relay(mut client: WebSocket, agent: ExecSocket) {
    let (mut to_agent, mut from_agent) = agent.split();
    loop {
        tokio::select! {
            message = client.recv() => {
                let forward = match message {
                    Some(Ok(ws::Message::Binary(data))) => AgentMessage::Binary(data),
                    Some(Ok(ws::Message::Text(text))) => AgentMessage::text(text.as_str()),
                    Some(Ok(ws::Message::Ping(_) | ws::Message::Pong(_))) => continue,
                    Some(Ok(ws::Message::Close(_))) | None | Some(Err(_)) => break,
                };
                if to_agent.send(forward).await.is_err() {
                    let lost = ExecControl::Error { message: "the agent closed the session".into() };
                    let _ = client.send(ws::Message::Text(lost.to_json().into())).await;
                    break;
                }
            }
            message = from_agent.next() => {
                let forward = match message {
                    Some(Ok(AgentMessage::Binary(data))) => ws::Message::Binary(data),
                    Some(Ok(AgentMessage::Text(text))) => ws::Message::Text(text.as_str().into()),
                    Some(Ok(AgentMessage::Close(_))) | None => break,
                    Some(Ok(_)) => continue,
                    Some(Err(e)) => {
                        let lost = ExecControl::Error { message: format!("the agent's session failed: {e}") };
                        let _ = client.send(ws::Message::Text(lost.to_json().into())).await;
                        break;
                    }
                };
                if client.send(forward).await.is_err() {
                    break;
                }
            }
        }
    }
    let _ = to_agent.send(AgentMessage::Close(None)).await;
    let _ = client.send(ws::Message::Close(None)).await;
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use corral_types::{Object, SidekickStatus};

    use super::*;

    fn instance(state: InstanceState) -> Instance {
        let mut inst: Instance =
            Object::new(Kind::Instance, "default", "web-1", Default::default());
        inst.spec.node = "n1".into();
        inst.status.state = state;
        inst.status.container_id = "c1".into();
        inst.status.sidekicks = vec![SidekickStatus {
            name: "log".into(),
            state: InstanceState::Running,
            container_id: "c2".into(),
            exit_code: None,
        }];
        inst
    }

    #[test]
    fn the_primary_or_a_named_sidekick_is_chosen() {
        let inst = instance(InstanceState::Running);
        assert_eq!(container_of(&inst, "").unwrap(), "c1");
        assert_eq!(container_of(&inst, "log").unwrap(), "c2");
    }

    #[test]
    fn an_unknown_sidekick_is_refused_naming_the_ones_there_are() {
        let err = container_of(&instance(InstanceState::Running), "db").unwrap_err();
        let text = err.to_string();
        assert!(matches!(err, ApiError::BadRequest { .. }), "{text}");
        assert!(text.contains("\"db\"") && text.contains("log"), "{text}");
    }

    #[test]
    fn a_container_that_does_not_run_is_a_conflict() {
        for state in [InstanceState::Pending, InstanceState::Exited] {
            let err = container_of(&instance(state), "").unwrap_err();
            assert!(matches!(err, ApiError::Conflict(_)), "{err}");
        }
    }
}
