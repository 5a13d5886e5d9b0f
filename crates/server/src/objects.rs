//! Generic handlers: list (and watch), create, get, replace, delete, for every kind.

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use serde::Deserialize;

use corral_api::List;
use corral_store::{Query as StoreQuery, Store, StoreError};
use corral_types::{Kind, LabelSelector, RawObject};

use crate::access::Caller;
use crate::admission::Admission;
use crate::cert_keys;
use crate::error::ApiError;
use crate::state::AppState;
use crate::submit::{accept, new_object};
use crate::watch::watch_response;

#[derive(Debug, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct ListParams {
    #[serde(default)]
    pub label_selector: Option<String>,
    #[serde(default)]
    pub watch: Option<bool>,
    #[serde(default)]
    pub revision: Option<u64>,
    /// Paging: at most this many objects (see `paging`).
    #[serde(default)]
    pub limit: Option<usize>,
    /// Paging: the `continue` token of the page before.
    #[serde(default, rename = "continue")]
    pub continue_token: Option<String>,
}

#[derive(Debug, Deserialize, Default)]
pub struct DeleteParams {
    #[serde(default)]
    pub revision: Option<u64>,
}

/// 404 unless environment `env` exists.
pub async fn require_environment(state: &AppState, env: &str) -> Result<(), ApiError> {
    let name = env.to_string();
    state
        .store(move |s| Ok(check_environment(s, &name)))
        .await?
}

/// Environment `env` exists (not found, naming it, if not): for code that
/// is already on a blocking thread with the store.
pub fn check_environment(store: &dyn Store, env: &str) -> Result<(), ApiError> {
    match store.get(Kind::Environment, env, env) {
        Ok(_) => Ok(()),
        Err(StoreError::NotFound { .. }) => {
            Err(ApiError::NotFound(format!("environment {env:?} not found")))
        }
        Err(e) => Err(e.into()),
    }
}

pub async fn list_objects(
    state: &AppState,
    query: StoreQuery,
    params: ListParams,
) -> Result<Response, ApiError> {
    list_or_watch(state, query, params, cert_keys::public).await
}

/// The objects of `query`, each through `public` (what the API may show
/// of it); or with `watch=true` the events after `revision` (which the
/// watch strips of hashes and keys by kind).
pub async fn list_or_watch(
    state: &AppState,
    query: StoreQuery,
    params: ListParams,
    public: fn(RawObject) -> RawObject,
) -> Result<Response, ApiError> {
    if params.watch.unwrap_or(false) {
        return watch_response(state, query, params.revision).await;
    }
    let (query, first_revision) =
        match crate::paging::page(params.limit, params.continue_token.as_deref())? {
            Some((page, first)) => (query.with_page(page), first),
            None => (query, None),
        };
    let listing = state.store(move |s| s.list(&query)).await?;
    let revision = first_revision.unwrap_or(listing.revision);
    Ok(Json(List {
        items: listing.items.into_iter().map(public).collect(),
        revision,
        continue_token: listing.next.map(|k| crate::paging::token(k, revision)),
    })
    .into_response())
}

pub fn selector(params: &ListParams) -> Result<LabelSelector, ApiError> {
    LabelSelector::parse(params.label_selector.as_deref().unwrap_or(""))
        .map_err(|e| ApiError::bad_request(Some("labelSelector"), e.to_string()))
}

pub async fn list(
    kind: Kind,
    State(state): State<AppState>,
    Path(env): Path<String>,
    Query(params): Query<ListParams>,
) -> Result<Response, ApiError> {
    require_environment(&state, &env).await?;
    let query = StoreQuery::kind(kind)
        .in_environment(&env)
        .with_selector(selector(&params)?);
    list_objects(&state, query, params).await
}

pub async fn create_object(
    state: &AppState,
    admission: &Admission,
    kind: Kind,
    env: &str,
    body: &[u8],
) -> Result<Json<RawObject>, ApiError> {
    let mut acc = accept(kind, env, body)?;
    if kind == Kind::Service {
        crate::secrets::pin_versions(state, env, &mut acc.spec).await?;
        crate::configs::pin_versions(state, env, &mut acc.spec).await?;
    }
    if kind == Kind::Certificate {
        cert_keys::seal_key(&state.sealer, env, &acc.name, &mut acc.spec)?;
    }
    let obj = new_object(
        kind,
        acc,
        corral_controllers::new_uid(),
        state.clock.now_rfc3339(),
    );
    Ok(Json(cert_keys::public(admission.create(obj).await?)))
}

pub async fn create(
    kind: Kind,
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(env): Path<String>,
    body: Bytes,
) -> Result<Json<RawObject>, ApiError> {
    match kind {
        Kind::Node => {
            return Err(ApiError::MethodNotAllowed(format!(
                "nodes are created by their agent: POST /v1/environments/{env}/nodes/NAME/join"
            )));
        }
        Kind::Stack => {
            return Err(ApiError::MethodNotAllowed(format!(
                "stacks are deployed from compose files: POST /v1/environments/{env}/stacks/NAME/deploy"
            )));
        }
        Kind::Instance => {
            return Err(ApiError::MethodNotAllowed(
                "instances are made and changed by their service; change the service instead"
                    .into(),
            ));
        }
        _ => {}
    }
    require_environment(&state, &env).await?;
    create_object(&state, &Admission::new(&state, &caller), kind, &env, &body).await
}

pub async fn get_object(
    state: &AppState,
    kind: Kind,
    env: &str,
    name: &str,
) -> Result<RawObject, ApiError> {
    let (e, n) = (env.to_string(), name.to_string());
    match state.store(move |s| s.get(kind, &e, &n)).await {
        Err(ApiError::NotFound(_)) if kind == Kind::Environment => Err(ApiError::NotFound(
            format!("environment {name:?} not found"),
        )),
        Err(ApiError::NotFound(_)) => Err(ApiError::NotFound(format!(
            "{} {name:?} not found in environment {env:?}",
            kind.as_str().to_lowercase()
        ))),
        other => other,
    }
}

pub async fn get(
    kind: Kind,
    State(state): State<AppState>,
    Path((env, name)): Path<(String, String)>,
) -> Result<Json<RawObject>, ApiError> {
    require_environment(&state, &env).await?;
    Ok(Json(cert_keys::public(
        get_object(&state, kind, &env, &name).await?,
    )))
}

/// Replaces labels and spec; keeps uid, creation time and status. The body's
/// `meta.revision` must be the revision read (else 409).
pub async fn replace_object(
    state: &AppState,
    admission: &Admission,
    kind: Kind,
    env: &str,
    name: &str,
    body: &[u8],
) -> Result<Json<RawObject>, ApiError> {
    let body = match kind {
        Kind::Certificate => cert_keys::with_stored_key(state, env, name, body).await?,
        _ => body.to_vec(),
    };
    let mut acc = accept(kind, env, &body)?;
    if kind == Kind::Certificate {
        cert_keys::seal_key(&state.sealer, env, name, &mut acc.spec)?;
    }
    if acc.name != name {
        return Err(ApiError::invalid(
            "meta.name",
            format!(
                "{:?} does not match the name in the path ({name:?})",
                acc.name
            ),
        ));
    }
    if acc.revision == 0 {
        return Err(ApiError::invalid(
            "meta.revision",
            "required: send the revision you read",
        ));
    }
    if kind == Kind::Service {
        crate::secrets::pin_versions(state, env, &mut acc.spec).await?;
        crate::configs::pin_versions(state, env, &mut acc.spec).await?;
    }
    let mut current = get_object(state, kind, env, name).await?;
    if current.spec != acc.spec {
        current.meta.generation += 1;
    }
    current.meta.revision = acc.revision;
    current.meta.labels = acc.labels;
    current.spec = acc.spec;
    Ok(Json(cert_keys::public(admission.update(current).await?)))
}

pub async fn replace(
    kind: Kind,
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path((env, name)): Path<(String, String)>,
    body: Bytes,
) -> Result<Json<RawObject>, ApiError> {
    require_environment(&state, &env).await?;
    let admission = Admission::new(&state, &caller);
    replace_object(&state, &admission, kind, &env, &name, &body).await
}

pub async fn delete(
    kind: Kind,
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path((env, name)): Path<(String, String)>,
    Query(params): Query<DeleteParams>,
) -> Result<Json<RawObject>, ApiError> {
    require_environment(&state, &env).await?;
    let admission = Admission::new(&state, &caller);
    if kind == Kind::Stack {
        return Ok(Json(
            crate::stacks::remove(&state, &admission, &env, &name).await?,
        ));
    }
    get_object(&state, kind, &env, &name).await?;
    let deleted = admission.delete(kind, &env, &name, params.revision).await?;
    Ok(Json(cert_keys::public(deleted)))
}
