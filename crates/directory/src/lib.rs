//! LDAP and Active Directory authentication: check a login name and password
//! against a directory, and read the user's display name and groups.
//!
//! [`Directory`] is what the rest of Corral uses; [`LdapDirectory`] is its
//! implementation over `ldap3` (one connection per call: connect, bind as the
//! service account, find the user, check the disabled filter, bind as the
//! user, read the groups). Settings are an [`LdapConfig`]; every failure a
//! user must tell apart is a [`DirectoryError`] variant. See the README.

mod config;
mod error;
mod ldap;
mod syntax;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

pub use config::LdapConfig;
pub use error::DirectoryError;
pub use ldap::LdapDirectory;
pub use syntax::{Ava, escape_filter_value, fill_filter, first_rdn_value, parse_dn};

/// A user as the directory knows them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub struct DirectoryUser {
    /// The entry's distinguished name.
    pub dn: String,
    /// The login name as the directory spells it (`user_name_attribute`).
    pub username: String,
    /// `display_name_attribute`, or the login name when it is missing.
    pub display_name: String,
    /// Group names, sorted, without duplicates.
    pub groups: Vec<String>,
}

/// Somewhere users log in with a name and password.
#[async_trait]
pub trait Directory: Send + Sync {
    /// Checks `password` for `username`: the user must exist once, not be
    /// disabled, and the password must be right (an empty one never is).
    async fn authenticate(
        &self,
        username: &str,
        password: &str,
    ) -> Result<DirectoryUser, DirectoryError>;

    /// Finds `username` without a password: checks that the user still
    /// exists and is not disabled (when a session is refreshed, and for
    /// `auth ldap test USER`).
    async fn lookup(&self, username: &str) -> Result<DirectoryUser, DirectoryError>;
}
