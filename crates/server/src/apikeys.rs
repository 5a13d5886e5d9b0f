//! `/v1/apikeys`: keys for scripts and automation. An account key acts as
//! its user everywhere; an environment key only in its environment, with
//! at most its role (and never more than its user's own role there). The
//! secret is answered once and stored hashed.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::response::Response;
use axum::{Extension, Json};

use corral_api::{ApiKeyCreate, SecretCreated};
use corral_store::Query;
use corral_types::{
    ApiKey, ApiKeySpec, CredentialLabels, GLOBAL, Kind, LabelSelector, Object, RawObject, Role,
    TokenKind,
};

use crate::access::guard::env_role;
use crate::access::secrets::{new_id, new_secret, redact, token_hash};
use crate::access::{Caller, Principal};
use crate::admission::{Admission, Edit};
use crate::error::{ApiError, decode_body};
use crate::objects::{ListParams, get_object, list_or_watch};
use crate::state::AppState;

/// The user a person's credential acts for (env keys may not manage keys).
fn owner(caller: &Caller) -> Result<Option<String>, ApiError> {
    match &caller.principal {
        Principal::User { name, .. } => Ok(Some(name.clone())),
        Principal::AdminToken => Ok(None),
        _ => Err(ApiError::Forbidden(format!(
            "a credential of kind {} may not manage API keys",
            caller.principal.method()
        ))),
    }
}

/// The caller's keys (every key for an admin), or with
/// `?watch=true&revision=N` their changes.
pub async fn list(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    axum::extract::Query(params): axum::extract::Query<ListParams>,
) -> Result<Response, ApiError> {
    let user = owner(&caller)?;
    let mut query = Query::kind(Kind::ApiKey).in_environment(GLOBAL);
    if !caller.principal.is_admin()
        && let Some(user) = &user
    {
        query = query.with_selector(
            LabelSelector::parse(&format!("{}={user}", CredentialLabels::USER))
                .map_err(|e| ApiError::Internal(e.to_string()))?,
        );
    }
    list_or_watch(&state, query, params, redact).await
}

pub async fn create(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    body: Bytes,
) -> Result<Json<SecretCreated>, ApiError> {
    let Some(user) = owner(&caller)? else {
        return Err(ApiError::Forbidden(
            "the admin token belongs to nobody; log in as a user to make API keys".into(),
        ));
    };
    let req: ApiKeyCreate = decode_body(&body)?;
    if req.description.len() > 256 {
        return Err(ApiError::invalid(
            "description",
            "must be at most 256 bytes",
        ));
    }
    let mut spec = ApiKeySpec {
        description: req.description,
        user: user.clone(),
        environment: String::new(),
        role: None,
        active: true,
        secret_hash: String::new(),
    };
    if !req.environment.is_empty() {
        let env = req.environment.clone();
        let wanted = req.role.unwrap_or(Role::Member);
        let principal = caller.principal.clone();
        let own = state
            .store(move |s| Ok(env_role(s, &principal, &env)))
            .await??;
        let own = if caller.principal.is_admin() {
            // An admin's key still names an environment that exists.
            get_object(
                &state,
                Kind::Environment,
                &req.environment,
                &req.environment,
            )
            .await?;
            Some(Role::Owner)
        } else {
            own
        };
        match own {
            None => {
                return Err(ApiError::NotFound(format!(
                    "environment {:?} not found",
                    req.environment
                )));
            }
            Some(own) if own < wanted => {
                return Err(ApiError::Forbidden(format!(
                    "a key with role {wanted} in {:?} would exceed your own role there ({own})",
                    req.environment
                )));
            }
            Some(_) => {}
        }
        spec.environment = req.environment;
        spec.role = Some(wanted);
    } else if req.role.is_some() {
        return Err(ApiError::invalid(
            "role",
            "only an environment key has a role; give environment too",
        ));
    }
    let id = new_id();
    let secret = new_secret();
    spec.secret_hash = token_hash(&secret);
    let mut key: ApiKey = Object::new(Kind::ApiKey, GLOBAL, &id, spec);
    key.meta.uid = corral_controllers::new_uid();
    key.meta.created = state.clock.now_rfc3339();
    key.meta.generation = 1;
    key.meta
        .labels
        .insert(CredentialLabels::USER.into(), user.clone());
    if !key.spec.environment.is_empty() {
        key.meta.labels.insert(
            CredentialLabels::ENVIRONMENT.into(),
            key.spec.environment.clone(),
        );
    }
    let raw = key
        .to_raw()
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    Admission::new(&state, &caller).create(raw).await?;
    Ok(Json(SecretCreated {
        token: TokenKind::ApiKey.format(&id, &secret),
        id,
        expires: String::new(),
    }))
}

/// The key `id` if the caller may change it (its own, or any for an admin).
async fn owned_key(state: &AppState, caller: &Caller, id: &str) -> Result<ApiKey, ApiError> {
    let user = owner(caller)?;
    let raw = match get_object(state, Kind::ApiKey, GLOBAL, id).await {
        Err(ApiError::NotFound(_)) => return Err(ApiError::NotFound(format!("no API key {id:?}"))),
        other => other?,
    };
    let key: ApiKey =
        Object::from_raw(raw).map_err(|e| ApiError::Internal(format!("stored key: {e}")))?;
    if !caller.principal.is_admin() && user.as_deref() != Some(key.spec.user.as_str()) {
        return Err(ApiError::NotFound(format!("no API key {id:?}")));
    }
    Ok(key)
}

pub async fn remove(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Result<Json<RawObject>, ApiError> {
    owned_key(&state, &caller, &id).await?;
    let deleted = Admission::new(&state, &caller)
        .delete(Kind::ApiKey, GLOBAL, &id, None)
        .await?;
    state.auth_cache.invalidate();
    Ok(Json(redact(deleted)))
}

pub async fn deactivate(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Result<Json<RawObject>, ApiError> {
    set_active(&state, &caller, &id, false).await
}

pub async fn activate(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Result<Json<RawObject>, ApiError> {
    set_active(&state, &caller, &id, true).await
}

async fn set_active(
    state: &AppState,
    caller: &Caller,
    id: &str,
    active: bool,
) -> Result<Json<RawObject>, ApiError> {
    owned_key(state, caller, id).await?;
    let admission = Admission::new(state, caller);
    let raw = admission
        .edit(Kind::ApiKey, GLOBAL, id, |k: &mut ApiKey| {
            if k.spec.active == active {
                return Ok(Edit::Keep);
            }
            k.spec.active = active;
            Ok(Edit::Write)
        })
        .await?;
    state.auth_cache.invalidate();
    Ok(Json(redact(raw)))
}

/// Notes that key `id` was used: writes `status.last_used` in the
/// background, at most once a minute per key.
pub fn note_use(state: &AppState, id: &str) {
    let now = std::time::Instant::now();
    {
        let Ok(mut uses) = state.key_uses.lock() else {
            return;
        };
        if uses
            .get(id)
            .is_some_and(|t| now.duration_since(*t) < std::time::Duration::from_secs(60))
        {
            return;
        }
        if uses.len() > 100_000 {
            uses.clear();
        }
        uses.insert(id.to_string(), now);
    }
    let (state, id) = (state.clone(), id.to_string());
    tokio::spawn(async move {
        let at = state.clock.now_rfc3339();
        // The server's own bookkeeping, not the caller's write.
        let admission = Admission::new(&state, &Caller::system());
        let result = admission
            .edit(Kind::ApiKey, GLOBAL, &id, |k: &mut ApiKey| {
                k.status.last_used = at.clone();
                Ok(Edit::Write)
            })
            .await;
        if let Err(e) = result {
            tracing::debug!("API key {id}: last use not recorded: {e}");
        }
    });
}
