//! The completion record, `job/<unit>/completion` (Keel's): how a batch job's run ended,
//! written once per run by the agent of the machine that ran it. The engine reads it from
//! its `job/` cache: a batch job whose completion names its current file is finished.
//!
//! Invariants: `finished` is in milliseconds since the UNIX epoch; `encode(decode(x))` is
//! `x`.

use super::{check_version, decode, encode, hash_field, machine_field, WireError, VALUE_VERSION};
use fleet_core::model::MachineId;
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
}

impl CompletionRecord {
    /// Whether the run succeeded (`Result` is `success`).
    #[must_use]
    pub fn succeeded(&self) -> bool {
        self.result == "success"
    }

    /// `completed`, or `failed (<result>, status N)`: the state `list-unit-files` shows.
    #[must_use]
    pub fn summary(&self) -> String {
        if self.succeeded() {
            "completed".to_owned()
        } else {
            format!("failed ({}, status {})", self.result, self.exit_status)
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
}

impl CompletionRecord {
    /// `{"version":1,"hash":"…","machine":"…","result":"success","exitStatus":0,
    /// "finished":…}`.
    #[must_use]
    pub fn encode(&self) -> String {
        encode(&CompletionJson {
            version: VALUE_VERSION,
            hash: self.hash.to_hex(),
            machine: self.machine.to_string(),
            result: self.result.clone(),
            exit_status: self.exit_status,
            finished: self.finished_ms,
        })
    }

    /// # Errors
    /// [`WireError`] for another shape or version, a bad hash or machine ID.
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
        })
    }
}
