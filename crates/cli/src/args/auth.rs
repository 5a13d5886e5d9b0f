//! The arguments of `corral auth ldap set|show|test|rm`.

use std::path::PathBuf;

use clap::{Args, Subcommand};

use super::parse_subject;
use crate::output::ObjectFormat;

#[derive(Debug, Subcommand)]
pub enum AuthCmd {
    /// The LDAP or Active Directory server users log in with (admins).
    #[command(subcommand)]
    Ldap(LdapCmd),
}

#[derive(Debug, Subcommand)]
pub enum LdapCmd {
    /// Set the directory; settings not given take the server's defaults.
    Set(Box<LdapSetArgs>),
    /// Show the directory settings (never the bind password).
    Show(LdapShowArgs),
    /// Look a user up in the directory, and with --password-stdin check the password.
    Test(LdapTestArgs),
    /// Stop logging directory users in.
    #[command(visible_alias = "remove")]
    Rm,
}

#[derive(Debug, Clone, Args)]
pub struct LdapSetArgs {
    /// `ldap://host[:port]` or `ldaps://host[:port]`.
    #[arg(long, value_name = "URL", value_parser = parse_ldap_url)]
    pub url: String,
    /// The service account that searches [default: bind anonymously].
    #[arg(long, value_name = "DN", requires = "bind_password_stdin")]
    pub bind_dn: Option<String>,
    /// Read the bind password from the first line of stdin.
    #[arg(long, requires = "bind_dn")]
    pub bind_password_stdin: bool,
    /// Where users are searched (subtree).
    #[arg(long, value_name = "DN")]
    pub user_base: String,
    /// Finds the user; `{0}` is the login name [server default: (uid={0})].
    #[arg(long, value_name = "FILTER")]
    pub user_filter: Option<String>,
    /// The attribute holding the login name [server default: uid].
    #[arg(long, value_name = "ATTR")]
    pub user_name_attribute: Option<String>,
    /// [server default: cn].
    #[arg(long, value_name = "ATTR")]
    pub display_name_attribute: Option<String>,
    /// Where groups are searched [default: no group search].
    #[arg(long, value_name = "DN")]
    pub group_base: Option<String>,
    /// Finds the user's groups; `{dn}` is the user's DN, `{0}` the login
    /// name [server default: (member={dn})].
    #[arg(long, value_name = "FILTER")]
    pub group_filter: Option<String>,
    /// [server default: cn].
    #[arg(long, value_name = "ATTR")]
    pub group_name_attribute: Option<String>,
    /// An attribute of the user listing its groups' DNs (AD: memberOf).
    #[arg(long, value_name = "ATTR")]
    pub member_of_attribute: Option<String>,
    /// A user entry that also matches this filter is disabled.
    #[arg(long, value_name = "FILTER")]
    pub disabled_filter: Option<String>,
    /// Upgrade the ldap:// connection with StartTLS.
    #[arg(long)]
    pub start_tls: bool,
    /// PEM file of the CA to trust instead of the system's.
    #[arg(long, value_name = "FILE")]
    pub ca: Option<PathBuf>,
}

#[derive(Debug, Clone, Args)]
pub struct LdapShowArgs {
    /// Output format.
    #[arg(short, long, value_enum, default_value_t = ObjectFormat::Yaml)]
    pub output: ObjectFormat,
}

#[derive(Debug, Clone, Args)]
pub struct LdapTestArgs {
    /// Login name to look up.
    #[arg(value_parser = parse_subject)]
    pub user: String,
    /// Also check a password, read from the first line of stdin.
    #[arg(long)]
    pub password_stdin: bool,
    /// Output format.
    #[arg(short, long, value_enum, default_value_t = ObjectFormat::Yaml)]
    pub output: ObjectFormat,
}

fn parse_ldap_url(s: &str) -> Result<String, String> {
    let rest = s
        .strip_prefix("ldap://")
        .or_else(|| s.strip_prefix("ldaps://"))
        .ok_or_else(|| format!("{s:?} must start with ldap:// or ldaps://"))?;
    if rest.is_empty() || rest.starts_with('/') {
        return Err(format!("{s:?} has no host"));
    }
    Ok(s.to_string())
}
