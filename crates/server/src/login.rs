//! Logging in and out, and the sessions an admin can list and revoke.
//!
//! A login checks a local user's argon2id hash, or asks the directory
//! (`ldap.rs`) for a user the server does not hold as local; either way it
//! answers a session token `crl_s_<id>_<secret>` whose secret is stored
//! hashed, and that expires (16 h by default).

use std::time::Instant;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};

use corral_api::{List, LoginRequest, LoginResponse};
use corral_store::Query;
use corral_types::{
    CredentialLabels, GLOBAL, Kind, Object, Provider, RawObject, Session, SessionSpec, TokenKind,
};

use crate::access::authenticate::load_user;
use crate::access::cookie;
use crate::access::principal::Via;
use crate::access::secrets::{
    new_id, new_secret, password_matches, redact, rfc3339_at_ms, token_hash,
};
use crate::access::{Caller, Principal};
use crate::admission::Admission;
use crate::audit::AuditNote;
use crate::error::{ApiError, decode_body};
use crate::state::AppState;

/// Who logged in, as the directory or the local users say.
pub struct Identity {
    pub user: String,
    pub provider: Provider,
    pub groups: Vec<String>,
}

fn noted(mut resp: Response, user: &str, summary: String) -> Response {
    resp.extensions_mut().insert(AuditNote {
        user: Some(user.to_string()),
        summary,
    });
    resp
}

/// `POST /v1/login`.
pub async fn login(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    body: Bytes,
) -> Response {
    let req: LoginRequest = match decode_body(&body) {
        Ok(r) => r,
        Err(e) => return noted(e.into_response(), "anonymous", "login: bad request".into()),
    };
    let user = req.username.trim().to_string();
    if let Some(wait) = state.logins.locked(&user, &caller.client, Instant::now()) {
        let err = ApiError::TooManyRequests(format!(
            "too many failed logins for {user:?} or from {}; try again in {} s",
            caller.client,
            wait.as_secs().max(1)
        ));
        return noted(
            err.into_response(),
            &user,
            "login refused: rate limited".into(),
        );
    }
    let admission = Admission::new(&state, &caller);
    match check_credentials(&admission, &user, req.password).await {
        Ok(identity) => {
            state.logins.succeeded(&user);
            match new_session(&admission, &identity, &caller.client).await {
                Ok(resp) if req.cookie => {
                    let summary = format!("login ({}, cookie) succeeded", identity.provider);
                    noted(
                        cookie_login(resp, state.session_ttl_s),
                        &identity.user,
                        summary,
                    )
                }
                Ok(resp) => {
                    let summary = format!("login ({}) succeeded", identity.provider);
                    noted(Json(resp).into_response(), &identity.user, summary)
                }
                Err(e) => noted(e.into_response(), &user, "login: session not stored".into()),
            }
        }
        Err(e) => {
            if matches!(e, ApiError::Unauthorized(_)) {
                state.logins.failed(&user, &caller.client, Instant::now());
            }
            let summary = format!("login failed: {e}");
            noted(e.into_response(), &user, summary)
        }
    }
}

/// The identity behind a user name and password, or why not (401 for a
/// wrong name or password, 502 for a directory that cannot be asked).
/// A browser's login: the session's token goes only into the `HttpOnly`
/// cookie; the body carries the CSRF token in its place.
fn cookie_login(mut resp: LoginResponse, ttl_s: u64) -> Response {
    let token = std::mem::take(&mut resp.token);
    resp.csrf_token = cookie::csrf_token(&token);
    let Some(set_cookie) = cookie::set_cookie(&token, ttl_s) else {
        return ApiError::Internal("the session token is not a valid cookie value".into())
            .into_response();
    };
    let mut out = Json(resp).into_response();
    out.headers_mut().insert(header::SET_COOKIE, set_cookie);
    out
}

async fn check_credentials(
    admission: &Admission,
    user: &str,
    password: String,
) -> Result<Identity, ApiError> {
    let state = admission.state();
    let wrong = || ApiError::Unauthorized("wrong user name or password".into());
    if user.is_empty() || password.is_empty() {
        return Err(wrong());
    }
    let name = user.to_string();
    let local = state.store(move |s| Ok(load_user(s, &name))).await??;
    match local {
        Some(u) if u.spec.provider == Provider::Local => {
            let hash = u.spec.password_hash.clone();
            let ok = tokio::task::spawn_blocking(move || password_matches(&password, &hash))
                .await
                .map_err(|e| ApiError::Internal(e.to_string()))?;
            if !ok {
                return Err(wrong());
            }
            if u.spec.disabled {
                return Err(ApiError::Unauthorized(format!("user {user:?} is disabled")));
            }
            Ok(Identity {
                user: u.meta.name,
                provider: Provider::Local,
                groups: Vec::new(),
            })
        }
        _ => crate::ldap::login(admission, user, &password)
            .await?
            .ok_or_else(wrong),
    }
}

/// Stores a session for `identity` and answers its token.
pub async fn new_session(
    admission: &Admission,
    identity: &Identity,
    client: &str,
) -> Result<LoginResponse, ApiError> {
    let state = admission.state();
    let id = new_id();
    let secret = new_secret();
    let expires = rfc3339_at_ms(state.clock.now_ms() + state.session_ttl_s * 1000);
    let mut session: Session = Object::new(
        Kind::Session,
        GLOBAL,
        &id,
        SessionSpec {
            user: identity.user.clone(),
            provider: identity.provider,
            groups: identity.groups.clone(),
            expires: expires.clone(),
            client: client.to_string(),
            secret_hash: token_hash(&secret),
        },
    );
    session.meta.uid = corral_controllers::new_uid();
    session.meta.created = state.clock.now_rfc3339();
    session.meta.generation = 1;
    session
        .meta
        .labels
        .insert(CredentialLabels::USER.into(), identity.user.clone());
    let raw = session
        .to_raw()
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    admission.create(raw).await?;
    Ok(LoginResponse {
        token: TokenKind::Session.format(&id, &secret),
        csrf_token: String::new(),
        user: identity.user.clone(),
        provider: identity.provider.to_string(),
        expires,
    })
}

/// `POST /v1/logout`: ends the caller's own session.
pub async fn logout(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
) -> Response {
    match end_session(&state, &caller).await {
        Ok(deleted) => {
            let mut resp = Json(deleted).into_response();
            resp.headers_mut()
                .insert(header::SET_COOKIE, cookie::clear_cookie());
            resp
        }
        Err(e) => e.into_response(),
    }
}

async fn end_session(state: &AppState, caller: &Caller) -> Result<RawObject, ApiError> {
    let Principal::User {
        via: Via::Session(id),
        ..
    } = &caller.principal
    else {
        return Err(ApiError::bad_request(
            None,
            "logout ends a login session; this credential is not one (remove API keys with corral apikey rm)",
        ));
    };
    let deleted = Admission::new(state, caller)
        .delete(Kind::Session, GLOBAL, id, None)
        .await?;
    state.auth_cache.invalidate();
    Ok(redact(deleted))
}

/// `GET /v1/sessions`.
pub async fn sessions(State(state): State<AppState>) -> Result<Json<List<RawObject>>, ApiError> {
    let listing = state
        .store(|s| s.list(&Query::kind(Kind::Session).in_environment(GLOBAL)))
        .await?;
    Ok(Json(List {
        items: listing.items.into_iter().map(redact).collect(),
        revision: listing.revision,
        continue_token: None,
    }))
}

/// `DELETE /v1/sessions/{id}`.
pub async fn revoke(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Result<Json<RawObject>, ApiError> {
    let deleted = match Admission::new(&state, &caller)
        .delete(Kind::Session, GLOBAL, &id, None)
        .await
    {
        Err(ApiError::NotFound(_)) => return Err(ApiError::NotFound("no such session".into())),
        other => other?,
    };
    state.auth_cache.invalidate();
    Ok(Json(redact(deleted)))
}
