//! Logins of directory users (LDAP, Active Directory), and the routes an
//! admin sets the directory with (`/v1/auth/ldap`).
//!
//! The settings are one global object (`AuthProvider` `ldap`); its bind
//! password is never answered. A directory user who logs in gets a `User`
//! object (provider `ldap`, its groups as seen at login), so it can be
//! made a member of environments by name, as its groups can be as
//! `group:NAME`. An unreachable directory never blocks local users: they
//! are checked first, without asking it.

use axum::body::Bytes;
use axum::extract::State;
use axum::{Extension, Json};
use serde::Deserialize;

use corral_directory::{Directory, DirectoryError, LdapConfig, LdapDirectory};
use corral_store::StoreError;
use corral_types::{GLOBAL, Kind, Object, Provider, RawObject, User, UserSpec};

use crate::access::Caller;
use crate::access::secrets::redact;
use crate::admission::Admission;
use crate::error::{ApiError, decode_body};
use crate::login::Identity;
use crate::objects::get_object;
use crate::state::AppState;

/// The object the settings are kept in.
const NAME: &str = "ldap";

/// The configured directory, if any.
async fn configured(state: &AppState) -> Result<Option<LdapDirectory>, ApiError> {
    let raw = match state
        .store(|s| match s.get(Kind::AuthProvider, GLOBAL, NAME) {
            Ok(raw) => Ok(Some(raw)),
            Err(StoreError::NotFound { .. }) => Ok(None),
            Err(e) => Err(e),
        })
        .await?
    {
        Some(raw) => raw,
        None => return Ok(None),
    };
    let config: LdapConfig = serde_json::from_value(raw.spec)
        .map_err(|e| ApiError::Internal(format!("stored directory settings: {e}")))?;
    LdapDirectory::new(config)
        .map(Some)
        .map_err(|e| ApiError::BadGateway(format!("directory settings: {e}")))
}

/// What a directory failure means to someone logging in.
fn login_error(e: DirectoryError) -> ApiError {
    match e {
        DirectoryError::WrongPassword { username } => {
            ApiError::Unauthorized(format!("wrong password for directory user {username:?}"))
        }
        DirectoryError::UserNotFound { username } => ApiError::Unauthorized(format!(
            "no user {username:?} here or in the directory (deleted?)"
        )),
        DirectoryError::UserDisabled { username } => {
            ApiError::Unauthorized(format!("directory user {username:?} is disabled"))
        }
        DirectoryError::Ambiguous { username, count } => ApiError::Unauthorized(format!(
            "{count} directory entries match {username:?}; ask an admin to fix the user filter"
        )),
        DirectoryError::Unreachable { url, message } => ApiError::BadGateway(format!(
            "the directory at {url} cannot be reached ({message}); local users can still log in"
        )),
        other => ApiError::BadGateway(format!("the directory: {other}")),
    }
}

/// The directory's answer for `user`: `Ok(None)` when no directory is
/// configured (the caller answers "wrong user name or password").
pub async fn login(
    admission: &Admission,
    user: &str,
    password: &str,
) -> Result<Option<Identity>, ApiError> {
    let state = admission.state();
    let Some(directory) = configured(state).await? else {
        return Ok(None);
    };
    let found = directory
        .authenticate(user, password)
        .await
        .map_err(login_error)?;
    let name = found.username.to_ascii_lowercase();
    corral_types::validate_name("username", &name).map_err(|e| {
        ApiError::Unauthorized(format!(
            "directory user {:?} cannot be a Corral user: {}",
            found.username, e.message
        ))
    })?;
    remember(admission, &name, &found.display_name, &found.groups).await?;
    Ok(Some(Identity {
        user: name,
        provider: Provider::Ldap,
        groups: found.groups,
    }))
}

/// Creates or updates the `User` of a directory user who logged in.
async fn remember(
    admission: &Admission,
    name: &str,
    display_name: &str,
    groups: &[String],
) -> Result<(), ApiError> {
    let state = admission.state();
    let now = state.clock.now_rfc3339();
    for _ in 0..crate::admission::ATTEMPTS {
        let op = match get_object(state, Kind::User, GLOBAL, name).await {
            Ok(raw) => {
                let mut u = User::from_raw(raw).map_err(|e| ApiError::Internal(e.to_string()))?;
                if u.spec.provider != Provider::Ldap {
                    return Err(ApiError::Unauthorized(format!(
                        "{name:?} is a local user; log in with its local password"
                    )));
                }
                u.spec.display_name = display_name.to_string();
                u.status.groups = groups.to_vec();
                u.status.last_login = now.clone();
                corral_store::Op::Update(u.to_raw().map_err(|e| ApiError::Internal(e.to_string()))?)
            }
            Err(ApiError::NotFound(_)) => {
                let mut u: User = Object::new(
                    Kind::User,
                    GLOBAL,
                    name,
                    UserSpec {
                        display_name: display_name.to_string(),
                        admin: false,
                        provider: Provider::Ldap,
                        password_hash: String::new(),
                        disabled: false,
                    },
                );
                u.meta.uid = corral_controllers::new_uid();
                u.meta.created = now.clone();
                u.meta.generation = 1;
                u.status.groups = groups.to_vec();
                u.status.last_login = now.clone();
                corral_store::Op::Create(u.to_raw().map_err(|e| ApiError::Internal(e.to_string()))?)
            }
            Err(e) => return Err(e),
        };
        match admission.apply(vec![op]).await {
            Err(ApiError::Conflict(_)) => continue,
            other => return other.map(|_| ()),
        }
    }
    Err(ApiError::Conflict(format!(
        "user {name:?} keeps changing; log in again"
    )))
}

/// `GET /v1/auth/ldap`: the settings, without the bind password.
pub async fn show(State(state): State<AppState>) -> Result<Json<RawObject>, ApiError> {
    match get_object(&state, Kind::AuthProvider, GLOBAL, NAME).await {
        Ok(raw) => Ok(Json(redact(raw))),
        Err(ApiError::NotFound(_)) => Err(ApiError::NotFound(
            "no directory is configured (corral auth ldap set)".into(),
        )),
        Err(e) => Err(e),
    }
}

/// `PUT /v1/auth/ldap`: checks the settings (every bad one names its
/// field) and keeps them.
pub async fn set(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    body: Bytes,
) -> Result<Json<RawObject>, ApiError> {
    let admission = Admission::new(&state, &caller);
    let config: LdapConfig = decode_body(&body)?;
    config.validate().map_err(|e| match e {
        DirectoryError::Config { field, message } => ApiError::invalid(field, message),
        other => ApiError::invalid("body", other.to_string()),
    })?;
    let spec = serde_json::to_value(&config).map_err(|e| ApiError::Internal(e.to_string()))?;
    let now = state.clock.now_rfc3339();
    let raw = match get_object(&state, Kind::AuthProvider, GLOBAL, NAME).await {
        Ok(mut existing) => {
            existing.spec = spec;
            existing.meta.generation += 1;
            admission.update(existing).await?
        }
        Err(ApiError::NotFound(_)) => {
            let mut obj: RawObject = Object::new(Kind::AuthProvider, GLOBAL, NAME, spec);
            obj.meta.uid = corral_controllers::new_uid();
            obj.meta.created = now;
            obj.meta.generation = 1;
            admission.create(obj).await?
        }
        Err(e) => return Err(e),
    };
    Ok(Json(redact(raw)))
}

/// `DELETE /v1/auth/ldap`.
pub async fn remove(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
) -> Result<Json<RawObject>, ApiError> {
    let deleted = match Admission::new(&state, &caller)
        .delete(Kind::AuthProvider, GLOBAL, NAME, None)
        .await
    {
        Err(ApiError::NotFound(_)) => {
            return Err(ApiError::NotFound("no directory is configured".into()));
        }
        other => other?,
    };
    Ok(Json(redact(deleted)))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TestRequest {
    username: String,
    #[serde(default)]
    password: Option<String>,
}

/// `POST /v1/auth/ldap/test`: finds a user (and checks a password, when
/// one is given), answering the user or the directory's error.
pub async fn test(
    State(state): State<AppState>,
    body: Bytes,
) -> Result<Json<serde_json::Value>, ApiError> {
    let req: TestRequest = decode_body(&body)?;
    let Some(directory) = configured(&state).await? else {
        return Err(ApiError::NotFound(
            "no directory is configured (corral auth ldap set)".into(),
        ));
    };
    let found = match &req.password {
        Some(p) => directory.authenticate(&req.username, p).await,
        None => directory.lookup(&req.username).await,
    }
    .map_err(login_error)?;
    serde_json::to_value(found)
        .map(Json)
        .map_err(|e| ApiError::Internal(e.to_string()))
}
