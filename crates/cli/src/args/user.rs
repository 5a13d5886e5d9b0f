//! The arguments of `corral user create|ls|rm|passwd`, `corral login` and
//! `corral member add|ls|rm`.

use clap::{Args, Subcommand};
use corral_types::Role;

use super::{ListArgs, parse_environment, parse_name, parse_subject};
use crate::output::Format;

#[derive(Debug, Subcommand)]
pub enum UserCmd {
    /// Create a local user (admins).
    Create(UserCreateArgs),
    /// List users: local ones and directory users seen at login (admins).
    #[command(visible_alias = "list")]
    Ls(ListArgs),
    /// Remove users, their sessions and API keys (admins; never the last admin).
    #[command(visible_alias = "remove")]
    Rm(UserRmArgs),
    /// Set a local user's password (your own, or anyone's as an admin).
    Passwd(PasswdArgs),
}

#[derive(Debug, Clone, Args)]
pub struct UserCreateArgs {
    /// Login name.
    #[arg(value_parser = parse_name)]
    pub name: String,
    /// Make the user a global admin (every environment, users, auth settings).
    #[arg(long)]
    pub admin: bool,
    /// Read the password from the first line of stdin instead of asking twice.
    #[arg(long)]
    pub password_stdin: bool,
    /// The name people see.
    #[arg(long, value_name = "TEXT")]
    pub display_name: Option<String>,
}

#[derive(Debug, Clone, Args)]
pub struct UserRmArgs {
    /// Login names.
    #[arg(required = true, value_name = "NAME", value_parser = parse_subject)]
    pub names: Vec<String>,
}

#[derive(Debug, Clone, Args)]
pub struct PasswdArgs {
    /// Login name.
    #[arg(value_parser = parse_subject)]
    pub name: String,
    /// Read the new password from the first line of stdin instead of asking twice.
    #[arg(long)]
    pub password_stdin: bool,
}

#[derive(Debug, Clone, Args)]
pub struct LoginArgs {
    /// URL of the server (`https://host:7480`).
    #[arg(value_parser = parse_url)]
    pub url: String,
    /// Login name (a local user, or a directory user once LDAP is set).
    #[arg(short, long, value_name = "NAME", value_parser = parse_subject)]
    pub username: String,
    /// Read the password from the first line of stdin instead of asking.
    #[arg(long)]
    pub password_stdin: bool,
    /// The fingerprint of the server's CA (`sha256:...`, as `corral host
    /// add-command` prints it): checked on first contact instead of asking.
    #[arg(long, value_name = "FINGERPRINT")]
    pub ca_fingerprint: Option<String>,
}

/// A server URL: `http://` or `https://` and a host.
fn parse_url(s: &str) -> Result<String, String> {
    let rest = s
        .strip_prefix("http://")
        .or_else(|| s.strip_prefix("https://"))
        .ok_or_else(|| format!("{s:?} must start with http:// or https://"))?;
    if rest.is_empty() || rest.starts_with('/') {
        return Err(format!("{s:?} has no host"));
    }
    Ok(s.trim_end_matches('/').to_string())
}

#[derive(Debug, Subcommand)]
pub enum MemberCmd {
    /// Give a user or a directory group a role in an environment (or change it).
    Add(MemberAddArgs),
    /// List the members of an environment and their roles.
    #[command(visible_alias = "list")]
    Ls(MemberLsArgs),
    /// Take a user's or group's role in an environment away.
    #[command(visible_alias = "remove")]
    Rm(MemberRmArgs),
}

#[derive(Debug, Clone, Args)]
pub struct MemberAddArgs {
    /// Environment name.
    #[arg(value_name = "ENV", value_parser = parse_environment)]
    pub env: String,
    /// A user's login name, or `group:NAME` for a directory group.
    #[arg(value_name = "USER|group:NAME", value_parser = parse_member_subject)]
    pub subject: String,
    /// owner, member, restricted or read-only.
    #[arg(long, value_name = "ROLE", value_parser = parse_role)]
    pub role: Role,
}

#[derive(Debug, Clone, Args)]
pub struct MemberLsArgs {
    /// Environment name.
    #[arg(value_name = "ENV", value_parser = parse_environment)]
    pub env: String,
    /// Output format.
    #[arg(short, long, value_enum, default_value_t = Format::Table)]
    pub output: Format,
}

#[derive(Debug, Clone, Args)]
pub struct MemberRmArgs {
    /// Environment name.
    #[arg(value_name = "ENV", value_parser = parse_environment)]
    pub env: String,
    /// A user's login name, or `group:NAME`.
    #[arg(value_name = "USER|group:NAME", value_parser = parse_member_subject)]
    pub subject: String,
}

/// `--role`: one of the four roles.
pub fn parse_role(s: &str) -> Result<Role, String> {
    s.parse::<Role>().map_err(|e| e.message)
}

/// `alice` or `group:devs`.
fn parse_member_subject(s: &str) -> Result<String, String> {
    parse_subject(s.strip_prefix("group:").unwrap_or(s))?;
    Ok(s.to_string())
}
