//! The engine's pure half: from the registry as its caches hold it to the snapshot the
//! scheduler plans on, and from the plan to the writes that make the registry say it.
//!
//! Invariants: templates are never scheduled; a unit whose file or `[X-Fleet]` section cannot
//! be read is left out of the snapshot (reported, and its current placement kept), and so
//! is a finished batch job (silently, its placement and index entries kept); the
//! service a timer starts follows the timer (`ClusterSnapshot::pair_timers`); the writes
//! are the difference between what the registry holds and what the plan wants, so a pass
//! over an unchanged registry writes nothing; a machine's state reports outlive it by one
//! agent TTL.

use fleet_core::model::{
    Attempt, ClusterSnapshot, DesiredState, MachineId, MachineView, Requirements, UnitView,
};
use fleet_core::name::UnitName;
use fleet_core::options::parse_x_fleet;
use fleet_core::schedule::{Decision, Plan};
use fleet_core::unit_file::{UnitFile, UnitHash};
use fleet_registry::view::JobView;
use fleet_registry::wire::{MachineObject, PendingReason, ScheduleEntry};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::Duration;
use tokio::time::Instant;

/// One registry write of a pass (the registry sends them in batches).
pub use fleet_registry::EngineWrite as Write;

/// A unit left out of the snapshot, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    /// The unit.
    pub unit: String,
    /// Why.
    pub why: String,
}

/// Machines whose presence went away less than the reschedule grace ago: the engine keeps
/// them in the snapshot as lost, so their units stay placed (fleet#1289: a short store
/// hiccup or partition no longer moves everything), and drops them once the grace is over.
/// Known only while this engine leads: a machine that left before is gone at once.
#[derive(Debug, Default)]
pub struct LostMachines {
    /// Present at the last update.
    seen: BTreeMap<MachineId, MachineObject>,
    /// Gone since, with their last record.
    lost: BTreeMap<MachineId, (Instant, MachineObject)>,
}

impl LostMachines {
    /// Records which machines are present `now` and returns the ones gone less than
    /// `grace` ago (none with a zero grace), by ID.
    pub fn update(
        &mut self,
        present: &BTreeMap<MachineId, MachineObject>,
        now: Instant,
        grace: Duration,
    ) -> Vec<MachineObject> {
        for (id, object) in std::mem::take(&mut self.seen) {
            if !present.contains_key(&id) {
                self.lost.entry(id).or_insert((now, object));
            }
        }
        self.lost.retain(|id, (since, _)| {
            !present.contains_key(id) && now.saturating_duration_since(*since) < grace
        });
        self.seen = present.clone();
        self.lost
            .values()
            .map(|(_, object)| object.clone())
            .collect()
    }
}

/// Adds `lost` machines to `snapshot`, marked lost.
pub fn add_lost(snapshot: &mut ClusterSnapshot, lost: &[MachineObject]) {
    for object in lost {
        snapshot
            .machines
            .entry(object.id.clone())
            .or_insert_with(|| MachineView {
                id: object.id.clone(),
                metadata: object.metadata.clone(),
                capacity: object.capacity,
                cordoned: object.cordoned,
                lost: true,
            });
    }
}

/// Unit files by hash, and each unit's `[X-Fleet]` requirements parsed once per (name,
/// hash): both are immutable, so a pass parses only units it has not seen before.
#[derive(Debug, Default)]
pub struct UnitFiles {
    /// The files, fetched once by hash.
    pub files: HashMap<UnitHash, UnitFile>,
    /// `None` for a template; `Err` for a unit that cannot be scheduled, with why.
    parsed: HashMap<(String, UnitHash), Result<Option<Requirements>, String>>,
}

impl UnitFiles {
    /// These files, nothing parsed yet.
    #[must_use]
    pub fn with_files(files: HashMap<UnitHash, UnitFile>) -> UnitFiles {
        UnitFiles {
            files,
            parsed: HashMap::new(),
        }
    }

    /// How many parsed units are kept.
    #[must_use]
    pub fn parsed_len(&self) -> usize {
        self.parsed.len()
    }

    /// Whether the unit `key` with file `hash` is global (false when it cannot be read).
    pub fn is_global(&mut self, key: &str, hash: UnitHash) -> bool {
        matches!(self.requirements(key, hash), Ok(Some(requirements)) if requirements.global)
    }

    fn requirements(&mut self, key: &str, hash: UnitHash) -> Result<Option<Requirements>, String> {
        if let Some(parsed) = self.parsed.get(&(key.to_owned(), hash)) {
            return parsed.clone();
        }
        let parsed = parse(key, hash, &self.files);
        // A missing file is not remembered: it is fetched before the next pass.
        if self.files.contains_key(&hash) {
            self.parsed.insert((key.to_owned(), hash), parsed.clone());
        }
        parsed
    }
}

fn parse(
    key: &str,
    hash: UnitHash,
    files: &HashMap<UnitHash, UnitFile>,
) -> Result<Option<Requirements>, String> {
    let name = UnitName::parse(key).map_err(|error| error.to_string())?;
    if name.is_template() {
        return Ok(None);
    }
    let file = files
        .get(&hash)
        .ok_or_else(|| format!("unit file {} is not stored", hash.to_hex()))?;
    let options = parse_x_fleet(&name, file).map_err(|error| error.to_string())?;
    Ok(Some(options.requirements))
}

/// The snapshot of `jobs` on `machines`, with the unit files at hand. Units whose file is
/// not in `files` are skipped with a reason: the caller fetches them first. Finished batch
/// jobs (`JobView::finished`) are left out without one. Parsed
/// requirements of units no longer in `jobs` are forgotten.
#[must_use]
pub fn snapshot(
    jobs: &BTreeMap<String, JobView>,
    machines: &BTreeMap<MachineId, MachineObject>,
    files: &mut UnitFiles,
) -> (ClusterSnapshot, Vec<Skipped>) {
    let mut snapshot = ClusterSnapshot {
        units: BTreeMap::new(),
        machines: machines
            .values()
            .map(|machine| {
                let view = MachineView {
                    id: machine.id.clone(),
                    metadata: machine.metadata.clone(),
                    capacity: machine.capacity,
                    cordoned: machine.cordoned,
                    lost: false,
                };
                (machine.id.clone(), view)
            })
            .collect(),
    };
    let mut skipped = Vec::new();
    for (key, job) in jobs {
        let why = |why: String| Skipped {
            unit: key.clone(),
            why,
        };
        if job.name != *key {
            skipped.push(why(format!("record names {:?}", job.name)));
            continue;
        }
        if job.finished() {
            // A batch job that ran to its end on this file: placed no more, kept where it ran.
            continue;
        }
        match files.requirements(key, job.hash) {
            Ok(Some(requirements)) => {
                let view = UnitView {
                    name: key.clone(),
                    requirements,
                    desired: job.desired,
                    target: job.target.clone(),
                };
                snapshot.units.insert(key.clone(), view);
            }
            Ok(None) => {}
            Err(reason) => skipped.push(why(reason)),
        }
    }
    files
        .parsed
        .retain(|(unit, hash), _| jobs.get(unit).is_some_and(|job| job.hash == *hash));
    snapshot.pair_timers();
    (snapshot, skipped)
}

/// The writes that take the registry from `jobs` and `index` (the per-machine index as
/// cached, by machine ID text) to what `plan` wants. Index entries of the `skipped` units
/// (left out of the snapshot) and of finished batch jobs are kept as they are; so are
/// entries already on a unit's `rolling` hash (a global unit partway through a rollout,
/// `engine::rollout`). Entries of the units a timer starts (`ClusterSnapshot::triggered`)
/// and of batch jobs (`ClusterSnapshot::batch_retries`) say so; a batch job's entry names
/// its attempt, the next one after a failed run with retries left
/// (`JobView::next_attempt`), so its agent runs it again where it ran; a unit that stops
/// when cut off has its entry say so.
#[must_use]
pub fn writes(
    plan: &Plan,
    snapshot: &ClusterSnapshot,
    jobs: &BTreeMap<String, JobView>,
    index: &BTreeMap<String, BTreeMap<String, ScheduleEntry>>,
    skipped: &[Skipped],
    rolling: &BTreeMap<String, UnitHash>,
) -> Vec<Write> {
    let mut out = Vec::new();
    let mut unplaceable = BTreeMap::new();
    for decision in &plan.decisions {
        match decision {
            Decision::Unplace { unit, machine, .. } => out.push(Write::Unplace {
                unit: unit.clone(),
                machine: machine.clone(),
            }),
            Decision::Place { unit, machine } => out.push(Write::Place {
                unit: unit.clone(),
                machine: machine.clone(),
            }),
            Decision::Unplaceable { unit, refusals } => {
                unplaceable.insert(unit.clone(), pending_reason(refusals));
            }
        }
    }
    out.extend(pending_writes(jobs, unplaceable));
    let finished = jobs.values().filter(|job| job.finished());
    let keep: BTreeSet<&str> = skipped
        .iter()
        .map(|skip| skip.unit.as_str())
        .chain(finished.map(|job| job.name.as_str()))
        .collect();
    let triggered = snapshot.triggered();
    let hints = EntryHints {
        rolling,
        triggered: &triggered,
        snapshot,
    };
    out.extend(index_writes(plan, jobs, index, &keep, &hints));
    out
}

fn pending_reason(refusals: &[(MachineId, fleet_core::schedule::Refusal)]) -> PendingReason {
    let reason = if refusals.is_empty() {
        "no machine is available".to_owned()
    } else {
        format!("none of {} machine(s) accepts it", refusals.len())
    };
    PendingReason {
        reason,
        refusals: refusals
            .iter()
            .map(|(machine, refusal)| (machine.to_string(), refusal.to_string()))
            .collect(),
    }
}

fn pending_writes(
    jobs: &BTreeMap<String, JobView>,
    mut unplaceable: BTreeMap<String, PendingReason>,
) -> Vec<Write> {
    let mut out = Vec::new();
    for (unit, job) in jobs {
        match (unplaceable.remove(unit), &job.pending) {
            (Some(reason), Some(current)) if &reason == current => {}
            (Some(reason), _) => out.push(Write::SetPending {
                unit: unit.clone(),
                reason,
            }),
            (None, Some(_)) => out.push(Write::ClearPending { unit: unit.clone() }),
            (None, None) => {}
        }
    }
    out
}

/// What an index entry says beyond the unit's record.
struct EntryHints<'a> {
    /// Units partway through a rollout, with their new hash.
    rolling: &'a BTreeMap<String, UnitHash>,
    /// Units a timer starts.
    triggered: &'a BTreeSet<String>,
    /// The units' requirements: batch jobs and their retries, `WhenCutOff=stop`.
    snapshot: &'a ClusterSnapshot,
}

/// The attempt a batch job's index entry on `machine` asks for: the next after a failed
/// one while attempts remain, else the first of its retries and one. The failed attempt's
/// end is kept only for the machine it ran on (its clock; elsewhere the file is new).
fn attempt_of(job: &JobView, retries: u32, machine: &MachineId) -> Attempt {
    let Some(next) = job.next_attempt() else {
        return Attempt {
            number: 1,
            of: retries.saturating_add(1),
            after_ms: 0,
        };
    };
    let ran_here = job
        .completion
        .as_ref()
        .is_some_and(|completion| completion.machine == *machine);
    Attempt {
        after_ms: if ran_here { next.after_ms } else { 0 },
        ..next
    }
}

fn index_writes(
    plan: &Plan,
    jobs: &BTreeMap<String, JobView>,
    index: &BTreeMap<String, BTreeMap<String, ScheduleEntry>>,
    keep: &BTreeSet<&str>,
    hints: &EntryHints<'_>,
) -> Vec<Write> {
    let mut wanted: BTreeMap<(String, String), (MachineId, ScheduleEntry)> = BTreeMap::new();
    for (machine, units) in &plan.hosted {
        for unit in units {
            let Some(job) = jobs.get(unit) else { continue };
            if job.desired == DesiredState::Inactive {
                continue;
            }
            // Only a unit partway through a rollout needs its current entry looked up.
            let on_rolling_hash = |new: &UnitHash| {
                index
                    .get(machine.as_str())
                    .and_then(|entries| entries.get(unit))
                    .is_some_and(|entry| entry.hash == *new)
            };
            let hash = match hints.rolling.get(unit) {
                Some(new) if on_rolling_hash(new) => *new,
                _ => job.hash,
            };
            let batch = hints.snapshot.batch_retries(unit, hints.triggered);
            let stop_when_cut_off = hints
                .snapshot
                .units
                .get(unit)
                .is_some_and(|view| view.requirements.stop_when_cut_off);
            let entry = ScheduleEntry {
                hash,
                desired: job.desired,
                triggered: hints.triggered.contains(unit),
                batch: batch.is_some(),
                attempt: batch.map_or(Attempt::ONLY, |retries| attempt_of(job, retries, machine)),
                stop_when_cut_off,
            };
            wanted.insert(
                (machine.to_string(), unit.clone()),
                (machine.clone(), entry),
            );
        }
    }
    let mut deletes = Vec::new();
    for (machine, entries) in index {
        for (unit, entry) in entries
            .iter()
            .filter(|(unit, _)| !keep.contains(unit.as_str()))
        {
            let key = (machine.clone(), unit.clone());
            match wanted.get(&key) {
                Some((_, want)) if want == entry => {
                    wanted.remove(&key);
                }
                Some(_) => {}
                None => match MachineId::parse(machine) {
                    Ok(machine) => deletes.push(Write::DeleteEntry {
                        machine,
                        unit: unit.clone(),
                    }),
                    Err(_) => tracing::warn!(%machine, "index entry under an invalid machine ID"),
                },
            }
        }
    }
    let puts = wanted
        .into_iter()
        .map(|((_, unit), (machine, entry))| Write::PutEntry {
            machine,
            unit,
            entry,
        });
    deletes.into_iter().chain(puts).collect()
}

/// The state reports to delete: those of machines absent for at least `grace` (the agent
/// TTL: a machine briefly gone keeps its reports). `absent_since` remembers when each
/// reporting machine was first seen absent; present machines are forgotten.
pub fn stale_reports<R>(
    reports: &BTreeMap<(String, String), R>,
    present: &BTreeSet<String>,
    absent_since: &mut BTreeMap<String, Instant>,
    now: Instant,
    grace: Duration,
) -> Vec<(String, String)> {
    absent_since.retain(|machine, _| !present.contains(machine));
    let mut stale = Vec::new();
    for (unit, machine) in reports.keys() {
        if present.contains(machine) {
            continue;
        }
        let since = *absent_since.entry(machine.clone()).or_insert(now);
        if now.saturating_duration_since(since) >= grace {
            stale.push((unit.clone(), machine.clone()));
        }
    }
    let reporting: BTreeSet<&String> = reports.keys().map(|(_, machine)| machine).collect();
    absent_since.retain(|machine, _| reporting.contains(machine));
    stale
}

#[cfg(test)]
#[path = "reconcile_tests.rs"]
mod tests;
