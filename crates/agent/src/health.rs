//! Health checks run by the agent: a pure state machine fed by probe
//! results, and a monitor that keeps one probe task per running instance
//! with a health check (started and stopped as instances and their
//! containers come and go).
//!
//! The probes themselves sit behind [`Prober`] (see `probe.rs`), so unit
//! tests feed the machine and the monitor with scripted results.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::task::JoinHandle;

use corral_engine::{ContainerState, ContainerSummary};
use corral_types::{ContainerLabels, Health, HealthCheck, Instance, Probe};

/// Runs one probe against a container; true when it passed.
#[async_trait::async_trait]
pub trait Prober: Send + Sync + 'static {
    async fn probe(&self, container_id: &str, probe: &Probe, timeout: Duration) -> bool;
}

/// Where an instance's health stands, from consecutive probe results.
#[derive(Debug, Clone)]
pub struct HealthState {
    health: Health,
    successes: u32,
    failures: u32,
    started: Instant,
}

impl HealthState {
    /// A container that started at `started`: initializing.
    pub fn new(started: Instant) -> Self {
        HealthState {
            health: Health::Initializing,
            successes: 0,
            failures: 0,
            started,
        }
    }

    pub fn health(&self) -> Health {
        self.health
    }

    /// Takes one probe result at `now` and returns the health after it.
    ///
    /// `healthy_threshold` successes in a row make it healthy and
    /// `unhealthy_threshold` failures in a row unhealthy; failures within
    /// `start_period_ms` of the start do not count until it was healthy once;
    /// not healthy `initializing_timeout_ms` after the start is unhealthy.
    pub fn observe(&mut self, check: &HealthCheck, passed: bool, now: Instant) -> Health {
        let since_start = now.saturating_duration_since(self.started);
        if passed {
            self.failures = 0;
            self.successes = self.successes.saturating_add(1);
            if self.successes >= check.healthy_threshold.max(1) {
                self.health = Health::Healthy;
            }
        } else {
            self.successes = 0;
            let grace = self.health == Health::Initializing
                && since_start < Duration::from_millis(check.start_period_ms);
            if !grace {
                self.failures = self.failures.saturating_add(1);
                if self.failures >= check.unhealthy_threshold.max(1) {
                    self.health = Health::Unhealthy;
                }
            }
        }
        let timeout = check.initializing_timeout_ms;
        if self.health == Health::Initializing
            && timeout > 0
            && since_start >= Duration::from_millis(timeout)
        {
            self.health = Health::Unhealthy;
        }
        self.health
    }
}

/// The health of each instance (by uid), for the container it was probed on.
#[derive(Debug, Clone, Default)]
pub struct HealthBook {
    entries: HashMap<String, (String, Health)>,
}

impl HealthBook {
    /// The instance's health on `container_id`: initializing until probed there.
    pub fn health(&self, uid: &str, container_id: &str) -> Health {
        match self.entries.get(uid) {
            Some((id, health)) if id == container_id => *health,
            _ => Health::Initializing,
        }
    }

    pub fn set(&mut self, uid: &str, container_id: &str, health: Health) {
        self.entries
            .insert(uid.to_string(), (container_id.to_string(), health));
    }
}

struct ProbeTask {
    container_id: String,
    check: HealthCheck,
    handle: JoinHandle<()>,
}

/// One probe task per running instance with a health check.
pub struct HealthMonitor {
    prober: Arc<dyn Prober>,
    book: Arc<Mutex<HealthBook>>,
    /// Called when some instance's health changed.
    wake: Arc<dyn Fn() + Send + Sync>,
    tasks: HashMap<String, ProbeTask>,
}

impl HealthMonitor {
    pub fn new(prober: Arc<dyn Prober>, wake: Arc<dyn Fn() + Send + Sync>) -> Self {
        HealthMonitor {
            prober,
            book: Arc::new(Mutex::new(HealthBook::default())),
            wake,
            tasks: HashMap::new(),
        }
    }

    /// A copy of the current health of every probed instance.
    pub fn book(&self) -> HealthBook {
        self.book.lock().map(|b| b.clone()).unwrap_or_default()
    }

    /// Starts probing running primaries of instances with a health check,
    /// and stops probing everything else.
    pub fn sync(&mut self, desired: &[Arc<Instance>], containers: &[ContainerSummary]) {
        let mut wanted: HashMap<&str, (&str, &HealthCheck)> = HashMap::new();
        for inst in desired.iter().filter(|i| !i.spec.removing) {
            let Some(check) = &inst.spec.launch.health_check else {
                continue;
            };
            let primary = containers.iter().find(|c| {
                c.state == ContainerState::Running
                    && !c.labels.contains_key(ContainerLabels::SIDEKICK)
                    && c.labels.get(ContainerLabels::INSTANCE_UID) == Some(&inst.meta.uid)
            });
            if let Some(c) = primary {
                wanted.insert(inst.meta.uid.as_str(), (c.id.as_str(), check));
            }
        }
        self.tasks.retain(|uid, task| {
            let keep = wanted
                .get(uid.as_str())
                .is_some_and(|(id, check)| *id == task.container_id && **check == task.check);
            if !keep {
                task.handle.abort();
            }
            keep
        });
        for (uid, (container_id, check)) in wanted {
            if self.tasks.contains_key(uid) {
                continue;
            }
            if let Ok(mut book) = self.book.lock() {
                book.set(uid, container_id, Health::Initializing);
            }
            let handle = tokio::spawn(probe_loop(
                self.prober.clone(),
                self.book.clone(),
                self.wake.clone(),
                uid.to_string(),
                container_id.to_string(),
                check.clone(),
            ));
            let task = ProbeTask {
                container_id: container_id.to_string(),
                check: check.clone(),
                handle,
            };
            self.tasks.insert(uid.to_string(), task);
        }
    }

    /// How many probe tasks run.
    #[cfg(test)]
    pub fn probing(&self) -> usize {
        self.tasks.len()
    }
}

impl Drop for HealthMonitor {
    fn drop(&mut self) {
        for task in self.tasks.values() {
            task.handle.abort();
        }
    }
}

/// Probes `container_id` every interval until aborted; records changes.
async fn probe_loop(
    prober: Arc<dyn Prober>,
    book: Arc<Mutex<HealthBook>>,
    wake: Arc<dyn Fn() + Send + Sync>,
    uid: String,
    container_id: String,
    check: HealthCheck,
) {
    let interval = Duration::from_millis(check.interval_ms.max(100));
    let timeout = Duration::from_millis(check.timeout_ms.max(100));
    let mut state = HealthState::new(Instant::now());
    loop {
        tokio::time::sleep(interval).await;
        let passed = prober.probe(&container_id, &check.probe, timeout).await;
        let before = state.health();
        let after = state.observe(&check, passed, Instant::now());
        if after != before {
            tracing::info!("instance {uid}: health {before} -> {after}");
            if let Ok(mut b) = book.lock() {
                b.set(&uid, &container_id, after);
            }
            wake();
        }
    }
}

#[cfg(test)]
#[path = "health_tests.rs"]
mod tests;
