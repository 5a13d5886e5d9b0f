//! Turning what a user submits into a stored object: decode, validate, fill in.

use std::collections::BTreeMap;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use corral_types::{
    CertificateSpec, EnvironmentSpec, Kind, Meta, NodeSpec, RawObject, ServiceSpec,
    validate_label_key, validate_name,
};

use crate::error::{ApiError, decode_body};

/// An object as a client sends it. `status` is accepted (a GET result can be
/// sent back as is) but ignored: status belongs to the system.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Submitted<S> {
    #[serde(default)]
    kind: Option<Kind>,
    #[serde(default)]
    meta: Meta,
    spec: S,
    #[serde(default)]
    #[allow(dead_code)]
    status: serde_json::Value,
}

/// The parts of a submitted object the server keeps.
pub struct Accepted {
    pub name: String,
    pub environment: String,
    pub revision: u64,
    pub labels: BTreeMap<String, String>,
    pub spec: serde_json::Value,
}

fn check<S: DeserializeOwned + Serialize>(
    kind: Kind,
    env: &str,
    body: &[u8],
    validate: impl Fn(&S) -> Result<(), corral_types::ValidationError>,
) -> Result<Accepted, ApiError> {
    let sub: Submitted<S> = decode_body(body)?;
    if let Some(k) = sub.kind
        && k != kind
    {
        return Err(ApiError::invalid(
            "kind",
            format!("{k} sent to the {} endpoint", kind.plural()),
        ));
    }
    validate_name("meta.name", &sub.meta.name)?;
    if !sub.meta.environment.is_empty() && sub.meta.environment != env {
        return Err(ApiError::invalid(
            "meta.environment",
            format!(
                "{:?} does not match the environment in the path ({env:?})",
                sub.meta.environment
            ),
        ));
    }
    for (k, v) in &sub.meta.labels {
        validate_label_key(k).map_err(|e| ApiError::invalid("meta.labels", e.message))?;
        if v.len() > 1024 {
            return Err(ApiError::invalid(
                format!("meta.labels.{k}"),
                "value is longer than 1024 bytes",
            ));
        }
    }
    validate(&sub.spec)?;
    let spec = serde_json::to_value(&sub.spec).map_err(|e| ApiError::Internal(e.to_string()))?;
    Ok(Accepted {
        name: sub.meta.name,
        environment: env.to_string(),
        revision: sub.meta.revision,
        labels: sub.meta.labels,
        spec,
    })
}

/// Decodes and validates a user's object of `kind` for environment `env`.
pub fn accept(kind: Kind, env: &str, body: &[u8]) -> Result<Accepted, ApiError> {
    match kind {
        Kind::Environment => check::<EnvironmentSpec>(kind, env, body, |_| Ok(())),
        Kind::Service => check::<ServiceSpec>(kind, env, body, ServiceSpec::validate),
        Kind::Node => check::<NodeSpec>(kind, env, body, |_| Ok(())),
        Kind::Certificate => check::<CertificateSpec>(kind, env, body, CertificateSpec::validate),
        Kind::Stack => Err(ApiError::MethodNotAllowed(format!(
            "stacks are deployed from compose files: POST /v1/environments/{env}/stacks/NAME/deploy"
        ))),
        Kind::Instance => Err(ApiError::MethodNotAllowed(
            "instances are made and changed by their service; change the service instead".into(),
        )),
        Kind::User
        | Kind::Secret
        | Kind::Config
        | Kind::Catalog
        | Kind::Member
        | Kind::Session
        | Kind::ApiKey
        | Kind::RegistrationToken
        | Kind::NodeCredential
        | Kind::AuthProvider => Err(ApiError::MethodNotAllowed(format!(
            "{} have endpoints of their own; see /openapi.json",
            kind.plural()
        ))),
    }
}

/// A new object from an accepted submission.
pub fn new_object(kind: Kind, acc: Accepted, uid: String, created: String) -> RawObject {
    RawObject {
        kind,
        meta: Meta {
            environment: acc.environment,
            name: acc.name,
            uid,
            revision: 0,
            generation: 1,
            labels: acc.labels,
            created,
        },
        spec: acc.spec,
        status: serde_json::Value::Object(Default::default()),
    }
}
