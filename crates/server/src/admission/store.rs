//! The store a handler writes through: reads pass to the real store;
//! every write is checked first (the route's scope, the environment being
//! open, the policy for host access) and, once stored, noted for the
//! audit entry of the request. A refused write stores nothing: `apply`
//! checks every op before it writes any.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use corral_store::{Listing, Op, Query, Revision, Store, StoreError, Watch};
use corral_types::{CredentialLabels, Kind, RawObject, ServiceSpec};

use super::policy;
use super::scope::{OpKind, WriteView, check_write};
use crate::access::{Caller, Principal};
use crate::error::ApiError;

/// Kinds that cannot be created or changed in a deactivated environment
/// (only removed).
const CLOSED_WHEN_DEACTIVATED: [Kind; 4] = [
    Kind::Stack,
    Kind::Service,
    Kind::Certificate,
    Kind::RegistrationToken,
];

pub struct AdmittedStore {
    inner: Arc<dyn Store>,
    caller: Caller,
    /// Why the last write was refused: answered instead of the store error
    /// the handler sees.
    refusal: Mutex<Option<ApiError>>,
    /// Environments read once per request for the deactivation check.
    environments: Mutex<HashMap<String, corral_types::EnvironmentSpec>>,
}

impl AdmittedStore {
    pub fn new(inner: Arc<dyn Store>, caller: Caller) -> AdmittedStore {
        AdmittedStore {
            inner,
            caller,
            refusal: Mutex::new(None),
            environments: Mutex::new(HashMap::new()),
        }
    }

    /// The refusal of a write, if one was refused.
    pub fn take_refusal(&self) -> Option<ApiError> {
        self.refusal.lock().ok().and_then(|mut r| r.take())
    }

    fn refuse(&self, err: ApiError) -> StoreError {
        let message = err.to_string();
        if let Ok(mut slot) = self.refusal.lock() {
            *slot = Some(err);
        }
        StoreError::Backend(format!("refused by admission: {message}"))
    }

    /// Checks one op; reads the stored object where the op does not carry
    /// what the check needs (deletes, and updates of services).
    fn check(&self, op: &Op) -> Result<(), ApiError> {
        let Some(rule) = self.caller.rule else {
            // The server acting on its own behalf (tools, benchmarks).
            return Ok(());
        };
        let (kind_op, submitted, stored) = match op {
            Op::Create(obj) => (OpKind::Create, Some(obj), None),
            Op::Update(obj) => {
                let stored = match obj.kind {
                    Kind::Service => {
                        self.stored(obj.kind, &obj.meta.environment, &obj.meta.name)?
                    }
                    _ => None,
                };
                (OpKind::Update, Some(obj), stored)
            }
            Op::Delete {
                kind,
                environment,
                name,
                ..
            } => {
                let stored = self.stored(*kind, environment, name)?;
                match stored {
                    Some(obj) => (OpKind::Delete, None, Some(obj)),
                    // Nothing to delete: the store answers not found.
                    None => return Ok(()),
                }
            }
        };
        let Some(obj) = submitted.or(stored.as_ref()) else {
            return Ok(());
        };
        let view = WriteView {
            op: kind_op,
            kind: obj.kind,
            environment: &obj.meta.environment,
            name: &obj.meta.name,
            label_environment: obj
                .meta
                .labels
                .get(CredentialLabels::ENVIRONMENT)
                .map(String::as_str),
            label_user: obj
                .meta
                .labels
                .get(CredentialLabels::USER)
                .map(String::as_str),
            node: match obj.kind {
                Kind::Instance => obj.spec.get("node").and_then(|n| n.as_str()),
                _ => None,
            },
        };
        check_write(
            &self.caller.principal,
            &rule,
            self.caller.env.as_deref(),
            &view,
        )
        .map_err(ApiError::Forbidden)?;
        if kind_op == OpKind::Delete || !self.acts_for_a_person() {
            return Ok(());
        }
        if CLOSED_WHEN_DEACTIVATED.contains(&obj.kind)
            && let Some(env) = view.owner_environment()
        {
            let spec = self.open_environment(env)?;
            if obj.kind == Kind::Service {
                self.check_host_access(obj, stored.as_ref(), &spec)?;
            }
        }
        Ok(())
    }

    /// People (and their keys) are held to the environment's state and
    /// policy; agents and registrations are not (an agent reports on its
    /// containers in a deactivated environment too).
    fn acts_for_a_person(&self) -> bool {
        !matches!(
            self.caller.principal,
            Principal::Node { .. } | Principal::Registration { .. }
        )
    }

    fn stored(&self, kind: Kind, env: &str, name: &str) -> Result<Option<RawObject>, ApiError> {
        match self.inner.get(kind, env, name) {
            Ok(obj) => Ok(Some(obj)),
            Err(StoreError::NotFound { .. }) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    fn open_environment(&self, env: &str) -> Result<corral_types::EnvironmentSpec, ApiError> {
        if let Some(spec) = self
            .environments
            .lock()
            .ok()
            .and_then(|m| m.get(env).cloned())
        {
            return Ok(spec);
        }
        let spec = policy::environment_open(self.inner.as_ref(), env)?;
        if let Ok(mut m) = self.environments.lock() {
            m.insert(env.to_string(), spec.clone());
        }
        Ok(spec)
    }

    /// A service may not gain host access its caller may not grant; what
    /// it already had (given by someone who could) may stay.
    fn check_host_access(
        &self,
        obj: &RawObject,
        stored: Option<&RawObject>,
        env: &corral_types::EnvironmentSpec,
    ) -> Result<(), ApiError> {
        let decode = |o: &RawObject| serde_json::from_value::<ServiceSpec>(o.spec.clone()).ok();
        let Some(spec) = decode(obj) else {
            // Validation refuses a spec that does not decode.
            return Ok(());
        };
        let had = stored
            .and_then(decode)
            .map(|old| policy::host_access_fields(&old))
            .unwrap_or_default();
        policy::check_new_host_access(
            &self.caller,
            env,
            &format!("service {}", obj.meta.name),
            &spec,
            &had,
        )
    }

    fn note(&self, written: &[RawObject]) {
        if self.caller.rule.is_none() {
            return;
        }
        self.caller.note_written(written.iter().map(|o| {
            format!(
                "{} {}/{}@{}",
                o.kind.as_str().to_lowercase(),
                o.meta.environment,
                o.meta.name,
                o.meta.revision
            )
        }));
    }
}

impl Store for AdmittedStore {
    fn get(&self, kind: Kind, environment: &str, name: &str) -> Result<RawObject, StoreError> {
        self.inner.get(kind, environment, name)
    }

    fn list(&self, query: &Query) -> Result<Listing, StoreError> {
        self.inner.list(query)
    }

    fn apply(&self, ops: Vec<Op>) -> Result<Vec<RawObject>, StoreError> {
        for op in &ops {
            if let Err(e) = self.check(op) {
                return Err(self.refuse(e));
            }
        }
        let written = self.inner.apply(ops)?;
        self.note(&written);
        Ok(written)
    }

    fn watch(&self, query: Query, from: Revision) -> Result<Watch, StoreError> {
        self.inner.watch(query, from)
    }

    fn current_revision(&self) -> Result<Revision, StoreError> {
        self.inner.current_revision()
    }
}

/// The store every handler reads through: writing through it is a bug
/// (writes go through [`super::Admission`]), answered as an internal error.
pub struct ReadOnlyStore(pub Arc<dyn Store>);

impl Store for ReadOnlyStore {
    fn get(&self, kind: Kind, environment: &str, name: &str) -> Result<RawObject, StoreError> {
        self.0.get(kind, environment, name)
    }

    fn list(&self, query: &Query) -> Result<Listing, StoreError> {
        self.0.list(query)
    }

    fn apply(&self, ops: Vec<Op>) -> Result<Vec<RawObject>, StoreError> {
        Err(StoreError::Backend(format!(
            "{} write(s) outside the admission path: a handler must write through Admission",
            ops.len()
        )))
    }

    fn watch(&self, query: Query, from: Revision) -> Result<Watch, StoreError> {
        self.0.watch(query, from)
    }

    fn current_revision(&self) -> Result<Revision, StoreError> {
        self.0.current_revision()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use crate::access::rules::{Resource, Rule, Verb};
    use corral_store::MemoryStore;
    use corral_types::{Instance, InstanceSpec, Object};

    fn instance(name: &str, node: &str) -> RawObject {
        let inst: Instance = Object::new(
            Kind::Instance,
            "dev",
            name,
            InstanceSpec {
                node: node.into(),
                ..InstanceSpec::default()
            },
        );
        inst.to_raw().unwrap()
    }

    fn node_caller(node: &str) -> Caller {
        Caller::new(
            Principal::Node {
                environment: "dev".into(),
                node: node.into(),
                credential: "c".into(),
                certificate: String::new(),
            },
            None,
            "test".into(),
            Rule::env(Resource::Agent, Verb::Write),
            Some("dev".into()),
        )
    }

    #[test]
    fn the_store_handlers_read_through_refuses_every_write() {
        let store = ReadOnlyStore(Arc::new(MemoryStore::new()));
        let err = store.create(instance("web-1", "n1")).unwrap_err();
        assert!(
            err.to_string().contains("outside the admission path"),
            "{err}"
        );
    }

    #[test]
    fn a_batch_with_one_refused_write_stores_none_of_it() {
        let inner: Arc<dyn Store> = Arc::new(MemoryStore::new());
        let mut a = inner.create(instance("web-1", "n1")).unwrap();
        let mut b = inner.create(instance("web-2", "n2")).unwrap();
        let before = inner.current_revision().unwrap();
        a.status = serde_json::json!({"state": "running"});
        b.status = serde_json::json!({"state": "running"});
        let caller = node_caller("n1");
        let admitted = AdmittedStore::new(inner.clone(), caller.clone());
        let err = admitted.apply(vec![Op::Update(a), Op::Update(b)]);
        assert!(err.is_err());
        let refusal = admitted.take_refusal().expect("the refusal is kept");
        assert!(matches!(refusal, ApiError::Forbidden(_)), "{refusal}");
        assert!(refusal.to_string().contains("web-2"), "{refusal}");
        assert_eq!(inner.current_revision().unwrap(), before);
        // Nothing stored, nothing for the audit entry to name.
        assert!(caller.written_summary().is_none());
    }
}
