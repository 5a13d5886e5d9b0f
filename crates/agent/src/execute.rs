//! Carrying out the plan against the engine, and the loop that runs it.

use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::StreamExt;
use tokio::sync::{Semaphore, watch};

use corral_engine::EngineError;
use corral_types::{ContainerLabels, Instance, InstanceState, InstanceStatus};

use crate::Shared;
use crate::backoff::Backoff;
use crate::container_config::{DEFAULT_STOP_GRACE_S, is_data_sidekick, stop_grace_seconds};
use crate::health::HealthMonitor;
use crate::launch::{epoch_ms, launch, launch_sidekick, start_sidekick, stop_and_remove};
use crate::plan::{NodeFacts, SidekickLaunch, Step, plan_node, sidekick_key};
use crate::probe::EngineProber;

/// Engine operations of one pass run this many at a time.
const PARALLEL_STEPS: usize = 8;

/// Passes start at least this far apart. A pass lists every container of
/// the engine and plans every instance of the node; the wakes of a burst
/// (a watch event per new instance, a container event and a finished step
/// per launch) are handled by one pass instead of one each, at the cost of
/// at most this much latency on a change.
const MIN_PASS_GAP: Duration = Duration::from_millis(50);

/// Steps in progress, by the instance uid or container id they work on, so
/// that a slow step (a stop waits for the grace period) never blocks the
/// next pass, and no pass starts the same work twice.
#[derive(Default)]
struct InFlight {
    keys: Mutex<HashSet<String>>,
}

impl InFlight {
    fn claim(&self, key: &str) -> bool {
        self.keys
            .lock()
            .map(|mut k| k.insert(key.to_string()))
            .unwrap_or(false)
    }

    fn release(&self, key: &str) {
        if let Ok(mut k) = self.keys.lock() {
            k.remove(key);
        }
    }
}

fn step_key(step: &Step) -> String {
    match step {
        Step::Launch { instance, .. }
        | Step::Start { instance, .. }
        | Step::LaunchSidekicks { instance, .. }
        | Step::Finish { instance, .. }
        | Step::Report { instance, .. } => instance.meta.uid.clone(),
        Step::RemoveOrphan { container_id, .. } => container_id.clone(),
    }
}

/// Reconciles when woken (an instance or container changed) and every `resync`.
pub async fn reconcile_loop(shared: Arc<Shared>, mut shutdown: watch::Receiver<bool>) {
    let backoff = Arc::new(Mutex::new(Backoff::default()));
    let in_flight = Arc::new(InFlight::default());
    let permits = Arc::new(Semaphore::new(PARALLEL_STEPS));
    let prober = Arc::new(EngineProber {
        engine: shared.engine.clone(),
    });
    let waker = shared.clone();
    let mut health = HealthMonitor::new(prober, Arc::new(move || waker.wake.notify_one()));
    loop {
        let started = tokio::time::Instant::now();
        let result = pass(&shared, &backoff, &in_flight, &permits, &mut health).await;
        if let Err(e) = result {
            tracing::warn!("reconcile: {e}");
        }
        tokio::select! {
            _ = shared.wake.notified() => {}
            _ = tokio::time::sleep(shared.options.resync) => {}
            _ = shutdown.wait_for(|s| *s) => return,
        }
        tokio::select! {
            _ = tokio::time::sleep_until(started + MIN_PASS_GAP) => {}
            _ = shutdown.wait_for(|s| *s) => return,
        }
        // A wake during the gap is about a change the next pass sees.
        let _ = futures::FutureExt::now_or_never(shared.wake.notified());
    }
}

async fn pass(
    shared: &Arc<Shared>,
    backoff: &Arc<Mutex<Backoff>>,
    in_flight: &Arc<InFlight>,
    permits: &Arc<Semaphore>,
    health: &mut HealthMonitor,
) -> Result<(), EngineError> {
    let (mut desired, synced) = shared.desired.snapshot();
    // Load balancers run in this process, not in containers.
    shared.balancers.reconcile(shared, &desired).await;
    desired.retain(|i| !crate::balancers::is_balancer(i));
    let containers = shared.engine.list(ContainerLabels::INSTANCE).await?;
    health.sync(&desired, &containers);
    let now = Instant::now();
    let (steps, backing_off) = {
        let mut book = backoff.lock().map_err(|_| EngineError::Api {
            operation: "backoff",
            message: "lock poisoned".into(),
        })?;
        // Keys are instance uids, or `<uid>/<sidekick>` (a set, not a scan
        // of the instances per key: passes are frequent while a node fills).
        let uids: HashSet<&str> = desired.iter().map(|i| i.meta.uid.as_str()).collect();
        book.retain(|key| uids.contains(key.split('/').next().unwrap_or_default()));
        let health_book = health.book();
        let facts = NodeFacts {
            containers: &containers,
            backoff: &book,
            health: &health_book,
            now,
            now_ms: epoch_ms(),
            synced,
        };
        let mut steps = plan_node(&shared.options.name, &desired, &facts);
        // A status the server did not take is sent again, even when the plan
        // sees nothing new (the local copy already holds it).
        for inst in shared.desired.unreported() {
            if !steps.iter().any(|s| step_key(s) == inst.meta.uid) {
                let status = inst.status.clone();
                steps.push(Step::Report {
                    instance: inst,
                    status,
                });
            }
        }
        (steps, book.any_waiting(now))
    };
    let waits_for_backoff = backing_off
        || !shared.desired.unreported().is_empty()
        || desired.iter().any(|i| {
            matches!(
                i.status.state,
                InstanceState::Exited | InstanceState::Failed
            ) || i.status.reason.contains("waiting")
        });
    for step in steps {
        let key = step_key(&step);
        if !in_flight.claim(&key) {
            continue;
        }
        let (shared, backoff, in_flight, permits) = (
            shared.clone(),
            backoff.clone(),
            in_flight.clone(),
            permits.clone(),
        );
        tokio::spawn(async move {
            if let Ok(_permit) = permits.acquire().await
                && !planned_on_stale_copy(&shared, &step)
            {
                run_step(&shared, &backoff, step).await;
            }
            in_flight.release(&key);
            shared.wake.notify_one();
        });
    }
    if waits_for_backoff {
        // Come back soon to restart what waited for its backoff.
        let shared = shared.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(500)).await;
            shared.wake.notify_one();
        });
    }
    Ok(())
}

/// True when the step's instance changed since the pass planned it: a step
/// that finished meanwhile (a launch that reported its new container) must
/// not be undone by a report computed from the copy before it. A report
/// changes the local copy's status as soon as it is queued and its
/// revision when the server takes it; either makes the copy newer. The next
/// pass plans again from the current copy.
fn planned_on_stale_copy(shared: &Shared, step: &Step) -> bool {
    let instance = match step {
        Step::Launch { instance, .. }
        | Step::Start { instance, .. }
        | Step::LaunchSidekicks { instance, .. }
        | Step::Report { instance, .. } => instance,
        Step::Finish { .. } | Step::RemoveOrphan { .. } => return false,
    };
    shared.desired.changed_since(instance)
}

async fn run_step(shared: &Shared, backoff: &Mutex<Backoff>, step: Step) {
    match step {
        Step::Launch {
            instance,
            replace,
            keep,
            after_failure,
        } => relaunch(shared, backoff, &instance, &replace, &keep, after_failure).await,
        Step::Start {
            instance,
            container_id,
        } => {
            if let Err(e) = shared.engine.start(&container_id).await {
                let status = InstanceStatus {
                    state: InstanceState::Failed,
                    container_id,
                    reason: e.to_string(),
                    ..instance.status.clone()
                };
                report(shared, &instance, status);
            }
        }
        Step::LaunchSidekicks {
            instance,
            primary_id,
            sidekicks,
        } => relaunch_sidekicks(shared, backoff, &instance, &primary_id, &sidekicks).await,
        Step::RemoveOrphan { container_id, name } => {
            tracing::info!("removing container {name}: no instance of this node owns it");
            if let Err(e) = stop_and_remove(shared, &container_id, DEFAULT_STOP_GRACE_S).await {
                tracing::warn!("removing container {name}: {e}");
            }
        }
        Step::Finish {
            instance,
            container_ids,
        } => finish(shared, &instance, &container_ids).await,
        Step::Report { instance, status } => report(shared, &instance, status),
    }
}

/// Removes the old containers of the instance and launches new ones,
/// reusing the data sidekicks in `keep`.
async fn relaunch(
    shared: &Shared,
    backoff: &Mutex<Backoff>,
    instance: &Instance,
    replace: &[String],
    keep: &BTreeMap<String, String>,
    after_failure: bool,
) {
    let grace = stop_grace_seconds(&instance.spec.launch);
    for old in replace {
        if let Err(e) = stop_and_remove(shared, old, grace).await {
            tracing::warn!("removing old container {old}: {e}");
            return;
        }
    }
    if let Ok(mut book) = backoff.lock() {
        let now = Instant::now();
        book.launched(&instance.meta.uid, now, after_failure);
        for sk in &instance.spec.launch.sidekicks {
            book.launched(&sidekick_key(&instance.meta.uid, &sk.name), now, false);
        }
    }
    let restarts = instance.status.restarts + u32::from(after_failure);
    let status = match launch(shared, instance, keep).await {
        Ok(status) => InstanceStatus { restarts, ..status },
        Err(EngineError::NameInUse(name)) => {
            tracing::info!("container name {name} is still taken; retrying next pass");
            return;
        }
        Err(e) => InstanceStatus {
            state: InstanceState::Failed,
            reason: e.to_string(),
            restarts,
            ..InstanceStatus::default()
        },
    };
    report(shared, instance, status);
}

/// Recreates sidekicks beside a running primary; reports those that failed.
async fn relaunch_sidekicks(
    shared: &Shared,
    backoff: &Mutex<Backoff>,
    instance: &Instance,
    primary_id: &str,
    launches: &[SidekickLaunch],
) {
    let grace = stop_grace_seconds(&instance.spec.launch);
    let mut failed = Vec::new();
    for launch in launches {
        let Some(sk) = instance
            .spec
            .launch
            .sidekicks
            .iter()
            .find(|s| s.name == launch.name)
        else {
            continue;
        };
        // A data sidekick restarts in place: the primary mounts its volumes.
        let in_place = launch
            .replace
            .as_ref()
            .filter(|_| is_data_sidekick(&instance.spec.launch, &sk.name));
        if in_place.is_none()
            && let Some(old) = &launch.replace
            && let Err(e) = stop_and_remove(shared, old, grace).await
        {
            tracing::warn!("removing old sidekick container {old}: {e}");
            continue;
        }
        if let Ok(mut book) = backoff.lock() {
            let key = sidekick_key(&instance.meta.uid, &sk.name);
            book.launched(&key, Instant::now(), launch.after_failure);
        }
        let status = match in_place {
            Some(id) => start_sidekick(shared, instance, sk, id).await,
            None => launch_sidekick(shared, instance, sk, primary_id).await,
        };
        if status.state == InstanceState::Failed {
            failed.push(status);
        }
    }
    if !failed.is_empty() {
        let mut status = instance.status.clone();
        status
            .sidekicks
            .retain(|s| !failed.iter().any(|f| f.name == s.name));
        status.sidekicks.extend(failed);
        report(shared, instance, status);
    }
}

/// Stops and removes the instance's containers, then deletes the instance.
async fn finish(shared: &Shared, instance: &Instance, container_ids: &[String]) {
    let grace = stop_grace_seconds(&instance.spec.launch);
    let served = instance.status.state == InstanceState::Running && !instance.status.ip.is_empty();
    if served && crate::balancers::routed_to(&shared.view.borrow(), instance) {
        // Load balancers stop sending it requests as soon as they see it
        // removing; the requests in flight finish before it stops.
        tokio::time::sleep(crate::balancers::DRAIN_DELAY).await;
    }
    for id in container_ids {
        if let Err(e) = stop_and_remove(shared, id, grace).await {
            tracing::warn!("removing container {id}: {e}");
        }
    }
    crate::mounted_files::remove(shared, instance).await;
    let env = &instance.meta.environment;
    match shared
        .client
        .finish_instance(env, &shared.options.name, &instance.meta.name)
        .await
    {
        Ok(()) => {}
        Err(e) if e.is_not_found() => {}
        Err(e) => tracing::warn!("deleting instance {}: {e}", instance.meta.name),
    }
}

/// Queues the instance's new status for the reporter, which sends it in a
/// batch (see `reporter`), and keeps it in the local copy at once: the next
/// pass plans from it (no second report of the same change), and a step
/// planned on the copy before it is dropped as stale, so no older status
/// can be reported on top of it.
pub(crate) fn report(shared: &Shared, instance: &Instance, status: InstanceStatus) {
    let (env, name, uid) = (
        &instance.meta.environment,
        &instance.meta.name,
        &instance.meta.uid,
    );
    shared.desired.set_pending_status(name, uid, status.clone());
    shared.reporter.enqueue(env, name, uid, status);
}

/// Wakes the reconciler on every container event, so a container that dies
/// or disappears is handled at once; reconnects when the stream ends.
pub async fn follow_engine_events(shared: Arc<Shared>, mut shutdown: watch::Receiver<bool>) {
    loop {
        let mut events = shared.engine.events();
        loop {
            tokio::select! {
                ev = events.next() => match ev {
                    Some(Ok(ev)) => {
                        if ev.labels.contains_key(ContainerLabels::INSTANCE) {
                            shared.wake.notify_one();
                        }
                    }
                    Some(Err(e)) => {
                        tracing::warn!("engine events: {e}");
                        break;
                    }
                    None => break,
                },
                _ = shutdown.wait_for(|s| *s) => return,
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_secs(1)) => {}
            _ = shutdown.wait_for(|s| *s) => return,
        }
        shared.wake.notify_one();
    }
}
