//! Checking a source URL before anything touches the network.

use std::path::PathBuf;

use crate::SyncError;

/// A URL that gix can fetch from, with the form shown to users.
#[derive(Debug, Clone)]
pub(crate) struct CheckedUrl {
    /// The URL as given, handed to gix.
    pub raw: String,
    /// The URL with any password replaced by `***`, for messages and logs.
    pub display: String,
    /// The transport the URL names.
    pub scheme: gix::url::Scheme,
    /// For `file://` URLs and local paths: the repository's directory.
    pub local_path: Option<PathBuf>,
}

/// Parses `raw` and accepts the transports the catalog supports: https (and
/// plain http), ssh (also the `user@host:path` form), git:// and local files.
pub(crate) fn check(raw: &str) -> Result<CheckedUrl, SyncError> {
    let display = redact(raw);
    let invalid = |reason: String| SyncError::InvalidUrl {
        url: display.clone(),
        reason,
    };
    if raw.trim().is_empty() {
        return Err(invalid("the URL is empty".into()));
    }
    if raw.starts_with('-') || raw.chars().any(char::is_control) {
        return Err(invalid(
            "the URL has a leading '-' or a control character".into(),
        ));
    }
    let parsed = gix::url::parse(gix::bstr::BStr::new(raw)).map_err(|e| invalid(e.to_string()))?;
    use gix::url::Scheme;
    let local_path = match &parsed.scheme {
        Scheme::File => Some(PathBuf::from(parsed.path.to_string())),
        Scheme::Git | Scheme::Ssh | Scheme::Http | Scheme::Https => None,
        other => {
            return Err(invalid(format!(
                "the {} transport is not supported (use https, ssh, git or file)",
                other.as_str()
            )));
        }
    };
    if local_path.is_none() && parsed.host().is_none_or(str::is_empty) {
        return Err(invalid("the URL names no host".into()));
    }
    Ok(CheckedUrl {
        raw: raw.to_owned(),
        display,
        scheme: parsed.scheme,
        local_path,
    })
}

/// Replaces the password of `scheme://user:password@host/…` by `***`.
pub(crate) fn redact(raw: &str) -> String {
    let Some(scheme_end) = raw.find("://") else {
        return raw.to_owned();
    };
    let rest = &raw[scheme_end + 3..];
    let authority_end = rest.find('/').unwrap_or(rest.len());
    let authority = &rest[..authority_end];
    let Some(at) = authority.rfind('@') else {
        return raw.to_owned();
    };
    let userinfo = &authority[..at];
    let Some(colon) = userinfo.find(':') else {
        return raw.to_owned();
    };
    format!(
        "{}{}:***{}",
        &raw[..scheme_end + 3],
        &userinfo[..colon],
        &rest[at..]
    )
}

/// Applies [`redact`] to every URL found in a free text, such as an error
/// message that quotes the URL it failed on.
pub(crate) fn redact_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(pos) = rest.find("://") {
        let start = rest[..pos]
            .rfind(|c: char| !c.is_ascii_alphanumeric() && c != '+' && c != '-' && c != '.')
            .map_or(0, |i| i + 1);
        let end = rest[pos..]
            .find(|c: char| c.is_whitespace() || matches!(c, ')' | '"' | '\'' | '>'))
            .map_or(rest.len(), |i| pos + i);
        out.push_str(&rest[..start]);
        out.push_str(&redact(&rest[start..end]));
        rest = &rest[end..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_never_reach_messages() {
        assert_eq!(
            redact("https://bob:s3cret@git.example.com/a/b.git"),
            "https://bob:***@git.example.com/a/b.git"
        );
        assert_eq!(
            redact("https://token@git.example.com/x"),
            "https://token@git.example.com/x"
        );
        assert_eq!(redact("git@host:org/repo.git"), "git@host:org/repo.git");
        assert_eq!(
            redact_text(
                "error sending request for url (https://u:p@h/x/info/refs?service=y): boom"
            ),
            "error sending request for url (https://u:***@h/x/info/refs?service=y): boom"
        );
        let err = check("ftp://bob:pw@host/repo").unwrap_err().to_string();
        assert!(!err.contains("pw@"), "{err}");
    }

    #[test]
    fn every_supported_transport_is_accepted() {
        for (url, scheme) in [
            ("https://example.com/org/catalog.git", "https"),
            ("http://127.0.0.1:8080/catalog.git", "http"),
            ("ssh://git@example.com:2222/org/catalog.git", "ssh"),
            ("git@example.com:org/catalog.git", "ssh"),
            ("git://127.0.0.1:9418/catalog", "git"),
            ("file:///srv/catalog", "file"),
            ("/srv/catalog", "file"),
        ] {
            let checked = check(url).unwrap_or_else(|e| panic!("{url}: {e}"));
            assert_eq!(checked.scheme.as_str(), scheme, "{url}");
        }
        let local = check("file:///srv/catalog").unwrap();
        assert_eq!(local.local_path, Some(PathBuf::from("/srv/catalog")));
    }

    #[test]
    fn unsupported_or_malformed_urls_are_refused_with_the_url_named() {
        for url in [
            "",
            "ext::sh -c touch% /tmp/pwned",
            "-oProxyCommand=x",
            "https://",
        ] {
            let err = check(url).unwrap_err();
            assert!(
                matches!(err, SyncError::InvalidUrl { .. }),
                "{url}: {err:?}"
            );
        }
        let err = check("ext::sh -c id").unwrap_err().to_string();
        assert!(err.contains("ext::sh -c id"), "{err}");
    }
}
