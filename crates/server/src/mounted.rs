//! What secrets and configs share: values that services mount as files.
//! The services that mount one (to refuse its removal, and to roll them
//! to a new version), the launch config of an instance placed on the
//! calling agent's node, and the checks of a value and its labels.

use std::collections::BTreeMap;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use serde::Serialize;
use serde::de::DeserializeOwned;

use corral_store::Query;
use corral_types::{
    Instance, InstanceSpec, Kind, MAX_SECRET_BYTES, Object, ServiceSpec, validate_label_key,
};

use crate::admission::{Admission, Edit};
use crate::error::ApiError;
use crate::objects::get_object;
use crate::state::AppState;

/// A value sent base64 in `field`, at most [`MAX_SECRET_BYTES`] decoded
/// (the limit of secrets and configs alike).
pub(crate) fn decode_value(field: &str, value: &str) -> Result<Vec<u8>, ApiError> {
    let bytes = B64
        .decode(value.trim())
        .map_err(|e| ApiError::invalid(field, format!("not base64: {e}")))?;
    if bytes.len() > MAX_SECRET_BYTES {
        return Err(ApiError::invalid(
            field,
            format!(
                "{} bytes is above the maximum of {MAX_SECRET_BYTES} bytes",
                bytes.len()
            ),
        ));
    }
    Ok(bytes)
}

/// Labels a user gives a secret or config: valid keys, none reserved.
pub(crate) fn check_labels(labels: &BTreeMap<String, String>) -> Result<(), ApiError> {
    for k in labels.keys() {
        validate_label_key(k).map_err(|e| ApiError::invalid("labels", e.message))?;
        if k.starts_with("io.corral.") {
            return Err(ApiError::invalid(
                "labels",
                format!("{k:?}: the io.corral. prefix is reserved"),
            ));
        }
    }
    Ok(())
}

/// The object `kind` `name` of `env`, if there is one.
pub(crate) async fn find<S, T>(
    state: &AppState,
    kind: Kind,
    env: &str,
    name: &str,
) -> Result<Option<Object<S, T>>, ApiError>
where
    S: DeserializeOwned + Serialize,
    T: DeserializeOwned + Serialize + Default,
{
    match get_object(state, kind, env, name).await {
        Ok(raw) => Object::from_raw(raw)
            .map(Some)
            .map_err(|e| ApiError::Internal(e.to_string())),
        Err(ApiError::NotFound(_)) => Ok(None),
        Err(e) => Err(e),
    }
}

/// The services of `env` for which `uses` is true.
pub(crate) async fn services_using(
    state: &AppState,
    env: &str,
    uses: impl Fn(&ServiceSpec) -> bool,
) -> Result<Vec<String>, ApiError> {
    let q = Query::kind(Kind::Service).in_environment(env);
    let listing = state.store(move |s| s.list(&q)).await?;
    Ok(listing
        .items
        .into_iter()
        .filter_map(|raw| {
            let spec: ServiceSpec = serde_json::from_value(raw.spec).ok()?;
            uses(&spec).then_some(raw.meta.name)
        })
        .collect())
}

/// 409 naming the services that mount `noun` `name` (as Swarm), if any.
pub(crate) fn refuse_in_use(noun: &str, name: &str, users: &[String]) -> Result<(), ApiError> {
    if users.is_empty() {
        return Ok(());
    }
    Err(ApiError::Conflict(format!(
        "{noun} {name:?} is in use by service(s) {}; remove it from them first",
        users.join(", ")
    )))
}

/// Changes each service of `services` with `pin` (which answers whether
/// it changed anything): a new version rolls the services that mount it,
/// with their own update settings.
pub(crate) async fn roll(
    admission: &Admission,
    env: &str,
    services: &[String],
    pin: impl Fn(&mut ServiceSpec) -> bool,
) -> Result<(), ApiError> {
    for service in services {
        admission
            .edit::<ServiceSpec, serde_json::Value>(Kind::Service, env, service, |svc| {
                Ok(if pin(&mut svc.spec) {
                    Edit::Write
                } else {
                    Edit::Keep
                })
            })
            .await?;
    }
    Ok(())
}

/// The launch config of instance `instance`, which must be placed on
/// `node` (the gate has checked the caller acts for node `node`).
pub(crate) async fn placed_launch(
    state: &AppState,
    env: &str,
    node: &str,
    instance: &str,
) -> Result<ServiceSpec, ApiError> {
    let raw = get_object(state, Kind::Instance, env, instance).await?;
    let inst: Instance = Object::from_raw(raw).map_err(|e| ApiError::Internal(e.to_string()))?;
    let InstanceSpec {
        node: placed,
        launch,
        ..
    } = inst.spec;
    if placed != node {
        return Err(ApiError::Forbidden(format!(
            "instance {instance:?} is not placed on node {node:?}"
        )));
    }
    Ok(launch)
}
