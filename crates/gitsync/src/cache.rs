//! The cache directory: its bare repository and its checked-out trees.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use gix::ObjectId;

use crate::credentials::SSH_BASE;
use crate::{Limits, SyncError, tree};

/// Configuration applied to the cache's repository in memory, whatever the
/// user's git configuration says: no credential helper or prompt is run, and
/// the ssh program is known to be OpenSSH (no `ssh -G` probe). The ssh
/// command itself is [`SSH_BASE`], or the one a fetch with a key gives.
const OVERRIDES: &[&str] = &["credential.interactive=false", "ssh.variant=ssh"];

/// Opens the cache's bare repository, ignoring the environment and the
/// user's and system's git configuration.
pub(crate) fn open_repo(repo_dir: &Path) -> Result<gix::Repository, gix::Error> {
    open_repo_with_ssh(repo_dir, None)
}

/// [`open_repo`], with `ssh_command` as `core.sshCommand` instead of
/// [`SSH_BASE`] (ssh never prompts and gives up on a dead host or a
/// connection that went quiet). gix runs it through `sh -c`.
pub(crate) fn open_repo_with_ssh(
    repo_dir: &Path,
    ssh_command: Option<&str>,
) -> Result<gix::Repository, gix::Error> {
    let ssh = format!("core.sshCommand={}", ssh_command.unwrap_or(SSH_BASE));
    let overrides = OVERRIDES.iter().map(|s| (*s).to_owned()).chain([ssh]);
    let options = gix::open::Options::isolated()
        .config_overrides(overrides)
        .strict_config(false);
    gix::open_opts(repo_dir, options)
}

/// Each fetch adds a pack and nothing repacks them; past this many the
/// repository is cloned afresh rather than let lookups slow down.
pub(crate) const MAX_PACKS: usize = 64;

/// Makes sure `repo_dir` holds a usable bare repository: created when
/// missing, recreated when it can no longer be opened or has gathered more
/// than [`MAX_PACKS`] packs.
pub(crate) fn ensure_repo(repo_dir: &Path) -> Result<(), SyncError> {
    if repo_dir.exists() {
        let packs = count_packs(repo_dir);
        if packs <= MAX_PACKS && open_repo(repo_dir).is_ok() {
            return Ok(());
        }
        tracing::info!(dir = %repo_dir.display(), packs, "recreating the catalog cache repository");
        fs::remove_dir_all(repo_dir).map_err(|e| SyncError::cache(repo_dir, e))?;
    }
    if let Some(parent) = repo_dir.parent() {
        fs::create_dir_all(parent).map_err(|e| SyncError::cache(parent, e))?;
    }
    gix::init_bare(repo_dir).map_err(|e| SyncError::cache(repo_dir, e))?;
    Ok(())
}

fn count_packs(repo_dir: &Path) -> usize {
    fs::read_dir(repo_dir.join("objects").join("pack")).map_or(0, |entries| {
        entries
            .flatten()
            .filter(|e| e.path().extension().is_some_and(|x| x == "pack"))
            .count()
    })
}

/// The tree written for a sync.
pub(crate) struct Written {
    pub dir: PathBuf,
    pub skipped: Vec<String>,
}

/// Writes `commit`'s files to `CACHE/trees/<commit>` unless they are there
/// already, records it as current and removes every tree but it and the
/// previous one.
pub(crate) fn checkout(
    repo: &gix::Repository,
    url: &str,
    branch: &str,
    commit: ObjectId,
    cache_dir: &Path,
    limits: &Limits,
) -> Result<Written, SyncError> {
    let trees = cache_dir.join("trees");
    fs::create_dir_all(&trees).map_err(|e| SyncError::cache(&trees, e))?;
    let hex = commit.to_string();
    let dir = trees.join(&hex);
    let marker = trees.join(format!(".skipped-{hex}"));
    let skipped = if dir.is_dir() {
        read_skipped(&marker)
    } else {
        let tmp = trees.join(format!(".tmp-{hex}-{}", unique_suffix()));
        let result = tree::write_commit(repo, url, commit, &tmp, limits);
        let skipped = match result {
            Ok(skipped) => skipped,
            Err(e) => {
                let _ = fs::remove_dir_all(&tmp);
                return Err(e);
            }
        };
        write_atomically(&marker, skipped.join("\n").as_bytes())?;
        if let Err(e) = fs::rename(&tmp, &dir) {
            let _ = fs::remove_dir_all(&tmp);
            // Another writer may have put the same tree in place first.
            if !dir.is_dir() {
                return Err(SyncError::cache(&dir, e));
            }
        }
        skipped
    };
    let current_file = cache_dir.join("current");
    let previous = read_current(cache_dir).map(|(commit, _)| commit);
    write_atomically(&current_file, format!("{hex}\n{branch}\n").as_bytes())?;
    prune(&trees, &hex, previous.as_deref());
    Ok(Written { dir, skipped })
}

/// The commit and branch of the last successful sync, from `CACHE/current`.
pub(crate) fn read_current(cache_dir: &Path) -> Option<(String, String)> {
    let text = fs::read_to_string(cache_dir.join("current")).ok()?;
    let mut lines = text.lines();
    let commit = lines.next()?.trim().to_owned();
    let branch = lines.next().unwrap_or("HEAD").trim().to_owned();
    let valid = commit.len() == 40 && commit.bytes().all(|b| b.is_ascii_hexdigit());
    valid.then_some((commit, branch))
}

/// The last checkout still on disk, without touching the network.
pub(crate) fn last_checkout(cache_dir: &Path) -> Option<crate::Checkout> {
    let (commit, branch) = read_current(cache_dir)?;
    let trees = cache_dir.join("trees");
    let dir = trees.join(&commit);
    if !dir.is_dir() {
        return None;
    }
    let fetched_at = fs::metadata(cache_dir.join("current"))
        .and_then(|m| m.modified())
        .ok()?;
    let skipped = read_skipped(&trees.join(format!(".skipped-{commit}")));
    Some(crate::Checkout {
        commit,
        branch,
        dir,
        fetched_at,
        skipped,
    })
}

pub(crate) fn read_skipped(marker: &Path) -> Vec<String> {
    fs::read_to_string(marker)
        .map(|s| {
            s.lines()
                .filter(|l| !l.is_empty())
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

/// Removes every tree (and leftover temporary directory) but `keep` and
/// `previous`. A tree that cannot be removed is left for the next sync.
fn prune(trees: &Path, keep: &str, previous: Option<&str>) {
    let Ok(entries) = fs::read_dir(trees) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let kept_tree = |c: &str| name == c || name == format!(".skipped-{c}");
        if kept_tree(keep) || previous.is_some_and(kept_tree) {
            continue;
        }
        let path = entry.path();
        let removed = if path.is_dir() {
            fs::remove_dir_all(&path)
        } else {
            fs::remove_file(&path)
        };
        if let Err(e) = removed {
            tracing::warn!(path = %path.display(), error = %e, "could not remove an old catalog tree");
        }
    }
}

/// Writes `bytes` to `path` through a temporary file and a rename.
fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), SyncError> {
    let tmp = path.with_extension(format!("tmp-{}", unique_suffix()));
    let result: io::Result<()> = fs::write(&tmp, bytes).and_then(|()| fs::rename(&tmp, path));
    result.map_err(|e| {
        let _ = fs::remove_file(&tmp);
        SyncError::cache(path, e)
    })
}

fn unique_suffix() -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!("{}-{nanos}", std::process::id())
}
