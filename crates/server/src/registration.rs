//! Adding hosts: registration tokens (bound to one environment, expiring,
//! revocable) and their one use, `POST /v1/register`, which gives the
//! agent a credential of its own for its node.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::{Extension, Json};

use corral_api::{List, RegisterRequest, RegisterResponse, SecretCreated, TokenCreate};
use corral_store::{Op, Query};
use corral_types::{
    CredentialLabels, GLOBAL, Kind, LabelSelector, NodeCredential, NodeCredentialSpec, Object,
    RawObject, RegistrationToken, RegistrationTokenSpec, TokenKind, validate_name,
};

use crate::access::secrets::{new_id, new_secret, redact, rfc3339_at_ms, token_hash};
use crate::access::{Caller, Principal};
use crate::admission::{Admission, environment_open_for_writes};
use crate::error::{ApiError, decode_body};
use crate::objects::{get_object, require_environment};
use crate::state::AppState;

/// A registration token lasts a day unless asked otherwise, at most 30 days.
pub const DEFAULT_TOKEN_TTL_S: u64 = 24 * 3600;
pub const MAX_TOKEN_TTL_S: u64 = 30 * 24 * 3600;

fn env_selector(env: &str) -> Result<LabelSelector, ApiError> {
    LabelSelector::parse(&format!("{}={env}", CredentialLabels::ENVIRONMENT))
        .map_err(|e| ApiError::invalid("env", e.to_string()))
}

pub async fn list(
    State(state): State<AppState>,
    Path(env): Path<String>,
) -> Result<Json<List<RawObject>>, ApiError> {
    require_environment(&state, &env).await?;
    let q = Query::kind(Kind::RegistrationToken)
        .in_environment(GLOBAL)
        .with_selector(env_selector(&env)?);
    let listing = state.store(move |s| s.list(&q)).await?;
    Ok(Json(List {
        items: listing.items.into_iter().map(redact).collect(),
        revision: listing.revision,
        continue_token: None,
    }))
}

pub async fn create(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(env): Path<String>,
    body: Bytes,
) -> Result<Json<SecretCreated>, ApiError> {
    // A deactivated environment takes no new hosts: admission refuses the token.
    require_environment(&state, &env).await?;
    let req: TokenCreate = if body.is_empty() {
        TokenCreate::default()
    } else {
        decode_body(&body)?
    };
    let ttl = req.ttl_s.unwrap_or(DEFAULT_TOKEN_TTL_S);
    if ttl == 0 || ttl > MAX_TOKEN_TTL_S {
        return Err(ApiError::invalid(
            "ttl_s",
            format!("must be from 1 s to {MAX_TOKEN_TTL_S} s (30 days)"),
        ));
    }
    let id = new_id();
    let secret = new_secret();
    let expires = rfc3339_at_ms(state.clock.now_ms() + ttl * 1000);
    let mut token: RegistrationToken = Object::new(
        Kind::RegistrationToken,
        GLOBAL,
        &id,
        RegistrationTokenSpec {
            environment: env.clone(),
            expires: expires.clone(),
            created_by: caller
                .principal
                .user()
                .map(str::to_string)
                .unwrap_or_else(|| caller.principal.who()),
            secret_hash: token_hash(&secret),
        },
    );
    token.meta.uid = corral_controllers::new_uid();
    token.meta.created = state.clock.now_rfc3339();
    token.meta.generation = 1;
    token
        .meta
        .labels
        .insert(CredentialLabels::ENVIRONMENT.into(), env.clone());
    let raw = token
        .to_raw()
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    Admission::new(&state, &caller).create(raw).await?;
    Ok(Json(SecretCreated {
        token: TokenKind::Registration.format(&id, &secret),
        id,
        expires,
    }))
}

pub async fn remove(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path((env, id)): Path<(String, String)>,
) -> Result<Json<RawObject>, ApiError> {
    require_environment(&state, &env).await?;
    let not_found = || {
        ApiError::NotFound(format!(
            "no registration token {id:?} in environment {env:?}"
        ))
    };
    let raw = match get_object(&state, Kind::RegistrationToken, GLOBAL, &id).await {
        Err(ApiError::NotFound(_)) => return Err(not_found()),
        other => other?,
    };
    let token: RegistrationToken =
        Object::from_raw(raw).map_err(|e| ApiError::Internal(e.to_string()))?;
    if token.spec.environment != env {
        return Err(not_found());
    }
    let deleted = Admission::new(&state, &caller)
        .delete(Kind::RegistrationToken, GLOBAL, &id, None)
        .await?;
    Ok(Json(redact(deleted)))
}

/// `POST /v1/register`: a new credential for node `node`; the node's
/// earlier credentials are revoked in the same write.
pub async fn register(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    body: Bytes,
) -> Result<Json<RegisterResponse>, ApiError> {
    let req: RegisterRequest = decode_body(&body)?;
    validate_name("node", &req.node)?;
    let env = match &caller.principal {
        Principal::Registration { environment, .. } => {
            if !req.environment.is_empty() && req.environment != *environment {
                return Err(ApiError::Forbidden(format!(
                    "this registration token adds hosts to environment {environment:?}, not {:?}",
                    req.environment
                )));
            }
            environment.clone()
        }
        _ if req.environment.is_empty() => {
            return Err(ApiError::invalid(
                "environment",
                "required when registering with anything but a registration token",
            ));
        }
        _ => req.environment.clone(),
    };
    validate_name("environment", &env)?;
    match environment_open_for_writes(&state, &env).await {
        Err(ApiError::NotFound(_)) => {
            return Err(ApiError::NotFound(format!(
                "environment {env:?} no longer exists; this host cannot join it"
            )));
        }
        other => other?,
    };
    let certificate = sign_node_request(&state, &req.csr_pem, &env, &req.node)?;
    let id = credential_id(&env, &req.node);
    let secret = new_secret();
    let mut cred: NodeCredential = Object::new(
        Kind::NodeCredential,
        GLOBAL,
        &id,
        NodeCredentialSpec {
            environment: env.clone(),
            node: req.node.clone(),
            secret_hash: token_hash(&secret),
            certificate: certificate
                .as_ref()
                .map(|c| c.fingerprint.clone())
                .unwrap_or_default(),
        },
    );
    cred.meta.uid = corral_controllers::new_uid();
    cred.meta.created = state.clock.now_rfc3339();
    cred.meta.generation = 1;
    cred.meta
        .labels
        .insert(CredentialLabels::ENVIRONMENT.into(), env.clone());
    cred.meta
        .labels
        .insert(CredentialLabels::NODE.into(), req.node.clone());
    let raw = cred
        .to_raw()
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    let (e, n) = (env.clone(), req.node.clone());
    Admission::new(&state, &caller)
        .store(move |s| {
            let mut ops = revoke_ops(s, &e, &n)?;
            ops.push(Op::Create(raw));
            Ok(s.apply(ops)?)
        })
        .await?;
    state.auth_cache.invalidate();
    tracing::info!(
        "node {env}/{} registered ({})",
        req.node,
        caller.principal.who()
    );
    Ok(Json(RegisterResponse {
        endpoint_key: state.endpoint_key(&env, &req.node),
        environment: env,
        node: req.node,
        credential: TokenKind::Node.format(&id, &secret),
        certificate_pem: certificate.map(|c| c.chain_pem).unwrap_or_default(),
    }))
}

/// The client certificate for node `node` of `env`, signed by the internal
/// CA for the key of `csr_pem`. A server that requires node certificates
/// (it serves TLS) refuses a registration without a signing request.
pub fn sign_node_request(
    state: &AppState,
    csr_pem: &str,
    env: &str,
    node: &str,
) -> Result<Option<corral_pki::Issued>, ApiError> {
    if csr_pem.trim().is_empty() {
        return if state.require_node_certificates {
            Err(ApiError::invalid(
                "csr_pem",
                "required: this server serves TLS and binds every node credential to a client certificate",
            ))
        } else {
            Ok(None)
        };
    }
    let Some(authority) = &state.authority else {
        return Err(ApiError::invalid(
            "csr_pem",
            "this server has no certificate authority to sign it",
        ));
    };
    authority
        .sign_node(csr_pem, env, node)
        .map(Some)
        .map_err(|e| ApiError::invalid("csr_pem", e.to_string()))
}

/// The id of node `node`'s credential in `env`: one per node, so a new
/// registration replaces the old credential and `node rm` finds it
/// without a search (the id is a hash; it tells nothing of the secret).
pub fn credential_id(env: &str, node: &str) -> String {
    let digest = token_hash(&format!("{env}/{node}"));
    digest[..32].to_string()
}

/// The delete of node `node`'s credential in `env`, if it has one.
pub fn revoke_ops(
    store: &dyn corral_store::Store,
    env: &str,
    node: &str,
) -> Result<Vec<Op>, corral_store::StoreError> {
    let id = credential_id(env, node);
    match store.get(Kind::NodeCredential, GLOBAL, &id) {
        Ok(found) => Ok(vec![Op::Delete {
            kind: Kind::NodeCredential,
            environment: GLOBAL.into(),
            name: id,
            revision: Some(found.meta.revision),
        }]),
        Err(corral_store::StoreError::NotFound { .. }) => Ok(Vec::new()),
        Err(e) => Err(e),
    }
}
