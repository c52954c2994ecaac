//! The rollout controller (`fleetctl replace`): each pass, for every running rollout record
//! (`job/<unit>/rollout`), observe its targets, ask `fleet_core::rollout::advance` what to do,
//! move the chosen targets to the new file and write the record's state and counts back.
//!
//! Targets: the numbered and other instances of a template (in instance-number order), the
//! unit itself, or, for a global unit, every machine whose index holds it (by machine ID).
//! Moving a target: an instance or a unit gets the new hash in its record (placement, desired
//! state and index follow from the ordinary pass, so a unit stays where its new requirements
//! still fit); a machine of a global unit gets the new hash in its index entry, and the unit's
//! own record takes the new hash once every machine is healthy. A target is healthy once its
//! machine reports it `active` on the new hash for the minimum time without a break (at once
//! for a unit desired `loaded` that reports the new hash, or desired `inactive`); it failed
//! when systemd reports it `failed` or the engine has found no machine for it for
//! [`UNPLACEABLE_GRACE`].
//!
//! Memory: when each target was first seen on the new hash and up, per (unit, hash). A new
//! leader starts those clocks again, which only makes a health gate longer, never shorter.
//! Only the in-flight targets' state reports are read (one read of `states/<unit>` each).

use super::Engine;
use fleet_core::model::DesiredState;
use fleet_core::name::UnitName;
use fleet_core::replicas::instance_number;
use fleet_core::rollout::{advance, Observed, Outcome, Target};
use fleet_core::unit_file::UnitHash;
use fleet_registry::view::JobView;
use fleet_registry::wire::{
    RolloutFailure, RolloutRecord, RolloutState, ScheduleEntry, StateReport,
};
use fleet_registry::{RegistryError, Written};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::Duration;
use tokio::time::Instant;

/// How long a moved target must stay unplaceable before the rollout fails on it.
pub const UNPLACEABLE_GRACE: Duration = Duration::from_secs(5);

/// What the engine remembers of the rollouts it advances.
#[derive(Debug, Default)]
pub struct Rollouts {
    clocks: HashMap<String, Clocks>,
}

/// The clocks of one rollout (one unit, one new hash).
#[derive(Debug)]
struct Clocks {
    hash: UnitHash,
    updated_at: HashMap<String, Instant>,
    up_since: HashMap<String, Instant>,
    pending_since: HashMap<String, Instant>,
    healthy: BTreeSet<String>,
}

impl Rollouts {
    fn clocks(&mut self, unit: &str, hash: UnitHash) -> &mut Clocks {
        let clocks = self
            .clocks
            .entry(unit.to_owned())
            .or_insert_with(|| Clocks::new(hash));
        if clocks.hash != hash {
            *clocks = Clocks::new(hash);
        }
        clocks
    }

    /// Forgets rollouts no longer running.
    fn retain(&mut self, running: &BTreeSet<&str>) {
        self.clocks
            .retain(|unit, _| running.contains(unit.as_str()));
    }
}

impl Clocks {
    fn new(hash: UnitHash) -> Clocks {
        Clocks {
            hash,
            updated_at: HashMap::new(),
            up_since: HashMap::new(),
            pending_since: HashMap::new(),
            healthy: BTreeSet::new(),
        }
    }

    /// A moved target that the engine found no machine for: failed once that has lasted
    /// [`UNPLACEABLE_GRACE`] (a reason written before the move is not the new file's verdict
    /// until a pass has planned it).
    fn unplaceable(&mut self, target: &str, reason: &str, now: Instant) -> Observed {
        let updated_for =
            now.duration_since(*self.updated_at.entry(target.to_owned()).or_insert(now));
        let since = *self.pending_since.entry(target.to_owned()).or_insert(now);
        self.up_since.remove(target);
        let failure = (now.duration_since(since) >= UNPLACEABLE_GRACE)
            .then(|| format!("cannot be placed: {reason}"));
        Observed::New {
            updated_for,
            up_for: None,
            failure,
            state: format!("pending: {reason}"),
        }
    }

    /// What `report` (the target's report on the new hash, if any) says of `target`, desired
    /// `desired`, at `now`.
    fn observe(
        &mut self,
        target: &str,
        desired: DesiredState,
        report: Option<&StateReport>,
        now: Instant,
    ) -> Observed {
        if self.healthy.contains(target) {
            return Observed::Healthy;
        }
        let updated_for =
            now.duration_since(*self.updated_at.entry(target.to_owned()).or_insert(now));
        let state = report.map_or_else(
            || "not reported yet".to_owned(),
            |report| format!("{}/{}", report.active_state, report.sub_state),
        );
        let (up_for, failure) = match (desired, report) {
            (DesiredState::Inactive, _) => (Some(Duration::MAX), None),
            (DesiredState::Loaded, Some(_)) => (Some(Duration::MAX), None),
            (DesiredState::Launched, Some(report)) if report.active_state == "active" => {
                let since = *self.up_since.entry(target.to_owned()).or_insert(now);
                (Some(now.duration_since(since)), None)
            }
            (DesiredState::Launched, Some(report)) if report.active_state == "failed" => {
                (None, Some(format!("systemd reports it {state}")))
            }
            _ => (None, None),
        };
        if up_for.is_none() {
            self.up_since.remove(target);
        }
        Observed::New {
            updated_for,
            up_for,
            failure,
            state,
        }
    }
}

/// What a rollout rolls over.
enum Kind {
    /// The template's instances.
    Template,
    /// The unit itself.
    Unit,
    /// The machines of a global unit.
    Global,
}

/// One target with what is needed to move it and to judge it.
struct Slot {
    /// The instance or unit name, or the machine ID.
    name: String,
    /// The unit whose reports count (the instance, or the global unit).
    unit: String,
    /// The machine it runs on, when known.
    machine: Option<String>,
    /// On the new hash already.
    updated: bool,
    /// Its desired state.
    desired: DesiredState,
    /// A timer starts it (a global unit's index entry says so).
    triggered: bool,
    /// Why the engine cannot place it, when it cannot.
    pending: Option<String>,
}

impl Engine {
    /// Advances every running rollout once. Whether anything was written that the rest of
    /// the pass must not plan over (a target moved): the caches bring it, the next pass plans.
    pub(super) async fn advance_rollouts(
        &mut self,
        jobs: &BTreeMap<String, JobView>,
        index: &BTreeMap<String, BTreeMap<String, ScheduleEntry>>,
    ) -> Result<bool, RegistryError> {
        let running: Vec<(&JobView, &RolloutRecord, &str)> = jobs
            .values()
            .filter_map(|job| {
                let (record, text) = job.rollout.as_ref()?;
                (record.state == RolloutState::Running).then_some((job, record, text.as_str()))
            })
            .collect();
        let names: BTreeSet<&str> = running
            .iter()
            .map(|(job, _, _)| job.name.as_str())
            .collect();
        self.rollouts.retain(&names);
        let mut moved = false;
        for (job, record, text) in running {
            if !self.may_act() {
                return Ok(moved);
            }
            let kind = self.kind(job);
            let slots = slots(&kind, job, jobs, index, record.hash);
            match self.advance_one(job, record, text, &kind, &slots).await? {
                Some(true) => moved = true,
                Some(false) => {}
                None => return Ok(true),
            }
        }
        Ok(moved)
    }

    fn kind(&mut self, job: &JobView) -> Kind {
        let name = UnitName::parse(&job.name).ok();
        if name.as_ref().is_some_and(UnitName::is_template) {
            Kind::Template
        } else if self.files.is_global(&job.name, job.hash) {
            Kind::Global
        } else {
            Kind::Unit
        }
    }

    /// One step of one rollout: `Some(moved anything)`, `None` when the record changed under
    /// the engine (the pass stops).
    async fn advance_one(
        &mut self,
        job: &JobView,
        record: &RolloutRecord,
        text: &str,
        kind: &Kind,
        slots: &[Slot],
    ) -> Result<Option<bool>, RegistryError> {
        let targets = self.observe(job, record.hash, slots).await?;
        let step = advance(&record.strategy, &targets);
        let clocks = self.rollouts.clocks(&job.name, record.hash);
        clocks.healthy.extend(step.healthy.iter().cloned());
        let mut moved = false;
        for name in &step.update {
            let Some(slot) = slots.iter().find(|slot| &slot.name == name) else {
                continue;
            };
            tracing::info!(unit = %job.name, target = %name, "rollout: moving to the new file");
            self.move_target(kind, job, slot, record.hash).await?;
            moved = true;
        }
        let state = match step.outcome {
            Outcome::Running => RolloutState::Running,
            Outcome::Done => {
                if matches!(kind, Kind::Global) && job.hash != record.hash {
                    self.registry.set_unit_hash(&job.name, record.hash).await?;
                }
                tracing::info!(unit = %job.name, "rollout done");
                RolloutState::Done
            }
            Outcome::Failed { target, reason } => {
                let machine = slots
                    .iter()
                    .find(|slot| slot.name == target)
                    .and_then(|slot| slot.machine.clone());
                tracing::warn!(unit = %job.name, %target, %reason, "rollout failed");
                RolloutState::Failed(RolloutFailure {
                    target,
                    machine,
                    reason,
                })
            }
        };
        let next = RolloutRecord {
            state,
            progress: step.progress,
            ..record.clone()
        };
        if &next != record
            && self.registry.swap_rollout(&job.name, text, &next).await? == Written::Lost
        {
            return Ok(None);
        }
        Ok(Some(moved))
    }

    /// Observes every slot; reads the reports of the in-flight ones.
    async fn observe(
        &mut self,
        job: &JobView,
        hash: UnitHash,
        slots: &[Slot],
    ) -> Result<Vec<Target>, RegistryError> {
        let now = Instant::now();
        let mut reports: BTreeMap<String, BTreeMap<(String, String), StateReport>> =
            BTreeMap::new();
        let mut targets = Vec::with_capacity(slots.len());
        for slot in slots {
            let in_flight = slot.updated
                && slot.pending.is_none()
                && !self
                    .rollouts
                    .clocks(&job.name, hash)
                    .healthy
                    .contains(&slot.name);
            if in_flight && !reports.contains_key(&slot.unit) {
                let read = self.registry.unit_states(&slot.unit).await?;
                reports.insert(slot.unit.clone(), read.items);
            }
            let report = reports.get(&slot.unit).and_then(|all| {
                all.values().find(|report| {
                    report.hash == hash
                        && slot
                            .machine
                            .as_deref()
                            .is_none_or(|machine| report.machine.as_str() == machine)
                })
            });
            let clocks = self.rollouts.clocks(&job.name, hash);
            let observed = if !slot.updated {
                Observed::Old
            } else if clocks.healthy.contains(&slot.name) {
                Observed::Healthy
            } else if let Some(reason) = &slot.pending {
                clocks.unplaceable(&slot.name, reason, now)
            } else {
                clocks.pending_since.remove(&slot.name);
                clocks.observe(&slot.name, slot.desired, report, now)
            };
            targets.push(Target {
                name: slot.name.clone(),
                observed,
            });
        }
        Ok(targets)
    }

    async fn move_target(
        &self,
        kind: &Kind,
        job: &JobView,
        slot: &Slot,
        hash: UnitHash,
    ) -> Result<(), RegistryError> {
        match (kind, &slot.machine) {
            (Kind::Global, Some(machine)) => {
                let Ok(machine) = fleet_core::model::MachineId::parse(machine) else {
                    return Ok(());
                };
                let entry = ScheduleEntry {
                    hash,
                    desired: job.desired,
                    triggered: slot.triggered,
                    batch: false,
                    attempt: fleet_core::model::Attempt::ONLY,
                    stop_when_cut_off: false,
                };
                self.registry
                    .put_schedule_entry(&machine, &job.name, &entry)
                    .await
            }
            _ => {
                self.registry.set_unit_hash(&slot.name, hash).await?;
                Ok(())
            }
        }
    }
}

/// The targets of `job`'s rollout to `hash`, in the order they are moved.
fn slots(
    kind: &Kind,
    job: &JobView,
    jobs: &BTreeMap<String, JobView>,
    index: &BTreeMap<String, BTreeMap<String, ScheduleEntry>>,
    hash: UnitHash,
) -> Vec<Slot> {
    let unit_slot = |unit: &JobView| Slot {
        name: unit.name.clone(),
        unit: unit.name.clone(),
        machine: unit.target.as_ref().map(ToString::to_string),
        updated: unit.hash == hash,
        desired: unit.desired,
        triggered: false,
        pending: unit
            .target
            .is_none()
            .then(|| unit.pending.as_ref().map(|p| p.reason.clone()))
            .flatten(),
    };
    match kind {
        Kind::Unit => vec![unit_slot(job)],
        Kind::Template => {
            let Ok(template) = UnitName::parse(&job.name) else {
                return Vec::new();
            };
            let mut instances: Vec<(u64, &JobView)> = jobs
                .values()
                .filter(|unit| {
                    UnitName::parse(&unit.name)
                        .ok()
                        .filter(UnitName::is_instance)
                        .and_then(|name| name.template())
                        .is_some_and(|of| of == template)
                })
                .map(|unit| {
                    let number = instance_number(&template, &unit.name).unwrap_or(u64::MAX);
                    (number, unit)
                })
                .collect();
            instances.sort_by(|a, b| a.0.cmp(&b.0).then_with(|| a.1.name.cmp(&b.1.name)));
            instances
                .into_iter()
                .map(|(_, unit)| unit_slot(unit))
                .collect()
        }
        Kind::Global => index
            .iter()
            .filter_map(|(machine, entries)| {
                let entry = entries.get(&job.name)?;
                Some(Slot {
                    name: machine.clone(),
                    unit: job.name.clone(),
                    machine: Some(machine.clone()),
                    updated: entry.hash == hash,
                    desired: entry.desired,
                    triggered: entry.triggered,
                    pending: None,
                })
            })
            .collect(),
    }
}

/// The new hash of every unit with a rollout record whose hash its record does not carry
/// yet (a global unit partway): index entries already on that hash are kept on it.
#[must_use]
pub fn rolling_hashes(jobs: &BTreeMap<String, JobView>) -> BTreeMap<String, UnitHash> {
    jobs.iter()
        .filter_map(|(unit, job)| {
            let (record, _) = job.rollout.as_ref()?;
            (record.hash != job.hash).then(|| (unit.clone(), record.hash))
        })
        .collect()
}

#[cfg(test)]
#[path = "rollout_tests.rs"]
mod tests;
