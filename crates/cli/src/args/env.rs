//! The arguments of `corral env create|ls|inspect|deactivate|activate|rm`.

use clap::{Args, Subcommand};

use super::{ListArgs, parse_default_network, parse_environment};
use crate::output::ObjectFormat;

#[derive(Debug, Subcommand)]
pub enum EnvCmd {
    /// Create an environment.
    Create(EnvCreateArgs),
    /// List the environments you see, with your role in each.
    #[command(visible_alias = "list")]
    Ls(ListArgs),
    /// Show an environment object.
    Inspect(EnvInspectArgs),
    /// Deploy nothing new in an environment (what runs keeps running); it may then be removed.
    Deactivate(EnvNameArgs),
    /// Make a deactivated environment active again.
    Activate(EnvNameArgs),
    /// Remove a deactivated environment and everything in it.
    #[command(visible_alias = "remove")]
    Rm(EnvNameArgs),
}

#[derive(Debug, Clone, Args)]
pub struct EnvCreateArgs {
    /// Environment name.
    #[arg(value_parser = parse_environment)]
    pub name: String,
    /// Address range of its managed network, /8 to /23 [default: a free /16 the server picks].
    #[arg(long, value_name = "CIDR", value_parser = parse_default_network)]
    pub network: Option<String>,
    /// What the environment is for.
    #[arg(long, value_name = "TEXT", default_value = "")]
    pub description: String,
}

#[derive(Debug, Clone, Args)]
pub struct EnvNameArgs {
    /// Environment name.
    #[arg(value_parser = parse_environment)]
    pub name: String,
}

#[derive(Debug, Clone, Args)]
pub struct EnvInspectArgs {
    /// Environment name.
    #[arg(value_parser = parse_environment)]
    pub name: String,
    /// Output format.
    #[arg(short, long, value_enum, default_value_t = ObjectFormat::Yaml)]
    pub output: ObjectFormat,
}
