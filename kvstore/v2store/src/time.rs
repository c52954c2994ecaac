//! Absolute time as data. The store never reads a clock: callers pass the time in.
//!
//! Owns: `Time` and the `ttl` rounding. Must not depend on `std::time::SystemTime`.

use serde::{Deserialize, Serialize};

/// Nanoseconds since the Unix epoch (UTC). Proposers turn a relative TTL into an absolute
/// `Time` before a mutation enters consensus; apply only compares times it was given.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
pub struct Time(pub i64);

impl Time {
    /// `self + seconds`, saturating at the end of representable time.
    #[must_use]
    pub fn plus_seconds(self, seconds: u64) -> Time {
        let nanos = i64::try_from(seconds)
            .ok()
            .and_then(|s| s.checked_mul(1_000_000_000))
            .unwrap_or(i64::MAX);
        Time(self.0.saturating_add(nanos))
    }

    /// Remaining whole seconds from `now` to `self`, rounded up (etcd's `ttl` field).
    /// Negative when `self` is in the past.
    #[must_use]
    pub fn seconds_remaining_from(self, now: Time) -> i64 {
        let nanos = i128::from(self.0) - i128::from(now.0);
        let seconds =
            nanos.div_euclid(1_000_000_000) + i128::from(nanos.rem_euclid(1_000_000_000) != 0);
        i64::try_from(seconds).unwrap_or(if seconds > 0 { i64::MAX } else { i64::MIN })
    }
}
