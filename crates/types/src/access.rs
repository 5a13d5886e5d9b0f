//! People and credentials: users, members of environments (role bindings),
//! sessions, API keys, registration tokens and node credentials.
//!
//! Objects that belong to no environment (users, sessions, API keys, node
//! credentials, registration tokens) live in the reserved environment
//! [`GLOBAL`], a name no environment can take. Secrets are never stored:
//! only the SHA-256 of a token (256 random bits) or the argon2id hash of a
//! password, in fields the API never returns (see `redact` in the server).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::validate::ValidationError;

/// The environment of objects that belong to none (`_` keeps it out of
/// the names environments may take).
pub const GLOBAL: &str = "_global";

/// A role in one environment, Rancher 1.x's.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
#[serde(rename_all = "kebab-case")]
pub enum Role {
    /// Read everything in the environment, change nothing.
    #[default]
    ReadOnly,
    /// Stacks and services; read-only for hosts and infrastructure.
    Restricted,
    /// Hosts, stacks, services, balancers, certificates; not members.
    Member,
    /// Everything in the environment, members included.
    Owner,
}

impl Role {
    pub const ALL: [Role; 4] = [Role::Owner, Role::Member, Role::Restricted, Role::ReadOnly];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Owner => "owner",
            Role::Member => "member",
            Role::Restricted => "restricted",
            Role::ReadOnly => "read-only",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = ValidationError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Role::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| {
                ValidationError::new(
                    "role",
                    format!("unknown role {s:?}; expected owner, member, restricted or read-only"),
                )
            })
    }
}

/// Where a user's identity comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Provider {
    #[default]
    Local,
    Ldap,
}

impl fmt::Display for Provider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Provider::Local => "local",
            Provider::Ldap => "ldap",
        })
    }
}

/// A person (or a directory user seen at login). Named by the login name.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct UserSpec {
    pub display_name: String,
    /// Global admin: everything, every environment, users, auth settings.
    pub admin: bool,
    pub provider: Provider,
    /// argon2id PHC string of a local user's password; never returned.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub password_hash: String,
    pub disabled: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct UserStatus {
    /// RFC 3339 time of the last successful login.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub last_login: String,
    /// Directory groups seen at the last LDAP login.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub groups: Vec<String>,
}

/// A role binding: who (a user, or `group:NAME`) has which role in the
/// environment the object belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MemberSpec {
    /// `alice` or `group:devs`.
    pub subject: String,
    pub role: Role,
}

impl MemberSpec {
    /// The object name of a binding of `subject` (`group:devs` ->
    /// `group--devs`, `Alice.Smith` -> `user--alice-smith`). Two subjects
    /// may map to one name; the server refuses the second (409).
    pub fn object_name(subject: &str) -> String {
        let (prefix, name) = match subject.strip_prefix("group:") {
            Some(group) => ("group--", group),
            None => ("user--", subject),
        };
        let mut out: String = name
            .chars()
            .map(|c| match c.to_ascii_lowercase() {
                c @ ('a'..='z' | '0'..='9' | '-') => c,
                _ => '-',
            })
            .take(63 - prefix.len())
            .collect();
        while out.ends_with('-') {
            out.pop();
        }
        format!("{prefix}{out}")
    }

    pub fn validate(&self) -> Result<(), ValidationError> {
        let name = self.subject.strip_prefix("group:").unwrap_or(&self.subject);
        validate_subject_name("spec.subject", name)
    }
}

/// Login names and group names: what LDAP directories hold is wider than
/// object names (capitals, dots, `@`), so they are checked apart.
pub fn validate_subject_name(field: &str, name: &str) -> Result<(), ValidationError> {
    if name.is_empty() {
        return Err(ValidationError::new(field, "must not be empty"));
    }
    if name.len() > 64 {
        return Err(ValidationError::new(
            field,
            format!("{name:?} is longer than 64 characters"),
        ));
    }
    let ok = name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'@'));
    if !ok || !name.as_bytes()[0].is_ascii_alphanumeric() {
        return Err(ValidationError::new(
            field,
            format!(
                "{name:?} must consist of letters, digits, '-', '_', '.' and '@', and start with a letter or digit"
            ),
        ));
    }
    Ok(())
}

/// A login session (named by its id; the token is `crl_s_<id>_<secret>`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct SessionSpec {
    pub user: String,
    pub provider: Provider,
    /// Directory groups at login (LDAP users).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub groups: Vec<String>,
    /// RFC 3339.
    pub expires: String,
    /// Client address at login.
    pub client: String,
    /// SHA-256 (hex) of the secret part; never returned.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub secret_hash: String,
}

/// An API key (named by its id; the token is `crl_k_<id>_<secret>`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct ApiKeySpec {
    /// A name its owner chose.
    pub description: String,
    /// The user it acts for.
    pub user: String,
    /// Empty: an account key (acts as its user everywhere); else an
    /// environment key limited to this environment and `role`.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub environment: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role: Option<Role>,
    pub active: bool,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub secret_hash: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct ApiKeyStatus {
    /// RFC 3339, updated at most once a minute.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub last_used: String,
}

/// A token to add hosts to one environment (named by its id; the token is
/// `crl_r_<id>_<secret>`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct RegistrationTokenSpec {
    pub environment: String,
    /// RFC 3339.
    pub expires: String,
    /// Who made it.
    pub created_by: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub secret_hash: String,
}

/// A node's own credential, made when its agent registers (named by its
/// id; the token is `crl_n_<id>_<secret>`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct NodeCredentialSpec {
    pub environment: String,
    pub node: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub secret_hash: String,
    /// The fingerprint (`sha256:<hex>`) of the node's client certificate:
    /// the credential is taken only over a TLS connection that presented
    /// it. Empty for a credential made without one (plain HTTP).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub certificate: String,
}

/// Labels that index credentials by what they stand for, so that they can
/// be listed (and revoked) by environment and node.
pub struct CredentialLabels;

impl CredentialLabels {
    pub const ENVIRONMENT: &'static str = "io.corral.credential.environment";
    pub const NODE: &'static str = "io.corral.credential.node";
    pub const USER: &'static str = "io.corral.credential.user";
}

/// The kinds of token a client can present.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenKind {
    Session,
    ApiKey,
    Registration,
    Node,
}

impl TokenKind {
    fn tag(self) -> &'static str {
        match self {
            TokenKind::Session => "s",
            TokenKind::ApiKey => "k",
            TokenKind::Registration => "r",
            TokenKind::Node => "n",
        }
    }

    /// `crl_<tag>_<id>_<secret>`.
    pub fn format(self, id: &str, secret: &str) -> String {
        format!("crl_{}_{id}_{secret}", self.tag())
    }

    /// Splits a presented token into its kind, id and secret; `None` for
    /// anything else (the break-glass admin token among them).
    pub fn parse(token: &str) -> Option<(TokenKind, &str, &str)> {
        let rest = token.strip_prefix("crl_")?;
        let (tag, rest) = rest.split_once('_')?;
        let (id, secret) = rest.split_once('_')?;
        let kind = [
            TokenKind::Session,
            TokenKind::ApiKey,
            TokenKind::Registration,
            TokenKind::Node,
        ]
        .into_iter()
        .find(|k| k.tag() == tag)?;
        let plain = |s: &str| {
            !s.is_empty() && s.len() <= 64 && s.bytes().all(|b| b.is_ascii_alphanumeric())
        };
        (plain(id) && plain(secret)).then_some((kind, id, secret))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_parse_from_their_names_and_nothing_else() {
        for role in Role::ALL {
            assert_eq!(role.as_str().parse::<Role>().ok(), Some(role));
        }
        let err = "admin"
            .parse::<Role>()
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.contains("unknown role"), "{err}");
    }

    #[test]
    fn a_token_parses_back_into_its_parts() {
        let t = TokenKind::ApiKey.format("abc123", "s3cret");
        assert_eq!(
            TokenKind::parse(&t),
            Some((TokenKind::ApiKey, "abc123", "s3cret"))
        );
        assert_eq!(TokenKind::parse("crl_0123456789abcdef"), None);
        assert_eq!(TokenKind::parse("crl_x_a_b"), None);
        assert_eq!(TokenKind::parse("crl_k__b"), None);
        assert_eq!(TokenKind::parse("crl_k_a_b/c"), None);
    }

    #[test]
    fn group_and_user_bindings_have_distinct_object_names() {
        assert_eq!(MemberSpec::object_name("group:devs"), "group--devs");
        assert_eq!(MemberSpec::object_name("devs"), "user--devs");
        assert_eq!(
            MemberSpec::object_name("Alice.Smith@corp"),
            "user--alice-smith-corp"
        );
    }

    #[test]
    fn subject_names_allow_directory_logins_but_not_spaces() {
        assert!(validate_subject_name("s", "Alice.Smith@corp").is_ok());
        assert!(validate_subject_name("s", "a b").is_err());
        assert!(validate_subject_name("s", "-a").is_err());
        assert!(validate_subject_name("s", "").is_err());
    }
}
