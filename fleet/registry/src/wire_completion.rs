//! The completion record, `job/<unit>/completion` (Keel's): how a batch job's run ended,
//! written once per run by the agent of the machine that ran it. The engine reads it from
//! its `job/` cache: a batch job whose completion names its current file is finished.
//!
//! Invariants: `finished` is in milliseconds since the UNIX epoch; `encode(decode(x))` is
//! `x`.

use super::{
    attempt_field, check_version, decode, encode, hash_field, machine_field, WireError,
    VALUE_VERSION,
};
use fleet_core::model::{Attempt, MachineId};
use fleet_core::unit_file::UnitHash;
use serde::{Deserialize, Serialize};

/// How a batch job's run ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompletionRecord {
    /// The unit file that ran.
    pub hash: UnitHash,
    /// The machine it ran on.
    pub machine: MachineId,
    /// systemd's `Result` of the service: `success`, `exit-code`, `signal`, ...
    pub result: String,
    /// The main process's exit status, or the signal that ended it.
    pub exit_status: i32,
    /// When it ended, in milliseconds since the UNIX epoch (0 when systemd did not say).
    pub finished_ms: u64,
    /// Which attempt it was (`number` of `of`; `after_ms` is not kept).
    pub attempt: Attempt,
}

impl CompletionRecord {
    /// Whether the run succeeded (`Result` is `success`).
    #[must_use]
    pub fn succeeded(&self) -> bool {
        self.result == "success"
    }

    /// Whether the job is done with this file: it succeeded, or no attempt is left.
    #[must_use]
    pub fn is_last(&self) -> bool {
        self.succeeded() || !self.attempt.has_next()
    }

    /// `completed`, or `failed (<result>, status N)`, with `after N attempts` when it had
    /// more than one: the state `list-unit-files` shows.
    #[must_use]
    pub fn summary(&self) -> String {
        let outcome = if self.succeeded() {
            "completed".to_owned()
        } else {
            format!("failed ({}, status {})", self.result, self.exit_status)
        };
        match self.attempt.number {
            1 => outcome,
            tries => format!("{outcome} after {tries} attempts"),
        }
    }
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct CompletionJson {
    version: u32,
    hash: String,
    machine: String,
    result: String,
    exit_status: i32,
    #[serde(default)]
    finished: u64,
    #[serde(default = "super::one", skip_serializing_if = "super::is_one")]
    attempt: u32,
    #[serde(default = "super::one", skip_serializing_if = "super::is_one")]
    attempts: u32,
}

impl CompletionRecord {
    /// `{"version":1,"hash":"…","machine":"…","result":"success","exitStatus":0,
    /// "finished":…}`, with `"attempt"` and `"attempts"` for a job with retries.
    #[must_use]
    pub fn encode(&self) -> String {
        encode(&CompletionJson {
            version: VALUE_VERSION,
            hash: self.hash.to_hex(),
            machine: self.machine.to_string(),
            result: self.result.clone(),
            exit_status: self.exit_status,
            finished: self.finished_ms,
            attempt: self.attempt.number,
            attempts: self.attempt.of,
        })
    }

    /// # Errors
    /// [`WireError`] for another shape or version, a bad hash, machine ID or attempt.
    pub fn decode(text: &str) -> Result<CompletionRecord, WireError> {
        const WHAT: &str = "completion record";
        let json: CompletionJson = decode(WHAT, text)?;
        check_version(WHAT, json.version)?;
        Ok(CompletionRecord {
            hash: hash_field(WHAT, &json.hash)?,
            machine: machine_field(WHAT, &json.machine)?,
            result: json.result,
            exit_status: json.exit_status,
            finished_ms: json.finished,
            attempt: attempt_field(WHAT, json.attempt, json.attempts, 0)?,
        })
    }
}
