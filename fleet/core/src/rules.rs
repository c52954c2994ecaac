//! The rules of the engine's pass (its filters): what keeps a unit off a machine, in the
//! order they are checked, as a borrowed [`Failed`] on the hot path and as a [`Refusal`]
//! with its text for people; the index-backed `Conflicts` check and `Replaces`.
//!
//! A child of `schedule`: it reads the pass's views and indexes, and changes nothing.

use super::{Judging, Pass, View};
use crate::glob::{glob_match, literal_prefix};
use crate::model::{MachineView, UnitView};
use crate::resources::{format_cpu, format_memory};
use crate::selector::{host_values, Selector};
use std::collections::{BTreeSet, HashMap};
use std::fmt;

/// The rule that keeps a unit off a machine, in the order the rules are checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// The machine's presence is gone, within the reschedule grace period (its units and
    /// global units stay; nothing new goes there).
    Lost,
    /// The machine is drained (`fleetctl drain`); global units are exempt.
    Cordoned,
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
    /// A `MachineMetadata=` expression is not met.
    SelectorMismatch {
        /// The expression, as printed by `Selector`'s `Display`.
        selector: String,
        /// The key it reads.
        key: String,
        /// The machine's values for that key.
        held: Vec<String>,
    },
    /// The machine's free CPU is less than the unit requests.
    InsufficientCpu {
        /// Millicores requested.
        requested: u64,
        /// Millicores free.
        free: u64,
    },
    /// The machine's free memory is less than the unit requests.
    InsufficientMemory {
        /// Bytes requested.
        requested: u64,
        /// Bytes free.
        free: u64,
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
            Refusal::Lost => {
                formatter.write_str("machine is lost; its units wait out the reschedule grace")
            }
            Refusal::Cordoned => formatter.write_str("machine is drained (fleetctl uncordon)"),
            Refusal::MachineIdMismatch { wanted } => {
                write!(formatter, "MachineID={wanted} names another machine")
            }
            Refusal::MetadataMismatch { key, accepted } => write!(
                formatter,
                "MachineMetadata {key}={} not matched",
                accepted.join("|")
            ),
            Refusal::SelectorMismatch {
                selector,
                key,
                held,
            } => {
                if held.is_empty() {
                    write!(
                        formatter,
                        "MachineMetadata {selector} not matched (no {key})"
                    )
                } else {
                    let held = held.join(",");
                    write!(
                        formatter,
                        "MachineMetadata {selector} not matched ({key}={held})"
                    )
                }
            }
            Refusal::InsufficientCpu { requested, free } => write!(
                formatter,
                "insufficient cpu: requests {}, {} free",
                format_cpu(*requested),
                format_cpu(*free)
            ),
            Refusal::InsufficientMemory { requested, free } => write!(
                formatter,
                "insufficient memory: requests {}, {} free",
                format_memory(*requested),
                format_memory(*free)
            ),
            Refusal::MachineOfMissing { unit } => write!(formatter, "MachineOf {unit} not here"),
            Refusal::ConflictsWith { unit } => write!(formatter, "conflicts with {unit}"),
            Refusal::ReplacedBy { unit } => write!(formatter, "replaced by {unit}"),
        }
    }
}

/// The rule a machine failed, borrowed from the unit or the view: turned into a [`Refusal`]
/// (which allocates) only when someone reads it.
pub(super) enum Failed<'x> {
    Lost,
    Cordoned,
    MachineId(&'x str),
    Metadata(&'x str, &'x BTreeSet<String>),
    Selector(&'x Selector),
    Cpu { requested: u64, free: u64 },
    Memory { requested: u64, free: u64 },
    MachineOf(&'x str),
    Conflict(&'x str),
    Replaced(&'x str),
}

impl Failed<'_> {
    pub(super) fn refusal(&self, machine: &MachineView) -> Refusal {
        match *self {
            Failed::Lost => Refusal::Lost,
            Failed::Cordoned => Refusal::Cordoned,
            Failed::MachineId(wanted) => Refusal::MachineIdMismatch {
                wanted: wanted.to_owned(),
            },
            Failed::Metadata(key, accepted) => Refusal::MetadataMismatch {
                key: key.to_owned(),
                accepted: accepted.iter().cloned().collect(),
            },
            Failed::Selector(selector) => Refusal::SelectorMismatch {
                selector: selector.to_string(),
                key: selector.key().to_owned(),
                held: host_values(&machine.metadata, selector.key())
                    .map(str::to_owned)
                    .collect(),
            },
            Failed::Cpu { requested, free } => Refusal::InsufficientCpu { requested, free },
            Failed::Memory { requested, free } => Refusal::InsufficientMemory { requested, free },
            Failed::MachineOf(unit) => Refusal::MachineOfMissing {
                unit: unit.to_owned(),
            },
            Failed::Conflict(unit) => Refusal::ConflictsWith {
                unit: unit.to_owned(),
            },
            Failed::Replaced(unit) => Refusal::ReplacedBy {
                unit: unit.to_owned(),
            },
        }
    }
}

impl Pass<'_> {
    /// The first rule `unit` fails on the machine in `slot`, in [`Refusal`]'s order.
    pub(super) fn failed<'x>(
        &'x self,
        unit: &'x UnitView,
        slot: usize,
        judging: &Judging<'x>,
    ) -> Option<Failed<'x>> {
        let machine = self.machines[slot];
        let view = &self.views[slot];
        let requirements = &unit.requirements;
        if machine.lost && !requirements.global {
            return Some(Failed::Lost);
        }
        if machine.cordoned && !requirements.global {
            return Some(Failed::Cordoned);
        }
        if let Some(wanted) = &requirements.machine_id {
            if !machine.id.matches(wanted) {
                return Some(Failed::MachineId(wanted));
            }
        }
        if let Some(failed) = metadata_failed(unit, machine) {
            return Some(failed);
        }
        if let Some(failed) = resource_failed(unit, machine, view) {
            return Some(failed);
        }
        if let Some(missing) = requirements
            .machine_of
            .iter()
            .find(|peer| !view.units.contains(*peer))
        {
            return Some(Failed::MachineOf(missing));
        }
        if !judging.conflicts.is_empty() {
            if let Some(other) = judging.conflicts.get(&slot) {
                return Some(Failed::Conflict(other));
            }
        }
        self.replacer_on(unit, view).map(Failed::Replaced)
    }

    /// Per slot, the first unit (by name), other than `unit`, that conflicts with it either
    /// way: its patterns against the units in views (a literal pattern is looked up, a glob
    /// only meets names that start with its literal prefix), and the patterns of the units
    /// in views against its name.
    pub(super) fn conflicts<'x>(&'x self, unit: &'x UnitView) -> HashMap<usize, &'x str> {
        let mut found: HashMap<usize, &'x str> = HashMap::new();
        let mut record = |slot: usize, other: &'x str| {
            if other != unit.name {
                let first = found.entry(slot).or_insert(other);
                *first = (*first).min(other);
            }
        };
        for pattern in &unit.requirements.conflicts {
            let (prefix, literal) = literal_prefix(pattern);
            if literal {
                if let Some((name, slots)) = self.located.get_key_value(prefix) {
                    slots.iter().for_each(|slot| record(*slot, name));
                }
                continue;
            }
            let candidates = self
                .located
                .range::<str, _>((
                    std::ops::Bound::Included(prefix),
                    std::ops::Bound::Unbounded,
                ))
                .take_while(|(name, _)| name.starts_with(prefix))
                .filter(|(name, _)| glob_match(pattern, name));
            for (name, slots) in candidates {
                slots.iter().for_each(|slot| record(*slot, name));
            }
        }
        if let Some(holders) = self.literal_conflicts.get(&unit.name) {
            holders
                .iter()
                .for_each(|(holder, slot)| record(*slot, holder));
        }
        for (pattern, holder, slot) in &self.glob_conflicts {
            if glob_match(pattern, &unit.name) {
                record(*slot, holder);
            }
        }
        found
    }

    /// A unit in `view` that replaces `unit`, unless `unit` replaces it too (mutual
    /// replacement is ignored, as in fleet).
    pub(super) fn replacer_on<'x>(&'x self, unit: &UnitView, view: &'x View) -> Option<&'x str> {
        if view.replacers.is_empty() {
            return None;
        }
        view.replacers
            .iter()
            .filter(|other| **other != unit.name)
            .find(|other| {
                self.snapshot.units.get(*other).is_some_and(|peer| {
                    matches_any(&peer.requirements.replaces, &unit.name)
                        && !matches_any(&unit.requirements.replaces, other)
                })
            })
            .map(String::as_str)
    }
}

fn metadata_failed<'x>(unit: &'x UnitView, machine: &MachineView) -> Option<Failed<'x>> {
    let requirements = &unit.requirements;
    if let Some((key, accepted)) = requirements.metadata.iter().find(|(key, accepted)| {
        !host_values(&machine.metadata, key).any(|value| accepted.contains(value))
    }) {
        return Some(Failed::Metadata(key, accepted));
    }
    requirements
        .selectors
        .iter()
        .find(|selector| !selector.matches(&machine.metadata))
        .map(Failed::Selector)
}

/// A request that does not fit what `machine` has left; machines that declare no capacity
/// take any request.
fn resource_failed<'x>(unit: &UnitView, machine: &MachineView, view: &View) -> Option<Failed<'x>> {
    let capacity = machine.capacity?;
    let requested = unit.requirements.requests;
    let free = capacity.minus(view.allocated);
    if requested.cpu_millis > free.cpu_millis {
        return Some(Failed::Cpu {
            requested: requested.cpu_millis,
            free: free.cpu_millis,
        });
    }
    (requested.memory_bytes > free.memory_bytes).then_some(Failed::Memory {
        requested: requested.memory_bytes,
        free: free.memory_bytes,
    })
}

fn matches_any(patterns: &[String], name: &str) -> bool {
    patterns.iter().any(|pattern| glob_match(pattern, name))
}
