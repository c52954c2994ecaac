//! The reboot semaphore: one JSON document per group in the store, exactly as CoreOS locksmith
//! keeps it (`{"semaphore":N,"max":M,"holders":[...]}`, holders sorted), plus Keel's hold book
//! in a field of its own (`keel`) that older clients ignore: each holder's fencing token and
//! when it took its slot, and the last reapings.
//!
//! Every operation is a function from one read of the document (its text and the
//! `modifiedIndex` it was read at) to what to write, or to "nothing to write": the caller
//! writes with compare-and-swap on that index and, on a conflict, reads again and re-runs the
//! operation. Lock and unlock are idempotent per holder (coreos/locksmith#58), so an
//! indeterminate write is settled by running the operation again on a fresh read.
//!
//! Fencing tokens: a holder's token is the `modifiedIndex` of the write that added it. That
//! index is only known once the write is done, so the write stores token 0 ("the index of
//! this write") and the next Keel write of the document replaces every 0 with the index it
//! read. An older client's write drops the `keel` field; its holders are then timed and
//! tokened from the first Keel write that sees them (`inferred`).
//!
//! Invariants: `holders` is written sorted and without duplicates; the hold book names only
//! holders; `semaphore` and `max` change only as locksmith changes them (`semaphore` may be
//! negative after `set-max` below the number of holders, as in locksmith). Nothing here does
//! I/O or reads a clock.

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC};
use serde::{Deserialize, Deserializer, Serialize};
use std::collections::BTreeMap;

/// The default group's key (no leading slash, as locksmith writes it; the store reads it as
/// `/coreos.com/...`).
pub const DEFAULT_KEY: &str = "coreos.com/updateengine/rebootlock/semaphore";

/// The directory holding one directory per named group.
pub const GROUPS_DIR: &str = "coreos.com/updateengine/rebootlock/groups";

/// The version of the hold book this code writes.
pub const HOLD_BOOK_VERSION: u32 = 1;

/// How many reapings the hold book keeps, newest last.
pub const REAPINGS_KEPT_MAX: usize = 16;

/// What Go's `url.QueryEscape` leaves alone: letters, digits and `-_.~` (a space becomes
/// `+`, below).
const QUERY_ESCAPED: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// The semaphore key of `group`: the default key for the empty group, else
/// `groups/<G>/semaphore` with `G` query-escaped as locksmith escapes it.
#[must_use]
pub fn key_for_group(group: &str) -> String {
    if group.is_empty() {
        return DEFAULT_KEY.to_owned();
    }
    format!("{GROUPS_DIR}/{}/semaphore", escape_group(group))
}

/// `group` as it appears in its key (`a b/c` → `a+b%2Fc`).
#[must_use]
pub fn escape_group(group: &str) -> String {
    group
        .split(' ')
        .map(|part| percent_encoding::utf8_percent_encode(part, QUERY_ESCAPED).to_string())
        .collect::<Vec<_>>()
        .join("+")
}

/// The group named by a directory under [`GROUPS_DIR`] (the reverse of [`escape_group`]);
/// `None` when the name does not decode to UTF-8.
#[must_use]
pub fn group_from_escaped(escaped: &str) -> Option<String> {
    let spaced = escaped.replace('+', " ");
    percent_encoding::percent_decode_str(&spaced)
        .decode_utf8()
        .ok()
        .map(|text| text.into_owned())
}

/// A holder's fencing token: the `modifiedIndex` of the write that gave it its slot. Every
/// later holder gets a larger one, so a resource guarded by the semaphore can refuse an older
/// holder's late request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct FencingToken(pub u64);

impl std::fmt::Display for FencingToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

/// The semaphore document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Semaphore {
    /// Free slots (may be negative after `set-max` below the holder count).
    pub semaphore: i64,
    /// Configured slots.
    pub max: i64,
    /// The holders' ids, sorted; locksmith writes `null` for none, Keel `[]`.
    #[serde(default, deserialize_with = "null_as_empty")]
    pub holders: Vec<String>,
    /// Keel's hold book; absent in documents written by older clients.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keel: Option<HoldBook>,
}

/// Keel's additions to the document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HoldBook {
    /// [`HOLD_BOOK_VERSION`] when written.
    pub version: u32,
    /// One record per holder.
    #[serde(default)]
    pub holds: BTreeMap<String, HoldRecord>,
    /// The last reapings, oldest first, at most [`REAPINGS_KEPT_MAX`].
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub reaped: Vec<Reaping>,
}

/// What Keel knows of one holder's slot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HoldRecord {
    /// The fencing token; 0 in the write that added the holder (see the module docs).
    pub token: FencingToken,
    /// When the slot was taken, in milliseconds since the Unix epoch, by the taker's clock.
    pub acquired_at_ms: u64,
    /// True when an older client added the holder, and the token and time are those of the
    /// first Keel write that saw it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub inferred: bool,
}

/// The record of a holder removed because it held its slot too long.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Reaping {
    /// The removed holder.
    pub holder: String,
    /// Its fencing token.
    pub token: FencingToken,
    /// When it took the slot.
    pub acquired_at_ms: u64,
    /// When it was removed.
    pub reaped_at_ms: u64,
    /// Who removed it (a machine id, or `locksmithctl`).
    pub by: String,
    /// Why, for an operator.
    pub reason: String,
}

/// A holder as `status` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hold {
    /// The holder's id.
    pub holder: String,
    /// Its fencing token, when Keel has seen it.
    pub token: Option<FencingToken>,
    /// When it took the slot, when Keel has seen it.
    pub acquired_at_ms: Option<u64>,
    /// Whether token and time are those of the first Keel write that saw it.
    pub inferred: bool,
}

/// The semaphore's text is not a semaphore document.
#[derive(Debug, thiserror::Error)]
#[error("malformed semaphore document: {source}")]
pub struct DocumentError {
    #[from]
    source: serde_json::Error,
}

/// An operation the document refuses.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SemaphoreError {
    /// No free slot (locksmith's text).
    #[error("semaphore is at {semaphore}")]
    Full {
        /// The free-slot count read.
        semaphore: i64,
    },
    /// A negative maximum.
    #[error("maximum must not be negative, got {max}")]
    NegativeMax {
        /// The maximum asked for.
        max: i64,
    },
}

/// The answer of an operation on one read of the document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// The document already says so: nothing to write.
    Unchanged,
    /// Write this document with compare-and-swap on the index it was read at.
    Write(Semaphore),
}

/// The result of [`Semaphore::lock`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lock {
    /// The holder already holds a slot, under this token.
    Held(FencingToken),
    /// Write this document; the holder's token is the write's `modifiedIndex`.
    Write(Semaphore),
}

fn null_as_empty<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<String>, D::Error> {
    Ok(Option::<Vec<String>>::deserialize(deserializer)?.unwrap_or_default())
}

impl Semaphore {
    /// The document locksmith creates when the key is absent: one slot, no holders (written
    /// with `[]`, not locksmith's `null`).
    #[must_use]
    pub fn initial() -> Semaphore {
        Semaphore {
            semaphore: 1,
            max: 1,
            holders: Vec::new(),
            keel: None,
        }
    }

    /// Parses a stored document; `holders` may be `null`, `[]` or absent.
    ///
    /// # Errors
    /// [`DocumentError`] when `text` is not JSON of that shape (integer `semaphore` and
    /// `max`, string holders).
    pub fn parse(text: &str) -> Result<Semaphore, DocumentError> {
        Ok(serde_json::from_str(text)?)
    }

    /// The document as stored.
    #[must_use]
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("a semaphore document always serialises")
    }

    /// Whether `holder` holds a slot (searched linearly: a foreign writer may have left the
    /// list unsorted).
    #[must_use]
    pub fn is_held_by(&self, holder: &str) -> bool {
        self.holders.iter().any(|held| held == holder)
    }

    /// The holders with what Keel knows of each, the document read at `index`.
    #[must_use]
    pub fn holds(&self, index: u64) -> Vec<Hold> {
        let book = self.keel.as_ref();
        self.holders
            .iter()
            .map(|holder| {
                let record = book.and_then(|book| book.holds.get(holder));
                Hold {
                    holder: holder.clone(),
                    token: record.map(|record| resolve(record.token, index)),
                    acquired_at_ms: record.map(|record| record.acquired_at_ms),
                    inferred: record.is_some_and(|record| record.inferred),
                }
            })
            .collect()
    }

    /// Takes a slot for `holder` (read at `index`, now `now_ms`): already a holder → its
    /// token, nothing written (membership is checked before capacity, coreos/locksmith#58);
    /// else a free slot is taken.
    ///
    /// # Errors
    /// [`SemaphoreError::Full`] when `semaphore <= 0`.
    pub fn lock(&self, index: u64, holder: &str, now_ms: u64) -> Result<Lock, SemaphoreError> {
        if self.is_held_by(holder) {
            let token = self
                .holds(index)
                .into_iter()
                .find(|hold| hold.holder == holder)
                .and_then(|hold| hold.token)
                .unwrap_or(FencingToken(index));
            return Ok(Lock::Held(token));
        }
        if self.semaphore <= 0 {
            return Err(SemaphoreError::Full {
                semaphore: self.semaphore,
            });
        }
        let mut next = self.settled(index, now_ms);
        next.holders.push(holder.to_owned());
        next.holders.sort();
        next.semaphore -= 1;
        next.book().holds.insert(
            holder.to_owned(),
            HoldRecord {
                token: FencingToken(0),
                acquired_at_ms: now_ms,
                inferred: false,
            },
        );
        Ok(Lock::Write(next))
    }

    /// Gives `holder`'s slot back; not a holder → nothing to write.
    #[must_use]
    pub fn unlock(&self, index: u64, holder: &str, now_ms: u64) -> Change {
        if !self.is_held_by(holder) {
            return Change::Unchanged;
        }
        let mut next = self.settled(index, now_ms);
        next.holders.retain(|held| held != holder);
        next.semaphore += 1;
        next.book().holds.remove(holder);
        Change::Write(next)
    }

    /// Sets the number of slots to `max`, moving the free count by the same amount, as
    /// locksmith does; holders are never evicted. The same maximum → nothing to write.
    ///
    /// # Errors
    /// [`SemaphoreError::NegativeMax`].
    pub fn set_max(&self, index: u64, max: i64, now_ms: u64) -> Result<Change, SemaphoreError> {
        if max < 0 {
            return Err(SemaphoreError::NegativeMax { max });
        }
        if max == self.max {
            return Ok(Change::Unchanged);
        }
        let mut next = self.settled(index, now_ms);
        next.semaphore += max - self.max;
        next.max = max;
        Ok(Change::Write(next))
    }

    /// Removes every holder that has held its slot for longer than `max_hold_ms` at
    /// `now_ms`, recording each removal (`by`, `reason`); none → nothing to write. A holder
    /// an older client added is timed from the first Keel write that saw it.
    #[must_use]
    pub fn reap(
        &self,
        index: u64,
        now_ms: u64,
        max_hold_ms: u64,
        by: &str,
        reason: &str,
    ) -> Change {
        let mut next = self.settled(index, now_ms);
        let stale: Vec<(String, HoldRecord)> = next
            .book()
            .holds
            .iter()
            .filter(|(_, record)| now_ms.saturating_sub(record.acquired_at_ms) > max_hold_ms)
            .map(|(holder, record)| (holder.clone(), record.clone()))
            .collect();
        if stale.is_empty() {
            return Change::Unchanged;
        }
        for (holder, record) in stale {
            next.holders.retain(|held| *held != holder);
            next.semaphore += 1;
            let book = next.book();
            book.holds.remove(&holder);
            book.reaped.push(Reaping {
                holder,
                token: record.token,
                acquired_at_ms: record.acquired_at_ms,
                reaped_at_ms: now_ms,
                by: by.to_owned(),
                reason: reason.to_owned(),
            });
        }
        let book = next.book();
        let excess = book.reaped.len().saturating_sub(REAPINGS_KEPT_MAX);
        book.reaped.drain(..excess);
        Change::Write(next)
    }

    /// The document read at `index` made ready to be rewritten: holders sorted and unique,
    /// every token 0 resolved to `index`, a record (inferred, now) for each holder without
    /// one, no record of a non-holder, the book at this version.
    fn settled(&self, index: u64, now_ms: u64) -> Semaphore {
        let mut holders = self.holders.clone();
        holders.sort();
        holders.dedup();
        let old = self.keel.as_ref().map(|book| &book.holds);
        let holds = holders
            .iter()
            .map(|holder| {
                let record = match old.and_then(|holds| holds.get(holder)) {
                    Some(record) => HoldRecord {
                        token: resolve(record.token, index),
                        ..record.clone()
                    },
                    None => HoldRecord {
                        token: FencingToken(index),
                        acquired_at_ms: now_ms,
                        inferred: true,
                    },
                };
                (holder.clone(), record)
            })
            .collect();
        let reaped = self
            .keel
            .as_ref()
            .map(|book| book.reaped.clone())
            .unwrap_or_default();
        Semaphore {
            semaphore: self.semaphore,
            max: self.max,
            holders,
            keel: Some(HoldBook {
                version: HOLD_BOOK_VERSION,
                holds,
                reaped,
            }),
        }
    }

    /// The hold book, created if absent.
    fn book(&mut self) -> &mut HoldBook {
        self.keel.get_or_insert_with(|| HoldBook {
            version: HOLD_BOOK_VERSION,
            holds: BTreeMap::new(),
            reaped: Vec::new(),
        })
    }
}

/// A stored token: 0 means "the write that stored it", the one read at `index`.
fn resolve(token: FencingToken, index: u64) -> FencingToken {
    if token.0 == 0 {
        FencingToken(index)
    } else {
        token
    }
}

#[cfg(test)]
#[path = "semaphore_tests.rs"]
mod tests;
