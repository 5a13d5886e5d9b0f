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
        }
    }
}

impl Row for ServiceRow {
    const HEADERS: &'static [&'static str] =
        &["NAME", "IMAGE", "SCALE", "RUNNING", "PENDING", "PORTS"];

    fn cells(&self) -> Vec<String> {
        vec![
            self.name.clone(),
            self.image.clone(),
            self.scale.to_string(),
            self.running.to_string(),
            self.pending.to_string(),
            self.ports.join(","),
        ]
    }
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
    use corral_types::{Kind, Object, ServiceSpec, ServiceStatus};

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
                "image", "name", "pending", "ports", "restart", "running", "scale"
            ]
        );
        assert_eq!(row["ports"], serde_json::json!(["8080:80/tcp", "53/udp"]));
        assert_eq!(row["restart"], "always");
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
            "NAME   IMAGE     SCALE   RUNNING   PENDING   PORTS"
        );
        assert_eq!(lines[1], "db     nginx:1   3       2         1");
        assert_eq!(
            lines[2],
            "web    nginx:1   3       2         1         8080:80/tcp"
        );
    }
}
