//! A unit's current state, derived from its placement and its host's state report, never
//! stored: fleet's rule on Keel's layout, where a report's `launched` flag stands in for
//! fleet's per-unit heartbeat key (`docs/adr/0002-fleet-registry-layout.md`).
//!
//! - A global unit has no current state of its own: fleet's API shows `inactive` in lists
//!   and leaves the field out of a single unit.
//! - A unit without a placement, or whose host has not reported it, is `inactive`. Only
//!   present machines count: a report from a machine without a presence key is ignored.
//! - A reported unit is `launched` when its report says so, else `loaded`.
//!
//! Pure: the caller reads the registry.

use fleet_core::model::{DesiredState, MachineId};
use fleet_core::name::UnitName;
use fleet_core::options::{is_truthy, parse_x_fleet};
use fleet_core::unit_file::UnitFile;
use fleet_registry::wire::{MachineObject, StateReport};
use std::collections::BTreeMap;

/// What the API shows as a unit's current state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Current {
    /// A global unit: `inactive` in lists, left out of a single unit.
    Global,
    /// A unit with at most one host.
    State(DesiredState),
}

impl Current {
    /// The field of a unit in a list.
    pub(crate) fn in_list(self) -> &'static str {
        match self {
            Current::Global => DesiredState::Inactive.as_str(),
            Current::State(state) => state.as_str(),
        }
    }

    /// The field of a single unit, empty (left out) for a global unit.
    pub(crate) fn in_item(self) -> &'static str {
        match self {
            Current::Global => "",
            Current::State(state) => state.as_str(),
        }
    }
}

/// The current state of unit `name` placed on `target`, from the state reports by (unit,
/// machine) and the present machines.
pub(crate) fn current_state(
    name: &str,
    global: bool,
    target: Option<&MachineId>,
    reports: &BTreeMap<(String, String), StateReport>,
    present: &BTreeMap<MachineId, MachineObject>,
) -> Current {
    if global {
        return Current::Global;
    }
    let Some(target) = target else {
        return Current::State(DesiredState::Inactive);
    };
    if !present.contains_key(target) {
        return Current::State(DesiredState::Inactive);
    }
    let key = (name.to_owned(), target.as_str().to_owned());
    match reports.get(&key) {
        None => Current::State(DesiredState::Inactive),
        Some(report) if report.launched => Current::State(DesiredState::Launched),
        Some(_) => Current::State(DesiredState::Loaded),
    }
}

/// Whether the unit `name` with `file` is global (`[X-Fleet] Global=`, last value, fleet's
/// truthy words). A stored file whose `[X-Fleet]` section is refused (written by another
/// tool) is judged on its raw `Global` values.
pub(crate) fn is_global(name: &str, file: &UnitFile) -> bool {
    let parsed = UnitName::parse(name)
        .ok()
        .and_then(|unit| parse_x_fleet(&unit, file).ok());
    match parsed {
        Some(options) => options.requirements.global,
        None => file
            .values("X-Fleet", "Global")
            .last()
            .is_some_and(|value| is_truthy(value)),
    }
}

#[cfg(test)]
mod tests {
    //! The derivation, case by case. Method: literal reports and machines, no store.

    use super::*;
    use fleet_core::unit_file::UnitHash;

    fn machine(id: &str) -> MachineId {
        MachineId::parse(id).expect("a machine ID")
    }

    fn present(ids: &[&str]) -> BTreeMap<MachineId, MachineObject> {
        ids.iter()
            .map(|id| {
                let object = MachineObject {
                    id: machine(id),
                    public_ip: String::new(),
                    metadata: BTreeMap::new(),
                    engine_disabled: false,
                    version: String::new(),
                    api_url: None,
                    capacity: None,
                    cordoned: false,
                };
                (machine(id), object)
            })
            .collect()
    }

    fn report(unit: &str, from: &str, launched: bool) -> ((String, String), StateReport) {
        let report = StateReport {
            load_state: "loaded".into(),
            active_state: "active".into(),
            sub_state: "running".into(),
            machine: machine(from),
            hash: UnitHash::of_text(""),
            launched,
        };
        ((unit.to_owned(), from.to_owned()), report)
    }

    #[test]
    fn state_follows_placement_report_and_presence() {
        // Goal: inactive without placement, without a report from the target, or when the
        // target is not present; launched/loaded from the target's flag; reports from
        // other machines never count; globals have no state of their own.
        // Method: one call per case over the same reports.
        let reports: BTreeMap<_, _> = [
            report("a.service", "m1", true),
            report("b.service", "m1", false),
            report("c.service", "m2", true),
            report("d.service", "gone", true),
        ]
        .into();
        let machines = present(&["m1", "m2"]);
        let state = |name: &str, target: Option<&str>| {
            let target = target.map(machine);
            current_state(name, false, target.as_ref(), &reports, &machines)
        };
        let launched = Current::State(DesiredState::Launched);
        let loaded = Current::State(DesiredState::Loaded);
        let inactive = Current::State(DesiredState::Inactive);
        assert_eq!(state("a.service", Some("m1")), launched);
        assert_eq!(state("b.service", Some("m1")), loaded);
        assert_eq!(state("a.service", None), inactive);
        assert_eq!(state("c.service", Some("m1")), inactive);
        assert_eq!(state("d.service", Some("gone")), inactive);
        let global = current_state("a.service", true, None, &reports, &machines);
        assert_eq!(global, Current::Global);
        assert_eq!(global.in_list(), "inactive");
        assert_eq!(global.in_item(), "");
        assert_eq!(launched.in_item(), "launched");
    }

    #[test]
    fn global_is_read_from_the_x_fleet_section() {
        // Goal: fleet's truthy words and last-value rule decide, also for a file whose
        // section the API would refuse.
        // Method: parse small unit files.
        let file = |text: &str| UnitFile::parse(text).expect("a unit file");
        assert!(is_global("a.service", &file("[X-Fleet]\nGlobal=yes\n")));
        assert!(!is_global(
            "a.service",
            &file("[X-Fleet]\nGlobal=true\nGlobal=no\n")
        ));
        assert!(!is_global(
            "a.service",
            &file("[Service]\nExecStart=/bin/true\n")
        ));
        let refused = file("[X-Fleet]\nGlobal=true\nMachineOf=b.service\n");
        assert!(is_global("a.service", &refused));
    }
}
