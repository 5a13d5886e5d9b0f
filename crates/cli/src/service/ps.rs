//! `corral service ps NAME`: the instances of a service.

use corral_api::Client;
use corral_types::Instance;
use serde::Serialize;

use crate::args::PsArgs;
use crate::errors::object_error;
use crate::output::{Row, print, render_rows};

pub(super) async fn run(client: &Client, env: &str, args: &PsArgs) -> anyhow::Result<()> {
    if args.watch {
        let title = format!("corral service ps {}", args.name);
        return crate::watch::repeat(&title, || render(client, env, args)).await;
    }
    print(&render(client, env, args).await?)
}

async fn render(client: &Client, env: &str, args: &PsArgs) -> anyhow::Result<String> {
    // Read the service first, so an unknown name is an error, not an empty list.
    super::get(client, env, &args.name).await?;
    let list = client
        .service_instances(env, &args.name)
        .await
        .map_err(|e| object_error(e, "list the instances of", "service", env, &args.name))?;
    render_rows(&instance_rows(&list.items), args.output)
}

/// One instance as `service ps` shows it.
#[derive(Debug, Serialize)]
pub(crate) struct InstanceRow {
    pub instance: String,
    pub node: String,
    pub state: String,
    /// none | initializing | healthy | unhealthy.
    pub health: String,
    pub container_id: String,
    pub reason: String,
    pub exit_code: Option<i64>,
    pub restarts: u32,
    pub service: String,
    #[serde(skip)]
    pub(crate) ordinal: u32,
}

impl From<&Instance> for InstanceRow {
    fn from(i: &Instance) -> Self {
        InstanceRow {
            instance: i.meta.name.clone(),
            node: i.spec.node.clone(),
            state: i.status.state.to_string(),
            health: i.status.health.to_string(),
            container_id: i.status.container_id.clone(),
            reason: i.status.reason.clone(),
            exit_code: i.status.exit_code,
            restarts: i.status.restarts,
            service: i.spec.service.clone(),
            ordinal: ordinal(i),
        }
    }
}

/// The instance's ordinal: from its spec, else from its name's `-N` suffix.
fn ordinal(i: &Instance) -> u32 {
    if i.spec.ordinal > 0 {
        return i.spec.ordinal;
    }
    i.meta
        .name
        .rsplit_once('-')
        .and_then(|(_, n)| n.parse().ok())
        .unwrap_or(u32::MAX)
}

/// Container ids are shown like `docker ps` does: the first 12 characters.
const SHORT_ID: usize = 12;

impl Row for InstanceRow {
    const HEADERS: &'static [&'static str] = &[
        "INSTANCE",
        "NODE",
        "STATE",
        "HEALTH",
        "RESTARTS",
        "CONTAINER",
        "REASON",
    ];

    fn cells(&self) -> Vec<String> {
        let short: String = self.container_id.chars().take(SHORT_ID).collect();
        vec![
            self.instance.clone(),
            self.node.clone(),
            self.state.clone(),
            self.health.clone(),
            self.restarts.to_string(),
            short,
            self.reason.clone(),
        ]
    }
}

/// Rows sorted by ordinal (`web-2` before `web-10`).
pub(crate) fn instance_rows(instances: &[Instance]) -> Vec<InstanceRow> {
    let mut rows: Vec<InstanceRow> = instances.iter().map(InstanceRow::from).collect();
    rows.sort_by(|a, b| (a.ordinal, &a.instance).cmp(&(b.ordinal, &b.instance)));
    rows
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::output::{Format, render_rows};
    use corral_types::{Health, InstanceSpec, InstanceState, InstanceStatus, Kind, Object};

    fn instance(ordinal: u32, state: InstanceState) -> Instance {
        let name = InstanceSpec::instance_name("web", ordinal);
        let spec = InstanceSpec {
            service: "web".into(),
            ordinal,
            node: "n1".into(),
            ..InstanceSpec::default()
        };
        let mut i: Instance = Object::new(Kind::Instance, "default", &name, spec);
        i.status = InstanceStatus {
            state,
            container_id: "0123456789abcdef0123".into(),
            restarts: 1,
            ..InstanceStatus::default()
        };
        i
    }

    #[test]
    fn ps_sorts_by_ordinal_not_by_name() {
        let list: Vec<Instance> = [10, 2, 1, 11, 3]
            .into_iter()
            .map(|n| instance(n, InstanceState::Running))
            .collect();
        let names: Vec<String> = instance_rows(&list)
            .into_iter()
            .map(|r| r.instance)
            .collect();
        assert_eq!(names, ["web-1", "web-2", "web-3", "web-10", "web-11"]);
    }

    #[test]
    fn ps_falls_back_to_the_name_suffix_for_the_ordinal() {
        let mut a = instance(10, InstanceState::Running);
        a.spec.ordinal = 0;
        let mut b = instance(9, InstanceState::Running);
        b.spec.ordinal = 0;
        let names: Vec<String> = instance_rows(&[a, b])
            .into_iter()
            .map(|r| r.instance)
            .collect();
        assert_eq!(names, ["web-9", "web-10"]);
    }

    #[test]
    fn ps_table_shortens_container_ids_only_in_the_table() {
        let mut failed = instance(2, InstanceState::Failed);
        failed.status.reason = "image not found".into();
        failed.status.exit_code = Some(127);
        let rows = instance_rows(&[instance(1, InstanceState::Running), failed]);
        let out = render_rows(&rows, Format::Table).unwrap();
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(
            lines[0],
            "INSTANCE   NODE   STATE     HEALTH   RESTARTS   CONTAINER      REASON"
        );
        assert_eq!(
            lines[1],
            "web-1      n1     running   none     1          0123456789ab"
        );
        assert_eq!(
            lines[2],
            "web-2      n1     failed    none     1          0123456789ab   image not found"
        );
        let json: serde_json::Value =
            serde_json::from_str(&render_rows(&rows, Format::Json).unwrap()).unwrap();
        assert_eq!(json[0]["container_id"], "0123456789abcdef0123");
    }

    #[test]
    fn ps_json_rows_have_the_documented_fields() {
        let mut exited = instance(1, InstanceState::Exited);
        exited.status.exit_code = Some(0);
        let rows = instance_rows(&[exited, instance(2, InstanceState::Pending)]);
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
        assert_eq!(json[0]["state"], "exited");
        assert_eq!(json[0]["exit_code"], 0);
        assert!(json[1]["exit_code"].is_null());
        assert_eq!(json[1]["state"], "pending");
        assert_eq!(json[1]["service"], "web");
        assert_eq!(json[0]["health"], "none");
    }

    #[test]
    fn ps_shows_health_in_the_table_and_json() {
        let mut states = Vec::new();
        for (n, health) in [
            (1, Health::Healthy),
            (2, Health::Unhealthy),
            (3, Health::Initializing),
            (4, Health::None),
        ] {
            let mut i = instance(n, InstanceState::Running);
            i.status.health = health;
            states.push(i);
        }
        let rows = instance_rows(&states);
        let out = render_rows(&rows, Format::Table).unwrap();
        let health: Vec<&str> = out
            .lines()
            .map(|l| l.split_whitespace().nth(3).unwrap_or(""))
            .collect();
        assert_eq!(
            health,
            ["HEALTH", "healthy", "unhealthy", "initializing", "none"]
        );
        let json: serde_json::Value =
            serde_json::from_str(&render_rows(&rows, Format::Json).unwrap()).unwrap();
        assert_eq!(json[1]["health"], "unhealthy");
        assert_eq!(json[3]["health"], "none");
    }
}
