//! Credentials for private repositories: checking that they suit the URL,
//! answering gix's request for an https account, and the files that ssh
//! reads during one fetch.

use std::fmt;
use std::fs;
use std::io::Write as _;
use std::os::unix::fs::{OpenOptionsExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};

use gix::error::ErrorExt as _;
use gix::url::Scheme;

use crate::SyncError;
use crate::error::AuthRefused;
use crate::url::CheckedUrl;

/// How to authenticate to a private repository.
#[derive(Clone, PartialEq, Eq)]
pub enum Credentials {
    /// https: HTTP basic authentication with a user name and a password or
    /// token (GitHub/GitLab personal access tokens work this way). Refused
    /// for plain http:// URLs (SyncError::InvalidUrl naming the URL).
    Password {
        /// The account's user name.
        username: String,
        /// Its password or access token.
        password: String,
    },
    /// ssh: a private key (OpenSSH or PEM text, unencrypted), and the host
    /// keys to trust as known_hosts lines. Empty `known_hosts`: the first
    /// key the host shows is kept in the cache directory and later ones must
    /// match (ssh's `StrictHostKeyChecking=accept-new`).
    SshKey {
        /// The private key, as the text of an OpenSSH or PEM key file.
        private_key: String,
        /// Lines of an ssh `known_hosts` file; empty to trust the first key seen.
        known_hosts: String,
    },
}

impl fmt::Debug for Credentials {
    /// Never shows the password or the key.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Credentials::Password { username, .. } => f
                .debug_struct("Password")
                .field("username", username)
                .field("password", &"***")
                .finish(),
            Credentials::SshKey { known_hosts, .. } => f
                .debug_struct("SshKey")
                .field("private_key", &"***")
                .field("known_hosts", known_hosts)
                .finish(),
        }
    }
}

/// Refuses credentials that do not go with the URL's transport, or that
/// cannot be used at all. Messages never quote a password or a key.
pub(crate) fn check(url: &CheckedUrl, credentials: Option<&Credentials>) -> Result<(), SyncError> {
    let Some(credentials) = credentials else {
        return Ok(());
    };
    let invalid = |reason: &str| SyncError::InvalidUrl {
        url: url.display.clone(),
        reason: reason.to_owned(),
    };
    match (credentials, &url.scheme) {
        (Credentials::Password { username, .. }, Scheme::Https) => {
            if username.contains(':') || username.chars().any(char::is_control) {
                return Err(invalid(
                    "the user name of its credentials has a ':' or a control character",
                ));
            }
            Ok(())
        }
        (Credentials::Password { .. }, Scheme::Http) => Err(invalid(
            "a password is never sent over plain http: use an https:// URL",
        )),
        (Credentials::Password { .. }, _) => Err(invalid(
            "a user name and password go with https:// URLs; an ssh URL takes an ssh key",
        )),
        (Credentials::SshKey { private_key, .. }, Scheme::Ssh) => {
            let key = private_key.trim();
            if !(key.starts_with("-----BEGIN ") && key.contains("PRIVATE KEY-----")) {
                return Err(invalid(
                    "its ssh key is not a private key in OpenSSH or PEM form \
                     (\"-----BEGIN … PRIVATE KEY-----\")",
                ));
            }
            if key.contains("ENCRYPTED") {
                return Err(invalid(
                    "its ssh key is protected by a passphrase; give an unencrypted key",
                ));
            }
            Ok(())
        }
        (Credentials::SshKey { .. }, _) => Err(invalid(
            "an ssh key goes with ssh URLs (ssh://… or user@host:path); \
             an https URL takes a user name and password or token",
        )),
    }
}

/// The answer to gix's request for credentials: `account` for a request
/// about the source's own host, a refusal otherwise (and always a refusal
/// when there is no account). Approvals and rejections are not kept.
pub(crate) fn answer(
    url: &CheckedUrl,
    account: Option<(String, String)>,
) -> impl FnMut(
    gix::credentials::helper::Action,
) -> gix::Result<Option<gix::credentials::protocol::Outcome>>
+ use<> {
    let ours = host_and_port(url.raw.as_bytes());
    move |action| match action {
        gix::credentials::helper::Action::Get(ctx) => {
            let Some((username, password)) = &account else {
                return Err(AuthRefused.raise());
            };
            // Never hand the account to another host (after a redirect).
            let asked = ctx.url.as_ref().and_then(|u| host_and_port(u.as_ref()));
            if asked.is_some() && asked != ours {
                return Err(AuthRefused.raise());
            }
            Ok(Some(gix::credentials::protocol::Outcome {
                identity: gix::sec::identity::Account {
                    username: username.clone(),
                    password: password.clone(),
                    oauth_refresh_token: None,
                },
                next: ctx.into(),
            }))
        }
        _ => Ok(None),
    }
}

fn host_and_port(url: &[u8]) -> Option<(String, Option<u16>)> {
    let parsed = gix::url::parse(gix::bstr::BStr::new(url)).ok()?;
    Some((
        parsed.host()?.to_ascii_lowercase(),
        parsed.port_or_default(),
    ))
}

/// Options every ssh run gets: it never prompts and gives up on a dead host
/// or a connection that went quiet.
pub(crate) const SSH_BASE: &str =
    "ssh -o BatchMode=yes -o ConnectTimeout=30 -o ServerAliveInterval=15 -o ServerAliveCountMax=4";

/// The files ssh reads during one fetch with a key, under `CACHE/ssh/`:
/// the key (removed when this is dropped), the host keys given (likewise) or
/// the host keys kept from earlier fetches, and ssh's log (likewise).
pub(crate) struct SshFiles {
    dir: PathBuf,
    key: PathBuf,
    pinned: Option<PathBuf>,
    log: PathBuf,
    /// The `core.sshCommand` that uses them.
    pub command: String,
}

impl SshFiles {
    /// Writes the key (0600) and the given host keys into `CACHE/ssh` (0700).
    pub(crate) fn write(
        cache_dir: &Path,
        private_key: &str,
        known_hosts: &str,
    ) -> Result<SshFiles, SyncError> {
        let dir = cache_dir.join("ssh");
        let unusable = |what: &str| {
            SyncError::cache(
                &dir,
                std::io::Error::other(format!("a cache path with {what} cannot be handed to ssh")),
            )
        };
        let text = dir
            .to_str()
            .ok_or_else(|| unusable("non-UTF-8 characters"))?;
        if text.contains('\'') {
            return Err(unusable("a single quote"));
        }
        if text.chars().any(char::is_control) {
            return Err(unusable("a control character"));
        }
        fs::create_dir_all(&dir).map_err(|e| SyncError::cache(&dir, e))?;
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o700))
            .map_err(|e| SyncError::cache(&dir, e))?;
        let pinned = !known_hosts.trim().is_empty();
        // From here on the guard removes whatever was written.
        let mut files = SshFiles {
            key: dir.join("key"),
            pinned: pinned.then(|| dir.join("pinned_known_hosts")),
            log: dir.join("log"),
            command: String::new(),
            dir,
        };
        files.remove_all();
        write_private(&files.key, &key_file_text(private_key))?;
        let known = match &files.pinned {
            Some(path) => {
                write_private(path, &with_final_newline(known_hosts))?;
                path.clone()
            }
            None => files.dir.join("known_hosts"),
        };
        let strict = if pinned { "yes" } else { "accept-new" };
        files.command = format!(
            "{SSH_BASE} -i {key} -o IdentitiesOnly=yes -o IdentityAgent=none \
             -o UserKnownHostsFile={known} -o GlobalKnownHostsFile=/dev/null \
             -o StrictHostKeyChecking={strict} -E {log}",
            key = shell_quote(&files.key)?,
            known = shell_quote(&known)?,
            log = shell_quote(&files.log)?,
        );
        Ok(files)
    }

    /// Where ssh writes its messages (with `-E`).
    pub(crate) fn log_path(&self) -> PathBuf {
        self.log.clone()
    }

    /// Whether the host keys were given rather than kept from a first fetch.
    pub(crate) fn pinned(&self) -> bool {
        self.pinned.is_some()
    }

    fn remove_all(&self) {
        for path in [Some(&self.key), self.pinned.as_ref(), Some(&self.log)]
            .into_iter()
            .flatten()
        {
            if let Err(e) = fs::remove_file(path)
                && e.kind() != std::io::ErrorKind::NotFound
            {
                tracing::warn!(path = %path.display(), error = %e, "could not remove an ssh file of the catalog cache");
            }
        }
    }
}

impl Drop for SshFiles {
    fn drop(&mut self) {
        self.remove_all();
        // Gone too when it holds nothing else (no host keys kept).
        let _ = fs::remove_dir(&self.dir);
    }
}

/// Creates `path` afresh, readable by its owner only, with `text`.
fn write_private(path: &Path, text: &str) -> Result<(), SyncError> {
    let mut file = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| SyncError::cache(path, e))?;
    file.write_all(text.as_bytes())
        .and_then(|()| file.sync_all())
        .map_err(|e| SyncError::cache(path, e))
}

/// The key as ssh wants it: Unix line ends and a final newline.
fn key_file_text(key: &str) -> String {
    with_final_newline(&key.trim().replace("\r\n", "\n"))
}

fn with_final_newline(text: &str) -> String {
    let mut text = text.replace("\r\n", "\n");
    if !text.ends_with('\n') {
        text.push('\n');
    }
    text
}

/// `path` in single quotes for the shell that runs `core.sshCommand`.
pub(crate) fn shell_quote(path: &Path) -> Result<String, SyncError> {
    let refuse = |why: &str| {
        SyncError::cache(
            path,
            std::io::Error::other(format!("a cache path with {why} cannot be handed to ssh")),
        )
    };
    let text = path
        .to_str()
        .ok_or_else(|| refuse("non-UTF-8 characters"))?;
    if text.contains('\'') {
        return Err(refuse("a single quote"));
    }
    if text.chars().any(char::is_control) {
        return Err(refuse("a control character"));
    }
    Ok(format!("'{text}'"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn checked(url: &str) -> CheckedUrl {
        crate::url::check(url).unwrap()
    }

    fn password() -> Credentials {
        Credentials::Password {
            username: "bob".into(),
            password: "hunter2-secret".into(),
        }
    }

    const KEY: &str = "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAAsecretbits\n-----END OPENSSH PRIVATE KEY-----\n";

    fn key() -> Credentials {
        Credentials::SshKey {
            private_key: KEY.into(),
            known_hosts: "[127.0.0.1]:2222 ssh-ed25519 AAAAC3Nz".into(),
        }
    }

    #[test]
    fn debug_never_shows_the_password_or_the_key() {
        let text = format!("{:?}", password());
        assert!(text.contains("bob") && !text.contains("hunter2"), "{text}");
        let text = format!("{:?}", key());
        assert!(
            !text.contains("secretbits") && !text.contains("BEGIN"),
            "{text}"
        );
        assert!(text.contains("ssh-ed25519"), "{text}");
        let source = crate::Source {
            credentials: Some(password()),
            ..crate::Source::new("https://h/r")
        };
        assert!(!format!("{source:?}").contains("hunter2"));
    }

    #[test]
    fn each_credential_goes_with_its_own_transport() {
        assert!(check(&checked("https://h/r.git"), Some(&password())).is_ok());
        assert!(check(&checked("ssh://git@h/r.git"), Some(&key())).is_ok());
        assert!(check(&checked("git@h:r.git"), Some(&key())).is_ok());
        assert!(check(&checked("git://h/r"), None).is_ok());
        for (url, credentials, words) in [
            ("http://h/r.git", password(), "never sent over plain http"),
            ("ssh://git@h/r.git", password(), "go with https:// URLs"),
            ("git://h/r", password(), "go with https:// URLs"),
            ("file:///srv/r", password(), "go with https:// URLs"),
            ("https://h/r.git", key(), "an ssh key goes with ssh URLs"),
            ("git://h/r", key(), "an ssh key goes with ssh URLs"),
        ] {
            let err = check(&checked(url), Some(&credentials)).unwrap_err();
            let text = err.to_string();
            assert!(
                matches!(err, SyncError::InvalidUrl { .. }),
                "{url}: {err:?}"
            );
            assert!(text.contains(url) && text.contains(words), "{url}: {text}");
            assert!(!text.contains("hunter2") && !text.contains("secretbits"));
        }
    }

    #[test]
    fn a_key_that_is_not_a_private_key_or_is_encrypted_is_refused_without_quoting_it() {
        for (private_key, words) in [
            ("ssh-ed25519 AAAAC3secretbits bob@h", "not a private key"),
            (
                "-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nsecretbits\n-----END RSA PRIVATE KEY-----",
                "passphrase",
            ),
        ] {
            let credentials = Credentials::SshKey {
                private_key: private_key.into(),
                known_hosts: String::new(),
            };
            let text = check(&checked("ssh://h/r"), Some(&credentials))
                .unwrap_err()
                .to_string();
            assert!(text.contains(words), "{text}");
            assert!(!text.contains("secretbits"), "{text}");
        }
    }

    #[test]
    fn paths_are_single_quoted_and_a_quote_in_the_path_is_refused() {
        assert_eq!(
            shell_quote(Path::new("/var/lib/corral/cache $x/ssh/key")).unwrap(),
            "'/var/lib/corral/cache $x/ssh/key'"
        );
        assert!(shell_quote(Path::new("/tmp/it's/key")).is_err());
        assert!(shell_quote(Path::new("/tmp/a\nb/key")).is_err());
        let tmp = std::env::temp_dir().join("gitsync-o'quote");
        let err = SshFiles::write(&tmp, KEY, "").err().unwrap().to_string();
        assert!(err.contains("single quote"), "{err}");
        assert!(!tmp.exists());
    }

    #[test]
    fn key_files_are_private_and_gone_when_dropped() {
        let tmp = std::env::temp_dir().join(format!("gitsync-unit-{}", std::process::id()));
        let _ = fs::remove_dir_all(&tmp);
        let files =
            SshFiles::write(&tmp, &KEY.replace('\n', "\r\n"), "h ssh-ed25519 AAAA").unwrap();
        let key = tmp.join("ssh/key");
        let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&tmp.join("ssh")), 0o700);
        assert_eq!(mode(&key), 0o600);
        assert_eq!(fs::read_to_string(&key).unwrap(), KEY);
        assert!(
            files.command.contains("StrictHostKeyChecking=yes"),
            "{}",
            files.command
        );
        assert!(files.command.contains(&format!("-i '{}'", key.display())));
        assert!(!files.command.contains("secretbits"));
        drop(files);
        assert!(!tmp.join("ssh").exists());
        let files = SshFiles::write(&tmp, KEY, "").unwrap();
        assert!(files.command.contains("StrictHostKeyChecking=accept-new"));
        fs::write(tmp.join("ssh/known_hosts"), "kept").unwrap();
        drop(files);
        assert!(!key.exists());
        assert!(tmp.join("ssh/known_hosts").is_file());
        fs::remove_dir_all(&tmp).unwrap();
    }

    #[test]
    fn the_account_goes_only_to_the_sources_host() {
        let url = checked("https://git.example.com/r.git");
        let mut ask = answer(&url, Some(("bob".into(), "pw".into())));
        let get = |u: &str| {
            gix::credentials::helper::Action::Get(gix::credentials::protocol::Context {
                url: Some(u.into()),
                ..Default::default()
            })
        };
        let outcome = ask(get("https://git.example.com/r.git")).unwrap().unwrap();
        assert_eq!(outcome.identity.username, "bob");
        assert_eq!(outcome.identity.password, "pw");
        assert!(ask(get("https://elsewhere.example.com/r.git")).is_err());
        let mut refuse = answer(&url, None);
        assert!(refuse(get("https://git.example.com/r.git")).is_err());
    }
}
