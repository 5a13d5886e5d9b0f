//! Carrying out the plan against the engine, and the loop that runs it.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::StreamExt;
use tokio::sync::{Semaphore, watch};

use corral_engine::{ContainerState, EngineError};
use corral_types::{ContainerLabels, Instance, InstanceState, InstanceStatus};

use crate::Shared;
use crate::backoff::Backoff;
use crate::container_config::container_config;
use crate::plan::{Step, plan_node};

/// Engine operations of one pass run this many at a time.
const PARALLEL_STEPS: usize = 8;
/// Seconds a container gets to stop before it is killed.
const STOP_GRACE_S: u32 = 10;

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
    loop {
        if let Err(e) = pass(&shared, &backoff, &in_flight, &permits).await {
            tracing::warn!("reconcile: {e}");
        }
        tokio::select! {
            _ = shared.wake.notified() => {}
            _ = tokio::time::sleep(shared.options.resync) => {}
            _ = shutdown.wait_for(|s| *s) => return,
        }
    }
}

async fn pass(
    shared: &Arc<Shared>,
    backoff: &Arc<Mutex<Backoff>>,
    in_flight: &Arc<InFlight>,
    permits: &Arc<Semaphore>,
) -> Result<(), EngineError> {
    let (desired, synced) = shared.desired.snapshot();
    let containers = shared.engine.list(ContainerLabels::INSTANCE).await?;
    let now = Instant::now();
    let steps = {
        let mut book = backoff.lock().map_err(|_| EngineError::Api {
            operation: "backoff",
            message: "lock poisoned".into(),
        })?;
        book.retain(|uid| desired.iter().any(|i| i.meta.uid == uid));
        plan_node(
            &shared.options.name,
            &desired,
            &containers,
            &book,
            now,
            synced,
        )
    };
    let waits_for_backoff = desired.iter().any(|i| {
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
            if let Ok(_permit) = permits.acquire().await {
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

async fn run_step(shared: &Shared, backoff: &Mutex<Backoff>, step: Step) {
    match step {
        Step::Launch {
            instance,
            replace,
            after_failure,
        } => {
            if let Some(old) = replace
                && let Err(e) = shared.engine.remove(&old).await
            {
                tracing::warn!("removing stopped container {old}: {e}");
                return;
            }
            if let Ok(mut book) = backoff.lock() {
                book.launched(&instance.meta.uid, Instant::now(), after_failure);
            }
            let restarts = instance.status.restarts + u32::from(after_failure);
            let status = match launch(shared, &instance).await {
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
            report(shared, &instance, status).await;
        }
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
                report(shared, &instance, status).await;
            }
        }
        Step::RemoveOrphan { container_id, name } => {
            tracing::info!("removing container {name}: no instance of this node owns it");
            stop_and_remove(shared, &container_id).await;
        }
        Step::Finish {
            instance,
            container_ids,
        } => {
            for id in &container_ids {
                stop_and_remove(shared, id).await;
            }
            let env = &instance.meta.environment;
            match shared
                .client
                .delete(env, corral_types::Kind::Instance, &instance.meta.name)
                .await
            {
                Ok(()) => {}
                Err(e) if e.is_not_found() => {}
                Err(e) => tracing::warn!("deleting instance {}: {e}", instance.meta.name),
            }
        }
        Step::Report { instance, status } => report(shared, &instance, status).await,
    }
}

/// Creates and starts the instance's container; returns its running status.
async fn launch(shared: &Shared, instance: &Instance) -> Result<InstanceStatus, EngineError> {
    let config = container_config(instance, &shared.options.name);
    let id = shared.engine.create(&config).await?;
    if let Err(e) = shared.engine.start(&id).await {
        let _ = shared.engine.remove(&id).await;
        return Err(e);
    }
    let seen = shared.engine.inspect(&id).await?;
    let (state, exit_code) = match seen.state {
        ContainerState::Running => (InstanceState::Running, None),
        ContainerState::Exited(code) => (InstanceState::Exited, Some(code)),
        ContainerState::Created | ContainerState::Other => (InstanceState::Starting, None),
    };
    Ok(InstanceStatus {
        state,
        container_id: id,
        reason: String::new(),
        exit_code,
        restarts: 0,
        started_at: seen.started_at,
        ..InstanceStatus::default()
    })
}

async fn stop_and_remove(shared: &Shared, id: &str) {
    if let Err(e) = shared.engine.stop(id, STOP_GRACE_S).await {
        tracing::debug!("stopping {id}: {e}");
    }
    if let Err(e) = shared.engine.remove(id).await {
        tracing::warn!("removing container {id}: {e}");
    }
}

async fn report(shared: &Shared, instance: &Instance, status: InstanceStatus) {
    let env = &instance.meta.environment;
    match shared
        .client
        .report_instance_status(env, &instance.meta.name, &status)
        .await
    {
        Ok(updated) => shared.desired.upsert(updated),
        Err(e) if e.is_not_found() => {}
        Err(e) => {
            tracing::warn!("reporting {}: {e}", instance.meta.name);
            // Keep what we know locally so the next pass does not redo the work.
            shared.desired.set_status(&instance.meta.name, status);
        }
    }
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
