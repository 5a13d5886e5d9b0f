//! Secrets and configs on the node: the values of the secrets and configs
//! an instance mounts are fetched from the server when it launches (the
//! server hands them only to the agent of the node the instance is placed
//! on), written as files on a tmpfs (never the host's disk: configs need
//! not be, but sharing the secrets' per-instance directory costs nothing)
//! with the mount's owner and mode, and bind-mounted read-only into the
//! container at the mount's path (`/run/secrets/NAME`, `/NAME` for a
//! config, or the target). The container's configuration holds only the
//! path. The files go when the instance does. A secret delivered as an
//! environment variable (a catalog app's password answer, which the
//! template reads from the environment) is set in the container's
//! environment instead, as Kubernetes' `secretKeyRef` does: it is then in
//! the engine's container configuration, but in no spec of the store.

use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use corral_engine::{EngineError, Mount, MountKind};
use corral_types::{Instance, SecretValue};

use crate::Shared;

/// `/proc/self/mountinfo`'s file system type for `path` (the mount with
/// the longest mount point that contains it).
pub fn fs_type(mountinfo: &str, path: &Path) -> Option<String> {
    let mut best: Option<(usize, String)> = None;
    for line in mountinfo.lines() {
        let fields: Vec<&str> = line.split(' ').collect();
        let Some(dash) = fields.iter().position(|f| *f == "-") else {
            continue;
        };
        let (Some(point), Some(fstype)) = (fields.get(4), fields.get(dash + 1)) else {
            continue;
        };
        let point = point.replace("\\040", " ");
        if path.starts_with(&point) && best.as_ref().is_none_or(|(len, _)| point.len() >= *len) {
            best = Some((point.len(), (*fstype).to_string()));
        }
    }
    best.map(|(_, t)| t)
}

fn is_tmpfs(path: &Path) -> bool {
    let Ok(info) = std::fs::read_to_string("/proc/self/mountinfo") else {
        return false;
    };
    let Ok(path) = path.canonicalize() else {
        return false;
    };
    fs_type(&info, &path).as_deref() == Some("tmpfs")
}

fn engine_error(message: String) -> EngineError {
    EngineError::Api {
        operation: "delivering secrets and configs",
        message,
    }
}

/// The tmpfs directory this node keeps secrets in: `<state dir>/secrets`
/// when an operator mounted a tmpfs there, else a directory of `/dev/shm`
/// (a tmpfs on every Linux system). The agent mounts nothing itself: a
/// mount it made would outlive it and hold its state directory busy.
fn root(shared: &Shared) -> Result<PathBuf, EngineError> {
    let mut candidates = Vec::new();
    if let Some(dir) = &shared.options.state_dir {
        candidates.push(dir.join("secrets"));
    }
    candidates.push(PathBuf::from(shm_dir(
        shared.cluster(),
        &shared.options.environment,
        &shared.options.name,
    )));
    for dir in &candidates {
        // A state directory's `secrets` is used only if it already is a
        // tmpfs; creating it on disk would be a place for values to land.
        let exists_or_shm = dir.exists() || dir.starts_with("/dev/shm");
        if !exists_or_shm || make_private_dir(dir).is_err() {
            continue;
        }
        if is_tmpfs(dir) {
            return Ok(dir.clone());
        }
    }
    Err(engine_error(format!(
        "no tmpfs to keep secrets on (tried {}); secrets are never written to disk",
        candidates
            .iter()
            .map(|d| d.display().to_string())
            .collect::<Vec<_>>()
            .join(", ")
    )))
}

/// `/dev/shm/corral-secrets-<cluster>-<env>-<node>`: two installations
/// on one host, each with a node of the same name in an environment of the
/// same name, keep their secrets apart (and one's cleanup never removes the
/// other's files).
pub fn shm_dir(cluster: &str, environment: &str, node: &str) -> String {
    if cluster.is_empty() {
        format!("/dev/shm/corral-secrets-{environment}-{node}")
    } else {
        format!("/dev/shm/corral-secrets-{cluster}-{environment}-{node}")
    }
}

fn make_private_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
}

/// One file to write and mount.
struct FileMount<'a> {
    source: &'a str,
    path: String,
    mode: u32,
    uid: Option<u32>,
    gid: Option<u32>,
}

/// What an instance's container gets of its secrets and configs.
#[derive(Debug, Default)]
pub struct Prepared {
    /// The files, bind-mounted read-only.
    pub mounts: Vec<Mount>,
    /// `NAME=value` for each secret delivered as an environment variable
    /// (a catalog app's password answer).
    pub env: Vec<String>,
}

/// Writes the instance's secrets and configs and answers the mounts (and
/// variables) for its container (none when it uses neither).
pub async fn prepare(shared: &Shared, instance: &Instance) -> Result<Prepared, EngineError> {
    let launch = &instance.spec.launch;
    if launch.secrets.is_empty() && launch.configs.is_empty() {
        return Ok(Prepared::default());
    }
    let (env, node, name) = (
        &instance.meta.environment,
        &shared.options.name,
        &instance.meta.name,
    );
    let dir = root(shared)?.join(name);
    make_private_dir(&dir).map_err(|e| engine_error(format!("{}: {e}", dir.display())))?;
    let mut out = Prepared::default();
    if !launch.secrets.is_empty() {
        let values = shared
            .client
            .secret_values(env, node, name)
            .await
            .map_err(|e| engine_error(format!("fetching the secrets' values: {e}")))?;
        let (as_env, as_files): (Vec<_>, Vec<_>) =
            launch.secrets.iter().partition(|m| !m.env.is_empty());
        let files = as_files.into_iter().map(|m| FileMount {
            source: &m.source,
            path: m.container_path(),
            mode: m.file_mode(),
            uid: m.uid,
            gid: m.gid,
        });
        out.mounts
            .extend(write_files(&dir, "", files, &values.secrets)?);
        for m in as_env {
            let value = decoded(&values.secrets, &m.source)?;
            let text = String::from_utf8(value).map_err(|_| {
                engine_error(format!(
                    "secret {:?} is not text, and {} is an environment variable",
                    m.source, m.env
                ))
            })?;
            out.env.push(format!("{}={text}", m.env));
        }
    }
    if !launch.configs.is_empty() {
        let values = shared
            .client
            .config_values(env, node, name)
            .await
            .map_err(|e| engine_error(format!("fetching the configs' values: {e}")))?;
        let files = launch.configs.iter().map(|m| FileMount {
            source: &m.source,
            path: m.container_path(),
            mode: m.file_mode(),
            uid: m.uid,
            gid: m.gid,
        });
        out.mounts
            .extend(write_files(&dir, "config-", files, &values.configs)?);
    }
    Ok(out)
}

/// Writes each of `files` in `dir` (named `<prefix><i>-<source>`) with the
/// value the server sent for its source.
fn write_files<'a>(
    dir: &Path,
    prefix: &str,
    files: impl Iterator<Item = FileMount<'a>>,
    values: &[SecretValue],
) -> Result<Vec<Mount>, EngineError> {
    let mut out = Vec::new();
    for (i, m) in files.enumerate() {
        let bytes = decoded(values, m.source)?;
        let file = dir.join(format!("{prefix}{i}-{}", m.source));
        write_file(&file, &bytes, m.mode, m.uid, m.gid)
            .map_err(|e| engine_error(format!("{}: {e}", file.display())))?;
        out.push(Mount {
            kind: MountKind::Bind,
            source: file.display().to_string(),
            target: m.path,
            read_only: true,
        });
    }
    Ok(out)
}

/// The value the server sent for `source`, decoded.
fn decoded(values: &[SecretValue], source: &str) -> Result<Vec<u8>, EngineError> {
    let Some(v) = values.iter().find(|v| v.source == source) else {
        return Err(engine_error(format!(
            "the server sent no value for {source:?}"
        )));
    };
    B64.decode(&v.value)
        .map_err(|e| engine_error(format!("{source}: {e}")))
}

/// Writes beside and renames over, so a reader never sees half a value.
fn write_file(
    path: &Path,
    bytes: &[u8],
    mode: u32,
    uid: Option<u32>,
    gid: Option<u32>,
) -> std::io::Result<()> {
    let tmp = path.with_extension("new");
    let _ = std::fs::remove_file(&tmp);
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&tmp)?;
    f.write_all(bytes)?;
    if uid.is_some() || gid.is_some() {
        std::os::unix::fs::fchown(&f, uid, gid)?;
    }
    f.set_permissions(std::fs::Permissions::from_mode(mode))?;
    drop(f);
    std::fs::rename(&tmp, path)
}

/// Removes the instance's secret and config files (when it is gone from
/// the node).
pub async fn remove(shared: &Shared, instance: &Instance) {
    let launch = &instance.spec.launch;
    if launch.secrets.is_empty() && launch.configs.is_empty() {
        return;
    }
    if let Ok(root) = root(shared) {
        let dir = root.join(&instance.meta.name);
        if let Err(e) = std::fs::remove_dir_all(&dir)
            && e.kind() != std::io::ErrorKind::NotFound
        {
            tracing::warn!(
                "removing the secrets and configs of {}: {e}",
                instance.meta.name
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MOUNTINFO: &str = "\
22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw
23 22 0:5 / /dev/shm rw,nosuid,nodev shared:2 - tmpfs tmpfs rw
24 22 0:6 / /var/lib/corral/agent/secrets rw shared:3 - tmpfs tmpfs rw,mode=700
";

    #[test]
    fn the_secrets_directory_differs_per_cluster() {
        let a = shm_dir("3f9a0c12ab45", "default", "h1");
        let b = shm_dir("77e0d1c2b3a4", "default", "h1");
        assert_eq!(a, "/dev/shm/corral-secrets-3f9a0c12ab45-default-h1");
        assert_ne!(a, b);
    }

    #[test]
    fn the_file_system_of_a_path_is_that_of_its_deepest_mount() {
        let t = |p: &str| fs_type(MOUNTINFO, Path::new(p));
        assert_eq!(t("/dev/shm/corral-x").as_deref(), Some("tmpfs"));
        assert_eq!(
            t("/var/lib/corral/agent/secrets/web-1").as_deref(),
            Some("tmpfs")
        );
        assert_eq!(t("/var/lib/corral/agent").as_deref(), Some("ext4"));
        assert_eq!(t("/dev/shmx").as_deref(), Some("ext4"));
    }
}
