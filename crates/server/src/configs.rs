//! Configs: create, list, inspect (with the value: a config is no
//! secret), update (a new version, which rolls the services that mount
//! it), remove, and the values of an instance's configs for the agent of
//! the node it is placed on. What they share with secrets lives in
//! `mounted.rs`.

use std::collections::BTreeMap;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::{Extension, Json};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use sha2::{Digest, Sha256};

use corral_api::List;
use corral_store::Query;
use corral_types::{
    Config, ConfigSpec, ConfigStatus, ConfigValue, ConfigValueRequest, ConfigValues, Kind, Object,
    RawObject, ServiceSpec, validate_secret_name,
};

use crate::access::Caller;
use crate::access::secrets::hex;
use crate::admission::{Admission, Edit};
use crate::error::{ApiError, decode_body};
use crate::mounted;
use crate::objects::{get_object, require_environment};
use crate::state::AppState;

/// SHA-256 of a value, hex: what `status.digest` holds.
pub(crate) fn digest(value: &[u8]) -> String {
    hex(&Sha256::digest(value))
}

fn stored(state: &AppState, version: u64, value: &[u8]) -> (ConfigSpec, ConfigStatus) {
    (
        ConfigSpec {
            data: B64.encode(value),
        },
        ConfigStatus {
            version,
            size: value.len() as u64,
            digest: digest(value),
            updated: state.clock.now_rfc3339(),
        },
    )
}

/// Version 1 of config `name` of `env`, as a new object.
fn new_config(
    state: &AppState,
    env: &str,
    name: &str,
    value: &[u8],
    labels: BTreeMap<String, String>,
) -> Result<RawObject, ApiError> {
    let (spec, status) = stored(state, 1, value);
    let mut config: Config = Object::new(Kind::Config, env, name, spec);
    config.status = status;
    config.meta.uid = corral_controllers::new_uid();
    config.meta.created = state.clock.now_rfc3339();
    config.meta.generation = 1;
    config.meta.labels = labels;
    config
        .to_raw()
        .map_err(|e| ApiError::Internal(e.to_string()))
}

/// Stores `value` as the next version of existing config `name`; answers
/// the stored object and its version.
async fn next_version(
    state: &AppState,
    admission: &Admission,
    env: &str,
    name: &str,
    value: &[u8],
) -> Result<(RawObject, u64), ApiError> {
    let mut version = 0;
    let updated = admission
        .edit::<ConfigSpec, ConfigStatus>(Kind::Config, env, name, |config| {
            version = config.status.version + 1;
            (config.spec, config.status) = stored(state, version, value);
            Ok(Edit::Write)
        })
        .await?;
    Ok((updated, version))
}

pub async fn list(
    State(state): State<AppState>,
    Path(env): Path<String>,
) -> Result<Json<List<RawObject>>, ApiError> {
    require_environment(&state, &env).await?;
    let q = Query::kind(Kind::Config).in_environment(&env);
    let listing = state.store(move |s| s.list(&q)).await?;
    Ok(Json(List {
        items: listing.items,
        revision: listing.revision,
        continue_token: None,
    }))
}

pub async fn get(
    State(state): State<AppState>,
    Path((env, name)): Path<(String, String)>,
) -> Result<Json<RawObject>, ApiError> {
    require_environment(&state, &env).await?;
    Ok(Json(get_object(&state, Kind::Config, &env, &name).await?))
}

pub async fn create(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(env): Path<String>,
    body: Bytes,
) -> Result<Json<RawObject>, ApiError> {
    require_environment(&state, &env).await?;
    let req: ConfigValueRequest = decode_body(&body)?;
    validate_secret_name("name", &req.name).map_err(ApiError::Invalid)?;
    mounted::check_labels(&req.labels)?;
    let value = mounted::decode_value("value", &req.value)?;
    let raw = new_config(&state, &env, &req.name, &value, req.labels)?;
    match Admission::new(&state, &caller).create(raw).await {
        Err(ApiError::Conflict(_)) => Err(ApiError::Conflict(format!(
            "config {:?} already exists in environment {env:?}; `corral config update` makes a new version",
            req.name
        ))),
        other => Ok(Json(other?)),
    }
}

/// A new version of the value; then every service that mounts the config
/// is changed to the new version (a rolling upgrade with its own update
/// settings).
pub async fn update(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path((env, name)): Path<(String, String)>,
    body: Bytes,
) -> Result<Json<RawObject>, ApiError> {
    require_environment(&state, &env).await?;
    let req: ConfigValueRequest = decode_body(&body)?;
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
    mounted::roll(&admission, &env, &users, |spec| pin(spec, &name, version)).await?;
    Ok(Json(updated))
}

/// Sets the mounts of config `name` in `spec` to `version`; answers
/// whether that changed anything.
fn pin(spec: &mut ServiceSpec, name: &str, version: u64) -> bool {
    let mut changed = false;
    for m in spec.configs.iter_mut().filter(|m| m.source == name) {
        changed |= m.version != version;
        m.version = version;
    }
    changed
}

/// Config `name` of `env`, if there is one.
pub(crate) async fn find(
    state: &AppState,
    env: &str,
    name: &str,
) -> Result<Option<Config>, ApiError> {
    mounted::find(state, Kind::Config, env, name).await
}

/// Stores `value` as config `name` of `env`: version 1 of a new config,
/// or the next version of an existing one. Answers the version stored.
pub(crate) async fn store_value(
    state: &AppState,
    admission: &Admission,
    env: &str,
    name: &str,
    value: &[u8],
    labels: &BTreeMap<String, String>,
) -> Result<u64, ApiError> {
    if find(state, env, name).await?.is_none() {
        admission
            .create(new_config(state, env, name, value, labels.clone())?)
            .await?;
        return Ok(1);
    }
    Ok(next_version(state, admission, env, name, value).await?.1)
}

/// The services of `env` that mount config `name`.
async fn services_mounting(
    state: &AppState,
    env: &str,
    name: &str,
) -> Result<Vec<String>, ApiError> {
    mounted::services_using(state, env, |spec| {
        spec.configs.iter().any(|m| m.source == name)
    })
    .await
}

/// Removes a config no service mounts (as Swarm: 409 naming the services).
pub async fn remove(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path((env, name)): Path<(String, String)>,
) -> Result<Json<RawObject>, ApiError> {
    require_environment(&state, &env).await?;
    get_object(&state, Kind::Config, &env, &name).await?;
    mounted::refuse_in_use(
        "config",
        &name,
        &services_mounting(&state, &env, &name).await?,
    )?;
    let deleted = Admission::new(&state, &caller)
        .delete(Kind::Config, &env, &name, None)
        .await?;
    Ok(Json(deleted))
}

/// Sets each config mount of `spec` to its config's current version; a
/// mount of a config that does not exist is refused naming the field.
pub async fn pin_versions(
    state: &AppState,
    env: &str,
    spec: &mut serde_json::Value,
) -> Result<(), ApiError> {
    let Ok(mut service) = serde_json::from_value::<ServiceSpec>(spec.clone()) else {
        // Validation already refused a spec that does not decode.
        return Ok(());
    };
    if service.configs.is_empty() {
        return Ok(());
    }
    for (i, m) in service.configs.iter_mut().enumerate() {
        let Some(config) = find(state, env, &m.source).await? else {
            return Err(ApiError::invalid(
                format!("spec.configs[{i}].source"),
                format!(
                    "config {:?} not found in environment {env:?} (corral config create {})",
                    m.source, m.source
                ),
            ));
        };
        m.version = config.status.version;
    }
    *spec = serde_json::to_value(&service).map_err(|e| ApiError::Internal(e.to_string()))?;
    Ok(())
}

/// `POST .../nodes/{name}/instances/{instance}/configs`: the values of the
/// configs instance `instance` mounts, for the agent of the node it is
/// placed on (the gate has checked the caller acts for node `name`).
pub async fn values_for_instance(
    State(state): State<AppState>,
    Path((env, node, instance)): Path<(String, String, String)>,
) -> Result<Json<ConfigValues>, ApiError> {
    let launch = mounted::placed_launch(&state, &env, &node, &instance).await?;
    let mut out = ConfigValues::default();
    for m in &launch.configs {
        let raw = get_object(&state, Kind::Config, &env, &m.source).await?;
        let config: Config =
            Object::from_raw(raw).map_err(|e| ApiError::Internal(e.to_string()))?;
        out.configs.push(ConfigValue {
            source: m.source.clone(),
            version: config.status.version,
            value: config.spec.data,
        });
    }
    Ok(Json(out))
}
