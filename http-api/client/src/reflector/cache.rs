//! [`Cache`]: one immutable, published state of a reflector (the leaf keys under its prefix,
//! the store index they reflect, a generation, what changed, and whether the cache is fed),
//! with its readers.
//!
//! Invariants: a `Cache` never changes after it is published; every key it holds is a file at
//! or below the prefix with no hidden segment below it (what a recursive GET of the prefix
//! lists); `generation` grows by exactly one per publish of a reflector. Pure data: no I/O, no
//! tokio, no clock (instants arrive as data).

use crate::types::StoreIndex;
use std::collections::{BTreeMap, BTreeSet};
use std::ops::Bound;
use std::sync::Arc;
use std::time::Instant;

/// The map a cache holds: full key → entry. Keys and entries are shared between successive
/// caches (`Arc`), so copying the map copies its spine, never a key or a value.
pub(crate) type Entries = BTreeMap<Arc<str>, Arc<Entry>>;

/// One cached file: its value and metadata as the last list or event gave them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The value (etcd values are strings; a file always has one, possibly empty).
    pub value: String,
    /// The index of the last change to the key: the `prevIndex` for a compare-and-swap.
    pub modified_index: StoreIndex,
    /// The index that created this incarnation of the key.
    pub created_index: StoreIndex,
    /// Absolute expiry as etcd wrote it (RFC 3339, UTC), when the key has a TTL.
    pub expiration: Option<String>,
    /// Remaining seconds *at the time of the list or event* that produced the entry, when the
    /// key has a TTL; it is not counted down. Use `expiration` for a deadline.
    pub ttl: Option<i64>,
}

/// What changed between the previous generation and this one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Changes {
    /// Anything may have changed: treat it as a re-list and look at the whole cache. Reported
    /// for the first list, when more than [`crate::limits::REFLECTOR_CHANGED_KEYS_MAX`] keys
    /// changed, and by [`Cache::changes_since`] for a generation gap.
    All,
    /// Exactly these keys were added, changed or removed (a key absent from the cache now was
    /// removed). Empty when only [`Cache::health`] (or the index after a re-list) changed.
    Keys(BTreeSet<Arc<str>>),
}

impl Changes {
    /// True for [`Changes::All`].
    #[must_use]
    pub fn is_all(&self) -> bool {
        matches!(self, Changes::All)
    }

    /// True when `key` may have changed: named in [`Changes::Keys`], or anything for
    /// [`Changes::All`].
    #[must_use]
    pub fn may_include(&self, key: &str) -> bool {
        match self {
            Changes::All => true,
            Changes::Keys(keys) => keys.contains(key),
        }
    }

    /// The changed keys, or `None` for [`Changes::All`].
    #[must_use]
    pub fn keys(&self) -> Option<&BTreeSet<Arc<str>>> {
        match self {
            Changes::All => None,
            Changes::Keys(keys) => Some(keys),
        }
    }
}

/// Whether a cache is fed by the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Health {
    /// Listed, then watching without a failure since: the cache follows the store (up to the
    /// delay of one watch round trip).
    Synced,
    /// Not fed since `since`: before the first list succeeded (`since` is when the reflector
    /// started, and [`Cache::list_count`] is 0), or since a list or the watch failed. The
    /// entries are what was last seen, as of [`Cache::index`]; do not act on them as current
    /// (fleetd answers 503, its agent starts and stops nothing).
    Stale {
        /// When the cache stopped being fed, on tokio's clock
        /// (`tokio::time::Instant::from_std` gives it back, so paused test time applies).
        since: Instant,
    },
    /// The reflector has stopped (its shutdown token was cancelled or every handle dropped);
    /// this is its last publish.
    Stopped,
}

/// The state of a reflector at one generation. Immutable: hand it out as `Arc<Cache>` and read
/// it without locks for as long as needed.
#[derive(Debug, Clone)]
pub struct Cache {
    pub(crate) prefix: Arc<str>,
    pub(crate) entries: Arc<Entries>,
    pub(crate) index: StoreIndex,
    pub(crate) generation: u64,
    pub(crate) list_count: u64,
    pub(crate) changes: Changes,
    pub(crate) health: Health,
}

/// What [`Cache::changes_since`] answers for the generation a consumer already handled.
static UNCHANGED: Changes = Changes::Keys(BTreeSet::new());
/// What [`Cache::changes_since`] answers across a gap.
static ANYTHING: Changes = Changes::All;

impl Cache {
    /// The prefix reflected, cleaned (`/a/b`, or `/` for the whole tree).
    #[must_use]
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// The cached file at `key` (a clean absolute key, as etcd spells it: `/a/b`).
    #[must_use]
    pub fn get(&self, key: &str) -> Option<&Entry> {
        self.entries.get(key).map(|entry| &**entry)
    }

    /// Every cached file, in key order (byte order of the keys).
    pub fn entries(&self) -> impl DoubleEndedIterator<Item = (&str, &Entry)> + '_ {
        self.entries.iter().map(|(key, entry)| (&**key, &**entry))
    }

    /// The files strictly below directory `dir` (`/a/b` or `/a/b/`: keys starting with
    /// `/a/b/`, not `/a/bc`), in key order; one range walk of the map. `/` gives every file.
    pub fn under<'a>(&'a self, dir: &str) -> impl Iterator<Item = (&'a str, &'a Entry)> + 'a {
        let mut start = dir.trim_end_matches('/').to_owned();
        start.push('/');
        let range = self
            .entries
            .range::<str, _>((Bound::Included(start.as_str()), Bound::Unbounded));
        range
            .map(|(key, entry)| (&**key, &**entry))
            .take_while(move |(key, _)| key.starts_with(start.as_str()))
    }

    /// How many files are cached.
    #[must_use]
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when no file is cached.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The store index (`X-Etcd-Index` / `modifiedIndex`) the entries reflect: the index of
    /// the last list, or of the last event applied after it. A write under the prefix whose
    /// reply carried index `i` is in the cache once `index() >= i`. 0 before the first list.
    #[must_use]
    pub fn index(&self) -> StoreIndex {
        self.index
    }

    /// 0 for the state before the first publish, then one more per publish.
    #[must_use]
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// How many lists have succeeded: 0 until the first, then one more per re-list (after
    /// error 401, a failed watch or an outage).
    #[must_use]
    pub fn list_count(&self) -> u64 {
        self.list_count
    }

    /// What changed since generation `generation() - 1`. A consumer that may have skipped
    /// generations uses [`Cache::changes_since`] instead.
    #[must_use]
    pub fn changes(&self) -> &Changes {
        &self.changes
    }

    /// What changed since generation `seen`, the last one the consumer handled: nothing when
    /// `seen` is this generation, [`Cache::changes`] when it is the previous one, and
    /// [`Changes::All`] across a gap (the keys of skipped generations are not kept).
    #[must_use]
    pub fn changes_since(&self, seen: u64) -> &Changes {
        if seen == self.generation {
            &UNCHANGED
        } else if seen.checked_add(1) == Some(self.generation) {
            &self.changes
        } else {
            &ANYTHING
        }
    }

    /// Whether the cache is fed (see [`Health`]).
    #[must_use]
    pub fn health(&self) -> Health {
        self.health
    }

    /// True when [`Cache::health`] is [`Health::Synced`].
    #[must_use]
    pub fn is_synced(&self) -> bool {
        self.health == Health::Synced
    }
}
