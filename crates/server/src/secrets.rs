//! Secrets: create, list, inspect, update (a new version, which rolls the
//! services that mount it), remove, rotate the key-encryption key, and
//! the one way a value leaves the server: to the agent of the node an
//! instance that mounts it is placed on.
//!
//! The store holds the value sealed (`corral-seal`, bound to
//! `env/name/version`); every answer drops it ([`public`]).

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::{Extension, Json};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;

use corral_api::List;
use corral_store::Query;
use corral_types::{
    Kind, Object, RawObject, Secret, SecretSpec, SecretStatus, SecretValue, SecretValueRequest,
    SecretValues, ServiceSpec, validate_secret_name,
};

use crate::access::Caller;
use crate::admission::{Admission, Edit};
use crate::error::{ApiError, decode_body};
use crate::mounted;
use crate::objects::{get_object, require_environment};
use crate::state::AppState;

/// What the sealed value is bound to.
fn aad(env: &str, name: &str, version: u64) -> String {
    format!("{env}/{name}/{version}")
}

/// A secret as the API answers it: metadata only.
pub fn public(mut raw: RawObject) -> RawObject {
    if let Some(spec) = raw.spec.as_object_mut() {
        spec.remove("sealed");
    }
    raw
}

fn sealed_secret(
    state: &AppState,
    env: &str,
    name: &str,
    version: u64,
    value: &[u8],
) -> Result<(SecretSpec, SecretStatus), ApiError> {
    let sealed = state
        .sealer
        .seal(&aad(env, name, version), value)
        .map_err(|e| ApiError::Internal(format!("sealing secret {name:?}: {e}")))?;
    Ok((
        SecretSpec {
            sealed: Some(sealed),
        },
        SecretStatus {
            version,
            size: value.len() as u64,
            digest: state.sealer.digest(value),
            updated: state.clock.now_rfc3339(),
        },
    ))
}

/// Version 1 of secret `name` of `env`, sealed, as a new object.
fn new_secret(
    state: &AppState,
    env: &str,
    name: &str,
    value: &[u8],
    labels: std::collections::BTreeMap<String, String>,
) -> Result<RawObject, ApiError> {
    let (spec, status) = sealed_secret(state, env, name, 1, value)?;
    let mut secret: Secret = Object::new(Kind::Secret, env, name, spec);
    secret.status = status;
    secret.meta.uid = corral_controllers::new_uid();
    secret.meta.created = state.clock.now_rfc3339();
    secret.meta.generation = 1;
    secret.meta.labels = labels;
    secret
        .to_raw()
        .map_err(|e| ApiError::Internal(e.to_string()))
}

/// Stores `value` as the next version of existing secret `name`; answers
/// the stored object and its version.
async fn next_version(
    state: &AppState,
    admission: &Admission,
    env: &str,
    name: &str,
    value: &[u8],
) -> Result<(RawObject, u64), ApiError> {
    let updated = admission
        .edit::<SecretSpec, SecretStatus>(Kind::Secret, env, name, |secret| {
            let version = secret.status.version + 1;
            let (spec, status) = sealed_secret(state, env, name, version, value)?;
            secret.spec = spec;
            secret.status = status;
            Ok(Edit::Write)
        })
        .await?;
    let version = Object::<SecretSpec, SecretStatus>::from_raw(updated.clone())
        .map_err(|e| ApiError::Internal(e.to_string()))?
        .status
        .version;
    Ok((updated, version))
}

pub async fn list(
    State(state): State<AppState>,
    Path(env): Path<String>,
) -> Result<Json<List<RawObject>>, ApiError> {
    require_environment(&state, &env).await?;
    let q = Query::kind(Kind::Secret).in_environment(&env);
    let listing = state.store(move |s| s.list(&q)).await?;
    Ok(Json(List {
        items: listing.items.into_iter().map(public).collect(),
        revision: listing.revision,
        continue_token: None,
    }))
}

pub async fn get(
    State(state): State<AppState>,
    Path((env, name)): Path<(String, String)>,
) -> Result<Json<RawObject>, ApiError> {
    require_environment(&state, &env).await?;
    Ok(Json(public(
        get_object(&state, Kind::Secret, &env, &name).await?,
    )))
}

pub async fn create(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(env): Path<String>,
    body: Bytes,
) -> Result<Json<RawObject>, ApiError> {
    require_environment(&state, &env).await?;
    let req: SecretValueRequest = decode_body(&body)?;
    validate_secret_name("name", &req.name).map_err(ApiError::Invalid)?;
    mounted::check_labels(&req.labels)?;
    let value = mounted::decode_value("value", &req.value)?;
    let raw = new_secret(&state, &env, &req.name, &value, req.labels)?;
    let created = Admission::new(&state, &caller).create(raw).await;
    match created {
        Err(ApiError::Conflict(_)) => Err(ApiError::Conflict(format!(
            "secret {:?} already exists in environment {env:?}; `corral secret update` makes a new version",
            req.name
        ))),
        other => Ok(Json(public(other?))),
    }
}

/// A new version of the value; then every service that mounts the secret
/// is changed to the new version (a rolling upgrade with its own update
/// settings).
pub async fn update(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path((env, name)): Path<(String, String)>,
    body: Bytes,
) -> Result<Json<RawObject>, ApiError> {
    require_environment(&state, &env).await?;
    let req: SecretValueRequest = decode_body(&body)?;
    if !req.name.is_empty() && req.name != name {
        return Err(ApiError::invalid(
            "name",
            format!(
                "{:?} does not match the name in the path ({name:?})",
                req.name
            ),
        ));
    }
    let value = mounted::decode_value("value", &req.value)?;
    let admission = Admission::new(&state, &caller);
    let (updated, version) = next_version(&state, &admission, &env, &name, &value).await?;
    let users = services_mounting(&state, &env, &name).await?;
    mounted::roll(&admission, &env, &users, |spec| {
        let mut changed = false;
        for m in spec.secrets.iter_mut().filter(|m| m.source == name) {
            changed |= m.version != version;
            m.version = version;
        }
        changed
    })
    .await?;
    Ok(Json(public(updated)))
}

/// Secret `name` of `env`, if there is one.
pub(crate) async fn find(
    state: &AppState,
    env: &str,
    name: &str,
) -> Result<Option<Secret>, ApiError> {
    mounted::find(state, Kind::Secret, env, name).await
}

/// Stores `value` as secret `name` of `env`: version 1 of a new secret,
/// or the next version of an existing one. Answers the version stored.
pub(crate) async fn store_value(
    state: &AppState,
    admission: &Admission,
    env: &str,
    name: &str,
    value: &[u8],
    labels: &std::collections::BTreeMap<String, String>,
) -> Result<u64, ApiError> {
    if find(state, env, name).await?.is_none() {
        admission
            .create(new_secret(state, env, name, value, labels.clone())?)
            .await?;
        return Ok(1);
    }
    Ok(next_version(state, admission, env, name, value).await?.1)
}

/// The services of `env` that mount secret `name`.
async fn services_mounting(
    state: &AppState,
    env: &str,
    name: &str,
) -> Result<Vec<String>, ApiError> {
    mounted::services_using(state, env, |spec| {
        spec.secrets.iter().any(|m| m.source == name)
    })
    .await
}

/// Removes a secret no service mounts (as Swarm: 409 naming the services).
pub async fn remove(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path((env, name)): Path<(String, String)>,
) -> Result<Json<RawObject>, ApiError> {
    require_environment(&state, &env).await?;
    get_object(&state, Kind::Secret, &env, &name).await?;
    mounted::refuse_in_use(
        "secret",
        &name,
        &services_mounting(&state, &env, &name).await?,
    )?;
    let deleted = Admission::new(&state, &caller)
        .delete(Kind::Secret, &env, &name, None)
        .await?;
    Ok(Json(public(deleted)))
}

/// Sets each mount of `spec` to its secret's current version; a mount of a
/// secret that does not exist is refused naming the field.
pub async fn pin_versions(
    state: &AppState,
    env: &str,
    spec: &mut serde_json::Value,
) -> Result<(), ApiError> {
    let Ok(mut service) = serde_json::from_value::<ServiceSpec>(spec.clone()) else {
        // Validation already refused a spec that does not decode.
        return Ok(());
    };
    if service.secrets.is_empty() {
        return Ok(());
    }
    for (i, m) in service.secrets.iter_mut().enumerate() {
        let raw = match get_object(state, Kind::Secret, env, &m.source).await {
            Err(ApiError::NotFound(_)) => {
                return Err(ApiError::invalid(
                    format!("spec.secrets[{i}].source"),
                    format!(
                        "secret {:?} not found in environment {env:?} (corral secret create {})",
                        m.source, m.source
                    ),
                ));
            }
            other => other?,
        };
        let secret: Secret =
            Object::from_raw(raw).map_err(|e| ApiError::Internal(e.to_string()))?;
        m.version = secret.status.version;
    }
    *spec = serde_json::to_value(&service).map_err(|e| ApiError::Internal(e.to_string()))?;
    Ok(())
}

/// `POST .../nodes/{name}/instances/{instance}/secrets`: the values of the
/// secrets instance `instance` mounts, for the agent of the node it is
/// placed on (the gate has checked the caller acts for node `name`).
pub async fn values_for_instance(
    State(state): State<AppState>,
    Path((env, node, instance)): Path<(String, String, String)>,
) -> Result<Json<SecretValues>, ApiError> {
    let launch = mounted::placed_launch(&state, &env, &node, &instance).await?;
    let mut out = SecretValues::default();
    for m in &launch.secrets {
        let raw = get_object(&state, Kind::Secret, &env, &m.source).await?;
        let secret: Secret =
            Object::from_raw(raw).map_err(|e| ApiError::Internal(e.to_string()))?;
        let Some(sealed) = &secret.spec.sealed else {
            return Err(ApiError::Internal(format!(
                "secret {:?} holds no value",
                m.source
            )));
        };
        let version = secret.status.version;
        let value = state
            .sealer
            .open(&aad(&env, &m.source, version), sealed)
            .map_err(|e| ApiError::Internal(format!("secret {:?}: {e}", m.source)))?;
        out.secrets.push(SecretValue {
            source: m.source.clone(),
            version,
            value: B64.encode(value),
        });
    }
    Ok(Json(out))
}

/// `POST /v1/secrets/rotate-key`: a new key-encryption key; every secret
/// of every environment is re-sealed under it, then the old key is
/// dropped. Answers the new key's id and how many secrets were re-sealed.
pub async fn rotate_key(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let new_id = state
        .sealer
        .begin_rotation()
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    let listing = state.store(|s| s.list(&Query::kind(Kind::Secret))).await?;
    let admission = Admission::new(&state, &caller);
    let mut resealed = 0usize;
    for raw in listing.items {
        let (env, name) = (raw.meta.environment.clone(), raw.meta.name.clone());
        admission
            .edit::<SecretSpec, SecretStatus>(Kind::Secret, &env, &name, |secret| {
                let Some(sealed) = &secret.spec.sealed else {
                    return Ok(Edit::Keep);
                };
                if sealed.key_id == new_id {
                    return Ok(Edit::Keep);
                }
                let bound = aad(&env, &name, secret.status.version);
                let value = state
                    .sealer
                    .open(&bound, sealed)
                    .map_err(|e| ApiError::Internal(format!("secret {env}/{name}: {e}")))?;
                let sealed = state
                    .sealer
                    .seal(&bound, &value)
                    .map_err(|e| ApiError::Internal(e.to_string()))?;
                secret.spec.sealed = Some(sealed);
                secret.status.digest = state.sealer.digest(&value);
                Ok(Edit::Write)
            })
            .await?;
        resealed += 1;
    }
    for raw in state
        .store(|s| s.list(&Query::kind(Kind::Certificate)))
        .await?
        .items
    {
        let (env, name) = (raw.meta.environment.clone(), raw.meta.name.clone());
        let sealer = state.sealer.clone();
        admission
            .edit::<corral_types::CertificateSpec, serde_json::Value>(
                Kind::Certificate,
                &env,
                &name,
                |cert| {
                    let Some(sealed) = &cert.spec.sealed_key else {
                        return Ok(Edit::Keep);
                    };
                    if sealed.key_id == new_id {
                        return Ok(Edit::Keep);
                    }
                    let bound = format!("certificate/{env}/{name}");
                    let key = sealer.open(&bound, sealed).map_err(|e| {
                        ApiError::Internal(format!("certificate {env}/{name}: {e}"))
                    })?;
                    cert.spec.sealed_key = Some(
                        sealer
                            .seal(&bound, &key)
                            .map_err(|e| ApiError::Internal(e.to_string()))?,
                    );
                    Ok(Edit::Write)
                },
            )
            .await?;
        resealed += 1;
    }
    state
        .sealer
        .finish_rotation()
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    Ok(Json(
        serde_json::json!({ "key_id": new_id, "resealed": resealed }),
    ))
}
