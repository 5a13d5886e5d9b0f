//! The verbs beyond CRUD, one handler each (the route table in
//! `routes/table.rs` says which path and rule each one has).

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use axum::{Extension, Json};

use corral_api::{LogsQuery, StackPlan};
use corral_types::{Instance, RawObject};

use crate::access::{Caller, Principal};
use crate::admission::Admission;
use crate::error::ApiError;
use crate::objects::require_environment;
use crate::state::AppState;
use crate::{instances, services, stacks};

type EnvName = Path<(String, String)>;

// A deactivated environment deploys nothing new: admission refuses the
// service's change (see `admission::store`).

pub async fn scale(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path((env, name)): EnvName,
    body: Bytes,
) -> Result<Json<RawObject>, ApiError> {
    require_environment(&state, &env).await?;
    let admission = Admission::new(&state, &caller);
    Ok(Json(services::scale(&admission, &env, &name, &body).await?))
}

pub async fn rollback(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path((env, name)): EnvName,
) -> Result<Json<RawObject>, ApiError> {
    require_environment(&state, &env).await?;
    let admission = Admission::new(&state, &caller);
    Ok(Json(services::rollback(&admission, &env, &name).await?))
}

pub async fn pause(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path((env, name)): EnvName,
) -> Result<Json<RawObject>, ApiError> {
    require_environment(&state, &env).await?;
    let admission = Admission::new(&state, &caller);
    Ok(Json(services::pause(&admission, &env, &name, true).await?))
}

pub async fn resume(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path((env, name)): EnvName,
) -> Result<Json<RawObject>, ApiError> {
    require_environment(&state, &env).await?;
    let admission = Admission::new(&state, &caller);
    Ok(Json(services::pause(&admission, &env, &name, false).await?))
}

pub async fn deploy(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path((env, name)): EnvName,
    body: Bytes,
) -> Result<Json<StackPlan>, ApiError> {
    require_environment(&state, &env).await?;
    let admission = Admission::new(&state, &caller);
    Ok(Json(
        stacks::deploy(&state, &admission, &env, &name, &body).await?,
    ))
}

pub async fn export(
    State(state): State<AppState>,
    Path((env, name)): EnvName,
) -> Result<Response, ApiError> {
    require_environment(&state, &env).await?;
    Ok(axum::response::IntoResponse::into_response(Json(
        stacks::export(&state, &env, &name).await?,
    )))
}

pub async fn logs(
    State(state): State<AppState>,
    Path((env, name)): EnvName,
    Query(query): Query<LogsQuery>,
) -> Result<Response, ApiError> {
    require_environment(&state, &env).await?;
    instances::logs(&state, &env, &name, query).await
}

/// An agent reports one instance's status; a node's credential only for
/// an instance placed on that node.
pub async fn instance_status(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path((env, name)): EnvName,
    body: Bytes,
) -> Result<Json<Instance>, ApiError> {
    require_environment(&state, &env).await?;
    let node = match &caller.principal {
        Principal::Node { node, .. } => Some(node.clone()),
        _ => None,
    };
    Ok(Json(
        instances::report_status(
            &Admission::new(&state, &caller),
            &env,
            &name,
            node.as_deref(),
            &body,
        )
        .await?,
    ))
}

/// An agent deletes an instance placed on its node that is being removed
/// (its containers are gone).
pub async fn finish_instance(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path((env, node, name)): Path<(String, String, String)>,
) -> Result<Json<RawObject>, ApiError> {
    require_environment(&state, &env).await?;
    let raw = crate::objects::get_object(&state, corral_types::Kind::Instance, &env, &name).await?;
    let inst = Instance::from_raw(raw.clone())
        .map_err(|e| ApiError::Internal(format!("stored instance does not decode: {e}")))?;
    if inst.spec.node != node {
        return Err(ApiError::Forbidden(format!(
            "instance {name:?} is not placed on node {node:?}; its agent may not delete it"
        )));
    }
    if !inst.spec.removing {
        return Err(ApiError::Conflict(format!(
            "instance {name:?} is not being removed; its service decides that"
        )));
    }
    let revision = raw.meta.revision;
    let deleted = Admission::new(&state, &caller)
        .delete(corral_types::Kind::Instance, &env, &name, Some(revision))
        .await?;
    Ok(Json(deleted))
}
