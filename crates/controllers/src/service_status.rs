//! Counts a service's running and pending instances and sums up their health.

use corral_types::{Health, Instance, InstanceState, Service};

/// Instance counts and the service's health.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Counted {
    pub running: u32,
    pub pending: u32,
    /// healthy | degraded | unhealthy; empty while there is nothing to judge.
    pub health: String,
}

/// A service is healthy when every instance it wants runs and is healthy
/// (or has no health check), unhealthy when none is, degraded in between.
pub fn counts_and_health(service: &Service, instances: &[&Instance]) -> Counted {
    let live: Vec<&&Instance> = instances.iter().filter(|i| !i.spec.removing).collect();
    let mut counted = Counted::default();
    let mut good = 0usize;
    for inst in &live {
        if inst.status.state == InstanceState::Running {
            counted.running += 1;
            if matches!(inst.status.health, Health::None | Health::Healthy) {
                good += 1;
            }
        } else if inst.spec.node.is_empty() {
            counted.pending += 1;
        }
    }
    let job_done = service.spec.job.is_some()
        && !live.is_empty()
        && live
            .iter()
            .all(|i| i.status.state == InstanceState::Exited && i.status.exit_code == Some(0));
    let wanted = live.len().max(service.spec.scale as usize);
    counted.health = if wanted == 0 {
        String::new()
    } else if job_done || good >= wanted {
        "healthy".into()
    } else if good == 0 {
        "unhealthy".into()
    } else {
        "degraded".into()
    };
    counted
}
