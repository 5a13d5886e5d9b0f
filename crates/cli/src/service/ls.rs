//! `corral service ls`.

use corral_api::Client;
use corral_types::Service;
use serde::Serialize;

use crate::args::ListArgs;
use crate::errors::list_error;
use crate::output::{Row, print_rows};

pub(super) async fn run(client: &Client, env: &str, args: &ListArgs) -> anyhow::Result<()> {
    let list = client
        .services(env)
        .await
        .map_err(|e| list_error(e, "services", env))?;
    print_rows(&service_rows(&list.items), args.output)
}

/// One service as `service ls` shows it.
#[derive(Debug, Serialize)]
pub(super) struct ServiceRow {
    pub name: String,
    pub image: String,
    pub scale: u32,
    pub running: u32,
    pub pending: u32,
    /// `8080:80/tcp`, or `80/tcp` when not published.
    pub ports: Vec<String>,
    pub restart: String,
    /// healthy | degraded | unhealthy; empty before there is anything to judge.
    pub health: String,
    /// The latest rollout (`upgrading r3`, `rolled-back r4: ...`); empty when none.
    pub upgrade: String,
}

impl From<&Service> for ServiceRow {
    fn from(s: &Service) -> Self {
        ServiceRow {
            name: s.meta.name.clone(),
            image: s.spec.image.clone(),
            scale: s.spec.scale,
            running: s.status.running,
            pending: s.status.pending,
            ports: s.spec.ports.iter().map(ToString::to_string).collect(),
            restart: s.spec.restart.to_string(),
            health: s.status.health.clone(),
            upgrade: s
                .status
                .upgrade
                .as_ref()
                .map(super::history::upgrade_summary)
                .unwrap_or_default(),
        }
    }
}

impl Row for ServiceRow {
    const HEADERS: &'static [&'static str] = &[
        "NAME", "IMAGE", "SCALE", "RUNNING", "PENDING", "HEALTH", "PORTS", "UPGRADE",
    ];

    fn cells(&self) -> Vec<String> {
        vec![
            self.name.clone(),
            self.image.clone(),
            self.scale.to_string(),
            self.running.to_string(),
            self.pending.to_string(),
            self.health.clone(),
            self.ports.join(","),
            truncate(&self.upgrade, UPGRADE_WIDTH),
        ]
    }
}

/// Widest UPGRADE cell in the table; JSON and YAML have it whole.
const UPGRADE_WIDTH: usize = 40;

/// `text` cut to `width` characters, ending in `...` when cut.
fn truncate(text: &str, width: usize) -> String {
    if text.chars().count() <= width {
        return text.to_string();
    }
    let kept: String = text.chars().take(width.saturating_sub(3)).collect();
    format!("{}...", kept.trim_end())
}

/// Rows sorted by service name.
pub(super) fn service_rows(services: &[Service]) -> Vec<ServiceRow> {
    let mut rows: Vec<ServiceRow> = services.iter().map(ServiceRow::from).collect();
    rows.sort_by(|a, b| a.name.cmp(&b.name));
    rows
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::output::{Format, render_rows};
    use corral_types::{Kind, Object, ServiceSpec, ServiceStatus, UpgradeState, UpgradeStatus};

    fn service(name: &str, ports: &[&str]) -> Service {
        let spec = ServiceSpec {
            image: "nginx:1".into(),
            scale: 3,
            ports: ports.iter().map(|p| p.parse().unwrap()).collect(),
            ..ServiceSpec::default()
        };
        let mut s: Service = Object::new(Kind::Service, "default", name, spec);
        s.status = ServiceStatus {
            running: 2,
            pending: 1,
            observed_generation: 1,
            health: "degraded".into(),
            ..ServiceStatus::default()
        };
        s
    }

    #[test]
    fn service_json_rows_have_the_documented_fields() {
        let rows = service_rows(&[service("web", &["8080:80", "53/udp"])]);
        let json: serde_json::Value =
            serde_json::from_str(&render_rows(&rows, Format::Json).unwrap()).unwrap();
        let row = &json[0];
        let mut keys: Vec<&String> = row.as_object().unwrap().keys().collect();
        keys.sort();
        assert_eq!(
            keys,
            [
                "health", "image", "name", "pending", "ports", "restart", "running", "scale",
                "upgrade"
            ]
        );
        assert_eq!(row["ports"], serde_json::json!(["8080:80/tcp", "53/udp"]));
        assert_eq!(row["restart"], "always");
        assert_eq!(row["health"], "degraded");
        assert_eq!(row["upgrade"], "");
        assert_eq!(
            (
                row["scale"].as_u64(),
                row["running"].as_u64(),
                row["pending"].as_u64()
            ),
            (Some(3), Some(2), Some(1))
        );
    }

    #[test]
    fn service_table_lists_ports_and_counts() {
        let rows = service_rows(&[service("web", &["8080:80"]), service("db", &[])]);
        let out = render_rows(&rows, Format::Table).unwrap();
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(
            lines[0],
            "NAME   IMAGE     SCALE   RUNNING   PENDING   HEALTH     PORTS         UPGRADE"
        );
        assert_eq!(
            lines[1],
            "db     nginx:1   3       2         1         degraded"
        );
        assert_eq!(
            lines[2],
            "web    nginx:1   3       2         1         degraded   8080:80/tcp"
        );
    }

    #[test]
    fn service_upgrade_is_cut_in_the_table_and_whole_in_json() {
        let mut s = service("web", &[]);
        s.status.upgrade = Some(UpgradeStatus {
            state: UpgradeState::RolledBack,
            revision: 4,
            reason: "instance web-5 is unhealthy after 60s of monitoring".into(),
            ..UpgradeStatus::default()
        });
        let mut db = service("db", &[]);
        db.status.upgrade = Some(UpgradeStatus {
            state: UpgradeState::Upgrading,
            revision: 3,
            ..UpgradeStatus::default()
        });
        let rows = service_rows(&[s, db]);
        let out = render_rows(&rows, Format::Table).unwrap();
        let lines: Vec<&str> = out.lines().collect();
        assert!(
            lines[1].ends_with("degraded           upgrading r3"),
            "{out}"
        );
        let cut = "rolled-back r4: instance web-5 is unh...";
        assert_eq!(cut.len(), 40);
        assert!(lines[2].ends_with(cut), "{out}");
        let json: serde_json::Value =
            serde_json::from_str(&render_rows(&rows, Format::Json).unwrap()).unwrap();
        assert_eq!(
            json[1]["upgrade"],
            "rolled-back r4: instance web-5 is unhealthy after 60s of monitoring"
        );
        assert_eq!(json[0]["upgrade"], "upgrading r3");
    }
}
