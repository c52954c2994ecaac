//! How a pass's writes reach the registry: in stages, each stage's writes concurrently.
//!
//! The stages keep the order the writes depend on: placements removed, then placements
//! made (a moved unit is unplaced before it is placed again), then pending reasons, then
//! index entries removed, then index entries written (a machine drops a unit before it is
//! given one that may conflict with it). Within a stage every write is of a different key,
//! so their order does not matter, and up to [`IN_FLIGHT`] of them are sent at once: Keel
//! commits concurrent proposals together, where one write after another waits a commit
//! each. A placement that loses its race stops the pass: no write starts after it, and no
//! later stage runs.

use crate::engine::reconcile::Write;

/// Writes of one stage in flight at once.
pub const IN_FLIGHT: usize = 256;

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
