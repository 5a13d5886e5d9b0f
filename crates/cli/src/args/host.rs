//! The arguments of `corral host add-command`, `corral token ls|rm` and
//! `corral session ls|rm`.

use clap::{Args, Subcommand};

use super::duration::parse_ttl;
use super::{ListArgs, parse_id};

#[derive(Debug, Subcommand)]
pub enum HostCmd {
    /// Make a registration token and print the command that adds a host to the environment.
    AddCommand(AddCommandArgs),
}

#[derive(Debug, Clone, Args)]
pub struct AddCommandArgs {
    /// How long the token may be used (such as 30m, 24h or 7d; at most 30d).
    #[arg(long = "ttl", value_name = "DURATION", default_value = "24h", value_parser = parse_ttl)]
    pub ttl_s: u64,
}

#[derive(Debug, Subcommand)]
pub enum TokenCmd {
    /// List the registration tokens of the environment (never the secret).
    #[command(visible_alias = "list")]
    Ls(ListArgs),
    /// Revoke registration tokens (hosts that registered with them stay).
    #[command(visible_alias = "remove")]
    Rm(IdsArgs),
}

#[derive(Debug, Subcommand)]
pub enum SessionCmd {
    /// List login sessions (admins).
    #[command(visible_alias = "list")]
    Ls(ListArgs),
    /// Revoke login sessions (admins).
    #[command(visible_alias = "remove")]
    Rm(IdsArgs),
}

#[derive(Debug, Clone, Args)]
pub struct IdsArgs {
    /// Ids, as the listing shows them.
    #[arg(required = true, value_name = "ID", value_parser = parse_id)]
    pub ids: Vec<String>,
}

#[derive(Debug, Clone, Args)]
pub struct IdArgs {
    /// Id, as the listing shows it.
    #[arg(value_name = "ID", value_parser = parse_id)]
    pub id: String,
}
