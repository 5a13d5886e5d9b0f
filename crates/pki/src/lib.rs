//! Corral's internal certificate authority and the TLS configurations
//! built on it.
//!
//! - [`Authority`]: the CA a server creates on its first start
//!   (`<data>/ca.pem`, key `<data>/ca-key.pem` mode 0600); it issues the
//!   server's own certificate at every start ([`Authority::issue_server`])
//!   and a client certificate for each node that registers
//!   ([`Authority::sign_node`], from the agent's certificate signing
//!   request, so the node's key never leaves its host).
//! - [`fingerprint`]: `sha256:<hex>` of a certificate, what people compare
//!   (`corral host add-command` prints the CA's; the agent and `corral
//!   login` check it on first contact, as ssh does with host keys).
//! - [`tls`]: the rustls configurations: a server that asks for (but does
//!   not require) a client certificate of the CA, and a client that trusts
//!   the pinned CA only, with or without a client certificate.
//! - [`first_contact`]: the CA a server presents, read before anything is
//!   trusted, and checked against an expected fingerprint.
//!
//! One crypto backend: aws-lc-rs, as the rest of the workspace.

mod authority;
mod fingerprint;
pub mod first_contact;
mod node_key;
pub mod tls;

pub use authority::{Authority, Issued, NODE_CERT_VALIDITY, SERVER_CERT_VALIDITY};
pub use fingerprint::{fingerprint, fingerprint_of_pem, normalize_fingerprint};
pub use node_key::{NodeKey, expires_of_pem, renewal_due};
pub use tls::{certs_of_pem, roots_of_pem};

/// Roots holding exactly the given certificates.
fn roots_of_pem_ders(
    certs: &[rustls_pki_types::CertificateDer<'static>],
) -> Result<std::sync::Arc<rustls::RootCertStore>, PkiError> {
    let mut roots = rustls::RootCertStore::empty();
    for cert in certs {
        roots
            .add(cert.clone())
            .map_err(|e| PkiError::Certificate(format!("not a usable CA: {e}")))?;
    }
    Ok(std::sync::Arc::new(roots))
}

/// What went wrong with a certificate, a key or a TLS configuration.
#[derive(Debug, thiserror::Error)]
pub enum PkiError {
    #[error("{path}: {message}")]
    File { path: String, message: String },
    #[error("certificate: {0}")]
    Certificate(String),
    #[error("certificate signing request: {0}")]
    Request(String),
    #[error("TLS: {0}")]
    Tls(String),
    #[error(
        "the server at {server} presents a CA with fingerprint {actual}, not the expected {expected}"
    )]
    FingerprintMismatch {
        server: String,
        expected: String,
        actual: String,
    },
    #[error("cannot reach {server}: {message}")]
    Connect { server: String, message: String },
}

impl From<rcgen::Error> for PkiError {
    fn from(e: rcgen::Error) -> Self {
        PkiError::Certificate(e.to_string())
    }
}

/// The crypto provider of every TLS configuration Corral makes.
pub fn provider() -> std::sync::Arc<rustls::crypto::CryptoProvider> {
    std::sync::Arc::new(rustls::crypto::aws_lc_rs::default_provider())
}
