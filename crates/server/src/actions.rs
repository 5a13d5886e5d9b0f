//! `POST|PUT|GET /v1/environments/{env}/{kind}/{name}/{action}`: the verbs
//! beyond CRUD, one handler per (kind, action).

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::Method;
use axum::response::{IntoResponse, Response};

use corral_api::LogsQuery;
use corral_types::Kind;

use crate::error::ApiError;
use crate::objects::{parse_kind, require_environment};
use crate::state::AppState;
use crate::{instances, nodes, services, stacks};

pub async fn dispatch(
    State(state): State<AppState>,
    method: Method,
    Path((env, plural, name, action)): Path<(String, String, String, String)>,
    Query(logs): Query<LogsQuery>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let kind = parse_kind(&plural)?;
    require_environment(&state, &env).await?;
    match (kind, action.as_str(), method) {
        (Kind::Service, "scale", Method::POST) => {
            Ok(Json(services::scale(&state, &env, &name, &body).await?).into_response())
        }
        (Kind::Node, "join", Method::POST) => {
            Ok(Json(nodes::join(&state, &env, &name, &body).await?).into_response())
        }
        (Kind::Node, "heartbeat", Method::POST) => {
            Ok(Json(nodes::heartbeat(&state, &env, &name).await?).into_response())
        }
        (Kind::Instance, "status", Method::PUT) => {
            Ok(Json(instances::report_status(&state, &env, &name, &body).await?).into_response())
        }
        (Kind::Instance, "logs", Method::GET) => instances::logs(&state, &env, &name, logs).await,
        (Kind::Service, "rollback", Method::POST) => {
            Ok(Json(services::rollback(&state, &env, &name).await?).into_response())
        }
        (Kind::Service, "pause", Method::POST) => {
            Ok(Json(services::pause(&state, &env, &name, true).await?).into_response())
        }
        (Kind::Service, "resume", Method::POST) => {
            Ok(Json(services::pause(&state, &env, &name, false).await?).into_response())
        }
        (Kind::Stack, "deploy", Method::POST) => {
            Ok(Json(stacks::deploy(&state, &env, &name, &body).await?).into_response())
        }
        (Kind::Stack, "export", Method::GET) => {
            Ok(Json(stacks::export(&state, &env, &name).await?).into_response())
        }
        (
            _,
            "scale" | "join" | "heartbeat" | "status" | "logs" | "rollback" | "pause" | "resume"
            | "deploy" | "export",
            m,
        ) => Err(ApiError::MethodNotAllowed(format!(
            "{m} is not allowed on {plural}/{name}/{action}"
        ))),
        _ => Err(ApiError::NotFound(format!(
            "{plural} have no action {action:?}"
        ))),
    }
}
