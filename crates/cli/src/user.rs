//! `corral user create|ls|rm|passwd`.

use corral_api::{Client, UserCreate};
use corral_types::User;
use serde::Serialize;

use crate::args::{PasswdArgs, UserCmd, UserCreateArgs};
use crate::errors::{for_each, request_error};
use crate::output::{Row, print, print_rows};
use crate::password;
use crate::typed::{decode_all, yes_no};

pub(crate) async fn run(client: &Client, cmd: UserCmd) -> anyhow::Result<()> {
    match cmd {
        UserCmd::Create(args) => create(client, &args).await,
        UserCmd::Ls(args) => {
            let list = client
                .users()
                .await
                .map_err(|e| request_error(e, "list users"))?;
            let users: Vec<User> = decode_all(list.items, "user")?;
            print_rows(&user_rows(&users), args.output)
        }
        UserCmd::Rm(args) => {
            for_each(&args.names, "remove user", |name| async move {
                client.remove_user(&name).await.map(drop)
            })
            .await
        }
        UserCmd::Passwd(args) => passwd(client, &args).await,
    }
}

async fn create(client: &Client, args: &UserCreateArgs) -> anyhow::Result<()> {
    let password = password::new_password(&args.name, args.password_stdin)?;
    let req = UserCreate {
        name: args.name.clone(),
        password,
        admin: args.admin,
        display_name: args.display_name.clone().unwrap_or_default(),
    };
    client
        .create_user(&req)
        .await
        .map_err(|e| request_error(e, &format!("create user {:?}", args.name)))?;
    print(&format!("{}\n", args.name))
}

async fn passwd(client: &Client, args: &PasswdArgs) -> anyhow::Result<()> {
    let password = password::new_password(&args.name, args.password_stdin)?;
    client
        .set_password(&args.name, &password)
        .await
        .map_err(|e| request_error(e, &format!("set the password of {:?}", args.name)))?;
    print(&format!("password of {} changed\n", args.name))
}

/// One user as `user ls` shows it (never a password hash).
#[derive(Debug, Serialize)]
pub(crate) struct UserRow {
    pub name: String,
    pub display_name: String,
    pub admin: bool,
    /// local | ldap.
    pub provider: String,
    pub disabled: bool,
    /// RFC 3339; empty when the user never logged in.
    pub last_login: String,
}

impl Row for UserRow {
    const HEADERS: &'static [&'static str] =
        &["NAME", "ADMIN", "PROVIDER", "DISABLED", "LAST LOGIN"];

    fn cells(&self) -> Vec<String> {
        vec![
            self.name.clone(),
            yes_no(self.admin),
            self.provider.clone(),
            yes_no(self.disabled),
            if self.last_login.is_empty() {
                "never".to_string()
            } else {
                self.last_login.clone()
            },
        ]
    }
}

/// Rows sorted by name.
pub(crate) fn user_rows(users: &[User]) -> Vec<UserRow> {
    let mut rows: Vec<UserRow> = users
        .iter()
        .map(|u| UserRow {
            name: u.meta.name.clone(),
            display_name: u.spec.display_name.clone(),
            admin: u.spec.admin,
            provider: u.spec.provider.to_string(),
            disabled: u.spec.disabled,
            last_login: u.status.last_login.clone(),
        })
        .collect();
    rows.sort_by(|a, b| a.name.cmp(&b.name));
    rows
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::args::{Cli, Command};
    use crate::output::{Format, render_rows};
    use clap::Parser;
    use corral_types::{GLOBAL, Kind, Object, Provider, UserSpec};

    fn user(args: &[&str]) -> Result<UserCmd, String> {
        let argv = ["corral", "user"].into_iter().chain(args.iter().copied());
        match Cli::try_parse_from(argv)
            .map_err(|e| e.to_string())?
            .command
        {
            Command::User(cmd) => Ok(cmd),
            other => Err(format!("{other:?}")),
        }
    }

    #[test]
    fn user_verbs_parse() {
        match user(&[
            "create",
            "bob",
            "--admin",
            "--password-stdin",
            "--display-name",
            "Bob B",
        ]) {
            Ok(UserCmd::Create(c)) => {
                assert_eq!(c.name, "bob");
                assert!(c.admin && c.password_stdin);
                assert_eq!(c.display_name.as_deref(), Some("Bob B"));
            }
            other => panic!("{other:?}"),
        }
        match user(&["create", "bob"]) {
            Ok(UserCmd::Create(c)) => assert!(!c.admin && !c.password_stdin),
            other => panic!("{other:?}"),
        }
        match user(&["rm", "bob", "Alice.Smith"]) {
            Ok(UserCmd::Rm(r)) => assert_eq!(r.names, ["bob", "Alice.Smith"]),
            other => panic!("{other:?}"),
        }
        match user(&["passwd", "bob", "--password-stdin"]) {
            Ok(UserCmd::Passwd(p)) => assert!(p.name == "bob" && p.password_stdin),
            other => panic!("{other:?}"),
        }
        assert!(matches!(user(&["ls", "-o", "yaml"]), Ok(UserCmd::Ls(_))));
    }

    #[test]
    fn user_verbs_reject_missing_and_bad_names() {
        let e = user(&["create"]).unwrap_err();
        assert!(e.contains("<NAME>"), "{e}");
        let e = user(&["create", "Bob Smith"]).unwrap_err();
        assert!(e.contains("Bob Smith"), "{e}");
        assert!(user(&["rm"]).is_err());
        assert!(user(&["rm", "a b"]).unwrap_err().contains("a b"));
        assert!(user(&["passwd"]).is_err());
        assert!(user(&["create", "bob", "--password", "x"]).is_err());
    }

    #[test]
    fn user_table_says_yes_no_and_never() {
        let mut admin: User = Object::new(
            Kind::User,
            GLOBAL,
            "root",
            UserSpec {
                admin: true,
                password_hash: "$argon2id$SECRET".into(),
                ..UserSpec::default()
            },
        );
        admin.status.last_login = "2026-05-01T10:00:00Z".into();
        let dir: User = Object::new(
            Kind::User,
            GLOBAL,
            "carol",
            UserSpec {
                provider: Provider::Ldap,
                disabled: true,
                ..UserSpec::default()
            },
        );
        let rows = user_rows(&[admin, dir]);
        let out = render_rows(&rows, Format::Table).unwrap();
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(
            lines,
            [
                "NAME    ADMIN   PROVIDER   DISABLED   LAST LOGIN",
                "carol   no      ldap       yes        never",
                "root    yes     local      no         2026-05-01T10:00:00Z",
            ]
        );
        let json = render_rows(&rows, Format::Json).unwrap();
        assert!(
            !json.contains("SECRET") && !json.contains("password"),
            "{json}"
        );
        let json: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(json[1]["admin"], true);
        assert_eq!(json[0]["last_login"], "");
    }
}
