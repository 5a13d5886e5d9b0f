//! `corral stack ps NAME`: the instances of every service of a stack.

use corral_api::Client;
use corral_types::Instance;
use serde::Serialize;

use crate::args::PsArgs;
use crate::errors::object_error;
use crate::output::{Row, print, render_rows};
use crate::service::ps::{InstanceRow, instance_rows};

pub(super) async fn run(client: &Client, env: &str, args: &PsArgs) -> anyhow::Result<()> {
    if args.watch {
        let title = format!("corral stack ps {}", args.name);
        return crate::watch::repeat(&title, || render(client, env, args)).await;
    }
    print(&render(client, env, args).await?)
}

async fn render(client: &Client, env: &str, args: &PsArgs) -> anyhow::Result<String> {
    // Read the stack first, so an unknown name is an error, not an empty list.
    super::get(client, env, &args.name).await?;
    let list = client
        .stack_instances(env, &args.name)
        .await
        .map_err(|e| object_error(e, "list the instances of", "stack", env, &args.name))?;
    render_rows(&stack_instance_rows(&list.items), args.output)
}

/// A `service ps` row with a SERVICE column in the table (its JSON and YAML
/// already name the service).
#[derive(Debug, Serialize)]
#[serde(transparent)]
pub(super) struct StackInstanceRow(InstanceRow);

impl Row for StackInstanceRow {
    const HEADERS: &'static [&'static str] = &[
        "INSTANCE",
        "SERVICE",
        "NODE",
        "STATE",
        "HEALTH",
        "RESTARTS",
        "CONTAINER",
        "REASON",
    ];

    fn cells(&self) -> Vec<String> {
        let mut cells = self.0.cells();
        cells.insert(1, self.0.service.clone());
        cells
    }
}

/// Rows sorted by service, then by ordinal.
pub(super) fn stack_instance_rows(instances: &[Instance]) -> Vec<StackInstanceRow> {
    let mut rows = instance_rows(instances);
    // Stable: keeps the ordinal order within each service.
    rows.sort_by(|a, b| a.service.cmp(&b.service));
    rows.into_iter().map(StackInstanceRow).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::output::{Format, render_rows};
    use corral_types::{Health, InstanceSpec, InstanceState, Kind, Object};

    fn instance(service: &str, ordinal: u32, health: Health) -> Instance {
        let name = InstanceSpec::instance_name(service, ordinal);
        let spec = InstanceSpec {
            service: service.into(),
            ordinal,
            node: "n1".into(),
            ..InstanceSpec::default()
        };
        let mut i: Instance = Object::new(Kind::Instance, "default", &name, spec);
        i.status.state = InstanceState::Running;
        i.status.health = health;
        i.status.container_id = "0123456789abcdef".into();
        i
    }

    #[test]
    fn stack_ps_adds_a_service_column_and_sorts_by_service() {
        let rows = stack_instance_rows(&[
            instance("app-web", 10, Health::Healthy),
            instance("app-db", 1, Health::None),
            instance("app-web", 2, Health::Unhealthy),
        ]);
        let out = render_rows(&rows, Format::Table).unwrap();
        assert_eq!(
            out,
            "INSTANCE     SERVICE   NODE   STATE     HEALTH      RESTARTS   CONTAINER      REASON\n\
             app-db-1     app-db    n1     running   none        0          0123456789ab\n\
             app-web-2    app-web   n1     running   unhealthy   0          0123456789ab\n\
             app-web-10   app-web   n1     running   healthy     0          0123456789ab\n"
        );
    }

    #[test]
    fn stack_ps_json_rows_are_service_ps_rows() {
        let rows = stack_instance_rows(&[instance("app-web", 1, Health::Initializing)]);
        let json: serde_json::Value =
            serde_json::from_str(&render_rows(&rows, Format::Json).unwrap()).unwrap();
        let mut keys: Vec<&String> = json[0].as_object().unwrap().keys().collect();
        keys.sort();
        assert_eq!(
            keys,
            [
                "container_id",
                "exit_code",
                "health",
                "instance",
                "node",
                "reason",
                "restarts",
                "service",
                "state"
            ]
        );
        assert_eq!(json[0]["service"], "app-web");
        assert_eq!(json[0]["health"], "initializing");
        assert!(json[0]["exit_code"].is_null());
    }
}
