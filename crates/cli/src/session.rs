//! `corral session ls|rm`: login sessions (admins).

use corral_api::Client;
use corral_types::Session;
use serde::Serialize;

use crate::args::SessionCmd;
use crate::errors::{for_each, request_error};
use crate::output::{Row, print_rows};
use crate::typed::decode_all;

pub(crate) async fn run(client: &Client, cmd: SessionCmd) -> anyhow::Result<()> {
    match cmd {
        SessionCmd::Ls(args) => {
            let list = client
                .sessions()
                .await
                .map_err(|e| request_error(e, "list sessions"))?;
            let sessions: Vec<Session> = decode_all(list.items, "session")?;
            print_rows(&session_rows(&sessions), args.output)
        }
        SessionCmd::Rm(args) => {
            for_each(&args.ids, "revoke session", |id| async move {
                client.revoke_session(&id).await.map(drop)
            })
            .await
        }
    }
}

/// One session as `session ls` shows it (never its secret).
#[derive(Debug, Serialize)]
pub(crate) struct SessionRow {
    pub id: String,
    pub user: String,
    pub provider: String,
    /// The client's address at login.
    pub client: String,
    pub created: String,
    pub expires: String,
}

impl Row for SessionRow {
    const HEADERS: &'static [&'static str] =
        &["ID", "USER", "PROVIDER", "CLIENT", "CREATED", "EXPIRES"];

    fn cells(&self) -> Vec<String> {
        vec![
            self.id.clone(),
            self.user.clone(),
            self.provider.clone(),
            self.client.clone(),
            self.created.clone(),
            self.expires.clone(),
        ]
    }
}

/// Rows by user, then newest first.
pub(crate) fn session_rows(sessions: &[Session]) -> Vec<SessionRow> {
    let mut rows: Vec<SessionRow> = sessions
        .iter()
        .map(|s| SessionRow {
            id: s.meta.name.clone(),
            user: s.spec.user.clone(),
            provider: s.spec.provider.to_string(),
            client: s.spec.client.clone(),
            created: s.meta.created.clone(),
            expires: s.spec.expires.clone(),
        })
        .collect();
    rows.sort_by(|a, b| a.user.cmp(&b.user).then(b.created.cmp(&a.created)));
    rows
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::args::{Cli, Command};
    use crate::output::{Format, render_rows};
    use clap::Parser;
    use corral_types::{GLOBAL, Kind, Object, SessionSpec};

    #[test]
    fn session_table_has_no_secret() {
        let spec = SessionSpec {
            user: "alice".into(),
            expires: "2026-05-02T02:00:00Z".into(),
            client: "10.0.0.9".into(),
            secret_hash: "HASH".into(),
            ..SessionSpec::default()
        };
        let mut s: Session = Object::new(Kind::Session, GLOBAL, "s1", spec);
        s.meta.created = "2026-05-01T10:00:00Z".into();
        let rows = session_rows(&[s]);
        assert_eq!(
            render_rows(&rows, Format::Table).unwrap(),
            "ID   USER    PROVIDER   CLIENT     CREATED                EXPIRES\n\
             s1   alice   local      10.0.0.9   2026-05-01T10:00:00Z   2026-05-02T02:00:00Z\n"
        );
        assert!(!render_rows(&rows, Format::Json).unwrap().contains("HASH"));
    }

    #[test]
    fn session_verbs_parse_and_need_ids() {
        let cli = Cli::try_parse_from(["corral", "session", "rm", "s1", "s2"]).unwrap();
        match cli.command {
            Command::Session(SessionCmd::Rm(r)) => assert_eq!(r.ids, ["s1", "s2"]),
            other => panic!("{other:?}"),
        }
        assert!(Cli::try_parse_from(["corral", "session", "rm"]).is_err());
        assert!(Cli::try_parse_from(["corral", "session", "rm", "s-1"]).is_err());
        let cli = Cli::try_parse_from(["corral", "session", "ls", "-o", "yaml"]).unwrap();
        assert!(matches!(cli.command, Command::Session(SessionCmd::Ls(_))));
    }
}
