//! `corral apikey create|ls|rm|deactivate|activate`: keys for scripts.

use corral_api::{ApiKeyCreate, Client, SecretCreated};
use corral_types::ApiKey;
use serde::Serialize;

use crate::args::{ApiKeyCmd, ApiKeyCreateArgs};
use crate::errors::{for_each, request_error};
use crate::output::{Row, print, print_rows};
use crate::typed::{decode_all, yes_no};

pub(crate) async fn run(client: &Client, cmd: ApiKeyCmd) -> anyhow::Result<()> {
    match cmd {
        ApiKeyCmd::Create(args) => {
            let created = client
                .create_apikey(&create_request(&args))
                .await
                .map_err(|e| request_error(e, &format!("create API key {:?}", args.name)))?;
            print(&created_text(&created))
        }
        ApiKeyCmd::Ls(args) => {
            let list = client
                .apikeys()
                .await
                .map_err(|e| request_error(e, "list API keys"))?;
            let keys: Vec<ApiKey> = decode_all(list.items, "API key")?;
            print_rows(&apikey_rows(&keys), args.output)
        }
        ApiKeyCmd::Rm(args) => {
            for_each(&args.ids, "remove API key", |id| async move {
                client.remove_apikey(&id).await.map(drop)
            })
            .await
        }
        ApiKeyCmd::Deactivate(args) => set_active(client, &args.id, false).await,
        ApiKeyCmd::Activate(args) => set_active(client, &args.id, true).await,
    }
}

async fn set_active(client: &Client, id: &str, active: bool) -> anyhow::Result<()> {
    let verb = if active { "activate" } else { "deactivate" };
    client
        .set_apikey_active(id, active)
        .await
        .map_err(|e| request_error(e, &format!("{verb} API key {id:?}")))?;
    print(&format!("{id}\n"))
}

/// What `apikey create` asks for: an account key unless `--env` was given.
pub(crate) fn create_request(args: &ApiKeyCreateArgs) -> ApiKeyCreate {
    ApiKeyCreate {
        description: args.name.clone(),
        environment: args.env.clone().unwrap_or_default(),
        role: args.role,
    }
}

/// The new key, once.
pub(crate) fn created_text(created: &SecretCreated) -> String {
    format!(
        "id:    {}\ntoken: {}\nSave the token now: it will not be shown again.\n",
        created.id, created.token
    )
}

/// One API key as `apikey ls` shows it (never its secret).
#[derive(Debug, Serialize)]
pub(crate) struct ApiKeyRow {
    pub id: String,
    pub name: String,
    /// The user it acts for.
    pub user: String,
    /// `account`, or the environment an environment key is limited to.
    pub scope: String,
    /// The role of an environment key; empty for an account key.
    pub role: String,
    pub active: bool,
    pub created: String,
    /// RFC 3339, to the minute; empty when never used.
    pub last_used: String,
}

impl Row for ApiKeyRow {
    const HEADERS: &'static [&'static str] = &[
        "ID",
        "NAME",
        "SCOPE",
        "ROLE",
        "ACTIVE",
        "CREATED",
        "LAST USED",
    ];

    fn cells(&self) -> Vec<String> {
        vec![
            self.id.clone(),
            self.name.clone(),
            self.scope.clone(),
            self.role.clone(),
            yes_no(self.active),
            self.created.clone(),
            if self.last_used.is_empty() {
                "never".to_string()
            } else {
                self.last_used.clone()
            },
        ]
    }
}

/// Rows sorted by name, then id.
pub(crate) fn apikey_rows(keys: &[ApiKey]) -> Vec<ApiKeyRow> {
    let mut rows: Vec<ApiKeyRow> = keys
        .iter()
        .map(|k| ApiKeyRow {
            id: k.meta.name.clone(),
            name: k.spec.description.clone(),
            user: k.spec.user.clone(),
            scope: if k.spec.environment.is_empty() {
                "account".to_string()
            } else {
                k.spec.environment.clone()
            },
            role: k.spec.role.map(|r| r.to_string()).unwrap_or_default(),
            active: k.spec.active,
            created: k.meta.created.clone(),
            last_used: k.status.last_used.clone(),
        })
        .collect();
    rows.sort_by(|a, b| a.name.cmp(&b.name).then(a.id.cmp(&b.id)));
    rows
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::args::{Cli, Command};
    use crate::output::{Format, render_rows};
    use clap::Parser;
    use corral_types::{ApiKeySpec, GLOBAL, Kind, Object, Role};

    fn apikey(args: &[&str]) -> Result<(String, ApiKeyCmd), String> {
        let argv = ["corral", "apikey"].into_iter().chain(args.iter().copied());
        let cli = Cli::try_parse_from(argv).map_err(|e| e.to_string())?;
        match cli.command {
            Command::Apikey(cmd) => Ok((cli.environment, cmd)),
            other => Err(format!("{other:?}")),
        }
    }

    fn create(args: &[&str]) -> ApiKeyCreate {
        let mut all = vec!["create"];
        all.extend_from_slice(args);
        match apikey(&all) {
            Ok((_, ApiKeyCmd::Create(c))) => create_request(&c),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn without_env_a_key_is_an_account_key_whatever_e_says() {
        let req = create(&["ci"]);
        assert_eq!(
            (req.description.as_str(), req.environment.as_str()),
            ("ci", "")
        );
        assert_eq!(req.role, None);
        let req = create(&["ci", "-E", "prod"]);
        assert_eq!(req.environment, "", "the global -E does not scope a key");
        let req = create(&["backup script", "--env", "prod", "--role", "restricted"]);
        assert_eq!(req.environment, "prod");
        assert_eq!(req.role, Some(Role::Restricted));
    }

    #[test]
    fn apikey_create_rejects_bad_input() {
        let e = apikey(&["create"]).unwrap_err();
        assert!(e.contains("<NAME>"), "{e}");
        assert!(
            apikey(&["create", ""])
                .unwrap_err()
                .contains("must not be empty")
        );
        let e = apikey(&["create", "ci", "--env", "prod", "--role", "root"]).unwrap_err();
        assert!(e.contains("--role") && e.contains("unknown role"), "{e}");
        let e = apikey(&["create", "ci", "--role", "owner"]).unwrap_err();
        assert!(e.contains("--env"), "a role needs an environment: {e}");
        assert!(apikey(&["create", "ci", "--env", "Prod"]).is_err());
    }

    #[test]
    fn apikey_id_verbs_parse() {
        match apikey(&["rm", "k1", "k2"]) {
            Ok((_, ApiKeyCmd::Rm(r))) => assert_eq!(r.ids, ["k1", "k2"]),
            other => panic!("{other:?}"),
        }
        match apikey(&["deactivate", "k1"]) {
            Ok((_, ApiKeyCmd::Deactivate(a))) => assert_eq!(a.id, "k1"),
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            apikey(&["activate", "k1"]),
            Ok((_, ApiKeyCmd::Activate(_)))
        ));
        assert!(apikey(&["rm"]).is_err());
        assert!(apikey(&["activate"]).is_err());
        assert!(apikey(&["deactivate", "k1", "k2"]).is_err());
        assert!(apikey(&["rm", "k/1"]).unwrap_err().contains("not an id"));
    }

    #[test]
    fn the_secret_is_shown_once_with_a_warning() {
        let text = created_text(&SecretCreated {
            id: "k1".into(),
            token: "crl_k_k1_s3cret".into(),
            expires: String::new(),
        });
        assert_eq!(
            text,
            "id:    k1\ntoken: crl_k_k1_s3cret\nSave the token now: it will not be shown again.\n"
        );
    }

    #[test]
    fn apikey_table_shows_scope_role_and_use() {
        let key = |id: &str, name: &str, env: &str, role: Option<Role>, active| {
            let spec = ApiKeySpec {
                description: name.into(),
                user: "alice".into(),
                environment: env.into(),
                role,
                active,
                secret_hash: "HASH".into(),
            };
            let mut k: ApiKey = Object::new(Kind::ApiKey, GLOBAL, id, spec);
            k.meta.created = "2026-05-01T10:00:00Z".into();
            k
        };
        let mut ci = key("k2", "ci", "prod", Some(Role::Member), false);
        ci.status.last_used = "2026-05-01T11:00:00Z".into();
        let rows = apikey_rows(&[key("k1", "laptop", "", None, true), ci]);
        let out = render_rows(&rows, Format::Table).unwrap();
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(
            lines,
            [
                "ID   NAME     SCOPE     ROLE     ACTIVE   CREATED                LAST USED",
                "k2   ci       prod      member   no       2026-05-01T10:00:00Z   2026-05-01T11:00:00Z",
                "k1   laptop   account            yes      2026-05-01T10:00:00Z   never",
            ]
        );
        let json = render_rows(&rows, Format::Json).unwrap();
        assert!(!json.contains("HASH"), "{json}");
        let json: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(json[1]["scope"], "account");
        assert_eq!(json[1]["user"], "alice");
    }
}
