//! Snapshots for tests: stacks, services and instances in a few lines.
//! Shared by the unit tests and the tests in `tests/` (included by path).

#![allow(dead_code)]

use corral_netview::EnvSnapshot;
use corral_types::{
    Health, Instance, InstanceState, Kind, Link, NetworkAttachment, Object, Service, ServiceSpec,
    Sidekick, Stack,
};

/// The environment of every test snapshot.
pub const ENV: &str = "default";

/// How an instance is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Condition {
    Serving,
    Unhealthy,
    Initializing,
    Removing,
    Exited,
    NoAddress,
}

/// A snapshot under construction.
#[derive(Debug, Default, Clone)]
pub struct Env {
    pub snapshot: EnvSnapshot,
}

impl Env {
    pub fn new() -> Env {
        let mut snapshot = EnvSnapshot {
            environment: ENV.into(),
            synced: true,
            ..EnvSnapshot::default()
        };
        snapshot.revision = 1;
        Env { snapshot }
    }

    pub fn stack(&mut self, name: &str) -> &mut Env {
        let stack: Stack = Object::new(Kind::Stack, ENV, name, Default::default());
        self.snapshot.stacks.insert(name.into(), stack);
        self
    }

    /// Adds service `short` to `stack` ("" for a standalone service) and
    /// returns its object name.
    pub fn service(
        &mut self,
        stack: &str,
        short: &str,
        edit: impl FnOnce(&mut ServiceSpec),
    ) -> String {
        if !stack.is_empty() && !self.snapshot.stacks.contains_key(stack) {
            self.stack(stack);
        }
        let name = if stack.is_empty() {
            short.to_string()
        } else {
            format!("{stack}-{short}")
        };
        let mut spec = ServiceSpec {
            image: "img".into(),
            stack: stack.into(),
            ..ServiceSpec::default()
        };
        edit(&mut spec);
        let service: Service = Object::new(Kind::Service, ENV, &name, spec);
        self.snapshot.services.insert(name.clone(), service);
        name
    }

    /// Adds instance `<service>-<ordinal>` with address `ip`.
    pub fn instance(
        &mut self,
        service: &str,
        ordinal: u32,
        ip: &str,
        condition: Condition,
    ) -> String {
        let launch = self
            .snapshot
            .services
            .get(service)
            .map(|s| s.spec.clone())
            .unwrap_or_default();
        let name = format!("{service}-{ordinal}");
        let mut inst: Instance = Object::new(Kind::Instance, ENV, &name, Default::default());
        inst.spec.service = service.into();
        inst.spec.ordinal = ordinal;
        inst.spec.launch = launch;
        inst.status.state = InstanceState::Running;
        inst.status.ip = ip.into();
        match condition {
            Condition::Serving => {}
            Condition::Unhealthy => inst.status.health = Health::Unhealthy,
            Condition::Initializing => inst.status.health = Health::Initializing,
            Condition::Removing => inst.spec.removing = true,
            Condition::Exited => inst.status.state = InstanceState::Exited,
            Condition::NoAddress => inst.status.ip.clear(),
        }
        self.snapshot.instances.insert(name.clone(), inst);
        name
    }

    pub fn remove_instance(&mut self, name: &str) {
        self.snapshot.instances.remove(name);
    }

    pub fn bump(&mut self) -> EnvSnapshot {
        self.snapshot.revision += 1;
        self.snapshot.clone()
    }
}

pub fn sidekick(name: &str) -> Sidekick {
    Sidekick {
        name: name.into(),
        image: "img".into(),
        ..Sidekick::default()
    }
}

pub fn link(service: &str, alias: &str) -> Link {
    Link {
        service: service.into(),
        alias: alias.into(),
    }
}

pub fn aliases(names: &[&str]) -> NetworkAttachment {
    NetworkAttachment {
        name: "default".into(),
        aliases: names.iter().map(|s| s.to_string()).collect(),
    }
}
