//! Failed logins are rate limited per user and per client address: after
//! a few failures in a row, the next attempts are refused (429) without
//! looking at the password, for a lock that doubles with each further
//! failure up to a ceiling. A guesser gets a handful of tries a minute;
//! the real user is locked out for at most the ceiling, never for good.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The limits.
#[derive(Debug, Clone, Copy)]
pub struct LoginLimits {
    /// Failures of one user allowed before it is locked.
    pub user_failures: u32,
    /// Failures from one address allowed before it is locked.
    pub address_failures: u32,
    /// The first lock; each further failure doubles it.
    pub base_lock: Duration,
    /// The longest lock.
    pub max_lock: Duration,
    /// A key with no failure for this long starts afresh.
    pub forget_after: Duration,
}

impl Default for LoginLimits {
    /// 5 failures per user, 20 per address; locks of 1 s doubling to 5 min.
    fn default() -> Self {
        LoginLimits {
            user_failures: 5,
            address_failures: 20,
            base_lock: Duration::from_secs(1),
            max_lock: Duration::from_secs(300),
            forget_after: Duration::from_secs(900),
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Failures {
    count: u32,
    last: Instant,
    locked_until: Option<Instant>,
}

/// Failed logins by key (`user:NAME`, `addr:IP`).
#[derive(Debug, Default)]
pub struct LoginLimiter {
    limits: LoginLimits,
    keys: Mutex<HashMap<String, Failures>>,
}

impl LoginLimiter {
    pub fn new(limits: LoginLimits) -> Self {
        LoginLimiter {
            limits,
            keys: Mutex::default(),
        }
    }

    /// How long the attempt must wait, if it may not be made now.
    pub fn locked(&self, user: &str, address: &str, now: Instant) -> Option<Duration> {
        let keys = self.keys.lock().ok()?;
        [user_key(user), addr_key(address)]
            .iter()
            .filter_map(|k| keys.get(k)?.locked_until)
            .filter(|until| *until > now)
            .map(|until| until - now)
            .max()
    }

    /// Records a failed attempt.
    pub fn failed(&self, user: &str, address: &str, now: Instant) {
        let Ok(mut keys) = self.keys.lock() else {
            return;
        };
        // Bounded: a flood of made-up names does not grow the map forever.
        if keys.len() > 100_000 {
            let forget = self.limits.forget_after;
            keys.retain(|_, f| now.duration_since(f.last) < forget);
        }
        for (key, allowed) in [
            (user_key(user), self.limits.user_failures),
            (addr_key(address), self.limits.address_failures),
        ] {
            let entry = keys.entry(key).or_insert(Failures {
                count: 0,
                last: now,
                locked_until: None,
            });
            if now.duration_since(entry.last) > self.limits.forget_after {
                entry.count = 0;
            }
            entry.count += 1;
            entry.last = now;
            if entry.count >= allowed {
                let doublings = (entry.count - allowed).min(20);
                let lock = self
                    .limits
                    .base_lock
                    .saturating_mul(1u32 << doublings)
                    .min(self.limits.max_lock);
                entry.locked_until = Some(now + lock);
            }
        }
    }

    /// A successful login clears the user's failures (not the address's:
    /// one right password does not unlock a guesser's other names).
    pub fn succeeded(&self, user: &str) {
        if let Ok(mut keys) = self.keys.lock() {
            keys.remove(&user_key(user));
        }
    }
}

fn user_key(user: &str) -> String {
    format!("user:{}", user.to_ascii_lowercase())
}

fn addr_key(address: &str) -> String {
    format!("addr:{address}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limiter() -> LoginLimiter {
        LoginLimiter::new(LoginLimits {
            user_failures: 3,
            address_failures: 10,
            base_lock: Duration::from_secs(1),
            max_lock: Duration::from_secs(8),
            forget_after: Duration::from_secs(60),
        })
    }

    #[test]
    fn a_user_is_locked_after_its_failures_and_the_lock_doubles_to_a_ceiling() {
        let l = limiter();
        let t = Instant::now();
        l.failed("alice", "a1", t);
        l.failed("alice", "a2", t);
        assert_eq!(l.locked("alice", "a3", t), None);
        l.failed("alice", "a3", t);
        assert_eq!(l.locked("alice", "a4", t), Some(Duration::from_secs(1)));
        for _ in 0..10 {
            l.failed("alice", "a5", t);
        }
        assert_eq!(l.locked("alice", "a6", t), Some(Duration::from_secs(8)));
        // Never for good.
        assert_eq!(l.locked("alice", "a6", t + Duration::from_secs(9)), None);
    }

    #[test]
    fn an_address_that_guesses_many_names_is_locked_for_all_of_them() {
        let l = limiter();
        let t = Instant::now();
        for i in 0..10 {
            l.failed(&format!("user{i}"), "10.0.0.9", t);
        }
        assert!(l.locked("someone-else", "10.0.0.9", t).is_some());
        assert!(l.locked("someone-else", "10.0.0.8", t).is_none());
    }

    #[test]
    fn a_success_clears_the_users_failures() {
        let l = limiter();
        let t = Instant::now();
        l.failed("bob", "a", t);
        l.failed("bob", "a", t);
        l.succeeded("bob");
        l.failed("bob", "a", t);
        assert_eq!(l.locked("bob", "b", t), None);
    }
}
