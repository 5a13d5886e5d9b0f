//! The rustls configurations of Corral's servers and clients.

use std::sync::Arc;

use rustls::server::WebPkiClientVerifier;
use rustls::{ClientConfig, RootCertStore, ServerConfig};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

use crate::{PkiError, provider};

/// The certificates in `pem`, in order.
pub fn certs_of_pem(pem: &str) -> Result<Vec<CertificateDer<'static>>, PkiError> {
    let certs = CertificateDer::pem_slice_iter(pem.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| PkiError::Certificate(format!("not PEM certificates: {e}")))?;
    if certs.is_empty() {
        return Err(PkiError::Certificate(
            "no certificate in the PEM text".into(),
        ));
    }
    Ok(certs)
}

fn key_of_pem(pem: &str) -> Result<PrivateKeyDer<'static>, PkiError> {
    PrivateKeyDer::from_pem_slice(pem.as_bytes())
        .map_err(|e| PkiError::Certificate(format!("not a PEM private key: {e}")))
}

/// Roots holding the CA(s) in `ca_pem` only.
pub fn roots_of_pem(ca_pem: &str) -> Result<Arc<RootCertStore>, PkiError> {
    let mut roots = RootCertStore::empty();
    for cert in certs_of_pem(ca_pem)? {
        roots
            .add(cert)
            .map_err(|e| PkiError::Certificate(format!("not a usable CA: {e}")))?;
    }
    Ok(Arc::new(roots))
}

/// Whether a server takes clients without a certificate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientAuth {
    /// Asked for, not required (the API: people authenticate with tokens).
    Optional,
    /// Required (an agent's endpoint, which only the server calls).
    Required,
}

/// A server presenting `chain_pem` (its certificate, then the CA's) that
/// asks clients for a certificate issued by `client_ca_pem` (with
/// [`ClientAuth::Optional`] it also serves clients without one); a client
/// certificate from anyone else fails the handshake.
pub fn server_config(
    chain_pem: &str,
    key_pem: &str,
    client_ca_pem: &str,
) -> Result<Arc<ServerConfig>, PkiError> {
    server_config_with(chain_pem, key_pem, client_ca_pem, ClientAuth::Optional)
}

/// [`server_config`] with the client certificate optional or required.
pub fn server_config_with(
    chain_pem: &str,
    key_pem: &str,
    client_ca_pem: &str,
    client_auth: ClientAuth,
) -> Result<Arc<ServerConfig>, PkiError> {
    let builder =
        WebPkiClientVerifier::builder_with_provider(roots_of_pem(client_ca_pem)?, provider());
    let builder = match client_auth {
        ClientAuth::Optional => builder.allow_unauthenticated(),
        ClientAuth::Required => builder,
    };
    let verifier = builder.build().map_err(|e| PkiError::Tls(e.to_string()))?;
    let mut config = ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| PkiError::Tls(e.to_string()))?
        .with_client_cert_verifier(verifier)
        .with_single_cert(certs_of_pem(chain_pem)?, key_of_pem(key_pem)?)
        .map_err(|e| PkiError::Tls(e.to_string()))?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// A client that trusts the CA in `ca_pem` and nothing else, presenting
/// `identity` (certificate chain and key, PEM) when given.
pub fn client_config(
    ca_pem: &str,
    identity: Option<(&str, &str)>,
) -> Result<ClientConfig, PkiError> {
    let builder = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| PkiError::Tls(e.to_string()))?
        .with_root_certificates(roots_of_pem(ca_pem)?);
    let mut config = match identity {
        Some((chain, key)) => builder
            .with_client_auth_cert(certs_of_pem(chain)?, key_of_pem(key)?)
            .map_err(|e| PkiError::Tls(e.to_string()))?,
        None => builder.with_no_client_auth(),
    };
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}

/// A client that trusts exactly one server certificate, by fingerprint
/// (the server calling an agent's endpoint, which presents its node's
/// certificate), presenting `identity`.
pub fn pinned_client_config(
    fingerprint: &str,
    identity: (&str, &str),
) -> Result<ClientConfig, PkiError> {
    let verifier = Arc::new(crate::first_contact::PinnedCertificate::new(fingerprint));
    let mut config = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| PkiError::Tls(e.to_string()))?
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_client_auth_cert(certs_of_pem(identity.0)?, key_of_pem(identity.1)?)
        .map_err(|e| PkiError::Tls(e.to_string()))?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::Authority;

    #[test]
    fn configs_build_from_what_the_authority_issues() {
        let ca = Authority::ephemeral().unwrap();
        let server = ca
            .issue_server(&["127.0.0.1".into(), "corral.example".into()])
            .unwrap();
        server_config(&server.chain_pem, &server.key_pem, ca.cert_pem()).unwrap();
        client_config(ca.cert_pem(), None).unwrap();
        let node = crate::NodeKey::generate().unwrap();
        let cert = ca
            .sign_node(&node.csr_pem("n1").unwrap(), "dev", "n1")
            .unwrap();
        client_config(ca.cert_pem(), Some((&cert.chain_pem, &node.key_pem()))).unwrap();
        assert!(client_config("garbage", None).is_err());
    }
}
