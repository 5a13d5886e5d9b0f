//! Sharing one of the host's namespaces: `pid`, `ipc` and `uts: host`.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Whether a service's containers get their own PID, IPC or UTS namespace
/// (the default) or share the host's. Sharing the host's is host access.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NamespaceMode {
    /// A namespace of the container's own.
    #[default]
    Private,
    /// The host's namespace.
    Host,
}

impl NamespaceMode {
    pub fn is_host(self) -> bool {
        self == NamespaceMode::Host
    }

    pub fn as_str(self) -> &'static str {
        match self {
            NamespaceMode::Private => "private",
            NamespaceMode::Host => "host",
        }
    }
}

impl fmt::Display for NamespaceMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for NamespaceMode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "private" => Ok(NamespaceMode::Private),
            "host" => Ok(NamespaceMode::Host),
            other => Err(format!(
                "namespace mode {other:?} is not one of private, host"
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::ServiceSpec;

    #[test]
    fn specs_stored_before_namespace_modes_still_read_as_private() {
        let spec: ServiceSpec = serde_json::from_str(r#"{"image":"a"}"#).unwrap();
        assert_eq!(spec.pid_mode, NamespaceMode::Private);
        assert_eq!(spec.ipc_mode, NamespaceMode::Private);
        assert_eq!(spec.uts_mode, NamespaceMode::Private);
        let plain = serde_json::to_string(&spec).unwrap();
        assert!(!plain.contains("_mode"), "{plain}");
    }

    #[test]
    fn host_namespace_modes_round_trip_lowercase() {
        let spec: ServiceSpec =
            serde_json::from_str(r#"{"image":"a","pid_mode":"host","uts_mode":"host"}"#).unwrap();
        assert!(spec.pid_mode.is_host() && spec.uts_mode.is_host());
        assert!(!spec.ipc_mode.is_host());
        let text = serde_json::to_string(&spec).unwrap();
        assert!(text.contains(r#""pid_mode":"host""#), "{text}");
        assert!(serde_json::from_str::<ServiceSpec>(r#"{"ipc_mode":"shareable"}"#).is_err());
        assert_eq!("host".parse::<NamespaceMode>(), Ok(NamespaceMode::Host));
        assert!("container:x".parse::<NamespaceMode>().is_err());
    }
}
