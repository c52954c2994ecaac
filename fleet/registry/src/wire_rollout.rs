//! The rollout record, `job/<unit>/rollout` (Keel's, `fleetctl replace`): the new file's
//! hash, how to roll it out, and where the rollout stands. fleetd's API writes it when a
//! replace is asked for; the leading engine advances it and writes its state and counts.
//!
//! Invariants: durations are whole milliseconds; `maxParallel` is at least 1 after decoding;
//! a `failed` record names the failed target and why; `encode(decode(x))` is `x`.

use super::{check_version, decode, encode, hash_field, WireError, VALUE_VERSION};
use fleet_core::rollout::{whole_millis, Progress, Strategy};
use fleet_core::unit_file::UnitHash;
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// A rolling replacement of one unit, template or global unit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RolloutRecord {
    /// The new unit file (stored under `unit/<hash>` before the record is written).
    pub hash: UnitHash,
    /// How it proceeds.
    pub strategy: Strategy,
    /// Where it stands.
    pub state: RolloutState,
    /// Its counts, as the engine last wrote them.
    pub progress: Progress,
    /// When it was asked for, in seconds since the UNIX epoch.
    pub started: u64,
}

/// Where a rollout stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RolloutState {
    /// Targets are still to update or to become healthy.
    Running,
    /// Every target runs the new file and is healthy.
    Done,
    /// A target failed; the engine updates nothing more.
    Failed(RolloutFailure),
}

/// The target that stopped a rollout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RolloutFailure {
    /// The instance, unit or (for a global unit) machine.
    pub target: String,
    /// The machine it failed on, when known.
    pub machine: Option<String>,
    /// Why.
    pub reason: String,
}

impl RolloutState {
    /// `running`, `done` or `failed`.
    #[must_use]
    pub fn as_str(&self) -> &'static str {
        match self {
            RolloutState::Running => "running",
            RolloutState::Done => "done",
            RolloutState::Failed(_) => "failed",
        }
    }

    /// The target that stopped a failed rollout.
    #[must_use]
    pub fn failure(&self) -> Option<&RolloutFailure> {
        match self {
            RolloutState::Failed(failure) => Some(failure),
            _ => None,
        }
    }
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RolloutJson {
    version: u32,
    hash: String,
    max_parallel: u32,
    min_healthy_time_ms: u64,
    healthy_deadline_ms: u64,
    state: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    failed_target: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    failed_machine: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    reason: Option<String>,
    #[serde(default)]
    total: u32,
    #[serde(default)]
    updated: u32,
    #[serde(default)]
    healthy: u32,
    #[serde(default)]
    started: u64,
}

impl RolloutRecord {
    /// `{"version":1,"hash":"…","maxParallel":1,"minHealthyTimeMs":10000,…}`.
    #[must_use]
    pub fn encode(&self) -> String {
        let failure = self.state.failure();
        encode(&RolloutJson {
            version: VALUE_VERSION,
            hash: self.hash.to_hex(),
            max_parallel: self.strategy.max_parallel,
            min_healthy_time_ms: whole_millis(self.strategy.min_healthy),
            healthy_deadline_ms: whole_millis(self.strategy.deadline),
            state: self.state.as_str().to_owned(),
            failed_target: failure.map(|f| f.target.clone()),
            failed_machine: failure.and_then(|f| f.machine.clone()),
            reason: failure.map(|f| f.reason.clone()),
            total: self.progress.total,
            updated: self.progress.updated,
            healthy: self.progress.healthy,
            started: self.started,
        })
    }

    /// # Errors
    /// [`WireError`] for another shape or version, a bad hash or state.
    pub fn decode(text: &str) -> Result<RolloutRecord, WireError> {
        const WHAT: &str = "rollout record";
        let json: RolloutJson = decode(WHAT, text)?;
        check_version(WHAT, json.version)?;
        let invalid = |field: &'static str, value: &str| WireError::InvalidField {
            what: WHAT,
            field,
            value: value.to_owned(),
        };
        let hash = hash_field(WHAT, &json.hash)?;
        let state = match json.state.as_str() {
            "running" => RolloutState::Running,
            "done" => RolloutState::Done,
            "failed" => RolloutState::Failed(RolloutFailure {
                target: json.failed_target.unwrap_or_default(),
                machine: json.failed_machine,
                reason: json.reason.unwrap_or_default(),
            }),
            other => return Err(invalid("state", other)),
        };
        Ok(RolloutRecord {
            hash,
            strategy: Strategy {
                max_parallel: json.max_parallel.max(1),
                min_healthy: Duration::from_millis(json.min_healthy_time_ms),
                deadline: Duration::from_millis(json.healthy_deadline_ms),
            },
            state,
            progress: Progress {
                total: json.total,
                updated: json.updated,
                healthy: json.healthy,
            },
            started: json.started,
        })
    }
}
