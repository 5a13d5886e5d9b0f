use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// One compose file as the user gave it.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SourceFile {
    /// The name it was given by (`docker-compose.yml`), used in error messages.
    pub name: String,
    pub content: String,
}

/// A stack: the compose files it was deployed from and the variables they
/// were interpolated with, so a redeploy or an export gives the same result.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StackSpec {
    /// `docker-compose.yml` first, then `rancher-compose.yml` if any.
    pub files: Vec<SourceFile>,
    /// `${VAR}` values (from `.env`, `--env-file` and the deploying shell).
    pub variables: BTreeMap<String, String>,
    /// The catalog template, version and answers it was launched from.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub app: Option<crate::AppRef>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct StackStatus {
    /// Names of the stack's services (objects named `<stack>-<service>`).
    pub services: Vec<String>,
    /// Keys that were ignored, with file and line.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}
