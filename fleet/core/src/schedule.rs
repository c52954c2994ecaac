//! The engine's scheduling decision: a pure function from a [`ClusterSnapshot`] to the
//! placements to write and remove (fleet's `engine/reconciler.go`)
//!, with a reason for every unit that stays unplaced (fixing coreos/fleet#1348:
//! `fleetctl start` can say why instead of waiting in silence).
//!
//! One pass, as fleet's:
//! 1. Per machine, a view of the units on it: non-global units placed there whose desired
//!    state is not `inactive`, then every global unit whose metadata matches and which does not
//!    conflict with the view so far (by name).
//! 2. Pass A, over placed non-global units by name: unplace those desired `inactive`, those
//!    whose machine is gone, and those that no longer pass the eligibility rules there.
//! 3. Pass B, over unplaced non-global units not desired `inactive`, by name: place each on
//!    the first eligible machine in (load, machine ID) order, where load counts the units in
//!    the machine's view; the views are updated at once, so later decisions see it.
//!
//! Departures from fleet, each deliberate:
//! - Both passes walk units in name order and candidates in a `BTreeSet` ordered by
//!   (load, ID): the same snapshot always gives the same plan (fleet iterates a Go map).
//! - Views are updated incrementally; fleet rebuilds them per decision (O(units²)).
//! - `Replaces`: a unit is ineligible on a machine holding a unit that replaces it, so the
//!   displaced unit is unplaced by pass A and placed again by pass B of the next pass, through
//!   the ordinary rules. fleet moves it to the least-loaded other machine with no eligibility
//!   check (a quirk that can break its `Conflicts` or `MachineMetadata`).
//!
//! Global units get no placement; instead the plan's `hosted` map lists them under
//! every machine they apply to, and the engine writes that map as the per-machine index, so
//! each agent reads only its own work (a departure from fleet, whose agents each read every
//! unit to decide on globals: `docs/adr/0002-fleet-registry-layout.md`).
//!
//! Invariants: a unit appears in at most one decision of a plan; a `Place` always names a live
//! machine; no global unit is ever placed or unplaced; a unit is in `hosted` of at most one
//! machine unless it is global.

use crate::glob::glob_match;
use crate::model::{ClusterSnapshot, DesiredState, MachineId, MachineView, UnitView};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

/// What the engine writes after a pass.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Remove the unit's placement on `machine` (delete `target` with prev-value).
    Unplace {
        /// The unit.
        unit: String,
        /// Where it was.
        machine: MachineId,
        /// Why.
        reason: UnplaceReason,
    },
    /// Place the unit on `machine` (create `target`, must not exist).
    Place {
        /// The unit.
        unit: String,
        /// Where.
        machine: MachineId,
    },
    /// The unit should run but no live machine accepts it.
    Unplaceable {
        /// The unit.
        unit: String,
        /// Why not, machine by machine; empty when no machine is live.
        refusals: Vec<(MachineId, Refusal)>,
    },
}

/// Why a placed unit is unplaced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UnplaceReason {
    /// Its desired state is `inactive`.
    DesiredInactive,
    /// Its machine's presence key is gone.
    MachineGone,
    /// Its machine no longer passes the rules.
    Ineligible(Refusal),
}

impl fmt::Display for UnplaceReason {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UnplaceReason::DesiredInactive => formatter.write_str("desired state is inactive"),
            UnplaceReason::MachineGone => formatter.write_str("machine went away"),
            UnplaceReason::Ineligible(refusal) => {
                write!(formatter, "no longer eligible: {refusal}")
            }
        }
    }
}

/// The rule that keeps a unit off a machine, in the order the rules are checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// `MachineID=` names another machine.
    MachineIdMismatch {
        /// The wanted ID.
        wanted: String,
    },
    /// A `MachineMetadata=` key is missing or has no accepted value.
    MetadataMismatch {
        /// The first key that failed, in key order.
        key: String,
        /// The accepted values.
        accepted: Vec<String>,
    },
    /// A `MachineOf=` unit is not on the machine.
    MachineOfMissing {
        /// That unit.
        unit: String,
    },
    /// A `Conflicts=` pattern, of this unit or of the other, matches a unit on the machine.
    ConflictsWith {
        /// The unit on the machine.
        unit: String,
    },
    /// A unit on the machine replaces this one.
    ReplacedBy {
        /// The replacing unit.
        unit: String,
    },
}

impl fmt::Display for Refusal {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Refusal::MachineIdMismatch { wanted } => {
                write!(formatter, "MachineID={wanted} names another machine")
            }
            Refusal::MetadataMismatch { key, accepted } => write!(
                formatter,
                "MachineMetadata {key}={} not matched",
                accepted.join("|")
            ),
            Refusal::MachineOfMissing { unit } => write!(formatter, "MachineOf {unit} not here"),
            Refusal::ConflictsWith { unit } => write!(formatter, "conflicts with {unit}"),
            Refusal::ReplacedBy { unit } => write!(formatter, "replaced by {unit}"),
        }
    }
}

/// Units on one machine, as the rules see them.
#[derive(Debug, Default, Clone)]
struct View {
    units: BTreeSet<String>,
}

/// The working state of one pass.
struct Pass<'a> {
    snapshot: &'a ClusterSnapshot,
    views: BTreeMap<MachineId, View>,
    /// Live machines in placement order: (load, ID).
    order: BTreeSet<(usize, MachineId)>,
}

/// The outcome of one pass.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// In pass order: every `Unplace` before every `Place`/`Unplaceable`, each group by unit
    /// name.
    pub decisions: Vec<Decision>,
    /// Per live machine, the units that should be on it once the decisions are written:
    /// placed non-global units and the global units that apply there. This is the per-machine
    /// work index the agents follow (`docs/fleet.md`).
    pub hosted: BTreeMap<MachineId, BTreeSet<String>>,
}

/// Plans one engine pass over `snapshot`.
#[must_use]
pub fn plan(snapshot: &ClusterSnapshot) -> Plan {
    let mut pass = Pass::new(snapshot);
    let mut decisions = pass.unplace_ineligible();
    decisions.extend(pass.place_unplaced());
    let hosted = pass
        .views
        .into_iter()
        .map(|(machine, view)| (machine, view.units))
        .collect();
    Plan { decisions, hosted }
}

impl<'a> Pass<'a> {
    fn new(snapshot: &'a ClusterSnapshot) -> Pass<'a> {
        let mut views: BTreeMap<MachineId, View> = snapshot
            .machines
            .keys()
            .map(|id| (id.clone(), View::default()))
            .collect();
        for unit in snapshot
            .units
            .values()
            .filter(|unit| counts_on_target(unit))
        {
            if let Some(view) = unit.target.as_ref().and_then(|id| views.get_mut(id)) {
                view.units.insert(unit.name.clone());
            }
        }
        let mut pass = Pass {
            snapshot,
            views,
            order: BTreeSet::new(),
        };
        pass.add_globals();
        pass.order = pass
            .views
            .iter()
            .map(|(id, view)| (view.units.len(), id.clone()))
            .collect();
        pass
    }

    /// Adds every global unit to the views of the machines it applies to.
    fn add_globals(&mut self) {
        let globals = self
            .snapshot
            .units
            .values()
            .filter(|unit| unit.requirements.global && unit.desired != DesiredState::Inactive);
        for unit in globals {
            for machine in self.snapshot.machines.values() {
                if !unit.requirements.metadata_matches(&machine.metadata) {
                    continue;
                }
                if self.conflict_on(unit, &machine.id).is_some() {
                    continue;
                }
                if let Some(view) = self.views.get_mut(&machine.id) {
                    view.units.insert(unit.name.clone());
                }
            }
        }
    }

    /// Pass A.
    fn unplace_ineligible(&mut self) -> Vec<Decision> {
        let mut decisions = Vec::new();
        let snapshot = self.snapshot;
        for unit in snapshot
            .units
            .values()
            .filter(|unit| !unit.requirements.global)
        {
            let Some(machine) = unit.target.clone() else {
                continue;
            };
            let reason = if unit.desired == DesiredState::Inactive {
                Some(UnplaceReason::DesiredInactive)
            } else if let Some(view) = snapshot.machines.get(&machine) {
                self.refusal(unit, view).map(UnplaceReason::Ineligible)
            } else {
                Some(UnplaceReason::MachineGone)
            };
            if let Some(reason) = reason {
                self.remove(&unit.name, &machine);
                decisions.push(Decision::Unplace {
                    unit: unit.name.clone(),
                    machine,
                    reason,
                });
            }
        }
        decisions
    }

    /// Pass B.
    fn place_unplaced(&mut self) -> Vec<Decision> {
        let mut decisions = Vec::new();
        let snapshot = self.snapshot;
        let waiting: Vec<&UnitView> = snapshot
            .units
            .values()
            .filter(|unit| {
                !unit.requirements.global
                    && unit.desired != DesiredState::Inactive
                    && !self.is_placed(unit)
            })
            .collect();
        for unit in waiting {
            decisions.push(self.place(unit));
        }
        decisions
    }

    /// Whether pass A left `unit` on a live machine.
    fn is_placed(&self, unit: &UnitView) -> bool {
        unit.target.as_ref().is_some_and(|id| {
            self.views
                .get(id)
                .is_some_and(|view| view.units.contains(&unit.name))
        })
    }

    /// The first eligible machine in (load, ID) order, or every machine's refusal.
    fn place(&mut self, unit: &UnitView) -> Decision {
        let mut refusals = Vec::new();
        let mut chosen = None;
        for (_, id) in &self.order {
            let Some(machine) = self.snapshot.machines.get(id) else {
                continue;
            };
            match self.refusal(unit, machine) {
                None => {
                    chosen = Some(id.clone());
                    break;
                }
                Some(refusal) => refusals.push((id.clone(), refusal)),
            }
        }
        match chosen {
            Some(machine) => {
                self.add(&unit.name, &machine);
                Decision::Place {
                    unit: unit.name.clone(),
                    machine,
                }
            }
            None => {
                refusals.sort_by(|left, right| left.0.cmp(&right.0));
                Decision::Unplaceable {
                    unit: unit.name.clone(),
                    refusals,
                }
            }
        }
    }

    /// Why `unit` may not run on `machine`, given the other units there.
    fn refusal(&self, unit: &UnitView, machine: &MachineView) -> Option<Refusal> {
        let requirements = &unit.requirements;
        if let Some(wanted) = &requirements.machine_id {
            if !machine.id.matches(wanted) {
                return Some(Refusal::MachineIdMismatch {
                    wanted: wanted.clone(),
                });
            }
        }
        if let Some(refusal) = metadata_refusal(unit, machine) {
            return Some(refusal);
        }
        let view = self.views.get(&machine.id)?;
        if let Some(missing) = requirements
            .machine_of
            .iter()
            .find(|peer| !view.units.contains(*peer))
        {
            return Some(Refusal::MachineOfMissing {
                unit: missing.clone(),
            });
        }
        if let Some(other) = self.conflict_on(unit, &machine.id) {
            return Some(Refusal::ConflictsWith { unit: other });
        }
        self.replacer_on(unit, &machine.id)
            .map(|other| Refusal::ReplacedBy { unit: other })
    }

    /// A unit in `machine`'s view, other than `unit`, that conflicts with it either way.
    fn conflict_on(&self, unit: &UnitView, machine: &MachineId) -> Option<String> {
        let view = self.views.get(machine)?;
        view.units
            .iter()
            .filter(|other| **other != unit.name)
            .find(|other| {
                let mine = matches_any(&unit.requirements.conflicts, other);
                let theirs = self
                    .snapshot
                    .units
                    .get(*other)
                    .is_some_and(|peer| matches_any(&peer.requirements.conflicts, &unit.name));
                mine || theirs
            })
            .cloned()
    }

    /// A unit in `machine`'s view that replaces `unit`, unless `unit` replaces it too
    /// (mutual replacement is ignored, as in fleet).
    fn replacer_on(&self, unit: &UnitView, machine: &MachineId) -> Option<String> {
        let view = self.views.get(machine)?;
        view.units
            .iter()
            .filter(|other| **other != unit.name)
            .find(|other| {
                let Some(peer) = self.snapshot.units.get(*other) else {
                    return false;
                };
                matches_any(&peer.requirements.replaces, &unit.name)
                    && !matches_any(&unit.requirements.replaces, other)
            })
            .cloned()
    }

    fn add(&mut self, unit: &str, machine: &MachineId) {
        self.change_view(machine, |units| {
            units.insert(unit.to_owned());
        });
    }

    fn remove(&mut self, unit: &str, machine: &MachineId) {
        self.change_view(machine, |units| {
            units.remove(unit);
        });
    }

    /// Changes one view and keeps the (load, ID) order in step with it.
    fn change_view(&mut self, machine: &MachineId, change: impl FnOnce(&mut BTreeSet<String>)) {
        let Some(view) = self.views.get_mut(machine) else {
            return;
        };
        self.order.remove(&(view.units.len(), machine.clone()));
        change(&mut view.units);
        self.order.insert((view.units.len(), machine.clone()));
    }
}

/// Whether a non-global unit occupies its target's view.
fn counts_on_target(unit: &UnitView) -> bool {
    !unit.requirements.global && unit.desired != DesiredState::Inactive && unit.target.is_some()
}

fn metadata_refusal(unit: &UnitView, machine: &MachineView) -> Option<Refusal> {
    unit.requirements
        .metadata
        .iter()
        .find(|(key, accepted)| {
            !machine
                .metadata
                .get(*key)
                .is_some_and(|value| accepted.contains(value))
        })
        .map(|(key, accepted)| Refusal::MetadataMismatch {
            key: key.clone(),
            accepted: accepted.iter().cloned().collect(),
        })
}

fn matches_any(patterns: &[String], name: &str) -> bool {
    patterns.iter().any(|pattern| glob_match(pattern, name))
}

#[cfg(test)]
#[path = "schedule_tests.rs"]
mod tests;
