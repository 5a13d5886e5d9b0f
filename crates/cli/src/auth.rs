//! `corral auth ldap set|show|test|rm`: the directory users log in with.

use anyhow::Context;
use corral_api::Client;
use serde_json::{Map, Value};

use crate::args::{AuthCmd, LdapCmd, LdapSetArgs, LdapTestArgs};
use crate::errors::request_error;
use crate::output::{print, render_object};
use crate::password;

pub(crate) async fn run(client: &Client, cmd: AuthCmd) -> anyhow::Result<()> {
    match cmd {
        AuthCmd::Ldap(LdapCmd::Set(args)) => set(client, &args).await,
        AuthCmd::Ldap(LdapCmd::Show(args)) => {
            let settings = client
                .ldap()
                .await
                .map_err(|e| request_error(e, "read the LDAP settings"))?;
            print(&render_object(&shown_settings(settings), args.output)?)
        }
        AuthCmd::Ldap(LdapCmd::Test(args)) => test(client, &args).await,
        AuthCmd::Ldap(LdapCmd::Rm) => {
            client
                .remove_ldap()
                .await
                .map_err(|e| request_error(e, "remove the LDAP settings"))?;
            print("LDAP settings removed: only local users log in now\n")
        }
    }
}

async fn set(client: &Client, args: &LdapSetArgs) -> anyhow::Result<()> {
    let bind_password = if args.bind_password_stdin {
        Some(password::from_stdin("--bind-password-stdin")?)
    } else {
        None
    };
    let ca_pem = match &args.ca {
        Some(file) => Some(
            std::fs::read_to_string(file)
                .with_context(|| format!("cannot read --ca {}", file.display()))?,
        ),
        None => None,
    };
    let body = ldap_settings(args, bind_password, ca_pem);
    client
        .set_ldap(&body)
        .await
        .map_err(|e| request_error(e, "set the LDAP settings"))?;
    print(&format!(
        "LDAP settings saved: users log in through {}\n",
        args.url
    ))
}

async fn test(client: &Client, args: &LdapTestArgs) -> anyhow::Result<()> {
    let password = if args.password_stdin {
        Some(password::from_stdin("--password-stdin")?)
    } else {
        None
    };
    let found = client
        .test_ldap(&args.user, password.as_deref())
        .await
        .map_err(|e| request_error(e, &format!("test the directory with {:?}", args.user)))?;
    print(&render_object(&found, args.output)?)
}

/// The settings of the stored object the server answers (its `spec`).
pub(crate) fn shown_settings(answer: Value) -> Value {
    match answer {
        Value::Object(mut m) if m.get("spec").is_some_and(Value::is_object) => {
            m.remove("spec").unwrap_or_default()
        }
        other => other,
    }
}

/// The settings `auth ldap set` sends: the fields of the server's
/// `LdapConfig`, only those given (the server fills in the rest).
pub(crate) fn ldap_settings(
    args: &LdapSetArgs,
    bind_password: Option<String>,
    ca_pem: Option<String>,
) -> Value {
    let mut m = Map::new();
    let mut put = |key: &str, value: Option<String>| {
        if let Some(v) = value {
            m.insert(key.to_string(), Value::String(v));
        }
    };
    put("url", Some(args.url.clone()));
    put("bind_dn", args.bind_dn.clone());
    put("bind_password", bind_password);
    put("user_base", Some(args.user_base.clone()));
    put("user_filter", args.user_filter.clone());
    put("user_name_attribute", args.user_name_attribute.clone());
    put(
        "display_name_attribute",
        args.display_name_attribute.clone(),
    );
    put("group_base", args.group_base.clone());
    put("group_filter", args.group_filter.clone());
    put("group_name_attribute", args.group_name_attribute.clone());
    put("member_of_attribute", args.member_of_attribute.clone());
    put("disabled_filter", args.disabled_filter.clone());
    put("ca_pem", ca_pem);
    if args.start_tls {
        m.insert("start_tls".into(), Value::Bool(true));
    }
    Value::Object(m)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::args::{Cli, Command};
    use crate::output::ObjectFormat;
    use clap::Parser;

    fn ldap(args: &[&str]) -> Result<LdapCmd, String> {
        let argv = ["corral", "auth", "ldap"]
            .into_iter()
            .chain(args.iter().copied());
        match Cli::try_parse_from(argv)
            .map_err(|e| e.to_string())?
            .command
        {
            Command::Auth(AuthCmd::Ldap(cmd)) => Ok(cmd),
            other => Err(format!("{other:?}")),
        }
    }

    fn set_args(args: &[&str]) -> LdapSetArgs {
        let mut all = vec!["set"];
        all.extend_from_slice(args);
        match ldap(&all) {
            Ok(LdapCmd::Set(s)) => *s,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn only_the_settings_given_are_sent() {
        let args = set_args(&[
            "--url",
            "ldap://dc1:389",
            "--bind-dn",
            "cn=svc,dc=corp",
            "--bind-password-stdin",
            "--user-base",
            "ou=people,dc=corp",
            "--member-of-attribute",
            "memberOf",
            "--start-tls",
            "--ca",
            "/etc/ca.pem",
        ]);
        let body = ldap_settings(&args, Some("pw".into()), Some("PEM".into()));
        assert_eq!(
            body,
            serde_json::json!({
                "url": "ldap://dc1:389",
                "bind_dn": "cn=svc,dc=corp",
                "bind_password": "pw",
                "user_base": "ou=people,dc=corp",
                "member_of_attribute": "memberOf",
                "start_tls": true,
                "ca_pem": "PEM",
            })
        );
        let args = set_args(&[
            "--url",
            "ldaps://ad",
            "--user-base",
            "dc=corp",
            "--user-filter",
            "(sAMAccountName={0})",
            "--group-base",
            "ou=groups,dc=corp",
            "--disabled-filter",
            "(x=1)",
        ]);
        let body = ldap_settings(&args, None, None);
        let keys: Vec<&String> = body.as_object().unwrap().keys().collect();
        assert_eq!(
            keys,
            [
                "disabled_filter",
                "group_base",
                "url",
                "user_base",
                "user_filter"
            ]
        );
    }

    #[test]
    fn show_prints_the_settings_not_the_envelope() {
        let answer = serde_json::json!({
            "kind": "AuthProvider",
            "meta": {"name": "ldap"},
            "spec": {"url": "ldap://dc1", "user_base": "dc=corp"},
        });
        let yaml = render_object(&shown_settings(answer), ObjectFormat::Yaml).unwrap();
        assert!(yaml.starts_with("url: ldap://dc1\n"), "{yaml}");
        assert!(!yaml.contains("meta"), "{yaml}");
        let bare = serde_json::json!({"url": "ldap://dc1"});
        assert_eq!(shown_settings(bare.clone()), bare);
    }

    #[test]
    fn ldap_set_rejects_bad_input() {
        let e = ldap(&["set", "--user-base", "dc=x"]).unwrap_err();
        assert!(e.contains("--url"), "{e}");
        let e = ldap(&["set", "--url", "ldap://h"]).unwrap_err();
        assert!(e.contains("--user-base"), "{e}");
        let e = ldap(&["set", "--url", "http://h", "--user-base", "dc=x"]).unwrap_err();
        assert!(e.contains("ldap://"), "{e}");
        let e = ldap(&[
            "set",
            "--url",
            "ldap://h",
            "--user-base",
            "dc=x",
            "--bind-dn",
            "cn=a",
        ])
        .unwrap_err();
        assert!(e.contains("--bind-password-stdin"), "{e}");
        let e = ldap(&[
            "set",
            "--url",
            "ldap://h",
            "--user-base",
            "dc=x",
            "--bind-password-stdin",
        ])
        .unwrap_err();
        assert!(e.contains("--bind-dn"), "{e}");
    }

    #[test]
    fn ldap_show_test_and_rm_parse() {
        match ldap(&["show", "-o", "json"]) {
            Ok(LdapCmd::Show(s)) => assert_eq!(s.output, ObjectFormat::Json),
            other => panic!("{other:?}"),
        }
        match ldap(&["test", "alice", "--password-stdin"]) {
            Ok(LdapCmd::Test(t)) => assert!(t.user == "alice" && t.password_stdin),
            other => panic!("{other:?}"),
        }
        assert!(ldap(&["test"]).unwrap_err().contains("<USER>"));
        assert!(matches!(ldap(&["rm"]), Ok(LdapCmd::Rm)));
        assert!(ldap(&["rm", "x"]).is_err());
    }
}
