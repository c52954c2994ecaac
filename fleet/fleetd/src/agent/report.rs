//! Which state reports this machine should have in Keel: one per unit in its index whose
//! systemd state is known, with the index's hash and the `launched` flag that stands in for
//! fleet's heartbeat key; and which of them differ from what was last written.
//!
//! Pure, so the "written only on change" rule is table-tested.

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

/// The units whose report `machine` holds in Keel (`reported`, by (unit, machine)) although
/// the unit is neither in its index (`wanted`) nor in its units directory (`local`): left by
/// an earlier run of this machine that ended without unloading, such as a crash and reboot.
#[must_use]
pub fn left_behind<T>(
    machine: &MachineId,
    reported: &BTreeMap<(String, String), StateReport>,
    wanted: &BTreeMap<String, WantedUnit>,
    local: &BTreeMap<String, T>,
) -> Vec<String> {
    reported
        .keys()
        .filter(|(unit, on)| {
            on.as_str() == machine.as_str()
                && !wanted.contains_key(unit)
                && !local.contains_key(unit)
        })
        .map(|(unit, _)| unit.clone())
        .collect()
}

/// The reports of `wanted` that `published` does not hold as they are.
#[must_use]
pub fn changed(
    wanted: &BTreeMap<String, StateReport>,
    published: &BTreeMap<String, StateReport>,
) -> Vec<(String, StateReport)> {
    wanted
        .iter()
        .filter(|(unit, report)| published.get(*unit) != Some(report))
        .map(|(unit, report)| (unit.clone(), report.clone()))
        .collect()
}

#[cfg(test)]
mod tests {
    //! Reports from index and systemd state, and the change filter.

    use super::*;
    use fleet_core::unit_file::UnitHash;

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
        assert_eq!(changed(&first, &BTreeMap::new()).len(), 1);
        assert!(changed(&first, &first).is_empty());

        states.insert("b.service".into(), state("inactive", "dead"));
        states.insert("a.service".into(), state("failed", "failed"));
        let second = reports(&machine, &wanted, &states);
        let delta = changed(&second, &first);
        assert_eq!(delta.len(), 2);
        assert!(!second["b.service"].launched);
        assert_eq!(second["a.service"].active_state, "failed");
    }

    #[test]
    fn reports_left_by_an_earlier_run_are_found() {
        // Goal: after a crash and reboot, this machine's reports of units it neither runs nor
        // is asked to run are found, and no other report is.
        // Method: reports of this machine (wanted, local, neither) and of another machine.
        let me = MachineId::parse("1111111111111111111111111111111a").expect("valid");
        let other = MachineId::parse("2222222222222222222222222222222b").expect("valid");
        let hash = UnitHash::of_text("[Service]\nExecStart=/bin/true\n");
        let report = |machine: &MachineId| StateReport {
            load_state: "loaded".into(),
            active_state: "active".into(),
            sub_state: "running".into(),
            machine: machine.clone(),
            hash,
            launched: true,
        };
        let reported: BTreeMap<(String, String), StateReport> = [
            ("gone.service", &me),
            ("kept.service", &me),
            ("local.service", &me),
            ("gone.service", &other),
        ]
        .into_iter()
        .map(|(unit, machine)| ((unit.to_owned(), machine.to_string()), report(machine)))
        .collect();
        let want = WantedUnit {
            hash,
            desired: DesiredState::Launched,
            triggered: false,
            batch: false,
            attempt: fleet_core::model::Attempt::ONLY,
            stop_when_cut_off: true,
        };
        let wanted: BTreeMap<String, WantedUnit> = [("kept.service".to_owned(), want)].into();
        let local: BTreeMap<String, ()> = [("local.service".to_owned(), ())].into();
        assert_eq!(
            left_behind(&me, &reported, &wanted, &local),
            ["gone.service"]
        );
        // Another machine's reports are its own agent's business.
        let mut only_others = reported.clone();
        only_others.retain(|(_, machine), _| machine.as_str() == other.as_str());
        assert!(left_behind(&me, &only_others, &BTreeMap::new(), &local).is_empty());
    }
}
