//! From a presented credential to a [`Principal`]: the break-glass admin
//! token, a session, an API key, a node credential or a registration
//! token. Runs on a blocking thread (it reads the store).

use corral_store::{Store, StoreError};
use corral_types::{
    ApiKey, GLOBAL, Kind, NodeCredential, Object, RegistrationToken, Session, TokenKind, User,
};

use super::principal::{Principal, Via};
use super::secrets::{constant_time_eq, ms_of_rfc3339, token_matches};
use crate::error::ApiError;

/// Why a credential was not taken (all are 401s; the message says which).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthFailure {
    #[error("missing bearer token")]
    Missing,
    #[error("invalid token")]
    Invalid,
    #[error("the session has expired; log in again")]
    Expired,
    #[error("the {0} has been revoked")]
    Revoked(&'static str),
    #[error("user {0:?} is disabled")]
    Disabled(String),
    #[error("the registration token has expired; make a new one with `corral host add-command`")]
    RegistrationExpired,
}

fn get_typed<S, T>(
    store: &dyn Store,
    kind: Kind,
    name: &str,
) -> Result<Option<Object<S, T>>, ApiError>
where
    S: serde::Serialize + serde::de::DeserializeOwned,
    T: serde::Serialize + serde::de::DeserializeOwned + Default,
{
    match store.get(kind, GLOBAL, name) {
        Ok(raw) => Object::from_raw(raw)
            .map(Some)
            .map_err(|e| ApiError::Internal(format!("stored {kind} does not decode: {e}"))),
        Err(StoreError::NotFound { .. }) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// The user `name`, if there is one.
pub fn load_user(store: &dyn Store, name: &str) -> Result<Option<User>, ApiError> {
    get_typed(store, Kind::User, name)
}

/// Who `token` is, at `now_ms`. `Ok(Err(_))` is a credential refused.
pub fn authenticate(
    store: &dyn Store,
    admin_token: &str,
    token: Option<&str>,
    now_ms: u64,
) -> Result<Result<Principal, AuthFailure>, ApiError> {
    Ok(authenticate_for(store, admin_token, token, now_ms)?.map(|(p, _)| p))
}

/// [`authenticate`], and until when (ms) the answer holds by itself (a
/// session's expiry; `u64::MAX` for credentials that do not expire).
pub fn authenticate_for(
    store: &dyn Store,
    admin_token: &str,
    token: Option<&str>,
    now_ms: u64,
) -> Result<Result<(Principal, u64), AuthFailure>, ApiError> {
    let Some(token) = token else {
        return Ok(Err(AuthFailure::Missing));
    };
    if constant_time_eq(token.as_bytes(), admin_token.as_bytes()) {
        return Ok(Ok((Principal::AdminToken, u64::MAX)));
    }
    let Some((kind, id, secret)) = TokenKind::parse(token) else {
        return Ok(Err(AuthFailure::Invalid));
    };
    let forever = |r: Result<Principal, AuthFailure>| r.map(|p| (p, u64::MAX));
    match kind {
        TokenKind::Session => session(store, id, secret, now_ms),
        TokenKind::ApiKey => Ok(forever(api_key(store, id, secret)?)),
        TokenKind::Node => Ok(forever(node(store, id, secret)?)),
        // Not cached: a registration token is used once per host.
        TokenKind::Registration => Ok(registration(store, id, secret, now_ms)?.map(|p| (p, 0))),
    }
}

fn session(
    store: &dyn Store,
    id: &str,
    secret: &str,
    now_ms: u64,
) -> Result<Result<(Principal, u64), AuthFailure>, ApiError> {
    let Some(s): Option<Session> = get_typed(store, Kind::Session, id)? else {
        return Ok(Err(AuthFailure::Revoked("session")));
    };
    if !token_matches(secret, &s.spec.secret_hash) {
        return Ok(Err(AuthFailure::Invalid));
    }
    let expires_ms = ms_of_rfc3339(&s.spec.expires);
    if expires_ms <= now_ms {
        return Ok(Err(AuthFailure::Expired));
    }
    let Some(user) = load_user(store, &s.spec.user)? else {
        return Ok(Err(AuthFailure::Revoked("user")));
    };
    if user.spec.disabled {
        return Ok(Err(AuthFailure::Disabled(user.meta.name)));
    }
    Ok(Ok((
        Principal::User {
            name: user.meta.name,
            admin: user.spec.admin,
            provider: s.spec.provider,
            groups: s.spec.groups,
            via: Via::Session(id.to_string()),
        },
        expires_ms,
    )))
}

fn api_key(
    store: &dyn Store,
    id: &str,
    secret: &str,
) -> Result<Result<Principal, AuthFailure>, ApiError> {
    let Some(key): Option<ApiKey> = get_typed(store, Kind::ApiKey, id)? else {
        return Ok(Err(AuthFailure::Revoked("API key")));
    };
    if !token_matches(secret, &key.spec.secret_hash) {
        return Ok(Err(AuthFailure::Invalid));
    }
    if !key.spec.active {
        return Ok(Err(AuthFailure::Revoked("API key")));
    }
    let Some(user) = load_user(store, &key.spec.user)? else {
        return Ok(Err(AuthFailure::Revoked("user of the API key")));
    };
    if user.spec.disabled {
        return Ok(Err(AuthFailure::Disabled(user.meta.name)));
    }
    if key.spec.environment.is_empty() {
        let groups = user_groups(&user);
        return Ok(Ok(Principal::User {
            name: user.meta.name,
            admin: user.spec.admin,
            provider: user.spec.provider,
            groups,
            via: Via::ApiKey(id.to_string()),
        }));
    }
    Ok(Ok(Principal::EnvKey {
        key: id.to_string(),
        user: user.meta.name,
        environment: key.spec.environment,
        role: key.spec.role.unwrap_or(corral_types::Role::Member),
    }))
}

/// A directory user's groups as seen at the last login.
fn user_groups(user: &User) -> Vec<String> {
    user.status.groups.clone()
}

fn node(
    store: &dyn Store,
    id: &str,
    secret: &str,
) -> Result<Result<Principal, AuthFailure>, ApiError> {
    let Some(cred): Option<NodeCredential> = get_typed(store, Kind::NodeCredential, id)? else {
        return Ok(Err(AuthFailure::Revoked("node credential")));
    };
    if !token_matches(secret, &cred.spec.secret_hash) {
        return Ok(Err(AuthFailure::Invalid));
    }
    Ok(Ok(Principal::Node {
        environment: cred.spec.environment,
        node: cred.spec.node,
        credential: id.to_string(),
        certificate: cred.spec.certificate,
    }))
}

fn registration(
    store: &dyn Store,
    id: &str,
    secret: &str,
    now_ms: u64,
) -> Result<Result<Principal, AuthFailure>, ApiError> {
    let Some(tok): Option<RegistrationToken> = get_typed(store, Kind::RegistrationToken, id)?
    else {
        return Ok(Err(AuthFailure::Revoked("registration token")));
    };
    if !token_matches(secret, &tok.spec.secret_hash) {
        return Ok(Err(AuthFailure::Invalid));
    }
    if ms_of_rfc3339(&tok.spec.expires) <= now_ms {
        return Ok(Err(AuthFailure::RegistrationExpired));
    }
    Ok(Ok(Principal::Registration {
        environment: tok.spec.environment,
        token: id.to_string(),
    }))
}
