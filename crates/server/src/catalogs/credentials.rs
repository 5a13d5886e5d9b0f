//! The credentials of a private catalog: a user name and a password or
//! token for https, or a private key (and optionally the host keys to
//! trust) for ssh. The password, token or key is sealed with the server's
//! key as a secret's value is, bound to the catalog's environment and name
//! (`spec.sealed_credentials`), never answered by the API (redacted like
//! every sealed field), and opened only to hand it to the fetch.

use corral_api::CatalogRequest;
use corral_gitsync::Credentials;
use corral_types::{CatalogAuth, CatalogSpec, SealedValue};

use crate::error::ApiError;
use crate::state::AppState;

/// The most bytes a private key or known_hosts text may have.
const MAX_KEY_BYTES: usize = 16 * 1024;

/// What a sealed credential is bound to.
fn aad(env: &str, name: &str) -> String {
    format!("catalog/{env}/{name}")
}

/// Whether `url` is an ssh URL (`ssh://` or `user@host:path`).
pub fn is_ssh(url: &str) -> bool {
    url.starts_with("ssh://") || (!url.contains("://") && url.contains('@') && url.contains(':'))
}

/// The spec's credential fields from a request: checked, and the secret
/// part sealed.
pub struct Given {
    pub auth: CatalogAuth,
    pub username: String,
    pub ssh_known_hosts: String,
    pub sealed: Option<SealedValue>,
}

/// Checks the request's credentials against its URL and seals them.
pub fn from_request(state: &AppState, env: &str, req: &CatalogRequest) -> Result<Given, ApiError> {
    let url = req.url.trim();
    let given = |v: &Option<String>| v.as_deref().filter(|s| !s.is_empty()).map(str::to_string);
    let (username, password, key, known) = (
        given(&req.username),
        given(&req.password),
        given(&req.ssh_key),
        given(&req.ssh_known_hosts),
    );
    if password.is_some() && key.is_some() {
        return Err(ApiError::invalid(
            "ssh_key",
            "give a password (https) or an ssh key (ssh), not both",
        ));
    }
    if username.is_some() && password.is_none() {
        return Err(ApiError::invalid(
            "password",
            "a user name goes with a password or token (--password-stdin or --password-file)",
        ));
    }
    if known.is_some() && !is_ssh(url) {
        return Err(ApiError::invalid(
            "ssh_known_hosts",
            "host keys are for ssh URLs (ssh://host/path or user@host:path)",
        ));
    }
    if let Some(k) = &known {
        check_known_hosts(k)?;
    }
    let (auth, secret) = match (password, key) {
        (Some(p), None) => {
            if !url.starts_with("https://") {
                return Err(ApiError::invalid(
                    "password",
                    "a password or token is sent only over https:// (over http it would travel in clear; for ssh give a key)",
                ));
            }
            if username.is_none() {
                return Err(ApiError::invalid(
                    "username",
                    "a password or token needs the user name it belongs to (--username)",
                ));
            }
            (CatalogAuth::Password, Some(p))
        }
        (None, Some(k)) => {
            if !is_ssh(url) {
                return Err(ApiError::invalid(
                    "ssh_key",
                    "an ssh key is for ssh URLs (ssh://host/path or user@host:path)",
                ));
            }
            check_private_key(&k)?;
            (CatalogAuth::SshKey, Some(k))
        }
        _ => (CatalogAuth::None, None),
    };
    let sealed = match secret {
        Some(s) => Some(
            state
                .sealer
                .seal(&aad(env, &req.name), s.as_bytes())
                .map_err(|e| {
                    ApiError::Internal(format!("sealing the catalog's credentials: {e}"))
                })?,
        ),
        None => None,
    };
    Ok(Given {
        auth,
        username: username.unwrap_or_default(),
        ssh_known_hosts: known.unwrap_or_default(),
        sealed,
    })
}

fn check_private_key(key: &str) -> Result<(), ApiError> {
    let refused = |why: &str| Err(ApiError::invalid("ssh_key", why));
    if key.len() > MAX_KEY_BYTES {
        return refused("more than 16 KiB: not a private key");
    }
    if !key.contains("-----BEGIN") || !key.contains("PRIVATE KEY-----") {
        return refused(
            "not a private key (expected OpenSSH or PEM text, -----BEGIN ... PRIVATE KEY-----)",
        );
    }
    if key.contains("ENCRYPTED") {
        return refused("the key is encrypted: the server has nobody to ask for its passphrase");
    }
    Ok(())
}

fn check_known_hosts(text: &str) -> Result<(), ApiError> {
    if text.len() > MAX_KEY_BYTES {
        return Err(ApiError::invalid("ssh_known_hosts", "more than 16 KiB"));
    }
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if line.split_whitespace().count() < 3 {
            return Err(ApiError::invalid(
                "ssh_known_hosts",
                format!(
                    "line {}: not a known_hosts line (HOSTS KEYTYPE KEY, as `ssh-keyscan` prints)",
                    i + 1
                ),
            ));
        }
    }
    Ok(())
}

/// The credentials the fetch of catalog `name` of `env` uses (none for a
/// public one); an error is a sentence for the catalog's status.
pub fn open(
    state: &AppState,
    env: &str,
    name: &str,
    spec: &CatalogSpec,
) -> Result<Option<Credentials>, String> {
    let secret = || -> Result<String, String> {
        let sealed = spec
            .sealed_credentials
            .as_ref()
            .ok_or("its credentials are missing: add the catalog again with them")?;
        let bytes = state
            .sealer
            .open(&aad(env, name), sealed)
            .map_err(|e| format!("its credentials cannot be opened: {e}"))?;
        String::from_utf8(bytes).map_err(|_| "its credentials are not text".to_string())
    };
    Ok(match spec.auth {
        CatalogAuth::None => None,
        CatalogAuth::Password => Some(Credentials::Password {
            username: spec.username.clone(),
            password: secret()?,
        }),
        CatalogAuth::SshKey => Some(Credentials::SshKey {
            private_key: secret()?,
            known_hosts: spec.ssh_known_hosts.clone(),
        }),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ssh_urls_are_told_from_others() {
        assert!(is_ssh("ssh://git@example.com/team/catalog.git"));
        assert!(is_ssh("git@example.com:team/catalog.git"));
        assert!(!is_ssh("https://example.com/team/catalog.git"));
        assert!(!is_ssh("https://user@example.com:443/x"));
    }

    #[test]
    fn a_key_must_be_an_unencrypted_private_key() {
        let ok = "-----BEGIN OPENSSH PRIVATE KEY-----\nabc\n-----END OPENSSH PRIVATE KEY-----\n";
        assert!(check_private_key(ok).is_ok());
        assert!(check_private_key("ssh-ed25519 AAAA me@host").is_err());
        let enc = "-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\n-----END RSA PRIVATE KEY-----";
        assert!(check_private_key(enc).is_err());
    }

    #[test]
    fn known_hosts_lines_need_hosts_type_and_key() {
        assert!(check_known_hosts("# comment\n[127.0.0.1]:2222 ssh-ed25519 AAAAC3\n").is_ok());
        let err = check_known_hosts("example.com ssh-ed25519").unwrap_err();
        assert!(err.to_string().contains("line 1"), "{err}");
    }
}
