//! `corral member add|ls|rm`: who has which role in an environment.

use corral_api::{Client, MemberRequest};
use corral_types::Member;
use serde::Serialize;

use crate::args::MemberCmd;
use crate::errors::request_error;
use crate::output::{Row, print, print_rows};
use crate::typed::decode_all;

pub(crate) async fn run(client: &Client, cmd: MemberCmd) -> anyhow::Result<()> {
    match cmd {
        MemberCmd::Add(args) => {
            let req = MemberRequest {
                subject: args.subject.clone(),
                role: args.role,
            };
            client.add_member(&args.env, &req).await.map_err(|e| {
                request_error(
                    e,
                    &format!(
                        "make {:?} a member of environment {:?}",
                        args.subject, args.env
                    ),
                )
            })?;
            print(&format!(
                "{} is {} in {}\n",
                args.subject, args.role, args.env
            ))
        }
        MemberCmd::Ls(args) => {
            let list = client.members(&args.env).await.map_err(|e| {
                request_error(
                    e,
                    &format!("list the members of environment {:?}", args.env),
                )
            })?;
            let members: Vec<Member> = decode_all(list.items, "member")?;
            print_rows(&member_rows(&members), args.output)
        }
        MemberCmd::Rm(args) => {
            client
                .remove_member(&args.env, &args.subject)
                .await
                .map_err(|e| {
                    request_error(
                        e,
                        &format!("remove {:?} from environment {:?}", args.subject, args.env),
                    )
                })?;
            print(&format!("{}\n", args.subject))
        }
    }
}

/// One role binding as `member ls` shows it.
#[derive(Debug, Serialize)]
pub(crate) struct MemberRow {
    /// `alice` or `group:devs`.
    pub subject: String,
    pub role: String,
}

impl Row for MemberRow {
    const HEADERS: &'static [&'static str] = &["SUBJECT", "ROLE"];

    fn cells(&self) -> Vec<String> {
        vec![self.subject.clone(), self.role.clone()]
    }
}

/// Rows sorted by subject.
pub(crate) fn member_rows(members: &[Member]) -> Vec<MemberRow> {
    let mut rows: Vec<MemberRow> = members
        .iter()
        .map(|m| MemberRow {
            subject: m.spec.subject.clone(),
            role: m.spec.role.to_string(),
        })
        .collect();
    rows.sort_by(|a, b| a.subject.cmp(&b.subject));
    rows
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::args::{Cli, Command};
    use crate::output::{Format, render_rows};
    use clap::Parser;
    use corral_types::{Kind, MemberSpec, Object, Role};

    fn member(args: &[&str]) -> Result<MemberCmd, String> {
        let argv = ["corral", "member"].into_iter().chain(args.iter().copied());
        match Cli::try_parse_from(argv)
            .map_err(|e| e.to_string())?
            .command
        {
            Command::Member(cmd) => Ok(cmd),
            other => Err(format!("{other:?}")),
        }
    }

    #[test]
    fn member_verbs_parse_users_groups_and_roles() {
        match member(&["add", "prod", "group:devs", "--role", "read-only"]) {
            Ok(MemberCmd::Add(a)) => {
                assert_eq!((a.env.as_str(), a.subject.as_str()), ("prod", "group:devs"));
                assert_eq!(a.role, Role::ReadOnly);
            }
            other => panic!("{other:?}"),
        }
        match member(&["add", "prod", "alice", "--role", "owner"]) {
            Ok(MemberCmd::Add(a)) => assert_eq!(a.role, Role::Owner),
            other => panic!("{other:?}"),
        }
        match member(&["rm", "prod", "Alice.Smith@corp"]) {
            Ok(MemberCmd::Rm(r)) => assert_eq!(r.subject, "Alice.Smith@corp"),
            other => panic!("{other:?}"),
        }
        match member(&["ls", "prod", "-o", "json"]) {
            Ok(MemberCmd::Ls(l)) => assert_eq!((l.env.as_str(), l.output), ("prod", Format::Json)),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn member_verbs_reject_unknown_roles_and_bad_subjects() {
        let e = member(&["add", "prod", "alice", "--role", "admin"]).unwrap_err();
        assert!(
            e.contains("--role") && e.contains("unknown role \"admin\"") && e.contains("read-only"),
            "{e}"
        );
        let e = member(&["add", "prod", "alice"]).unwrap_err();
        assert!(e.contains("--role"), "{e}");
        assert!(member(&["add", "prod", "group:", "--role", "owner"]).is_err());
        assert!(member(&["add", "prod", "a/b", "--role", "owner"]).is_err());
        assert!(member(&["add", "Prod", "alice", "--role", "owner"]).is_err());
        assert!(member(&["ls"]).is_err());
        assert!(member(&["rm", "prod"]).is_err());
    }

    #[test]
    fn member_table_is_sorted_by_subject() {
        let bind = |subject: &str, role| {
            let spec = MemberSpec {
                subject: subject.into(),
                role,
            };
            let m: Member = Object::new(
                Kind::Member,
                "prod",
                &MemberSpec::object_name(subject),
                spec,
            );
            m
        };
        let rows = member_rows(&[bind("group:devs", Role::Member), bind("alice", Role::Owner)]);
        assert_eq!(
            render_rows(&rows, Format::Table).unwrap(),
            "SUBJECT      ROLE\nalice        owner\ngroup:devs   member\n"
        );
    }
}
