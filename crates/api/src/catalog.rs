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
