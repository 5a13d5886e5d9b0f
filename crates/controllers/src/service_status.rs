//! Counts a service's running and pending instances.

use corral_types::{Instance, InstanceState, Service, ServiceStatus};

/// The status `service` should have given its instances.
pub fn service_status(service: &Service, instances: &[&Instance]) -> ServiceStatus {
    let live = instances.iter().filter(|i| !i.spec.removing);
    let mut status = ServiceStatus {
        observed_generation: service.meta.generation,
        running: 0,
        pending: 0,
        ..service.status.clone()
    };
    for inst in live {
        if inst.status.state == InstanceState::Running {
            status.running += 1;
        } else if inst.spec.node.is_empty() {
            status.pending += 1;
        }
    }
    status
}
