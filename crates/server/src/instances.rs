//! Instance verbs: agents report status (one instance, or a batch of one
//! node's instances); users read logs through the server, which asks the
//! agent of the instance's node.

use axum::body::Body;
use axum::response::{IntoResponse, Response};
use futures::TryStreamExt;

use corral_api::{LogsQuery, StatusBatchResult, StatusErrorCode, StatusReport, StatusReportError};
use corral_store::{Op, Store, StoreError};
use corral_types::{Instance, InstanceStatus, Kind, Node};

use crate::admission::{Admission, Edit};
use crate::error::{ApiError, decode_body};
use crate::objects::{check_environment, get_object};
use crate::state::AppState;

/// Replaces an instance's status (the agent is its only writer), retrying on races
/// with spec writers. With `node`, the instance must be placed on it.
pub async fn report_status(
    admission: &Admission,
    env: &str,
    name: &str,
    node: Option<&str>,
    body: &[u8],
) -> Result<Instance, ApiError> {
    let status: InstanceStatus = decode_body(body)?;
    let raw = admission
        .edit(Kind::Instance, env, name, |inst: &mut Instance| {
            if let Some(node) = node
                && inst.spec.node != node
            {
                return Err(ApiError::Forbidden(format!(
                    "instance {name:?} is not placed on node {node:?}; its agent may not report it"
                )));
            }
            if inst.status == status {
                return Ok(Edit::Keep);
            }
            inst.status = status.clone();
            Ok(Edit::Write)
        })
        .await?;
    Instance::from_raw(raw).map_err(|e| ApiError::Internal(e.to_string()))
}

/// How many times a status batch is read and written again when a write of
/// another client raced it.
const BATCH_ATTEMPTS: usize = 5;

/// Sets the status of the instances of node `node` named in `reports` and
/// writes every changed one in one atomic `Store::apply`. Runs on a blocking
/// thread (the store is synchronous). Reports about instances that are gone
/// or placed on another node come back as per-item errors; a batch that
/// loses a race (an instance changed or was deleted between the read and the
/// write) is read and written again, at most [`BATCH_ATTEMPTS`] times, then
/// fails with a conflict and writes nothing.
pub fn apply_status_batch(
    store: &dyn Store,
    env: &str,
    node: &str,
    reports: Vec<StatusReport>,
) -> Result<StatusBatchResult, ApiError> {
    // The last report about an instance wins; the first one fixes its place.
    let mut wanted: Vec<StatusReport> = Vec::with_capacity(reports.len());
    let mut index = std::collections::HashMap::with_capacity(reports.len());
    for report in reports {
        match index.get(&report.instance) {
            Some(&i) => wanted[i] = report,
            None => {
                index.insert(report.instance.clone(), wanted.len());
                wanted.push(report);
            }
        }
    }
    for _ in 0..BATCH_ATTEMPTS {
        let mut errors = Vec::new();
        // Taken reports in request order; `true` when the instance must be written.
        let mut taken: Vec<(Instance, bool)> = Vec::with_capacity(wanted.len());
        for report in &wanted {
            let name = &report.instance;
            let raw = match store.get(Kind::Instance, env, name) {
                Ok(raw) => raw,
                Err(StoreError::NotFound { .. }) => {
                    errors.push(item_error(
                        name,
                        StatusErrorCode::NotFound,
                        format!("instance {name:?} not found in environment {env:?}"),
                    ));
                    continue;
                }
                Err(e) => return Err(e.into()),
            };
            let mut inst =
                Instance::from_raw(raw).map_err(|e| ApiError::Internal(e.to_string()))?;
            if !report.uid.is_empty() && inst.meta.uid != report.uid {
                errors.push(item_error(
                    name,
                    StatusErrorCode::NotFound,
                    format!(
                        "instance {name:?} with uid {:?} not found (the instance of that name now has uid {:?})",
                        report.uid, inst.meta.uid
                    ),
                ));
                continue;
            }
            if inst.spec.node != node {
                let placed = if inst.spec.node.is_empty() {
                    "is not placed on any node".to_string()
                } else {
                    format!("is placed on node {:?}", inst.spec.node)
                };
                errors.push(item_error(
                    name,
                    StatusErrorCode::WrongNode,
                    format!("instance {name:?} {placed}, not on {node:?}"),
                ));
                continue;
            }
            let changed = inst.status != report.status;
            if changed {
                inst.status = report.status.clone();
            }
            taken.push((inst, changed));
        }
        let ops = taken
            .iter()
            .filter(|(_, changed)| *changed)
            .map(|(inst, _)| inst.to_raw().map(Op::Update))
            .collect::<Result<Vec<Op>, _>>()
            .map_err(|e| ApiError::Internal(e.to_string()))?;
        let written = if ops.is_empty() {
            Vec::new()
        } else {
            match store.apply(ops) {
                Ok(written) => written,
                // Raced by another writer: read again and retry.
                Err(StoreError::Conflict { .. } | StoreError::NotFound { .. }) => continue,
                Err(e) => return Err(e.into()),
            }
        };
        // `apply` answers one object per op, in op order.
        let mut written = written.into_iter();
        let mut instances = Vec::with_capacity(taken.len());
        for (inst, changed) in taken {
            if !changed {
                instances.push(inst);
                continue;
            }
            let raw = written.next().ok_or_else(|| {
                ApiError::Internal("the store answered fewer objects than it wrote".into())
            })?;
            instances.push(Instance::from_raw(raw).map_err(|e| ApiError::Internal(e.to_string()))?);
        }
        return Ok(StatusBatchResult { instances, errors });
    }
    Err(ApiError::Conflict(format!(
        "instances of node {node:?} keep changing; report again"
    )))
}

fn item_error(instance: &str, code: StatusErrorCode, reason: String) -> StatusReportError {
    StatusReportError {
        instance: instance.to_string(),
        code,
        reason,
    }
}

/// [`apply_status_batch`] off the async workers, in environment `env`
/// (not found if there is none).
pub async fn report_statuses(
    admission: &Admission,
    env: &str,
    node: &str,
    reports: Vec<StatusReport>,
) -> Result<StatusBatchResult, ApiError> {
    // Each report in progress holds its instance as read, decoded and
    // written, and its answer (a few kilobytes); thousands of agents
    // reporting at once held gigabytes on blocking threads. The bound is on
    // reports, not requests: many small batches (a node reports a few dozen
    // instances) then share one group commit and its fsync, where a bound
    // of four requests made the fsync the limit of the whole deploy.
    let weight = u32::try_from(reports.len().clamp(1, REPORTS_IN_PROGRESS)).unwrap_or(1);
    let _permit = REPORTS
        .acquire_many(weight)
        .await
        .map_err(|e| ApiError::Internal(format!("status batches: {e}")))?;
    // Each batch holds a blocking thread until its group commit is done.
    // Thousands of one-report batches would take the whole blocking pool
    // (512 threads), and every other request that reads the store (a
    // user's GET, a heartbeat) would queue behind them for seconds.
    let _request = BATCHES
        .acquire()
        .await
        .map_err(|e| ApiError::Internal(format!("status batches: {e}")))?;
    let (env, node) = (env.to_string(), node.to_string());
    // The environment is checked on the same blocking thread as the batch:
    // one hand-off per request, not two.
    admission
        .store(move |s| {
            check_environment(s, &env).and_then(|()| apply_status_batch(s, &env, &node, reports))
        })
        .await
}

/// Status reports being applied at once, server-wide (a batch holds one
/// permit per report).
const REPORTS_IN_PROGRESS: usize = 2 * corral_api::MAX_STATUS_BATCH;
static REPORTS: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(REPORTS_IN_PROGRESS);

/// Status batch requests being applied at once, server-wide: enough to
/// share a group commit among many nodes, and a small part of the blocking
/// pool.
const BATCHES_IN_PROGRESS: usize = 128;
static BATCHES: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(BATCHES_IN_PROGRESS);

/// The client that calls node `node`'s endpoint at `agent_url`: over
/// HTTPS it trusts exactly the certificate the node's credential is bound
/// to, and presents the server's own; the endpoint key goes to no one else.
async fn agent_client(
    state: &AppState,
    env: &str,
    node: &str,
    agent_url: &str,
) -> Result<reqwest::Client, ApiError> {
    let Some(config) = agent_tls(state, env, node, agent_url).await? else {
        return Ok(state.http.clone());
    };
    reqwest::Client::builder()
        .connect_timeout(std::time::Duration::from_secs(5))
        .use_preconfigured_tls(config)
        .build()
        .map_err(|e| ApiError::Internal(e.to_string()))
}

/// The TLS side of a call to node `node`'s agent at `agent_url`: its
/// certificate pinned (from the node's credential) and the server's
/// client identity; `None` for a plain `http://` agent.
pub(crate) async fn agent_tls(
    state: &AppState,
    env: &str,
    node: &str,
    agent_url: &str,
) -> Result<Option<rustls::ClientConfig>, ApiError> {
    if !agent_url.starts_with("https://") {
        return Ok(None);
    }
    let id = crate::registration::credential_id(env, node);
    let raw = get_object(state, Kind::NodeCredential, corral_types::GLOBAL, &id)
        .await
        .map_err(|_| ApiError::BadGateway(format!("node {node:?} has no credential")))?;
    let cred: corral_types::NodeCredential =
        corral_types::Object::from_raw(raw).map_err(|e| ApiError::Internal(e.to_string()))?;
    let (Some(identity), false) = (
        &state.agent_client_identity,
        cred.spec.certificate.is_empty(),
    ) else {
        return Err(ApiError::BadGateway(format!(
            "node {node:?} serves HTTPS but its certificate is not known"
        )));
    };
    corral_pki::tls::pinned_client_config(&cred.spec.certificate, (&identity.0, &identity.1))
        .map(Some)
        .map_err(|e| ApiError::Internal(e.to_string()))
}

/// Streams the logs of an instance's container from its node's agent.
pub async fn logs(
    state: &AppState,
    env: &str,
    name: &str,
    query: LogsQuery,
) -> Result<Response, ApiError> {
    let raw = get_object(state, Kind::Instance, env, name).await?;
    let inst = Instance::from_raw(raw).map_err(|e| ApiError::Internal(e.to_string()))?;
    if inst.spec.node.is_empty() || inst.status.container_id.is_empty() {
        return Err(ApiError::Conflict(format!(
            "instance {name:?} has no container yet (state {})",
            inst.status.state
        )));
    }
    let raw = get_object(state, Kind::Node, env, &inst.spec.node).await?;
    let node = Node::from_raw(raw).map_err(|e| ApiError::Internal(e.to_string()))?;
    if node.status.agent_url.is_empty() {
        return Err(ApiError::BadGateway(format!(
            "node {:?} did not report an agent address",
            node.meta.name
        )));
    }
    let url = format!(
        "{}/v1/containers/{}/logs",
        node.status.agent_url.trim_end_matches('/'),
        inst.status.container_id
    );
    let http = agent_client(state, env, &node.meta.name, &node.status.agent_url).await?;
    let mut req = http
        .get(&url)
        .bearer_auth(state.endpoint_key(env, &inst.spec.node))
        .query(&[("follow", query.follow.to_string())]);
    if let Some(tail) = query.tail {
        req = req.query(&[("tail", tail.to_string())]);
    }
    let resp = req.send().await.map_err(|e| {
        ApiError::BadGateway(format!("agent of node {:?} at {url}: {e}", node.meta.name))
    })?;
    if !resp.status().is_success() {
        let code = resp.status();
        let text = resp.text().await.unwrap_or_default();
        return Err(ApiError::BadGateway(format!(
            "agent of node {:?} answered {code}: {}",
            node.meta.name,
            text.trim()
        )));
    }
    let stream = resp.bytes_stream().map_err(std::io::Error::other);
    Ok((
        [("content-type", "application/octet-stream")],
        Body::from_stream(stream),
    )
        .into_response())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use std::sync::Mutex;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use corral_store::{Listing, MemoryStore, Query, Revision, Watch};
    use corral_types::{InstanceSpec, InstanceState, Object, RawObject};

    use super::*;

    /// A memory store that counts transactions, and that can make another
    /// writer win the race against the next `races` of them.
    #[derive(Default)]
    struct RacyStore {
        inner: MemoryStore,
        applies: AtomicUsize,
        races: Mutex<usize>,
    }

    impl RacyStore {
        /// Another writer changes `web-1` (a spec write) just before the apply.
        fn interfere(&self) {
            let mut raw = self.inner.get(Kind::Instance, "default", "web-1").unwrap();
            raw.meta.generation += 1;
            self.inner.update(raw).unwrap();
        }
    }

    impl Store for RacyStore {
        fn get(&self, kind: Kind, env: &str, name: &str) -> Result<RawObject, StoreError> {
            self.inner.get(kind, env, name)
        }
        fn list(&self, query: &Query) -> Result<Listing, StoreError> {
            self.inner.list(query)
        }
        fn apply(&self, ops: Vec<Op>) -> Result<Vec<RawObject>, StoreError> {
            let race = {
                let mut races = self.races.lock().unwrap();
                let race = *races > 0;
                *races = races.saturating_sub(1);
                race
            };
            if race {
                self.interfere();
            }
            self.applies.fetch_add(1, Ordering::SeqCst);
            self.inner.apply(ops)
        }
        fn watch(&self, query: Query, from: Revision) -> Result<Watch, StoreError> {
            self.inner.watch(query, from)
        }
        fn current_revision(&self) -> Result<Revision, StoreError> {
            self.inner.current_revision()
        }
    }

    fn store_with(names: &[&str], node: &str) -> RacyStore {
        let store = RacyStore::default();
        for name in names {
            let mut inst: Instance = Object::new(
                Kind::Instance,
                "default",
                name,
                InstanceSpec {
                    node: node.into(),
                    ..InstanceSpec::default()
                },
            );
            inst.meta.uid = format!("uid-{name}");
            store.inner.create(inst.to_raw().unwrap()).unwrap();
        }
        store
    }

    fn running(name: &str) -> StatusReport {
        StatusReport {
            instance: name.into(),
            uid: String::new(),
            status: InstanceStatus {
                state: InstanceState::Running,
                container_id: format!("c-{name}"),
                ..InstanceStatus::default()
            },
        }
    }

    #[test]
    fn a_batch_is_written_in_one_transaction() {
        let store = store_with(&["web-1", "web-2", "web-3"], "n1");
        let reports = vec![running("web-1"), running("web-2"), running("web-3")];
        let result = apply_status_batch(&store, "default", "n1", reports).unwrap();
        assert_eq!(result.instances.len(), 3);
        assert_eq!(store.applies.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn a_batch_that_loses_a_race_is_read_and_written_again() {
        let store = store_with(&["web-1", "web-2"], "n1");
        *store.races.lock().unwrap() = 2;
        let result = apply_status_batch(
            &store,
            "default",
            "n1",
            vec![running("web-1"), running("web-2")],
        )
        .unwrap();
        assert_eq!(store.applies.load(Ordering::SeqCst), 3);
        let stored =
            Instance::from_raw(store.get(Kind::Instance, "default", "web-1").unwrap()).unwrap();
        // The other writer's change is kept, the status is set on top of it.
        assert_eq!(stored.meta.generation, 2);
        assert_eq!(stored.status.state, InstanceState::Running);
        assert_eq!(result.instances[0], stored);
    }

    #[test]
    fn a_batch_that_keeps_losing_is_a_conflict_and_writes_nothing_of_its_own() {
        let store = store_with(&["web-1", "web-2"], "n1");
        *store.races.lock().unwrap() = usize::MAX;
        let err = apply_status_batch(
            &store,
            "default",
            "n1",
            vec![running("web-1"), running("web-2")],
        )
        .unwrap_err();
        assert!(matches!(err, ApiError::Conflict(_)), "{err:?}");
        assert_eq!(store.applies.load(Ordering::SeqCst), BATCH_ATTEMPTS);
        for name in ["web-1", "web-2"] {
            let stored =
                Instance::from_raw(store.get(Kind::Instance, "default", name).unwrap()).unwrap();
            assert_eq!(stored.status, InstanceStatus::default(), "{name}");
        }
    }

    #[test]
    fn an_instance_deleted_between_read_and_write_is_reported_not_found_on_retry() {
        let store = store_with(&["web-1", "web-2"], "n1");
        // The race: web-2 is deleted after the read, before the write.
        struct DeletingStore(RacyStore, Mutex<bool>);
        impl Store for DeletingStore {
            fn get(&self, kind: Kind, env: &str, name: &str) -> Result<RawObject, StoreError> {
                self.0.get(kind, env, name)
            }
            fn list(&self, query: &Query) -> Result<Listing, StoreError> {
                self.0.list(query)
            }
            fn apply(&self, ops: Vec<Op>) -> Result<Vec<RawObject>, StoreError> {
                let mut first = self.1.lock().unwrap();
                if *first {
                    *first = false;
                    self.0
                        .inner
                        .delete(Kind::Instance, "default", "web-2", None)
                        .unwrap();
                }
                self.0.apply(ops)
            }
            fn watch(&self, query: Query, from: Revision) -> Result<Watch, StoreError> {
                self.0.watch(query, from)
            }
            fn current_revision(&self) -> Result<Revision, StoreError> {
                self.0.current_revision()
            }
        }
        let store = DeletingStore(store, Mutex::new(true));
        let result = apply_status_batch(
            &store,
            "default",
            "n1",
            vec![running("web-1"), running("web-2")],
        )
        .unwrap();
        assert_eq!(result.instances.len(), 1);
        assert_eq!(result.instances[0].meta.name, "web-1");
        assert_eq!(result.errors.len(), 1);
        assert_eq!(result.errors[0].instance, "web-2");
        assert_eq!(result.errors[0].code, StatusErrorCode::NotFound);
    }
}
