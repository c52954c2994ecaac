//! The in-memory index the answers are built from: every service record under the prefix,
//! parsed once, keyed by its Keel key, with the instant its key expires. The server builds a
//! new index from each published state of the store and swaps it in whole, so a query reads
//! one consistent index and never waits on Keel.
//!
//! Invariants: a malformed value is skipped (reported in the build's `skipped` list, never
//! served, never a panic); an index is immutable once built; entries are shared between an
//! index and the one updated from it (`Arc`), so an update copies the map's spine, not the
//! records.

use crate::path::NameError;
use crate::service::{Service, ServiceError};
use std::collections::BTreeMap;
use std::ops::Bound;
use std::sync::Arc;

/// One record in the index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Its key (`/skydns/local/skydns/east/production/rails/1`).
    pub key: Arc<str>,
    /// The parsed service.
    pub service: Service,
    /// When its key expires (Unix milliseconds), for a key with a TTL.
    pub expires_at_ms: Option<i64>,
}

impl Entry {
    /// The record's DNS TTL at `now_ms` under the server's `default` (the rule of
    /// [`Service::dns_ttl`]; the key's remaining time rounded up to whole seconds).
    #[must_use]
    pub fn dns_ttl(&self, now_ms: i64, default: u32) -> u32 {
        let remaining = self.expires_at_ms.map(|expires| {
            let left_ms = expires.saturating_sub(now_ms).max(0);
            u32::try_from((left_ms + 999) / 1000).unwrap_or(u32::MAX)
        });
        self.service.dns_ttl(remaining, default)
    }

    /// The instant (Unix milliseconds) at which the record's DNS TTL, as [`Entry::dns_ttl`]
    /// gives it at `now_ms`, first changes; `i64::MAX` for one that no longer changes (a key
    /// without a TTL, or one with a second or less left, which answers with 1 s from then on).
    /// The TTL is the smaller of the record's own and the key's remaining whole seconds, so
    /// it changes when the remaining time falls below that value.
    #[must_use]
    pub fn dns_ttl_steady_until_ms(&self, now_ms: i64) -> i64 {
        let Some(expires) = self.expires_at_ms else {
            return i64::MAX;
        };
        let remaining_s = (expires.saturating_sub(now_ms).max(0) + 999) / 1000;
        let record_s = i64::from(self.service.ttl);
        let ttl_s = if record_s == 0 {
            remaining_s
        } else {
            record_s.min(remaining_s)
        };
        if ttl_s <= 1 {
            return i64::MAX;
        }
        expires.saturating_sub((ttl_s - 1) * 1000)
    }

    /// The key's segments below the prefix (`local`, `skydns`, `east`, ...).
    #[must_use]
    pub fn segments<'a>(&'a self, prefix_key: &str) -> Vec<&'a str> {
        self.key
            .strip_prefix(prefix_key)
            .unwrap_or(&self.key)
            .split('/')
            .filter(|segment| !segment.is_empty())
            .collect()
    }
}

/// A stored value that was not indexed.
#[derive(Debug, thiserror::Error)]
pub enum SkipReason {
    /// Not a service record.
    #[error(transparent)]
    Service(#[from] ServiceError),
    /// The key is not a DNS name.
    #[error(transparent)]
    Name(#[from] NameError),
}

/// A key that was not indexed, and why.
#[derive(Debug)]
pub struct Skipped {
    /// The key.
    pub key: String,
    /// Why.
    pub reason: SkipReason,
}

/// One stored value to index: key, value, and its key's expiry (Unix milliseconds).
#[derive(Debug, Clone, Copy)]
pub struct Stored<'a> {
    /// The key.
    pub key: &'a str,
    /// The value.
    pub value: &'a str,
    /// The key's expiry.
    pub expires_at_ms: Option<i64>,
}

/// The index: every record by key.
#[derive(Debug, Clone, Default)]
pub struct Index {
    entries: BTreeMap<Arc<str>, Arc<Entry>>,
}

impl Index {
    /// Indexes `stored`, skipping (and listing) what is not a service record.
    #[must_use]
    pub fn build<'a>(stored: impl IntoIterator<Item = Stored<'a>>) -> (Index, Vec<Skipped>) {
        Index::default().updated(stored.into_iter().map(|item| (item.key, Some(item))))
    }

    /// A new index: this one with each `(key, Some(value))` stored and each `(key, None)`
    /// removed; a malformed new value removes the key and is listed.
    #[must_use]
    pub fn updated<'a>(
        &self,
        changes: impl IntoIterator<Item = (&'a str, Option<Stored<'a>>)>,
    ) -> (Index, Vec<Skipped>) {
        let mut entries = self.entries.clone();
        let mut skipped = Vec::new();
        for (key, stored) in changes {
            entries.remove(key.to_ascii_lowercase().as_str());
            let Some(stored) = stored else { continue };
            match parse(stored) {
                Ok(entry) => {
                    entries.insert(Arc::clone(&entry.key), Arc::new(entry));
                }
                Err(reason) => skipped.push(Skipped {
                    key: key.to_owned(),
                    reason,
                }),
            }
        }
        (Index { entries }, skipped)
    }

    /// How many records are indexed.
    #[must_use]
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when nothing is indexed.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The record at exactly `key`.
    #[must_use]
    pub fn exact(&self, key: &str) -> Option<&Entry> {
        self.entries.get(key).map(AsRef::as_ref)
    }

    /// The record at `key` and every record below it, in key order.
    #[must_use]
    pub fn subtree(&self, key: &str) -> Vec<&Entry> {
        let below = format!("{key}/");
        let range = self
            .entries
            .range::<str, _>((Bound::Included(below.as_str()), Bound::Unbounded))
            .take_while(|(candidate, _)| candidate.starts_with(&below))
            .map(|(_, entry)| entry.as_ref());
        self.exact(key).into_iter().chain(range).collect()
    }

    /// The records that a query name with wildcards matches: `segments` are the name's key
    /// segments below `prefix_key` (reversed labels), where `*` and `any` match any one
    /// segment; a record deeper than the name matches too.
    #[must_use]
    pub fn matching(&self, prefix_key: &str, segments: &[String]) -> Vec<&Entry> {
        let literal = segments
            .iter()
            .take_while(|segment| !is_wildcard(segment))
            .fold(prefix_key.to_owned(), |key, segment| key + "/" + segment);
        self.subtree(&literal)
            .into_iter()
            .filter(|entry| {
                let own = entry.segments(prefix_key);
                own.len() >= segments.len()
                    && segments
                        .iter()
                        .zip(&own)
                        .all(|(wanted, have)| is_wildcard(wanted) || wanted == have)
            })
            .collect()
    }
}

/// Whether a label is a query-side wildcard (`*`, or `any` for resolvers that refuse `*`).
#[must_use]
pub fn is_wildcard(label: &str) -> bool {
    label == "*" || label == "any"
}

fn parse(stored: Stored<'_>) -> Result<Entry, SkipReason> {
    let service = Service::parse(stored.value)?;
    let key = stored.key.to_ascii_lowercase();
    if key.split('/').any(|segment| segment.len() > 63) {
        return Err(SkipReason::Name(NameError::LongLabel { name: key }));
    }
    Ok(Entry {
        key: Arc::from(key.as_str()),
        service,
        expires_at_ms: stored.expires_at_ms,
    })
}
