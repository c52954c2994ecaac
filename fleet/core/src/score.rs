//! The score of the engine's pass: how a machine that passes every rule ranks for a unit
//! (the parts and their weights are in `schedule`'s module docs), computed per decision
//! ([`Spread`]) and per machine.
//!
//! A child of `schedule`: it reads the pass's views and indexes, and changes nothing.

use super::{group_of, Pass};
use crate::model::{ClusterSnapshot, MachineView, UnitView};
use crate::resources::Resources;
use crate::selector::host_values;
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// How a machine that passes every rule scores for a unit (the module docs give the parts).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Score {
    /// 2·spread + 2·zone + free + load.
    pub total: u32,
    /// Fewer instances of the unit's template on the machine.
    pub spread: u32,
    /// Fewer instances in the machine's `SpreadBy` value; `None` without `SpreadBy`.
    pub zone: Option<u32>,
    /// The share of the machine's CPU and memory left after placing.
    pub free: u32,
    /// Fewer units on the machine.
    pub load: u32,
}

/// What scoring one unit needs besides the machine: its template's instances per slot and,
/// with `SpreadBy`, the key and the instances per value of it.
pub(super) struct Spread {
    /// Per slot, the `spread` part; empty for a unit that is not an instance (100 everywhere).
    spread: Vec<u32>,
    /// Per slot, the `zone` part, with `SpreadBy`.
    zone: Option<Vec<u32>>,
}

impl Pass<'_> {
    /// The `spread` and `zone` parts of every slot for `unit`, computed once per decision.
    pub(super) fn spread(&self, unit: &UnitView) -> Spread {
        let inverse = |count: u32| 100 / (1 + count);
        let members = group_of(&unit.name).and_then(|group| self.groups.get(&group));
        let mut peers = Vec::new();
        if let Some(members) = members {
            peers = vec![0u32; self.machines.len()];
            for (slot, count) in members {
                peers[*slot] = *count;
            }
        }
        let zone = unit.requirements.spread_by.as_deref().map(|key| {
            let Some((ids, count)) = self.zone_ids.get(key) else {
                return vec![0; self.machines.len()];
            };
            let mut per_zone = vec![0u32; *count];
            for (slot, instances) in peers.iter().enumerate() {
                if let Some(id) = ids[slot] {
                    per_zone[id] += instances;
                }
            }
            ids.iter()
                .map(|id| id.map_or(0, |id| inverse(per_zone[id])))
                .collect()
        });
        Spread {
            spread: peers.into_iter().map(inverse).collect(),
            zone,
        }
    }

    /// The score of the eligible machine in `slot`.
    pub(super) fn score(&self, unit: &UnitView, slot: usize, spread: &Spread) -> Score {
        let machine = self.machines[slot];
        let view = &self.views[slot];
        let load = u32::try_from(100 / (1 + view.units.len())).unwrap_or(0);
        let free = machine
            .capacity
            .and_then(|capacity| {
                free_share(capacity, view.allocated.plus(unit.requirements.requests))
            })
            .unwrap_or(load);
        let zone = spread.zone.as_ref().map(|zone| zone[slot]);
        let spread = spread.spread.get(slot).copied().unwrap_or(100);
        Score {
            total: 2 * spread + 2 * zone.unwrap_or(0) + free + load,
            spread,
            zone,
            free,
            load,
        }
    }
}

/// For every `SpreadBy` key of a unit, each slot's first value of it, numbered.
pub(super) fn zone_ids<'a>(
    snapshot: &'a ClusterSnapshot,
    machines: &[&'a MachineView],
) -> HashMap<&'a str, (Vec<Option<usize>>, usize)> {
    let keys: BTreeSet<&str> = snapshot
        .units
        .values()
        .filter_map(|unit| unit.requirements.spread_by.as_deref())
        .collect();
    keys.into_iter()
        .map(|key| {
            let mut numbers: BTreeMap<&str, usize> = BTreeMap::new();
            let ids = machines
                .iter()
                .map(|machine| {
                    let value = host_values(&machine.metadata, key).next()?;
                    let next = numbers.len();
                    Some(*numbers.entry(value).or_insert(next))
                })
                .collect();
            (key, (ids, numbers.len()))
        })
        .collect()
}

/// The mean share (0-100) of each declared resource left once `used` is taken, or `None`
/// when the machine declares neither.
fn free_share(capacity: Resources, used: Resources) -> Option<u32> {
    let share = |total: u64, used: u64| {
        (total > 0).then(|| {
            let left = total.saturating_sub(used);
            match left.checked_mul(100) {
                Some(hundreds) => hundreds / total,
                None => u64::try_from(u128::from(left) * 100 / u128::from(total)).unwrap_or(0),
            }
        })
    };
    let cpu = share(capacity.cpu_millis, used.cpu_millis);
    let memory = share(capacity.memory_bytes, used.memory_bytes);
    let mean = match (cpu, memory) {
        (Some(cpu), Some(memory)) => (cpu + memory) / 2,
        (Some(one), None) | (None, Some(one)) => one,
        (None, None) => return None,
    };
    u32::try_from(mean).ok()
}
