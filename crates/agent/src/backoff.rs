//! Restart backoff: 1 s after the first failure, doubling to at most 30 s;
//! a container that ran for a while resets it.

use std::collections::HashMap;
use std::time::{Duration, Instant};

const FIRST: Duration = Duration::from_secs(1);
const MAX: Duration = Duration::from_secs(30);
/// A container that ran this long (plus its backoff) was not crash-looping.
const STABLE: Duration = Duration::from_secs(10);

#[derive(Debug, Clone, Copy)]
struct Entry {
    failures: u32,
    last_launch: Instant,
}

/// Per-instance (by uid) launch history.
#[derive(Debug, Default)]
pub struct Backoff {
    entries: HashMap<String, Entry>,
}

fn delay(failures: u32) -> Duration {
    if failures == 0 {
        return Duration::ZERO;
    }
    let exp = failures.saturating_sub(1).min(16);
    (FIRST * 2u32.pow(exp)).min(MAX)
}

impl Backoff {
    /// How long until instance `uid` may be launched again (zero: now).
    pub fn wait(&self, uid: &str, now: Instant) -> Duration {
        match self.entries.get(uid) {
            None => Duration::ZERO,
            Some(e) => (e.last_launch + delay(e.failures)).saturating_duration_since(now),
        }
    }

    /// Records a launch; `after_failure` when it replaces a stopped or failed container.
    pub fn launched(&mut self, uid: &str, now: Instant, after_failure: bool) {
        let entry = self.entries.entry(uid.to_string()).or_insert(Entry {
            failures: 0,
            last_launch: now,
        });
        let stable =
            now.saturating_duration_since(entry.last_launch) > STABLE + delay(entry.failures);
        entry.failures = match (after_failure, stable) {
            (false, _) => 0,
            (true, true) => 1,
            (true, false) => entry.failures.saturating_add(1),
        };
        entry.last_launch = now;
    }

    /// True when some launch waits for its backoff at `now`.
    pub fn any_waiting(&self, now: Instant) -> bool {
        self.entries
            .values()
            .any(|e| e.last_launch + delay(e.failures) > now)
    }

    /// Forgets instances no longer on this node.
    pub fn retain(&mut self, keep: impl Fn(&str) -> bool) {
        self.entries.retain(|uid, _| keep(uid));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crash_loops_back_off_exponentially_up_to_the_cap() {
        let mut b = Backoff::default();
        let t0 = Instant::now();
        assert_eq!(b.wait("a", t0), Duration::ZERO);
        b.launched("a", t0, false);
        assert_eq!(b.wait("a", t0), Duration::ZERO);
        b.launched("a", t0, true);
        assert_eq!(b.wait("a", t0), Duration::from_secs(1));
        b.launched("a", t0 + Duration::from_secs(1), true);
        assert_eq!(
            b.wait("a", t0 + Duration::from_secs(1)),
            Duration::from_secs(2)
        );
        for _ in 0..10 {
            b.launched("a", t0 + Duration::from_secs(2), true);
        }
        assert_eq!(b.wait("a", t0 + Duration::from_secs(2)), MAX);
    }

    #[test]
    fn a_container_that_ran_long_enough_resets_the_backoff() {
        let mut b = Backoff::default();
        let t0 = Instant::now();
        b.launched("a", t0, true);
        b.launched("a", t0, true);
        let later = t0 + Duration::from_secs(60);
        b.launched("a", later, true);
        assert_eq!(b.wait("a", later), FIRST);
    }
}
