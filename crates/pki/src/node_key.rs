//! A node's own key: made by its agent, never sent; the agent sends a
//! certificate signing request and gets its certificate back.

use rcgen::{CertificateParams, DnType, KeyPair};
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;

use crate::PkiError;

/// A node's private key.
pub struct NodeKey {
    key: KeyPair,
}

impl std::fmt::Debug for NodeKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("NodeKey(..)")
    }
}

impl NodeKey {
    /// A new ECDSA P-256 key.
    pub fn generate() -> Result<NodeKey, PkiError> {
        Ok(NodeKey {
            key: KeyPair::generate()?,
        })
    }

    pub fn from_pem(pem: &str) -> Result<NodeKey, PkiError> {
        Ok(NodeKey {
            key: KeyPair::from_pem(pem)?,
        })
    }

    pub fn key_pem(&self) -> String {
        self.key.serialize_pem()
    }

    /// A certificate signing request for this key (the server ignores
    /// everything in it but the key and the signature).
    pub fn csr_pem(&self, common_name: &str) -> Result<String, PkiError> {
        let mut params = CertificateParams::default();
        params.distinguished_name = rcgen::DistinguishedName::new();
        params
            .distinguished_name
            .push(DnType::CommonName, common_name);
        params
            .serialize_request(&self.key)
            .and_then(|csr| csr.pem())
            .map_err(|e| PkiError::Request(e.to_string()))
    }
}

/// When the first certificate in `pem` stops being valid (seconds since
/// the Unix epoch).
pub fn expires_of_pem(pem: &str) -> Result<i64, PkiError> {
    Ok(validity_of_pem(pem)?.1)
}

/// When the first certificate in `pem` starts and stops being valid
/// (seconds since the Unix epoch).
fn validity_of_pem(pem: &str) -> Result<(i64, i64), PkiError> {
    let der = CertificateDer::from_pem_slice(pem.as_bytes())
        .map_err(|e| PkiError::Certificate(format!("not a PEM certificate: {e}")))?;
    let (_, cert) = x509_parser::parse_x509_certificate(&der)
        .map_err(|e| PkiError::Certificate(e.to_string()))?;
    let validity = cert.validity();
    Ok((
        validity.not_before.timestamp(),
        validity.not_after.timestamp(),
    ))
}

/// Whether the certificate in `pem` should be renewed at `now` (seconds
/// since the Unix epoch): less than a third of its life left, or it cannot
/// be read.
pub fn renewal_due(pem: &str, now: i64) -> bool {
    let Ok((not_before, not_after)) = validity_of_pem(pem) else {
        return true;
    };
    let life = not_after.saturating_sub(not_before);
    not_after.saturating_sub(now) < life / 3
}
