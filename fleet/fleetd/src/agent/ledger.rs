//! What this agent knows Keel holds under each of its report keys, and so how it writes
//! them (the conditions are in `fleet_registry`'s `store_state.rs`).
//!
//! - A key it wrote holds what it wrote, at the index the write got: the next write
//!   replaces it at that index, a removal removes it at that index.
//! - A key it never touched holds nothing: the first write creates it (refused, and the key
//!   read, if a report is there after all, e.g. from before a crash).
//! - A key whose write got no answer, or whose condition failed, is read before anything
//!   else is sent: the write may have been applied, or may still be.
//! - A create that got no answer may still be applied later, when a member that held it
//!   gets to it; it then makes a report of a unit this machine may no longer have. Such a
//!   key, when read as absent, is read again at each round for [`LATE_WRITE_HORIZON`].
//!
//! Pure: the agent's publish loop (`publish.rs`) does the I/O.

use fleet_registry::wire::StateReport;
use fleet_registry::{Held, ReportAt};
use kv_client::StoreIndex;
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;
use tokio::time::Instant;

/// How long after a create that got no answer its key is still read again when absent.
/// A member that held the request for longer (paused longer) can leave a report behind
/// until this agent starts again and removes it.
pub const LATE_WRITE_HORIZON: Duration = Duration::from_secs(60);

/// One key's state in the ledger. A key not in the ledger holds nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Entry {
    /// A report last modified at `index`; `report` when it is known whole.
    At {
        index: StoreIndex,
        report: Option<StateReport>,
    },
    /// Not known: read before the next write. `create_sent` is when the last create that
    /// got no answer was sent.
    Unsure { create_sent: Option<Instant> },
    /// Read as absent, but a create sent at `sent` got no answer and may still land.
    LateCreate { sent: Instant },
}

impl Entry {
    fn create_sent(&self) -> Option<Instant> {
        match self {
            Entry::At { .. } => None,
            Entry::Unsure { create_sent } => *create_sent,
            Entry::LateCreate { sent } => Some(*sent),
        }
    }
}

/// The agent's knowledge of its report keys, by unit.
#[derive(Debug, Default)]
pub struct Ledger {
    entries: BTreeMap<String, Entry>,
}

impl Ledger {
    /// The condition of the next write of `unit`'s key, or `None` when it must be read first.
    #[must_use]
    pub fn guard(&self, unit: &str) -> Option<Held> {
        match self.entries.get(unit) {
            None | Some(Entry::LateCreate { .. }) => Some(Held::Absent),
            Some(Entry::At { index, .. }) => Some(Held::At(*index)),
            Some(Entry::Unsure { .. }) => None,
        }
    }

    /// The reports of `wanted` that Keel may not hold as they are.
    #[must_use]
    pub fn to_write(&self, wanted: &BTreeMap<String, StateReport>) -> Vec<(String, StateReport)> {
        wanted
            .iter()
            .filter(|(unit, report)| {
                !matches!(self.entries.get(*unit),
                    Some(Entry::At { report: Some(held), .. }) if held == *report)
            })
            .map(|(unit, report)| (unit.clone(), report.clone()))
            .collect()
    }

    /// The keys that hold, or may hold, a report although their unit is not in `keep`.
    #[must_use]
    pub fn to_remove(&self, keep: &BTreeSet<String>) -> Vec<String> {
        self.entries
            .iter()
            .filter(|(unit, entry)| {
                !keep.contains(*unit) && !matches!(entry, Entry::LateCreate { .. })
            })
            .map(|(unit, _)| unit.clone())
            .collect()
    }

    /// The keys read as absent that a late create may still fill, outside `keep`, to read
    /// again; forgets those past [`LATE_WRITE_HORIZON`] at `now`.
    pub fn to_recheck(&mut self, keep: &BTreeSet<String>, now: Instant) -> Vec<String> {
        self.entries.retain(|_, entry| match entry {
            Entry::LateCreate { sent } => now.saturating_duration_since(*sent) < LATE_WRITE_HORIZON,
            _ => true,
        });
        self.entries
            .iter()
            .filter(|(unit, entry)| {
                !keep.contains(*unit) && matches!(entry, Entry::LateCreate { .. })
            })
            .map(|(unit, _)| unit.clone())
            .collect()
    }

    /// `report` was written under `unit`'s key and got `index`.
    pub fn wrote(&mut self, unit: &str, report: StateReport, index: StoreIndex) {
        let report = Some(report);
        self.entries
            .insert(unit.to_owned(), Entry::At { index, report });
    }

    /// A write sent under `held` at `now` got no answer: it may be applied, now or later.
    pub fn unanswered(&mut self, unit: &str, held: Held, now: Instant) {
        let earlier = self.entries.get(unit).and_then(Entry::create_sent);
        let create_sent = if held == Held::Absent {
            Some(now)
        } else {
            earlier
        };
        self.entries
            .insert(unit.to_owned(), Entry::Unsure { create_sent });
    }

    /// A write's or removal's condition failed: the key is not as the ledger said.
    pub fn lost(&mut self, unit: &str) {
        let create_sent = self.entries.get(unit).and_then(Entry::create_sent);
        self.entries
            .insert(unit.to_owned(), Entry::Unsure { create_sent });
    }

    /// `unit`'s key was read at `now` and held `found`.
    pub fn read(&mut self, unit: &str, found: Option<ReportAt>, now: Instant) {
        let sent = self.entries.get(unit).and_then(Entry::create_sent);
        let entry = match (found, sent) {
            (Some(found), _) => Entry::At {
                index: found.index,
                report: found.report,
            },
            (None, Some(sent)) if now.saturating_duration_since(sent) < LATE_WRITE_HORIZON => {
                Entry::LateCreate { sent }
            }
            (None, _) => {
                self.entries.remove(unit);
                return;
            }
        };
        self.entries.insert(unit.to_owned(), entry);
    }

    /// A report found by listing, from before this agent started; ignored for a key the
    /// ledger already knows (its own writes are newer).
    pub fn adopt(&mut self, unit: &str, found: ReportAt) {
        self.entries.entry(unit.to_owned()).or_insert(Entry::At {
            index: found.index,
            report: found.report,
        });
    }

    /// `unit`'s report was removed.
    pub fn removed(&mut self, unit: &str) {
        self.entries.remove(unit);
    }

    /// The units whose key holds a report as far as the ledger knows.
    pub fn held(&self) -> impl Iterator<Item = &String> {
        self.entries
            .iter()
            .filter(|(_, entry)| matches!(entry, Entry::At { .. }))
            .map(|(unit, _)| unit)
    }
}

#[cfg(test)]
#[path = "ledger_tests.rs"]
mod tests;
