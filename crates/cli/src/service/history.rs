//! `corral service history NAME`: the launch configs of a service, and where
//! its latest rollout stands.

use corral_api::Client;
use corral_types::{LaunchRevision, Service, UpgradeState, UpgradeStatus};
use serde::Serialize;

use crate::args::PsArgs;
use crate::output::{Format, Row, print, render_rows};

pub(super) async fn run(client: &Client, env: &str, args: &PsArgs) -> anyhow::Result<()> {
    let service = super::get(client, env, &args.name).await?;
    print(&render_history(&service, args.output)?)
}

/// One launch revision as `service history` shows it.
#[derive(Debug, Serialize)]
pub(super) struct RevisionRow {
    pub revision: u64,
    pub image: String,
    pub created_at: String,
    /// True for the launch config the service runs now (the last one).
    pub current: bool,
}

impl Row for RevisionRow {
    const HEADERS: &'static [&'static str] = &["REVISION", "IMAGE", "CREATED", "CURRENT"];

    fn cells(&self) -> Vec<String> {
        vec![
            self.revision.to_string(),
            self.image.clone(),
            self.created_at.clone(),
            if self.current { "*" } else { "" }.to_string(),
        ]
    }
}

/// Rows oldest first; the last one is current.
pub(super) fn revision_rows(history: &[LaunchRevision]) -> Vec<RevisionRow> {
    let last = history.len().saturating_sub(1);
    history
        .iter()
        .enumerate()
        .map(|(i, r)| RevisionRow {
            revision: r.revision,
            image: r.launch.image.clone(),
            created_at: r.created_at.clone(),
            current: i == last,
        })
        .collect()
}

/// The history in `format`; a table ends with an `UPGRADE:` line when the
/// service has a rollout.
pub(super) fn render_history(service: &Service, format: Format) -> anyhow::Result<String> {
    let mut out = render_rows(&revision_rows(&service.status.history), format)?;
    if format == Format::Table
        && let Some(upgrade) = &service.status.upgrade
    {
        out.push_str(&format!("UPGRADE: {}\n", upgrade_summary(upgrade)));
    }
    Ok(out)
}

/// `upgrading r3`, `rolled-back r4: instance web-5 is unhealthy`.
pub(super) fn upgrade_summary(upgrade: &UpgradeStatus) -> String {
    let mut text = format!("{} r{}", upgrade.state, upgrade.revision);
    if !upgrade.reason.is_empty() {
        text.push_str(": ");
        text.push_str(&upgrade.reason);
    }
    if upgrade.pause_requested && upgrade.state != UpgradeState::Paused {
        text.push_str(" (pause requested)");
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use corral_types::{Kind, Object, ServiceSpec};

    fn revision(n: u64, image: &str) -> LaunchRevision {
        LaunchRevision {
            revision: n,
            launch: ServiceSpec {
                image: image.into(),
                ..ServiceSpec::default()
            },
            created_at: format!("2025-01-0{n}T00:00:00Z"),
        }
    }

    fn service() -> Service {
        let mut s: Service = Object::new(Kind::Service, "default", "web", ServiceSpec::default());
        s.status.history = vec![
            revision(1, "nginx:1"),
            revision(2, "nginx:2"),
            revision(3, "nginx:1"),
        ];
        s.status.upgrade = Some(UpgradeStatus {
            state: UpgradeState::RolledBack,
            revision: 3,
            reason: "instance web-2 is unhealthy".into(),
            ..UpgradeStatus::default()
        });
        s
    }

    #[test]
    fn history_table_marks_the_current_revision_and_shows_the_upgrade() {
        let out = render_history(&service(), Format::Table).unwrap();
        assert_eq!(
            out,
            "REVISION   IMAGE     CREATED                CURRENT\n\
             1          nginx:1   2025-01-01T00:00:00Z\n\
             2          nginx:2   2025-01-02T00:00:00Z\n\
             3          nginx:1   2025-01-03T00:00:00Z   *\n\
             UPGRADE: rolled-back r3: instance web-2 is unhealthy\n"
        );
    }

    #[test]
    fn history_json_has_rows_only() {
        let out = render_history(&service(), Format::Json).unwrap();
        let json: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(json.as_array().map(Vec::len), Some(3));
        assert_eq!(json[2]["current"], true);
        assert_eq!(json[0]["current"], false);
        assert_eq!(json[1]["image"], "nginx:2");
        assert_eq!(json[1]["revision"], 2);
        assert_eq!(json[1]["created_at"], "2025-01-02T00:00:00Z");
    }

    #[test]
    fn history_without_upgrade_or_revisions() {
        let s: Service = Object::new(Kind::Service, "default", "web", ServiceSpec::default());
        let out = render_history(&s, Format::Table).unwrap();
        assert_eq!(out, "REVISION   IMAGE   CREATED   CURRENT\n");
    }

    #[test]
    fn upgrade_summaries() {
        let mut u = UpgradeStatus {
            state: UpgradeState::Upgrading,
            revision: 3,
            ..UpgradeStatus::default()
        };
        assert_eq!(upgrade_summary(&u), "upgrading r3");
        u.pause_requested = true;
        assert_eq!(upgrade_summary(&u), "upgrading r3 (pause requested)");
        u.state = UpgradeState::Paused;
        u.reason = "instance web-1 failed".into();
        assert_eq!(upgrade_summary(&u), "paused r3: instance web-1 failed");
    }
}
