//! The CA: created once, kept in the data directory, issuing the server's
//! certificate and the nodes'.

use std::io::Write;
use std::net::IpAddr;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;
use std::time::Duration;

use rcgen::{
    BasicConstraints, CertificateParams, CertificateSigningRequestParams, DnType,
    ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair, KeyUsagePurpose, SanType, SerialNumber,
};
use time::OffsetDateTime;

use crate::PkiError;
use crate::fingerprint::fingerprint;

/// The CA certificate's file in the data directory (public).
pub const CA_FILE: &str = "ca.pem";
/// The CA key's file in the data directory (mode 0600).
pub const CA_KEY_FILE: &str = "ca-key.pem";
/// How long the CA is valid.
const CA_VALIDITY: Duration = Duration::from_secs(10 * 365 * 24 * 3600);
/// How long the server's own certificate is valid; it is issued again at
/// every start.
pub const SERVER_CERT_VALIDITY: Duration = Duration::from_secs(365 * 24 * 3600);
/// How long a node's client certificate is valid by default; its agent
/// renews it when less than a third of that is left.
pub const NODE_CERT_VALIDITY: Duration = Duration::from_secs(365 * 24 * 3600);
/// Certificates start an hour early (a quarter of their life at most),
/// for clocks that lag.
const BACKDATE: Duration = Duration::from_secs(3600);

/// A certificate and its key, as PEM.
#[derive(Clone)]
pub struct Issued {
    /// The certificate followed by the CA's (the chain a server presents).
    pub chain_pem: String,
    pub key_pem: String,
    /// The fingerprint of the certificate itself.
    pub fingerprint: String,
}

impl std::fmt::Debug for Issued {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Issued")
            .field("fingerprint", &self.fingerprint)
            .finish_non_exhaustive()
    }
}

/// The internal CA.
pub struct Authority {
    cert_pem: String,
    fingerprint: String,
    issuer: Issuer<'static, KeyPair>,
    /// How long the node certificates it signs are valid.
    node_validity: Duration,
}

impl std::fmt::Debug for Authority {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Authority")
            .field("fingerprint", &self.fingerprint)
            .finish_non_exhaustive()
    }
}

fn file_error(path: &Path, message: impl std::fmt::Display) -> PkiError {
    PkiError::File {
        path: path.display().to_string(),
        message: message.to_string(),
    }
}

fn read_optional(path: &Path) -> Result<Option<String>, PkiError> {
    match std::fs::read_to_string(path) {
        Ok(text) => Ok(Some(text)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(file_error(path, e)),
    }
}

/// Writes `text` to a new file `path` with `mode`; an existing file is an
/// error (two servers starting on one directory must not make two CAs).
fn write_new(path: &Path, text: &str, mode: u32) -> Result<(), PkiError> {
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(path)
        .map_err(|e| file_error(path, e))?;
    file.set_permissions(std::fs::Permissions::from_mode(mode))
        .map_err(|e| file_error(path, e))?;
    file.write_all(text.as_bytes())
        .and_then(|()| file.sync_all())
        .map_err(|e| file_error(path, e))
}

fn random_serial() -> SerialNumber {
    let mut bytes = [0u8; 16];
    // aws-lc's generator does not fail on supported platforms; a zeroed
    // serial would still be a valid (if less unique) certificate.
    let _ = aws_lc_rs::rand::fill(&mut bytes);
    bytes[0] &= 0x7f; // positive
    SerialNumber::from_slice(&bytes)
}

fn validity(params: &mut CertificateParams, valid: Duration) {
    let now = OffsetDateTime::now_utc();
    params.not_before = now - BACKDATE.min(valid / 4);
    params.not_after = now + valid;
}

impl Authority {
    /// The CA kept in `dir`, made there when missing (key mode 0600).
    pub fn load_or_create(dir: &Path) -> Result<Authority, PkiError> {
        let (cert_path, key_path) = (dir.join(CA_FILE), dir.join(CA_KEY_FILE));
        match (read_optional(&cert_path)?, read_optional(&key_path)?) {
            (Some(cert_pem), Some(key_pem)) => {
                let mode = std::fs::metadata(&key_path)
                    .map_err(|e| file_error(&key_path, e))?
                    .permissions()
                    .mode();
                if mode & 0o077 != 0 {
                    tracing::warn!(
                        "{} is readable by others (mode {:o}); it should be 0600",
                        key_path.display(),
                        mode & 0o777
                    );
                }
                Authority::from_pem(&cert_pem, &key_pem)
                    .map_err(|e| file_error(&cert_path, e.to_string()))
            }
            (None, None) => {
                let (cert_pem, key_pem) = new_ca()?;
                write_new(&key_path, &key_pem, 0o600)?;
                write_new(&cert_path, &cert_pem, 0o644)?;
                Authority::from_pem(&cert_pem, &key_pem)
            }
            (Some(_), None) => Err(file_error(
                &key_path,
                format!("missing while {} exists; restore it from a backup", CA_FILE),
            )),
            (None, Some(_)) => Err(file_error(
                &cert_path,
                format!(
                    "missing while {} exists; restore it from a backup",
                    CA_KEY_FILE
                ),
            )),
        }
    }

    /// A CA from its certificate and key.
    pub fn from_pem(cert_pem: &str, key_pem: &str) -> Result<Authority, PkiError> {
        let key = KeyPair::from_pem(key_pem)?;
        let issuer = Issuer::from_ca_cert_pem(cert_pem, key)?;
        Ok(Authority {
            fingerprint: crate::fingerprint_of_pem(cert_pem)?,
            cert_pem: cert_pem.to_string(),
            issuer,
            node_validity: NODE_CERT_VALIDITY,
        })
    }

    /// The same CA, signing node certificates valid for `valid` (shorter
    /// lives let tests see renewal and expiry).
    pub fn with_node_validity(mut self, valid: Duration) -> Authority {
        self.node_validity = valid;
        self
    }

    /// A new CA held in memory only (tests).
    pub fn ephemeral() -> Result<Authority, PkiError> {
        let (cert_pem, key_pem) = new_ca()?;
        Authority::from_pem(&cert_pem, &key_pem)
    }

    /// The CA certificate, PEM.
    pub fn cert_pem(&self) -> &str {
        &self.cert_pem
    }

    /// `sha256:<hex>` of the CA certificate.
    pub fn fingerprint(&self) -> &str {
        &self.fingerprint
    }

    /// A certificate for the API server, valid for `names` (host names and
    /// addresses) and for `localhost`, with a new key. It serves TLS and
    /// is also the server's client certificate towards agents.
    pub fn issue_server(&self, names: &[String]) -> Result<Issued, PkiError> {
        let key = KeyPair::generate()?;
        let mut params = CertificateParams::default();
        params
            .distinguished_name
            .push(DnType::CommonName, "corral server");
        params.serial_number = Some(random_serial());
        validity(&mut params, SERVER_CERT_VALIDITY);
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![
            ExtendedKeyUsagePurpose::ServerAuth,
            ExtendedKeyUsagePurpose::ClientAuth,
        ];
        params.use_authority_key_identifier_extension = true;
        let mut sans: Vec<SanType> = Vec::new();
        for name in names.iter().map(String::as_str).chain(["localhost"]) {
            let san = match name.parse::<IpAddr>() {
                Ok(ip) => SanType::IpAddress(ip),
                Err(_) => SanType::DnsName(
                    name.try_into()
                        .map_err(|e| PkiError::Certificate(format!("name {name:?}: {e}")))?,
                ),
            };
            if !sans.contains(&san) {
                sans.push(san);
            }
        }
        params.subject_alt_names = sans;
        let cert = params.signed_by(&key, &self.issuer)?;
        Ok(Issued {
            chain_pem: format!("{}{}", cert.pem(), self.cert_pem),
            key_pem: key.serialize_pem(),
            fingerprint: fingerprint(cert.der()),
        })
    }

    /// A client certificate for node `node` of environment `env`, for the
    /// public key of `csr_pem` (whose signature proves the agent holds the
    /// key). Nothing else of the request is taken: the server decides the
    /// names, usages and lifetime. Returns the certificate and the CA's,
    /// PEM, and the certificate's fingerprint.
    pub fn sign_node(&self, csr_pem: &str, env: &str, node: &str) -> Result<Issued, PkiError> {
        let csr = CertificateSigningRequestParams::from_pem(csr_pem)
            .map_err(|e| PkiError::Request(e.to_string()))?;
        let mut params = CertificateParams::default();
        params.distinguished_name.push(DnType::CommonName, node);
        params
            .distinguished_name
            .push(DnType::OrganizationalUnitName, env);
        params.serial_number = Some(random_serial());
        validity(&mut params, self.node_validity);
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        params.use_authority_key_identifier_extension = true;
        let cert = params.signed_by(&csr.public_key, &self.issuer)?;
        Ok(Issued {
            chain_pem: format!("{}{}", cert.pem(), self.cert_pem),
            key_pem: String::new(),
            fingerprint: fingerprint(cert.der()),
        })
    }
}

fn new_ca() -> Result<(String, String), PkiError> {
    let key = KeyPair::generate()?;
    let mut params = CertificateParams::default();
    let suffix = random_serial()
        .to_bytes()
        .iter()
        .take(4)
        .map(|b| format!("{b:02x}"))
        .collect::<String>();
    params
        .distinguished_name
        .push(DnType::CommonName, format!("corral CA {suffix}"));
    params.serial_number = Some(random_serial());
    validity(&mut params, CA_VALIDITY);
    params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let cert = params.self_signed(&key)?;
    Ok((cert.pem(), key.serialize_pem()))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn the_ca_is_made_once_with_a_private_key_and_read_back_the_same() {
        let dir = tempfile::tempdir().unwrap();
        let first = Authority::load_or_create(dir.path()).unwrap();
        let mode = std::fs::metadata(dir.path().join(CA_KEY_FILE))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        let again = Authority::load_or_create(dir.path()).unwrap();
        assert_eq!(first.fingerprint(), again.fingerprint());
        assert!(first.fingerprint().starts_with("sha256:"));
    }

    #[test]
    fn a_ca_with_its_key_missing_is_refused_rather_than_replaced() {
        let dir = tempfile::tempdir().unwrap();
        Authority::load_or_create(dir.path()).unwrap();
        std::fs::remove_file(dir.path().join(CA_KEY_FILE)).unwrap();
        let err = Authority::load_or_create(dir.path()).unwrap_err();
        assert!(err.to_string().contains("ca-key.pem"), "{err}");
    }

    #[test]
    fn a_node_certificate_takes_only_the_public_key_of_the_request() {
        let ca = Authority::ephemeral().unwrap();
        let node = crate::NodeKey::generate().unwrap();
        let csr = node.csr_pem("evil-name").unwrap();
        let issued = ca.sign_node(&csr, "dev", "n1").unwrap();
        assert!(issued.chain_pem.ends_with(ca.cert_pem()));
        assert!(ca.sign_node("not a csr", "dev", "n1").is_err());
    }

    #[test]
    fn a_node_certificate_is_due_for_renewal_in_the_last_third_of_its_life() {
        let ca = Authority::ephemeral()
            .unwrap()
            .with_node_validity(Duration::from_secs(3_000));
        let node = crate::NodeKey::generate().unwrap();
        let issued = ca
            .sign_node(&node.csr_pem("n1").unwrap(), "dev", "n1")
            .unwrap();
        let now = OffsetDateTime::now_utc().unix_timestamp();
        // 750 s backdated (a quarter), 3,000 s ahead: 3,750 s of life, due
        // when fewer than 1,250 s are left.
        assert!(!crate::renewal_due(&issued.chain_pem, now));
        assert!(!crate::renewal_due(&issued.chain_pem, now + 1_740));
        assert!(crate::renewal_due(&issued.chain_pem, now + 1_760));
        assert!(crate::renewal_due("not a certificate", now));
        let expires = crate::expires_of_pem(&issued.chain_pem).unwrap();
        assert!((now + 2_999..=now + 3_001).contains(&expires));
    }
}
