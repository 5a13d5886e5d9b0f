//! Keeps `scale` instances of each service: a pure plan over one service and its instances.

use std::collections::BTreeSet;

use corral_types::{
    ContainerLabels, Instance, InstanceSpec, InstanceState, Kind, Object, Service, ServiceSpec,
};

/// One change to a service's instances.
#[derive(Debug, Clone, PartialEq)]
pub enum InstanceAction {
    /// Store this new instance (uid and creation time are filled in on commit).
    Create(Box<Instance>),
    /// Tell the instance's agent to stop and remove its container.
    MarkRemoving { name: String, revision: u64 },
    /// Delete an instance that has no container (never placed).
    Delete { name: String, revision: u64 },
}

/// The launch config instances are made from: the spec without `scale`.
pub fn launch_of(spec: &ServiceSpec) -> ServiceSpec {
    ServiceSpec {
        scale: 0,
        ..spec.clone()
    }
}

fn retire(inst: &Instance) -> InstanceAction {
    if inst.spec.node.is_empty() {
        InstanceAction::Delete {
            name: inst.meta.name.clone(),
            revision: inst.meta.revision,
        }
    } else {
        InstanceAction::MarkRemoving {
            name: inst.meta.name.clone(),
            revision: inst.meta.revision,
        }
    }
}

/// Which of `extra` instances to retire first: unplaced, then not running, then highest ordinal.
fn retire_order(inst: &Instance) -> (u8, std::cmp::Reverse<u32>) {
    let rank = if inst.spec.node.is_empty() {
        0
    } else if inst.status.state != InstanceState::Running {
        1
    } else {
        2
    };
    (rank, std::cmp::Reverse(inst.spec.ordinal))
}

/// Plans the instances of service `name` in `environment`; `service` is `None` once it was deleted.
pub fn plan_service(
    environment: &str,
    name: &str,
    service: Option<&Service>,
    instances: &[&Instance],
) -> Vec<InstanceAction> {
    let Some(service) = service else {
        return instances
            .iter()
            .filter(|i| !i.spec.removing)
            .map(|i| retire(i))
            .collect();
    };
    let launch = launch_of(&service.spec);
    let mut actions = Vec::new();
    let mut current: Vec<&Instance> = Vec::new();
    for inst in instances.iter().filter(|i| !i.spec.removing) {
        if inst.spec.launch == launch {
            current.push(inst);
        } else {
            // Launch config changed: replace (rolling upgrades come with stacks).
            actions.push(retire(inst));
        }
    }
    let scale = service.spec.scale as usize;
    if current.len() > scale {
        current.sort_by_key(|i| retire_order(i));
        let extra = current.len() - scale;
        actions.extend(current[..extra].iter().map(|i| retire(i)));
    } else if current.len() < scale {
        let used: BTreeSet<u32> = instances.iter().map(|i| i.spec.ordinal).collect();
        let free = (1u32..).filter(|n| !used.contains(n));
        for ordinal in free.take(scale - current.len()) {
            let mut inst: Instance = Object::new(
                Kind::Instance,
                environment,
                &InstanceSpec::instance_name(name, ordinal),
                InstanceSpec {
                    service: name.to_string(),
                    ordinal,
                    node: String::new(),
                    launch: launch.clone(),
                    service_generation: service.meta.generation,
                    removing: false,
                },
            );
            inst.meta
                .labels
                .insert(ContainerLabels::SERVICE.to_string(), name.to_string());
            actions.push(InstanceAction::Create(Box::new(inst)));
        }
    }
    actions
}

#[cfg(test)]
mod tests {
    use super::*;

    fn service(scale: u32, image: &str) -> Service {
        let mut s: Service = Object::new(
            Kind::Service,
            "default",
            "web",
            ServiceSpec {
                image: image.into(),
                scale,
                ..Default::default()
            },
        );
        s.meta.generation = 1;
        s
    }

    fn instance(svc: &Service, ordinal: u32, node: &str, state: InstanceState) -> Instance {
        let mut i: Instance = Object::new(
            Kind::Instance,
            "default",
            &format!("web-{ordinal}"),
            InstanceSpec {
                service: "web".into(),
                ordinal,
                node: node.into(),
                launch: launch_of(&svc.spec),
                service_generation: 1,
                removing: false,
            },
        );
        i.status.state = state;
        i.meta.revision = u64::from(ordinal) * 10;
        i
    }

    fn created_names(actions: &[InstanceAction]) -> Vec<String> {
        actions
            .iter()
            .filter_map(|a| match a {
                InstanceAction::Create(i) => Some(i.meta.name.clone()),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn scale_up_creates_the_lowest_free_ordinals() {
        let svc = service(3, "img");
        let i2 = instance(&svc, 2, "n1", InstanceState::Running);
        let actions = plan_service("default", "web", Some(&svc), &[&i2]);
        assert_eq!(created_names(&actions), vec!["web-1", "web-3"]);
        let InstanceAction::Create(new) = &actions[0] else {
            panic!()
        };
        assert_eq!(
            new.meta
                .labels
                .get(ContainerLabels::SERVICE)
                .map(String::as_str),
            Some("web")
        );
        assert_eq!(new.spec.launch.scale, 0);
    }

    #[test]
    fn scale_down_retires_unplaced_then_stopped_then_highest_ordinals() {
        let svc = service(1, "img");
        let a = instance(&svc, 1, "n1", InstanceState::Running);
        let b = instance(&svc, 2, "n1", InstanceState::Running);
        let c = instance(&svc, 3, "", InstanceState::Pending);
        let d = instance(&svc, 4, "n1", InstanceState::Exited);
        let actions = plan_service("default", "web", Some(&svc), &[&a, &b, &c, &d]);
        assert_eq!(
            actions,
            vec![
                InstanceAction::Delete {
                    name: "web-3".into(),
                    revision: 30
                },
                InstanceAction::MarkRemoving {
                    name: "web-4".into(),
                    revision: 40
                },
                InstanceAction::MarkRemoving {
                    name: "web-2".into(),
                    revision: 20
                },
            ]
        );
    }

    #[test]
    fn a_steady_service_needs_no_action() {
        let svc = service(2, "img");
        let a = instance(&svc, 1, "n1", InstanceState::Running);
        let b = instance(&svc, 2, "n2", InstanceState::Exited);
        assert!(plan_service("default", "web", Some(&svc), &[&a, &b]).is_empty());
    }

    #[test]
    fn removing_instances_keep_their_ordinals_until_gone() {
        let svc = service(2, "img");
        let mut a = instance(&svc, 1, "n1", InstanceState::Running);
        a.spec.removing = true;
        let b = instance(&svc, 2, "n1", InstanceState::Running);
        let actions = plan_service("default", "web", Some(&svc), &[&a, &b]);
        assert_eq!(created_names(&actions), vec!["web-3"]);
    }

    #[test]
    fn deleted_service_retires_every_instance_once() {
        let svc = service(2, "img");
        let a = instance(&svc, 1, "n1", InstanceState::Running);
        let b = instance(&svc, 2, "", InstanceState::Pending);
        let mut c = instance(&svc, 3, "n1", InstanceState::Running);
        c.spec.removing = true;
        let actions = plan_service("default", "web", None, &[&a, &b, &c]);
        assert_eq!(
            actions,
            vec![
                InstanceAction::MarkRemoving {
                    name: "web-1".into(),
                    revision: 10
                },
                InstanceAction::Delete {
                    name: "web-2".into(),
                    revision: 20
                },
            ]
        );
    }

    #[test]
    fn changed_launch_config_replaces_outdated_instances() {
        let old = service(1, "img:1");
        let a = instance(&old, 1, "n1", InstanceState::Running);
        let new = service(1, "img:2");
        let actions = plan_service("default", "web", Some(&new), &[&a]);
        assert_eq!(
            actions[0],
            InstanceAction::MarkRemoving {
                name: "web-1".into(),
                revision: 10
            }
        );
        assert_eq!(created_names(&actions), vec!["web-2"]);
    }

    #[test]
    fn scale_change_alone_does_not_replace_instances() {
        let svc = service(1, "img");
        let a = instance(&svc, 1, "n1", InstanceState::Running);
        let bigger = service(2, "img");
        let actions = plan_service("default", "web", Some(&bigger), &[&a]);
        assert_eq!(created_names(&actions), vec!["web-2"]);
        assert_eq!(actions.len(), 1);
    }
}
