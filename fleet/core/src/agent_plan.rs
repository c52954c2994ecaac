//! The agent's plan: from what the registry wants on this machine and what this machine's
//! systemd has, the systemd tasks to run, in order (fleet's agent reconciler).
//!
//! What this machine should run is its index in the registry, which the engine writes from its
//! plan: the units placed here and the global units that apply here, conflicts among them
//! already resolved (fleet's agents each worked that out from every unit; see
//! `docs/adr/0002-fleet-registry-layout.md`). Tasks per unit:
//! - present but not wanted → `Unload`;
//! - wanted, absent → `Load` (and `Start` when launched);
//! - present with another hash → `Unload`, `Load` (and `Start`);
//! - loaded but should run → `Start`, unless it is a batch job that has run since it was
//!   loaded (it runs once); running but should only be loaded → `Stop`, unless a
//!   timer starts it (the entry says `triggered`).
//!
//! A round's tasks are ordered: every `Unload`, every `Load`, one `Reload` when anything was
//! loaded or unloaded, every `Stop`, every `Start`; within each kind by unit name.
//!
//! Departure from fleet: the current state comes from systemd itself (the unit files under the
//! units directory and each unit's `ActiveState`), not from an in-memory cache that a restart
//! of fleetd empties. So a restarted fleetd finds its running units running and plans nothing
//! for them (coreos/fleet#1086: fleet restarted them all).
//!
//! Invariants: at most one task of each kind per unit; `Reload` at most once, and only after a
//! file changed; the plan for identical inputs is identical.

use crate::model::{Attempt, DesiredState};
use crate::unit_file::UnitHash;
use std::collections::{BTreeMap, BTreeSet};

/// A unit this machine's index (`schedule/<machine>/<unit>`, written by the engine) asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WantedUnit {
    /// Hash of its canonical text: the file to write.
    pub hash: UnitHash,
    /// `Loaded` or `Launched`; an index entry is never `Inactive`, and one that says so is
    /// treated as absent.
    pub desired: DesiredState,
    /// A timer starts it: while only `Loaded`, it is left running.
    pub triggered: bool,
    /// A batch job: started only if it has not run since its file was written.
    pub batch: bool,
    /// For a batch job: which attempt to run (the agent tells its run by it).
    pub attempt: Attempt,
    /// `WhenCutOff=stop`: the agent stops it when cut off and fences its start.
    pub stop_when_cut_off: bool,
}

/// Where a unit stands on this machine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum LocalState {
    /// Its file is written and linked, and it is not running (not started, or stopped, or
    /// failed).
    Loaded,
    /// Its file is written and linked, and systemd has it active, activating or reloading.
    Launched,
}

/// A unit file this agent has under its units directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalUnit {
    /// Hash of the file's canonical text as written.
    pub hash: UnitHash,
    /// Its state in systemd.
    pub state: LocalState,
    /// Its main process has run since its file was written, in the wanted attempt (looked
    /// up by the agent for wanted batch jobs only; `false` otherwise).
    pub ran: bool,
}

/// One systemd task.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Task {
    /// Stop the unit, unlink and remove its file, reset its failed state.
    Unload(String),
    /// Write the unit's file and link it (runtime).
    Load(String),
    /// `daemon-reload`.
    Reload,
    /// `StopUnit`.
    Stop(String),
    /// `StartUnit`.
    Start(String),
}

/// The tasks that take `current` to `desired`, in execution order.
#[must_use]
pub fn plan(
    desired: &BTreeMap<String, WantedUnit>,
    current: &BTreeMap<String, LocalUnit>,
) -> Vec<Task> {
    let desired: BTreeMap<&String, &WantedUnit> = desired
        .iter()
        .filter(|(_, want)| want.desired != DesiredState::Inactive)
        .collect();
    let mut unloads = BTreeSet::new();
    let mut loads = BTreeSet::new();
    let mut stops = BTreeSet::new();
    let mut starts = BTreeSet::new();
    for name in current.keys().filter(|name| !desired.contains_key(name)) {
        unloads.insert(name.clone());
    }
    for (name, want) in desired {
        let name: &String = name;
        let launch = want.desired == DesiredState::Launched;
        let Some(local) = current.get(name) else {
            loads.insert(name.clone());
            if launch {
                starts.insert(name.clone());
            }
            continue;
        };
        if want.hash != local.hash {
            unloads.insert(name.clone());
            loads.insert(name.clone());
            if launch {
                starts.insert(name.clone());
            }
            continue;
        }
        match (local.state, launch) {
            (LocalState::Loaded, true) if !(want.batch && local.ran) => {
                starts.insert(name.clone());
            }
            (LocalState::Launched, false) if !want.triggered => {
                stops.insert(name.clone());
            }
            _ => {}
        }
    }
    let reload = !(unloads.is_empty() && loads.is_empty());
    let mut tasks: Vec<Task> = unloads.into_iter().map(Task::Unload).collect();
    tasks.extend(loads.into_iter().map(Task::Load));
    if reload {
        tasks.push(Task::Reload);
    }
    tasks.extend(stops.into_iter().map(Task::Stop));
    tasks.extend(starts.into_iter().map(Task::Start));
    tasks
}

#[cfg(test)]
#[path = "agent_plan_tests.rs"]
mod tests;
