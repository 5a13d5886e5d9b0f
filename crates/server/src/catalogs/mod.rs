//! Catalogs of Rancher templates: global ones (`/v1/catalogs`, an
//! admin's) and an environment's own (`/v1/environments/{env}/catalogs`,
//! its owners'); their templates, read from the last refresh
//! ([`book`]); and launching a template as a stack ([`apps`]).

pub mod apps;
pub mod book;
pub mod builtin;
pub mod credentials;
pub mod fetch;
pub mod templates;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::{Extension, Json};

use corral_api::{CatalogRequest, List};
use corral_store::Query;
use corral_types::{
    Catalog, CatalogSpec, CatalogStatus, GLOBAL, Kind, Object, RawObject, validate_name,
};

use crate::access::Caller;
use crate::access::secrets::redact;
use crate::admission::Admission;
use crate::error::{ApiError, decode_body};
use crate::objects::{get_object, require_environment};
use crate::state::AppState;

/// Checks a catalog's URL: a scheme git can fetch, and `file://` only in
/// a global catalog (an admin's): an environment's owner may not make the
/// server read its own disk.
pub fn check_url(url: &str, global: bool) -> Result<(), ApiError> {
    let url = url.trim();
    let scp_like = !url.contains("://") && credentials::is_ssh(url);
    let scheme = url.split_once("://").map(|(s, _)| s);
    match scheme {
        Some("https" | "http" | "ssh" | "git") => Ok(()),
        None if scp_like => Ok(()),
        Some("file") if global => Ok(()),
        Some("builtin") if global && url == builtin::URL => Ok(()),
        Some("file") => Err(ApiError::invalid(
            "url",
            "file:// catalogs are global only (an admin adds them): use https, ssh or git",
        )),
        _ => Err(ApiError::invalid(
            "url",
            format!(
                "{url:?} is not a git URL (https://, ssh://, user@host:path, git:// or file://)"
            ),
        )),
    }
}

async fn list_in(state: &AppState, env: &str) -> Result<Json<List<RawObject>>, ApiError> {
    let q = Query::kind(Kind::Catalog).in_environment(env);
    let listing = state.store(move |s| s.list(&q)).await?;
    Ok(Json(List {
        items: listing.items.into_iter().map(redact).collect(),
        revision: listing.revision,
        continue_token: None,
    }))
}

async fn create_in(
    state: &AppState,
    caller: &Caller,
    env: &str,
    body: &[u8],
) -> Result<Json<RawObject>, ApiError> {
    let req: CatalogRequest = decode_body(body)?;
    validate_name("name", &req.name)?;
    check_url(&req.url, env == GLOBAL)?;
    if let Some(b) = req.branch.as_deref()
        && (b.trim().is_empty() || b.starts_with('-') || b.contains(".."))
    {
        return Err(ApiError::invalid(
            "branch",
            format!("{b:?} is not a branch name"),
        ));
    }
    let given = credentials::from_request(state, env, &req)?;
    let spec = CatalogSpec {
        url: req.url.trim().to_string(),
        branch: req.branch.clone(),
        auth: given.auth,
        username: given.username,
        ssh_known_hosts: given.ssh_known_hosts,
        sealed_credentials: given.sealed,
    };
    let mut catalog: Catalog = Object::new(Kind::Catalog, env, &req.name, spec);
    catalog.status = CatalogStatus::default();
    catalog.meta.uid = corral_controllers::new_uid();
    catalog.meta.created = state.clock.now_rfc3339();
    catalog.meta.generation = 1;
    let raw = catalog
        .to_raw()
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    let stored = Admission::new(state, caller).create(raw).await?;
    let (st, e, n) = (state.clone(), env.to_string(), req.name.clone());
    tokio::spawn(async move {
        if let Err(err) = book::refresh(&st, &e, &n).await {
            tracing::warn!("catalog {e}/{n}: {err}");
        }
    });
    Ok(Json(redact(stored)))
}

async fn remove_in(
    state: &AppState,
    caller: &Caller,
    env: &str,
    name: &str,
) -> Result<Json<RawObject>, ApiError> {
    let removed = get_object(state, Kind::Catalog, env, name).await?;
    Admission::new(state, caller)
        .delete(Kind::Catalog, env, name, None)
        .await?;
    state.catalogs.forget(env, name);
    Ok(Json(redact(removed)))
}

async fn refresh_in(state: &AppState, env: &str, name: &str) -> Result<Json<RawObject>, ApiError> {
    book::refresh(state, env, name).await?;
    Ok(Json(redact(
        get_object(state, Kind::Catalog, env, name).await?,
    )))
}

pub async fn list_global(State(state): State<AppState>) -> Result<Json<List<RawObject>>, ApiError> {
    list_in(&state, GLOBAL).await
}

pub async fn create_global(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    body: Bytes,
) -> Result<Json<RawObject>, ApiError> {
    create_in(&state, &caller, GLOBAL, &body).await
}

pub async fn remove_global(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(name): Path<String>,
) -> Result<Json<RawObject>, ApiError> {
    remove_in(&state, &caller, GLOBAL, &name).await
}

pub async fn refresh_global(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<Json<RawObject>, ApiError> {
    refresh_in(&state, GLOBAL, &name).await
}

pub async fn list(
    State(state): State<AppState>,
    Path(env): Path<String>,
) -> Result<Json<List<RawObject>>, ApiError> {
    require_environment(&state, &env).await?;
    list_in(&state, &env).await
}

pub async fn create(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(env): Path<String>,
    body: Bytes,
) -> Result<Json<RawObject>, ApiError> {
    require_environment(&state, &env).await?;
    create_in(&state, &caller, &env, &body).await
}

pub async fn remove(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path((env, name)): Path<(String, String)>,
) -> Result<Json<RawObject>, ApiError> {
    require_environment(&state, &env).await?;
    remove_in(&state, &caller, &env, &name).await
}

pub async fn refresh(
    State(state): State<AppState>,
    Path((env, name)): Path<(String, String)>,
) -> Result<Json<RawObject>, ApiError> {
    require_environment(&state, &env).await?;
    refresh_in(&state, &env, &name).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_git_fetches_pass_and_file_urls_only_globally() {
        for ok in [
            "https://github.com/rancher/community-catalog",
            "ssh://git@example.com/c.git",
            "git@example.com:team/catalog.git",
            "git://127.0.0.1/catalog",
        ] {
            assert!(check_url(ok, false).is_ok(), "{ok}");
        }
        assert!(check_url("file:///srv/catalog", true).is_ok());
        assert!(check_url("file:///srv/catalog", false).is_err());
        assert!(check_url("/srv/catalog", true).is_err());
        assert!(check_url("ftp://x/y", true).is_err());
    }
}
