//! How a pass's writes reach the registry: in stages, each stage's writes concurrently.
//!
//! The stages keep the order the writes depend on: placements removed, then placements
//! made (a moved unit is unplaced before it is placed again), then pending reasons, then
//! index entries removed, then index entries written (a machine drops a unit before it is
//! given one that may conflict with it). Within a stage every write is of a different key,
//! so their order does not matter: a stage is sent as batches of [`BATCH_WRITES`]
//! (`Registry::write_all`, one raft entry each on Keel), up to [`BATCHES_IN_FLIGHT`] at
//! once, where one write after another waits a commit each. A placement that loses its race
//! stops the pass: no batch starts after it, and no later stage runs.
//!
//! The next pass waits until the engine's caches hold its own writes ([`WrittenThrough`]):
//! planned from a view that lacks them, it would write them again (a placement made twice
//! is lost and stops the pass, an index entry is rewritten).

use crate::engine::reconcile::Write;
use kv_client::StoreIndex;

/// Writes sent as one batch.
pub const BATCH_WRITES: usize = 250;

/// Batches of one stage in flight at once.
pub const BATCHES_IN_FLIGHT: usize = 4;

/// The store index of the engine's last writes under each cached prefix.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WrittenThrough {
    /// Under `job/` (placements, pending reasons).
    pub jobs: StoreIndex,
    /// Under `schedule/` (index entries).
    pub schedule: StoreIndex,
}

impl WrittenThrough {
    /// Notes that `write` made an event at `index`.
    pub fn note(&mut self, write: &Write, index: StoreIndex) {
        let through = match write {
            Write::Unplace { .. }
            | Write::Place { .. }
            | Write::SetPending { .. }
            | Write::ClearPending { .. } => &mut self.jobs,
            Write::DeleteEntry { .. } | Write::PutEntry { .. } => &mut self.schedule,
        };
        *through = (*through).max(index);
    }

    /// The later of each.
    #[must_use]
    pub fn max(self, other: WrittenThrough) -> WrittenThrough {
        WrittenThrough {
            jobs: self.jobs.max(other.jobs),
            schedule: self.schedule.max(other.schedule),
        }
    }

    /// Whether caches at these indexes hold every write noted.
    #[must_use]
    pub fn held_by(&self, jobs: StoreIndex, schedule: StoreIndex) -> bool {
        jobs >= self.jobs && schedule >= self.schedule
    }
}

/// The writes in their stages, each stage in the order the pass produced it; empty stages
/// are left out.
#[must_use]
pub fn stages(writes: Vec<Write>) -> Vec<Vec<Write>> {
    let mut stages: [Vec<Write>; 5] = Default::default();
    for write in writes {
        let stage = match write {
            Write::Unplace { .. } => 0,
            Write::Place { .. } => 1,
            Write::SetPending { .. } | Write::ClearPending { .. } => 2,
            Write::DeleteEntry { .. } => 3,
            Write::PutEntry { .. } => 4,
        };
        stages[stage].push(write);
    }
    stages
        .into_iter()
        .filter(|stage| !stage.is_empty())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use fleet_core::model::MachineId;

    #[test]
    fn a_pass_waits_for_each_cache_to_hold_the_writes_under_its_prefix() {
        // Goal: a placement's index counts against the jobs cache, an entry's against the
        // index cache, the latest of each; caches at or past both hold them.
        // Method: note writes out of order; ask with caches behind, level and ahead.
        let mut through = WrittenThrough::default();
        assert!(through.held_by(StoreIndex(0), StoreIndex(0)));
        let place = Write::Place {
            unit: "a.service".into(),
            machine: machine(1),
        };
        let entry = Write::DeleteEntry {
            machine: machine(1),
            unit: "a.service".into(),
        };
        through.note(&place, StoreIndex(9));
        through.note(&place, StoreIndex(7));
        through.note(&entry, StoreIndex(12));
        assert_eq!(
            through,
            WrittenThrough {
                jobs: StoreIndex(9),
                schedule: StoreIndex(12)
            }
        );
        assert!(!through.held_by(StoreIndex(8), StoreIndex(20)));
        assert!(!through.held_by(StoreIndex(20), StoreIndex(11)));
        assert!(through.held_by(StoreIndex(9), StoreIndex(12)));
        let later = WrittenThrough {
            jobs: StoreIndex(3),
            schedule: StoreIndex(30),
        };
        assert_eq!(
            through.max(later),
            WrittenThrough {
                jobs: StoreIndex(9),
                schedule: StoreIndex(30)
            }
        );
    }

    fn machine(n: u8) -> MachineId {
        MachineId::parse(&format!("{n:032x}")).expect("valid")
    }

    #[test]
    fn a_move_unplaces_before_it_places_and_entries_go_last() {
        // Goal: whatever order the pass produced, removals come before additions and
        // placements before index entries, and a stage keeps the pass's order.
        // Method: a pass's writes in a scrambled order, split into stages.
        let writes = vec![
            Write::Place {
                unit: "a.service".into(),
                machine: machine(2),
            },
            Write::DeleteEntry {
                machine: machine(1),
                unit: "a.service".into(),
            },
            Write::Unplace {
                unit: "a.service".into(),
                machine: machine(1),
            },
            Write::ClearPending {
                unit: "b.service".into(),
            },
            Write::Place {
                unit: "b.service".into(),
                machine: machine(3),
            },
        ];
        let stages = stages(writes);
        let kinds: Vec<Vec<&str>> = stages
            .iter()
            .map(|stage| {
                stage
                    .iter()
                    .map(|write| match write {
                        Write::Unplace { .. } => "unplace",
                        Write::Place { unit, .. } => unit.as_str(),
                        Write::SetPending { .. } | Write::ClearPending { .. } => "pending",
                        Write::DeleteEntry { .. } => "delete-entry",
                        Write::PutEntry { .. } => "put-entry",
                    })
                    .collect()
            })
            .collect();
        assert_eq!(
            kinds,
            [
                vec!["unplace"],
                vec!["a.service", "b.service"],
                vec!["pending"],
                vec!["delete-entry"],
            ]
        );
        assert!(super::stages(Vec::new()).is_empty());
    }
}
