//! Keel's extension routes' JSON that both sides share: `GET /keel/v1/units/{name}/why`,
//! `PUT /keel/v1/units/{template}/replicas`, `GET /keel/v1/replicas`, the rollout routes
//! (`PUT`/`GET /keel/v1/units/{name}/rollout`, `GET /keel/v1/rollouts`) and the finished
//! batch jobs (`GET /keel/v1/completions`) and the machines' allocation
//! (`GET /keel/v1/allocation`).
//!
//! Invariants: every field is camelCase; optional fields are left out when empty, and a
//! reader accepts them missing (`#[serde(default)]`), so either side may be newer.

use serde::{Deserialize, Serialize};

/// `GET /keel/v1/units/{name}/why`: every live machine's verdict on the unit.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Why {
    /// The unit.
    #[serde(default)]
    pub unit: String,
    /// Whether it runs on every machine that passes (no placement, no score).
    #[serde(default, skip_serializing_if = "is_false")]
    pub global: bool,
    /// The machine it is placed on, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub placed: Option<String>,
    /// The machine a scheduling pass would choose now (the unit judged as if taken off its
    /// machine); absent when no machine is eligible or for a global unit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub best: Option<String>,
    /// The reason the engine stored when it last could not place the unit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending: Option<String>,
    /// Its desired state.
    #[serde(default)]
    pub desired_state: String,
    /// For a batch job that finished on its current file: how it ended. The engine does
    /// not place it again, so `machines` is empty.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completion: Option<Completion>,
    /// One entry per live machine, by machine ID.
    #[serde(default)]
    pub machines: Vec<MachineVerdict>,
}

/// One machine's verdict: `filtered` (the first rule that keeps the unit off it) or, when it
/// passes every rule, `score` (absent for a global unit).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MachineVerdict {
    /// The machine's ID.
    #[serde(default)]
    pub machine: String,
    /// Its public IP (named as in fleet's machine entity).
    #[serde(
        rename = "primaryIP",
        default,
        skip_serializing_if = "String::is_empty"
    )]
    pub primary_ip: String,
    /// The rule that refused the unit, in words.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filtered: Option<String>,
    /// The score it got.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub score: Option<Score>,
}

/// A feasible machine's score, as the scheduler computes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Score {
    /// The sum the machines are ranked by.
    #[serde(default)]
    pub total: u32,
    /// Fewer instances of the same template on the machine.
    #[serde(default)]
    pub spread: u32,
    /// Fewer instances in the machine's `SpreadBy` value; absent without `SpreadBy`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub zone: Option<u32>,
    /// The share of CPU and memory left after placing.
    #[serde(default)]
    pub free: u32,
    /// Fewer units on the machine.
    #[serde(default)]
    pub load: u32,
}

impl std::fmt::Display for Score {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(formatter, "score {} (spread {}", self.total, self.spread)?;
        if let Some(zone) = self.zone {
            write!(formatter, ", zone {zone}")?;
        }
        write!(formatter, ", free {}, load {})", self.free, self.load)
    }
}

#[allow(clippy::trivially_copy_pass_by_ref)] // serde's skip_serializing_if passes a reference
fn is_false(value: &bool) -> bool {
    !*value
}

/// How a batch job's run on its current file ended.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Completion {
    /// The unit.
    #[serde(default)]
    pub unit: String,
    /// The machine it ran on.
    #[serde(default)]
    pub machine: String,
    /// systemd's `Result` of the service: `success`, `exit-code`, `signal`, ...
    #[serde(default)]
    pub result: String,
    /// The main process's exit status, or the signal that ended it.
    #[serde(default)]
    pub exit_status: i32,
    /// When it ended, in milliseconds since the UNIX epoch (0 when unknown).
    #[serde(default)]
    pub finished: u64,
    /// `completed` or `failed (<result>, status N)`, as `list-unit-files` shows it.
    #[serde(default)]
    pub summary: String,
}

/// `GET /keel/v1/completions`: every batch job finished on its current file.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct CompletionList {
    /// By unit name.
    #[serde(default)]
    pub completions: Vec<Completion>,
}

/// `GET /keel/v1/allocation`: each live machine's capacity and what its units ask of it.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct AllocationList {
    /// By machine ID.
    #[serde(default)]
    pub machines: Vec<MachineAllocation>,
}

/// One machine's capacity and allocation, as the scheduler counts them.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MachineAllocation {
    /// The machine's ID.
    pub machine: String,
    /// Its public IP.
    #[serde(default)]
    pub primary_ip: String,
    /// What it offers to units' `Cpu=` and `Memory=` requests; absent for a machine that
    /// declares nothing (requests are not checked there).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capacity: Option<Amount>,
    /// The requests of the units placed there (and of the global units it takes).
    #[serde(default)]
    pub allocated: Amount,
}

/// CPU and memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Amount {
    /// CPU in millicores (1000 = one core).
    pub cpu_millis: u64,
    /// Memory in bytes.
    pub memory_bytes: u64,
}

/// `PUT /keel/v1/units/{template}/replicas`: how many numbered instances to keep.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ScaleRequest {
    /// The count.
    pub count: u32,
}

/// `GET /keel/v1/replicas`: every template with a replica count.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ReplicaList {
    /// By template name.
    #[serde(default)]
    pub replicas: Vec<ReplicaSet>,
}

/// One template's replica count and how far it got.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ReplicaSet {
    /// The template.
    #[serde(default)]
    pub template: String,
    /// The count asked for.
    #[serde(default)]
    pub count: u32,
    /// Numbered instances that exist.
    #[serde(default)]
    pub instances: u32,
    /// Numbered instances that systemd reports active somewhere.
    #[serde(default)]
    pub running: u32,
}

/// `PUT /keel/v1/units/{name}/rollout`: roll a new file out over a unit, a template's
/// instances or a global unit's machines (`fleetctl replace`). Absent settings take the
/// engine's defaults.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReplaceRequest {
    /// The new unit file, as in `PUT /fleet/v1/units/{name}`.
    #[serde(default)]
    pub options: Vec<crate::entities::UnitOption>,
    /// At most this many targets down at once (default 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_parallel: Option<u32>,
    /// How long a target must stay active to count as healthy (default 10 s).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_healthy_time_ms: Option<u64>,
    /// How long a target may take to become healthy before the rollout fails (default 5 min).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub healthy_deadline_ms: Option<u64>,
}

/// One rollout, as `GET /keel/v1/rollouts` and `GET /keel/v1/units/{name}/rollout` show it.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Rollout {
    /// The unit, template or global unit.
    #[serde(default)]
    pub unit: String,
    /// The new file's hash.
    #[serde(default)]
    pub hash: String,
    /// `running`, `done` or `failed`.
    #[serde(default)]
    pub state: String,
    /// The strategy.
    #[serde(default)]
    pub max_parallel: u32,
    /// The strategy.
    #[serde(default)]
    pub min_healthy_time_ms: u64,
    /// The strategy.
    #[serde(default)]
    pub healthy_deadline_ms: u64,
    /// Targets in the rollout.
    #[serde(default)]
    pub total: u32,
    /// Targets on the new file.
    #[serde(default)]
    pub updated: u32,
    /// Targets healthy on the new file.
    #[serde(default)]
    pub healthy: u32,
    /// The target that failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failed_target: Option<String>,
    /// The machine it failed on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failed_machine: Option<String>,
    /// Why it failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// When it was asked for, in seconds since the UNIX epoch.
    #[serde(default)]
    pub started: u64,
}

/// `GET /keel/v1/rollouts`: every rollout record, by unit name.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct RolloutList {
    /// By unit name.
    #[serde(default)]
    pub rollouts: Vec<Rollout>,
}
