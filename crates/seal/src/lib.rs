//! Encryption at rest for secrets.
//!
//! A key-encryption key (256 random bits) lives in a file of the data
//! directory, mode 0600, created on first start. [`Sealer::seal`] encrypts
//! a value with AES-256-GCM under it (a random 96-bit nonce per value; the
//! associated data binds the ciphertext to the secret's environment, name
//! and version, so a sealed value copied onto another secret does not
//! open). The file holds one key per line, the current one first; older
//! keys stay only while a rotation re-seals what they sealed
//! ([`Sealer::begin_rotation`], [`Sealer::finish_rotation`]), so a crash in
//! the middle of a rotation loses nothing.
//!
//! The crypto is aws-lc-rs, the one backend of the whole tree (rustls uses
//! it too).

use std::fs;
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::{PoisonError, RwLock};

use aws_lc_rs::aead::{AES_256_GCM, Aad, NONCE_LEN, Nonce, RandomizedNonceKey};
use aws_lc_rs::{digest, hmac, rand};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use corral_types::SealedValue;

/// Bytes of a key.
const KEY_LEN: usize = 32;

#[derive(Debug, thiserror::Error)]
pub enum SealError {
    #[error("key file {path}: {message}")]
    KeyFile { path: PathBuf, message: String },
    #[error("sealed with key {0}, which this server does not have")]
    UnknownKey(String),
    #[error("the sealed value does not open (damaged, or not this secret's)")]
    DoesNotOpen,
    #[error("sealed value: {0}")]
    Malformed(String),
    #[error("the system's random source failed")]
    Random,
}

/// One key-encryption key.
struct Key {
    id: String,
    bytes: [u8; KEY_LEN],
}

impl Key {
    fn generate() -> Result<Key, SealError> {
        let mut bytes = [0u8; KEY_LEN];
        rand::fill(&mut bytes).map_err(|_| SealError::Random)?;
        Ok(Key::from_bytes(bytes))
    }

    fn from_bytes(bytes: [u8; KEY_LEN]) -> Key {
        let sum = digest::digest(&digest::SHA256, &bytes);
        Key {
            id: hex(&sum.as_ref()[..8]),
            bytes,
        }
    }

    fn aead(&self) -> Result<RandomizedNonceKey, SealError> {
        // A 32-byte key always makes an AES-256-GCM key; the error is
        // only for a wrong length.
        RandomizedNonceKey::new(&AES_256_GCM, &self.bytes).map_err(|_| SealError::DoesNotOpen)
    }

    fn line(&self) -> String {
        hex(&self.bytes)
    }
}

/// The server's key-encryption keys, the current one first.
pub struct Sealer {
    /// The key file; `None` for a sealer whose keys live only in memory.
    path: Option<PathBuf>,
    keys: RwLock<Vec<Key>>,
}

impl std::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sealer")
            .field("path", &self.path)
            .field("key_ids", &self.key_ids())
            .finish()
    }
}

impl Sealer {
    /// Reads the key file, or creates it (mode 0600) with a new key.
    pub fn load_or_create(path: &Path) -> Result<Sealer, SealError> {
        let keys = match fs::read_to_string(path) {
            Ok(text) => {
                check_mode(path);
                parse_keys(path, &text)?
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let keys = vec![Key::generate()?];
                write_keys(path, &keys)?;
                keys
            }
            Err(e) => return Err(key_file(path, e.to_string())),
        };
        Ok(Sealer {
            path: Some(path.to_path_buf()),
            keys: RwLock::new(keys),
        })
    }

    /// A sealer with a new key kept only in memory, for tests and tools:
    /// what it seals cannot be opened after it is dropped. (If the
    /// system's random source fails, the key comes from std's hasher
    /// seeds: good enough for a test, and the server proper never uses
    /// this sealer.)
    pub fn in_memory() -> Sealer {
        let key = Key::generate().unwrap_or_else(|_| {
            use std::hash::{BuildHasher, RandomState};
            let mut bytes = [0u8; KEY_LEN];
            for (i, chunk) in bytes.chunks_mut(8).enumerate() {
                let word = RandomState::new().hash_one(i).to_le_bytes();
                chunk.copy_from_slice(&word[..chunk.len()]);
            }
            Key::from_bytes(bytes)
        });
        Sealer {
            path: None,
            keys: RwLock::new(vec![key]),
        }
    }

    /// The ids of the keys, the current one first.
    pub fn key_ids(&self) -> Vec<String> {
        self.read().iter().map(|k| k.id.clone()).collect()
    }

    /// Encrypts `value` under the current key, bound to `aad`.
    pub fn seal(&self, aad: &str, value: &[u8]) -> Result<SealedValue, SealError> {
        let keys = self.read();
        let key = keys
            .first()
            .ok_or_else(|| SealError::UnknownKey("(none)".into()))?;
        let mut buf = value.to_vec();
        let nonce = key
            .aead()?
            .seal_in_place_append_tag(Aad::from(aad.as_bytes()), &mut buf)
            .map_err(|_| SealError::Random)?;
        let nonce: &[u8; NONCE_LEN] = nonce.as_ref();
        Ok(SealedValue {
            key_id: key.id.clone(),
            nonce: B64.encode(nonce),
            ciphertext: B64.encode(&buf),
        })
    }

    /// Decrypts a sealed value, checking that it was sealed for `aad`.
    pub fn open(&self, aad: &str, sealed: &SealedValue) -> Result<Vec<u8>, SealError> {
        let keys = self.read();
        let key = keys
            .iter()
            .find(|k| k.id == sealed.key_id)
            .ok_or_else(|| SealError::UnknownKey(sealed.key_id.clone()))?;
        let nonce = B64
            .decode(&sealed.nonce)
            .map_err(|e| SealError::Malformed(format!("nonce: {e}")))?;
        let nonce = Nonce::try_assume_unique_for_key(&nonce)
            .map_err(|_| SealError::Malformed("nonce: not 12 bytes".into()))?;
        let mut buf = B64
            .decode(&sealed.ciphertext)
            .map_err(|e| SealError::Malformed(format!("ciphertext: {e}")))?;
        let plain = key
            .aead()?
            .open_in_place(nonce, Aad::from(aad.as_bytes()), &mut buf)
            .map_err(|_| SealError::DoesNotOpen)?;
        Ok(plain.to_vec())
    }

    /// A keyed digest of a value (16 bytes, hex): equal values have equal
    /// digests under one current key; without the key it reveals nothing
    /// that helps to guess the value.
    pub fn digest(&self, value: &[u8]) -> String {
        let keys = self.read();
        let Some(key) = keys.first() else {
            return String::new();
        };
        let derived = hmac::sign(
            &hmac::Key::new(hmac::HMAC_SHA256, &key.bytes),
            b"corral secret digest v1",
        );
        let tag = hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, derived.as_ref()), value);
        hex(&tag.as_ref()[..16])
    }

    /// Makes a new current key and writes it to the file before the old
    /// ones (which stay until [`Sealer::finish_rotation`]). Returns the new
    /// key's id.
    pub fn begin_rotation(&self) -> Result<String, SealError> {
        let mut keys = self.write();
        let key = Key::generate()?;
        let id = key.id.clone();
        let mut next = vec![key];
        next.extend(keys.drain(..));
        self.save(&next)?;
        *keys = next;
        Ok(id)
    }

    /// Drops every key but the current one, once everything sealed has
    /// been re-sealed under it.
    pub fn finish_rotation(&self) -> Result<(), SealError> {
        let mut keys = self.write();
        let current: Vec<Key> = keys
            .iter()
            .take(1)
            .map(|k| Key::from_bytes(k.bytes))
            .collect();
        self.save(&current)?;
        *keys = current;
        Ok(())
    }

    fn save(&self, keys: &[Key]) -> Result<(), SealError> {
        match &self.path {
            Some(path) => write_keys(path, keys),
            None => Ok(()),
        }
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Vec<Key>> {
        // A panic while holding the lock leaves the keys as they were
        // (every change is built aside and swapped in whole).
        self.keys.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Vec<Key>> {
        self.keys.write().unwrap_or_else(PoisonError::into_inner)
    }
}

fn key_file(path: &Path, message: impl Into<String>) -> SealError {
    SealError::KeyFile {
        path: path.to_path_buf(),
        message: message.into(),
    }
}

fn parse_keys(path: &Path, text: &str) -> Result<Vec<Key>, SealError> {
    let mut keys = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let bytes = unhex(line)
            .and_then(|b| <[u8; KEY_LEN]>::try_from(b).ok())
            .ok_or_else(|| key_file(path, format!("line {}: not a key (64 hex digits)", i + 1)))?;
        keys.push(Key::from_bytes(bytes));
    }
    if keys.is_empty() {
        return Err(key_file(path, "holds no key"));
    }
    Ok(keys)
}

/// Writes the keys to a new file beside `path` (0600) and renames it over.
fn write_keys(path: &Path, keys: &[Key]) -> Result<(), SealError> {
    let tmp = path.with_extension("new");
    let text: String = keys.iter().map(|k| format!("{}\n", k.line())).collect();
    let result = (|| {
        let _ = fs::remove_file(&tmp);
        let mut f = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)?;
        f.write_all(text.as_bytes())?;
        f.sync_all()?;
        fs::rename(&tmp, path)
    })();
    result.map_err(|e| key_file(path, e.to_string()))
}

/// Warns when someone loosened the key file's mode.
fn check_mode(path: &Path) {
    if let Ok(meta) = fs::metadata(path) {
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            tracing::warn!(
                "key file {} has mode {mode:o}; it should be 600 (chmod 600 {})",
                path.display(),
                path.display()
            );
        }
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sealer() -> (tempfile::TempDir, Sealer) {
        let dir = tempfile::tempdir().unwrap();
        let s = Sealer::load_or_create(&dir.path().join("secret-key")).unwrap();
        (dir, s)
    }

    #[test]
    fn a_sealed_value_opens_only_for_its_own_secret() {
        let (_dir, s) = sealer();
        let sealed = s.seal("dev/db/1", b"hunter2").unwrap();
        assert!(!sealed.ciphertext.contains("hunter2"));
        assert_eq!(s.open("dev/db/1", &sealed).unwrap(), b"hunter2");
        assert!(matches!(
            s.open("dev/db/2", &sealed),
            Err(SealError::DoesNotOpen)
        ));
        let mut tampered = sealed.clone();
        tampered.ciphertext = B64.encode(b"something else entirely");
        assert!(s.open("dev/db/1", &tampered).is_err());
    }

    #[test]
    fn the_key_file_is_created_0600_and_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("secret-key");
        let first = Sealer::load_or_create(&path).unwrap();
        let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let sealed = first.seal("a", b"v").unwrap();
        let again = Sealer::load_or_create(&path).unwrap();
        assert_eq!(again.key_ids(), first.key_ids());
        assert_eq!(again.open("a", &sealed).unwrap(), b"v");
    }

    #[test]
    fn rotation_keeps_old_values_open_until_it_finishes() {
        let (dir, s) = sealer();
        let old = s.seal("a", b"v").unwrap();
        let new_id = s.begin_rotation().unwrap();
        assert_eq!(s.key_ids().len(), 2);
        // A crash here: the file holds both keys.
        let reloaded = Sealer::load_or_create(&dir.path().join("secret-key")).unwrap();
        assert_eq!(reloaded.open("a", &old).unwrap(), b"v");
        let resealed = s.seal("a", &s.open("a", &old).unwrap()).unwrap();
        assert_eq!(resealed.key_id, new_id);
        s.finish_rotation().unwrap();
        assert_eq!(s.key_ids(), vec![new_id]);
        assert!(matches!(s.open("a", &old), Err(SealError::UnknownKey(_))));
        assert_eq!(s.open("a", &resealed).unwrap(), b"v");
    }

    #[test]
    fn equal_values_have_equal_digests_and_others_differ() {
        let (_dir, s) = sealer();
        assert_eq!(s.digest(b"x"), s.digest(b"x"));
        assert_ne!(s.digest(b"x"), s.digest(b"y"));
        assert_eq!(s.digest(b"x").len(), 32);
    }

    #[test]
    fn a_damaged_key_file_is_an_error_naming_the_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("secret-key");
        fs::write(&path, "zz\n").unwrap();
        let err = Sealer::load_or_create(&path).unwrap_err();
        assert!(err.to_string().contains("line 1"), "{err}");
    }
}
