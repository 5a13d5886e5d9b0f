use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

/// The kinds of object Corral stores.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Kind {
    Environment,
    Node,
    Service,
    Instance,
    Stack,
    /// A TLS certificate and its key, for load balancers.
    Certificate,
    /// A person (global, in [`crate::GLOBAL`]).
    User,
    /// A role binding in an environment.
    Member,
    /// A login session (global).
    Session,
    /// An API key (global).
    ApiKey,
    /// A token that adds hosts to one environment (global).
    RegistrationToken,
    /// A node's own credential (global).
    NodeCredential,
    /// How users log in besides local passwords: the directory (global,
    /// named `ldap`).
    AuthProvider,
    /// A value services mount as a file, sealed at rest, never returned.
    Secret,
    /// A value services mount as a file, stored as it is and readable.
    Config,
    /// A repository of Rancher catalog templates (global, or for one
    /// environment).
    Catalog,
}

impl Kind {
    pub const ALL: [Kind; 16] = [
        Kind::Environment,
        Kind::Node,
        Kind::Service,
        Kind::Instance,
        Kind::Stack,
        Kind::Certificate,
        Kind::User,
        Kind::Member,
        Kind::Session,
        Kind::ApiKey,
        Kind::RegistrationToken,
        Kind::NodeCredential,
        Kind::AuthProvider,
        Kind::Secret,
        Kind::Config,
        Kind::Catalog,
    ];

    /// The kinds a user creates and changes through the generic
    /// `/v1/environments/{env}/{plural}` routes.
    pub const WORKLOAD: [Kind; 5] = [
        Kind::Node,
        Kind::Service,
        Kind::Instance,
        Kind::Stack,
        Kind::Certificate,
    ];

    /// The name used in the store and in messages (`Service`).
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Environment => "Environment",
            Kind::Node => "Node",
            Kind::Service => "Service",
            Kind::Instance => "Instance",
            Kind::Stack => "Stack",
            Kind::Certificate => "Certificate",
            Kind::User => "User",
            Kind::Member => "Member",
            Kind::Session => "Session",
            Kind::ApiKey => "ApiKey",
            Kind::RegistrationToken => "RegistrationToken",
            Kind::NodeCredential => "NodeCredential",
            Kind::AuthProvider => "AuthProvider",
            Kind::Secret => "Secret",
            Kind::Config => "Config",
            Kind::Catalog => "Catalog",
        }
    }

    /// The plural path segment used by the HTTP API (`services`).
    pub fn plural(self) -> &'static str {
        match self {
            Kind::Environment => "environments",
            Kind::Node => "nodes",
            Kind::Service => "services",
            Kind::Instance => "instances",
            Kind::Stack => "stacks",
            Kind::Certificate => "certificates",
            Kind::User => "users",
            Kind::Member => "members",
            Kind::Session => "sessions",
            Kind::ApiKey => "apikeys",
            Kind::RegistrationToken => "tokens",
            Kind::NodeCredential => "credentials",
            Kind::AuthProvider => "authproviders",
            Kind::Secret => "secrets",
            Kind::Config => "configs",
            Kind::Catalog => "catalogs",
        }
    }

    /// Parses a plural path segment.
    pub fn from_plural(s: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.plural() == s)
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, thiserror::Error)]
#[error("unknown kind {0:?}")]
pub struct UnknownKind(pub String);

impl FromStr for Kind {
    type Err = UnknownKind;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Kind::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| UnknownKind(s.to_string()))
    }
}

/// Metadata common to every object.
///
/// `uid` and `created` are set by the API server, never by the store;
/// `revision` is set by the store on every write.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Meta {
    pub environment: String,
    pub name: String,
    pub uid: String,
    /// The store revision of the last write to this object (0 before creation).
    pub revision: u64,
    /// Incremented by the API server when `spec` changes.
    pub generation: u64,
    pub labels: BTreeMap<String, String>,
    /// RFC 3339 creation time.
    pub created: String,
}

/// The envelope of every object: `kind`, `meta`, `spec`, `status`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Object<S, T> {
    pub kind: Kind,
    pub meta: Meta,
    pub spec: S,
    #[serde(default)]
    pub status: T,
}

/// An object whose spec and status are untyped JSON: what the store keeps.
pub type RawObject = Object<serde_json::Value, serde_json::Value>;

/// Ties a spec/status pair to its [`Kind`].
pub trait TypedObject {
    const KIND: Kind;
}

impl<S, T> Object<S, T>
where
    S: Serialize + DeserializeOwned,
    T: Serialize + DeserializeOwned + Default,
{
    /// Converts to the untyped form kept by the store.
    pub fn to_raw(&self) -> Result<RawObject, serde_json::Error> {
        Ok(RawObject {
            kind: self.kind,
            meta: self.meta.clone(),
            spec: serde_json::to_value(&self.spec)?,
            status: serde_json::to_value(&self.status)?,
        })
    }

    /// Converts from the untyped form kept by the store.
    pub fn from_raw(raw: RawObject) -> Result<Self, serde_json::Error> {
        let status = if raw.status.is_null() {
            T::default()
        } else {
            serde_json::from_value(raw.status)?
        };
        Ok(Object {
            kind: raw.kind,
            meta: raw.meta,
            spec: serde_json::from_value(raw.spec)?,
            status,
        })
    }

    /// Like [`Object::from_raw`], from a borrowed object (one shared with
    /// other readers, such as a watch event): no copy of the untyped form.
    pub fn from_raw_ref(raw: &RawObject) -> Result<Self, serde_json::Error> {
        let status = if raw.status.is_null() {
            T::default()
        } else {
            T::deserialize(&raw.status)?
        };
        Ok(Object {
            kind: raw.kind,
            meta: raw.meta.clone(),
            spec: S::deserialize(&raw.spec)?,
            status,
        })
    }
}

impl<S: Default, T: Default> Object<S, T> {
    /// A new object with an empty status, not yet stored.
    pub fn new(kind: Kind, environment: &str, name: &str, spec: S) -> Self {
        Object {
            kind,
            meta: Meta {
                environment: environment.to_string(),
                name: name.to_string(),
                ..Meta::default()
            },
            spec,
            status: T::default(),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::{Instance, InstanceSpec, InstanceState};

    #[test]
    fn decoding_a_borrowed_object_gives_what_decoding_it_owned_gives() {
        let mut inst: Instance = Object::new(
            Kind::Instance,
            "default",
            "web-1",
            InstanceSpec {
                service: "web".into(),
                node: "n1".into(),
                ..Default::default()
            },
        );
        inst.meta.revision = 9;
        inst.meta.labels.insert("a".into(), "b".into());
        inst.status.state = InstanceState::Running;
        let raw = inst.to_raw().unwrap();
        assert_eq!(Instance::from_raw_ref(&raw).unwrap(), inst);
        assert_eq!(Instance::from_raw(raw.clone()).unwrap(), inst);
        // A null status is the default one, as for an owned object.
        let mut bare = raw;
        bare.status = serde_json::Value::Null;
        assert_eq!(
            Instance::from_raw_ref(&bare).unwrap().status,
            Default::default()
        );
        bare.spec = serde_json::json!({"service": 42});
        assert!(Instance::from_raw_ref(&bare).is_err());
    }
}
