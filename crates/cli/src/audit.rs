//! `corral audit ls`: who did what, newest first.

use std::time::{SystemTime, UNIX_EPOCH};

use corral_api::{AuditQuery, AuditRecord, Client};
use serde::Serialize;

use crate::args::{AuditCmd, AuditLsArgs};
use crate::errors::request_error;
use crate::output::{Row, print_rows};

pub(crate) async fn run(client: &Client, cmd: AuditCmd) -> anyhow::Result<()> {
    match cmd {
        AuditCmd::Ls(args) => {
            let query = audit_query(&args, now_ms());
            let list = client
                .audit(&query)
                .await
                .map_err(|e| request_error(e, "read the audit log"))?;
            let rows: Vec<AuditRow> = list.items.into_iter().map(AuditRow).collect();
            print_rows(&rows, args.output)
        }
    }
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

/// The server's query for `audit ls` run at `now_ms`: `--since` becomes
/// an absolute time.
pub(crate) fn audit_query(args: &AuditLsArgs, now_ms: u64) -> AuditQuery {
    AuditQuery {
        since_ms: args.since_ms.map_or(0, |ago| now_ms.saturating_sub(ago)),
        user: args.user.clone(),
        environment: args.env.clone(),
        limit: args.limit.and_then(|l| usize::try_from(l).ok()),
    }
}

/// One audited request: JSON and YAML have the record as the server keeps it.
#[derive(Debug, Serialize)]
#[serde(transparent)]
pub(crate) struct AuditRow(pub AuditRecord);

impl Row for AuditRow {
    const HEADERS: &'static [&'static str] = &[
        "TIME", "USER", "METHOD", "CLIENT", "ENV", "VERB", "OBJECT", "CODE", "SUMMARY",
    ];

    fn cells(&self) -> Vec<String> {
        let r = &self.0;
        vec![
            r.time.clone(),
            r.user.clone(),
            r.method.clone(),
            r.client.clone(),
            r.environment.clone(),
            r.verb.clone(),
            r.object.clone(),
            r.code.to_string(),
            r.summary.replace('\n', " "),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::args::{Cli, Command};
    use crate::output::{Format, render_rows};
    use clap::Parser;

    fn ls(args: &[&str]) -> Result<(String, AuditLsArgs), String> {
        let argv = ["corral", "audit", "ls"]
            .into_iter()
            .chain(args.iter().copied());
        let cli = Cli::try_parse_from(argv).map_err(|e| e.to_string())?;
        match cli.command {
            Command::Audit(AuditCmd::Ls(a)) => Ok((cli.environment, a)),
            other => Err(format!("{other:?}")),
        }
    }

    #[test]
    fn since_becomes_an_absolute_time_and_filters_pass_through() {
        let (_, args) = ls(&[
            "--since", "1h", "--user", "alice", "--env", "prod", "--limit", "50",
        ])
        .unwrap();
        let q = audit_query(&args, 10_000_000);
        assert_eq!(q.since_ms, 10_000_000 - 3_600_000);
        assert_eq!(q.user.as_deref(), Some("alice"));
        assert_eq!(q.environment.as_deref(), Some("prod"));
        assert_eq!(q.limit, Some(50));
        // Longer ago than the epoch: everything.
        let (_, args) = ls(&["--since", "7d"]).unwrap();
        assert_eq!(audit_query(&args, 1000).since_ms, 0);
    }

    #[test]
    fn without_filters_everything_and_the_global_e_is_ignored() {
        let (env, args) = ls(&["-E", "prod", "-o", "json"]).unwrap();
        assert_eq!(env, "prod");
        assert_eq!(args.output, Format::Json);
        let q = audit_query(&args, 5);
        assert_eq!(q.since_ms, 0);
        assert_eq!((q.user, q.environment, q.limit), (None, None, None));
    }

    #[test]
    fn bad_since_and_filters_are_refused() {
        for bad in ["0", "yesterday", "10", "5ms"] {
            let e = ls(&["--since", bad]).unwrap_err();
            assert!(e.contains("--since"), "{bad}: {e}");
        }
        assert!(ls(&["--limit", "0"]).unwrap_err().contains("--limit"));
        assert!(ls(&["--user", "a b"]).is_err());
        assert!(ls(&["--env", "Prod"]).is_err());
    }

    #[test]
    fn audit_table_has_one_line_per_record() {
        let rec = AuditRecord {
            time_ms: 1,
            time: "2026-05-01T10:00:00Z".into(),
            user: "bob".into(),
            method: "session".into(),
            client: "10.0.0.9".into(),
            environment: "prod".into(),
            verb: "DELETE /v1/environments/{env}/services/{name}".into(),
            object: "services/web".into(),
            code: 403,
            summary: "refused: the role read-only\nmay not".into(),
        };
        let rows = vec![AuditRow(rec)];
        let out = render_rows(&rows, Format::Table).unwrap();
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines.len(), 2, "{out}");
        assert!(lines[0].starts_with("TIME ") && lines[0].ends_with("CODE   SUMMARY"));
        assert!(
            lines[1].ends_with("services/web   403    refused: the role read-only may not"),
            "{out}"
        );
        let json: serde_json::Value =
            serde_json::from_str(&render_rows(&rows, Format::Json).unwrap()).unwrap();
        assert_eq!(json[0]["code"], 403);
        assert_eq!(json[0]["time_ms"], 1);
    }
}
