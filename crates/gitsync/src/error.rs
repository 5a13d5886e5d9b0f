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
    /// The server wants credentials (they are never asked for interactively).
    #[error(
        "catalog repository {url} needs authentication: give credentials in the URL, \
         an ssh key for ssh URLs, or a public URL"
    )]
    AuthenticationNeeded {
        /// The URL, redacted.
        url: String,
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

/// Turns a failed connect or fetch into the error a user should read.
pub(crate) fn classify(url: &str, ssh: bool, err: &gix::Error) -> SyncError {
    let text = chain_text(err);
    let lower = text.to_lowercase();
    let url = url.to_owned();
    if err.downcast_any_ref::<AuthRefused>().is_some()
        || err.is_unauthenticated()
        || has_any(&lower, AUTH_WORDS)
    {
        return SyncError::AuthenticationNeeded { url };
    }
    if let Some(at) = lower.find("invalid peer certificate") {
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
