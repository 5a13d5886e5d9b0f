//! The templates an environment offers: those of the global catalogs and
//! of its own (an environment's catalog hides a global one of the same
//! name), from each catalog's last good refresh.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use corral_types::{GLOBAL, TemplateInfo, VersionInfo};

use super::book::Loaded;
use crate::error::ApiError;
use crate::objects::require_environment;
use crate::state::AppState;

/// The catalogs `env` sees, by name.
fn visible(state: &AppState, env: &str) -> BTreeMap<String, Loaded> {
    let mut out: BTreeMap<String, Loaded> = state.catalogs.of(&[GLOBAL]).into_iter().collect();
    out.extend(state.catalogs.of(&[env]));
    out
}

/// A template and the version named by `reference`: `CATALOG/TEMPLATE`
/// or `TEMPLATE` (when one catalog alone has it), with `:VERSION` (a
/// version folder; the template's default otherwise).
pub fn find(
    state: &AppState,
    env: &str,
    reference: &str,
) -> Result<(TemplateInfo, VersionInfo), ApiError> {
    let (name, version) = match reference.rsplit_once(':') {
        Some((n, v)) => (n, Some(v)),
        None => (reference, None),
    };
    let catalogs = visible(state, env);
    let mut found: Vec<&TemplateInfo> = Vec::new();
    for (catalog, loaded) in &catalogs {
        for t in &loaded.repo.templates {
            let whole = name
                .split_once('/')
                .is_some_and(|(c, f)| c == catalog && f == t.folder);
            if whole || (!name.contains('/') && t.folder == name) {
                found.push(t);
            }
        }
    }
    let template = match found.as_slice() {
        [one] => (*one).clone(),
        [] => {
            return Err(ApiError::NotFound(format!(
                "template {name:?} is in no catalog of environment {env:?} (see corral catalog ls)"
            )));
        }
        many => {
            let ids: Vec<&str> = many.iter().map(|t| t.id.as_str()).collect();
            return Err(ApiError::invalid(
                "template",
                format!(
                    "{name:?} is in several catalogs: name one of {}",
                    ids.join(", ")
                ),
            ));
        }
    };
    let folder = version.unwrap_or(&template.default_version);
    let v = template
        .versions
        .iter()
        .find(|v| v.folder == folder)
        .cloned()
        .ok_or_else(|| {
            let all: Vec<&str> = template
                .versions
                .iter()
                .map(|v| v.folder.as_str())
                .collect();
            ApiError::invalid(
                "template",
                format!(
                    "{} has no version {folder:?} (versions: {})",
                    template.id,
                    all.join(", ")
                ),
            )
        })?;
    Ok((template, v))
}

/// A template without its versions' files and READMEs, for lists.
fn summary(t: &TemplateInfo) -> TemplateInfo {
    let mut s = t.clone();
    for v in &mut s.versions {
        v.files.clear();
        v.readme = None;
    }
    s
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ListQuery {
    pub category: Option<String>,
    pub catalog: Option<String>,
}

pub async fn list(
    State(state): State<AppState>,
    Path(env): Path<String>,
    Query(q): Query<ListQuery>,
) -> Result<Json<Vec<TemplateInfo>>, ApiError> {
    require_environment(&state, &env).await?;
    let mut out = Vec::new();
    for (catalog, loaded) in visible(&state, &env) {
        if q.catalog.as_ref().is_some_and(|c| *c != catalog) {
            continue;
        }
        for t in &loaded.repo.templates {
            if q.category
                .as_ref()
                .is_some_and(|c| !t.category.eq_ignore_ascii_case(c))
            {
                continue;
            }
            out.push(summary(t));
        }
    }
    Ok(Json(out))
}

pub async fn get(
    State(state): State<AppState>,
    Path((env, catalog, template)): Path<(String, String, String)>,
) -> Result<Json<TemplateInfo>, ApiError> {
    require_environment(&state, &env).await?;
    let (t, _) = find(&state, &env, &format!("{catalog}/{template}"))?;
    Ok(Json(t))
}

pub async fn icon(
    State(state): State<AppState>,
    Path((env, catalog, template)): Path<(String, String, String)>,
) -> Result<Response, ApiError> {
    require_environment(&state, &env).await?;
    let (t, _) = find(&state, &env, &format!("{catalog}/{template}"))?;
    let loaded = visible(&state, &env)
        .remove(&catalog)
        .ok_or_else(|| ApiError::NotFound(format!("catalog {catalog:?}")))?;
    let (bytes, content_type) = corral_catalog::read_icon(&loaded.root, &t)
        .ok_or_else(|| ApiError::NotFound(format!("{} has no icon", t.id)))?;
    Ok((
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "max-age=300"),
            // An SVG icon is shown as an image, never run as a page.
            (
                header::CONTENT_SECURITY_POLICY,
                "default-src 'none'; style-src 'unsafe-inline'",
            ),
        ],
        bytes,
    )
        .into_response())
}
