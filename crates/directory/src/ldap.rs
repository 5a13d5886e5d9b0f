//! [`Directory`] over LDAP with `ldap3`: one connection per call.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use ldap3::{Ldap, LdapConnAsync, LdapConnSettings, LdapError, LdapResult, Scope, SearchEntry};
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;

use crate::config::LdapConfig;
use crate::error::DirectoryError;
use crate::syntax::{fill_filter, first_rdn_value};
use crate::{Directory, DirectoryUser};

/// `invalidCredentials` (RFC 4511).
const RC_INVALID_CREDENTIALS: u32 = 49;
/// `noSuchObject` (RFC 4511).
const RC_NO_SUCH_OBJECT: u32 = 32;

/// An LDAP or Active Directory server, per [`LdapConfig`].
pub struct LdapDirectory {
    config: LdapConfig,
    /// Set for `ldaps://` and StartTLS: built once, with the aws-lc-rs
    /// provider named explicitly (never the process default).
    tls: Option<Arc<rustls::ClientConfig>>,
}

impl std::fmt::Debug for LdapDirectory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LdapDirectory")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl LdapDirectory {
    /// Checks `config` ([`LdapConfig::validate`]) and prepares TLS. Does not
    /// connect.
    pub fn new(config: LdapConfig) -> Result<Self, DirectoryError> {
        config.validate()?;
        let tls = if config.url.starts_with("ldaps://") || config.start_tls {
            Some(tls_config(config.ca_pem.as_deref())?)
        } else {
            None
        };
        Ok(LdapDirectory { config, tls })
    }

    /// The settings this directory was made with.
    pub fn config(&self) -> &LdapConfig {
        &self.config
    }

    fn timeout(&self) -> Duration {
        Duration::from_millis(self.config.timeout_ms)
    }

    /// Connects (StartTLS if asked) and binds as the service account.
    async fn connect(&self) -> Result<Ldap, DirectoryError> {
        let mut settings = LdapConnSettings::new()
            .set_conn_timeout(self.timeout())
            .set_starttls(self.config.start_tls);
        if let Some(tls) = &self.tls {
            settings = settings.set_config(Arc::clone(tls));
        }
        let (conn, mut ldap) = LdapConnAsync::with_settings(settings, &self.config.url)
            .await
            .map_err(|e| self.unreachable(&e))?;
        ldap3::drive!(conn);
        self.service_bind(&mut ldap).await?;
        Ok(ldap)
    }

    async fn service_bind(&self, ldap: &mut Ldap) -> Result<(), DirectoryError> {
        let result = ldap
            .with_timeout(self.timeout())
            .simple_bind(&self.config.bind_dn, &self.config.bind_password)
            .await
            .map_err(|e| self.unreachable(&e))?;
        if result.rc != 0 {
            return Err(DirectoryError::ServiceBind {
                bind_dn: self.config.bind_dn.clone(),
                message: describe(&result),
            });
        }
        Ok(())
    }

    fn unreachable(&self, error: &LdapError) -> DirectoryError {
        let message = match error {
            LdapError::Timeout { .. } => {
                format!("no answer within {} ms", self.config.timeout_ms)
            }
            LdapError::LdapResult { result } => {
                format!("StartTLS refused: {}", describe(result))
            }
            other => other.to_string(),
        };
        DirectoryError::Unreachable {
            url: self.config.url.clone(),
            message,
        }
    }

    /// An error of an operation on an open connection: a timeout or a
    /// broken connection is [`DirectoryError::Unreachable`], a refused
    /// filter names the setting, the rest is a protocol error.
    fn op_error(&self, field: &'static str, error: LdapError) -> DirectoryError {
        match error {
            LdapError::FilterParsing => {
                DirectoryError::config(field, "the server library cannot parse it")
            }
            LdapError::LdapResult { result } => DirectoryError::protocol(describe(&result)),
            other => self.unreachable(&other),
        }
    }

    /// Finds the one entry of `username`, and refuses it when disabled.
    async fn find_user(
        &self,
        ldap: &mut Ldap,
        username: &str,
    ) -> Result<SearchEntry, DirectoryError> {
        if username.is_empty() {
            return Err(DirectoryError::UserNotFound {
                username: String::new(),
            });
        }
        let filter = fill_filter(&self.config.user_filter, &[("0", username)]);
        let mut attrs = vec![
            self.config.user_name_attribute.as_str(),
            self.config.display_name_attribute.as_str(),
        ];
        if let Some(member_of) = &self.config.member_of_attribute {
            attrs.push(member_of);
        }
        let (entries, result) = ldap
            .with_timeout(self.timeout())
            .search(&self.config.user_base, Scope::Subtree, &filter, attrs)
            .await
            .map_err(|e| self.op_error("user_filter", e))?
            .non_error()
            .map_err(|e| self.search_error("user_base", e))?;
        tracing::debug!(
            username,
            filter,
            found = entries.len(),
            rc = result.rc,
            "ldap user search"
        );
        if entries.len() > 1 {
            return Err(DirectoryError::Ambiguous {
                username: username.to_owned(),
                count: entries.len(),
            });
        }
        let Some(entry) = entries.into_iter().next() else {
            return Err(DirectoryError::UserNotFound {
                username: username.to_owned(),
            });
        };
        let entry = SearchEntry::construct(entry);
        if self.is_disabled(ldap, &entry.dn).await? {
            return Err(DirectoryError::UserDisabled {
                username: username.to_owned(),
            });
        }
        Ok(entry)
    }

    /// Whether the entry at `dn` matches the disabled filter.
    async fn is_disabled(&self, ldap: &mut Ldap, dn: &str) -> Result<bool, DirectoryError> {
        let Some(filter) = &self.config.disabled_filter else {
            return Ok(false);
        };
        let (entries, _) = ldap
            .with_timeout(self.timeout())
            .search(dn, Scope::Base, filter, vec!["1.1"])
            .await
            .map_err(|e| self.op_error("disabled_filter", e))?
            .success()
            .map_err(|e| self.search_error("disabled_filter", e))?;
        Ok(!entries.is_empty())
    }

    fn search_error(&self, field: &'static str, error: LdapError) -> DirectoryError {
        match error {
            LdapError::LdapResult { result } if result.rc == RC_NO_SUCH_OBJECT => {
                DirectoryError::config(
                    field,
                    format!(
                        "no such entry, or the service account cannot see it: {}",
                        describe(&result)
                    ),
                )
            }
            other => self.op_error(field, other),
        }
    }

    /// The user's groups: from the member-of attribute of `entry`, and from
    /// a search under the group base; sorted, without duplicates.
    async fn groups(
        &self,
        ldap: &mut Ldap,
        entry: &SearchEntry,
        username: &str,
    ) -> Result<Vec<String>, DirectoryError> {
        let mut groups = Vec::new();
        if let Some(attr) = &self.config.member_of_attribute {
            for dn in values(&entry.attrs, attr) {
                match first_rdn_value(dn) {
                    Some(name) => groups.push(name),
                    None => tracing::warn!(dn, attr, "ignoring a group that is not a DN"),
                }
            }
        }
        if !self.config.group_base.trim().is_empty() {
            let filter = fill_filter(
                &self.config.group_filter,
                &[("dn", &entry.dn), ("0", username)],
            );
            let attr = self.config.group_name_attribute.as_str();
            let (entries, _) = ldap
                .with_timeout(self.timeout())
                .search(&self.config.group_base, Scope::Subtree, &filter, vec![attr])
                .await
                .map_err(|e| self.op_error("group_filter", e))?
                .non_error()
                .map_err(|e| self.search_error("group_base", e))?;
            for group in entries.into_iter().map(SearchEntry::construct) {
                match values(&group.attrs, attr).next() {
                    Some(name) => groups.push(name.to_owned()),
                    None => tracing::warn!(dn = group.dn, attr, "group entry without a name"),
                }
            }
        }
        groups.sort();
        groups.dedup();
        Ok(groups)
    }

    fn user(&self, entry: &SearchEntry, username: &str, groups: Vec<String>) -> DirectoryUser {
        let username = values(&entry.attrs, &self.config.user_name_attribute)
            .next()
            .unwrap_or(username)
            .to_owned();
        let display_name = values(&entry.attrs, &self.config.display_name_attribute)
            .next()
            .unwrap_or(&username)
            .to_owned();
        DirectoryUser {
            dn: entry.dn.clone(),
            username,
            display_name,
            groups,
        }
    }
}

#[async_trait]
impl Directory for LdapDirectory {
    async fn authenticate(
        &self,
        username: &str,
        password: &str,
    ) -> Result<DirectoryUser, DirectoryError> {
        // An empty password would be an "unauthenticated bind", which LDAP
        // servers answer with success: refuse it before anything else.
        if password.is_empty() {
            return Err(DirectoryError::WrongPassword {
                username: username.to_owned(),
            });
        }
        let mut ldap = self.connect().await?;
        let outcome = async {
            let entry = self.find_user(&mut ldap, username).await?;
            let result = ldap
                .with_timeout(self.timeout())
                .simple_bind(&entry.dn, password)
                .await
                .map_err(|e| self.unreachable(&e))?;
            user_bind_outcome(username, &result)?;
            // Back to the service account: the user may not read groups.
            self.service_bind(&mut ldap).await?;
            let groups = self.groups(&mut ldap, &entry, username).await?;
            Ok(self.user(&entry, username, groups))
        }
        .await;
        close(ldap).await;
        match &outcome {
            Ok(user) => tracing::info!(username, dn = user.dn, groups = ?user.groups, "ldap login"),
            Err(error) => tracing::info!(username, %error, "ldap login refused"),
        }
        outcome
    }

    async fn lookup(&self, username: &str) -> Result<DirectoryUser, DirectoryError> {
        let mut ldap = self.connect().await?;
        let outcome = async {
            let entry = self.find_user(&mut ldap, username).await?;
            let groups = self.groups(&mut ldap, &entry, username).await?;
            Ok(self.user(&entry, username, groups))
        }
        .await;
        close(ldap).await;
        outcome
    }
}

/// What the user's own bind says.
fn user_bind_outcome(username: &str, result: &LdapResult) -> Result<(), DirectoryError> {
    match result.rc {
        0 => Ok(()),
        RC_INVALID_CREDENTIALS if ad_account_unusable(&result.text) => {
            Err(DirectoryError::UserDisabled {
                username: username.to_owned(),
            })
        }
        RC_INVALID_CREDENTIALS => Err(DirectoryError::WrongPassword {
            username: username.to_owned(),
        }),
        _ => Err(DirectoryError::protocol(format!(
            "bind as {username}: {}",
            describe(result)
        ))),
    }
}

/// Active Directory explains a refused bind in the diagnostic text
/// (`... AcceptSecurityContext error, data 533, v4563`): 533 is a disabled
/// account, 701 an expired one, 775 a locked one.
fn ad_account_unusable(text: &str) -> bool {
    text.split(", ")
        .filter_map(|part| part.strip_prefix("data "))
        .any(|code| matches!(code.trim(), "533" | "701" | "775"))
}

fn describe(result: &LdapResult) -> String {
    if result.text.is_empty() {
        format!("result code {}", result.rc)
    } else {
        format!("result code {}: {}", result.rc, result.text)
    }
}

/// The values of `attr`, matched without regard to case as LDAP does.
fn values<'a>(
    attrs: &'a HashMap<String, Vec<String>>,
    attr: &'a str,
) -> impl Iterator<Item = &'a str> {
    attrs
        .iter()
        .filter(move |(name, _)| name.eq_ignore_ascii_case(attr))
        .flat_map(|(_, values)| values.iter().map(String::as_str))
}

async fn close(mut ldap: Ldap) {
    if let Err(error) = ldap.unbind().await {
        tracing::debug!(%error, "ldap unbind");
    }
}

/// A TLS client configuration trusting `ca_pem`, or the system's roots.
fn tls_config(ca_pem: Option<&str>) -> Result<Arc<rustls::ClientConfig>, DirectoryError> {
    let mut roots = rustls::RootCertStore::empty();
    match ca_pem {
        Some(pem) => {
            let certs: Vec<CertificateDer<'static>> =
                CertificateDer::pem_slice_iter(pem.as_bytes())
                    .collect::<Result<_, _>>()
                    .map_err(|e| {
                        DirectoryError::config("ca_pem", format!("cannot read the PEM: {e}"))
                    })?;
            if certs.is_empty() {
                return Err(DirectoryError::config(
                    "ca_pem",
                    "holds no CERTIFICATE block",
                ));
            }
            for cert in certs {
                roots.add(cert).map_err(|e| {
                    DirectoryError::config("ca_pem", format!("bad CA certificate: {e}"))
                })?;
            }
        }
        None => {
            let native = rustls_native_certs::load_native_certs();
            let (added, _) = roots.add_parsable_certificates(native.certs);
            if added == 0 {
                return Err(DirectoryError::config(
                    "ca_pem",
                    "no system CA certificates found: set ca_pem to trust the server",
                ));
            }
        }
    }
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| DirectoryError::config("url", format!("cannot set up TLS: {e}")))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    fn result(rc: u32, text: &str) -> LdapResult {
        LdapResult {
            rc,
            matched: String::new(),
            text: text.to_owned(),
            refs: Vec::new(),
            ctrls: Vec::new(),
        }
    }

    #[test]
    fn active_directory_disabled_and_locked_accounts_are_told_apart_from_wrong_passwords() {
        let ad = |data: &str| {
            result(
                49,
                &format!(
                    "80090308: LdapErr: DSID-0C09044E, comment: AcceptSecurityContext error, data {data}, v4563\0"
                ),
            )
        };
        for code in ["533", "701", "775"] {
            assert!(matches!(
                user_bind_outcome("u", &ad(code)),
                Err(DirectoryError::UserDisabled { .. })
            ));
        }
        for code in ["52e", "532", "773"] {
            assert!(matches!(
                user_bind_outcome("u", &ad(code)),
                Err(DirectoryError::WrongPassword { .. })
            ));
        }
        assert!(matches!(
            user_bind_outcome("u", &result(49, "")),
            Err(DirectoryError::WrongPassword { .. })
        ));
        assert!(user_bind_outcome("u", &result(0, "")).is_ok());
        assert!(matches!(
            user_bind_outcome("u", &result(53, "unwilling")),
            Err(DirectoryError::Protocol { .. })
        ));
    }

    #[test]
    fn a_ca_pem_without_certificates_is_a_config_error() {
        let err = tls_config(Some("not a pem")).unwrap_err();
        assert!(
            matches!(
                err,
                DirectoryError::Config {
                    field: "ca_pem",
                    ..
                }
            ),
            "{err:?}"
        );
    }

    #[test]
    fn attributes_match_without_regard_to_case() {
        let attrs = HashMap::from([("memberOf".to_owned(), vec!["cn=a,dc=x".to_owned()])]);
        assert_eq!(
            values(&attrs, "memberof").collect::<Vec<_>>(),
            ["cn=a,dc=x"]
        );
        assert_eq!(values(&attrs, "cn").count(), 0);
    }
}
