//! The data directory on disk: 0700, and the files that hold the store,
//! the audit log and the keys 0600. SQLite gives a database's WAL and
//! shared-memory files the mode of the database file, so creating the
//! database files 0600 before SQLite opens them covers those too. A start
//! on a directory whose modes someone loosened warns, naming the command
//! that tightens them; it does not change them behind the user's back.

use std::fs;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;

use anyhow::Context;

/// The files the server keeps in its data directory.
pub const FILES: [&str; 10] = [
    "corral.db",
    "corral.db-wal",
    "corral.db-shm",
    "audit.db",
    "audit.db-wal",
    "audit.db-shm",
    "admin-token",
    "admin-password",
    "agent-key",
    "secret-key",
];

/// Creates the directory (0700) and the database files (0600) if they are
/// not there; answers a warning for each existing one that others may read.
pub fn prepare(dir: &Path) -> anyhow::Result<Vec<String>> {
    if !dir.exists() {
        fs::create_dir_all(dir)
            .with_context(|| format!("creating data directory {}", dir.display()))?;
        fs::set_permissions(dir, fs::Permissions::from_mode(0o700))
            .with_context(|| format!("setting the mode of {}", dir.display()))?;
    }
    for db in ["corral.db", "audit.db"] {
        let path = dir.join(db);
        if !path.exists() {
            fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&path)
                .with_context(|| format!("creating {}", path.display()))?;
        }
    }
    Ok(loose_modes(dir))
}

/// A warning for the directory and each server file in it that its group
/// or others may use.
pub fn loose_modes(dir: &Path) -> Vec<String> {
    let mut warnings = Vec::new();
    let mode = |p: &Path| fs::metadata(p).ok().map(|m| m.permissions().mode() & 0o777);
    if let Some(m) = mode(dir)
        && m & 0o077 != 0
    {
        warnings.push(format!(
            "data directory {} has mode {m:o}; others may read the store (chmod 700 {})",
            dir.display(),
            dir.display()
        ));
    }
    for name in FILES {
        let path = dir.join(name);
        if let Some(m) = mode(&path)
            && m & 0o077 != 0
        {
            warnings.push(format!(
                "{} has mode {m:o}; it should be 600 (chmod 600 {})",
                path.display(),
                path.display()
            ));
        }
    }
    warnings
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_data_directory_is_private_and_so_are_its_databases() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("data");
        assert!(prepare(&dir).unwrap().is_empty());
        let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&dir), 0o700);
        assert_eq!(mode(&dir.join("corral.db")), 0o600);
        assert_eq!(mode(&dir.join("audit.db")), 0o600);
    }

    #[test]
    fn loosened_modes_are_named_with_the_command_that_tightens_them() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("data");
        prepare(&dir).unwrap();
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o755)).unwrap();
        fs::set_permissions(dir.join("corral.db"), fs::Permissions::from_mode(0o644)).unwrap();
        let warnings = prepare(&dir).unwrap();
        assert_eq!(warnings.len(), 2, "{warnings:?}");
        assert!(warnings[0].contains("chmod 700"), "{warnings:?}");
        assert!(
            warnings[1].contains("corral.db has mode 644"),
            "{warnings:?}"
        );
    }
}
