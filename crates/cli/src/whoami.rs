//! `corral whoami`: who the server takes the client for.

use corral_api::{Client, WhoAmI};
use serde::Serialize;

use crate::args::ListArgs;
use crate::errors::request_error;
use crate::output::{Format, ObjectFormat, Row, print, render_object, render_rows};
use crate::typed::yes_no;

pub(crate) async fn run(client: &Client, args: &ListArgs) -> anyhow::Result<()> {
    let me = client
        .whoami()
        .await
        .map_err(|e| request_error(e, "ask who you are"))?;
    print(&render(&me, args.output)?)
}

/// One environment and the caller's role in it.
#[derive(Debug, Serialize)]
struct RoleRow {
    environment: String,
    role: String,
}

impl Row for RoleRow {
    const HEADERS: &'static [&'static str] = &["ENVIRONMENT", "ROLE"];

    fn cells(&self) -> Vec<String> {
        vec![self.environment.clone(), self.role.clone()]
    }
}

/// The user, how it authenticated and whether it is an admin, then its
/// roles as a table; JSON and YAML are the server's answer as is.
pub(crate) fn render(me: &WhoAmI, format: Format) -> anyhow::Result<String> {
    match format {
        Format::Json => render_object(me, ObjectFormat::Json),
        Format::Yaml => render_object(me, ObjectFormat::Yaml),
        Format::Table => {
            let mut rows: Vec<RoleRow> = me
                .environments
                .iter()
                .map(|e| RoleRow {
                    environment: e.environment.clone(),
                    role: e.role.clone(),
                })
                .collect();
            rows.sort_by(|a, b| a.environment.cmp(&b.environment));
            Ok(format!(
                "user:   {}\nmethod: {}\nadmin:  {}\n\n{}",
                me.user,
                me.method,
                yes_no(me.admin),
                render_rows(&rows, Format::Table)?
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::args::{Cli, Command};
    use clap::Parser;
    use corral_api::EnvironmentRole;

    fn me() -> WhoAmI {
        WhoAmI {
            user: "alice".into(),
            admin: false,
            method: "session".into(),
            csrf_token: String::new(),
            environments: vec![
                EnvironmentRole {
                    environment: "prod".into(),
                    role: "read-only".into(),
                },
                EnvironmentRole {
                    environment: "dev".into(),
                    role: "owner".into(),
                },
            ],
            ca_fingerprint: String::new(),
        }
    }

    #[test]
    fn whoami_prints_the_user_then_its_roles() {
        assert_eq!(
            render(&me(), Format::Table).unwrap(),
            "user:   alice\nmethod: session\nadmin:  no\n\n\
             ENVIRONMENT   ROLE\ndev           owner\nprod          read-only\n"
        );
        let json: serde_json::Value =
            serde_json::from_str(&render(&me(), Format::Json).unwrap()).unwrap();
        assert_eq!(json["user"], "alice");
        assert_eq!(json["environments"][0]["role"], "read-only");
    }

    #[test]
    fn whoami_takes_an_output_format_only() {
        let cli = Cli::try_parse_from(["corral", "whoami", "-o", "json"]).unwrap();
        match cli.command {
            Command::Whoami(a) => assert_eq!(a.output, Format::Json),
            other => panic!("{other:?}"),
        }
        assert!(Cli::try_parse_from(["corral", "whoami", "alice"]).is_err());
        assert!(Cli::try_parse_from(["corral", "whoami", "-o", "xml"]).is_err());
    }
}
