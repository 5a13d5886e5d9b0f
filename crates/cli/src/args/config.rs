//! The arguments of `corral config create|update|ls|inspect|rm`.

use clap::{Args, Subcommand, ValueEnum};

use super::ListArgs;
use super::secret::{SecretValueArgs, parse_mount_fields, parse_secret_name};

#[derive(Debug, Subcommand)]
pub enum ConfigCmd {
    /// Store a config (services mount it read-only at /NAME or any absolute path).
    Create(SecretValueArgs),
    /// Store a new version of a config's value; the services that mount it roll to it.
    Update(SecretValueArgs),
    /// List configs (name, version, size, SHA-256).
    #[command(visible_alias = "list")]
    Ls(ListArgs),
    /// Show a config, with its value; `-o value` prints the value alone.
    Inspect(ConfigInspectArgs),
    /// Remove configs no service mounts.
    #[command(visible_alias = "remove")]
    Rm(ConfigRmArgs),
}

/// How `config inspect` prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ConfigFormat {
    /// The object, its value decoded into `value` when it is text.
    Yaml,
    Json,
    /// The value's bytes, as they are.
    Value,
}

#[derive(Debug, Clone, Args)]
pub struct ConfigInspectArgs {
    #[arg(value_parser = parse_secret_name)]
    pub name: String,
    /// Output format.
    #[arg(short, long, visible_alias = "format", value_enum, default_value_t = ConfigFormat::Yaml)]
    pub output: ConfigFormat,
}

#[derive(Debug, Clone, Args)]
pub struct ConfigRmArgs {
    /// Config names.
    #[arg(required = true, value_parser = parse_secret_name)]
    pub names: Vec<String>,
}

/// `--config NAME` (at /NAME) or
/// `--config source=NAME,target=/ABS/PATH,uid=N,gid=N,mode=0440`.
pub fn parse_config_mount(s: &str) -> Result<corral_types::ConfigMount, String> {
    let f = parse_mount_fields(s)?;
    let m = corral_types::ConfigMount {
        source: f.source,
        target: f.target,
        uid: f.uid,
        gid: f.gid,
        mode: f.mode,
        version: 0,
    };
    m.validate("--config").map_err(|e| e.to_string())?;
    Ok(m)
}
