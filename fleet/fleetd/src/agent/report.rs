//! Which state reports this machine should have in Keel: one per unit in its index whose
//! systemd state is known, with the index's hash and the `launched` flag that stands in for
//! fleet's heartbeat key. Which of them differ from what Keel holds is the [`Ledger`]'s.
//!
//! Pure, so the rule is table-tested.
//!
//! [`Ledger`]: super::ledger::Ledger

use fleet_core::agent_plan::WantedUnit;
use fleet_core::model::{DesiredState, MachineId};
use fleet_core::ports::UnitState;
use fleet_registry::wire::StateReport;
use std::collections::BTreeMap;

/// The reports `machine` should have for the `wanted` units whose state is in `states`.
#[must_use]
pub fn reports(
    machine: &MachineId,
    wanted: &BTreeMap<String, WantedUnit>,
    states: &BTreeMap<String, UnitState>,
) -> BTreeMap<String, StateReport> {
    wanted
        .iter()
        .filter_map(|(unit, want)| {
            let state = states.get(unit)?;
            let report = StateReport {
                load_state: state.load_state.clone(),
                active_state: state.active_state.clone(),
                sub_state: state.sub_state.clone(),
                machine: machine.clone(),
                hash: want.hash,
                launched: want.desired == DesiredState::Launched,
            };
            Some((unit.clone(), report))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    //! Reports from index and systemd state, and the change filter.

    use super::*;
    use crate::agent::ledger::Ledger;
    use fleet_core::unit_file::UnitHash;
    use kv_client::StoreIndex;

    fn state(active: &str, sub: &str) -> UnitState {
        UnitState {
            load_state: "loaded".into(),
            active_state: active.into(),
            sub_state: sub.into(),
        }
    }

    #[test]
    fn reports_follow_the_index_and_change_only_when_systemd_or_the_index_does() {
        // Goal: a unit gets a report only when it is wanted and its state is known; the
        // launched flag follows the desired state; an unchanged report is not rewritten.
        // Method: two wanted units (one without state), one unwanted state; then a change.
        let machine = MachineId::parse("1111111111111111111111111111111a").expect("valid");
        let hash = UnitHash::of_text("[Service]\nExecStart=/bin/true\n");
        let wanted: BTreeMap<String, WantedUnit> = [
            ("a.service", DesiredState::Launched),
            ("b.service", DesiredState::Loaded),
        ]
        .into_iter()
        .map(|(unit, desired)| {
            (
                unit.to_owned(),
                WantedUnit {
                    hash,
                    desired,
                    triggered: false,
                    batch: false,
                    attempt: fleet_core::model::Attempt::ONLY,
                    stop_when_cut_off: false,
                },
            )
        })
        .collect();
        let mut states: BTreeMap<String, UnitState> = [
            ("a.service".to_owned(), state("active", "running")),
            ("z.service".to_owned(), state("active", "running")),
        ]
        .into();
        let first = reports(&machine, &wanted, &states);
        assert_eq!(first.keys().collect::<Vec<_>>(), ["a.service"]);
        assert!(first["a.service"].launched);
        let mut ledger = Ledger::default();
        assert_eq!(ledger.to_write(&first).len(), 1);
        for (unit, report) in &first {
            ledger.wrote(unit, report.clone(), StoreIndex(5));
        }
        assert!(ledger.to_write(&first).is_empty());

        states.insert("b.service".into(), state("inactive", "dead"));
        states.insert("a.service".into(), state("failed", "failed"));
        let second = reports(&machine, &wanted, &states);
        let delta = ledger.to_write(&second);
        assert_eq!(delta.len(), 2);
        assert!(!second["b.service"].launched);
        assert_eq!(second["a.service"].active_state, "failed");
    }
}
