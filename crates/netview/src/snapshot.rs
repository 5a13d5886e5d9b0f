//! The snapshot of one environment and what readers derive from it.

use std::collections::BTreeMap;

use corral_types::{Environment, Health, Instance, InstanceState, Node, Service, Stack};

/// Everything in one environment at one moment. Cheap to share (`Arc`),
/// never changed once published.
#[derive(Debug, Clone, Default)]
pub struct EnvSnapshot {
    /// The environment's name.
    pub environment: String,
    /// The environment object; `None` until it has been read.
    pub environment_object: Option<Environment>,
    /// Increases with every published change (not a store revision).
    pub revision: u64,
    /// True once every kind has been listed at least once.
    pub synced: bool,
    pub nodes: BTreeMap<String, Node>,
    pub stacks: BTreeMap<String, Stack>,
    /// By object name (`<stack>-<service>` for a stack's service).
    pub services: BTreeMap<String, Service>,
    /// By instance name (`<service object name>-<ordinal>`).
    pub instances: BTreeMap<String, Instance>,
}

/// One instance with the names readers look it up by.
#[derive(Debug, Clone, Copy)]
pub struct InstanceView<'a> {
    pub instance: &'a Instance,
    /// The service object, when it is known.
    pub service: Option<&'a Service>,
    /// The service's name inside its stack (`web` for `shop-web`).
    pub service_name: &'a str,
    /// The stack's name; empty for a standalone service.
    pub stack_name: &'a str,
}

impl EnvSnapshot {
    /// The instances with their service, stack and short names.
    pub fn instance_views(&self) -> impl Iterator<Item = InstanceView<'_>> {
        self.instances.values().map(|inst| {
            let service = self.services.get(&inst.spec.service);
            let stack_name = inst.spec.launch.stack.as_str();
            let service_name = match service {
                Some(s) => service_short_name(s),
                None => short_name(&inst.spec.service, stack_name),
            };
            InstanceView {
                instance: inst,
                service,
                service_name,
                stack_name,
            }
        })
    }

    /// The instance whose primary container has address `ip`, if any.
    pub fn instance_by_ip(&self, ip: &str) -> Option<&Instance> {
        if ip.is_empty() {
            return None;
        }
        self.instances.values().find(|i| i.status.ip == ip)
    }

    /// The service of a stack by its short name (`web` in stack `shop`).
    pub fn service_in_stack(&self, stack: &str, short: &str) -> Option<&Service> {
        if stack.is_empty() {
            return self.services.get(short).filter(|s| s.spec.stack.is_empty());
        }
        self.services.get(&format!("{stack}-{short}"))
    }
}

/// The service's name inside its stack: the object name without the
/// `<stack>-` prefix (the whole name for a standalone service).
pub fn service_short_name(service: &Service) -> &str {
    short_name(&service.meta.name, &service.spec.stack)
}

fn short_name<'a>(object_name: &'a str, stack: &str) -> &'a str {
    if stack.is_empty() {
        return object_name;
    }
    object_name
        .strip_prefix(stack)
        .and_then(|rest| rest.strip_prefix('-'))
        .unwrap_or(object_name)
}

/// True when the instance should get traffic: running, not being removed,
/// not unhealthy or still initializing, and with an address.
pub fn is_serving(inst: &Instance) -> bool {
    inst.status.state == InstanceState::Running
        && !inst.spec.removing
        && !inst.status.ip.is_empty()
        && matches!(inst.status.health, Health::None | Health::Healthy)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use corral_types::{Kind, Object};

    use super::*;

    fn service(name: &str, stack: &str) -> Service {
        let mut s: Service = Object::new(Kind::Service, "default", name, Default::default());
        s.spec.stack = stack.into();
        s
    }

    #[test]
    fn a_stack_service_is_known_by_its_name_without_the_stack_prefix() {
        assert_eq!(service_short_name(&service("shop-web", "shop")), "web");
        assert_eq!(service_short_name(&service("web", "")), "web");
        // A name that does not carry the prefix is kept whole.
        assert_eq!(service_short_name(&service("other", "shop")), "other");
    }

    #[test]
    fn only_running_healthy_addressed_instances_serve() {
        let mut inst: Instance =
            Object::new(Kind::Instance, "default", "web-1", Default::default());
        assert!(!is_serving(&inst));
        inst.status.state = InstanceState::Running;
        assert!(!is_serving(&inst), "no address yet");
        inst.status.ip = "10.42.1.2".into();
        assert!(is_serving(&inst));
        inst.status.health = Health::Unhealthy;
        assert!(!is_serving(&inst));
        inst.status.health = Health::Healthy;
        inst.spec.removing = true;
        assert!(!is_serving(&inst));
    }
}
