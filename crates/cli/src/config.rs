//! Where the client finds its server: `CORRAL_URL` and `CORRAL_TOKEN`, or the
//! file `corral up` and `corral login` write.

use std::fs;
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use serde::{Deserialize, Serialize};

/// The server a client talks to and the token it presents.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientConfig {
    pub url: String,
    pub token: String,
    /// The CA pinned for `url` (PEM): the only one its certificate may
    /// chain to. Saved by `corral up` and on `corral login`'s first contact.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub ca_pem: String,
    /// Its fingerprint, as shown on first contact.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub ca_fingerprint: String,
}

impl ClientConfig {
    /// A client of this server, trusting its pinned CA only.
    pub fn client(&self) -> anyhow::Result<corral_api::Client> {
        let trust = if self.ca_pem.is_empty() {
            if self.url.starts_with("https://") {
                bail!(
                    "no CA is pinned for {}: run `corral login {} --username NAME` (it shows the CA's fingerprint to check), or set {CA_FILE_VAR}",
                    self.url,
                    self.url
                );
            }
            corral_api::Trust::default()
        } else {
            corral_api::Trust::pinned(&self.ca_pem)
        };
        Ok(corral_api::Client::with_trust(
            &self.url,
            &self.token,
            trust,
        )?)
    }
}

pub const URL_VAR: &str = "CORRAL_URL";
pub const TOKEN_VAR: &str = "CORRAL_TOKEN";
/// A PEM file with the CA to trust, for `CORRAL_URL`'s server.
pub const CA_FILE_VAR: &str = "CORRAL_CA_FILE";

/// The CA in `CORRAL_CA_FILE`, if set.
fn ca_from_env(env: Lookup<'_>) -> anyhow::Result<Option<(String, String)>> {
    let Some(path) = var(env, CA_FILE_VAR) else {
        return Ok(None);
    };
    let pem = fs::read_to_string(&path).with_context(|| format!("{CA_FILE_VAR}={path}"))?;
    let fingerprint = corral_pki::fingerprint_of_pem(&pem)
        .map_err(|e| anyhow::anyhow!("{CA_FILE_VAR}={path}: {e}"))?;
    Ok(Some((pem, fingerprint)))
}

/// Reads a process environment variable; tests pass their own.
type Lookup<'a> = &'a dyn Fn(&str) -> Option<String>;

pub(crate) fn process_env(key: &str) -> Option<String> {
    std::env::var(key).ok()
}

/// A variable's value, treating empty as unset.
fn var(env: Lookup<'_>, key: &str) -> Option<String> {
    env(key).filter(|v| !v.is_empty())
}

/// `$XDG_<kind>_HOME/corral`, or `~/<fallback>/corral`.
pub(crate) fn xdg_dir(env: Lookup<'_>, xdg_var: &str, fallback: &str) -> PathBuf {
    if let Some(dir) = var(env, xdg_var)
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
    {
        return dir.join("corral");
    }
    let home = var(env, "HOME").map(PathBuf::from).unwrap_or_default();
    home.join(fallback).join("corral")
}

/// `$XDG_CONFIG_HOME/corral/config.json`, or `~/.config/corral/config.json`.
pub fn config_path() -> PathBuf {
    config_path_in(&process_env)
}

fn config_path_in(env: Lookup<'_>) -> PathBuf {
    xdg_dir(env, "XDG_CONFIG_HOME", ".config").join("config.json")
}

/// Writes `config` to [`config_path`], readable by its owner only, and returns the path.
pub fn save(config: &ClientConfig) -> anyhow::Result<PathBuf> {
    let path = config_path();
    save_to(&path, config)?;
    Ok(path)
}

fn save_to(path: &Path, config: &ClientConfig) -> anyhow::Result<()> {
    if let Some(dir) = path.parent() {
        fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    let mut body = serde_json::to_vec_pretty(config).context("cannot encode the client config")?;
    body.push(b'\n');
    // Write a sibling file and rename it over, so a reader never sees half a file.
    let tmp = path.with_extension("json.tmp");
    let write = || -> std::io::Result<()> {
        let mut file = fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&tmp)?;
        // `mode` applies only when the file is created; tighten a leftover one too.
        file.set_permissions(fs::Permissions::from_mode(0o600))?;
        file.write_all(&body)?;
        file.sync_all()?;
        fs::rename(&tmp, path)
    };
    write().with_context(|| format!("cannot write {}", path.display()))
}

/// The server to talk to: `CORRAL_URL` and `CORRAL_TOKEN` win over the config
/// file, each for its own field.
pub fn resolve() -> anyhow::Result<ClientConfig> {
    resolve_in(&process_env)
}

fn resolve_in(env: Lookup<'_>) -> anyhow::Result<ClientConfig> {
    let url = var(env, URL_VAR);
    let token = var(env, TOKEN_VAR);
    let env_ca = ca_from_env(env)?;
    let path = config_path_in(env);
    if let (Some(url), Some(token)) = (&url, &token) {
        // The saved CA still holds for the saved server.
        let (ca_pem, ca_fingerprint) = match env_ca {
            Some(ca) => ca,
            None => match load_from(&path).ok().flatten() {
                Some(saved) if saved.url == *url => (saved.ca_pem, saved.ca_fingerprint),
                _ => Default::default(),
            },
        };
        return Ok(ClientConfig {
            url: url.clone(),
            token: token.clone(),
            ca_pem,
            ca_fingerprint,
        });
    }
    let text = match fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let missing = match (&url, &token) {
                (Some(_), None) => format!("{TOKEN_VAR} is not set"),
                (None, Some(_)) => format!("{URL_VAR} is not set"),
                _ => "no corral server is configured".to_string(),
            };
            bail!(
                "{missing} and {} does not exist: run `corral login URL --username NAME` \
                 or `corral up`, or set {URL_VAR} and {TOKEN_VAR}",
                path.display()
            );
        }
        Err(e) => bail!("cannot read {}: {e}", path.display()),
    };
    let file: ClientConfig = serde_json::from_str(&text).map_err(|e| {
        anyhow::anyhow!(
            "{} is not a valid client config: {e} (run `corral up` to write it again)",
            path.display()
        )
    })?;
    let same_server = url.as_ref().is_none_or(|u| *u == file.url);
    let (ca_pem, ca_fingerprint) = match env_ca {
        Some(ca) => ca,
        None if same_server => (file.ca_pem, file.ca_fingerprint),
        None => Default::default(),
    };
    let config = ClientConfig {
        url: url.unwrap_or(file.url),
        token: token.unwrap_or(file.token),
        ca_pem,
        ca_fingerprint,
    };
    if config.token.is_empty() {
        bail!(
            "not logged in to {}: run `corral login {} --username NAME`, or set {TOKEN_VAR}",
            config.url,
            config.url
        );
    }
    Ok(config)
}

/// The config file as saved, if there is one (the environment variables
/// play no part).
pub fn load_saved() -> anyhow::Result<Option<ClientConfig>> {
    load_from(&config_path())
}

fn load_from(path: &Path) -> anyhow::Result<Option<ClientConfig>> {
    match fs::read_to_string(path) {
        Ok(text) => serde_json::from_str(&text)
            .map(Some)
            .map_err(|e| anyhow::anyhow!("{} is not a valid client config: {e}", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => bail!("cannot read {}: {e}", path.display()),
    }
}

/// Removes `token` from the saved config, keeping its URL; returns the
/// file's path when it held that token (and so was changed).
pub fn forget_token(token: &str) -> anyhow::Result<Option<PathBuf>> {
    let path = config_path();
    Ok(forget_token_at(&path, token)?.then_some(path))
}

fn forget_token_at(path: &Path, token: &str) -> anyhow::Result<bool> {
    match load_from(path)? {
        Some(mut saved) if !token.is_empty() && saved.token == token => {
            saved.token.clear();
            save_to(path, &saved)?;
            Ok(true)
        }
        _ => Ok(false),
    }
}

/// Whether `CORRAL_TOKEN` is set (it wins over the saved token).
pub fn token_from_env() -> bool {
    var(&process_env, TOKEN_VAR).is_some()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    /// A fake process environment (the real one is global and `set_var` is unsafe).
    struct FakeEnv(HashMap<String, String>);

    impl FakeEnv {
        fn new(pairs: &[(&str, &str)]) -> Self {
            FakeEnv(
                pairs
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
            )
        }
        fn get(&self, key: &str) -> Option<String> {
            self.0.get(key).cloned()
        }
    }

    fn config(url: &str, token: &str) -> ClientConfig {
        ClientConfig {
            url: url.into(),
            token: token.into(),
            ca_pem: String::new(),
            ca_fingerprint: String::new(),
        }
    }

    #[test]
    fn config_path_follows_xdg_then_home() {
        let env = FakeEnv::new(&[("XDG_CONFIG_HOME", "/x/cfg"), ("HOME", "/home/u")]);
        assert_eq!(
            config_path_in(&|k| env.get(k)),
            PathBuf::from("/x/cfg/corral/config.json")
        );
        let env = FakeEnv::new(&[("HOME", "/home/u")]);
        assert_eq!(
            config_path_in(&|k| env.get(k)),
            PathBuf::from("/home/u/.config/corral/config.json")
        );
        // A relative XDG dir is ignored, as the XDG spec says.
        let env = FakeEnv::new(&[("XDG_CONFIG_HOME", "rel"), ("HOME", "/home/u")]);
        assert_eq!(
            config_path_in(&|k| env.get(k)),
            PathBuf::from("/home/u/.config/corral/config.json")
        );
    }

    #[test]
    fn saved_config_is_private_and_reads_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("corral").join("config.json");
        save_to(&path, &config("http://a:1", "secret")).unwrap();
        let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let xdg = dir.path().to_str().unwrap();
        let env = FakeEnv::new(&[("XDG_CONFIG_HOME", xdg)]);
        assert_eq!(
            resolve_in(&|k| env.get(k)).unwrap(),
            config("http://a:1", "secret")
        );
        // Saving again replaces it and keeps it private.
        save_to(&path, &config("http://b:2", "other")).unwrap();
        assert_eq!(resolve_in(&|k| env.get(k)).unwrap().url, "http://b:2");
        assert_eq!(
            fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }

    #[test]
    fn env_vars_win_over_the_config_file() {
        let dir = tempfile::tempdir().unwrap();
        save_to(
            &dir.path().join("corral/config.json"),
            &config("http://file", "file-token"),
        )
        .unwrap();
        let xdg = dir.path().to_str().unwrap();
        let both = FakeEnv::new(&[
            ("XDG_CONFIG_HOME", xdg),
            (URL_VAR, "http://env"),
            (TOKEN_VAR, "env-token"),
        ]);
        assert_eq!(
            resolve_in(&|k| both.get(k)).unwrap(),
            config("http://env", "env-token")
        );
        let url_only = FakeEnv::new(&[("XDG_CONFIG_HOME", xdg), (URL_VAR, "http://env")]);
        assert_eq!(
            resolve_in(&|k| url_only.get(k)).unwrap(),
            config("http://env", "file-token")
        );
        let empty = FakeEnv::new(&[("XDG_CONFIG_HOME", xdg), (URL_VAR, "")]);
        assert_eq!(
            resolve_in(&|k| empty.get(k)).unwrap(),
            config("http://file", "file-token")
        );
    }

    #[test]
    fn env_vars_alone_need_no_config_file() {
        let env = FakeEnv::new(&[
            ("XDG_CONFIG_HOME", "/nonexistent/corral-test"),
            (URL_VAR, "http://env"),
            (TOKEN_VAR, "t"),
        ]);
        assert_eq!(
            resolve_in(&|k| env.get(k)).unwrap(),
            config("http://env", "t")
        );
    }

    #[test]
    fn missing_config_tells_the_user_what_to_do() {
        let dir = tempfile::tempdir().unwrap();
        let xdg = dir.path().to_str().unwrap();
        let env = FakeEnv::new(&[("XDG_CONFIG_HOME", xdg)]);
        let msg = resolve_in(&|k| env.get(k)).unwrap_err().to_string();
        assert!(
            msg.contains("corral up") && msg.contains(URL_VAR) && msg.contains(TOKEN_VAR),
            "{msg}"
        );
        let env = FakeEnv::new(&[("XDG_CONFIG_HOME", xdg), (URL_VAR, "http://x")]);
        let msg = resolve_in(&|k| env.get(k)).unwrap_err().to_string();
        assert!(msg.starts_with("CORRAL_TOKEN is not set"), "{msg}");
    }

    #[test]
    fn a_config_without_a_token_asks_for_a_login() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("corral/config.json");
        save_to(&path, &config("http://a:1", "")).unwrap();
        let env = FakeEnv::new(&[("XDG_CONFIG_HOME", dir.path().to_str().unwrap())]);
        let msg = resolve_in(&|k| env.get(k)).unwrap_err().to_string();
        assert!(
            msg.starts_with("not logged in to http://a:1: run `corral login http://a:1"),
            "{msg}"
        );
    }

    #[test]
    fn forgetting_the_token_keeps_the_url_and_leaves_other_tokens() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("corral/config.json");
        assert!(
            !forget_token_at(&path, "t").unwrap(),
            "no file: nothing to do"
        );
        save_to(&path, &config("http://a:1", "mine")).unwrap();
        assert!(!forget_token_at(&path, "other").unwrap());
        assert!(!forget_token_at(&path, "").unwrap());
        assert_eq!(
            load_from(&path).unwrap(),
            Some(config("http://a:1", "mine"))
        );
        assert!(forget_token_at(&path, "mine").unwrap());
        assert_eq!(load_from(&path).unwrap(), Some(config("http://a:1", "")));
        assert_eq!(
            fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }

    #[test]
    fn corrupt_config_names_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("corral/config.json");
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(&path, "{not json").unwrap();
        let xdg = dir.path().to_str().unwrap();
        let env = FakeEnv::new(&[("XDG_CONFIG_HOME", xdg)]);
        let msg = resolve_in(&|k| env.get(k)).unwrap_err().to_string();
        assert!(
            msg.contains("config.json") && msg.contains("not a valid client config"),
            "{msg}"
        );
    }
}
