//! Registry listings decoded: the `(key, value)` pairs of a recursive read or of a reflector's
//! cache turned into units, machines, schedules and state reports, the same way for both.
//!
//! Each decoder keeps going past a bad value: what cannot be read is returned as a
//! [`Problem`] (logged by the caller) and left out, so one corrupt key never hides the rest
//! of the registry. Must not perform I/O.

use crate::keys::{Keys, RegistryKey};
use crate::wire::{
    CompletionRecord, JobObject, MachineObject, PendingReason, RolloutRecord, ScheduleEntry,
    StateReport, UnitFileBlob, WireError,
};
use fleet_core::model::{Attempt, DesiredState, MachineId};
use fleet_core::unit_file::{UnitFile, UnitHash};
use std::collections::{BTreeMap, BTreeSet};

/// A value that could not be read, with its key.
#[derive(Debug)]
pub struct Problem {
    /// The key.
    pub key: String,
    /// Why.
    pub error: ProblemKind,
}

/// What was wrong with a value.
#[derive(Debug, thiserror::Error)]
pub enum ProblemKind {
    /// Its JSON.
    #[error(transparent)]
    Wire(#[from] WireError),
    /// A desired state that is not one of fleet's three words (fleet itself wrote such
    /// values on a PUT it did not validate).
    #[error("invalid desired state {0:?}")]
    DesiredState(String),
    /// A placement that is not a machine ID.
    #[error("invalid target machine {0:?}")]
    Target(String),
    /// A replica count that is not a number.
    #[error("invalid replica count {0:?}")]
    Replicas(String),
    /// An engine version that is not a number.
    #[error("invalid engine version {0:?}")]
    EngineVersion(String),
    /// A unit file whose stored text does not parse, or whose key is not its hash.
    #[error("unit file: {0}")]
    UnitFile(String),
}

/// One unit's record: `job/<unit>/*`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobView {
    /// The unit's name.
    pub name: String,
    /// The hash of its unit file.
    pub hash: UnitHash,
    /// Its desired state; `inactive` when the key is missing or unreadable.
    pub desired: DesiredState,
    /// Where the engine placed it.
    pub target: Option<MachineId>,
    /// Why the engine could not place it.
    pub pending: Option<PendingReason>,
    /// For a template: how many instances to keep (`fleetctl scale`).
    pub replicas: Option<u32>,
    /// Its rolling replacement (`fleetctl replace`), running or finished, as stored
    /// (`job/<unit>/rollout`: the encoded text is kept for compare-and-swap).
    pub rollout: Option<(RolloutRecord, String)>,
    /// For a batch job: how its last run ended (`job/<unit>/completion`).
    pub completion: Option<CompletionRecord>,
}

impl JobView {
    /// Whether this batch job has finished on its current file (succeeded, or failed with
    /// no attempt left): the engine places it no more. A unit desired `inactive` is never
    /// finished.
    #[must_use]
    pub fn finished(&self) -> bool {
        self.desired != DesiredState::Inactive
            && self
                .completion
                .as_ref()
                .is_some_and(|completion| completion.hash == self.hash && completion.is_last())
    }

    /// For a batch job whose last attempt on its current file failed with attempts left:
    /// the next attempt, after the failed one. `None` otherwise.
    #[must_use]
    pub fn next_attempt(&self) -> Option<Attempt> {
        let failed = self
            .completion
            .as_ref()
            .filter(|completion| completion.hash == self.hash && !completion.is_last())?;
        Some(Attempt {
            number: failed.attempt.number + 1,
            of: failed.attempt.of,
            after_ms: failed.finished_ms,
        })
    }
}

/// A decoded listing with what could not be read.
#[derive(Debug)]
pub struct Decoded<T> {
    /// What was read.
    pub items: T,
    /// What was left out, and why.
    pub problems: Vec<Problem>,
}

/// Loose parts of one unit's record before it is known to be complete.
#[derive(Default)]
struct JobParts {
    object: Option<JobObject>,
    desired: Option<DesiredState>,
    target: Option<MachineId>,
    pending: Option<PendingReason>,
    replicas: Option<u32>,
    rollout: Option<(RolloutRecord, String)>,
    completion: Option<CompletionRecord>,
}

/// Units from the pairs under `job/`. A unit without a readable `object` is left out (it is
/// being created or destroyed, or is corrupt).
pub fn jobs<'a>(
    keys: &Keys,
    pairs: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> Decoded<BTreeMap<String, JobView>> {
    let mut parts: BTreeMap<String, JobParts> = BTreeMap::new();
    let mut problems = Vec::new();
    for (key, value) in pairs {
        let mut problem = |error: ProblemKind| {
            problems.push(Problem {
                key: key.to_owned(),
                error,
            });
        };
        match keys.classify(key) {
            Some(RegistryKey::JobObject { unit }) => match JobObject::decode(value) {
                Ok(object) => parts.entry(unit).or_default().object = Some(object),
                Err(error) => problem(error.into()),
            },
            Some(RegistryKey::TargetState { unit }) => match value.parse() {
                Ok(desired) => parts.entry(unit).or_default().desired = Some(desired),
                Err(_) => problem(ProblemKind::DesiredState(value.to_owned())),
            },
            Some(RegistryKey::Target { unit }) => match MachineId::parse(value) {
                Ok(machine) => parts.entry(unit).or_default().target = Some(machine),
                Err(_) => problem(ProblemKind::Target(value.to_owned())),
            },
            Some(RegistryKey::Pending { unit }) => match PendingReason::decode(value) {
                Ok(reason) => parts.entry(unit).or_default().pending = Some(reason),
                Err(error) => problem(error.into()),
            },
            Some(RegistryKey::Replicas { unit }) => match value.trim().parse() {
                Ok(count) => parts.entry(unit).or_default().replicas = Some(count),
                Err(_) => problem(ProblemKind::Replicas(value.to_owned())),
            },
            Some(RegistryKey::Rollout { unit }) => match RolloutRecord::decode(value) {
                Ok(record) => {
                    parts.entry(unit).or_default().rollout = Some((record, value.to_owned()));
                }
                Err(error) => problem(error.into()),
            },
            Some(RegistryKey::Completion { unit }) => match CompletionRecord::decode(value) {
                Ok(record) => parts.entry(unit).or_default().completion = Some(record),
                Err(error) => problem(error.into()),
            },
            _ => {}
        }
    }
    let items = parts
        .into_iter()
        .filter_map(|(unit, part)| {
            let object = part.object?;
            Some((
                unit,
                JobView {
                    name: object.name,
                    hash: object.hash,
                    desired: part.desired.unwrap_or(DesiredState::Inactive),
                    target: part.target,
                    pending: part.pending,
                    replicas: part.replicas,
                    rollout: part.rollout,
                    completion: part.completion,
                },
            ))
        })
        .collect();
    Decoded { items, problems }
}

/// Present machines from the pairs under `machines/`: each `object`, with the dynamic
/// `metadata/<key>` values applied over its static metadata (an empty value removes the key).
/// Metadata of a machine without an object is left out: such a machine is not present.
pub fn machines<'a>(
    keys: &Keys,
    pairs: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> Decoded<BTreeMap<MachineId, MachineObject>> {
    let mut objects = BTreeMap::new();
    let mut dynamic: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    let mut cordoned: BTreeSet<String> = BTreeSet::new();
    let mut problems = Vec::new();
    for (key, value) in pairs {
        match keys.classify(key) {
            Some(RegistryKey::MachineObject { .. }) => match MachineObject::decode(value) {
                Ok(object) => {
                    objects.insert(object.id.clone(), object);
                }
                Err(error) => problems.push(Problem {
                    key: key.to_owned(),
                    error: error.into(),
                }),
            },
            Some(RegistryKey::MachineCordon { machine }) => {
                cordoned.insert(machine);
            }
            Some(RegistryKey::MachineMetadata { machine, key }) => {
                dynamic
                    .entry(machine)
                    .or_default()
                    .insert(key, value.to_owned());
            }
            _ => {}
        }
    }
    for (id, object) in &mut objects {
        object.cordoned = cordoned.contains(id.as_str());
        for (key, value) in dynamic.remove(id.as_str()).unwrap_or_default() {
            if value.is_empty() {
                object.metadata.remove(&key);
            } else {
                object.metadata.insert(key, value);
            }
        }
    }
    Decoded {
        items: objects,
        problems,
    }
}

/// The per-machine index from the pairs under `schedule/`, machine by machine.
pub fn schedules<'a>(
    keys: &Keys,
    pairs: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> Decoded<BTreeMap<String, BTreeMap<String, ScheduleEntry>>> {
    let mut items: BTreeMap<String, BTreeMap<String, ScheduleEntry>> = BTreeMap::new();
    let mut problems = Vec::new();
    for (key, value) in pairs {
        if let Some(RegistryKey::Schedule { machine, unit }) = keys.classify(key) {
            match ScheduleEntry::decode(value) {
                Ok(entry) => {
                    items.entry(machine).or_default().insert(unit, entry);
                }
                Err(error) => problems.push(Problem {
                    key: key.to_owned(),
                    error: error.into(),
                }),
            }
        }
    }
    Decoded { items, problems }
}

/// State reports from the pairs under `states/`, ordered by (unit, machine) as fleet's API
/// lists them. The machine is the one in the key.
pub fn states<'a>(
    keys: &Keys,
    pairs: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> Decoded<BTreeMap<(String, String), StateReport>> {
    let mut items = BTreeMap::new();
    let mut problems = Vec::new();
    for (key, value) in pairs {
        if let Some(RegistryKey::State { unit, machine }) = keys.classify(key) {
            match StateReport::decode(value) {
                Ok(report) => {
                    items.insert((unit, machine), report);
                }
                Err(error) => problems.push(Problem {
                    key: key.to_owned(),
                    error: error.into(),
                }),
            }
        }
    }
    Decoded { items, problems }
}

/// Unit files from the pairs under `unit/`, by hash. A file whose text does not hash to its
/// key is refused: the key is its identity.
pub fn unit_files<'a>(
    keys: &Keys,
    pairs: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> Decoded<BTreeMap<UnitHash, UnitFile>> {
    let mut items = BTreeMap::new();
    let mut problems = Vec::new();
    for (key, value) in pairs {
        if let Some(RegistryKey::UnitFile { hash }) = keys.classify(key) {
            match unit_file(&hash, value) {
                Ok((hash, file)) => {
                    items.insert(hash, file);
                }
                Err(error) => problems.push(Problem {
                    key: key.to_owned(),
                    error,
                }),
            }
        }
    }
    Decoded { items, problems }
}

/// One stored unit file, checked against the hash in its key.
///
/// # Errors
/// The blob's JSON, a text that does not parse, or a hash that does not match.
pub fn unit_file(hash: &str, value: &str) -> Result<(UnitHash, UnitFile), ProblemKind> {
    let wanted =
        UnitHash::from_hex(hash).map_err(|_| ProblemKind::UnitFile(format!("bad hash {hash}")))?;
    let blob = UnitFileBlob::decode(value)?;
    let file =
        UnitFile::parse(&blob.raw).map_err(|error| ProblemKind::UnitFile(error.to_string()))?;
    if file.hash() != wanted {
        return Err(ProblemKind::UnitFile(format!(
            "text hashes to {}, not {hash}",
            file.hash().to_hex()
        )));
    }
    Ok((wanted, file))
}

#[cfg(test)]
#[path = "view_tests.rs"]
mod tests;
