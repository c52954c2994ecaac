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
//! 3. Pass B, over unplaced non-global units not desired `inactive`, by name: filter every
//!    live machine through the rules ([`Refusal`], in its variants' order), score the ones
//!    left ([`Score`]) and place the unit on the best, ties broken by fewer units, then
//!    machine ID; the views are updated at once, so later decisions see it.
//!
//! The rules are fleet's (`MachineID`, `MachineMetadata`, `MachineOf`, `Conflicts`,
//! `Replaces`) plus Keel's: metadata expressions and resource requests against the machine's
//! declared capacity minus what the units in its view request. The score, each part 0-100:
//! `spread` (fewer instances of the same template on the machine), `zone` (fewer instances in
//! the machine's value of the unit's `SpreadBy` key; only with `SpreadBy`), `free` (the share
//! of CPU and memory left after placing, Kubernetes' least-allocated) and `load` (fewer units
//! on the machine, fleet's least-loaded); total = 2·spread + 2·zone + free + load. With no
//! requests and no templates this is fleet's least-loaded rule.
//!
//! Departures from fleet, each deliberate:
//! - Both passes walk units in name order and machines in ID order: the same snapshot always
//!   gives the same plan (fleet iterates a Go map).
//! - Views are updated incrementally, with the units that have `Conflicts` or `Replaces`
//!   patterns kept apart, so the common case costs no pattern matching; fleet rebuilds views
//!   per decision (O(units²)).
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
//! Parts: the rules and their refusals (`rules.rs`), the score (`score.rs`) and the optional
//! rebalancer (`rebalance.rs`) are child modules; this file holds the pass and its views.
//!
//! Invariants: a unit appears in at most one decision of a plan; a `Place` always names a live
//! machine; no global unit is ever placed or unplaced; a unit is in `hosted` of at most one
//! machine unless it is global.

use crate::glob::literal_prefix;
use crate::model::{ClusterSnapshot, DesiredState, MachineId, MachineView, UnitView};
use crate::name::UnitName;
use crate::resources::Resources;
use std::collections::{BTreeMap, BTreeSet, HashMap};
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
    /// The rebalancer moves it to a machine that scores clearly better.
    Rebalanced,
}

impl fmt::Display for UnplaceReason {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UnplaceReason::DesiredInactive => formatter.write_str("desired state is inactive"),
            UnplaceReason::MachineGone => formatter.write_str("machine went away"),
            UnplaceReason::Ineligible(refusal) => {
                write!(formatter, "no longer eligible: {refusal}")
            }
            UnplaceReason::Rebalanced => formatter.write_str("moved by the rebalancer"),
        }
    }
}

/// One machine's verdict on a unit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// A rule keeps the unit off it.
    Filtered(Refusal),
    /// It passes every rule; with its score, except for a global unit (which runs on every
    /// machine that passes).
    Eligible(Option<Score>),
}

/// Why a unit is where it is, machine by machine (`fleetctl why`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Explanation {
    /// The unit.
    pub unit: String,
    /// Where it is placed now, if anywhere.
    pub placed: Option<MachineId>,
    /// Where a pass would place it now, judged with it taken off its machine: the
    /// best-scored eligible machine; `None` for a global unit or when nothing is eligible.
    pub best: Option<MachineId>,
    /// Every live machine's verdict, by machine ID.
    pub machines: Vec<(MachineId, Verdict)>,
}

/// Units on one machine, as the rules see them.
#[derive(Debug, Default, Clone)]
struct View {
    units: BTreeSet<String>,
    /// What the units in `units` request together.
    allocated: Resources,
    /// The units in `units` with `Replaces` patterns.
    replacers: BTreeSet<String>,
}

/// The working state of one pass. Machines are addressed by slot: their position in ID
/// order, so the per-machine loop of a decision indexes vectors instead of looking up IDs.
struct Pass<'a> {
    snapshot: &'a ClusterSnapshot,
    /// Live machines in ID order.
    machines: Vec<&'a MachineView>,
    /// Slot by machine ID (lookups only; nothing iterates it).
    slots: HashMap<&'a MachineId, usize>,
    /// Per slot, the machine's view.
    views: Vec<View>,
    /// Per template, per slot, how many of its instances are in that slot's view (lookups
    /// only).
    groups: HashMap<String, HashMap<usize, u32>>,
    /// Per `SpreadBy` key any unit uses, per slot, the machine's first value of it as a small
    /// number (values numbered in order), and how many values there are.
    zone_ids: HashMap<&'a str, (Vec<Option<usize>>, usize)>,
    /// Every unit in a view, with the slots it is in (several for a global unit).
    located: BTreeMap<String, BTreeSet<usize>>,
    /// `Conflicts` patterns without operators of the units in views: pattern → (holder,
    /// slot). A unit is refused where its own name is such a pattern (lookups only).
    literal_conflicts: HashMap<String, BTreeSet<(String, usize)>>,
    /// The other `Conflicts` patterns of the units in views: (pattern, holder, slot).
    glob_conflicts: BTreeSet<(String, String, usize)>,
}

/// What judging one unit needs besides the machine, computed once per decision.
struct Judging<'x> {
    spread: Spread,
    /// Per slot, the first unit there (by name) that conflicts with this one either way.
    conflicts: HashMap<usize, &'x str>,
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
    pass.into_plan(decisions)
}

/// What the units placed on each live machine ask of it, as the scheduler counts it: the
/// requests of every unit placed there and not desired `inactive`, plus those of every global
/// unit the machine takes. Machines without units are listed with nothing.
#[must_use]
pub fn allocation(snapshot: &ClusterSnapshot) -> BTreeMap<MachineId, Resources> {
    let pass = Pass::new(snapshot);
    pass.machines
        .iter()
        .zip(&pass.views)
        .map(|(machine, view)| (machine.id.clone(), view.allocated))
        .collect()
}

/// Every live machine's verdict on the unit `name` as the cluster stands, or `None` when
/// there is no such unit. A placed unit is judged as if taken off its machine, so its own
/// requests and name do not count against it.
#[must_use]
pub fn explain(snapshot: &ClusterSnapshot, name: &str) -> Option<Explanation> {
    let unit = snapshot.units.get(name)?;
    let mut pass = Pass::new(snapshot);
    let placed = if unit.requirements.global {
        None
    } else {
        unit.target
            .clone()
            .filter(|machine| pass.holds(machine, name))
    };
    for slot in 0..pass.machines.len() {
        pass.remove(unit, slot);
    }
    let judging = pass.judging(unit);
    let best = if unit.requirements.global {
        None
    } else {
        pass.best(unit, &judging)
            .map(|slot| pass.machines[slot].id.clone())
    };
    Some(Explanation {
        unit: name.to_owned(),
        placed,
        best,
        machines: pass.verdicts(unit, &judging),
    })
}

impl<'a> Pass<'a> {
    fn new(snapshot: &'a ClusterSnapshot) -> Pass<'a> {
        let machines: Vec<&MachineView> = snapshot.machines.values().collect();
        let slots = machines
            .iter()
            .enumerate()
            .map(|(slot, machine)| (&machine.id, slot))
            .collect();
        let mut pass = Pass {
            snapshot,
            views: vec![View::default(); machines.len()],
            machines,
            slots,
            groups: HashMap::new(),
            zone_ids: HashMap::new(),
            located: BTreeMap::new(),
            literal_conflicts: HashMap::new(),
            glob_conflicts: BTreeSet::new(),
        };
        for unit in snapshot
            .units
            .values()
            .filter(|unit| counts_on_target(unit))
        {
            if let Some(slot) = unit.target.as_ref().and_then(|id| pass.slot(id)) {
                pass.add(unit, slot);
            }
        }
        pass.zone_ids = zone_ids(snapshot, &pass.machines);
        pass.add_globals();
        pass
    }

    /// The plan of `decisions`, with the views as the index.
    fn into_plan(self, decisions: Vec<Decision>) -> Plan {
        let hosted = self
            .machines
            .iter()
            .zip(self.views)
            .map(|(machine, view)| (machine.id.clone(), view.units))
            .collect();
        Plan { decisions, hosted }
    }

    fn machines_lost(&self, machine: &MachineId) -> bool {
        self.slot(machine)
            .is_some_and(|slot| self.machines[slot].lost)
    }

    fn slot(&self, machine: &MachineId) -> Option<usize> {
        self.slots.get(machine).copied()
    }

    /// Adds every global unit to the views of the machines it applies to, in name order.
    fn add_globals(&mut self) {
        let snapshot = self.snapshot;
        let globals = snapshot
            .units
            .values()
            .filter(|unit| unit.requirements.global && unit.desired != DesiredState::Inactive);
        for unit in globals {
            let judging = self.judging(unit);
            let slots: Vec<usize> = (0..self.machines.len())
                .filter(|slot| self.failed(unit, *slot, &judging).is_none())
                .collect();
            for slot in slots {
                self.add(unit, slot);
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
            } else if self.machines_lost(&machine) {
                // Kept where it is until the grace period ends and the machine is dropped.
                None
            } else if let Some(slot) = self.slot(&machine) {
                self.remove(unit, slot);
                let refusal = self.refusal(unit, slot);
                if refusal.is_none() {
                    self.add(unit, slot);
                }
                refusal.map(UnplaceReason::Ineligible)
            } else {
                Some(UnplaceReason::MachineGone)
            };
            if let Some(reason) = reason {
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
        let snapshot = self.snapshot;
        let mut waiting: Vec<&UnitView> = snapshot
            .units
            .values()
            .filter(|unit| {
                !unit.requirements.global
                    && unit.desired != DesiredState::Inactive
                    && !unit
                        .target
                        .as_ref()
                        .is_some_and(|machine| self.holds(machine, &unit.name))
            })
            .collect();
        // Units that follow another (`MachineOf=`, a timer's service) come after the rest,
        // so a unit and the one it follows are placed in the same pass.
        waiting.sort_by_key(|unit| !unit.requirements.machine_of.is_empty());
        waiting.into_iter().map(|unit| self.place(unit)).collect()
    }

    /// Whether `machine`'s view holds the unit `name`.
    fn holds(&self, machine: &MachineId, name: &str) -> bool {
        self.slot(machine)
            .is_some_and(|slot| self.views[slot].units.contains(name))
    }

    /// Places `unit` on its best machine, or says why no machine takes it.
    fn place(&mut self, unit: &UnitView) -> Decision {
        let judging = self.judging(unit);
        let Some(slot) = self.best(unit, &judging) else {
            let refusals = self
                .verdicts(unit, &judging)
                .into_iter()
                .filter_map(|(machine, verdict)| match verdict {
                    Verdict::Filtered(refusal) => Some((machine, refusal)),
                    Verdict::Eligible(_) => None,
                })
                .collect();
            return Decision::Unplaceable {
                unit: unit.name.clone(),
                refusals,
            };
        };
        self.add(unit, slot);
        Decision::Place {
            unit: unit.name.clone(),
            machine: self.machines[slot].id.clone(),
        }
    }

    /// The best eligible slot for the non-global `unit`: the highest total, then the fewest
    /// units, then the lowest ID. Allocates nothing per machine.
    fn best(&self, unit: &UnitView, judging: &Judging<'_>) -> Option<usize> {
        let mut best: Option<(u32, std::cmp::Reverse<usize>, usize)> = None;
        for slot in 0..self.machines.len() {
            if self.failed(unit, slot, judging).is_some() {
                continue;
            }
            let score = self.score(unit, slot, &judging.spread);
            let key = (score.total, std::cmp::Reverse(self.views[slot].units.len()));
            if best.is_none_or(|(total, fewer, _)| key > (total, fewer)) {
                best = Some((key.0, key.1, slot));
            }
        }
        best.map(|(_, _, slot)| slot)
    }

    /// Every machine's verdict on `unit`, by machine ID; globals get no score.
    fn verdicts(&self, unit: &UnitView, judging: &Judging<'_>) -> Vec<(MachineId, Verdict)> {
        (0..self.machines.len())
            .map(|slot| {
                let machine = self.machines[slot];
                let verdict = match self.failed(unit, slot, judging) {
                    Some(failed) => Verdict::Filtered(failed.refusal(machine)),
                    None if unit.requirements.global => Verdict::Eligible(None),
                    None => Verdict::Eligible(Some(self.score(unit, slot, &judging.spread))),
                };
                (machine.id.clone(), verdict)
            })
            .collect()
    }

    /// Why `unit` may not run on the machine in `slot`, given the other units there.
    fn refusal(&self, unit: &UnitView, slot: usize) -> Option<Refusal> {
        let judging = self.judging(unit);
        self.failed(unit, slot, &judging)
            .map(|failed| failed.refusal(self.machines[slot]))
    }

    fn judging<'x>(&'x self, unit: &'x UnitView) -> Judging<'x> {
        Judging {
            spread: self.spread(unit),
            conflicts: self.conflicts(unit),
        }
    }

    /// Puts `unit` into the view of `slot` (once).
    fn add(&mut self, unit: &UnitView, slot: usize) {
        let view = &mut self.views[slot];
        if !view.units.insert(unit.name.clone()) {
            return;
        }
        view.allocated = view.allocated.plus(unit.requirements.requests);
        if !unit.requirements.replaces.is_empty() {
            view.replacers.insert(unit.name.clone());
        }
        self.located
            .entry(unit.name.clone())
            .or_default()
            .insert(slot);
        for pattern in &unit.requirements.conflicts {
            let holder = (unit.name.clone(), slot);
            if literal_prefix(pattern).1 {
                self.literal_conflicts
                    .entry(pattern.clone())
                    .or_default()
                    .insert(holder);
            } else {
                self.glob_conflicts
                    .insert((pattern.clone(), holder.0, holder.1));
            }
        }
        if let Some(group) = group_of(&unit.name) {
            *self
                .groups
                .entry(group)
                .or_default()
                .entry(slot)
                .or_insert(0) += 1;
        }
    }

    /// Takes `unit` out of the view of `slot`, if it is there.
    fn remove(&mut self, unit: &UnitView, slot: usize) {
        let view = &mut self.views[slot];
        if !view.units.remove(&unit.name) {
            return;
        }
        view.allocated = view.allocated.minus(unit.requirements.requests);
        view.replacers.remove(&unit.name);
        if let Some(slots) = self.located.get_mut(&unit.name) {
            slots.remove(&slot);
            if slots.is_empty() {
                self.located.remove(&unit.name);
            }
        }
        for pattern in &unit.requirements.conflicts {
            let holder = (unit.name.clone(), slot);
            if let Some(holders) = self.literal_conflicts.get_mut(pattern) {
                holders.remove(&holder);
                if holders.is_empty() {
                    self.literal_conflicts.remove(pattern);
                }
            }
            self.glob_conflicts
                .remove(&(pattern.clone(), holder.0, holder.1));
        }
        let Some(group) = group_of(&unit.name) else {
            return;
        };
        if let Some(members) = self.groups.get_mut(&group) {
            if let Some(count) = members.get_mut(&slot) {
                *count = count.saturating_sub(1);
                if *count == 0 {
                    members.remove(&slot);
                }
            }
        }
    }
}

/// Whether a non-global unit occupies its target's view.
fn counts_on_target(unit: &UnitView) -> bool {
    !unit.requirements.global && unit.desired != DesiredState::Inactive && unit.target.is_some()
}

/// The template whose instances are spread apart: `web@.service` for `web@3.service`.
fn group_of(name: &str) -> Option<String> {
    if !name.contains('@') {
        return None;
    }
    UnitName::parse(name)
        .ok()
        .and_then(|name| name.template())
        .map(|template| template.as_str().to_owned())
}

#[path = "rules.rs"]
mod rules;
pub use rules::Refusal;

#[path = "score.rs"]
mod score;
pub use score::Score;
use score::{zone_ids, Spread};

#[path = "rebalance.rs"]
mod rebalance;
pub use rebalance::{rebalance, REBALANCE_MARGIN};

#[cfg(test)]
#[path = "schedule_tests.rs"]
mod tests;

#[cfg(test)]
#[path = "schedule_resource_tests.rs"]
mod resource_tests;
