//! Where the test bed lives, and the lock that serialises its set-up.

use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::Context;

/// Overrides the test bed directory.
pub const TESTBED_DIR_ENV: &str = "CORRAL_TESTBED_DIR";

/// Unix socket paths must fit in `sun_path` (108 bytes with the NUL). The
/// longest path under the root is containerd's
/// `exec/containerd/containerd.sock.ttrpc` (37 bytes), so roots longer than
/// this fall back to a short directory in /tmp.
const MAX_ROOT_LEN: usize = 64;

/// The root of the cargo workspace.
pub fn workspace_root() -> PathBuf {
    let manifest_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    // crates/testing -> the workspace.
    if let Some(root) = manifest_dir.ancestors().nth(2)
        && root.join("Cargo.toml").is_file()
    {
        return root.to_path_buf();
    }
    let from_git = Command::new("git")
        .args(["rev-parse", "--show-toplevel"])
        .current_dir(manifest_dir)
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| PathBuf::from(String::from_utf8_lossy(&o.stdout).trim()));
    from_git.unwrap_or_else(|| manifest_dir.to_path_buf())
}

/// The test bed's engine directory: `CORRAL_TESTBED_DIR`, else
/// `<workspace>/target/testbed/engine`.
pub fn engine_root() -> PathBuf {
    let from_env = std::env::var_os(TESTBED_DIR_ENV)
        .filter(|v| !v.is_empty())
        .map(PathBuf::from);
    choose_root(from_env, &workspace_root())
}

/// The engine root for an optional override and a workspace, made short
/// enough for the unix sockets under it.
pub fn choose_root(from_env: Option<PathBuf>, workspace: &Path) -> PathBuf {
    let wanted = from_env.unwrap_or_else(|| workspace.join("target/testbed/engine"));
    if wanted.as_os_str().len() <= MAX_ROOT_LEN {
        return wanted;
    }
    let hash = fnv1a(wanted.as_os_str().as_encoded_bytes());
    PathBuf::from(format!("/tmp/corral-testbed-{:08x}", hash & 0xffff_ffff))
}

/// 64-bit FNV-1a: a stable hash (std's hasher may change between releases).
pub fn fnv1a(bytes: &[u8]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in bytes {
        hash ^= u64::from(*byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    hash
}

/// Hashes a file's contents with [`fnv1a`].
pub(crate) fn hash_file(path: &Path) -> anyhow::Result<u64> {
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    Ok(fnv1a(&bytes))
}

/// Takes an exclusive lock on `<dir>/<name>` (created if needed), held
/// until the returned file is dropped. Blocks while another process holds it.
pub(crate) fn exclusive_lock(dir: &Path, name: &str) -> anyhow::Result<File> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let path = dir.join(name);
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .with_context(|| format!("cannot open lock file {}", path.display()))?;
    file.lock()
        .with_context(|| format!("cannot lock {}", path.display()))?;
    Ok(file)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_root_is_under_the_workspace_target() {
        let root = choose_root(None, Path::new("/work/main"));
        assert_eq!(root, PathBuf::from("/work/main/target/testbed/engine"));
    }

    #[test]
    fn override_wins_when_short() {
        let root = choose_root(Some("/srv/bed".into()), Path::new("/work/main"));
        assert_eq!(root, PathBuf::from("/srv/bed"));
    }

    #[test]
    fn long_paths_fall_back_to_a_short_stable_tmp_dir() {
        let deep = PathBuf::from(format!("/home/{}/src/corral", "x".repeat(80)));
        let first = choose_root(None, &deep);
        let again = choose_root(None, &deep);
        assert_eq!(first, again);
        assert!(first.starts_with("/tmp"), "{}", first.display());
        let socket = first.join("exec/containerd/containerd.sock.ttrpc");
        assert!(socket.as_os_str().len() < 108);
        let other = choose_root(None, Path::new(&format!("{}y", deep.display())));
        assert_ne!(first, other);
    }

    #[test]
    fn the_longest_socket_under_an_accepted_root_fits() {
        let root = PathBuf::from(format!("/{}", "r".repeat(MAX_ROOT_LEN - 1)));
        assert_eq!(choose_root(Some(root.clone()), Path::new("/w")), root);
        let socket = root.join("exec/containerd/containerd.sock.ttrpc");
        assert!(socket.as_os_str().len() < 108);
    }

    #[test]
    fn fnv1a_matches_reference_values() {
        assert_eq!(fnv1a(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a(b"a"), 0xaf63_dc4c_8601_ec8c);
    }

    #[test]
    fn workspace_root_holds_the_workspace_manifest() {
        let root = workspace_root();
        assert!(root.join("crates/testing/Cargo.toml").is_file());
    }

    #[test]
    fn lock_is_exclusive_between_open_files() {
        let dir = tempfile::tempdir().unwrap();
        let held = exclusive_lock(dir.path(), "x.lock").unwrap();
        let other = File::options()
            .write(true)
            .open(dir.path().join("x.lock"))
            .unwrap();
        assert!(other.try_lock().is_err());
        drop(held);
        assert!(other.try_lock().is_ok());
    }
}
