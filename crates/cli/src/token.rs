//! `corral token ls|rm`: the registration tokens of an environment.

use corral_api::Client;
use corral_types::RegistrationToken;
use serde::Serialize;

use crate::args::TokenCmd;
use crate::errors::{for_each, request_error};
use crate::output::{Row, print_rows};
use crate::typed::decode_all;

pub(crate) async fn run(client: &Client, env: &str, cmd: TokenCmd) -> anyhow::Result<()> {
    match cmd {
        TokenCmd::Ls(args) => {
            let list = client.registration_tokens(env).await.map_err(|e| {
                request_error(
                    e,
                    &format!("list registration tokens in environment {env:?}"),
                )
            })?;
            let tokens: Vec<RegistrationToken> = decode_all(list.items, "registration token")?;
            print_rows(&token_rows(&tokens), args.output)
        }
        TokenCmd::Rm(args) => {
            for_each(&args.ids, "remove registration token", |id| async move {
                client.remove_registration_token(env, &id).await.map(drop)
            })
            .await
        }
    }
}

/// One registration token as `token ls` shows it (never its secret).
#[derive(Debug, Serialize)]
pub(crate) struct TokenRow {
    pub id: String,
    pub expires: String,
    pub created_by: String,
    pub created: String,
}

impl Row for TokenRow {
    const HEADERS: &'static [&'static str] = &["ID", "EXPIRES", "CREATED BY", "CREATED"];

    fn cells(&self) -> Vec<String> {
        vec![
            self.id.clone(),
            self.expires.clone(),
            self.created_by.clone(),
            self.created.clone(),
        ]
    }
}

/// Rows, the newest first.
pub(crate) fn token_rows(tokens: &[RegistrationToken]) -> Vec<TokenRow> {
    let mut rows: Vec<TokenRow> = tokens
        .iter()
        .map(|t| TokenRow {
            id: t.meta.name.clone(),
            expires: t.spec.expires.clone(),
            created_by: t.spec.created_by.clone(),
            created: t.meta.created.clone(),
        })
        .collect();
    rows.sort_by(|a, b| b.created.cmp(&a.created).then(a.id.cmp(&b.id)));
    rows
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::args::{Cli, Command};
    use crate::output::{Format, render_rows};
    use clap::Parser;
    use corral_types::{GLOBAL, Kind, Object, RegistrationTokenSpec};

    fn token(id: &str, created: &str) -> RegistrationToken {
        let spec = RegistrationTokenSpec {
            environment: "prod".into(),
            expires: "2026-05-02T10:00:00Z".into(),
            created_by: "alice".into(),
            secret_hash: "HASH".into(),
        };
        let mut t: RegistrationToken = Object::new(Kind::RegistrationToken, GLOBAL, id, spec);
        t.meta.created = created.into();
        t
    }

    #[test]
    fn token_table_is_newest_first_and_has_no_secret() {
        let rows = token_rows(&[
            token("old1", "2026-05-01T09:00:00Z"),
            token("new2", "2026-05-01T10:00:00Z"),
        ]);
        let out = render_rows(&rows, Format::Table).unwrap();
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(
            lines[0],
            "ID     EXPIRES                CREATED BY   CREATED"
        );
        assert_eq!(
            lines[1],
            "new2   2026-05-02T10:00:00Z   alice        2026-05-01T10:00:00Z"
        );
        for format in [Format::Table, Format::Json, Format::Yaml] {
            let out = render_rows(&rows, format).unwrap();
            assert!(!out.contains("HASH"), "{out}");
        }
    }

    #[test]
    fn token_rm_takes_ids_and_needs_one() {
        let cli = Cli::try_parse_from(["corral", "token", "rm", "ab1", "cd2", "-E", "prod"]);
        match cli.unwrap() {
            Cli {
                environment,
                command: Command::Token(TokenCmd::Rm(r)),
                ..
            } => {
                assert_eq!(r.ids, ["ab1", "cd2"]);
                assert_eq!(environment, "prod");
            }
            other => panic!("{other:?}"),
        }
        assert!(Cli::try_parse_from(["corral", "token", "rm"]).is_err());
        let e = Cli::try_parse_from(["corral", "token", "rm", "../x"]).unwrap_err();
        assert!(e.to_string().contains("not an id"), "{e}");
        let cli = Cli::try_parse_from(["corral", "token", "ls", "-o", "json"]).unwrap();
        assert!(matches!(cli.command, Command::Token(TokenCmd::Ls(_))));
    }
}
