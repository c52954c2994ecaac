//! Bounded, jittered pauses between rounds of attempts.
//!
//! The bound doubles per round from `backoff_min` to `backoff_max`, and the pause is drawn
//! uniformly from `[0, bound]` ("full jitter"), so clients that failed together do not retry
//! together. The random source is `SplitMix64` over an atomic counter: lock-free, and seeded from
//! `ClientConfig::jitter_seed` so a run can be replayed.

use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Full-jitter pauses whose bound doubles per round; shared by every caller of one client,
/// and usable by callers that retry on their own (a lost compare-and-swap, for example).
#[derive(Debug)]
pub struct Backoff {
    min: Duration,
    max: Duration,
    state: AtomicU64,
}

/// `SplitMix64`'s increment (the golden ratio), as in Steele, Lea and Flood (2014).
const GAMMA: u64 = 0x9E37_79B9_7F4A_7C15;

impl Backoff {
    /// Pauses bounded from `min` doubling to `max`; `seed` replays a run, `None` draws one.
    #[must_use]
    pub fn new(min: Duration, max: Duration, seed: Option<u64>) -> Backoff {
        // RandomState is seeded per process by the standard library: a fresh seed without a
        // dependency on a random-number crate.
        let seed = seed.unwrap_or_else(|| RandomState::new().hash_one(0x6b65_656c_u64));
        Backoff {
            min,
            max,
            state: AtomicU64::new(seed),
        }
    }

    /// The pause before round `round` (1 for the first retry round).
    #[must_use]
    pub fn pause(&self, round: u32) -> Duration {
        let bound = self.bound(round);
        let nanos = u64::try_from(bound.as_nanos()).unwrap_or(u64::MAX);
        Duration::from_nanos(self.next_random() % nanos.saturating_add(1))
    }

    /// `min · 2^(round-1)`, capped at `max`.
    #[must_use]
    pub fn bound(&self, round: u32) -> Duration {
        let doublings = round.saturating_sub(1).min(31);
        self.min
            .checked_mul(1 << doublings)
            .map_or(self.max, |bound| bound.min(self.max))
    }

    fn next_random(&self) -> u64 {
        let mut value = self
            .state
            .fetch_add(GAMMA, Ordering::Relaxed)
            .wrapping_add(GAMMA);
        value = (value ^ (value >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        value = (value ^ (value >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        value ^ (value >> 31)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Goal: the bound doubles from min and stops at max; every pause stays within the bound.
    #[test]
    fn bound_doubles_to_cap_and_pauses_stay_within() {
        let backoff = Backoff::new(Duration::from_millis(50), Duration::from_secs(1), Some(7));
        assert_eq!(backoff.bound(1), Duration::from_millis(50));
        assert_eq!(backoff.bound(2), Duration::from_millis(100));
        assert_eq!(backoff.bound(5), Duration::from_millis(800));
        assert_eq!(backoff.bound(6), Duration::from_secs(1));
        assert_eq!(backoff.bound(u32::MAX), Duration::from_secs(1));
        for round in 1..50 {
            assert!(backoff.pause(round) <= backoff.bound(round));
        }
    }

    // Goal: one seed gives one sequence of pauses (a run can be replayed).
    #[test]
    fn same_seed_same_pauses() {
        let first = Backoff::new(Duration::from_millis(10), Duration::from_secs(1), Some(42));
        let second = Backoff::new(Duration::from_millis(10), Duration::from_secs(1), Some(42));
        let pauses = |backoff: &Backoff| (1..10).map(|r| backoff.pause(r)).collect::<Vec<_>>();
        assert_eq!(pauses(&first), pauses(&second));
    }
}
