//! The reflector: an in-memory cache of one key prefix, kept current by "list, then watch,
//! once", built here so that fleet, locksmith and discovery never build it
//! themselves.
//!
//! [`Client::reflect`] starts one task that, in rounds,
//! 1. lists the prefix with a recursive, quorum (linearizable) GET;
//! 2. watches it recursively from the list's `X-Etcd-Index + 1`, so no change between the two
//!    is missed, and applies every event in index order to the cache;
//! 3. re-lists at once on error 401 (the watch fell out of the server's 1000-event history,
//!    e.g. while it idled through changes elsewhere);
//! 4. on any other end of the watch, or a failed list, marks the cache stale and re-lists
//!    after a jittered pause that doubles per consecutive failed round, from
//!    `retry_pause_min` up to `retry_pause_max`, forever. A round whose watch neither delivered
//!    an event nor ran for `retry_pause_max` counts as failed, 401 included, so a store that
//!    outruns the re-list is backed off from rather than hammered.
//!
//! What it hands out is a [`Cache`]: immutable, behind an `Arc`, published through a
//! `tokio::sync::watch` channel. Readers take the current `Arc` ([`Reflector::cache`]) and
//! read it for as long as they like without a lock; nothing they hold is ever changed.
//!
//! # Which keys, and how events change them
//! The cache holds what a recursive GET of the prefix lists: the files at or below the prefix
//! with no hidden segment (a name starting with `_`) below it; directories are not entries.
//!
//! | event key | set, create, update, compareAndSwap | delete, compareAndDelete, expire |
//! |---|---|---|
//! | the prefix or below it | a file is stored; a directory drops the file it replaced | the key and everything below it go (a recursive delete, or a directory's expiry, is one event on the directory) |
//! | a proper ancestor of the prefix | ignored | everything goes (etcd delivers a directory's removal to the watchers inside it) |
//! | below it, with a hidden segment | ignored | ignored |
//! | anywhere else | ignored | ignored |
//!
//! # Consistency
//! Every published cache is the state of the prefix at [`Cache::index`]: a list, followed by
//! every later event under the prefix in order, none skipped or repeated (the watch's position
//! is one number; events at or below the cache's index are dropped as duplicates). A publish
//! happens between events, never inside one.
//!
//! # Generations and changes
//! Each publish bumps [`Cache::generation`] by one and carries [`Cache::changes`], the keys
//! changed since the previous generation, or [`Changes::All`] for the first list or when more
//! than [`crate::limits::REFLECTOR_CHANGED_KEYS_MAX`] keys changed. A re-list reports exactly
//! the keys that differ from the cache it replaces. A `watch` receiver sees only the latest
//! value, so a consumer may skip generations: it keeps the last generation it handled and asks
//! [`Cache::changes_since`], which answers [`Changes::All`] across a gap ("treat as a
//! re-list").
//!
//! # Health
//! [`Cache::health`] says whether the cache is fed: [`Health::Synced`] after a list while the
//! watch runs; [`Health::Stale`] with the instant it stopped being fed (before the first list,
//! and from a failed list or watch until a list succeeds again); [`Health::Stopped`] as the
//! last publish. A health change is a publish with no key changed. The watch reports a dead
//! store only after the client's own failover budget (`attempts_max` attempts within
//! `operation_timeout`), so staleness is noticed that late; a frozen member is left after
//! `request_timeout`, as by every watch.
//!
//! # Cost of a publish, and its bounds
//! A publish itself is O(1): the new cache shares the map with the reflector. The first change
//! after a publish copies the map's spine (copy-on-write): O(n) for n cached keys, one B-tree
//! node per few keys and one reference-count increment per key and per value; no key or value
//! is copied. That happens at most once per publish, and n ≤ `keys_max`. Events the watch
//! stream has already received are applied together before one publish (up to
//! [`crate::limits::REFLECTOR_EVENTS_PER_PUBLISH_MAX`]), so a burst coalesces as far as it has
//! arrived; a long-poll delivers one event per round trip, so a quiet store costs nothing and a
//! busy one at most one spine copy per event. A consumer that holds an old `Arc<Cache>` keeps
//! that generation's spine alive, not more. A re-list builds a new map (O(n log n)) and
//! compares it with the old one (O(n log n)).
//!
//! # Lifecycle
//! The task is spawned on the caller's `TaskTracker` and stops, within one poll, when the
//! shutdown token is cancelled or when every [`Reflector`] clone and receiver is dropped;
//! its last publish says [`Health::Stopped`].
//!
//! # Limits
//! - A watch is served from the member it polls, as in etcd v2: a member cut off from its
//!   leader answers idle polls, and the cache stays `Synced` but frozen until that member
//!   fails or rejoins. Only the list is a quorum read.
//! - [`Entry::ttl`] is the remaining time when the key was listed or changed; it is not
//!   counted down.
//! - A re-list replaces the index: after a store is replaced by a new cluster, the cache
//!   follows the new one's (smaller) indexes.
//!
//! Layout: `cache.rs` (the published types) and `state.rs` (every state change, with its
//! table tests) do no I/O and use no tokio; `task.rs` is their only driver.

mod cache;
mod state;
mod task;

pub use cache::{Cache, Changes, Entry, Health};

use crate::backoff::Backoff;
use crate::client::Client;
use crate::config::ConfigError;
use crate::limits::{REFLECTOR_KEYS_MAX_LIMIT, REFLECTOR_RETRY_PAUSE_MAX_LIMIT};
use crate::request::clean_key;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// Options of [`Client::reflect`]; [`ReflectorOptions::default`] documents each default.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReflectorOptions {
    /// Most files cached. A list or event beyond it is refused: the cache turns stale (logged
    /// at error) and the list is retried at `retry_pause_max` until the prefix shrinks.
    /// Default 100 000: fleet's largest prefix (unit states, units × machines) stays far
    /// below it, and a runaway prefix cannot exhaust memory. At most
    /// [`crate::limits::REFLECTOR_KEYS_MAX_LIMIT`].
    pub keys_max: usize,
    /// First pause before a re-list after a failure. Default 100 ms: a failed list already
    /// went through the client's own failover and backoff.
    pub retry_pause_min: Duration,
    /// Largest pause bound; it doubles per consecutive failure up to this, and each pause is
    /// drawn from `[0, bound]`. Default 5 s: a recovered store is noticed within seconds while
    /// a fleet of reflectors costs the store one list each per few seconds during an outage.
    /// At most [`crate::limits::REFLECTOR_RETRY_PAUSE_MAX_LIMIT`].
    pub retry_pause_max: Duration,
    /// Seed of the pause jitter; `None` uses the client's `jitter_seed`, else a fresh one.
    pub jitter_seed: Option<u64>,
}

impl Default for ReflectorOptions {
    fn default() -> ReflectorOptions {
        ReflectorOptions {
            keys_max: 100_000,
            retry_pause_min: Duration::from_millis(100),
            retry_pause_max: Duration::from_secs(5),
            jitter_seed: None,
        }
    }
}

impl ReflectorOptions {
    /// Checks every field against its bound.
    ///
    /// # Errors
    /// [`ConfigError::KeysMax`], [`ConfigError::ZeroDuration`], [`ConfigError::Order`] or
    /// [`ConfigError::TooLong`], naming the field.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if !(1..=REFLECTOR_KEYS_MAX_LIMIT).contains(&self.keys_max) {
            return Err(ConfigError::KeysMax {
                value: self.keys_max,
                max: REFLECTOR_KEYS_MAX_LIMIT,
            });
        }
        if self.retry_pause_min.is_zero() {
            return Err(ConfigError::ZeroDuration {
                field: "retry_pause_min",
            });
        }
        if self.retry_pause_min > self.retry_pause_max {
            return Err(ConfigError::Order {
                smaller: "retry_pause_min",
                larger: "retry_pause_max",
            });
        }
        if self.retry_pause_max > REFLECTOR_RETRY_PAUSE_MAX_LIMIT {
            return Err(ConfigError::TooLong {
                field: "retry_pause_max",
                value: self.retry_pause_max,
                max: REFLECTOR_RETRY_PAUSE_MAX_LIMIT,
            });
        }
        Ok(())
    }
}

/// A handle on a running reflector: the latest [`Cache`] and a way to follow new ones. Cheap
/// to clone; the task runs while a clone or a receiver from [`Reflector::subscribe`] exists
/// and the shutdown token is not cancelled.
#[derive(Debug, Clone)]
pub struct Reflector {
    receiver: watch::Receiver<Arc<Cache>>,
}

/// Why [`Reflector::wait_synced`] returned without a synced cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum WaitSyncedError {
    /// The deadline passed first; `health` is the cache's health at that moment.
    #[error("the reflector was not synced by the deadline ({health:?})")]
    DeadlinePassed {
        /// The health of the latest cache.
        health: Health,
    },
    /// The reflector stopped first.
    #[error("the reflector has stopped")]
    Stopped,
}

impl Reflector {
    /// The latest cache. The channel's lock is held only to clone the `Arc`.
    #[must_use]
    pub fn cache(&self) -> Arc<Cache> {
        Arc::clone(&self.receiver.borrow())
    }

    /// A receiver of every new cache; its first `changed()` returns at once with the current
    /// one. Take each value with `borrow_and_update().clone()` (an `Arc`) and drop the guard
    /// before awaiting. `changed()` fails once the reflector has stopped, after its last
    /// publish ([`Health::Stopped`]). Receivers see only the latest value: use
    /// [`Cache::changes_since`] to tell a gap.
    #[must_use]
    pub fn subscribe(&self) -> watch::Receiver<Arc<Cache>> {
        let mut receiver = self.receiver.clone();
        receiver.mark_changed();
        receiver
    }

    /// Waits until the cache is synced (at once if it is) and returns that cache.
    ///
    /// # Errors
    /// [`WaitSyncedError::DeadlinePassed`] at `deadline`; [`WaitSyncedError::Stopped`] when
    /// the reflector stops first.
    pub async fn wait_synced(&self, deadline: Instant) -> Result<Arc<Cache>, WaitSyncedError> {
        let mut receiver = self.receiver.clone();
        let settled = |cache: &Arc<Cache>| cache.is_synced() || cache.health() == Health::Stopped;
        let waited = tokio::time::timeout_at(deadline, receiver.wait_for(settled)).await;
        match waited {
            Err(_elapsed) => Err(WaitSyncedError::DeadlinePassed {
                health: self.cache().health(),
            }),
            Ok(Err(_closed)) => Err(WaitSyncedError::Stopped),
            Ok(Ok(cache)) if cache.is_synced() => Ok(Arc::clone(&cache)),
            Ok(Ok(_stopped)) => Err(WaitSyncedError::Stopped),
        }
    }
}

impl Client {
    /// Starts a reflector of `prefix` (cleaned like every key: `/a/b/` and `/a/b` are the
    /// same; `/` reflects the whole tree) on `tasks`, stopped by `shutdown`. The cache starts
    /// empty and [`Health::Stale`]; see [`Reflector::wait_synced`]. The [`crate::reflector`]
    /// module docs give the protocol, the guarantees and the costs.
    ///
    /// # Errors
    /// [`ConfigError`] when [`ReflectorOptions::validate`] refuses `options`; nothing is
    /// started.
    ///
    /// # Panics
    /// Outside a tokio runtime (the task is spawned on it).
    pub fn reflect(
        &self,
        prefix: &str,
        options: ReflectorOptions,
        tasks: &TaskTracker,
        shutdown: CancellationToken,
    ) -> Result<Reflector, ConfigError> {
        options.validate()?;
        let core = state::Core::new(
            &clean_key(prefix),
            options.keys_max,
            Instant::now().into_std(),
        );
        let (sender, receiver) = watch::channel(Arc::new(core.snapshot()));
        let seed = options.jitter_seed.or(self.inner.config.jitter_seed);
        let task = task::Task {
            client: self.clone(),
            core,
            sender,
            backoff: Backoff::new(options.retry_pause_min, options.retry_pause_max, seed),
            shutdown,
            failures: 0,
            relist_interval_min: options.retry_pause_max,
        };
        tasks.spawn(task.run());
        Ok(Reflector { receiver })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Goal: every option outside its bound is refused, naming the field; the defaults pass.
    // Method: one invalid value per row.
    #[test]
    fn options_are_validated() {
        let valid = ReflectorOptions::default();
        assert_eq!(valid.validate(), Ok(()));
        let rows = [
            (
                ReflectorOptions {
                    keys_max: 0,
                    ..valid
                },
                ConfigError::KeysMax {
                    value: 0,
                    max: REFLECTOR_KEYS_MAX_LIMIT,
                },
            ),
            (
                ReflectorOptions {
                    keys_max: REFLECTOR_KEYS_MAX_LIMIT + 1,
                    ..valid
                },
                ConfigError::KeysMax {
                    value: REFLECTOR_KEYS_MAX_LIMIT + 1,
                    max: REFLECTOR_KEYS_MAX_LIMIT,
                },
            ),
            (
                ReflectorOptions {
                    retry_pause_min: Duration::ZERO,
                    ..valid
                },
                ConfigError::ZeroDuration {
                    field: "retry_pause_min",
                },
            ),
            (
                ReflectorOptions {
                    retry_pause_min: Duration::from_secs(6),
                    ..valid
                },
                ConfigError::Order {
                    smaller: "retry_pause_min",
                    larger: "retry_pause_max",
                },
            ),
            (
                ReflectorOptions {
                    retry_pause_max: Duration::from_secs(61),
                    ..valid
                },
                ConfigError::TooLong {
                    field: "retry_pause_max",
                    value: Duration::from_secs(61),
                    max: REFLECTOR_RETRY_PAUSE_MAX_LIMIT,
                },
            ),
        ];
        for (options, expected) in rows {
            assert_eq!(options.validate(), Err(expected), "{options:?}");
        }
    }
}
