//! Corral's command-line client: the clap definitions of every verb, and the
//! client verbs that talk to a server through [`corral_api::Client`]:
//! workloads (`node`, `service`, `stack`, `cert`, `lb`, `logs`), and people
//! and credentials (`env`, `host`, `token`, `user`, `login`, `logout`,
//! `whoami`, `member`, `apikey`, `audit`, `auth`, `session`).
//!
//! The binary parses [`Cli`], runs `server`, `agent` and `up` itself, and
//! hands every other verb to [`run_client`]. An error from it is meant to be
//! printed as one line, `error: <message>`.

mod apikey;
mod args;
mod audit;
mod auth;
mod catalog;
mod cert;
pub mod config;
mod configs;
mod env;
mod errors;
mod exec;
mod host;
mod lb;
mod login;
mod logs;
mod member;
mod node;
pub mod output;
mod password;
mod progress;
mod secret;
mod service;
mod session;
mod stack;
mod stats;
mod terminal;
mod token;
mod typed;
mod user;
mod wait;
mod watch;
mod whoami;

use std::path::PathBuf;

use anyhow::bail;

pub use args::{
    AddCommandArgs, ApiKeyCmd, ApiKeyCreateArgs, AuditCmd, AuditLsArgs, AuthCmd, EnvCmd,
    EnvCreateArgs, EnvInspectArgs, EnvNameArgs, HostCmd, IdArgs, IdsArgs, LdapCmd, LdapSetArgs,
    LdapShowArgs, LdapTestArgs, LoginArgs, MemberAddArgs, MemberCmd, MemberLsArgs, MemberRmArgs,
    PasswdArgs, SessionCmd, TokenCmd, UserCmd, UserCreateArgs, UserRmArgs, parse_role,
};
pub use args::{
    AgentArgs, CertCmd, CertCreateArgs, CertRmArgs, Cli, Command, CreateArgs, DeployArgs,
    DrainArgs, ExecArgs, ExportArgs, InspectArgs, LbCmd, LbCreateArgs, ListArgs, LivenessArgs,
    LogsArgs, NodeCmd, NodeNameArgs, NodeRmArgs, PsArgs, RetentionArgs, RmArgs, RollbackArgs,
    RuleArg, ScaleArgs, ServerArgs, ServiceCmd, StackCmd, StatsArgs, TlsArgs, UpArgs, UpgradeArgs,
    parse_cpus, parse_duration_ms, parse_long_duration_ms, parse_memory, parse_node_timeout,
    parse_since, parse_ttl,
};
pub use exec::CommandExit;

/// `$XDG_DATA_HOME/corral`, or `~/.local/share/corral`.
pub fn default_data_dir() -> PathBuf {
    config::xdg_dir(&config::process_env, "XDG_DATA_HOME", ".local/share")
}

/// Runs a client verb against the configured server (`login` against the
/// server it names).
pub async fn run_client(cli: Cli) -> anyhow::Result<()> {
    let env = cli.environment;
    let env_given = cli.environment_given;
    let command = match cli.command {
        Command::Server(_) => bail!("`corral server` runs a process, not a client verb"),
        Command::Agent(_) => bail!("`corral agent` runs a process, not a client verb"),
        Command::Up(_) => bail!("`corral up` runs a process, not a client verb"),
        Command::Login(args) => return login::login(&args).await,
        Command::Completion(args) => return completion(args.shell),
        other => other,
    };
    let cfg = config::resolve()?;
    let client = cfg.client()?;
    match command {
        Command::Node(cmd) => node::run(&client, &env, cmd).await,
        Command::Service(cmd) => service::run(&client, &env, cmd).await,
        Command::Stack(cmd) => stack::run(&client, &env, cmd).await,
        Command::Cert(cmd) => cert::run(&client, &env, cmd).await,
        Command::Secret(cmd) => secret::run(&client, &env, cmd).await,
        Command::Config(cmd) => configs::run(&client, &env, cmd).await,
        Command::Catalog(cmd) => catalog::run(&client, &env, env_given, cmd).await,
        Command::App(cmd) => catalog::run_app(&client, &env, cmd).await,
        Command::Lb(cmd) => lb::run(&client, &env, cmd).await,
        Command::Logs(args) => logs::run(&client, &env, &args).await,
        Command::Exec(args) => exec::run(&client, &env, &args).await,
        Command::Stats(args) => stats::run(&client, &env, &args).await,
        Command::Env(cmd) => env::run(&client, cmd).await,
        Command::Host(cmd) => host::run(&client, &env, cmd).await,
        Command::Token(cmd) => token::run(&client, &env, cmd).await,
        Command::User(cmd) => user::run(&client, cmd).await,
        Command::Logout => login::logout(&client, &cfg).await,
        Command::Whoami(args) => whoami::run(&client, &args).await,
        Command::Member(cmd) => member::run(&client, cmd).await,
        Command::Apikey(cmd) => apikey::run(&client, cmd).await,
        Command::Audit(cmd) => audit::run(&client, cmd).await,
        Command::Auth(cmd) => auth::run(&client, cmd).await,
        Command::Session(cmd) => session::run(&client, cmd).await,
        Command::Server(_)
        | Command::Agent(_)
        | Command::Up(_)
        | Command::Login(_)
        | Command::Completion(_) => Ok(()),
    }
}

/// `corral completion SHELL`: the completion script on stdout.
fn completion(shell: clap_complete::Shell) -> anyhow::Result<()> {
    use clap::CommandFactory;
    let mut command = Cli::command();
    let mut out = Vec::new();
    clap_complete::generate(shell, &mut command, "corral", &mut out);
    std::io::Write::write_all(&mut std::io::stdout().lock(), &out)?;
    Ok(())
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

    #[tokio::test]
    async fn completion_scripts_name_the_verbs_without_a_server() {
        for shell in ["bash", "zsh", "fish"] {
            let cli = Cli::try_parse_from(["corral", "completion", shell]).unwrap();
            assert!(matches!(cli.command, Command::Completion(_)));
        }
        let mut out = Vec::new();
        clap_complete::generate(
            clap_complete::Shell::Bash,
            &mut <Cli as clap::CommandFactory>::command(),
            "corral",
            &mut out,
        );
        let script = String::from_utf8(out).unwrap();
        for verb in ["exec", "stats", "service", "stack"] {
            assert!(script.contains(verb), "{verb}");
        }
        assert!(Cli::try_parse_from(["corral", "completion", "tcsh"]).is_err());
    }

    #[test]
    fn default_data_dir_ends_in_corral() {
        assert!(default_data_dir().ends_with("corral"));
    }
}
