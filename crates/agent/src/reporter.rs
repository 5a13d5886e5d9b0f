//! Status reports go to the server in batches, not one request per instance.
//!
//! [`Reporter::enqueue`] queues a report and returns at once; [`run`] sends
//! what is queued [`LINGER`] after the first report, one environment at a
//! time, at most [`MAX_BATCH`] reports per request
//! (`POST .../nodes/{node}/statuses`). What is queued while a request is in
//! flight waits for it and goes out in the next request, and a newer status
//! of an instance replaces the queued one, so a busy node sends few requests
//! however many instances change. The answers are applied to
//! `Shared::desired` as a single report's answer used to be: a taken report
//! updates the local copy (new revision), a report about an instance that is
//! gone (or placed on another node) is dropped, any other failure marks the
//! instance unreported so the next pass sends it again.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::{Notify, watch};

use corral_api::{ApiError, StatusBatchResult, StatusErrorCode, StatusReport, StatusReportError};
use corral_types::{Instance, InstanceStatus};

use crate::Shared;

/// Reports per request (the server takes up to `corral_api::MAX_STATUS_BATCH`).
pub const MAX_BATCH: usize = 500;

/// How long the first queued report waits for others: the launches of
/// one pass (and of the next, 50 ms later) finish at nearly the same time,
/// and one request for them all costs the server far less than one each.
pub const LINGER: Duration = Duration::from_millis(100);

/// A request that takes longer than this is given up; its reports are sent again.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// Reports the server did not take are sent again after this long.
const RETRY_AFTER: Duration = Duration::from_millis(500);

/// At shutdown, what is queued is sent if the server answers within this time.
const SHUTDOWN_FLUSH: Duration = Duration::from_secs(5);

/// Reports waiting to be sent: the latest status per instance, in the order
/// the instances were first queued.
#[derive(Debug, Default)]
pub struct Queue {
    /// (environment, instance) in the order first queued.
    order: VecDeque<(String, String)>,
    /// The latest report per (environment, instance).
    latest: HashMap<(String, String), Queued>,
}

#[derive(Debug, Clone, PartialEq)]
struct Queued {
    uid: String,
    status: InstanceStatus,
}

/// The reports of one request.
#[derive(Debug, Clone, PartialEq)]
pub struct Batch {
    pub environment: String,
    pub reports: Vec<StatusReport>,
}

impl Queue {
    /// Queues the status of instance `name` (uid `uid`) of `env`; a status
    /// already queued for that instance is replaced and keeps its place.
    pub fn push(&mut self, env: &str, name: &str, uid: &str, status: InstanceStatus) {
        let key = (env.to_string(), name.to_string());
        let queued = Queued {
            uid: uid.to_string(),
            status,
        };
        if let Some(old) = self.latest.get_mut(&key) {
            *old = queued;
        } else {
            self.order.push_back(key.clone());
            self.latest.insert(key, queued);
        }
    }

    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.latest.len()
    }

    #[cfg(test)]
    pub fn is_empty(&self) -> bool {
        self.latest.is_empty()
    }

    /// Takes the next request: up to `max` (at least 1) reports, oldest
    /// first, all of the environment of the oldest queued report.
    pub fn take_batch(&mut self, max: usize) -> Option<Batch> {
        let environment = self.order.front()?.0.clone();
        let max = max.max(1);
        let mut reports = Vec::new();
        let latest = &mut self.latest;
        self.order.retain(|key| {
            if reports.len() >= max || key.0 != environment {
                return true;
            }
            if let Some(q) = latest.remove(key) {
                reports.push(StatusReport {
                    instance: key.1.clone(),
                    uid: q.uid,
                    status: q.status,
                });
            }
            false
        });
        Some(Batch {
            environment,
            reports,
        })
    }
}

/// What became of one report.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// The server holds the status; its copy of the instance.
    Taken(Box<Instance>),
    /// No such instance on this node any more: nothing to report on.
    Gone,
    /// Not taken; send it again.
    Again,
}

/// The outcome of each report of `reports` (same order) from the server's
/// answer to them. A report the answer does not mention is sent again.
pub fn outcomes(reports: &[StatusReport], answer: StatusBatchResult) -> Vec<Outcome> {
    let mut taken: HashMap<String, Instance> = answer
        .instances
        .into_iter()
        .map(|i| (i.meta.name.clone(), i))
        .collect();
    let errors: HashMap<&str, &StatusReportError> = answer
        .errors
        .iter()
        .map(|e| (e.instance.as_str(), e))
        .collect();
    reports
        .iter()
        .map(|r| {
            if let Some(inst) = taken.remove(&r.instance) {
                return Outcome::Taken(Box::new(inst));
            }
            match errors.get(r.instance.as_str()).map(|e| e.code) {
                Some(StatusErrorCode::NotFound | StatusErrorCode::WrongNode) => Outcome::Gone,
                Some(StatusErrorCode::Other) | None => Outcome::Again,
            }
        })
        .collect()
}

/// The queue shared by the steps (which fill it) and [`run`] (which sends it).
#[derive(Default)]
pub struct Reporter {
    queue: Mutex<Queue>,
    wake: Notify,
}

impl Reporter {
    /// Queues a report; [`run`] sends it soon.
    pub fn enqueue(&self, env: &str, name: &str, uid: &str, status: InstanceStatus) {
        if let Ok(mut q) = self.queue.lock() {
            q.push(env, name, uid, status);
        }
        self.wake.notify_one();
    }

    fn take_batch(&self) -> Option<Batch> {
        self.queue.lock().ok()?.take_batch(MAX_BATCH)
    }
}

/// Sends queued reports until `shutdown` becomes true, then sends what is
/// still queued if the server answers within [`SHUTDOWN_FLUSH`].
pub async fn run(shared: Arc<Shared>, mut shutdown: watch::Receiver<bool>) {
    loop {
        tokio::select! {
            _ = shared.reporter.wake.notified() => {}
            _ = shutdown.wait_for(|s| *s) => break,
        }
        tokio::select! {
            _ = tokio::time::sleep(LINGER) => {}
            _ = shutdown.wait_for(|s| *s) => break,
        }
        while let Some(batch) = shared.reporter.take_batch() {
            send(&shared, batch, shutdown.clone()).await;
            if *shutdown.borrow() {
                break;
            }
        }
    }
    let deadline = Instant::now() + SHUTDOWN_FLUSH;
    while let Some(batch) = shared.reporter.take_batch() {
        let left = deadline.saturating_duration_since(Instant::now());
        let answered = tokio::time::timeout(left, send(&shared, batch, shutdown.clone()))
            .await
            .unwrap_or(false);
        if !answered {
            tracing::warn!("stopping with status reports the server did not take");
            break;
        }
    }
}

/// Sends one batch and applies the answer to the local copies. False when
/// the server did not answer (in time).
async fn send(shared: &Arc<Shared>, batch: Batch, mut shutdown: watch::Receiver<bool>) -> bool {
    let Batch {
        environment,
        reports,
    } = batch;
    let node = &shared.options.name;
    let request = async {
        let _slot = shared.request_slot.lock().await;
        shared
            .client
            .report_statuses(&environment, node, &reports)
            .await
    };
    // A request in flight when the agent stops gets the shutdown's grace.
    let stopping = async {
        let _ = shutdown.wait_for(|s| *s).await;
        tokio::time::sleep(SHUTDOWN_FLUSH).await;
    };
    let answer = tokio::select! {
        answer = tokio::time::timeout(REQUEST_TIMEOUT, request) => answer.unwrap_or_else(|_| {
            Err(ApiError::Transport {
                url: shared.client.base_url().to_string(),
                message: format!("no answer within {}s", REQUEST_TIMEOUT.as_secs()),
            })
        }),
        () = stopping => Err(ApiError::Transport {
            url: shared.client.base_url().to_string(),
            message: "the agent is stopping".into(),
        }),
    };
    let (outcomes, answered) = match answer {
        Ok(answer) => (outcomes(&reports, answer), true),
        // The environment is gone, or the server predates batches: report
        // one by one, as agents did before (a 404 there drops the report).
        Err(e) if e.is_not_found() => (one_by_one(shared, &environment, &reports).await, true),
        Err(e) => {
            tracing::warn!(
                "reporting the status of {} instances: {e}; will report again",
                reports.len()
            );
            let answered = e.status().is_some();
            (vec![Outcome::Again; reports.len()], answered)
        }
    };
    apply(shared, &reports, outcomes);
    answered
}

/// The old way: one `PUT .../instances/{name}/status` per report.
async fn one_by_one(shared: &Shared, env: &str, reports: &[StatusReport]) -> Vec<Outcome> {
    let mut outcomes = Vec::with_capacity(reports.len());
    for r in reports {
        let outcome = match shared
            .client
            .report_instance_status(env, &r.instance, &r.status)
            .await
        {
            Ok(updated) if r.uid.is_empty() || updated.meta.uid == r.uid => {
                Outcome::Taken(Box::new(updated))
            }
            // The old endpoint cannot check the uid: the status landed on a
            // new instance of the same name. Its copy comes through the
            // watch, and the next pass reports that instance's own status.
            Ok(_) => Outcome::Gone,
            Err(e) if e.is_not_found() => Outcome::Gone,
            Err(e) => {
                tracing::warn!("reporting {}: {e}; will report again", r.instance);
                Outcome::Again
            }
        };
        outcomes.push(outcome);
    }
    outcomes
}

fn apply(shared: &Arc<Shared>, reports: &[StatusReport], outcomes: Vec<Outcome>) {
    let mut again = false;
    for (r, outcome) in reports.iter().zip(outcomes) {
        match outcome {
            Outcome::Taken(updated) => shared.desired.taken(*updated, &r.status),
            Outcome::Gone => shared.desired.gone(&r.instance, &r.status),
            Outcome::Again => {
                shared.desired.not_taken(&r.instance);
                again = true;
            }
        }
    }
    if again {
        // The pass sends the reports again; not at once, the server is
        // failing (the queue gathers what changes meanwhile).
        let shared = shared.clone();
        tokio::spawn(async move {
            tokio::time::sleep(RETRY_AFTER).await;
            shared.wake.notify_one();
        });
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use corral_types::{InstanceState, Kind, Object};

    use super::*;

    fn status(state: InstanceState, container: &str) -> InstanceStatus {
        InstanceStatus {
            state,
            container_id: container.into(),
            ..InstanceStatus::default()
        }
    }

    fn names(batch: &Batch) -> Vec<&str> {
        batch.reports.iter().map(|r| r.instance.as_str()).collect()
    }

    #[test]
    fn the_latest_status_of_an_instance_wins_and_keeps_its_place() {
        let mut q = Queue::default();
        q.push(
            "default",
            "web-1",
            "u1",
            status(InstanceState::Starting, "c1"),
        );
        q.push(
            "default",
            "web-2",
            "u2",
            status(InstanceState::Running, "c2"),
        );
        q.push(
            "default",
            "web-1",
            "u1",
            status(InstanceState::Running, "c1"),
        );
        assert_eq!(q.len(), 2);
        let batch = q.take_batch(MAX_BATCH).unwrap();
        assert_eq!(batch.environment, "default");
        assert_eq!(names(&batch), ["web-1", "web-2"]);
        assert_eq!(
            batch.reports[0].status,
            status(InstanceState::Running, "c1")
        );
        assert_eq!(batch.reports[0].uid, "u1");
        assert!(q.is_empty());
        assert_eq!(q.take_batch(MAX_BATCH), None);
    }

    #[test]
    fn a_report_of_a_new_instance_of_the_same_name_replaces_the_old_ones() {
        let mut q = Queue::default();
        q.push(
            "default",
            "web-1",
            "old",
            status(InstanceState::Running, "c1"),
        );
        q.push(
            "default",
            "web-1",
            "new",
            status(InstanceState::Starting, "c2"),
        );
        let batch = q.take_batch(MAX_BATCH).unwrap();
        assert_eq!(batch.reports.len(), 1);
        assert_eq!(batch.reports[0].uid, "new");
    }

    #[test]
    fn batches_are_split_at_the_maximum_size_oldest_first() {
        let mut q = Queue::default();
        for i in 1..=1203 {
            q.push(
                "default",
                &format!("web-{i}"),
                "u",
                status(InstanceState::Running, ""),
            );
        }
        let sizes: Vec<usize> = std::iter::from_fn(|| q.take_batch(500))
            .map(|b| b.reports.len())
            .collect();
        assert_eq!(sizes, [500, 500, 203]);

        for i in 1..=5 {
            q.push(
                "default",
                &format!("web-{i}"),
                "u",
                InstanceStatus::default(),
            );
        }
        assert_eq!(names(&q.take_batch(2).unwrap()), ["web-1", "web-2"]);
        assert_eq!(names(&q.take_batch(2).unwrap()), ["web-3", "web-4"]);
        assert_eq!(names(&q.take_batch(0).unwrap()), ["web-5"], "0 means 1");
    }

    #[test]
    fn a_batch_holds_one_environment_and_the_oldest_environment_goes_first() {
        let mut q = Queue::default();
        q.push("prod", "api-1", "u", InstanceStatus::default());
        q.push("dev", "api-1", "u", InstanceStatus::default());
        q.push("prod", "api-2", "u", InstanceStatus::default());
        q.push("dev", "api-2", "u", InstanceStatus::default());
        let first = q.take_batch(MAX_BATCH).unwrap();
        assert_eq!(first.environment, "prod");
        assert_eq!(names(&first), ["api-1", "api-2"]);
        let second = q.take_batch(MAX_BATCH).unwrap();
        assert_eq!(second.environment, "dev");
        assert_eq!(names(&second), ["api-1", "api-2"]);
        assert_eq!(q.take_batch(MAX_BATCH), None);
    }

    #[test]
    fn what_is_queued_while_a_batch_is_out_goes_in_the_next_one() {
        let mut q = Queue::default();
        q.push(
            "default",
            "web-1",
            "u",
            status(InstanceState::Starting, "c1"),
        );
        let out = q.take_batch(MAX_BATCH).unwrap();
        q.push(
            "default",
            "web-1",
            "u",
            status(InstanceState::Running, "c1"),
        );
        q.push(
            "default",
            "web-2",
            "u",
            status(InstanceState::Running, "c2"),
        );
        assert_eq!(names(&out), ["web-1"]);
        let next = q.take_batch(MAX_BATCH).unwrap();
        assert_eq!(names(&next), ["web-1", "web-2"]);
        assert_eq!(next.reports[0].status.state, InstanceState::Running);
    }

    fn instance(name: &str, revision: u64) -> Instance {
        let mut inst: Instance = Object::new(Kind::Instance, "default", name, Default::default());
        inst.meta.revision = revision;
        inst
    }

    fn report(name: &str) -> StatusReport {
        StatusReport {
            instance: name.into(),
            uid: String::new(),
            status: InstanceStatus::default(),
        }
    }

    fn error(name: &str, code: StatusErrorCode) -> StatusReportError {
        StatusReportError {
            instance: name.into(),
            code,
            reason: "because".into(),
        }
    }

    #[test]
    fn answers_map_to_taken_gone_or_again_per_report() {
        let reports: Vec<StatusReport> = ["a", "b", "c", "d", "e"].map(report).to_vec();
        let answer = StatusBatchResult {
            instances: vec![instance("c", 8), instance("a", 7)],
            errors: vec![
                error("b", StatusErrorCode::NotFound),
                error("d", StatusErrorCode::WrongNode),
            ],
        };
        assert_eq!(
            outcomes(&reports, answer),
            [
                Outcome::Taken(Box::new(instance("a", 7))),
                Outcome::Gone,
                Outcome::Taken(Box::new(instance("c", 8))),
                Outcome::Gone,
                // Not mentioned at all: sent again.
                Outcome::Again,
            ]
        );
    }

    #[test]
    fn an_error_code_this_agent_does_not_know_means_report_again() {
        let answer: StatusBatchResult = serde_json::from_str(
            r#"{"instances": [], "errors": [{"instance": "a", "code": "rate-limited", "reason": "later"}]}"#,
        )
        .unwrap();
        assert_eq!(answer.errors[0].code, StatusErrorCode::Other);
        assert_eq!(outcomes(&[report("a")], answer), [Outcome::Again]);
    }
}
