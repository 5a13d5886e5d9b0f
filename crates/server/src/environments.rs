//! `/v1/environments[/{name}]`

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};

use corral_api::List;
use corral_store::{Op, Query as StoreQuery};
use corral_types::{
    CredentialLabels, DEFAULT_ENV_NETWORK, Environment, Ipv4Cidr, Kind, LabelSelector, RawObject,
    parse_env_range,
};

use crate::access::Caller;
use crate::access::guard::env_role;
use crate::admission::{Admission, Edit};
use crate::error::ApiError;
use crate::objects::{
    ListParams, create_object, get_object, list_objects, replace_object, selector,
};
use crate::state::AppState;

/// The environments the caller sees: every one for an admin, else those
/// it has a role in.
pub async fn list(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Query(params): Query<ListParams>,
) -> Result<Response, ApiError> {
    let query = StoreQuery::kind(Kind::Environment).with_selector(selector(&params)?);
    if caller.principal.is_admin() {
        return list_objects(&state, query, params).await;
    }
    if params.watch.unwrap_or(false) {
        return Err(ApiError::bad_request(
            Some("watch"),
            "watching environments is for admins; watch /v1/watch instead",
        ));
    }
    let principal = caller.principal.clone();
    let visible = state
        .store(move |s| {
            let listing = s.list(&query)?;
            let mut items = Vec::new();
            for env in listing.items {
                let role = env_role(s, &principal, &env.meta.name)
                    .map_err(|e| corral_store::StoreError::Backend(e.to_string()))?;
                if role.is_some() {
                    items.push(env);
                }
            }
            Ok(List::whole(items, listing.revision))
        })
        .await?;
    Ok(Json(visible).into_response())
}

pub async fn create(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    body: Bytes,
) -> Result<Json<RawObject>, ApiError> {
    // An environment belongs to itself: its meta.environment is its own name.
    let name = peek_name(&body)?;
    let body = with_network(&state, &name, &body, "").await?;
    let admission = Admission::new(&state, &caller);
    create_object(&state, &admission, Kind::Environment, &name, &body).await
}

/// The managed range in an environment's stored or submitted spec; empty if none.
pub(crate) fn network_of(spec: &serde_json::Value) -> &str {
    spec.get("network")
        .and_then(serde_json::Value::as_str)
        .unwrap_or_default()
}

/// The ranges of every environment but `except`.
pub(crate) async fn ranges_in_use(
    state: &AppState,
    except: &str,
) -> Result<Vec<(String, Ipv4Cidr)>, ApiError> {
    let listing = state
        .store(|s| s.list(&StoreQuery::kind(Kind::Environment)))
        .await?;
    Ok(listing
        .items
        .iter()
        .filter(|e| e.meta.name != except)
        .filter_map(|e| Some((e.meta.name.clone(), network_of(&e.spec).parse().ok()?)))
        .collect())
}

/// The first of 10.42.0.0/16, 10.43.0.0/16, ... 10.255.0.0/16 that
/// overlaps none of `used`.
pub(crate) fn free_range(used: &[(String, Ipv4Cidr)]) -> Result<Ipv4Cidr, ApiError> {
    let first: Ipv4Cidr = DEFAULT_ENV_NETWORK
        .parse()
        .map_err(|e: String| ApiError::Internal(e))?;
    let [a, b, ..] = first.addr.octets();
    (b..=255)
        .map(|second| Ipv4Cidr {
            addr: std::net::Ipv4Addr::new(a, second, 0, 0),
            prefix: 16,
        })
        .find(|c| !used.iter().any(|(_, u)| u.overlaps(c)))
        .ok_or_else(|| {
            ApiError::invalid(
                "spec.network",
                "no free /16 is left in 10.42.0.0 to 10.255.0.0; give a range",
            )
        })
}

/// The submitted environment with `spec.network` checked, or filled in
/// when empty: `current` (the stored range) on a replace, else a free
/// range. A range that overlaps another environment's, or differs from
/// `current`, is a 422 naming `spec.network`.
async fn with_network(
    state: &AppState,
    name: &str,
    body: &[u8],
    current: &str,
) -> Result<Bytes, ApiError> {
    let Ok(mut value) = serde_json::from_slice::<serde_json::Value>(body) else {
        // Not JSON: the generic handler reports it.
        return Ok(Bytes::copy_from_slice(body));
    };
    let Some(spec) = value.get_mut("spec").and_then(|s| s.as_object_mut()) else {
        return Ok(Bytes::copy_from_slice(body));
    };
    let asked = network_of(&serde_json::Value::Object(spec.clone())).to_string();
    let network = match (asked.as_str(), current) {
        ("", "") => free_range(&ranges_in_use(state, name).await?)?.to_string(),
        ("", current) => current.to_string(),
        (asked, current) if asked == current => current.to_string(),
        (_, current) if !current.is_empty() => {
            return Err(ApiError::invalid(
                "spec.network",
                format!("cannot be changed (it is {current}); create another environment"),
            ));
        }
        (asked, _) => {
            let range = parse_env_range(asked)?;
            let used = ranges_in_use(state, name).await?;
            if let Some((other, r)) = used.iter().find(|(_, r)| r.overlaps(&range)) {
                return Err(ApiError::invalid(
                    "spec.network",
                    format!("{range} overlaps {r} of environment {other:?}"),
                ));
            }
            range.to_string()
        }
    };
    spec.insert("network".into(), network.into());
    value_bytes(&value)
}

fn value_bytes(value: &serde_json::Value) -> Result<Bytes, ApiError> {
    serde_json::to_vec(value)
        .map(Bytes::from)
        .map_err(|e| ApiError::Internal(e.to_string()))
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
    Extension(caller): Extension<Caller>,
    Path(name): Path<String>,
    body: Bytes,
) -> Result<Json<RawObject>, ApiError> {
    let stored = get_object(&state, Kind::Environment, &name, &name).await?;
    let body = with_network(&state, &name, &body, network_of(&stored.spec)).await?;
    let admission = Admission::new(&state, &caller);
    replace_object(&state, &admission, Kind::Environment, &name, &name, &body).await
}

/// `POST /v1/environments/{env}/deactivate`.
pub async fn deactivate(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(name): Path<String>,
) -> Result<Json<RawObject>, ApiError> {
    set_deactivated(&Admission::new(&state, &caller), &name, true).await
}

/// `POST /v1/environments/{env}/activate`.
pub async fn activate(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(name): Path<String>,
) -> Result<Json<RawObject>, ApiError> {
    set_deactivated(&Admission::new(&state, &caller), &name, false).await
}

async fn set_deactivated(
    admission: &Admission,
    name: &str,
    deactivated: bool,
) -> Result<Json<RawObject>, ApiError> {
    let raw = admission
        .edit(Kind::Environment, name, name, |env: &mut Environment| {
            if env.spec.deactivated == deactivated {
                return Ok(Edit::Keep);
            }
            env.spec.deactivated = deactivated;
            Ok(Edit::Write)
        })
        .await?;
    Ok(Json(raw))
}

/// Removes a deactivated environment and everything in it: its objects,
/// and the registration tokens, node credentials and API keys bound to
/// it. Its agents see their instances deleted (on the watches they hold)
/// and remove the containers; their credentials are gone after that.
pub async fn delete(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(name): Path<String>,
) -> Result<Json<RawObject>, ApiError> {
    let raw = get_object(&state, Kind::Environment, &name, &name).await?;
    let env = Environment::from_raw(raw.clone())
        .map_err(|e| ApiError::Internal(format!("stored environment does not decode: {e}")))?;
    if !env.spec.deactivated {
        return Err(ApiError::Conflict(format!(
            "environment {name:?} is active; deactivate it first (corral env deactivate {name})"
        )));
    }
    let admission = Admission::new(&state, &caller);
    let n = name.clone();
    admission
        .store(move |s| {
            let inside = s.list(&StoreQuery::default().in_environment(&n))?;
            let mut ops: Vec<Op> = inside
                .items
                .iter()
                // Instances first: their agents see them go while they
                // still hold their watches.
                .filter(|o| o.kind != Kind::Environment)
                .map(|o| delete_op(o.kind, &o.meta.environment, &o.meta.name))
                .collect();
            for kind in [Kind::RegistrationToken, Kind::NodeCredential, Kind::ApiKey] {
                let bound = StoreQuery::kind(kind)
                    .in_environment(corral_types::GLOBAL)
                    .with_selector(
                        LabelSelector::parse(&format!("{}={n}", CredentialLabels::ENVIRONMENT))
                            .map_err(|e| corral_store::StoreError::Backend(e.to_string()))?,
                    );
                ops.extend(
                    s.list(&bound)?
                        .items
                        .iter()
                        .map(|o| delete_op(o.kind, &o.meta.environment, &o.meta.name)),
                );
            }
            for chunk in ops.chunks(512) {
                s.apply(chunk.to_vec())?;
            }
            Ok(())
        })
        .await?;
    let deleted = admission
        .delete(Kind::Environment, &name, &name, None)
        .await?;
    state.auth_cache.invalidate();
    state.joins.lock().await.forget(&name);
    tracing::info!("environment {name} removed");
    Ok(Json(deleted))
}

fn delete_op(kind: Kind, environment: &str, name: &str) -> Op {
    Op::Delete {
        kind,
        environment: environment.to_string(),
        name: name.to_string(),
        revision: None,
    }
}
