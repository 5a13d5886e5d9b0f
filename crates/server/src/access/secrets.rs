//! Random secrets, token hashes and password hashes.
//!
//! Tokens carry 256 random bits, so one SHA-256 is enough to store them
//! (nothing to brute-force); passwords are chosen by people and get
//! argon2id with the crate's default parameters (19 MiB, 2 passes, 1 lane;
//! OWASP's recommendation; the time per hash on this machine is in
//! docs/BENCHMARKS.md).

use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use sha2::{Digest, Sha256};

use crate::error::ApiError;

pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 15)]));
    }
    out
}

/// `n` random bytes as lowercase hex.
pub fn random_hex(n: usize) -> String {
    let mut bytes = vec![0u8; n];
    rand::fill(bytes.as_mut_slice());
    hex(&bytes)
}

/// A new object id for a credential (16 random bytes).
pub fn new_id() -> String {
    random_hex(16)
}

/// A new token secret (32 random bytes).
pub fn new_secret() -> String {
    random_hex(32)
}

/// The SHA-256 of `secret`, hex.
pub fn token_hash(secret: &str) -> String {
    hex(&Sha256::digest(secret.as_bytes()))
}

/// Compares without returning early on the first differing byte.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Whether `secret` hashes to `stored` (hex SHA-256).
pub fn token_matches(secret: &str, stored: &str) -> bool {
    !stored.is_empty() && constant_time_eq(token_hash(secret).as_bytes(), stored.as_bytes())
}

/// The argon2id PHC string of `password`.
pub fn hash_password(password: &str) -> Result<String, ApiError> {
    argon2::Argon2::default()
        .hash_password(password.as_bytes())
        .map(|h| h.to_string())
        .map_err(|e| ApiError::Internal(format!("hashing a password: {e}")))
}

/// Whether `password` matches the PHC string `stored`.
pub fn password_matches(password: &str, stored: &str) -> bool {
    !stored.is_empty()
        && argon2::Argon2::default()
            .verify_password(password.as_bytes(), stored)
            .is_ok()
}

/// An RFC 3339 time `ms` milliseconds after the Unix epoch.
pub fn rfc3339_at_ms(ms: u64) -> String {
    let nanos = i128::from(ms) * 1_000_000;
    time::OffsetDateTime::from_unix_timestamp_nanos(nanos)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_default()
}

/// Milliseconds since the Unix epoch of an RFC 3339 time; 0 if unreadable
/// (an unreadable expiry has expired).
pub fn ms_of_rfc3339(text: &str) -> u64 {
    time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339)
        .ok()
        .and_then(|t| u64::try_from(t.unix_timestamp_nanos() / 1_000_000).ok())
        .unwrap_or(0)
}

/// An object as the API shows it: without password and token hashes.
pub fn redact(mut raw: corral_types::RawObject) -> corral_types::RawObject {
    if let Some(spec) = raw.spec.as_object_mut() {
        spec.remove("password_hash");
        spec.remove("secret_hash");
        spec.remove("bind_password");
        spec.remove("sealed");
        spec.remove("sealed_key");
        spec.remove("sealed_credentials");
    }
    raw
}

/// Whether objects of `kind` carry hashes [`redact`] removes.
pub fn holds_hashes(kind: corral_types::Kind) -> bool {
    use corral_types::Kind;
    matches!(
        kind,
        Kind::User
            | Kind::Session
            | Kind::ApiKey
            | Kind::RegistrationToken
            | Kind::NodeCredential
            | Kind::AuthProvider
            | Kind::Secret
            | Kind::Certificate
            | Kind::Catalog
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_comparison_needs_every_byte() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
    }

    #[test]
    fn a_token_matches_its_hash_only() {
        let secret = new_secret();
        assert_eq!(secret.len(), 64);
        let stored = token_hash(&secret);
        assert!(token_matches(&secret, &stored));
        assert!(!token_matches(&new_secret(), &stored));
        assert!(!token_matches(&secret, ""));
    }

    #[test]
    fn a_password_matches_its_argon2id_hash_only() {
        let stored = hash_password("correct horse").unwrap_or_default();
        assert!(stored.starts_with("$argon2id$"), "{stored}");
        assert!(password_matches("correct horse", &stored));
        assert!(!password_matches("wrong", &stored));
        assert!(!password_matches("correct horse", ""));
    }

    #[test]
    fn times_round_trip_through_rfc3339() {
        let ms = 1_780_000_000_123;
        assert_eq!(ms_of_rfc3339(&rfc3339_at_ms(ms)), ms);
        assert_eq!(ms_of_rfc3339("yesterday"), 0);
    }
}
