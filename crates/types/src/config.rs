//! Configs: a value (a configuration file) that services mount read-only
//! at a path of their choice. Unlike a secret, a config is not secret: it
//! is stored as it is and anyone who may read the environment reads it
//! back (`spec.data`). Swarm's configs and Kubernetes' ConfigMaps are the
//! references.

use serde::{Deserialize, Serialize};

use crate::secret::{check_file_path, check_mode};
use crate::validate::ValidationError;

/// Largest config value accepted: the same as a secret's (Swarm's limit).
pub const MAX_CONFIG_BYTES: usize = crate::MAX_SECRET_BYTES;

/// What the store holds of a config: the value itself.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ConfigSpec {
    /// The value, base64 (standard alphabet, padded): a config may be
    /// binary.
    pub data: String,
}

/// A config's metadata: as a secret's, with a plain SHA-256 digest (the
/// value is no secret, so `sha256sum` of a file compares with it).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct ConfigStatus {
    /// 1 at creation, one more at every `config update`.
    pub version: u64,
    /// The value's length in bytes.
    pub size: u64,
    /// SHA-256 of the value, hex.
    pub digest: String,
    /// When the current version was stored (RFC 3339).
    pub updated: String,
}

/// The body of `POST /v1/environments/{env}/configs` and of
/// `PUT .../configs/{name}`: the same shape as a secret's.
pub type ConfigValueRequest = crate::SecretValueRequest;

/// One config's value, as an agent receives it for an instance of its
/// node (`POST .../nodes/{node}/instances/{instance}/configs`).
pub type ConfigValue = crate::SecretValue;

/// The values of the configs an instance mounts.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct ConfigValues {
    pub configs: Vec<ConfigValue>,
}

/// A config a service mounts (compose's long syntax of `configs:`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ConfigMount {
    /// The config's name in the environment.
    pub source: String,
    /// Where it appears: an absolute path. Empty: `/<source>` (Swarm's
    /// default).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub target: String,
    /// Owner and mode of the file (default 0, 0, 0444).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub uid: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gid: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mode: Option<u32>,
    /// The config's version this service runs with; set by the server
    /// (a new version of the config changes it, and so rolls the service).
    #[serde(skip_serializing_if = "is_zero")]
    pub version: u64,
}

fn is_zero(v: &u64) -> bool {
    *v == 0
}

impl ConfigMount {
    /// The path inside the container.
    pub fn container_path(&self) -> String {
        if self.target.is_empty() {
            format!("/{}", self.source)
        } else {
            self.target.clone()
        }
    }

    /// The file's mode (default 0444, as Swarm).
    pub fn file_mode(&self) -> u32 {
        self.mode.unwrap_or(0o444)
    }

    /// Checks one mount; `field` names it in the error (`spec.configs[0]`).
    pub fn validate(&self, field: &str) -> Result<(), ValidationError> {
        crate::validate_secret_name(&format!("{field}.source"), &self.source)?;
        if !self.target.is_empty() && !self.target.starts_with('/') {
            return Err(ValidationError::new(
                format!("{field}.target"),
                format!("{:?} must be an absolute path", self.target),
            ));
        }
        check_file_path(field, &self.target, &self.container_path())?;
        check_mode(field, self.mode)
    }
}

/// Checks a list of mounts: each valid, no two at one path.
pub fn validate_config_mounts(field: &str, mounts: &[ConfigMount]) -> Result<(), ValidationError> {
    crate::secret::validate_mounts(
        field,
        mounts,
        ConfigMount::validate,
        ConfigMount::container_path,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mount(source: &str, target: &str) -> ConfigMount {
        ConfigMount {
            source: source.into(),
            target: target.into(),
            ..ConfigMount::default()
        }
    }

    #[test]
    fn a_config_lands_at_slash_its_name_unless_given_a_target() {
        assert_eq!(mount("nginx.conf", "").container_path(), "/nginx.conf");
        assert_eq!(
            mount("nginx.conf", "/etc/nginx/nginx.conf").container_path(),
            "/etc/nginx/nginx.conf"
        );
    }

    #[test]
    fn a_relative_or_escaping_target_is_refused_naming_the_field() {
        for bad in ["etc/app.conf", "/etc/../passwd", "/etc/", "/"] {
            let err = validate_config_mounts("spec.configs", &[mount("app", bad)]).unwrap_err();
            assert_eq!(err.field, "spec.configs[0].target", "{bad}: {err}");
        }
        let err = validate_config_mounts("spec.configs", &[mount("a", "/x"), mount("b", "/x")])
            .unwrap_err();
        assert!(err.to_string().contains("mounted twice"), "{err}");
        let bad_mode = ConfigMount {
            mode: Some(0o1777),
            ..mount("a", "")
        };
        let err = validate_config_mounts("spec.configs", &[bad_mode]).unwrap_err();
        assert_eq!(err.field, "spec.configs[0].mode");
    }

    #[test]
    fn a_config_and_a_secret_at_one_path_are_refused() {
        let spec = crate::ServiceSpec {
            image: "img".into(),
            secrets: vec![crate::SecretMount {
                source: "pw".into(),
                target: "/etc/app.conf".into(),
                ..Default::default()
            }],
            configs: vec![mount("app", "/etc/app.conf")],
            ..Default::default()
        };
        let err = spec.validate().unwrap_err();
        assert_eq!(err.field, "spec.configs[0].target", "{err}");
    }
}
