//! Certificate fingerprints: `sha256:` and the SHA-256 of the DER in
//! lowercase hex.

use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;

use crate::PkiError;

/// `sha256:<64 hex digits>` of a certificate's DER.
pub fn fingerprint(der: &[u8]) -> String {
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, der);
    let mut out = String::with_capacity(7 + 64);
    out.push_str("sha256:");
    for byte in digest.as_ref() {
        out.push_str(&format!("{byte:02x}"));
    }
    out
}

/// The fingerprint of the first certificate in `pem`.
pub fn fingerprint_of_pem(pem: &str) -> Result<String, PkiError> {
    let der = CertificateDer::from_pem_slice(pem.as_bytes())
        .map_err(|e| PkiError::Certificate(format!("not a PEM certificate: {e}")))?;
    Ok(fingerprint(&der))
}

/// A fingerprint as people type it (`sha256:AB:CD...`, `AbCd...`) in the
/// form [`fingerprint`] writes, or an error saying what is wrong.
pub fn normalize_fingerprint(text: &str) -> Result<String, String> {
    let trimmed = text.trim();
    let hex = trimmed
        .strip_prefix("sha256:")
        .or_else(|| trimmed.strip_prefix("SHA256:"))
        .unwrap_or(trimmed);
    let digits: String = hex
        .chars()
        .filter(|c| *c != ':')
        .map(|c| c.to_ascii_lowercase())
        .collect();
    if digits.len() != 64 || !digits.chars().all(|c| c.is_ascii_hexdigit()) {
        return Err(format!(
            "{trimmed:?} is not a SHA-256 fingerprint (sha256: and 64 hex digits)"
        ));
    }
    Ok(format!("sha256:{digits}"))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn a_fingerprint_is_sha256_in_lowercase_hex() {
        let f = fingerprint(b"abc");
        assert_eq!(
            f,
            "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn typed_fingerprints_are_normalized_and_bad_ones_refused() {
        let f = "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
        assert_eq!(normalize_fingerprint(f).unwrap(), f);
        assert_eq!(
            normalize_fingerprint(&f[7..].to_uppercase()).unwrap(),
            f,
            "without the prefix, upper case"
        );
        let colons: Vec<String> = f.as_bytes()[7..]
            .chunks(2)
            .map(|c| String::from_utf8_lossy(c).into_owned())
            .collect();
        assert_eq!(
            normalize_fingerprint(&format!("SHA256:{}", colons.join(":"))).unwrap(),
            f
        );
        assert!(normalize_fingerprint("sha256:abc").is_err());
        assert!(normalize_fingerprint(&format!("{}zz", &f[..69])).is_err());
    }
}
