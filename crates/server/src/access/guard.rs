//! The one gate every route passes: authenticate the caller, find its
//! role in the route's environment, decide by the route's rule, hand the
//! [`Caller`] to the handler, and record the audit entry.

use std::net::SocketAddr;
use std::time::Instant;

use axum::RequestExt;
use axum::extract::{ConnectInfo, RawPathParams, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use corral_api::AuditRecord;
use corral_store::{Query, Store, StoreError};
use corral_types::{Kind, Member, Object, Role, TokenKind};

use super::authenticate::{AuthFailure, authenticate_for, load_user};
use super::principal::{Caller, Principal, role_from_bindings};
use super::rules::{Decision, Resource, Rule, decide};
use crate::audit::AuditNote;
use crate::error::ApiError;
use crate::state::AppState;

/// What the gate of one route knows.
#[derive(Clone)]
pub struct Gate {
    pub state: AppState,
    pub rule: Rule,
    /// `POST /v1/environments/{env}/services`, for the audit log.
    pub route: String,
    /// Record only refusals (heartbeats and status reports: thousands a
    /// second at scale, and the instances' own status tells the story).
    pub quiet: bool,
}

/// The bearer token of a request, if it has one.
pub fn bearer(req: &Request) -> Option<String> {
    let headers = req.headers();
    let from_authorization = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim().to_string())
        .filter(|t| !t.is_empty());
    from_authorization.or_else(|| websocket_bearer(headers))
}

/// A browser's WebSocket cannot send an `Authorization` header: its
/// token comes as one of the offered subprotocols,
/// `corral.bearer.<token>` (as Kubernetes does), on an upgrade only. A
/// header, unlike a query string, is not written to access logs.
fn websocket_bearer(headers: &axum::http::HeaderMap) -> Option<String> {
    let upgrade = headers
        .get(axum::http::header::UPGRADE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("websocket"));
    if !upgrade {
        return None;
    }
    headers
        .get_all(axum::http::header::SEC_WEBSOCKET_PROTOCOL)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .find_map(|p| {
            p.trim()
                .strip_prefix(corral_api::exec::BEARER_PROTOCOL_PREFIX)
        })
        .filter(|t| !t.is_empty())
        .map(str::to_string)
}

pub fn client_address(req: &Request) -> String {
    req.extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip().to_string())
        .unwrap_or_else(|| "unknown".into())
}

/// The role of `principal` in environment `env`; `None` when it has none
/// or the environment does not exist.
pub fn env_role(
    store: &dyn Store,
    principal: &Principal,
    env: &str,
) -> Result<Option<Role>, ApiError> {
    let (user, groups, cap) = match principal {
        Principal::User { name, groups, .. } => (name.as_str(), groups.as_slice(), None),
        Principal::EnvKey {
            user,
            environment,
            role,
            ..
        } => {
            if environment != env {
                return Ok(None);
            }
            (user.as_str(), &[][..], Some(*role))
        }
        _ => return Ok(None),
    };
    match store.get(Kind::Environment, env, env) {
        Ok(_) => {}
        Err(StoreError::NotFound { .. }) => return Ok(None),
        Err(e) => return Err(e.into()),
    }
    // An environment key acts with at most its user's own role.
    let user_is_admin = cap.is_some() && load_user(store, user)?.is_some_and(|u| u.spec.admin);
    let own = if user_is_admin {
        Some(Role::Owner)
    } else {
        let listing = store.list(&Query::kind(Kind::Member).in_environment(env))?;
        let members: Vec<Member> = listing
            .items
            .into_iter()
            .filter_map(|raw| Object::from_raw(raw).ok())
            .collect();
        role_from_bindings(
            user,
            groups,
            members
                .iter()
                .map(|m| (m.spec.subject.as_str(), m.spec.role)),
        )
    };
    Ok(match cap {
        Some(cap) => own.map(|r| r.min(cap)),
        None => own,
    })
}

/// A node credential acting for another node of its environment.
fn other_node(principal: &Principal, rule: &Rule, node_param: Option<&str>) -> Option<String> {
    match (principal, rule.resource, node_param) {
        (Principal::Node { node, .. }, Resource::Agent, Some(path_node)) if path_node != node => {
            Some(format!(
                "the credential of node {node:?} may only act for node {node:?}, not {path_node:?}"
            ))
        }
        _ => None,
    }
}

/// Who the token is and, for a rule scoped to an environment, the
/// caller's role there; `Ok(Err(_))` is a credential refused.
async fn resolve(
    gate: &Gate,
    token: Option<String>,
    env: Option<String>,
    now_ms: u64,
) -> Result<Result<(Principal, Option<Role>), AuthFailure>, ApiError> {
    let rule = gate.rule;
    let needs_role = |p: &Principal| {
        rule.scope == super::rules::Scope::Environment
            && env.is_some()
            && matches!(
                p,
                Principal::User { admin: false, .. } | Principal::EnvKey { .. }
            )
    };
    // The admin token, and credentials checked within a few seconds, need
    // no store read (and no blocking thread) unless a role is looked up.
    let cached = match token.as_deref() {
        Some(t)
            if super::secrets::constant_time_eq(
                t.as_bytes(),
                gate.state.admin_token.as_bytes(),
            ) =>
        {
            Some(Principal::AdminToken)
        }
        Some(t) => TokenKind::parse(t).and_then(|(_, id, secret)| {
            gate.state
                .auth_cache
                .get(id, secret, Instant::now(), now_ms)
        }),
        None => None,
    };
    if let Some(p) = &cached
        && !needs_role(p)
    {
        return Ok(Ok((p.clone(), None)));
    }
    let admin_token = gate.state.admin_token.clone();
    let state = gate.state.clone();
    gate.state
        .store(move |s| {
            let principal = match cached {
                Some(p) => p,
                None => match authenticate_for(s, &admin_token, token.as_deref(), now_ms) {
                    Ok(Ok((p, valid_until_ms))) => {
                        if let Some((_, id, secret)) = token.as_deref().and_then(TokenKind::parse)
                            && valid_until_ms > 0
                        {
                            state.auth_cache.put(
                                id,
                                &super::secrets::token_hash(secret),
                                &p,
                                valid_until_ms,
                                Instant::now(),
                            );
                        }
                        p
                    }
                    Ok(Err(failure)) => return Ok(Ok(Err(failure))),
                    Err(e) => return Ok(Err(e)),
                },
            };
            let role = match (&env, rule.scope) {
                (Some(env), super::rules::Scope::Environment) if !principal.is_admin() => {
                    match env_role(s, &principal, env) {
                        Ok(role) => role,
                        Err(e) => return Ok(Err(e)),
                    }
                }
                _ => None,
            };
            Ok(Ok(Ok((principal, role))))
        })
        .await?
}

/// The error a decision other than allow answers.
fn refusal(decision: &Decision, env: Option<&str>) -> Option<ApiError> {
    match decision {
        Decision::Allow => None,
        Decision::Unauthenticated => Some(ApiError::Unauthorized("missing bearer token".into())),
        Decision::Deny(reason) => Some(ApiError::Forbidden(reason.clone())),
        Decision::Hidden => Some(ApiError::NotFound(format!(
            "environment {:?} not found",
            env.unwrap_or_default()
        ))),
    }
}

/// The route on which a node credential without a client certificate
/// (made before TLS) gets one.
pub const NODE_CERTIFICATE_ROUTE: &str = "/v1/environments/{env}/nodes/{name}/certificate";

/// Why a node's credential is refused at the TLS layer's word: it is bound
/// to a client certificate the connection did not present, or it has none
/// yet on a server that requires them (it may then only get one).
fn certificate_refusal(
    gate: &Gate,
    principal: &Principal,
    presented: Option<&corral_serve::ClientCertificate>,
) -> Option<String> {
    let Principal::Node { certificate, .. } = principal else {
        return None;
    };
    if certificate.is_empty() {
        return (gate.state.require_node_certificates && gate.route != NODE_CERTIFICATE_ROUTE)
            .then(|| {
                "this node credential has no client certificate yet: restart the agent, which asks for one".to_string()
            });
    }
    match presented {
        Some(p) if super::secrets::constant_time_eq(p.fingerprint.as_bytes(), certificate.as_bytes()) => None,
        Some(_) => Some("this node credential belongs to another client certificate".into()),
        None => Some(
            "this node credential is bound to the node's client certificate: present it (mutual TLS)"
                .into(),
        ),
    }
}

/// The middleware of every route.
pub async fn check(State(gate): State<Gate>, mut req: Request, next: Next) -> Response {
    let client = client_address(&req);
    let mut token = bearer(&req);
    // A browser's session comes as a cookie (never beside a header token;
    // public routes such as login ignore it).
    let cookie = match token {
        None if gate.rule.resource != Resource::Public => {
            super::cookie::session_token(req.headers())
        }
        _ => None,
    };
    if cookie.is_some() {
        token = cookie.clone();
    }
    // What was asked, as the audit log's summary of a write: the method
    // and the path with its query (never a body: bodies may hold secrets).
    let asked = format!("{} {}", req.method(), req.uri());
    let params: Vec<(String, String)> = match req.extract_parts::<RawPathParams>().await {
        Ok(p) => p
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        Err(_) => Vec::new(),
    };
    let param = |name: &str| {
        params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    };
    let env = param("env");
    // The node an agent's route acts for (`.../nodes/{name}/heartbeat`).
    let node_param = gate
        .route
        .contains("/nodes/{name}")
        .then(|| param("name"))
        .flatten();
    let now_ms = gate.state.clock.now_ms();
    let entry = |principal: Principal, code: u16, summary: String| Entry {
        principal,
        client: client.clone(),
        env: env.clone().unwrap_or_default(),
        route: gate.route.clone(),
        object: param("name").unwrap_or_default(),
        code,
        summary,
    };
    let (principal, role) = match resolve(&gate, token, env.clone(), now_ms).await {
        Err(e) => return e.into_response(),
        Ok(Ok(found)) => found,
        Ok(Err(_)) if gate.rule.resource == Resource::Public => (Principal::Anonymous, None),
        Ok(Err(failure)) => {
            let err = ApiError::Unauthorized(failure.to_string());
            let record = entry(Principal::Anonymous, 401, failure.to_string());
            gate.state.audit.record(record.into_record(now_ms));
            return err.into_response();
        }
    };
    if let Some(session_token) = &cookie {
        if let Some(reason) =
            super::cookie::csrf_refusal(req.method(), req.headers(), session_token)
        {
            let record = entry(principal, 403, format!("refused: {reason}"));
            gate.state.audit.record(record.into_record(now_ms));
            return ApiError::Forbidden(reason).into_response();
        }
        req.extensions_mut().insert(super::cookie::CookieSession {
            csrf_token: super::cookie::csrf_token(session_token),
        });
    }
    let presented = req.extensions().get::<corral_serve::ClientCertificate>();
    if let Some(reason) = certificate_refusal(&gate, &principal, presented) {
        let record = entry(principal, 401, format!("refused: {reason}"));
        gate.state.audit.record(record.into_record(now_ms));
        return ApiError::Unauthorized(reason).into_response();
    }
    let decision = match other_node(&principal, &gate.rule, node_param.as_deref()) {
        Some(reason) => Decision::Deny(reason),
        None => decide(&principal, &gate.rule, env.as_deref(), role),
    };
    if let Some(err) = refusal(&decision, env.as_deref()) {
        let record = entry(principal, err.status().as_u16(), format!("refused: {err}"));
        gate.state.audit.record(record.into_record(now_ms));
        return err.into_response();
    }
    if let Principal::User {
        via: super::principal::Via::ApiKey(id),
        ..
    }
    | Principal::EnvKey { key: id, .. } = &principal
    {
        crate::apikeys::note_use(&gate.state, id);
    }
    let caller = Caller::new(
        principal.clone(),
        role,
        client.clone(),
        gate.rule,
        env.clone(),
    );
    req.extensions_mut().insert(caller.clone());
    let response = next.run(req).await;
    let note = response.extensions().get::<AuditNote>().cloned();
    let code = response.status().as_u16();
    let audited = gate.rule.is_write() && !(gate.quiet && code < 400);
    if audited || note.is_some() {
        // What was asked and what admission stored for it.
        let summary = match caller.written_summary() {
            Some(written) => format!("{asked} (stored {written})"),
            None => asked,
        };
        let mut record = entry(principal, code, summary).into_record(now_ms);
        if let Some(note) = note {
            if let Some(user) = note.user {
                record.user = user;
            }
            record.summary = note.summary;
        }
        gate.state.audit.record(record);
    }
    response
}

/// The parts of an audit record the gate knows.
struct Entry {
    principal: Principal,
    client: String,
    env: String,
    route: String,
    object: String,
    code: u16,
    summary: String,
}

impl Entry {
    fn into_record(self, now_ms: u64) -> AuditRecord {
        AuditRecord {
            time_ms: now_ms,
            time: super::secrets::rfc3339_at_ms(now_ms),
            user: self
                .principal
                .user()
                .map(str::to_string)
                .unwrap_or_else(|| self.principal.who()),
            method: self.principal.method().into(),
            client: self.client,
            environment: self.env,
            verb: self.route,
            object: self.object,
            code: self.code,
            summary: self.summary,
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use axum::http::{HeaderMap, HeaderValue, header};

    use super::*;

    fn headers(pairs: &[(header::HeaderName, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(k.clone(), HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn a_browser_websocket_brings_its_token_as_a_subprotocol() {
        let h = headers(&[
            (header::UPGRADE, "websocket"),
            (
                header::SEC_WEBSOCKET_PROTOCOL,
                "corral.exec.v1, corral.bearer.crl_session_a_b",
            ),
        ]);
        assert_eq!(websocket_bearer(&h).as_deref(), Some("crl_session_a_b"));
    }

    #[test]
    fn a_subprotocol_token_counts_only_on_a_websocket_upgrade() {
        let plain = headers(&[(header::SEC_WEBSOCKET_PROTOCOL, "corral.bearer.t")]);
        assert_eq!(websocket_bearer(&plain), None);
        let empty = headers(&[
            (header::UPGRADE, "websocket"),
            (
                header::SEC_WEBSOCKET_PROTOCOL,
                "corral.exec.v1, corral.bearer.",
            ),
        ]);
        assert_eq!(websocket_bearer(&empty), None);
    }
}
