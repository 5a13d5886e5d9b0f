//! The private keys of load-balancer certificates, kept like secrets:
//! sealed at rest (`spec.sealed_key`, bound to the certificate's
//! environment and name), never answered (`spec.key` is always empty in
//! the store and in every answer), and handed only to the agent of a node
//! that runs a balancer instance naming the certificate. Stores written
//! before this are migrated at start.

use axum::Json;
use axum::extract::{Path, State};

use corral_store::{Query, Store};
use corral_types::{
    CertificateMaterial, CertificateMaterials, CertificateSpec, Instance, Kind, Object, RawObject,
};

use crate::error::ApiError;
use crate::objects::get_object;
use crate::state::AppState;

/// What a sealed key is bound to.
fn aad(env: &str, name: &str) -> String {
    format!("certificate/{env}/{name}")
}

/// Moves `spec.key` (PEM, validated) into `spec.sealed_key`; whatever
/// sealed key the caller sent is replaced.
pub fn seal_key(
    sealer: &corral_seal::Sealer,
    env: &str,
    name: &str,
    spec: &mut serde_json::Value,
) -> Result<(), ApiError> {
    let mut cert: CertificateSpec = serde_json::from_value(spec.clone())
        .map_err(|e| ApiError::Internal(format!("certificate {name}: {e}")))?;
    let sealed = sealer
        .seal(&aad(env, name), cert.key.as_bytes())
        .map_err(|e| ApiError::Internal(format!("sealing the key of {name}: {e}")))?;
    cert.key = String::new();
    cert.sealed_key = Some(sealed);
    *spec = serde_json::to_value(&cert).map_err(|e| ApiError::Internal(e.to_string()))?;
    Ok(())
}

/// The stored key of certificate `name`, in clear.
fn open_key(
    state: &AppState,
    env: &str,
    name: &str,
    spec: &CertificateSpec,
) -> Result<String, ApiError> {
    let Some(sealed) = &spec.sealed_key else {
        return Ok(spec.key.clone());
    };
    let key = state
        .sealer
        .open(&aad(env, name), sealed)
        .map_err(|e| ApiError::Internal(format!("the key of certificate {name:?}: {e}")))?;
    String::from_utf8(key)
        .map_err(|_| ApiError::Internal(format!("the key of certificate {name:?} is not text")))
}

/// For a replace: a body whose `spec.key` is empty keeps the stored key
/// (a client sends back the certificate it read, which has none).
pub async fn with_stored_key(
    state: &AppState,
    env: &str,
    name: &str,
    body: &[u8],
) -> Result<Vec<u8>, ApiError> {
    let Ok(mut value) = serde_json::from_slice::<serde_json::Value>(body) else {
        // Decoding errors are answered by validation.
        return Ok(body.to_vec());
    };
    let empty = value["spec"]["key"].as_str().is_none_or(str::is_empty);
    if !empty {
        return Ok(body.to_vec());
    }
    let raw = get_object(state, Kind::Certificate, env, name).await?;
    let stored: CertificateSpec =
        serde_json::from_value(raw.spec).map_err(|e| ApiError::Internal(e.to_string()))?;
    let key = open_key(state, env, name, &stored)?;
    if let Some(spec) = value.get_mut("spec").and_then(|s| s.as_object_mut()) {
        spec.insert("key".into(), serde_json::Value::String(key));
        spec.remove("sealed_key");
    }
    serde_json::to_vec(&value).map_err(|e| ApiError::Internal(e.to_string()))
}

/// A certificate as the API answers it: no key, sealed or not.
pub fn public(mut raw: RawObject) -> RawObject {
    if raw.kind == Kind::Certificate
        && let Some(spec) = raw.spec.as_object_mut()
    {
        spec.remove("sealed_key");
        spec.insert("key".into(), serde_json::Value::String(String::new()));
    }
    raw
}

/// Seals the keys of certificates stored in clear (stores written before
/// keys were sealed). Answers how many it sealed.
pub fn migrate(store: &dyn Store, sealer: &corral_seal::Sealer) -> anyhow::Result<usize> {
    let listing = store.list(&Query::kind(Kind::Certificate))?;
    let mut sealed = 0;
    for mut raw in listing.items {
        let in_clear = raw.spec["key"].as_str().is_some_and(|k| !k.is_empty());
        if !in_clear {
            continue;
        }
        let (env, name) = (raw.meta.environment.clone(), raw.meta.name.clone());
        seal_key(sealer, &env, &name, &mut raw.spec)
            .map_err(|e| anyhow::anyhow!("certificate {env}/{name}: {e}"))?;
        store.update(raw)?;
        sealed += 1;
    }
    Ok(sealed)
}

/// `POST .../nodes/{name}/instances/{instance}/certificates`: the chains
/// and keys of the certificates balancer instance `instance` names, for
/// the agent of the node it is placed on.
pub async fn material_for_instance(
    State(state): State<AppState>,
    Path((env, node, instance)): Path<(String, String, String)>,
) -> Result<Json<CertificateMaterials>, ApiError> {
    let raw = get_object(&state, Kind::Instance, &env, &instance).await?;
    let inst: Instance = Object::from_raw(raw).map_err(|e| ApiError::Internal(e.to_string()))?;
    if inst.spec.node != node {
        return Err(ApiError::Forbidden(format!(
            "instance {instance:?} is not placed on node {node:?}"
        )));
    }
    let Some(lb) = &inst.spec.launch.lb else {
        return Err(ApiError::Forbidden(format!(
            "instance {instance:?} is not a load balancer"
        )));
    };
    let mut names: std::collections::BTreeSet<&str> =
        lb.certificates.iter().map(String::as_str).collect();
    if !lb.default_certificate.is_empty() {
        names.insert(&lb.default_certificate);
    }
    let mut out = CertificateMaterials::default();
    for name in names {
        let raw = get_object(&state, Kind::Certificate, &env, name).await?;
        let spec: CertificateSpec =
            serde_json::from_value(raw.spec).map_err(|e| ApiError::Internal(e.to_string()))?;
        let key = open_key(&state, &env, name, &spec)?;
        out.certificates.push(CertificateMaterial {
            name: name.to_string(),
            certificate: spec.certificate,
            key,
        });
    }
    Ok(Json(out))
}
