//! Units that stop when cut off (`WhenCutOff=stop`) start on a new machine only once their
//! old copy has stopped: the new machine's index entry waits while another machine that is
//! still present reports the unit running.
//!
//! A machine that is gone has stopped its copy by itself: its agent stops such units once
//! its presence has gone unrefreshed for three quarters of the agent TTL, and its presence
//! key lives at least the whole TTL. A held entry is written by a later pass (every
//! `engine_reconcile_interval`), once the old machine reports the unit stopped or unloads
//! it, or once the old machine is gone.

use super::Engine;
use crate::engine::reconcile::Write;
use fleet_core::model::MachineId;
use fleet_registry::wire::StateReport;
use fleet_registry::RegistryError;
use std::collections::{BTreeMap, BTreeSet};

/// A machine other than `machine` that is `present` and reports the unit running, if any.
#[must_use]
pub fn running_elsewhere<'r>(
    machine: &MachineId,
    reports: &'r BTreeMap<(String, String), StateReport>,
    present: &BTreeSet<MachineId>,
) -> Option<&'r MachineId> {
    reports
        .values()
        .filter(|report| report.machine != *machine && present.contains(&report.machine))
        .find(|report| !matches!(report.active_state.as_str(), "inactive" | "failed"))
        .map(|report| &report.machine)
}

impl Engine {
    /// `writes` without the index entries of units that stop when cut off and still run
    /// on another present machine (one read of the unit's state reports per such entry).
    pub(super) async fn hold_back(
        &self,
        writes: Vec<Write>,
        present: &BTreeSet<MachineId>,
    ) -> Result<Vec<Write>, RegistryError> {
        let mut kept = Vec::with_capacity(writes.len());
        for write in writes {
            if let Write::PutEntry {
                machine,
                unit,
                entry,
            } = &write
            {
                if entry.stop_when_cut_off {
                    let reports = self.registry.unit_states(unit).await?.items;
                    if let Some(old) = running_elsewhere(machine, &reports, present) {
                        tracing::info!(%unit, %machine, %old, "held until the unit stops on its old machine");
                        continue;
                    }
                }
            }
            kept.push(write);
        }
        Ok(kept)
    }
}

#[cfg(test)]
mod tests {
    //! Method: hand-made state reports and machine sets.

    use super::*;
    use fleet_core::unit_file::UnitHash;

    fn id(text: &str) -> MachineId {
        MachineId::parse(text).expect("valid machine ID")
    }

    fn report(machine: &str, active_state: &str) -> ((String, String), StateReport) {
        let state = StateReport {
            load_state: "loaded".into(),
            active_state: active_state.into(),
            sub_state: "-".into(),
            machine: id(machine),
            hash: UnitHash::from_bytes([1; 20]),
            launched: true,
        };
        (("db.service".to_owned(), machine.to_owned()), state)
    }

    #[test]
    fn a_copy_running_on_another_present_machine_holds_the_entry() {
        // Goal: running, starting or stopping elsewhere holds; inactive or failed elsewhere,
        // running on the target itself, or on a machine gone does not.
        let (a, b, c) = ("a1", "b2", "c3");
        let present: BTreeSet<MachineId> = [id(a), id(b)].into();
        let reports = |list: &[(&str, &str)]| -> BTreeMap<(String, String), StateReport> {
            list.iter()
                .map(|(machine, state)| report(machine, state))
                .collect()
        };
        for state in ["active", "activating", "deactivating", "reloading"] {
            let held = reports(&[(a, state)]);
            assert_eq!(
                running_elsewhere(&id(b), &held, &present),
                Some(&id(a)),
                "{state}"
            );
        }
        for state in ["inactive", "failed"] {
            let free = reports(&[(a, state)]);
            assert_eq!(running_elsewhere(&id(b), &free, &present), None, "{state}");
        }
        let here = reports(&[(b, "active")]);
        assert_eq!(running_elsewhere(&id(b), &here, &present), None);
        let gone = reports(&[(c, "active")]);
        assert_eq!(running_elsewhere(&id(b), &gone, &present), None);
    }
}
