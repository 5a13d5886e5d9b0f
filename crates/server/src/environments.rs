//! `/v1/environments[/{name}]`

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::response::Response;

use corral_store::Query as StoreQuery;
use corral_types::{Kind, RawObject};

use crate::error::ApiError;
use crate::objects::{
    ListParams, create_object, get_object, list_objects, replace_object, selector,
};
use crate::state::AppState;

pub async fn list(
    State(state): State<AppState>,
    Query(params): Query<ListParams>,
) -> Result<Response, ApiError> {
    let query = StoreQuery::kind(Kind::Environment).with_selector(selector(&params)?);
    list_objects(&state, query, params).await
}

pub async fn create(
    State(state): State<AppState>,
    body: Bytes,
) -> Result<Json<RawObject>, ApiError> {
    // An environment belongs to itself: its meta.environment is its own name.
    let name = peek_name(&body)?;
    create_object(&state, Kind::Environment, &name, &body).await
}

fn peek_name(body: &[u8]) -> Result<String, ApiError> {
    #[derive(serde::Deserialize)]
    struct Peek {
        #[serde(default)]
        meta: PeekMeta,
    }
    #[derive(serde::Deserialize, Default)]
    struct PeekMeta {
        #[serde(default)]
        name: String,
    }
    let peek: Peek = crate::error::decode_body(body)?;
    Ok(peek.meta.name)
}

pub async fn get(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<Json<RawObject>, ApiError> {
    Ok(Json(
        get_object(&state, Kind::Environment, &name, &name).await?,
    ))
}

pub async fn replace(
    State(state): State<AppState>,
    Path(name): Path<String>,
    body: Bytes,
) -> Result<Json<RawObject>, ApiError> {
    replace_object(&state, Kind::Environment, &name, &name, &body).await
}

/// Deletes an empty environment; one that still holds objects is a conflict.
pub async fn delete(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<Json<RawObject>, ApiError> {
    get_object(&state, Kind::Environment, &name, &name).await?;
    let n = name.clone();
    let listing = state
        .store(move |s| s.list(&StoreQuery::default().in_environment(&n)))
        .await?;
    let others = listing
        .items
        .iter()
        .filter(|o| o.kind != Kind::Environment)
        .count();
    if others > 0 {
        return Err(ApiError::Conflict(format!(
            "environment {name:?} still holds {others} objects; remove them first"
        )));
    }
    let n = name.clone();
    let deleted = state
        .store(move |s| s.delete(Kind::Environment, &n, &n, None))
        .await?;
    Ok(Json(deleted))
}
