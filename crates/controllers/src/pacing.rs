//! When the controllers' passes run: at most every [`MIN_PASS_INTERVAL`],
//! at most half of their thread's time, and what the watch delivers
//! in between goes into the cache.

use std::time::Duration;

use futures::FutureExt;

use corral_store::{Watch, WatchError};

use crate::cache::Cache;

/// Passes start at most this often: under a stream of changes (thousands
/// of status reports a second at scale) each pass then takes a batch of
/// them instead of walking every object once per change.
const MIN_PASS_INTERVAL: Duration = Duration::from_millis(50);

/// When the pass after one that started at `started` and took `took` may
/// start: [`MIN_PASS_INTERVAL`] after the start, or twice the pass's time
/// if longer, so passes take at most half of the controllers' thread. A
/// pass walks every instance (300 ms at 150,000 during a deploy); back to
/// back, they took a whole core from the API and the agents while most of
/// their work was waiting for the next status reports.
///
/// A pass that left instances to make for later (`deferred`, its create
/// budget spent) is not waiting for anyone: the next one starts as soon as
/// the minimum interval allows. Paced at half the thread, a deploy of
/// 150,000 instances made them in passes of 10,000 every 5 s, and that,
/// not the agents or the store, set the pace of the whole deploy.
pub(crate) fn next_pass_at(
    started: tokio::time::Instant,
    took: Duration,
    deferred: bool,
) -> tokio::time::Instant {
    let pause = if deferred {
        took
    } else {
        took.saturating_mul(2)
    };
    started + MIN_PASS_INTERVAL.max(pause)
}

/// Applies the events that arrive until `until`, and every one already
/// there after it.
pub(crate) async fn drain_until(
    watch: &mut Watch,
    cache: &mut Cache,
    until: tokio::time::Instant,
) -> Result<(), WatchError> {
    loop {
        tokio::select! {
            ev = watch.next_shared() => cache.apply(&*ev?),
            _ = tokio::time::sleep_until(until) => break,
        }
    }
    apply_ready(watch, cache)
}

/// Applies the events already waiting on the watch, without waiting.
pub(crate) fn apply_ready(watch: &mut Watch, cache: &mut Cache) -> Result<(), WatchError> {
    // Unconstrained: tokio's cooperative budget would otherwise make a
    // ready channel look empty after a hundred-odd events.
    while let Some(next) = tokio::task::unconstrained(watch.next_shared()).now_or_never() {
        cache.apply(&*next?);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_short_pass_waits_the_minimum_and_a_long_one_as_long_again() {
        let t0 = tokio::time::Instant::now();
        let ms = Duration::from_millis;
        assert_eq!(next_pass_at(t0, ms(5), false), t0 + MIN_PASS_INTERVAL);
        assert_eq!(next_pass_at(t0, ms(25), false), t0 + ms(50));
        assert_eq!(next_pass_at(t0, ms(300), false), t0 + ms(600));
    }

    #[test]
    fn a_pass_that_left_instances_to_make_is_followed_at_once() {
        let t0 = tokio::time::Instant::now();
        let ms = Duration::from_millis;
        assert_eq!(next_pass_at(t0, ms(5), true), t0 + MIN_PASS_INTERVAL);
        assert_eq!(next_pass_at(t0, ms(2_500), true), t0 + ms(2_500));
    }
}
