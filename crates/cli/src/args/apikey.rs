//! The arguments of `corral apikey create|ls|rm|deactivate|activate` and
//! `corral audit ls`.

use clap::{Args, Subcommand};
use corral_types::Role;

use super::duration::parse_since;
use super::host::{IdArgs, IdsArgs};
use super::user::parse_role;
use super::{ListArgs, parse_environment, parse_subject};
use crate::output::Format;

#[derive(Debug, Subcommand)]
pub enum ApiKeyCmd {
    /// Make an API key: an account key, or with --env an environment key.
    Create(ApiKeyCreateArgs),
    /// List your API keys (every key, for an admin).
    #[command(visible_alias = "list")]
    Ls(ListArgs),
    /// Remove API keys.
    #[command(visible_alias = "remove")]
    Rm(IdsArgs),
    /// Refuse an API key until it is activated again.
    Deactivate(IdArgs),
    /// Accept a deactivated API key again.
    Activate(IdArgs),
}

/// The longest API key name the server takes.
const MAX_KEY_NAME: usize = 256;

#[derive(Debug, Clone, Args)]
pub struct ApiKeyCreateArgs {
    /// What the key is for (`ci`, `backup script`).
    #[arg(value_parser = parse_key_name)]
    pub name: String,
    /// Limit the key to this environment [default: an account key, which
    /// acts as you everywhere]. The global -E does not apply here.
    #[arg(long = "env", value_name = "ENV", value_parser = parse_environment)]
    pub env: Option<String>,
    /// The role of an environment key (never more than your own there)
    /// [default: member].
    #[arg(long, value_name = "ROLE", value_parser = parse_role, requires = "env")]
    pub role: Option<Role>,
}

fn parse_key_name(s: &str) -> Result<String, String> {
    if s.trim().is_empty() {
        return Err("must not be empty".to_string());
    }
    if s.len() > MAX_KEY_NAME {
        return Err(format!("is longer than {MAX_KEY_NAME} bytes"));
    }
    Ok(s.to_string())
}

#[derive(Debug, Subcommand)]
pub enum AuditCmd {
    /// List audited requests, newest first (admins).
    #[command(visible_alias = "list")]
    Ls(AuditLsArgs),
}

#[derive(Debug, Clone, Args)]
pub struct AuditLsArgs {
    /// Only requests this recent (such as 30m, 24h or 7d).
    #[arg(long = "since", value_name = "DURATION", value_parser = parse_since)]
    pub since_ms: Option<u64>,
    /// Only requests of this user.
    #[arg(long, value_name = "NAME", value_parser = parse_subject)]
    pub user: Option<String>,
    /// Only requests in this environment [default: every one]. The global
    /// -E does not apply here.
    #[arg(long = "env", value_name = "ENV", value_parser = parse_environment)]
    pub env: Option<String>,
    /// At most this many records [default: the server's, 1000].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..=100_000))]
    pub limit: Option<u64>,
    /// Output format.
    #[arg(short, long, value_enum, default_value_t = Format::Table)]
    pub output: Format,
}
