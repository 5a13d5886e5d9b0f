//! First contact with a server, as ssh's with a host: read the CA its
//! certificate chain ends in before trusting anything, so that people (or
//! an agent given `--ca-fingerprint`) can compare the fingerprint, and
//! then pin that CA.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, SignatureScheme};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

use crate::fingerprint::fingerprint;
use crate::{PkiError, provider, roots_of_pem_ders};

/// What a server presented on first contact.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PresentedCa {
    /// The CA its chain ends in, PEM.
    pub ca_pem: String,
    /// `sha256:<hex>` of that CA.
    pub fingerprint: String,
}

/// `host`, `port` and the server name of an `https://host:port/...` URL.
pub fn host_port(url: &str) -> Result<(String, u16), PkiError> {
    let bad = |why: &str| PkiError::Connect {
        server: url.to_string(),
        message: why.to_string(),
    };
    let rest = url
        .strip_prefix("https://")
        .ok_or_else(|| bad("the URL must start with https://"))?;
    let authority = rest.split('/').next().unwrap_or(rest);
    let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
        let (host, after) = v6
            .split_once(']')
            .ok_or_else(|| bad("unclosed [ in the host"))?;
        (host, after.strip_prefix(':'))
    } else {
        match authority.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (authority, None),
        }
    };
    let port = match port {
        Some(p) => p.parse().map_err(|_| bad("the port is not a number"))?,
        None => 443,
    };
    if host.is_empty() {
        return Err(bad("no host in the URL"));
    }
    Ok((host.to_string(), port))
}

/// Connects to `url` and returns the CA its certificate chain ends in,
/// once the chain is checked to be issued by it for the URL's host. With
/// `expected`, a different fingerprint is an error.
pub async fn fetch_ca(url: &str, expected: Option<&str>) -> Result<PresentedCa, PkiError> {
    let (host, port) = host_port(url)?;
    let connect_error = |message: String| PkiError::Connect {
        server: url.to_string(),
        message,
    };
    let name = ServerName::try_from(host.clone())
        .map_err(|e| connect_error(format!("host {host:?}: {e}")))?;
    let recorder = Arc::new(Recorder {
        chain: Mutex::default(),
        signatures: HandshakeSignatures::new(),
    });
    let mut config = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| PkiError::Tls(e.to_string()))?
        .dangerous()
        .with_custom_certificate_verifier(recorder.clone())
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    let connect = async {
        let tcp = TcpStream::connect((host.as_str(), port))
            .await
            .map_err(|e| connect_error(e.to_string()))?;
        TlsConnector::from(Arc::new(config))
            .connect(name.clone(), tcp)
            .await
            .map_err(|e| {
                connect_error(format!(
                    "TLS handshake failed ({e}); is it a corral server, and does it serve HTTPS?"
                ))
            })
    };
    let stream = tokio::time::timeout(Duration::from_secs(10), connect)
        .await
        .map_err(|_| connect_error("no TLS handshake within 10 s".into()))??;
    drop(stream);
    let chain = recorder
        .chain
        .lock()
        .map_err(|_| PkiError::Tls("certificate recorder poisoned".into()))?
        .clone();
    let (leaf, rest) = chain
        .split_first()
        .ok_or_else(|| connect_error("the server presented no certificate".into()))?;
    let ca = rest.last().unwrap_or(leaf).clone();
    // The chain must really be issued by that CA for this host.
    let verifier = WebPkiServerVerifier::builder_with_provider(
        roots_of_pem_ders(std::slice::from_ref(&ca))?,
        provider(),
    )
    .build()
    .map_err(|e| PkiError::Tls(e.to_string()))?;
    verifier
        .verify_server_cert(leaf, rest, &name, &[], UnixTime::now())
        .map_err(|e| {
            connect_error(format!(
                "its certificate is not valid for {host:?} under the CA it presents: {e}"
            ))
        })?;
    let presented = PresentedCa {
        ca_pem: pem_of_der(&ca),
        fingerprint: fingerprint(&ca),
    };
    if let Some(expected) = expected
        && expected != presented.fingerprint
    {
        return Err(PkiError::FingerprintMismatch {
            server: url.to_string(),
            expected: expected.to_string(),
            actual: presented.fingerprint,
        });
    }
    Ok(presented)
}

/// PEM text of one DER certificate.
pub fn pem_of_der(der: &[u8]) -> String {
    use base64::Engine;
    use std::fmt::Write;
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let mut out = String::from("-----BEGIN CERTIFICATE-----\n");
    for line in b64.as_bytes().chunks(64) {
        let _ = writeln!(out, "{}", String::from_utf8_lossy(line));
    }
    out.push_str("-----END CERTIFICATE-----\n");
    out
}

/// Takes any chain (recording it) but checks the handshake signatures, so
/// the server proves it holds the key of the certificate it shows.
#[derive(Debug)]
struct Recorder {
    chain: Mutex<Vec<CertificateDer<'static>>>,
    signatures: HandshakeSignatures,
}

/// The handshake-signature checks both verifiers make (the peer holds the
/// key of the certificate it presented), with aws-lc-rs's algorithms,
/// taken once.
#[derive(Debug, Clone, Copy)]
struct HandshakeSignatures(rustls::crypto::WebPkiSupportedAlgorithms);

impl HandshakeSignatures {
    fn new() -> Self {
        HandshakeSignatures(provider().signature_verification_algorithms)
    }

    fn tls12(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.0)
    }

    fn tls13(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.0)
    }

    fn schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_schemes()
    }
}

impl ServerCertVerifier for Recorder {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let mut chain = vec![end_entity.clone().into_owned()];
        chain.extend(intermediates.iter().map(|c| c.clone().into_owned()));
        if let Ok(mut kept) = self.chain.lock() {
            *kept = chain;
        }
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.signatures.tls12(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.signatures.tls13(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.signatures.schemes()
    }
}

/// Takes exactly the end-entity certificate with one fingerprint, and
/// checks the handshake signatures (the peer holds its key).
#[derive(Debug)]
pub struct PinnedCertificate {
    fingerprint: String,
    signatures: HandshakeSignatures,
}

impl PinnedCertificate {
    pub fn new(fingerprint: &str) -> Self {
        PinnedCertificate {
            fingerprint: fingerprint.to_string(),
            signatures: HandshakeSignatures::new(),
        }
    }
}

impl ServerCertVerifier for PinnedCertificate {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        if fingerprint(end_entity) == self.fingerprint {
            Ok(ServerCertVerified::assertion())
        } else {
            Err(rustls::Error::InvalidCertificate(
                rustls::CertificateError::ApplicationVerificationFailure,
            ))
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.signatures.tls12(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.signatures.tls13(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.signatures.schemes()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn urls_give_host_and_port() {
        assert_eq!(
            host_port("https://127.0.0.1:7480/v1").unwrap(),
            ("127.0.0.1".into(), 7480)
        );
        assert_eq!(host_port("https://[::1]:9").unwrap(), ("::1".into(), 9));
        assert_eq!(
            host_port("https://corral.example").unwrap(),
            ("corral.example".into(), 443)
        );
        assert!(host_port("http://127.0.0.1:7480").is_err());
    }

    #[test]
    fn pem_of_der_round_trips() {
        let ca = crate::Authority::ephemeral().unwrap();
        let der = crate::tls::certs_of_pem(ca.cert_pem()).unwrap();
        assert_eq!(pem_of_der(&der[0]).trim(), ca.cert_pem().trim());
    }
}
