//! Progress of long operations (`stack deploy --wait`, `service upgrade
//! --wait`, `service rollback --wait`, `node drain --wait`): one bar per
//! service on standard error, drawn only when it is a terminal (indicatif
//! hides them otherwise), so scripts see only the final lines on standard
//! output. What a bar shows is computed by the pure [`convergence`].

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use corral_types::{Health, Instance, InstanceState, Service, UpgradeState};

/// How often a waiting command asks the server again.
pub const POLL: Duration = Duration::from_millis(500);

/// Where one service stands on its way to what its spec asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    /// Instances of the current launch config that are ready (running and
    /// not unhealthy or still initializing; or exited 0, for run-once work).
    pub ready: u64,
    /// Instances wanted: the scale, or for a global service the instances it has.
    pub total: u64,
    /// `upgrading to revision 3: batch 2/4`, `rolled back: ...`, `running`.
    pub message: String,
    /// `Some(Ok)` when converged, `Some(Err(why))` when it never will be
    /// without someone acting (rolled back, paused); `None` while under way.
    pub outcome: Option<Result<(), String>>,
}

/// Whether an instance counts as ready.
fn ready(i: &Instance) -> bool {
    match i.status.state {
        InstanceState::Running => {
            !matches!(i.status.health, Health::Unhealthy | Health::Initializing)
        }
        InstanceState::Exited => i.status.exit_code == Some(0),
        _ => false,
    }
}

/// How far `service` is, from its instances (any instances may be given;
/// only the service's own count).
pub fn convergence(service: &Service, instances: &[Instance]) -> Step {
    let name = &service.meta.name;
    let launch = service.spec.launch();
    let live: Vec<&Instance> = instances
        .iter()
        .filter(|i| i.spec.service == *name && !i.spec.removing)
        .collect();
    let current = live.iter().filter(|i| i.spec.launch == launch);
    let ready_now = current.filter(|i| ready(i)).count() as u64;
    let total = match service.spec.mode {
        corral_types::ServiceMode::Replicated => u64::from(service.spec.scale),
        corral_types::ServiceMode::Global => live.len() as u64,
    };
    if service.status.observed_generation < service.meta.generation {
        // The upgrade status is still the last rollout's.
        return Step {
            ready: ready_now.min(total),
            total,
            message: "waiting for the controller".to_string(),
            outcome: None,
        };
    }
    let converged = ready_now >= total && live.len() as u64 == total;
    let batch = u64::from(service.spec.update.batch_size.max(1));
    let batches = total.div_ceil(batch).max(1);
    let (message, outcome) = match &service.status.upgrade {
        Some(u) if u.state == UpgradeState::RolledBack => (
            format!("rolled back from revision {}", u.revision),
            Some(Err(format!("the upgrade was rolled back: {}", u.reason))),
        ),
        Some(u) if u.state == UpgradeState::Paused => (
            "paused".to_string(),
            Some(Err(format!("the upgrade is paused: {}", u.reason))),
        ),
        Some(u) if matches!(u.state, UpgradeState::Upgrading | UpgradeState::RollingBack) => {
            let verb = if u.state == UpgradeState::Upgrading {
                "upgrading to"
            } else {
                "rolling back to"
            };
            let at = (ready_now / batch + 1).min(batches);
            let message = format!("{verb} revision {}: batch {at}/{batches}", u.revision);
            (message, None)
        }
        _ if converged => ("ready".to_string(), Some(Ok(()))),
        _ => (waiting_reason(&live), None),
    };
    Step {
        ready: ready_now.min(total),
        total,
        message,
        outcome,
    }
}

/// What the slowest instance waits for: its state and the scheduler's or
/// agent's reason.
fn waiting_reason(live: &[&Instance]) -> String {
    live.iter()
        .find(|i| !ready(i))
        .map(|i| {
            let reason = &i.status.reason;
            if reason.is_empty() {
                format!("{} {}", i.meta.name, i.status.state)
            } else {
                format!("{} {}: {reason}", i.meta.name, i.status.state)
            }
        })
        .unwrap_or_else(|| "starting".to_string())
}

/// Bars by name, on standard error; hidden when it is not a terminal.
pub struct Bars {
    multi: MultiProgress,
    bars: BTreeMap<String, ProgressBar>,
    started: Instant,
}

impl Default for Bars {
    fn default() -> Self {
        Self::new()
    }
}

impl Bars {
    pub fn new() -> Self {
        Bars {
            multi: MultiProgress::with_draw_target(ProgressDrawTarget::stderr()),
            bars: BTreeMap::new(),
            started: Instant::now(),
        }
    }

    /// Shows `name` at `done` of `total` with `message`.
    pub fn set(&mut self, name: &str, done: u64, total: u64, message: &str) {
        let bar = self.bars.entry(name.to_string()).or_insert_with(|| {
            let bar = self.multi.add(ProgressBar::new(total));
            // Invariant: the template is a constant that indicatif parses.
            if let Ok(style) =
                ProgressStyle::with_template("{prefix:>16} [{bar:24}] {pos}/{len} {wide_msg}")
            {
                bar.set_style(style.progress_chars("=> "));
            }
            bar.set_prefix(name.to_string());
            bar
        });
        bar.set_length(total);
        bar.set_position(done);
        bar.set_message(message.to_string());
    }

    /// Time since the bars were made.
    pub fn elapsed(&self) -> Duration {
        self.started.elapsed()
    }

    /// Removes the bars from the terminal.
    pub fn clear(self) {
        for bar in self.bars.values() {
            bar.finish_and_clear();
        }
        let _ = self.multi.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use corral_types::{InstanceSpec, Kind, Object, ServiceSpec, UpgradeStatus};

    fn service(scale: u32, batch: u32) -> Service {
        let spec = ServiceSpec {
            image: "web:2".into(),
            scale,
            ..ServiceSpec::default()
        };
        let mut s: Service = Object::new(Kind::Service, "default", "web", spec);
        s.spec.update.batch_size = batch;
        s.meta.generation = 2;
        s.status.observed_generation = 2;
        s
    }

    fn instance(s: &Service, n: u32, image: &str, state: InstanceState) -> Instance {
        let mut launch = s.spec.launch();
        launch.image = image.into();
        let spec = InstanceSpec {
            service: "web".into(),
            ordinal: n,
            launch,
            ..InstanceSpec::default()
        };
        let mut i: Instance = Object::new(Kind::Instance, "default", &format!("web-{n}"), spec);
        i.status.state = state;
        i
    }

    #[test]
    fn an_upgrade_counts_ready_instances_of_the_new_launch_config_by_batch() {
        let mut s = service(4, 2);
        s.status.upgrade = Some(UpgradeStatus {
            state: UpgradeState::Upgrading,
            revision: 3,
            ..UpgradeStatus::default()
        });
        let mut all = vec![
            instance(&s, 1, "web:2", InstanceState::Running),
            instance(&s, 2, "web:2", InstanceState::Running),
            instance(&s, 3, "web:1", InstanceState::Running),
            instance(&s, 4, "web:2", InstanceState::Starting),
        ];
        let step = convergence(&s, &all);
        assert_eq!((step.ready, step.total), (2, 4));
        assert_eq!(step.message, "upgrading to revision 3: batch 2/2");
        assert_eq!(step.outcome, None);

        all[2] = instance(&s, 3, "web:2", InstanceState::Running);
        all[3] = instance(&s, 4, "web:2", InstanceState::Running);
        s.status.upgrade.as_mut().unwrap().state = UpgradeState::Done;
        let step = convergence(&s, &all);
        assert_eq!((step.ready, step.total), (4, 4));
        assert_eq!(step.outcome, Some(Ok(())));
    }

    #[test]
    fn a_rolled_back_upgrade_ends_the_wait_with_its_reason() {
        let mut s = service(1, 1);
        s.status.upgrade = Some(UpgradeStatus {
            state: UpgradeState::RolledBack,
            revision: 3,
            reason: "web-1 unhealthy".into(),
            ..UpgradeStatus::default()
        });
        let step = convergence(&s, &[instance(&s, 1, "web:1", InstanceState::Running)]);
        let Some(Err(why)) = step.outcome else {
            panic!("{step:?}")
        };
        assert!(why.contains("web-1 unhealthy"), "{why}");
    }

    #[test]
    fn a_new_service_waits_for_health_and_names_what_holds_it_up() {
        let s = service(2, 1);
        let mut pending = instance(&s, 2, "web:2", InstanceState::Pending);
        pending.status.reason = "port 80/tcp in use on all 1 nodes".into();
        let mut checking = instance(&s, 1, "web:2", InstanceState::Running);
        checking.status.health = Health::Initializing;
        let step = convergence(&s, &[checking.clone(), pending.clone()]);
        assert_eq!(step.ready, 0);
        assert_eq!(step.message, "web-1 running");
        let mut healthy = checking;
        healthy.status.health = Health::Healthy;
        let step = convergence(&s, &[healthy.clone(), pending]);
        assert_eq!(step.ready, 1);
        assert_eq!(
            step.message,
            "web-2 pending: port 80/tcp in use on all 1 nodes"
        );
        let mut second = instance(&s, 2, "web:2", InstanceState::Running);
        second.status.health = Health::Healthy;
        assert_eq!(convergence(&s, &[healthy, second]).outcome, Some(Ok(())));
    }

    #[test]
    fn a_spec_the_controller_has_not_seen_yet_is_not_converged() {
        let mut s = service(1, 1);
        s.meta.generation = 3;
        let step = convergence(&s, &[instance(&s, 1, "web:2", InstanceState::Running)]);
        assert_eq!(step.outcome, None);
    }
}
