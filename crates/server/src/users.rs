//! `/v1/users`: local users (argon2id password hashes) and the directory
//! users seen at login. Admins only, but a user may set its own password.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::response::Response;
use axum::{Extension, Json};

use corral_api::{PasswordChange, UserCreate};
use corral_store::{Op, Query, Store};
use corral_types::{
    CredentialLabels, GLOBAL, Kind, LabelSelector, Object, Provider, RawObject, User, UserSpec,
};

use crate::access::Caller;
use crate::access::secrets::{hash_password, redact};
use crate::admission::{Admission, Edit};
use crate::error::{ApiError, decode_body};
use crate::objects::{ListParams, get_object, list_or_watch};
use crate::state::AppState;

/// The shortest password a local user may have.
pub const MIN_PASSWORD: usize = 8;

pub fn check_password(field: &str, password: &str) -> Result<(), ApiError> {
    if password.chars().count() < MIN_PASSWORD {
        return Err(ApiError::invalid(
            field,
            format!("must be at least {MIN_PASSWORD} characters"),
        ));
    }
    if password.len() > 1024 {
        return Err(ApiError::invalid(field, "must be at most 1024 bytes"));
    }
    Ok(())
}

/// The users, or with `?watch=true&revision=N` their changes.
pub async fn list(
    State(state): State<AppState>,
    axum::extract::Query(params): axum::extract::Query<ListParams>,
) -> Result<Response, ApiError> {
    let query = Query::kind(Kind::User).in_environment(GLOBAL);
    list_or_watch(&state, query, params, redact).await
}

pub async fn get(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<Json<RawObject>, ApiError> {
    Ok(Json(redact(get_user(&state, &name).await?)))
}

async fn get_user(state: &AppState, name: &str) -> Result<RawObject, ApiError> {
    match get_object(state, Kind::User, GLOBAL, name).await {
        Err(ApiError::NotFound(_)) => Err(ApiError::NotFound(format!("no user {name:?}"))),
        other => other,
    }
}

/// A new local user object (not yet stored).
pub fn new_user(state: &AppState, name: &str, spec: UserSpec) -> Result<RawObject, ApiError> {
    let mut user: User = Object::new(Kind::User, GLOBAL, name, spec);
    user.meta.uid = corral_controllers::new_uid();
    user.meta.created = state.clock.now_rfc3339();
    user.meta.generation = 1;
    user.to_raw().map_err(|e| ApiError::Internal(e.to_string()))
}

pub async fn create(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    body: Bytes,
) -> Result<Json<RawObject>, ApiError> {
    let req: UserCreate = decode_body(&body)?;
    corral_types::validate_name("name", &req.name)?;
    check_password("password", &req.password)?;
    let hash = tokio::task::spawn_blocking(move || hash_password(&req.password))
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))??;
    let raw = new_user(
        &state,
        &req.name,
        UserSpec {
            display_name: req.display_name,
            admin: req.admin,
            provider: Provider::Local,
            password_hash: hash,
            disabled: false,
        },
    )?;
    let name = req.name.clone();
    match Admission::new(&state, &caller).create(raw).await {
        Ok(created) => Ok(Json(redact(created))),
        Err(ApiError::Conflict(_)) => {
            Err(ApiError::Conflict(format!("user {name:?} already exists")))
        }
        Err(e) => Err(e),
    }
}

/// Removes a user with its sessions and API keys; never the last admin.
pub async fn remove(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(name): Path<String>,
) -> Result<Json<RawObject>, ApiError> {
    let raw = get_user(&state, &name).await?;
    let user = User::from_raw(raw.clone())
        .map_err(|e| ApiError::Internal(format!("stored user does not decode: {e}")))?;
    if user.spec.admin && !user.spec.disabled {
        let n = name.clone();
        let others = state.store(move |s| other_admins(s, &n)).await??;
        if others == 0 {
            return Err(ApiError::Conflict(format!(
                "user {name:?} is the last admin; make another admin first"
            )));
        }
    }
    let n = name.clone();
    let revision = raw.meta.revision;
    let deleted = Admission::new(&state, &caller)
        .store(move |s| {
            let mut ops = vec![Op::Delete {
                kind: Kind::User,
                environment: GLOBAL.into(),
                name: n.clone(),
                revision: Some(revision),
            }];
            let selector = LabelSelector::parse(&format!("{}={n}", CredentialLabels::USER))
                .map_err(|e| corral_store::StoreError::Backend(e.to_string()))?;
            for kind in [Kind::Session, Kind::ApiKey] {
                let q = Query::kind(kind)
                    .in_environment(GLOBAL)
                    .with_selector(selector.clone());
                for o in s.list(&q)?.items {
                    ops.push(Op::Delete {
                        kind,
                        environment: GLOBAL.into(),
                        name: o.meta.name,
                        revision: None,
                    });
                }
            }
            let mut written = s.apply(ops)?;
            Ok(written.swap_remove(0))
        })
        .await?;
    state.auth_cache.invalidate();
    tracing::info!("user {name} removed");
    Ok(Json(redact(deleted)))
}

/// Admins other than `name` that are not disabled.
fn other_admins(
    store: &dyn Store,
    name: &str,
) -> Result<Result<usize, ApiError>, corral_store::StoreError> {
    let users = store.list(&Query::kind(Kind::User).in_environment(GLOBAL))?;
    let mut count = 0;
    for raw in users.items {
        match User::from_raw(raw) {
            Ok(u) if u.meta.name != name && u.spec.admin && !u.spec.disabled => count += 1,
            Ok(_) => {}
            Err(e) => return Ok(Err(ApiError::Internal(e.to_string()))),
        }
    }
    Ok(Ok(count))
}

/// Sets a local user's password: the user itself, or an admin.
pub async fn set_password(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(name): Path<String>,
    body: Bytes,
) -> Result<Json<RawObject>, ApiError> {
    let own = caller.principal.user() == Some(name.as_str())
        && matches!(caller.principal, crate::access::Principal::User { .. });
    if !own && !caller.principal.is_admin() {
        return Err(ApiError::Forbidden(format!(
            "only {name:?} itself or an admin may set its password"
        )));
    }
    let req: PasswordChange = decode_body(&body)?;
    check_password("password", &req.password)?;
    let hash = tokio::task::spawn_blocking(move || hash_password(&req.password))
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))??;
    get_user(&state, &name).await?;
    let admission = Admission::new(&state, &caller);
    let raw = admission
        .edit(Kind::User, GLOBAL, &name, |u: &mut User| {
            if u.spec.provider != Provider::Local {
                return Err(ApiError::Conflict(format!(
                    "user {name:?} comes from the directory; change its password there"
                )));
            }
            u.spec.password_hash = hash.clone();
            Ok(Edit::Write)
        })
        .await?;
    Ok(Json(redact(raw)))
}
