//! TLS certificates stored in Corral, for load balancers that terminate TLS.

use serde::{Deserialize, Serialize};

use crate::validate::ValidationError;

/// A certificate chain and its private key, both PEM.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CertificateSpec {
    /// The certificate first, then its intermediates (PEM).
    pub certificate: String,
    /// The private key (PEM: PKCS#8, PKCS#1 or SEC1) as sent; the server
    /// seals it into `sealed_key` and stores and answers this empty.
    pub key: String,
    /// The key, sealed at rest; never in an answer of the API.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sealed_key: Option<crate::SealedValue>,
}

/// A certificate's chain and key, as the agent of a node running a
/// balancer that names it receives them.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct CertificateMaterial {
    pub name: String,
    pub certificate: String,
    pub key: String,
}

/// The certificates of one balancer instance.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct CertificateMaterials {
    pub certificates: Vec<CertificateMaterial>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct CertificateStatus {}

/// Largest accepted PEM text, per field.
const MAX_PEM_BYTES: usize = 64 * 1024;

impl CertificateSpec {
    /// Checks the PEM framing; the agent parses the contents when it loads them.
    pub fn validate(&self) -> Result<(), ValidationError> {
        check_pem("spec.certificate", &self.certificate, &["CERTIFICATE"])?;
        check_pem(
            "spec.key",
            &self.key,
            &["PRIVATE KEY", "RSA PRIVATE KEY", "EC PRIVATE KEY"],
        )
    }
}

fn check_pem(field: &str, text: &str, labels: &[&str]) -> Result<(), ValidationError> {
    let fail = |message: String| {
        Err(ValidationError {
            field: field.to_string(),
            message,
        })
    };
    if text.trim().is_empty() {
        return fail("is required (PEM text)".into());
    }
    if text.len() > MAX_PEM_BYTES {
        return fail(format!("is longer than {MAX_PEM_BYTES} bytes"));
    }
    let found = labels.iter().any(|label| {
        text.contains(&format!("-----BEGIN {label}-----"))
            && text.contains(&format!("-----END {label}-----"))
    });
    if !found {
        let wanted: Vec<String> = labels.iter().map(|l| format!("BEGIN {l}")).collect();
        return fail(format!("is not PEM with a {} block", wanted.join(" or ")));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_certificate_needs_both_pem_blocks_and_names_the_bad_field() {
        let good = CertificateSpec {
            certificate: "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n".into(),
            key: "-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----\n".into(),
            sealed_key: None,
        };
        assert!(good.validate().is_ok());
        let mut no_key = good.clone();
        no_key.key = String::new();
        assert_eq!(
            no_key.validate().err().map(|e| e.field),
            Some("spec.key".into())
        );
        let mut swapped = good.clone();
        swapped.certificate = good.key.clone();
        assert_eq!(
            swapped.validate().err().map(|e| e.field),
            Some("spec.certificate".into())
        );
    }
}
