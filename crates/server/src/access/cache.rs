//! Credentials checked recently, so that the hot paths (an agent's
//! heartbeat and status batches, thousands a second at 5,000 nodes) do not
//! read the store and wait for a blocking thread on every request.
//!
//! An entry holds the principal a credential id resolved to and the hash
//! of its secret (a presented token is still checked against it), for at
//! most [`TTL`]. Every change this server makes to a credential or a user
//! clears the whole cache ([`AuthCache::invalidate`]), so a revocation
//! through this server takes effect at once; one made by another server
//! sharing the store takes at most [`TTL`].

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::principal::Principal;
use super::secrets::token_matches;

/// How long a checked credential is trusted without reading the store.
pub const TTL: Duration = Duration::from_secs(5);

/// Bound on the entries kept (a flood of made-up ids cannot grow it:
/// only credentials that resolved are kept).
const MAX_ENTRIES: usize = 50_000;

#[derive(Debug, Clone)]
struct Entry {
    secret_hash: String,
    principal: Principal,
    /// When the principal stops being valid on its own (a session's expiry).
    valid_until_ms: u64,
    checked: Instant,
}

#[derive(Debug, Default)]
pub struct AuthCache {
    entries: Mutex<HashMap<String, Entry>>,
}

impl AuthCache {
    /// The principal of token id `id` with secret `secret`, if it was
    /// checked within [`TTL`] and the secret matches.
    pub fn get(&self, id: &str, secret: &str, now: Instant, now_ms: u64) -> Option<Principal> {
        let entries = self.entries.lock().ok()?;
        let e = entries.get(id)?;
        let fresh = now.duration_since(e.checked) < TTL && now_ms < e.valid_until_ms;
        (fresh && token_matches(secret, &e.secret_hash)).then(|| e.principal.clone())
    }

    /// Remembers that `id` (whose secret hashes to `secret_hash`) resolved
    /// to `principal`, valid until `valid_until_ms` at the latest.
    pub fn put(
        &self,
        id: &str,
        secret_hash: &str,
        principal: &Principal,
        valid_until_ms: u64,
        now: Instant,
    ) {
        let Ok(mut entries) = self.entries.lock() else {
            return;
        };
        if entries.len() >= MAX_ENTRIES {
            entries.retain(|_, e| now.duration_since(e.checked) < TTL);
            if entries.len() >= MAX_ENTRIES {
                entries.clear();
            }
        }
        entries.insert(
            id.to_string(),
            Entry {
                secret_hash: secret_hash.to_string(),
                principal: principal.clone(),
                valid_until_ms,
                checked: now,
            },
        );
    }

    /// Forgets everything: called by every write to a credential or a user.
    pub fn invalidate(&self) {
        if let Ok(mut entries) = self.entries.lock() {
            entries.clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::access::secrets::token_hash;

    fn node() -> Principal {
        Principal::Node {
            environment: "dev".into(),
            node: "n1".into(),
            credential: "c1".into(),
            certificate: String::new(),
        }
    }

    #[test]
    fn a_cached_credential_needs_its_secret_and_expires() {
        let cache = AuthCache::default();
        let t = Instant::now();
        cache.put("c1", &token_hash("s3cret"), &node(), u64::MAX, t);
        assert_eq!(cache.get("c1", "s3cret", t, 0), Some(node()));
        assert_eq!(cache.get("c1", "wrong", t, 0), None);
        assert_eq!(cache.get("c1", "s3cret", t + TTL, 0), None);
    }

    #[test]
    fn invalidating_forgets_every_credential_at_once() {
        let cache = AuthCache::default();
        let t = Instant::now();
        cache.put("c1", &token_hash("s"), &node(), u64::MAX, t);
        cache.invalidate();
        assert_eq!(cache.get("c1", "s", t, 0), None);
    }

    #[test]
    fn a_session_past_its_expiry_is_not_served_from_the_cache() {
        let cache = AuthCache::default();
        let t = Instant::now();
        cache.put("s1", &token_hash("s"), &node(), 1_000, t);
        assert!(cache.get("s1", "s", t, 999).is_some());
        assert!(cache.get("s1", "s", t, 1_000).is_none());
    }
}
