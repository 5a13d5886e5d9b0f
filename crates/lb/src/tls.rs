//! TLS termination: the load balancer's certificates, chosen by SNI, with a
//! default for clients without SNI or whose name no certificate covers.

use std::collections::BTreeMap;
use std::sync::Arc;

use corral_types::LbConfig;
use rustls::ServerConfig;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;

/// A certificate chain and its private key, both PEM (a Corral certificate).
#[derive(Clone, PartialEq, Eq)]
pub struct TlsMaterial {
    /// The certificate first, then its intermediates.
    pub cert_chain_pem: String,
    /// PKCS#8, PKCS#1 or SEC1.
    pub key_pem: String,
}

impl std::fmt::Debug for TlsMaterial {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsMaterial")
            .field("cert_chain_pem", &self.cert_chain_pem.len())
            .field("key_pem", &"<redacted>")
            .finish()
    }
}

/// Why the certificates could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("certificate {name:?} was not given to the load balancer")]
    MissingCertificate { name: String },
    #[error("certificate {name:?}: read the certificate chain: {reason}")]
    ParseChain { name: String, reason: String },
    #[error("certificate {name:?}: read the private key: {reason}")]
    ParseKey { name: String, reason: String },
    #[error("certificate {name:?}: the private key does not match the certificate")]
    KeyMismatch { name: String },
    #[error("build the tls configuration: {reason}")]
    BuildConfig { reason: String },
}

/// The server configurations of https ports (ALPN http/1.1) and tls ports.
#[derive(Debug, Clone)]
pub(crate) struct TlsConfigs {
    pub https: Arc<ServerConfig>,
    pub tls: Arc<ServerConfig>,
}

/// Loads the config's certificates; `None` when no rule terminates TLS.
pub(crate) fn load(
    config: &LbConfig,
    certs: &BTreeMap<String, TlsMaterial>,
) -> Result<Option<TlsConfigs>, TlsError> {
    if !config.port_rules.iter().any(|r| r.protocol.is_tls()) {
        return Ok(None);
    }
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut names: Vec<&str> = config.certificates.iter().map(String::as_str).collect();
    if !config.default_certificate.is_empty() && !names.contains(&&*config.default_certificate) {
        names.push(&config.default_certificate);
    }
    let mut keys = Vec::new();
    for name in &names {
        let material = certs
            .get(*name)
            .ok_or_else(|| TlsError::MissingCertificate {
                name: name.to_string(),
            })?;
        keys.push(Arc::new(certified_key(name, material, &provider)?));
    }
    let default = if config.default_certificate.is_empty() {
        keys.first().cloned()
    } else {
        names
            .iter()
            .position(|n| *n == config.default_certificate)
            .and_then(|i| keys.get(i).cloned())
    };
    let resolver = Arc::new(SniResolver { keys, default });
    let build = |alpn: Vec<Vec<u8>>| -> Result<Arc<ServerConfig>, TlsError> {
        let mut c = ServerConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| TlsError::BuildConfig {
                reason: e.to_string(),
            })?
            .with_no_client_auth()
            .with_cert_resolver(resolver.clone());
        c.alpn_protocols = alpn;
        Ok(Arc::new(c))
    };
    Ok(Some(TlsConfigs {
        https: build(vec![b"http/1.1".to_vec()])?,
        tls: build(Vec::new())?,
    }))
}

fn certified_key(
    name: &str,
    material: &TlsMaterial,
    provider: &CryptoProvider,
) -> Result<CertifiedKey, TlsError> {
    let chain: Vec<CertificateDer<'static>> =
        CertificateDer::pem_slice_iter(material.cert_chain_pem.as_bytes())
            .collect::<Result<_, _>>()
            .map_err(|e| TlsError::ParseChain {
                name: name.to_string(),
                reason: e.to_string(),
            })?;
    if chain.is_empty() {
        return Err(TlsError::ParseChain {
            name: name.to_string(),
            reason: "no CERTIFICATE block".into(),
        });
    }
    let key = PrivateKeyDer::from_pem_slice(material.key_pem.as_bytes()).map_err(|e| {
        TlsError::ParseKey {
            name: name.to_string(),
            reason: e.to_string(),
        }
    })?;
    let signing = provider
        .key_provider
        .load_private_key(key)
        .map_err(|e| TlsError::ParseKey {
            name: name.to_string(),
            reason: e.to_string(),
        })?;
    let ck = CertifiedKey::new(chain, signing);
    if ck.keys_match().is_err() {
        return Err(TlsError::KeyMismatch {
            name: name.to_string(),
        });
    }
    Ok(ck)
}

/// Picks the first certificate valid for the client's SNI name, else the default.
#[derive(Debug)]
struct SniResolver {
    keys: Vec<Arc<CertifiedKey>>,
    default: Option<Arc<CertifiedKey>>,
}

impl ResolvesServerCert for SniResolver {
    fn resolve(&self, hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        let by_name = hello
            .server_name()
            .and_then(|n| ServerName::try_from(n).ok())
            .and_then(|name| self.keys.iter().find(|ck| covers(ck, &name)));
        by_name.or(self.default.as_ref()).cloned()
    }
}

/// True when the certificate is valid for the name (wildcards included).
fn covers(ck: &CertifiedKey, name: &ServerName<'_>) -> bool {
    let Ok(der) = ck.end_entity_cert() else {
        return false;
    };
    webpki::EndEntityCert::try_from(der)
        .is_ok_and(|cert| cert.verify_is_valid_for_subject_name(name).is_ok())
}
