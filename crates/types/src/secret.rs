//! Secrets: a value (a password, a key, a file) that services mount at
//! `/run/secrets/NAME` and that nobody reads back through the API.
//!
//! The store keeps only the value sealed (encrypted with the server's
//! key-encryption key, bound to the secret's environment, name and
//! version); the API answers with [`SecretStatus`]'s metadata and drops
//! [`SecretSpec::sealed`] from everything it returns or streams.

use serde::{Deserialize, Serialize};

use crate::validate::ValidationError;

/// Largest secret value accepted (Swarm's and Kubernetes' limit).
pub const MAX_SECRET_BYTES: usize = 500 * 1024;

/// A value encrypted at rest. All fields are base64 (standard, padded)
/// except `key_id`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SealedValue {
    /// Which key-encryption key sealed it (the first 16 hex digits of the
    /// key's SHA-256).
    pub key_id: String,
    /// The AEAD's 96-bit nonce.
    pub nonce: String,
    /// The ciphertext and its tag.
    pub ciphertext: String,
}

/// What the store holds of a secret.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SecretSpec {
    /// The value, sealed; `None` in every answer of the API.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sealed: Option<SealedValue>,
}

/// What anyone who may see the secret learns of it.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct SecretStatus {
    /// 1 at creation, one more at every `secret update`.
    pub version: u64,
    /// The value's length in bytes.
    pub size: u64,
    /// A keyed digest of the value (HMAC-SHA256 with a key derived from the
    /// server's key-encryption key, 16 bytes hex): equal values have equal
    /// digests on one installation, and it cannot be used to guess a value
    /// offline.
    pub digest: String,
    /// When the current version was stored (RFC 3339).
    pub updated: String,
}

/// The body of `POST /v1/environments/{env}/secrets` and of
/// `PUT .../secrets/{name}`: the value, base64.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SecretValueRequest {
    /// The secret's name (create only; the path names it on update).
    pub name: String,
    /// The value, base64 (standard alphabet, padded).
    pub value: String,
    #[serde(skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub labels: std::collections::BTreeMap<String, String>,
}

/// One secret's value, as an agent receives it for an instance of its
/// node (`POST .../nodes/{node}/instances/{instance}/secrets`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct SecretValue {
    pub source: String,
    pub version: u64,
    /// base64
    pub value: String,
}

/// The values of the secrets an instance mounts.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct SecretValues {
    pub secrets: Vec<SecretValue>,
}

/// A secret a service mounts (compose's long syntax of `secrets:`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SecretMount {
    /// The secret's name in the environment.
    pub source: String,
    /// Where it appears: a file name under `/run/secrets/`, or an absolute
    /// path. Empty: `/run/secrets/<source>`.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub target: String,
    /// Owner and mode of the file (default 0, 0, 0444).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub uid: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gid: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mode: Option<u32>,
    /// Delivered as this environment variable of the container instead of
    /// a file (a catalog template's password answer that the template puts
    /// in the environment, as Kubernetes' `secretKeyRef` does). Empty: a
    /// file at the mount's path.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub env: String,
    /// The secret's version this service runs with; set by the server
    /// (a new version of the secret changes it, and so rolls the service).
    #[serde(skip_serializing_if = "is_zero")]
    pub version: u64,
}

fn is_zero(v: &u64) -> bool {
    *v == 0
}

impl SecretMount {
    /// The path inside the container (`env:NAME` for one delivered as an
    /// environment variable: no two may set one variable).
    pub fn container_path(&self) -> String {
        if !self.env.is_empty() {
            format!("env:{}", self.env)
        } else if self.target.is_empty() {
            format!("/run/secrets/{}", self.source)
        } else if self.target.starts_with('/') {
            self.target.clone()
        } else {
            format!("/run/secrets/{}", self.target)
        }
    }

    /// The file's mode (default 0444, as Swarm).
    pub fn file_mode(&self) -> u32 {
        self.mode.unwrap_or(0o444)
    }

    /// Checks one mount; `field` names it in the error
    /// (`spec.secrets[0]`).
    pub fn validate(&self, field: &str) -> Result<(), ValidationError> {
        validate_secret_name(&format!("{field}.source"), &self.source)?;
        if !self.env.is_empty() {
            return check_env_delivery(field, self);
        }
        check_file_path(field, &self.target, &self.container_path())?;
        check_mode(field, self.mode)
    }
}

/// A mounted file's path (`path`, from the mount's `target`): no `..`,
/// no NUL, and it names a file. Shared by secrets and configs.
pub(crate) fn check_file_path(
    field: &str,
    target: &str,
    path: &str,
) -> Result<(), ValidationError> {
    if path.split('/').any(|part| part == "..") || path.contains('\0') {
        return Err(ValidationError::new(
            format!("{field}.target"),
            format!("{target:?} must not contain \"..\""),
        ));
    }
    if path == "/" || path.ends_with('/') {
        return Err(ValidationError::new(
            format!("{field}.target"),
            format!("{target:?} must name a file"),
        ));
    }
    Ok(())
}

/// A mounted file's mode: at most 0777.
pub(crate) fn check_mode(field: &str, mode: Option<u32>) -> Result<(), ValidationError> {
    if let Some(mode) = mode
        && mode > 0o777
    {
        return Err(ValidationError::new(
            format!("{field}.mode"),
            format!("{mode:o} is not a file mode (at most 0777)"),
        ));
    }
    Ok(())
}

/// Secret names are Swarm's: 1 to 64 of `[A-Za-z0-9._-]`, starting and
/// ending with a letter or digit (compose files name them `db_password`).
pub fn validate_secret_name(field: &str, name: &str) -> Result<(), ValidationError> {
    let ok_char = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-');
    let edge_ok = |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric());
    if name.is_empty() || name.len() > 64 {
        return Err(ValidationError::new(
            field,
            format!("{name:?} must be 1 to 64 characters"),
        ));
    }
    if !name.chars().all(ok_char) || !edge_ok(name.chars().next()) || !edge_ok(name.chars().last())
    {
        return Err(ValidationError::new(
            field,
            format!(
                "{name:?} may hold only letters, digits, '.', '_' and '-', and must start and end with a letter or digit"
            ),
        ));
    }
    Ok(())
}

/// A secret delivered as an environment variable: a variable name, and
/// none of a file's settings.
fn check_env_delivery(field: &str, m: &SecretMount) -> Result<(), ValidationError> {
    let name_ok = m
        .env
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
        && !m.env.starts_with(|c: char| c.is_ascii_digit());
    if !name_ok {
        return Err(ValidationError::new(
            format!("{field}.env"),
            format!(
                "{:?} is not an environment variable name (letters, digits, '_', '.', '-'; not starting with a digit)",
                m.env
            ),
        ));
    }
    if !m.target.is_empty() || m.uid.is_some() || m.gid.is_some() || m.mode.is_some() {
        return Err(ValidationError::new(
            field,
            "a secret delivered as an environment variable has no target, uid, gid or mode",
        ));
    }
    Ok(())
}

/// Checks a list of mounts: each valid, no two at one path.
pub fn validate_secret_mounts(field: &str, mounts: &[SecretMount]) -> Result<(), ValidationError> {
    validate_mounts(
        field,
        mounts,
        SecretMount::validate,
        SecretMount::container_path,
    )
}

/// Checks a list of file mounts (secrets' or configs'): each valid by
/// `validate`, no two at one `path`.
pub(crate) fn validate_mounts<M>(
    field: &str,
    mounts: &[M],
    validate: impl Fn(&M, &str) -> Result<(), ValidationError>,
    path: impl Fn(&M) -> String,
) -> Result<(), ValidationError> {
    let mut seen = std::collections::BTreeSet::new();
    for (i, m) in mounts.iter().enumerate() {
        let at = format!("{field}[{i}]");
        validate(m, &at)?;
        let path = path(m);
        if seen.contains(&path) {
            return Err(ValidationError::new(at, format!("{path} is mounted twice")));
        }
        seen.insert(path);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mount(source: &str, target: &str) -> SecretMount {
        SecretMount {
            source: source.into(),
            target: target.into(),
            ..SecretMount::default()
        }
    }

    #[test]
    fn a_secret_as_an_environment_variable_names_a_variable_and_no_file() {
        let env = |name: &str| SecretMount {
            source: "shop_pw".into(),
            env: name.into(),
            ..SecretMount::default()
        };
        assert!(env("DB_PASSWORD").validate("s").is_ok());
        assert_eq!(env("DB_PASSWORD").container_path(), "env:DB_PASSWORD");
        let err = env("A=B").validate("s").unwrap_err();
        assert_eq!(err.field, "s.env");
        let with_target = SecretMount {
            target: "/x".into(),
            ..env("PW")
        };
        assert!(with_target.validate("s").is_err());
        let twice = validate_secret_mounts("m", &[env("PW"), env("PW")]).unwrap_err();
        assert_eq!(twice.field, "m[1]");
        assert!(validate_secret_mounts("m", &[env("PW"), mount("shop_pw", "")]).is_ok());
    }

    #[test]
    fn a_mount_lands_under_run_secrets_unless_its_target_is_absolute() {
        assert_eq!(mount("db", "").container_path(), "/run/secrets/db");
        assert_eq!(mount("db", "pw").container_path(), "/run/secrets/pw");
        assert_eq!(mount("db", "/etc/db.pw").container_path(), "/etc/db.pw");
    }

    #[test]
    fn a_mount_escaping_its_directory_or_twice_at_one_path_is_refused() {
        let err =
            validate_secret_mounts("spec.secrets", &[mount("db", "../../etc/passwd")]).unwrap_err();
        assert!(err.to_string().contains("spec.secrets[0].target"), "{err}");
        let err = validate_secret_mounts("spec.secrets", &[mount("a", "x"), mount("b", "x")])
            .unwrap_err();
        assert!(err.to_string().contains("mounted twice"), "{err}");
        let bad_mode = SecretMount {
            mode: Some(0o4777),
            ..mount("a", "")
        };
        assert!(validate_secret_mounts("s", &[bad_mode]).is_err());
    }

    #[test]
    fn secret_names_follow_swarm() {
        assert!(validate_secret_name("n", "db_password").is_ok());
        assert!(validate_secret_name("n", "web.TLS-key").is_ok());
        assert!(validate_secret_name("n", "_x").is_err());
        assert!(validate_secret_name("n", "a/b").is_err());
        assert!(validate_secret_name("n", "").is_err());
    }

    #[test]
    fn the_sealed_value_is_left_out_when_absent() {
        let json = serde_json::to_string(&SecretSpec { sealed: None }).unwrap();
        assert_eq!(json, "{}");
    }
}
