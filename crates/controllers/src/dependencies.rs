//! Start order: a service's instances are made only once the services it
//! depends on (`depends_on`) are started, healthy or completed.

use std::collections::BTreeMap;

use corral_types::{DependencyCondition, Health, Instance, InstanceState, Service};

/// The object name of compose service `dep` in the same stack as `service`.
pub fn dependency_name(service: &Service, dep: &str) -> String {
    if service.spec.stack.is_empty() {
        dep.to_string()
    } else {
        format!("{}-{dep}", service.spec.stack)
    }
}

fn satisfied(condition: DependencyCondition, instances: &[&Instance]) -> bool {
    let live: Vec<&&Instance> = instances.iter().filter(|i| !i.spec.removing).collect();
    if live.is_empty() {
        return false;
    }
    let succeeded =
        |i: &Instance| i.status.state == InstanceState::Exited && i.status.exit_code == Some(0);
    match condition {
        DependencyCondition::ServiceStarted => live
            .iter()
            .any(|i| i.status.state == InstanceState::Running || succeeded(i)),
        DependencyCondition::ServiceHealthy => live.iter().all(|i| {
            i.status.state == InstanceState::Running
                && matches!(i.status.health, Health::Healthy | Health::None)
        }),
        DependencyCondition::ServiceCompletedSuccessfully => live.iter().all(|i| succeeded(i)),
    }
}

/// `Ok` when every dependency of `service` is ready; otherwise what it waits for.
pub fn dependencies_ready(
    service: &Service,
    instances_of: &BTreeMap<(&str, &str), Vec<&Instance>>,
) -> Result<(), String> {
    let env = service.meta.environment.as_str();
    for dep in &service.spec.depends_on {
        let name = dependency_name(service, &dep.service);
        let insts = instances_of
            .get(&(env, name.as_str()))
            .map(Vec::as_slice)
            .unwrap_or_default();
        if !satisfied(dep.condition, insts) {
            let what = match dep.condition {
                DependencyCondition::ServiceStarted => "to start",
                DependencyCondition::ServiceHealthy => "to be healthy",
                DependencyCondition::ServiceCompletedSuccessfully => "to complete successfully",
            };
            return Err(format!("waiting for {} {what}", dep.service));
        }
    }
    Ok(())
}
