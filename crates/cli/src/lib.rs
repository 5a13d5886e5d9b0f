//! Corral's command-line client: the clap definitions of every verb, and the
//! client verbs (`node`, `service`, `stack`, `cert`, `lb`, `logs`) that talk to a server through
//! [`corral_api::Client`].
//!
//! The binary parses [`Cli`], runs `server`, `agent` and `up` itself, and
//! hands every other verb to [`run_client`]. An error from it is meant to be
//! printed as one line, `error: <message>`.

mod args;
mod cert;
pub mod config;
mod errors;
mod lb;
mod logs;
mod node;
pub mod output;
mod service;
mod stack;

use std::path::PathBuf;

use anyhow::bail;
use corral_api::Client;

pub use args::{
    AgentArgs, CertCmd, CertCreateArgs, CertRmArgs, Cli, Command, CreateArgs, DeployArgs,
    DrainArgs, ExportArgs, InspectArgs, LbCmd, LbCreateArgs, ListArgs, LivenessArgs, LogsArgs,
    NodeCmd, NodeNameArgs, NodeRmArgs, PsArgs, RmArgs, RollbackArgs, RuleArg, ScaleArgs,
    ServerArgs, ServiceCmd, StackCmd, UpArgs, UpgradeArgs, parse_cpus, parse_duration_ms,
    parse_memory, parse_node_timeout,
};

/// `$XDG_DATA_HOME/corral`, or `~/.local/share/corral`.
pub fn default_data_dir() -> PathBuf {
    config::xdg_dir(&config::process_env, "XDG_DATA_HOME", ".local/share")
}

/// Runs a client verb (`node`, `service`, `stack`, `cert`, `lb`, `logs`) against the configured server.
pub async fn run_client(cli: Cli) -> anyhow::Result<()> {
    let env = cli.environment;
    let verb = match &cli.command {
        Command::Server(_) => Some("server"),
        Command::Agent(_) => Some("agent"),
        Command::Up(_) => Some("up"),
        Command::Node(_)
        | Command::Service(_)
        | Command::Stack(_)
        | Command::Cert(_)
        | Command::Lb(_)
        | Command::Logs(_) => None,
    };
    if let Some(verb) = verb {
        bail!("`corral {verb}` runs a process, not a client verb");
    }
    let cfg = config::resolve()?;
    let client = Client::new(&cfg.url, &cfg.token)?;
    match cli.command {
        Command::Node(cmd) => node::run(&client, &env, cmd).await,
        Command::Service(cmd) => service::run(&client, &env, cmd).await,
        Command::Stack(cmd) => stack::run(&client, &env, cmd).await,
        Command::Cert(cmd) => cert::run(&client, &env, cmd).await,
        Command::Lb(cmd) => lb::run(&client, &env, cmd).await,
        Command::Logs(args) => logs::run(&client, &env, &args).await,
        Command::Server(_) | Command::Agent(_) | Command::Up(_) => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[tokio::test]
    async fn process_verbs_are_refused_by_the_client() {
        let cli = Cli::try_parse_from(["corral", "server"]).unwrap();
        let msg = run_client(cli).await.unwrap_err().to_string();
        assert!(msg.contains("corral server"), "{msg}");
    }

    #[test]
    fn default_data_dir_ends_in_corral() {
        assert!(default_data_dir().ends_with("corral"));
    }
}
