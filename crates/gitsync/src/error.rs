//! What can go wrong, in words a user of `corral catalog sources` can act on.

use std::path::{Path, PathBuf};
use std::time::Duration;

/// Why a [`sync`](crate::sync) failed. Every message names the repository's
/// URL (with any password replaced by `***`).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SyncError {
    /// The URL could not be parsed or names a transport that is not supported.
    #[error("catalog repository {url}: not a usable git URL: {reason}")]
    InvalidUrl {
        /// The URL, redacted.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The server could not be reached: connection refused, name not
    /// resolved, no route, and the like.
    #[error("catalog repository {url} is unreachable: {reason}")]
    Unreachable {
        /// The URL, redacted.
        url: String,
        /// The cause, in words.
        reason: String,
    },
    /// The network part did not finish within [`Limits::timeout`](crate::Limits::timeout).
    #[error("catalog repository {url} is unreachable: no answer within {}s", after.as_secs())]
    TimedOut {
        /// The URL, redacted.
        url: String,
        /// The timeout that ran out.
        after: Duration,
    },
    /// There is no git repository at that URL.
    #[error("catalog repository {url} is not a git repository: {reason}")]
    NotARepository {
        /// The URL, redacted.
        url: String,
        /// What the server or the file system said.
        reason: String,
    },
    /// The server wants credentials, or refused the ones given (they are
    /// never asked for interactively).
    #[error(
        "catalog repository {url} needs authentication, or refused the credentials given: \
         give a user name and password or token for https, an ssh key for ssh, or a public URL"
    )]
    AuthenticationNeeded {
        /// The URL, redacted.
        url: String,
    },
    /// The ssh server showed a host key other than the one trusted: not in
    /// the `known_hosts` given, or not the one it showed on the first fetch.
    #[error(
        "catalog repository {url}: the ssh server's host key is not the one trusted ({reason})"
    )]
    HostKeyNotTrusted {
        /// The URL, redacted.
        url: String,
        /// Which key was expected, in words.
        reason: String,
    },
    /// The https server's certificate is not trusted (or not valid for the host).
    #[error(
        "catalog repository {url}: the server's https certificate is not trusted ({reason}); \
         give the certificate authority that signed it"
    )]
    CertificateNotTrusted {
        /// The URL, redacted.
        url: String,
        /// What the TLS library said.
        reason: String,
    },
    /// The requested branch does not exist on the remote.
    #[error("catalog repository {url}: branch \"{branch}\" not found; {}", branch_list(.available, *.total))]
    BranchNotFound {
        /// The URL, redacted.
        url: String,
        /// The branch asked for.
        branch: String,
        /// Up to five branches the remote has, sorted.
        available: Vec<String>,
        /// How many branches the remote has in all.
        total: usize,
    },
    /// The remote has no branches at all, or its `HEAD` points nowhere.
    #[error("catalog repository {url} has no commits to check out{}", match .detail { Some(d) => format!(" ({d})"), None => String::new() })]
    Empty {
        /// The URL, redacted.
        url: String,
        /// More about it, if known.
        detail: Option<String>,
    },
    /// The checkout would exceed [`Limits::max_bytes`](crate::Limits::max_bytes)
    /// or [`Limits::max_files`](crate::Limits::max_files).
    #[error("catalog repository {url} is too large: {what}")]
    TooLarge {
        /// The URL, redacted.
        url: String,
        /// Which limit, in words.
        what: String,
    },
    /// A path in the commit would land outside the checkout.
    #[error("catalog repository {url}: refusing unsafe path {path:?} in commit {commit}")]
    UnsafePath {
        /// The URL, redacted.
        url: String,
        /// The offending path.
        path: String,
        /// The commit that holds it.
        commit: String,
    },
    /// Git itself failed in a way not covered above.
    #[error("catalog repository {url}: git failed: {message}")]
    Git {
        /// The URL, redacted.
        url: String,
        /// gix's chain of messages.
        message: String,
    },
    /// The local cache could not be read or written.
    #[error("catalog cache {}: {source}", dir.display())]
    Cache {
        /// The file or directory concerned.
        dir: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
}

impl SyncError {
    pub(crate) fn cache(dir: &Path, source: impl Into<CacheCause>) -> Self {
        SyncError::Cache {
            dir: dir.to_path_buf(),
            source: source.into().0,
        }
    }

    pub(crate) fn git(url: &str, err: &gix::Error) -> Self {
        SyncError::Git {
            url: url.to_owned(),
            message: chain_text(err),
        }
    }
}

/// Anything that can become the io::Error of [`SyncError::Cache`].
pub(crate) struct CacheCause(std::io::Error);

impl From<std::io::Error> for CacheCause {
    fn from(e: std::io::Error) -> Self {
        CacheCause(e)
    }
}

impl From<gix::Error> for CacheCause {
    fn from(e: gix::Error) -> Self {
        CacheCause(std::io::Error::other(chain_text(&e)))
    }
}

fn branch_list(available: &[String], total: usize) -> String {
    if available.is_empty() {
        return "the remote has no branches".into();
    }
    let names = available
        .iter()
        .map(|b| format!("\"{b}\""))
        .collect::<Vec<_>>()
        .join(", ");
    if total > available.len() {
        format!(
            "the remote has {names} and {} more",
            total - available.len()
        )
    } else {
        format!("the remote has {names}")
    }
}

/// gix's messages from the outermost to the innermost, without repeats.
pub(crate) fn chain_text(err: &gix::Error) -> String {
    let mut parts: Vec<String> = Vec::new();
    for e in err.iter_errors() {
        let text = e.to_string();
        if !text.is_empty() && !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
    }
    let text = if parts.is_empty() {
        err.to_string()
    } else {
        parts.join(": ")
    };
    crate::url::redact_text(&text)
}

/// Marks the refusal of our credentials callback so it can be told apart.
#[derive(Debug, thiserror::Error)]
#[error("authentication required")]
pub(crate) struct AuthRefused;

/// What ssh wrote to its log (`-E`) during a fetch with a key, and whether
/// the host keys were given (pinned) or kept from the first fetch.
pub(crate) struct SshLog {
    pub text: String,
    pub pinned: bool,
}

/// The error ssh's own log explains, when gix's words do not: a host key
/// that is not trusted, or a key that could not be loaded. Never quotes the
/// log's lines about the key file beyond ssh's reason.
fn classify_ssh_log(url: &str, log: &SshLog) -> Option<SyncError> {
    let lower = log.text.to_lowercase();
    let url = url.to_owned();
    let changed = lower.contains("remote host identification has changed")
        || (lower.contains("host key for") && lower.contains("has changed"));
    let unknown = lower.contains("host key is known for") && lower.contains("strict checking");
    if changed || unknown || lower.contains("host key verification failed") {
        let reason = match (log.pinned, unknown) {
            (true, true) => "the known_hosts given have no key for this host",
            (true, false) => "the key it showed is not among the known_hosts given",
            (false, _) => {
                "the key it showed differs from the one it showed on the first fetch, kept in \
                 the cache's ssh/known_hosts; remove that file if the key was changed on purpose"
            }
        };
        return Some(SyncError::HostKeyNotTrusted {
            url,
            reason: reason.into(),
        });
    }
    if lower.contains("load key") {
        // "Load key \"PATH\": invalid format": keep the reason only.
        let reason = log
            .text
            .lines()
            .find(|l| l.to_lowercase().contains("load key"))
            .and_then(|l| l.rsplit(':').next())
            .map_or("unreadable", str::trim);
        return Some(SyncError::InvalidUrl {
            url,
            reason: format!("its ssh key cannot be used: {reason}"),
        });
    }
    if lower.contains("permission denied (") {
        return Some(SyncError::AuthenticationNeeded { url });
    }
    None
}

/// Turns a failed connect or fetch into the error a user should read.
pub(crate) fn classify(url: &str, ssh: bool, err: &gix::Error) -> SyncError {
    classify_with_log(url, ssh, err, None)
}

/// [`classify`], reading ssh's log first when ssh kept one.
pub(crate) fn classify_with_log(
    url: &str,
    ssh: bool,
    err: &gix::Error,
    log: Option<&SshLog>,
) -> SyncError {
    if let Some(found) = log.and_then(|log| classify_ssh_log(url, log)) {
        return found;
    }
    let text = chain_text(err);
    let lower = match log {
        // ssh's complaints went to its log, not to gix: read both.
        Some(log) => format!("{}\n{}", text.to_lowercase(), log.text.to_lowercase()),
        None => text.to_lowercase(),
    };
    let url = url.to_owned();
    if err.downcast_any_ref::<AuthRefused>().is_some()
        || err.is_unauthenticated()
        || has_any(&lower, AUTH_WORDS)
    {
        return SyncError::AuthenticationNeeded { url };
    }
    if let Some(at) = text.to_ascii_lowercase().find("invalid peer certificate") {
        let reason = text[at..]
            .split(':')
            .nth(1)
            .unwrap_or("invalid certificate");
        return SyncError::CertificateNotTrusted {
            url,
            reason: reason.trim().to_owned(),
        };
    }
    if let Some(reason) = unreachable_reason(err, &lower) {
        return SyncError::Unreachable { url, reason };
    }
    if ssh && lower.contains("handshake") && has_any(&lower, EARLY_EOF_WORDS) {
        // gix reads ssh's complaint on stderr only for a few milliseconds
        // after the end of its output, so under load the reason is lost.
        return SyncError::Unreachable {
            url,
            reason: "ssh ended before a git server answered".into(),
        };
    }
    if has_any(&lower, NOT_A_REPO_WORDS) {
        return SyncError::NotARepository { url, reason: text };
    }
    SyncError::Git { url, message: text }
}

const AUTH_WORDS: &[&str] = &[
    "authentication required",
    "authentication failed",
    "permission denied (",
    "status code 401",
    "status 401",
    "401 unauthorized",
];

const NOT_A_REPO_WORDS: &[&str] = &[
    "not a git repository",
    "does not appear to be a git repository",
    "repository not found",
    "access denied or repository not exported",
    "repository not exported",
    "no such repository",
    "status code 404",
    "status 404",
    "404 not found",
];

const EARLY_EOF_WORDS: &[&str] = &[
    "failed to fill whole buffer",
    "unexpected end of file",
    "early eof",
];

fn has_any(haystack: &str, needles: &[&str]) -> bool {
    needles.iter().any(|n| haystack.contains(n))
}

/// Causes that mean the server was not reached, by words, then by kind.
const UNREACHABLE_WORDS: &[(&str, &str)] = &[
    ("resolve hostname", "host name not resolved"),
    ("failed to lookup address", "host name not resolved"),
    ("could not resolve", "host name not resolved"),
    ("name or service not known", "host name not resolved"),
    (
        "temporary failure in name resolution",
        "host name not resolved",
    ),
    ("connection refused", "connection refused"),
    ("no route to host", "no route to host"),
    ("network is unreachable", "network unreachable"),
    ("timed out", "connection timed out"),
    ("error trying to connect", "connection failed"),
];

fn unreachable_reason(err: &gix::Error, lower: &str) -> Option<String> {
    use std::io::ErrorKind as K;
    let by_words = |text: &str| {
        UNREACHABLE_WORDS
            .iter()
            .find(|(needle, _)| text.contains(needle))
            .map(|(_, words)| (*words).to_owned())
    };
    for e in err.iter_errors() {
        let Some(io) = e.downcast_ref::<std::io::Error>() else {
            continue;
        };
        if let Some(words) = by_words(&io.to_string().to_lowercase()) {
            return Some(words);
        }
        let words = match io.kind() {
            K::ConnectionRefused => "connection refused",
            K::TimedOut => "connection timed out",
            K::HostUnreachable => "no route to host",
            K::NetworkUnreachable => "network unreachable",
            K::ConnectionReset | K::ConnectionAborted => "connection closed by the server",
            K::AddrNotAvailable => "address not available",
            _ => continue,
        };
        return Some(words.into());
    }
    by_words(lower)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn branch_not_found_lists_what_the_remote_has() {
        let err = SyncError::BranchNotFound {
            url: "git://h/r".into(),
            branch: "nope".into(),
            available: vec!["a".into(), "b".into()],
            total: 7,
        };
        assert_eq!(
            err.to_string(),
            "catalog repository git://h/r: branch \"nope\" not found; the remote has \"a\", \"b\" and 5 more"
        );
    }

    #[test]
    fn timeouts_read_as_unreachable() {
        let err = SyncError::TimedOut {
            url: "https://h/r".into(),
            after: Duration::from_secs(3),
        };
        assert_eq!(
            err.to_string(),
            "catalog repository https://h/r is unreachable: no answer within 3s"
        );
    }
}
