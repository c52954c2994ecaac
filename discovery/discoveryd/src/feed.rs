//! The index behind every answer, kept current from Keel: one reflector of the whole prefix
//! (kv-client's list-then-watch, resumed from its last index, re-listed after error 401), each
//! published state turned into a new [`Index`] (updated per changed key, or rebuilt after a
//! re-list) and swapped in whole. Queries take the current index and never wait on Keel;
//! while Keel is unreachable they keep the last one (serve-stale).
//!
//! Invariants: the index swapped in always reflects one published cache; a malformed value is
//! logged once per change and skipped; `/<prefix>/config` is configuration, never a record:
//! its value goes to the reload callback, before the index of the same state is swapped in.

use discovery_core::index::{Index, Stored};
use kv_client::{Cache, Changes, Client, ReflectorOptions};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// The current index and whether it was ever loaded; cheap to clone.
#[derive(Debug, Clone, Default)]
pub struct Records {
    current: Arc<RwLock<Arc<Index>>>,
    loaded: Arc<AtomicBool>,
    synced: Arc<AtomicBool>,
}

impl Records {
    /// The current index (the lock is held only to clone the `Arc`).
    #[must_use]
    pub fn index(&self) -> Arc<Index> {
        match self.current.read() {
            Ok(guard) => Arc::clone(&guard),
            Err(poisoned) => Arc::clone(&poisoned.into_inner()),
        }
    }

    /// Whether an index was ever loaded from Keel (before that, queries are refused, as
    /// SkyDNS refuses while its backend is not synced).
    #[must_use]
    pub fn is_loaded(&self) -> bool {
        self.loaded.load(Ordering::Acquire)
    }

    /// Whether the index follows Keel right now (false while serving stale).
    #[must_use]
    pub fn is_synced(&self) -> bool {
        self.synced.load(Ordering::Acquire)
    }

    fn swap(&self, index: Index) {
        let index = Arc::new(index);
        match self.current.write() {
            Ok(mut guard) => *guard = index,
            Err(poisoned) => *poisoned.into_inner() = index,
        }
        self.loaded.store(true, Ordering::Release);
    }
}

/// Called with the value of `/<prefix>/config` (`None`: no such key) each time it changes,
/// the first time before the first index is swapped in.
pub type OnConfig = Box<dyn Fn(Option<&str>) + Send + Sync>;

/// Starts feeding `records` from the reflector of `/<prefix>` on `tasks`, until `shutdown`.
///
/// # Errors
/// [`kv_client::ConfigError`] when the reflector's options are refused.
pub fn start(
    client: &Client,
    prefix: &str,
    records: Records,
    on_config: OnConfig,
    tasks: &TaskTracker,
    shutdown: CancellationToken,
) -> Result<(), kv_client::ConfigError> {
    let reflector = client.reflect(
        &format!("/{prefix}"),
        ReflectorOptions::default(),
        tasks,
        shutdown.clone(),
    )?;
    let config_key = format!("/{prefix}/config");
    let mut receiver = reflector.subscribe();
    tasks.spawn(async move {
        let mut generation = 0;
        let mut config: Option<Option<String>> = None;
        loop {
            tokio::select! {
                () = shutdown.cancelled() => return,
                changed = receiver.changed() => if changed.is_err() { return },
            }
            let cache = receiver.borrow_and_update().clone();
            records.synced.store(cache.is_synced(), Ordering::Release);
            if cache.list_count() == 0 {
                continue;
            }
            let stored = cache.get(&config_key).map(|entry| entry.value.clone());
            if config.as_ref() != Some(&stored) {
                on_config(stored.as_deref());
                config = Some(stored);
            }
            let old = records.index();
            let (index, skipped) = next_index(&old, &cache, generation, &config_key);
            for skip in skipped {
                tracing::warn!(key = %skip.key, reason = %skip.reason, "record skipped");
            }
            generation = cache.generation();
            records.swap(index);
        }
    });
    Ok(())
}

/// The index for `cache`, updated from `old` when only some keys changed since `seen`.
fn next_index(
    old: &Index,
    cache: &Cache,
    seen: u64,
    config_key: &str,
) -> (Index, Vec<discovery_core::index::Skipped>) {
    let stored = |key: &str| {
        if key == config_key {
            return None;
        }
        cache.get(key).map(|entry| Stored {
            key: "",
            value: entry.value.as_str(),
            expires_at_ms: entry.expiration.as_deref().and_then(expiry_ms),
        })
    };
    match cache.changes_since(seen) {
        Changes::Keys(keys) if seen != 0 => old.updated(keys.iter().map(|key| {
            let key: &str = key;
            (key, stored(key).map(|item| Stored { key, ..item }))
        })),
        Changes::Keys(_) | Changes::All => {
            Index::build(cache.entries().filter(|(key, _)| *key != config_key).map(
                |(key, entry)| Stored {
                    key,
                    value: entry.value.as_str(),
                    expires_at_ms: entry.expiration.as_deref().and_then(expiry_ms),
                },
            ))
        }
    }
}

/// Unix milliseconds of an RFC 3339 expiry as Keel writes it.
fn expiry_ms(text: &str) -> Option<i64> {
    text.parse::<jiff::Timestamp>()
        .ok()
        .map(jiff::Timestamp::as_millisecond)
}
