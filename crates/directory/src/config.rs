//! The settings of one LDAP or Active Directory server, and their checks.

use serde::{Deserialize, Serialize};

use crate::error::DirectoryError;
use crate::syntax::{check_filter, fill_filter, parse_dn};

/// How to reach a directory and find users and their groups in it.
///
/// Deserialised with defaults for everything but `url`, the bind account
/// and `user_base`; unknown keys are refused. `Debug` never shows the
/// password.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "snake_case", deny_unknown_fields)]
pub struct LdapConfig {
    /// `ldap://host[:port]` or `ldaps://host[:port]`.
    pub url: String,
    /// The service account used to search; empty binds anonymously.
    pub bind_dn: String,
    pub bind_password: String,
    /// Where users are searched (subtree).
    pub user_base: String,
    /// Finds the user; `{0}` is the login name, escaped (RFC 4515).
    pub user_filter: String,
    /// The attribute holding the login name (`uid`; AD: `sAMAccountName`).
    pub user_name_attribute: String,
    pub display_name_attribute: String,
    /// Where groups are searched; empty: no group search.
    pub group_base: String,
    /// Finds the user's groups; `{dn}` is the user's DN, `{0}` the login
    /// name, both escaped.
    pub group_filter: String,
    pub group_name_attribute: String,
    /// An attribute of the user entry listing group DNs (AD: `memberOf`);
    /// each group is named by the first RDN value of its DN.
    pub member_of_attribute: Option<String>,
    /// A user entry that also matches this filter is disabled
    /// (`(pwdAccountLockedTime=*)`; AD:
    /// `(userAccountControl:1.2.840.113556.1.4.803:=2)`).
    pub disabled_filter: Option<String>,
    /// Upgrade an `ldap://` connection with StartTLS.
    pub start_tls: bool,
    /// A PEM CA to trust for ldaps or StartTLS instead of the system's roots.
    pub ca_pem: Option<String>,
    /// Connect timeout, and the timeout of each operation.
    pub timeout_ms: u64,
}

impl Default for LdapConfig {
    fn default() -> Self {
        LdapConfig {
            url: String::new(),
            bind_dn: String::new(),
            bind_password: String::new(),
            user_base: String::new(),
            user_filter: "(uid={0})".to_owned(),
            user_name_attribute: "uid".to_owned(),
            display_name_attribute: "cn".to_owned(),
            group_base: String::new(),
            group_filter: "(member={dn})".to_owned(),
            group_name_attribute: "cn".to_owned(),
            member_of_attribute: None,
            disabled_filter: None,
            start_tls: false,
            ca_pem: None,
            timeout_ms: 5000,
        }
    }
}

impl std::fmt::Debug for LdapConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LdapConfig")
            .field("url", &self.url)
            .field("bind_dn", &self.bind_dn)
            .field("bind_password", &"<redacted>")
            .field("user_base", &self.user_base)
            .field("user_filter", &self.user_filter)
            .field("user_name_attribute", &self.user_name_attribute)
            .field("display_name_attribute", &self.display_name_attribute)
            .field("group_base", &self.group_base)
            .field("group_filter", &self.group_filter)
            .field("group_name_attribute", &self.group_name_attribute)
            .field("member_of_attribute", &self.member_of_attribute)
            .field("disabled_filter", &self.disabled_filter)
            .field("start_tls", &self.start_tls)
            .field("ca_pem", &self.ca_pem.as_ref().map(|_| "<pem>"))
            .field("timeout_ms", &self.timeout_ms)
            .finish()
    }
}

impl LdapConfig {
    /// Defaults for Active Directory: login by `sAMAccountName`, groups from
    /// `memberOf`, disabled accounts by the `userAccountControl` bit 2.
    pub fn active_directory() -> Self {
        LdapConfig {
            user_filter: "(&(objectClass=user)(sAMAccountName={0}))".to_owned(),
            user_name_attribute: "sAMAccountName".to_owned(),
            display_name_attribute: "displayName".to_owned(),
            member_of_attribute: Some("memberOf".to_owned()),
            disabled_filter: Some("(userAccountControl:1.2.840.113556.1.4.803:=2)".to_owned()),
            ..LdapConfig::default()
        }
    }

    /// Checks every field; the error names the first bad one.
    pub fn validate(&self) -> Result<(), DirectoryError> {
        let tls = check_url(&self.url).map_err(|m| DirectoryError::config("url", m))?;
        if tls && self.start_tls {
            return Err(DirectoryError::config(
                "start_tls",
                "StartTLS is for ldap:// URLs; ldaps:// is already TLS",
            ));
        }
        if !self.bind_dn.trim().is_empty() {
            check_dn("bind_dn", &self.bind_dn)?;
        }
        if self.user_base.trim().is_empty() {
            return Err(DirectoryError::config("user_base", "is empty"));
        }
        check_dn("user_base", &self.user_base)?;
        check_template("user_filter", &self.user_filter)?;
        if !self.user_filter.contains("{0}") {
            return Err(DirectoryError::config(
                "user_filter",
                format!("{:?} must contain {{0}}, the login name", self.user_filter),
            ));
        }
        check_attribute("user_name_attribute", &self.user_name_attribute)?;
        check_attribute("display_name_attribute", &self.display_name_attribute)?;
        if !self.group_base.trim().is_empty() {
            check_dn("group_base", &self.group_base)?;
            check_template("group_filter", &self.group_filter)?;
            check_attribute("group_name_attribute", &self.group_name_attribute)?;
        }
        if let Some(attr) = &self.member_of_attribute {
            check_attribute("member_of_attribute", attr)?;
        }
        if let Some(filter) = &self.disabled_filter {
            check_template("disabled_filter", filter)?;
        }
        if self
            .ca_pem
            .as_ref()
            .is_some_and(|pem| pem.trim().is_empty())
        {
            return Err(DirectoryError::config("ca_pem", "is empty"));
        }
        if self.timeout_ms == 0 {
            return Err(DirectoryError::config("timeout_ms", "must be above 0"));
        }
        Ok(())
    }
}

/// Checks the scheme and host of `url`; returns whether it is `ldaps`.
fn check_url(url: &str) -> Result<bool, String> {
    let (tls, rest) = if let Some(rest) = url.strip_prefix("ldaps://") {
        (true, rest)
    } else if let Some(rest) = url.strip_prefix("ldap://") {
        (false, rest)
    } else {
        return Err(format!("{url:?} must start with ldap:// or ldaps://"));
    };
    let authority = rest.split('/').next().unwrap_or_default();
    // `host`, `host:port`, `[v6]` or `[v6]:port`.
    let (host, port) = match authority.strip_prefix('[') {
        Some(v6) => match v6.split_once(']') {
            Some((host, "")) => (host, None),
            Some((host, port)) => (host, Some(port.strip_prefix(':').unwrap_or(port))),
            None => return Err(format!("{url:?} has an unclosed '['")),
        },
        None => match authority.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        },
    };
    if let Some(port) = port
        && port.parse::<u16>().map_or(true, |p| p == 0)
    {
        return Err(format!("{url:?} has a bad port {port:?}"));
    }
    if host.is_empty() {
        return Err(format!("{url:?} has no host"));
    }
    if host.contains(['@', '?', '#', ' ']) {
        return Err(format!("{url:?} has a bad host {host:?}"));
    }
    Ok(tls)
}

/// Checks the shape of a filter template, then has ldap3 parse it filled
/// with sample values, as it will before each search.
fn check_template(field: &'static str, template: &str) -> Result<(), DirectoryError> {
    check_filter(template).map_err(|m| DirectoryError::config(field, m))?;
    let sample = fill_filter(template, &[("0", "x"), ("dn", "cn=x,dc=x")]);
    ldap3::parse_filter(&sample).map(drop).map_err(|()| {
        DirectoryError::config(field, format!("{template:?} is not a valid LDAP filter"))
    })
}

fn check_dn(field: &'static str, dn: &str) -> Result<(), DirectoryError> {
    parse_dn(dn)
        .map(drop)
        .map_err(|m| DirectoryError::config(field, format!("{dn:?} is not a valid DN: {m}")))
}

fn check_attribute(field: &'static str, attr: &str) -> Result<(), DirectoryError> {
    let valid = attr.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
        && attr.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
    if valid {
        Ok(())
    } else {
        Err(DirectoryError::config(
            field,
            format!("{attr:?} is not an attribute name"),
        ))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    fn valid() -> LdapConfig {
        LdapConfig {
            url: "ldap://ldap.example.com:389".to_owned(),
            bind_dn: "cn=corral,ou=services,dc=example,dc=com".to_owned(),
            bind_password: "secret".to_owned(),
            user_base: "ou=people,dc=example,dc=com".to_owned(),
            group_base: "ou=groups,dc=example,dc=com".to_owned(),
            ..LdapConfig::default()
        }
    }

    fn field_of(config: &LdapConfig) -> &'static str {
        match config.validate() {
            Err(DirectoryError::Config { field, .. }) => field,
            other => panic!("expected a config error, got {other:?}"),
        }
    }

    #[test]
    fn a_complete_config_is_valid() {
        valid().validate().unwrap();
        let ad = LdapConfig {
            url: "ldaps://dc1.corp.example.com".to_owned(),
            bind_dn: "CN=svc-corral,OU=Service Accounts,DC=corp,DC=example,DC=com".to_owned(),
            user_base: "DC=corp,DC=example,DC=com".to_owned(),
            ..LdapConfig::active_directory()
        };
        ad.validate().unwrap();
        for url in ["ldap://[::1]:1389/", "ldap://[::1]", "ldaps://10.0.0.1:636"] {
            let anonymous = LdapConfig {
                bind_dn: String::new(),
                url: url.to_owned(),
                ..valid()
            };
            anonymous.validate().unwrap();
        }
    }

    #[test]
    fn each_bad_field_is_named() {
        let cases: Vec<(LdapConfig, &str)> = vec![
            (
                LdapConfig {
                    url: "http://x".into(),
                    ..valid()
                },
                "url",
            ),
            (
                LdapConfig {
                    url: "ldap://".into(),
                    ..valid()
                },
                "url",
            ),
            (
                LdapConfig {
                    url: "ldap://h:99999".into(),
                    ..valid()
                },
                "url",
            ),
            (
                LdapConfig {
                    url: "ldap://[::1".into(),
                    ..valid()
                },
                "url",
            ),
            (
                LdapConfig {
                    url: "ldap://u@h".into(),
                    ..valid()
                },
                "url",
            ),
            (
                LdapConfig {
                    url: "ldaps://h".into(),
                    start_tls: true,
                    ..valid()
                },
                "start_tls",
            ),
            (
                LdapConfig {
                    bind_dn: "admin".into(),
                    ..valid()
                },
                "bind_dn",
            ),
            (
                LdapConfig {
                    user_base: String::new(),
                    ..valid()
                },
                "user_base",
            ),
            (
                LdapConfig {
                    user_base: "ou=people,".into(),
                    ..valid()
                },
                "user_base",
            ),
            (
                LdapConfig {
                    group_base: "ou=groups dc=x".into(),
                    ..valid()
                },
                "group_base",
            ),
            (
                LdapConfig {
                    user_filter: "uid={0}".into(),
                    ..valid()
                },
                "user_filter",
            ),
            (
                LdapConfig {
                    user_filter: "(uid={0}".into(),
                    ..valid()
                },
                "user_filter",
            ),
            (
                LdapConfig {
                    user_filter: "(uid=alice)".into(),
                    ..valid()
                },
                "user_filter",
            ),
            (
                LdapConfig {
                    group_filter: "(member={dn}))".into(),
                    ..valid()
                },
                "group_filter",
            ),
            (
                LdapConfig {
                    group_filter: "(member)".into(),
                    ..valid()
                },
                "group_filter",
            ),
            (
                LdapConfig {
                    user_filter: "(&(uid={0})(=x))".into(),
                    ..valid()
                },
                "user_filter",
            ),
            (
                LdapConfig {
                    disabled_filter: Some("locked".into()),
                    ..valid()
                },
                "disabled_filter",
            ),
            (
                LdapConfig {
                    member_of_attribute: Some("member of".into()),
                    ..valid()
                },
                "member_of_attribute",
            ),
            (
                LdapConfig {
                    user_name_attribute: String::new(),
                    ..valid()
                },
                "user_name_attribute",
            ),
            (
                LdapConfig {
                    ca_pem: Some(" ".into()),
                    ..valid()
                },
                "ca_pem",
            ),
            (
                LdapConfig {
                    timeout_ms: 0,
                    ..valid()
                },
                "timeout_ms",
            ),
        ];
        for (config, field) in cases {
            assert_eq!(field_of(&config), field, "{config:?}");
        }
    }

    #[test]
    fn group_settings_are_not_checked_without_a_group_base() {
        let config = LdapConfig {
            group_base: String::new(),
            group_filter: "nonsense".to_owned(),
            ..valid()
        };
        config.validate().unwrap();
    }

    #[test]
    fn debug_never_shows_the_password() {
        let text = format!("{:?}", valid());
        assert!(!text.contains("secret"), "{text}");
        assert!(text.contains("<redacted>"));
    }

    #[test]
    fn missing_keys_take_defaults_and_unknown_keys_are_refused() {
        let config: LdapConfig = serde_json::from_str(
            r#"{"url": "ldap://h", "user_base": "dc=x", "member_of_attribute": "memberOf"}"#,
        )
        .unwrap();
        assert_eq!(config.user_filter, "(uid={0})");
        assert_eq!(config.group_filter, "(member={dn})");
        assert_eq!(config.timeout_ms, 5000);
        assert_eq!(config.member_of_attribute.as_deref(), Some("memberOf"));
        config.validate().unwrap();
        let typo = serde_json::from_str::<LdapConfig>(r#"{"user_fliter": "(uid={0})"}"#);
        assert!(typo.is_err());
    }
}
