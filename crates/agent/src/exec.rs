//! Exec on the agent's endpoint: the server opens a WebSocket to
//! `/v1/containers/{id}/exec` (the protocol of `corral_api::exec`), the
//! agent starts the command through the engine and pumps both ways until
//! the command's output ends, then sends its exit code and closes.

use std::sync::Arc;

use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use futures::StreamExt;
use tokio::io::AsyncWriteExt;

use corral_api::exec::{ExecControl, ExecOptions, MAX_MESSAGE, STDERR, STDIN, STDOUT};
use corral_engine::{ContainerState, ExecChunk, ExecSession, ExecSpec};
use corral_types::ContainerLabels;

use crate::Shared;

/// Starts the command, then upgrades. Every refusal comes before the
/// upgrade, as an HTTP status the server passes on.
pub async fn exec(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
    upgrade: WebSocketUpgrade,
) -> Response {
    if !crate::endpoint::authorized(&shared, &headers) {
        return (StatusCode::UNAUTHORIZED, "missing or invalid bearer token").into_response();
    }
    let options = match ExecOptions::from_query(query.as_deref().unwrap_or_default()) {
        Ok(o) => o,
        Err(e) => return (StatusCode::BAD_REQUEST, e.to_string()).into_response(),
    };
    if let Err((code, message)) = check_container(&shared, &id, &options.instance_uid).await {
        return (code, message).into_response();
    }
    let spec = ExecSpec {
        cmd: options.command.clone(),
        tty: options.tty,
        stdin: options.stdin,
    };
    let session = match shared.engine.exec_attach(&id, &spec).await {
        Ok(s) => s,
        Err(e) => return (StatusCode::CONFLICT, e.to_string()).into_response(),
    };
    tracing::info!(container = %id, command = %options.command_line(), "exec");
    upgrade
        .max_message_size(MAX_MESSAGE)
        .on_upgrade(move |socket| pump(shared, socket, session))
}

/// The container must be one of Corral's, of the instance the server
/// named, and running.
async fn check_container(
    shared: &Shared,
    id: &str,
    instance_uid: &str,
) -> Result<(), (StatusCode, String)> {
    let container = shared
        .engine
        .inspect(id)
        .await
        .map_err(|e| (StatusCode::NOT_FOUND, e.to_string()))?;
    let uid = container.labels.get(ContainerLabels::INSTANCE_UID);
    if instance_uid.is_empty() || uid.map(String::as_str) != Some(instance_uid) {
        return Err((
            StatusCode::NOT_FOUND,
            format!("container {id} is not a container of instance uid {instance_uid:?}"),
        ));
    }
    if container.state != ContainerState::Running {
        return Err((
            StatusCode::CONFLICT,
            format!("container {id} is not running ({:?})", container.state),
        ));
    }
    Ok(())
}

/// Output to the socket, the socket to stdin and resizes, until the output
/// ends (then the exit code) or the other side goes away.
async fn pump(shared: Arc<Shared>, mut socket: WebSocket, session: ExecSession) {
    let ExecSession {
        exec_id,
        mut output,
        mut input,
    } = session;
    let mut stdin_open = true;
    loop {
        tokio::select! {
            chunk = output.next() => match chunk {
                Some(Ok(chunk)) => {
                    if socket.send(Message::Binary(framed(chunk))).await.is_err() {
                        return;
                    }
                }
                Some(Err(e)) => {
                    let message = ExecControl::Error { message: e.to_string() };
                    let _ = socket.send(Message::Text(message.to_json().into())).await;
                    break;
                }
                None => {
                    let code = shared.engine.exec_exit_code(&exec_id).await.ok().flatten();
                    let exit = ExecControl::Exit { code };
                    let _ = socket.send(Message::Text(exit.to_json().into())).await;
                    break;
                }
            },
            message = socket.recv() => match message {
                Some(Ok(Message::Binary(data))) => {
                    if data.first() == Some(&STDIN) && stdin_open && input.write_all(&data[1..]).await.is_err() {
                        stdin_open = false;
                    }
                }
                Some(Ok(Message::Text(text))) => match serde_json::from_str::<ExecControl>(&text) {
                    Ok(ExecControl::Resize { cols, rows }) => {
                        if let Err(e) = shared.engine.exec_resize(&exec_id, cols, rows).await {
                            tracing::debug!("exec resize: {e}");
                        }
                    }
                    Ok(ExecControl::CloseStdin) if stdin_open => {
                        stdin_open = false;
                        let _ = input.shutdown().await;
                    }
                    _ => {}
                },
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return,
                Some(Ok(_)) => {}
            },
        }
    }
    let _ = socket
        .send(Message::Close(Some(CloseFrame {
            code: 1000,
            reason: "".into(),
        })))
        .await;
}

fn framed(chunk: ExecChunk) -> axum::body::Bytes {
    let (stream, data) = match chunk {
        ExecChunk::Stdout(d) => (STDOUT, d),
        ExecChunk::Stderr(d) => (STDERR, d),
    };
    let mut out = Vec::with_capacity(data.len() + 1);
    out.push(stream);
    out.extend_from_slice(&data);
    out.into()
}
