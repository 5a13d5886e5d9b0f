//! Request and answer bodies of the catalog routes.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// `POST /v1/catalogs` and `POST /v1/environments/{env}/catalogs`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CatalogRequest {
    pub name: String,
    /// `https://`, `ssh://` or `user@host:path`, `git://`, `file://`.
    pub url: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub branch: Option<String>,
    /// https: the user name that goes with `password`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// https: a password or token (sealed by the server, never answered).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
    /// ssh: an unencrypted private key, OpenSSH or PEM text (sealed by the
    /// server, never answered).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ssh_key: Option<String>,
    /// ssh: known_hosts lines naming the host keys to trust.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ssh_known_hosts: Option<String>,
}

/// `POST /v1/environments/{env}/apps`: launch a template as a stack.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LaunchRequest {
    /// The stack's name.
    pub name: String,
    /// `CATALOG/TEMPLATE` or `TEMPLATE` when only one catalog has it,
    /// optionally `:VERSION` (a version folder).
    pub template: String,
    #[serde(default)]
    pub answers: BTreeMap<String, String>,
    /// Plan only: change nothing.
    #[serde(default)]
    pub dry_run: bool,
}

/// What a launch does (or, with `dry_run`, would do).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LaunchPlan {
    /// `CATALOG/TEMPLATE`.
    pub template: String,
    /// The version folder launched.
    pub version: String,
    /// Every question's answer, defaults filled in (passwords shown as
    /// `(password)`).
    pub answers: BTreeMap<String, String>,
    pub plan: crate::StackPlan,
}

/// `POST /v1/environments/{env}/apps/{stack}/upgrade`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AppUpgradeRequest {
    /// The version folder to upgrade to; the newest one that may replace
    /// the stack's when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// Answers that change; the others are carried over, and new questions
    /// take their defaults.
    #[serde(default)]
    pub answers: BTreeMap<String, String>,
    #[serde(default)]
    pub dry_run: bool,
}

/// A stack launched from a catalog, as `app ls` shows it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppInfo {
    pub stack: String,
    /// `CATALOG/TEMPLATE`.
    pub template: String,
    /// The version folder it runs.
    pub version: String,
    /// That version's `version` (as the catalog names it), when the
    /// catalog still has it.
    pub catalog_version: String,
    /// A later version folder that may replace it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upgrade_available: Option<String>,
    /// Whether `app rollback` has a version to return to.
    pub can_roll_back: bool,
}
