//! `corral env create|ls|inspect|deactivate|activate|rm`.

use std::collections::BTreeMap;

use corral_api::{Client, WhoAmI};
use corral_types::{Environment, EnvironmentSpec, EnvironmentStatus, Kind, Object};
use serde::Serialize;

use crate::args::{EnvCmd, EnvCreateArgs};
use crate::errors::request_error;
use crate::output::{Row, print, print_rows, render_object};

pub(crate) async fn run(client: &Client, cmd: EnvCmd) -> anyhow::Result<()> {
    match cmd {
        EnvCmd::Create(args) => {
            let created =
                client
                    .create(&new_environment(&args))
                    .await
                    .map_err(|e| match e.status() {
                        // The store's message names the kind and key, not the environment.
                        Some(409) => anyhow::anyhow!("environment {:?} already exists", args.name),
                        _ => request_error(e, &format!("create environment {:?}", args.name)),
                    })?;
            print(&format!(
                "{} (network {})\n",
                created.meta.name, created.spec.network
            ))
        }
        EnvCmd::Ls(args) => {
            let list = client
                .environments()
                .await
                .map_err(|e| request_error(e, "list environments"))?;
            let me = client
                .whoami()
                .await
                .map_err(|e| request_error(e, "ask who you are"))?;
            print_rows(&env_rows(&list.items, &me), args.output)
        }
        EnvCmd::Inspect(args) => {
            let env: Environment = client
                .get::<EnvironmentSpec, EnvironmentStatus>("", Kind::Environment, &args.name)
                .await
                .map_err(|e| request_error(e, &format!("get environment {:?}", args.name)))?;
            print(&render_object(&env, args.output)?)
        }
        EnvCmd::Deactivate(args) => set_active(client, &args.name, false).await,
        EnvCmd::Activate(args) => set_active(client, &args.name, true).await,
        EnvCmd::Rm(args) => {
            client
                .remove_environment(&args.name)
                .await
                .map_err(|e| request_error(e, &format!("remove environment {:?}", args.name)))?;
            print(&format!("{}\n", args.name))
        }
    }
}

async fn set_active(client: &Client, name: &str, active: bool) -> anyhow::Result<()> {
    let verb = if active { "activate" } else { "deactivate" };
    client
        .set_environment_active(name, active)
        .await
        .map_err(|e| request_error(e, &format!("{verb} environment {name:?}")))?;
    print(&format!("{name}\n"))
}

/// The environment `env create` submits; the server picks a free network
/// when none is given.
pub(crate) fn new_environment(args: &EnvCreateArgs) -> Environment {
    let spec = EnvironmentSpec {
        description: args.description.clone(),
        network: args.network.clone().unwrap_or_default(),
        ..EnvironmentSpec::default()
    };
    Object::new(Kind::Environment, &args.name, &args.name, spec)
}

/// One environment as `env ls` shows it.
#[derive(Debug, Serialize)]
pub(crate) struct EnvRow {
    pub name: String,
    /// active | inactive.
    pub state: String,
    pub network: String,
    pub description: String,
    /// Your role in it (`admin` for admins); empty when whoami does not list it.
    pub role: String,
}

impl Row for EnvRow {
    const HEADERS: &'static [&'static str] =
        &["NAME", "STATE", "NETWORK", "DESCRIPTION", "YOUR ROLE"];

    fn cells(&self) -> Vec<String> {
        vec![
            self.name.clone(),
            self.state.clone(),
            self.network.clone(),
            self.description.clone(),
            self.role.clone(),
        ]
    }
}

/// Rows sorted by name, each with the caller's role from `me`.
pub(crate) fn env_rows(envs: &[Environment], me: &WhoAmI) -> Vec<EnvRow> {
    let roles: BTreeMap<&str, &str> = me
        .environments
        .iter()
        .map(|e| (e.environment.as_str(), e.role.as_str()))
        .collect();
    let mut rows: Vec<EnvRow> = envs
        .iter()
        .map(|e| EnvRow {
            name: e.meta.name.clone(),
            state: if e.spec.deactivated {
                "inactive"
            } else {
                "active"
            }
            .to_string(),
            network: e.spec.network.clone(),
            description: e.spec.description.clone(),
            role: roles
                .get(e.meta.name.as_str())
                .map(|r| r.to_string())
                .unwrap_or_default(),
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
    use corral_api::EnvironmentRole;

    fn env(name: &str, network: &str, deactivated: bool) -> Environment {
        let spec = EnvironmentSpec {
            description: format!("{name} things"),
            network: network.into(),
            deactivated,
            ..EnvironmentSpec::default()
        };
        Object::new(Kind::Environment, name, name, spec)
    }

    #[test]
    fn env_table_shows_state_network_and_your_role() {
        let me = WhoAmI {
            user: "alice".into(),
            environments: vec![EnvironmentRole {
                environment: "prod".into(),
                role: "owner".into(),
            }],
            ..WhoAmI::default()
        };
        let rows = env_rows(
            &[
                env("prod", "10.43.0.0/16", false),
                env("old", "10.44.0.0/16", true),
            ],
            &me,
        );
        let out = render_rows(&rows, Format::Table).unwrap();
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(
            lines,
            [
                "NAME   STATE      NETWORK        DESCRIPTION   YOUR ROLE",
                "old    inactive   10.44.0.0/16   old things",
                "prod   active     10.43.0.0/16   prod things   owner",
            ]
        );
        let json: serde_json::Value =
            serde_json::from_str(&render_rows(&rows, Format::Json).unwrap()).unwrap();
        assert_eq!(json[1]["role"], "owner");
        assert_eq!(json[0]["state"], "inactive");
    }

    #[test]
    fn env_create_submits_the_name_as_its_own_environment() {
        let cli = Cli::try_parse_from([
            "corral",
            "env",
            "create",
            "staging",
            "--network",
            "10.50.0.0/16",
            "--description",
            "pre-prod",
        ])
        .unwrap();
        let Command::Env(EnvCmd::Create(args)) = cli.command else {
            panic!("not env create")
        };
        let e = new_environment(&args);
        assert_eq!(
            (e.kind, e.meta.environment.as_str(), e.meta.name.as_str()),
            (Kind::Environment, "staging", "staging")
        );
        assert_eq!(e.spec.network, "10.50.0.0/16");
        assert_eq!(e.spec.description, "pre-prod");
        assert!(!e.spec.deactivated);
    }
}
