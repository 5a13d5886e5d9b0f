//! https (and http) through gix's reqwest transport, which runs on rustls
//! with aws-lc-rs: the system's certificate authorities plus any the source
//! brings.

use std::any::Any;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use gix::protocol::transport::client::blocking_io::http;

use crate::SyncError;
use crate::url::CheckedUrl;

/// The certificates of `pem`, or an error naming the URL if there are none
/// or they do not parse.
pub(crate) fn parse_roots(
    url: &str,
    pem: Option<&str>,
) -> Result<Vec<reqwest::Certificate>, SyncError> {
    let Some(pem) = pem.filter(|p| !p.trim().is_empty()) else {
        return Ok(Vec::new());
    };
    let invalid = |reason: String| SyncError::InvalidUrl {
        url: url.to_owned(),
        reason: format!("its extra CA certificates are unusable: {reason}"),
    };
    let certs = reqwest::Certificate::from_pem_bundle(pem.as_bytes())
        .map_err(|e| invalid(e.to_string()))?;
    if certs.is_empty() {
        return Err(invalid("no PEM certificate found".into()));
    }
    Ok(certs)
}

/// Transport options for an http(s) URL: the ones git configuration gives,
/// with the extra roots added to the client and every request bounded by
/// `timeout`. `None` for other transports.
pub(crate) fn transport_options(
    repo: &gix::Repository,
    url: &CheckedUrl,
    extra_roots: Vec<reqwest::Certificate>,
    timeout: Duration,
) -> Result<Option<Box<dyn Any>>, gix::Error> {
    use gix::url::Scheme;
    if !matches!(url.scheme, Scheme::Http | Scheme::Https) {
        return Ok(None);
    }
    let Some(mut options) = repo.transport_options(url.raw.as_str(), None)? else {
        return Ok(None);
    };
    if let Some(http) = options.downcast_mut::<http::Options>() {
        let backend = http::reqwest::Options {
            configure_client: Some(Box::new(
                move |builder: reqwest::blocking::ClientBuilder| {
                    let builder = builder.timeout(timeout);
                    Ok(if extra_roots.is_empty() {
                        builder
                    } else {
                        builder.tls_certs_merge(extra_roots.clone())
                    })
                },
            )),
            configure_request: None,
        };
        http.backend = Some(Arc::new(Mutex::new(backend)));
    }
    Ok(Some(options))
}
