//! The model shared by the registry, the engine, the agent and the API: machine identities,
//! desired states, what a unit requires of its machine, and the cluster snapshot the planners
//! read.
//!
//! Invariants: every map is ordered (`BTreeMap`), so iterating a snapshot is deterministic;
//! a [`MachineId`] is never empty. Must not depend on anything but `std`.

use crate::resources::Resources;
use crate::selector::{host_values, Selector};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::str::FromStr;

/// A machine's ID: the trimmed contents of its `/etc/machine-id`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct MachineId(String);

/// Why a text is not a machine ID.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MachineIdError {
    /// Empty after trimming.
    #[error("machine ID is empty")]
    Empty,
    /// Contains a character that cannot appear in a registry key (`/`, whitespace, control).
    #[error("machine ID {id:?} contains {character:?}, which cannot appear in a registry key")]
    BadCharacter {
        /// The ID as given.
        id: String,
        /// The first offending character.
        character: char,
    },
}

impl MachineId {
    /// Trims `text` and checks it can be a key segment.
    ///
    /// # Errors
    /// [`MachineIdError`] when it is empty or holds `/`, whitespace or a control character.
    pub fn parse(text: &str) -> Result<MachineId, MachineIdError> {
        let trimmed = text.trim();
        if trimmed.is_empty() {
            return Err(MachineIdError::Empty);
        }
        if let Some(character) = trimmed
            .chars()
            .find(|c| *c == '/' || c.is_whitespace() || c.is_control())
        {
            return Err(MachineIdError::BadCharacter {
                id: trimmed.to_owned(),
                character,
            });
        }
        Ok(MachineId(trimmed.to_owned()))
    }

    /// The full ID.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The first 8 characters, as fleetctl shows machines.
    #[must_use]
    pub fn short(&self) -> &str {
        let end = self
            .0
            .char_indices()
            .nth(8)
            .map_or(self.0.len(), |(index, _)| index);
        &self.0[..end]
    }

    /// Whether `wanted` (a `MachineID=` value) names this machine: the full ID, or its 8-char
    /// short form (fleet's code keeps the short form, although its docs say full only).
    #[must_use]
    pub fn matches(&self, wanted: &str) -> bool {
        self.0 == wanted || (wanted.chars().count() == 8 && self.short() == wanted)
    }
}

impl fmt::Display for MachineId {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(&self.0)
    }
}

/// A unit's desired ("target") state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub enum DesiredState {
    /// Known to the cluster, placed nowhere.
    #[default]
    Inactive,
    /// Placed, written and linked into systemd, not started.
    Loaded,
    /// Placed and started.
    Launched,
}

/// A desired state that is not one of fleet's three words.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid desired state {0:?}: expected inactive, loaded or launched")]
pub struct DesiredStateError(pub String);

impl DesiredState {
    /// fleet's word for it, as stored and as the API shows it.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            DesiredState::Inactive => "inactive",
            DesiredState::Loaded => "loaded",
            DesiredState::Launched => "launched",
        }
    }
}

impl FromStr for DesiredState {
    type Err = DesiredStateError;

    /// Exactly `inactive`, `loaded` or `launched` (case-sensitive, as fleet).
    fn from_str(text: &str) -> Result<DesiredState, DesiredStateError> {
        match text {
            "inactive" => Ok(DesiredState::Inactive),
            "loaded" => Ok(DesiredState::Loaded),
            "launched" => Ok(DesiredState::Launched),
            other => Err(DesiredStateError(other.to_owned())),
        }
    }
}

impl fmt::Display for DesiredState {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.as_str())
    }
}

/// What a unit's `[X-Fleet]` section asks of the machine it runs on, after value splitting,
/// specifier substitution and alias folding (`options.rs` builds it).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Requirements {
    /// `MachineID=` (or `X-ConditionMachineID=`/`X-ConditionMachineBootID=`): the first value
    /// counts. Matched with [`MachineId::matches`].
    pub machine_id: Option<String>,
    /// `MachineOf=`: every listed unit must already be on the candidate.
    pub machine_of: Vec<String>,
    /// `MachineMetadata=` equality items: key → the values accepted for it. Values of one
    /// key are ORed, different keys ANDed.
    pub metadata: BTreeMap<String, BTreeSet<String>>,
    /// `MachineMetadata=` items of any other form (`selector.rs`), each ANDed.
    pub selectors: Vec<Selector>,
    /// `Cpu=` and `Memory=`: what the unit reserves on its machine; zero when not given.
    pub requests: Resources,
    /// `SpreadBy=`: a metadata key whose values (zones, racks) the instances of one template
    /// are spread over.
    pub spread_by: Option<String>,
    /// `Conflicts=`: glob patterns of unit names that may not share the machine (symmetric).
    pub conflicts: Vec<String>,
    /// `Replaces=`: glob patterns of units this one displaces from its machine.
    pub replaces: Vec<String>,
    /// `Global=`: runs on every machine whose metadata matches, placed by each agent.
    pub global: bool,
    /// For a `.timer`: the unit it starts (`[Timer] Unit=`, else the same name with
    /// `.service`), which is placed with it ([`ClusterSnapshot::pair_timers`]).
    pub triggers: Option<String>,
    /// A batch job (`Kind=batch`, or a `Type=oneshot` service without `RemainAfterExit=`):
    /// it runs once where it is placed, and once it has finished on its current file it is
    /// not placed again. Never set for a global unit.
    pub batch: bool,
    /// `Retries=`: how many times a batch job whose run failed is run again on the same
    /// file (0 for any other unit).
    pub retries: u32,
    /// `WhenCutOff=stop`: its agent stops it when cut off from the store, and it is started
    /// elsewhere only once it has stopped, so it never runs on two machines at once. Never
    /// set for a global unit.
    pub stop_when_cut_off: bool,
}

/// Which run of a batch job an index entry asks for (`[X-Fleet] Retries=`): attempt
/// `number` of `of`. A retry is on the machine the failed attempt ran on, so `after_ms`
/// (when that attempt ended, by that machine's clock; 0 for the first) tells its run from
/// the one before.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Attempt {
    /// This attempt, from 1.
    pub number: u32,
    /// How many attempts the job has: its retries and one.
    pub of: u32,
    /// When the previous attempt ended, in milliseconds since the UNIX epoch; 0 for the
    /// first attempt.
    pub after_ms: u64,
}

impl Attempt {
    /// The only attempt of a unit without retries.
    pub const ONLY: Attempt = Attempt {
        number: 1,
        of: 1,
        after_ms: 0,
    };

    /// Whether a run whose main process started at `started_usec` (microseconds since the
    /// UNIX epoch) is this attempt's: it started in a later millisecond than the previous
    /// attempt ended (any run, for a first attempt). A run starts after the run before it
    /// ended, and a retry is started only after the engine has read how that one ended.
    #[must_use]
    pub fn owns_run(&self, started_usec: u64) -> bool {
        self.after_ms == 0 || started_usec / 1000 > self.after_ms
    }

    /// Whether attempts remain after this one.
    #[must_use]
    pub fn has_next(&self) -> bool {
        self.number < self.of
    }
}

impl Default for Attempt {
    fn default() -> Attempt {
        Attempt::ONLY
    }
}

impl Requirements {
    /// Whether `metadata` (a machine's merged metadata) has every required key with one of its
    /// accepted values, and passes every selector.
    #[must_use]
    pub fn metadata_matches(&self, metadata: &BTreeMap<String, String>) -> bool {
        self.metadata
            .iter()
            .all(|(key, accepted)| host_values(metadata, key).any(|value| accepted.contains(value)))
            && self
                .selectors
                .iter()
                .all(|selector| selector.matches(metadata))
    }
}

/// A machine as the planners see it: its ID, merged metadata (static, overridden by dynamic
/// entries) and declared capacity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MachineView {
    /// The machine.
    pub id: MachineId,
    /// Its merged metadata; a value may hold several, comma-separated.
    pub metadata: BTreeMap<String, String>,
    /// What it offers to units' requests; `None` for a machine that declares nothing (a
    /// fleet agent), where requests are not checked.
    pub capacity: Option<Resources>,
    /// Drained (`fleetctl drain`): no unit but global ones is placed or kept there.
    pub cordoned: bool,
    /// Gone (its presence expired) less than the engine's reschedule grace ago: its units
    /// stay placed there, nothing new is placed there.
    pub lost: bool,
}

/// A unit as the engine sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnitView {
    /// The unit's full name.
    pub name: String,
    /// What it asks of its machine.
    pub requirements: Requirements,
    /// Its desired state.
    pub desired: DesiredState,
    /// Where the engine placed it (`job/<unit>/target`), if anywhere. Never set for globals.
    pub target: Option<MachineId>,
}

/// Everything the engine decides from: the units and the live machines, both by name.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ClusterSnapshot {
    /// Every unit, by name.
    pub units: BTreeMap<String, UnitView>,
    /// Every live machine (presence key present), by ID.
    pub machines: BTreeMap<MachineId, MachineView>,
}

impl ClusterSnapshot {
    /// Places the service each non-global timer starts on the timer's machine: the service
    /// gets an implied `MachineOf=` the timer (Chronos' pairing of a schedule with its job),
    /// unless it is global, pinned with `MachineID=`, or already names the timer. A timer
    /// whose service is not in the snapshot implies nothing.
    pub fn pair_timers(&mut self) {
        let pairs: Vec<(String, String)> = self
            .units
            .values()
            .filter(|timer| !timer.requirements.global)
            .filter_map(|timer| Some((timer.requirements.triggers.clone()?, timer.name.clone())))
            .collect();
        for (service, timer) in pairs {
            let Some(unit) = self.units.get_mut(&service) else {
                continue;
            };
            let requirements = &mut unit.requirements;
            if requirements.global
                || requirements.machine_id.is_some()
                || requirements.machine_of.contains(&timer)
            {
                continue;
            }
            requirements.machine_of.push(timer);
        }
    }

    /// The units that a timer to be started (desired `launched`) starts: their agents leave
    /// them running while they are only `loaded`.
    #[must_use]
    pub fn triggered(&self) -> BTreeSet<String> {
        self.units
            .values()
            .filter(|timer| timer.desired == DesiredState::Launched)
            .filter_map(|timer| timer.requirements.triggers.clone())
            .collect()
    }

    /// For a batch job, which the agents run once and report how the run ended: its
    /// retries. A unit is one when its requirements say batch and it is not `triggered`
    /// ([`ClusterSnapshot::triggered`]: such a service runs each time its timer fires).
    #[must_use]
    pub fn batch_retries(&self, unit: &str, triggered: &BTreeSet<String>) -> Option<u32> {
        self.units
            .get(unit)
            .filter(|view| view.requirements.batch && !triggered.contains(unit))
            .map(|view| view.requirements.retries)
    }
}

#[cfg(test)]
mod tests {
    //! Method: literal attempts and times.

    use super::Attempt;

    #[test]
    fn an_attempt_owns_only_runs_started_after_the_previous_one_ended() {
        // Goal: the first attempt owns any run; a retry owns a run started in a later
        // millisecond than `after_ms`, not the failed run (started before it ended, possibly
        // within its last millisecond); attempts remain until the last one.
        assert!(Attempt::ONLY.owns_run(1));
        assert!(!Attempt::ONLY.has_next());
        let retry = Attempt {
            number: 2,
            of: 3,
            after_ms: 5_000,
        };
        assert!(!retry.owns_run(4_999_000));
        assert!(!retry.owns_run(5_000_999));
        assert!(retry.owns_run(5_001_000));
        assert!(retry.has_next());
        assert!(!Attempt { number: 3, ..retry }.has_next());
    }
}
