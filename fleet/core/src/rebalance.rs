//! The optional rebalancer (fleet#1023, #372): in a settled cluster, move a few placed units
//! to machines that score clearly better for them, so that machines that joined later get
//! work without anyone restarting units by hand.
//!
//! Owns [`rebalance`] and [`REBALANCE_MARGIN`]. Units are considered in name order; each is
//! judged as if taken off its machine, against the same rules and score as a placement; it
//! moves when the best machine's total beats its own machine's by at least the margin, and
//! the views are updated at once, so later units see the move. At most `limit` units move.
//!
//! Never moved: global units, units desired `inactive`, units on a lost machine, units pinned
//! by `MachineID`, units with `MachineOf` and units another unit's `MachineOf` names (moving
//! one of a pair would split it).
//!
//! Invariants: a move is an `Unplace` (reason `Rebalanced`) followed by its `Place`; a unit
//! moves only to a machine that passes every rule for it; the same snapshot gives the same
//! moves.

use super::{Decision, Pass, Plan, UnplaceReason};
use crate::model::{ClusterSnapshot, DesiredState, UnitView};
use std::collections::BTreeSet;

/// How much higher (in score total) a machine must score than a unit's own before the unit
/// moves there: enough that two machines never trade a unit back and forth.
pub const REBALANCE_MARGIN: u32 = 25;

/// Up to `limit` moves that improve the placement of settled units, with the index the
/// engine writes for them.
#[must_use]
pub fn rebalance(snapshot: &ClusterSnapshot, limit: usize) -> Plan {
    let mut pass = Pass::new(snapshot);
    let anchors: BTreeSet<&str> = snapshot
        .units
        .values()
        .flat_map(|unit| unit.requirements.machine_of.iter().map(String::as_str))
        .collect();
    let mut decisions = Vec::new();
    let mut moved = 0;
    for unit in snapshot
        .units
        .values()
        .filter(|unit| movable(unit, &anchors))
    {
        if moved >= limit {
            break;
        }
        let Some(from) = unit.target.as_ref().and_then(|machine| pass.slot(machine)) else {
            continue;
        };
        if pass.machines[from].lost || !pass.views[from].units.contains(&unit.name) {
            continue;
        }
        pass.remove(unit, from);
        let target = better_slot(&pass, unit, from);
        match target {
            Some(to) => {
                pass.add(unit, to);
                moved += 1;
                decisions.push(Decision::Unplace {
                    unit: unit.name.clone(),
                    machine: pass.machines[from].id.clone(),
                    reason: UnplaceReason::Rebalanced,
                });
                decisions.push(Decision::Place {
                    unit: unit.name.clone(),
                    machine: pass.machines[to].id.clone(),
                });
            }
            None => pass.add(unit, from),
        }
    }
    pass.into_plan(decisions)
}

fn movable(unit: &UnitView, anchors: &BTreeSet<&str>) -> bool {
    let requirements = &unit.requirements;
    !requirements.global
        && unit.desired != DesiredState::Inactive
        && requirements.machine_id.is_none()
        && requirements.machine_of.is_empty()
        && !anchors.contains(unit.name.as_str())
}

/// The best slot for `unit` (already taken off `from`) when it beats `from` by the margin.
fn better_slot(pass: &Pass<'_>, unit: &UnitView, from: usize) -> Option<usize> {
    let judging = pass.judging(unit);
    let here = pass
        .failed(unit, from, &judging)
        .is_none()
        .then(|| pass.score(unit, from, &judging.spread).total)?;
    let best = pass.best(unit, &judging)?;
    let there = pass.score(unit, best, &judging.spread).total;
    (best != from && there >= here + REBALANCE_MARGIN).then_some(best)
}

#[cfg(test)]
mod tests {
    use super::super::tests::{id, machine, place, snapshot, unit, Launched};
    use super::*;

    // Goal: four units on one machine spread onto an empty machine that joined, until the
    // difference is under the margin; a second rebalance of the result moves nothing; the
    // limit bounds the moves; pinned and paired units stay. Method: hand-made snapshots.
    #[test]
    fn units_move_to_a_machine_that_joined_until_balanced() {
        let units: Vec<UnitView> = (1..=4)
            .map(|n| unit(&format!("u{n}.service"), Launched, Some("a")))
            .collect();
        let cluster = snapshot(vec![machine("a", &[]), machine("b", &[])], units);
        let moved = rebalance(&cluster, 10);
        let places: Vec<&Decision> = moved
            .decisions
            .iter()
            .filter(|d| matches!(d, Decision::Place { .. }))
            .collect();
        assert_eq!(
            places,
            vec![&place("u1.service", "b"), &place("u2.service", "b")]
        );
        assert_eq!(moved.hosted[&id("a")].len(), 2);
        let mut settled = cluster.clone();
        for name in ["u1.service", "u2.service"] {
            settled.units.get_mut(name).expect("exists").target = Some(id("b"));
        }
        assert!(rebalance(&settled, 10).decisions.is_empty());
        assert_eq!(rebalance(&cluster, 1).decisions.len(), 2, "one move");
        assert!(super::super::plan(&settled).decisions.is_empty());
    }

    #[test]
    fn pinned_and_paired_units_stay() {
        // Goal: MachineID, MachineOf and its anchor are never moved. Method: all on one
        // machine, an empty one beside it.
        let mut pinned = unit("pinned.service", Launched, Some("a"));
        pinned.requirements.machine_id = Some("a".into());
        let anchor = unit("db.service", Launched, Some("a"));
        let mut side = unit("side.service", Launched, Some("a"));
        side.requirements.machine_of = vec!["db.service".into()];
        let cluster = snapshot(
            vec![machine("a", &[]), machine("b", &[])],
            vec![pinned, anchor, side],
        );
        assert!(rebalance(&cluster, 10).decisions.is_empty());
    }
}
