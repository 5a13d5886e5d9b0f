//! `corral stack ls`: each stack with its service count, running instances
//! and worst service health.

use std::collections::BTreeSet;

use corral_api::Client;
use corral_types::{Instance, Kind, Service, Stack};
use serde::Serialize;

use crate::args::ListArgs;
use crate::errors::list_error;
use crate::output::{Row, print_rows};

pub(super) async fn run(client: &Client, env: &str, args: &ListArgs) -> anyhow::Result<()> {
    let stacks = client
        .stacks(env)
        .await
        .map_err(|e| list_error(e, "stacks", env))?;
    let services = client
        .services(env)
        .await
        .map_err(|e| list_error(e, "services", env))?;
    let instances = client
        .list(env, Kind::Instance, "")
        .await
        .map_err(|e| list_error(e, "instances", env))?;
    let rows = stack_rows(&stacks.items, &services.items, &instances.items);
    print_rows(&rows, args.output)
}

/// One stack as `stack ls` shows it.
#[derive(Debug, Serialize)]
pub(super) struct StackRow {
    pub name: String,
    pub services: usize,
    /// Instances whose container runs.
    pub running: usize,
    /// Instances of the stack's services, not counting those being removed.
    pub instances: usize,
    /// The worst health of its services: unhealthy, degraded, healthy, or
    /// empty when none has one yet.
    pub health: String,
}

impl Row for StackRow {
    const HEADERS: &'static [&'static str] = &["NAME", "SERVICES", "RUNNING", "HEALTH"];

    fn cells(&self) -> Vec<String> {
        vec![
            self.name.clone(),
            self.services.to_string(),
            format!("{}/{}", self.running, self.instances),
            self.health.clone(),
        ]
    }
}

/// How bad a service health is; unknown values count as nothing to judge.
fn badness(health: &str) -> u8 {
    match health {
        "unhealthy" => 3,
        "degraded" => 2,
        "healthy" => 1,
        _ => 0,
    }
}

fn stack_row(stack: &Stack, services: &[Service], instances: &[Instance]) -> StackRow {
    let name = &stack.meta.name;
    let mine: Vec<&Service> = services
        .iter()
        .filter(|s| s.spec.stack == *name || stack.status.services.contains(&s.meta.name))
        .collect();
    let names: BTreeSet<&str> = mine.iter().map(|s| s.meta.name.as_str()).collect();
    let live: Vec<&Instance> = instances
        .iter()
        .filter(|i| !i.spec.removing && names.contains(i.spec.service.as_str()))
        .collect();
    let running = live
        .iter()
        .filter(|i| i.status.state == corral_types::InstanceState::Running)
        .count();
    let health = mine
        .iter()
        .map(|s| s.status.health.as_str())
        .max_by_key(|h| badness(h))
        .filter(|h| badness(h) > 0)
        .unwrap_or_default();
    StackRow {
        name: name.clone(),
        services: mine.len(),
        running,
        instances: live.len(),
        health: health.to_string(),
    }
}

/// Rows sorted by stack name.
pub(super) fn stack_rows(
    stacks: &[Stack],
    services: &[Service],
    instances: &[Instance],
) -> Vec<StackRow> {
    let mut rows: Vec<StackRow> = stacks
        .iter()
        .map(|s| stack_row(s, services, instances))
        .collect();
    rows.sort_by(|a, b| a.name.cmp(&b.name));
    rows
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::output::{Format, render_rows};
    use corral_types::{InstanceSpec, InstanceState, Object, ServiceSpec, StackSpec};

    fn stack(name: &str) -> Stack {
        Object::new(Kind::Stack, "default", name, StackSpec::default())
    }

    fn service(name: &str, stack: &str, health: &str) -> Service {
        let spec = ServiceSpec {
            image: "i".into(),
            stack: stack.into(),
            ..ServiceSpec::default()
        };
        let mut s: Service = Object::new(Kind::Service, "default", name, spec);
        s.status.health = health.into();
        s
    }

    fn instance(service: &str, n: u32, state: InstanceState, removing: bool) -> Instance {
        let spec = InstanceSpec {
            service: service.into(),
            ordinal: n,
            removing,
            ..InstanceSpec::default()
        };
        let name = InstanceSpec::instance_name(service, n);
        let mut i: Instance = Object::new(Kind::Instance, "default", &name, spec);
        i.status.state = state;
        i
    }

    #[test]
    fn stack_rows_count_services_instances_and_worst_health() {
        let stacks = [stack("app"), stack("empty"), stack("b")];
        let services = [
            service("app-web", "app", "healthy"),
            service("app-db", "app", "degraded"),
            service("b-x", "b", ""),
            service("solo", "", "unhealthy"),
        ];
        let instances = [
            instance("app-web", 1, InstanceState::Running, false),
            instance("app-web", 2, InstanceState::Pending, false),
            instance("app-web", 3, InstanceState::Running, true),
            instance("app-db", 1, InstanceState::Running, false),
            instance("solo", 1, InstanceState::Running, false),
        ];
        let rows = stack_rows(&stacks, &services, &instances);
        let out = render_rows(&rows, Format::Table).unwrap();
        assert_eq!(
            out,
            "NAME    SERVICES   RUNNING   HEALTH\n\
             app     2          2/3       degraded\n\
             b       1          0/0\n\
             empty   0          0/0\n"
        );
        let json: serde_json::Value =
            serde_json::from_str(&render_rows(&rows, Format::Json).unwrap()).unwrap();
        assert_eq!(json[0]["running"], 2);
        assert_eq!(json[0]["instances"], 3);
        assert_eq!(json[0]["services"], 2);
        assert_eq!(json[0]["health"], "degraded");
        assert_eq!(json[1]["health"], "");
    }

    #[test]
    fn stack_status_service_names_count_too() {
        let mut s = stack("app");
        s.status.services = vec!["app-web".into()];
        let rows = stack_rows(&[s], &[service("app-web", "", "unhealthy")], &[]);
        assert_eq!(
            (rows[0].services, rows[0].health.as_str()),
            (1, "unhealthy")
        );
    }
}
