//! Writing one commit's files as a plain directory tree, within limits.

use std::fs;
use std::io::Write as _;
use std::path::Path;

use gix::ObjectId;
use gix::bstr::{BString, ByteSlice as _};
use gix::objs::tree::EntryKind;

use crate::{Limits, SyncError};

/// Walks the tree of `commit` and writes its regular files under `dest`
/// (which must not exist). Returns the paths that were skipped: symbolic
/// links and submodules.
pub(crate) fn write_commit(
    repo: &gix::Repository,
    url: &str,
    commit: ObjectId,
    dest: &Path,
    limits: &Limits,
) -> Result<Vec<String>, SyncError> {
    let tree_id = repo
        .find_commit(commit)
        .and_then(|c| c.tree_id().map(gix::Id::detach))
        .map_err(|e| SyncError::git(url, &e))?;
    fs::create_dir_all(dest).map_err(|e| SyncError::cache(dest, e))?;
    let mut writer = Writer {
        repo,
        url,
        commit,
        limits,
        files: 0,
        bytes: 0,
        skipped: Vec::new(),
    };
    writer.write_tree(tree_id, dest, "")?;
    Ok(writer.skipped)
}

struct Writer<'a> {
    repo: &'a gix::Repository,
    url: &'a str,
    commit: ObjectId,
    limits: &'a Limits,
    files: u64,
    bytes: u64,
    skipped: Vec<String>,
}

/// One entry of a tree, owned so that the walk can recurse.
struct Entry {
    name: BString,
    kind: EntryKind,
    id: ObjectId,
}

impl Writer<'_> {
    fn write_tree(&mut self, id: ObjectId, dir: &Path, prefix: &str) -> Result<(), SyncError> {
        for entry in self.entries(id)? {
            let name = self.safe_name(&entry.name, prefix)?;
            let rel = format!("{prefix}{name}");
            let path = dir.join(&name);
            match entry.kind {
                EntryKind::Tree => {
                    fs::create_dir(&path).map_err(|e| SyncError::cache(&path, e))?;
                    self.write_tree(entry.id, &path, &format!("{rel}/"))?;
                }
                EntryKind::Blob | EntryKind::BlobExecutable => {
                    let executable = entry.kind == EntryKind::BlobExecutable;
                    self.write_blob(entry.id, &path, &rel, executable)?;
                }
                EntryKind::Link => self.skipped.push(format!("{rel} (symlink)")),
                EntryKind::Commit => self.skipped.push(format!("{rel} (submodule)")),
            }
        }
        Ok(())
    }

    fn entries(&self, id: ObjectId) -> Result<Vec<Entry>, SyncError> {
        let tree = self
            .repo
            .find_tree(id)
            .map_err(|e| SyncError::git(self.url, &e))?;
        let decoded = tree.decode().map_err(|e| SyncError::git(self.url, &e))?;
        Ok(decoded
            .entries
            .iter()
            .map(|e| Entry {
                name: e.filename.to_owned(),
                kind: e.mode.kind(),
                id: e.oid.to_owned(),
            })
            .collect())
    }

    /// A name that stays in its directory: not empty, `.`, `..`, and
    /// without a separator or NUL.
    fn safe_name(&self, name: &BString, prefix: &str) -> Result<String, SyncError> {
        let text = name.to_str_lossy().into_owned();
        let bad = text.is_empty()
            || text == "."
            || text == ".."
            || name.contains(&b'/')
            || name.contains(&b'\\')
            || name.contains(&0);
        if bad || name.to_str().is_err() {
            return Err(SyncError::UnsafePath {
                url: self.url.to_owned(),
                path: format!("{prefix}{text}"),
                commit: self.commit.to_string(),
            });
        }
        Ok(text)
    }

    fn write_blob(
        &mut self,
        id: ObjectId,
        path: &Path,
        rel: &str,
        executable: bool,
    ) -> Result<(), SyncError> {
        self.files += 1;
        if self.files > self.limits.max_files {
            return Err(self.too_large(format!("more than {} files", self.limits.max_files)));
        }
        let header = self
            .repo
            .find_header(id)
            .map_err(|e| SyncError::git(self.url, &e))?;
        self.bytes = self.bytes.saturating_add(header.size());
        if self.bytes > self.limits.max_bytes {
            return Err(self.too_large(format!(
                "its files add up to more than {} (at {rel})",
                human_bytes(self.limits.max_bytes)
            )));
        }
        let blob = self
            .repo
            .find_blob(id)
            .map_err(|e| SyncError::git(self.url, &e))?;
        let mut file = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(path)
            .map_err(|e| SyncError::cache(path, e))?;
        file.write_all(&blob.data)
            .map_err(|e| SyncError::cache(path, e))?;
        if executable {
            set_executable(path)?;
        }
        Ok(())
    }

    fn too_large(&self, what: String) -> SyncError {
        SyncError::TooLarge {
            url: self.url.to_owned(),
            what,
        }
    }
}

#[cfg(unix)]
fn set_executable(path: &Path) -> Result<(), SyncError> {
    use std::os::unix::fs::PermissionsExt as _;
    fs::set_permissions(path, fs::Permissions::from_mode(0o755))
        .map_err(|e| SyncError::cache(path, e))
}

#[cfg(not(unix))]
fn set_executable(_path: &Path) -> Result<(), SyncError> {
    Ok(())
}

fn human_bytes(n: u64) -> String {
    const MIB: u64 = 1024 * 1024;
    if n >= MIB && n.is_multiple_of(MIB) {
        format!("{} MiB", n / MIB)
    } else {
        format!("{n} bytes")
    }
}
