//! The response cache's bookkeeping: answers kept for a lifetime in whole seconds, handed out
//! with the seconds they have aged (so the server lowers every TTL by that much), dropped once
//! their lifetime is over, and at most `capacity` of them.
//!
//! Invariants: an entry is never handed out at or after its expiry, so a TTL lowered by the
//! age stays at least 1; over capacity the expired entries go first, then an arbitrary one
//! (SkyDNS evicts at random); capacity 0 keeps nothing. Time is an argument (milliseconds).

use std::collections::HashMap;
use std::hash::Hash;

/// A question's identity in the cache.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Key {
    /// The name, lower case, absolute.
    pub name: String,
    /// The type's number.
    pub qtype: u16,
    /// The class's number.
    pub class: u16,
    /// Whether DNSSEC records were asked for (the DO bit).
    pub dnssec_ok: bool,
}

#[derive(Debug, Clone)]
struct Entry<V> {
    value: V,
    stored_at_ms: i64,
    expires_at_ms: i64,
}

/// Answers by question, each with a lifetime.
#[derive(Debug, Clone)]
pub struct Cache<K, V> {
    capacity: usize,
    entries: HashMap<K, Entry<V>>,
}

/// A cached answer and how long it has been held.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hit<V> {
    /// The answer as stored.
    pub value: V,
    /// Whole seconds since it was stored: the amount to lower each TTL by.
    pub age_s: u32,
}

impl<K: Eq + Hash + Clone, V: Clone> Cache<K, V> {
    /// A cache of at most `capacity` answers.
    #[must_use]
    pub fn new(capacity: usize) -> Cache<K, V> {
        Cache {
            capacity,
            entries: HashMap::new(),
        }
    }

    /// The answers held (expired ones included until they are dropped).
    #[must_use]
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether nothing is held.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The answer for `key` if it is still within its lifetime at `now_ms`; an expired one is
    /// dropped.
    pub fn get(&mut self, key: &K, now_ms: i64) -> Option<Hit<V>> {
        let entry = self.entries.get(key)?;
        if now_ms >= entry.expires_at_ms {
            self.entries.remove(key);
            return None;
        }
        let age_ms = now_ms.saturating_sub(entry.stored_at_ms).max(0);
        Some(Hit {
            value: entry.value.clone(),
            age_s: u32::try_from(age_ms / 1000).unwrap_or(u32::MAX),
        })
    }

    /// Keeps `value` for `lifetime_s` seconds from `now_ms`; a lifetime of 0 keeps nothing.
    pub fn insert(&mut self, key: K, value: V, lifetime_s: u32, now_ms: i64) {
        if lifetime_s == 0 || self.capacity == 0 {
            return;
        }
        if self.entries.len() >= self.capacity && !self.entries.contains_key(&key) {
            self.entries.retain(|_, entry| entry.expires_at_ms > now_ms);
            if self.entries.len() >= self.capacity {
                if let Some(victim) = self.entries.keys().next().cloned() {
                    self.entries.remove(&victim);
                }
            }
        }
        let entry = Entry {
            value,
            stored_at_ms: now_ms,
            expires_at_ms: now_ms.saturating_add(i64::from(lifetime_s) * 1000),
        };
        self.entries.insert(key, entry);
    }
}

/// The lifetime of an answer whose records have `ttls`: the smallest, at most `cap`; an
/// answer without records (a bare error code) lives `cap`.
#[must_use]
pub fn lifetime(ttls: impl IntoIterator<Item = u32>, cap: u32) -> u32 {
    ttls.into_iter().fold(cap, u32::min)
}

#[cfg(test)]
mod tests {
    use super::*;

    // Goal: an answer is handed out with its age in whole seconds until its lifetime ends,
    // and not at or after its expiry. Method: one entry with a 10 s lifetime, read at several
    // times.
    #[test]
    fn answers_age_and_expire() {
        let mut cache = Cache::new(4);
        cache.insert("q", "a", 10, 1_000);
        assert_eq!(
            cache.get(&"q", 1_000),
            Some(Hit {
                value: "a",
                age_s: 0
            })
        );
        assert_eq!(cache.get(&"q", 4_999).map(|hit| hit.age_s), Some(3));
        assert_eq!(cache.get(&"q", 10_999).map(|hit| hit.age_s), Some(9));
        assert_eq!(cache.get(&"q", 11_000), None);
        assert!(cache.is_empty(), "the expired entry is dropped");
    }

    // Goal: capacity bounds the entries: expired ones are dropped first, then an arbitrary
    // one; capacity 0 and lifetime 0 keep nothing; re-inserting a key replaces it.
    // Method: a cache of two.
    #[test]
    fn capacity_bounds_the_entries() {
        let mut cache = Cache::new(2);
        cache.insert(1, "one", 1, 0);
        cache.insert(2, "two", 100, 0);
        cache.insert(3, "three", 100, 5_000);
        assert_eq!(cache.len(), 2);
        assert_eq!(cache.get(&1, 5_000), None, "the expired one went");
        cache.insert(4, "four", 100, 6_000);
        assert_eq!(cache.len(), 2);
        assert!(cache.get(&4, 6_000).is_some());
        cache.insert(4, "again", 100, 7_000);
        assert_eq!(cache.get(&4, 7_000).map(|hit| hit.value), Some("again"));
        cache.insert(5, "none", 0, 7_000);
        assert_eq!(cache.get(&5, 7_000), None);
        let mut off: Cache<u8, u8> = Cache::new(0);
        off.insert(1, 1, 100, 0);
        assert!(off.is_empty());
    }

    // Goal: the lifetime is the smallest TTL, capped. Method: three cases.
    #[test]
    fn lifetime_is_the_smallest_ttl_capped() {
        assert_eq!(lifetime([300, 30, 3600], 60), 30);
        assert_eq!(lifetime([300], 60), 60);
        assert_eq!(lifetime([], 60), 60);
    }
}
