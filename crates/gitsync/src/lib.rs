//! Keeps a local checkout of a catalog's git repository.
//!
//! [`sync`] clones the repository on its first call and fetches on later
//! ones (with [`gix`], over https, ssh, git:// and file URLs), resolves the
//! branch (by default the remote's `HEAD`), and writes that commit's files as
//! a plain directory tree that the catalog reader can walk with `std::fs`.
//!
//! The call blocks: a server runs it in `spawn_blocking`. Everything under
//! the cache directory can be deleted at any time; the next call rebuilds it.
//!
//! # Cache layout
//!
//! ```text
//! CACHE/repo/               a bare git repository (remote-tracking refs only)
//! CACHE/trees/<commit>/     the files of one commit, written once, never changed
//! CACHE/trees/.tmp-*/       a tree being written (renamed into place when whole)
//! CACHE/current             the commit and branch of the last successful sync
//! CACHE/ssh/known_hosts      host keys seen first, for ssh keys without known_hosts
//! ```
//!
//! After a sync only the new tree and the one before it are kept, so a reader
//! that is still walking the previous tree is not pulled from under its feet.
//!
//! # Safety
//!
//! Symbolic links are never written (they are skipped and listed in
//! [`Checkout::skipped`]), nor are submodules; a tree entry named `.`, `..`,
//! or containing a path separator refuses the whole commit. The checkout's
//! total size and file count are capped by [`Limits`], and the network part
//! is bounded by [`Limits::timeout`].
//!
//! # Credentials
//!
//! Credentials are never asked for interactively: a repository that needs
//! them and was given none, or refused the ones given, gives
//! [`SyncError::AuthenticationNeeded`]. A private repository takes
//! [`Source::credentials`]: [`Credentials::Password`] for https (HTTP basic
//! authentication, never over plain http) or [`Credentials::SshKey`] for ssh.
//! The key is written to `CACHE/ssh/key` (mode 0600, in a 0700 directory)
//! for the duration of the fetch only; ssh then uses that key alone, no
//! agent, and trusts only the host keys given or, when none are given, the
//! one the host showed on the first fetch (kept in `CACHE/ssh/known_hosts`).
//! A host key that is not the one trusted gives
//! [`SyncError::HostKeyNotTrusted`]. Neither the password nor the key is
//! ever logged or put in an error.
//!
//! Two syncs must not run on the same cache directory at the same time; the
//! caller serialises them (one task per catalog).

mod cache;
mod credentials;
mod error;
mod fetch;
mod https;
mod tree;
mod url;

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

pub use credentials::Credentials;
pub use error::SyncError;

/// The repository to follow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Source {
    /// A git URL: `https://…`, `ssh://…` or `user@host:path`, `git://…`,
    /// `file:///…` or an absolute local path.
    pub url: String,
    /// The branch to check out; `None` follows the remote's `HEAD`.
    pub branch: Option<String>,
    /// PEM certificates to trust for https in addition to the system's
    /// (for a catalog server behind a private certificate authority).
    pub extra_ca_pem: Option<String>,
    /// How to authenticate to a private repository; `None` for a public one.
    pub credentials: Option<Credentials>,
}

impl Source {
    /// A source following the remote's default branch, with the system's
    /// certificate authorities and no credentials.
    pub fn new(url: impl Into<String>) -> Self {
        Source {
            url: url.into(),
            branch: None,
            extra_ca_pem: None,
            credentials: None,
        }
    }
}

/// Bounds on one sync.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// How long the network part (connect, negotiate, download) may take.
    pub timeout: Duration,
    /// The most bytes the checked-out files may add up to.
    pub max_bytes: u64,
    /// The most files a checkout may have.
    pub max_files: u64,
}

impl Default for Limits {
    /// Two minutes, 256 MiB and 20,000 files.
    fn default() -> Self {
        Limits {
            timeout: Duration::from_secs(120),
            max_bytes: 256 * 1024 * 1024,
            max_files: 20_000,
        }
    }
}

/// The outcome of a successful [`sync`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkout {
    /// The commit checked out, as 40 hex digits.
    pub commit: String,
    /// The branch that was resolved (without `refs/heads/`).
    pub branch: String,
    /// A plain directory holding the commit's files.
    pub dir: PathBuf,
    /// When the remote was last asked for news: now.
    pub fetched_at: SystemTime,
    /// Paths in the commit that were not written: symbolic links and
    /// submodules, each with the reason (`"path (symlink)"`).
    pub skipped: Vec<String>,
}

/// Brings `cache_dir` up to date with `source` and returns the checkout.
///
/// The first call clones into `cache_dir/repo`, later calls fetch; a cache
/// that is missing or broken is rebuilt. See the crate documentation for the
/// layout and the limits.
pub fn sync(source: &Source, cache_dir: &Path, limits: &Limits) -> Result<Checkout, SyncError> {
    let url = url::check(&source.url)?;
    credentials::check(&url, source.credentials.as_ref())?;
    let repo_dir = cache_dir.join("repo");
    let fetch_source = fetch::FetchSource {
        extra_ca_pem: source.extra_ca_pem.as_deref(),
        credentials: source.credentials.as_ref(),
        cache_dir,
    };
    let remote = fetch::fetch(&url, &fetch_source, &repo_dir, limits)?;
    let (branch, commit) = remote.resolve(&url.display, source.branch.as_deref())?;
    let fetched_at = SystemTime::now();
    let repo = cache::open_repo(&repo_dir).map_err(|e| SyncError::cache(&repo_dir, e))?;
    let written = cache::checkout(&repo, &url.display, &branch, commit, cache_dir, limits)?;
    Ok(Checkout {
        commit: commit.to_string(),
        branch,
        dir: written.dir,
        fetched_at,
        skipped: written.skipped,
    })
}

/// The checkout of the last successful [`sync`] into `cache_dir`, if its
/// tree is still on disk; reads no network. A server can serve it while the
/// repository is unreachable, or right after a restart. Its `fetched_at` is
/// the time of that sync.
pub fn last_checkout(cache_dir: &Path) -> Option<Checkout> {
    cache::last_checkout(cache_dir)
}
