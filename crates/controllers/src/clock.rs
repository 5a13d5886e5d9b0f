//! Time and ids come from here, never from the store.

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// Wall-clock time, behind a trait so tests can fix it.
pub trait Clock: Send + Sync + 'static {
    /// Now, as RFC 3339.
    fn now_rfc3339(&self) -> String;

    /// Now, in milliseconds since the Unix epoch.
    fn now_ms(&self) -> u64;
}

/// The real clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_rfc3339(&self) -> String {
        // Formatting a valid OffsetDateTime as RFC 3339 fails only for years
        // outside 0..=9999, which the system clock does not produce.
        OffsetDateTime::now_utc()
            .format(&Rfc3339)
            .unwrap_or_default()
    }

    fn now_ms(&self) -> u64 {
        let nanos = OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000;
        u64::try_from(nanos).unwrap_or(0)
    }
}

/// A new random object uid.
pub fn new_uid() -> String {
    uuid::Uuid::new_v4().to_string()
}
