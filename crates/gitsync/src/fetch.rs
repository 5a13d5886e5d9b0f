//! The network part: one fetch into the cache's bare repository, bounded in time.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::time::Duration;

use gix::ObjectId;
use gix::protocol::handshake::Ref;
use gix::protocol::transport::client::blocking_io::Transport;
use gix::remote::Direction;

use crate::credentials::{self, Credentials, SshFiles};
use crate::error::{SshLog, classify, classify_with_log};
use crate::url::CheckedUrl;
use crate::{Limits, SyncError, cache, https};

/// Where fetched branches are kept in the cache's repository.
const REFSPEC: &str = "+refs/heads/*:refs/remotes/origin/*";

/// How long an interrupted fetch gets to wind down before we stop waiting.
const GRACE: Duration = Duration::from_secs(2);

/// What the remote advertised in the fetch.
#[derive(Debug, Default)]
pub(crate) struct RemoteRefs {
    /// Branch name (without `refs/heads/`) to commit.
    branches: BTreeMap<String, ObjectId>,
    /// The branch the remote's `HEAD` points to, if it said.
    head_branch: Option<String>,
    /// The commit of the remote's `HEAD`, if it has one.
    head_commit: Option<ObjectId>,
}

impl RemoteRefs {
    fn from_refs(refs: &[Ref]) -> Self {
        let mut out = RemoteRefs::default();
        for r in refs {
            let (name, object) = match r {
                Ref::Direct {
                    full_ref_name,
                    object,
                } => (full_ref_name, Some(*object)),
                Ref::Peeled {
                    full_ref_name,
                    object,
                    ..
                } => (full_ref_name, Some(*object)),
                Ref::Symbolic {
                    full_ref_name,
                    target,
                    object,
                    ..
                } => {
                    if full_ref_name == "HEAD" {
                        out.head_branch = branch_name(&target.to_string());
                    }
                    (full_ref_name, Some(*object))
                }
                Ref::Unborn {
                    full_ref_name,
                    target,
                } => {
                    if full_ref_name == "HEAD" {
                        out.head_branch = branch_name(&target.to_string());
                    }
                    (full_ref_name, None)
                }
            };
            let name = name.to_string();
            if name == "HEAD" {
                out.head_commit = object;
            } else if let (Some(branch), Some(id)) = (branch_name(&name), object) {
                out.branches.insert(branch, id);
            }
        }
        out
    }

    /// The branch to check out and its commit: `wanted`, or the remote's `HEAD`.
    pub(crate) fn resolve(
        &self,
        url: &str,
        wanted: Option<&str>,
    ) -> Result<(String, ObjectId), SyncError> {
        if let Some(wanted) = wanted {
            let wanted = wanted.strip_prefix("refs/heads/").unwrap_or(wanted);
            return match self.branches.get(wanted) {
                Some(id) => Ok((wanted.to_owned(), *id)),
                None => Err(SyncError::BranchNotFound {
                    url: url.to_owned(),
                    branch: wanted.to_owned(),
                    available: self.branches.keys().take(5).cloned().collect(),
                    total: self.branches.len(),
                }),
            };
        }
        match (&self.head_branch, self.head_commit) {
            (Some(branch), _) if self.branches.contains_key(branch) => {
                Ok((branch.clone(), self.branches[branch]))
            }
            (_, Some(id)) => Ok(("HEAD".to_owned(), id)),
            (Some(branch), None) => Err(SyncError::Empty {
                url: url.to_owned(),
                detail: Some(format!(
                    "its HEAD points to \"{branch}\", which has no commit"
                )),
            }),
            (None, None) if self.branches.is_empty() => Err(SyncError::Empty {
                url: url.to_owned(),
                detail: None,
            }),
            (None, None) => Err(SyncError::Empty {
                url: url.to_owned(),
                detail: Some("it has no HEAD: name a branch".to_owned()),
            }),
        }
    }
}

fn branch_name(full: &str) -> Option<String> {
    full.strip_prefix("refs/heads/").map(str::to_owned)
}

/// What a fetch needs from the source besides its URL.
pub(crate) struct FetchSource<'a> {
    pub extra_ca_pem: Option<&'a str>,
    pub credentials: Option<&'a Credentials>,
    /// The cache directory, whose `ssh/` holds the key during the fetch.
    pub cache_dir: &'a Path,
}

/// Fetches every branch of `url` into the bare repository at `repo_dir`,
/// creating it first if needed, and gives up after `limits.timeout`.
pub(crate) fn fetch(
    url: &CheckedUrl,
    source: &FetchSource<'_>,
    repo_dir: &Path,
    limits: &Limits,
) -> Result<RemoteRefs, SyncError> {
    if let Some(path) = &url.local_path {
        check_local_repository(url, path)?;
    }
    cache::ensure_repo(repo_dir)?;
    let interrupt = Arc::new(AtomicBool::new(false));
    let (tx, rx) = mpsc::channel();
    let extra_roots = https::parse_roots(&url.display, source.extra_ca_pem)?;
    // Held until this function returns, whatever the outcome: dropping it
    // removes the key file.
    let ssh_files = match source.credentials {
        Some(Credentials::SshKey {
            private_key,
            known_hosts,
        }) => Some(SshFiles::write(source.cache_dir, private_key, known_hosts)?),
        _ => None,
    };
    let account = match source.credentials {
        Some(Credentials::Password { username, password }) => {
            Some((username.clone(), password.clone()))
        }
        _ => None,
    };
    let job = FetchJob {
        url: url.clone(),
        extra_roots,
        account,
        ssh: ssh_files.as_ref().map(|f| SshRun {
            command: f.command.clone(),
            log: f.log_path(),
            pinned: f.pinned(),
        }),
        timeout: limits.timeout,
        repo_dir: repo_dir.to_path_buf(),
        interrupt: Arc::clone(&interrupt),
    };
    std::thread::Builder::new()
        .name("gitsync-fetch".into())
        .spawn(move || {
            // The receiver may be gone after a timeout; nothing to do then.
            let _ = tx.send(job.run());
        })
        .map_err(|e| SyncError::cache(repo_dir, e))?;
    let timed_out = || SyncError::TimedOut {
        url: url.display.clone(),
        after: limits.timeout,
    };
    let result = match rx.recv_timeout(limits.timeout) {
        Ok(result) => result,
        Err(mpsc::RecvTimeoutError::Timeout) => {
            interrupt.store(true, Ordering::Relaxed);
            // Let gix notice the interruption and release the repository.
            let _ = rx.recv_timeout(GRACE);
            Err(timed_out())
        }
        Err(mpsc::RecvTimeoutError::Disconnected) => Err(SyncError::Git {
            url: url.display.clone(),
            message: "the fetch stopped without a result".into(),
        }),
    };
    drop(ssh_files);
    result
}

/// A local path gives no useful error through `git upload-pack`, so look first.
fn check_local_repository(url: &CheckedUrl, path: &Path) -> Result<(), SyncError> {
    let not_a_repo = |reason: String| SyncError::NotARepository {
        url: url.display.clone(),
        reason,
    };
    if !path.is_absolute() {
        return Err(SyncError::InvalidUrl {
            url: url.display.clone(),
            reason: "a local repository must be given by an absolute path".into(),
        });
    }
    match std::fs::metadata(path) {
        Err(e) => Err(not_a_repo(format!("{}: {e}", path.display()))),
        Ok(m) if !m.is_dir() => Err(not_a_repo(format!("{} is not a directory", path.display()))),
        Ok(_) => match gix::open_opts(path, gix::open::Options::isolated()) {
            Ok(_) => Ok(()),
            Err(_) => Err(not_a_repo(format!(
                "{} holds no git repository",
                path.display()
            ))),
        },
    }
}

/// The part that runs on its own thread, so that a hung server cannot hold
/// the caller past its timeout.
struct FetchJob {
    url: CheckedUrl,
    extra_roots: Vec<reqwest::Certificate>,
    /// The https account to answer with, if any.
    account: Option<(String, String)>,
    /// ssh with a key, if any.
    ssh: Option<SshRun>,
    timeout: Duration,
    repo_dir: PathBuf,
    interrupt: Arc<AtomicBool>,
}

impl FetchJob {
    fn run(self) -> Result<RemoteRefs, SyncError> {
        let display = self.url.display.as_str();
        let ssh = self.url.scheme == gix::url::Scheme::Ssh;
        tracing::debug!(
            url = %self.url.display,
            transport = self.url.scheme.as_str(),
            with_credentials = self.account.is_some() || self.ssh.is_some(),
            "fetching catalog repository"
        );
        let classify = |e: &gix::Error| match &self.ssh {
            Some(run) => {
                let log = SshLog {
                    text: std::fs::read_to_string(&run.log).unwrap_or_default(),
                    pinned: run.pinned,
                };
                classify_with_log(display, ssh, e, Some(&log))
            }
            None => classify(display, ssh, e),
        };
        let repo = cache::open_repo_with_ssh(
            &self.repo_dir,
            self.ssh.as_ref().map(|run| run.command.as_str()),
        )
        .map_err(|e| SyncError::cache(&self.repo_dir, e))?;
        let parsed = gix::url::parse(gix::bstr::BStr::new(&self.url.raw)).map_err(|e| {
            SyncError::InvalidUrl {
                url: display.to_owned(),
                reason: e.to_string(),
            }
        })?;
        let remote = repo
            .remote_at(parsed)
            .and_then(|r| r.with_refspecs(Some(REFSPEC), Direction::Fetch))
            .map_err(|e| SyncError::git(display, &e))?
            .with_fetch_tags(gix::remote::fetch::Tags::None);
        let connection = if self.url.scheme == gix::url::Scheme::Git {
            let transport = connect_git_daemon(&self.url, self.timeout)?;
            remote.to_connection_with_transport(transport)
        } else {
            remote.connect(Direction::Fetch).map_err(|e| classify(&e))?
        };
        let mut connection =
            connection.with_credentials(credentials::answer(&self.url, self.account.clone()));
        let options = https::transport_options(&repo, &self.url, self.extra_roots, self.timeout)
            .map_err(|e| SyncError::git(display, &e))?;
        if let Some(options) = options {
            connection.set_transport_options(options);
        }
        let head = gix::refspec::parse("HEAD".into(), gix::refspec::parse::Operation::Fetch)
            .map_err(|e| SyncError::Git {
                url: display.to_owned(),
                message: e.to_string(),
            })?
            .to_owned();
        let options = gix::remote::ref_map::Options {
            extra_refspecs: vec![head],
            ..Default::default()
        };
        let outcome = connection
            .prepare_fetch(gix::progress::Discard, options)
            .map_err(|e| classify(&e))?
            .receive(gix::progress::Discard, &self.interrupt)
            .map_err(|e| classify(&e))?;
        Ok(RemoteRefs::from_refs(&outcome.ref_map.remote_refs))
    }
}

/// The longest a TCP connect to a git daemon may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Connects to a git daemon with socket timeouts, which gix's own git://
/// client does not set, so that a server that stops answering frees the
/// fetch thread instead of holding it forever.
fn connect_git_daemon(
    url: &CheckedUrl,
    timeout: Duration,
) -> Result<Box<dyn Transport + Send>, SyncError> {
    use std::net::{TcpStream, ToSocketAddrs as _};
    let unreachable = |reason: &str| SyncError::Unreachable {
        url: url.display.clone(),
        reason: reason.to_owned(),
    };
    let parsed =
        gix::url::parse(gix::bstr::BStr::new(&url.raw)).map_err(|e| SyncError::InvalidUrl {
            url: url.display.clone(),
            reason: e.to_string(),
        })?;
    let host = parsed.host().unwrap_or_default().to_owned();
    let port = parsed.port;
    let addrs: Vec<_> = (host.as_str(), port.unwrap_or(9418))
        .to_socket_addrs()
        .map_err(|_| unreachable("host name not resolved"))?
        .collect();
    let mut last = unreachable("host name not resolved");
    for addr in addrs {
        match TcpStream::connect_timeout(&addr, CONNECT_TIMEOUT.min(timeout)) {
            Ok(stream) => {
                let (read, write) =
                    with_timeouts(stream, timeout).map_err(|e| unreachable(&e.to_string()))?;
                let connection =
                    gix::protocol::transport::client::git::blocking_io::Connection::new(
                        read,
                        write,
                        gix::protocol::transport::Protocol::V2,
                        parsed.path.clone(),
                        Some((host, port)),
                        gix::protocol::transport::client::git::ConnectMode::Daemon,
                        false,
                    );
                return Ok(Box::new(connection));
            }
            Err(e) => last = unreachable(io_words(&e)),
        }
    }
    Err(last)
}

fn with_timeouts(
    stream: std::net::TcpStream,
    timeout: Duration,
) -> std::io::Result<(std::net::TcpStream, std::net::TcpStream)> {
    stream.set_read_timeout(Some(timeout))?;
    stream.set_write_timeout(Some(timeout))?;
    let write = stream.try_clone()?;
    Ok((stream, write))
}

fn io_words(e: &std::io::Error) -> &'static str {
    match e.kind() {
        std::io::ErrorKind::ConnectionRefused => "connection refused",
        std::io::ErrorKind::TimedOut | std::io::ErrorKind::WouldBlock => "connection timed out",
        std::io::ErrorKind::HostUnreachable => "no route to host",
        std::io::ErrorKind::NetworkUnreachable => "network unreachable",
        _ => "connection failed",
    }
}

/// How ssh runs in a fetch with a key (the files stay with the caller).
struct SshRun {
    /// `core.sshCommand`.
    command: String,
    /// Where ssh writes its messages.
    log: PathBuf,
    /// Whether the host keys were given.
    pinned: bool,
}
