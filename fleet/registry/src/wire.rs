//! The values stored under the registry's keys: their JSON, encoded and decoded in one place.
//!
//! fleet's own values keep fleet's shapes and field names (`Name`, `UnitHash` as 20 numbers,
//! `Raw`, `MachineID`...), so a registry written by one reads the same in the other where the
//! layouts overlap. Values that Keel adds carry `"version": 1`; a reader refuses a version it
//! does not know instead of guessing. Unknown fields are ignored, so a newer writer can add
//! fields without breaking an older reader.
//!
//! Invariants: every decoder validates what it decoded into the core's types (a unit hash is
//! 40 hex characters, a desired state one of three words, a machine ID a valid ID), so a
//! value that decodes is usable; `encode(decode(x))` is `x` for every value Keel writes
//! (golden tests). Must not perform I/O.

use fleet_core::model::{Attempt, DesiredState, MachineId};
use fleet_core::resources::Resources;
use fleet_core::unit_file::UnitHash;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The version of the values Keel adds.
pub const VALUE_VERSION: u32 = 1;

/// Why a stored value could not be read.
#[derive(Debug, thiserror::Error)]
pub enum WireError {
    /// Not the JSON shape expected for the key.
    #[error("malformed {what}: {source}")]
    Malformed {
        /// What was being read.
        what: &'static str,
        /// serde's complaint.
        #[source]
        source: serde_json::Error,
    },
    /// A value written by a newer Keel.
    #[error("{what} has version {found}, this fleetd reads version {VALUE_VERSION}")]
    UnsupportedVersion {
        /// What was being read.
        what: &'static str,
        /// The version found.
        found: u32,
    },
    /// A field that decoded but is not valid.
    #[error("{what}: invalid {field} {value:?}")]
    InvalidField {
        /// What was being read.
        what: &'static str,
        /// The field.
        field: &'static str,
        /// Its value.
        value: String,
    },
}

fn decode<'a, T: Deserialize<'a>>(what: &'static str, text: &'a str) -> Result<T, WireError> {
    serde_json::from_str(text).map_err(|source| WireError::Malformed { what, source })
}

fn encode<T: Serialize>(value: &T) -> String {
    serde_json::to_string(value).expect("registry values are plain structs of strings and maps")
}

fn check_version(what: &'static str, found: u32) -> Result<(), WireError> {
    if found == VALUE_VERSION {
        Ok(())
    } else {
        Err(WireError::UnsupportedVersion { what, found })
    }
}

fn hash_field(what: &'static str, text: &str) -> Result<UnitHash, WireError> {
    UnitHash::from_hex(text).map_err(|_| WireError::InvalidField {
        what,
        field: "hash",
        value: text.to_owned(),
    })
}

fn machine_field(what: &'static str, text: &str) -> Result<MachineId, WireError> {
    MachineId::parse(text).map_err(|_| WireError::InvalidField {
        what,
        field: "machine ID",
        value: text.to_owned(),
    })
}

/// `job/<unit>/object`: fleet's unit record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobObject {
    /// The unit's name.
    pub name: String,
    /// Its unit file's hash: the `unit/<hash>` key.
    pub hash: UnitHash,
}

#[derive(Serialize, Deserialize)]
struct JobObjectJson {
    #[serde(rename = "Name")]
    name: String,
    #[serde(rename = "UnitHash")]
    hash: [u8; 20],
}

impl JobObject {
    /// fleet's JSON: `{"Name":"…","UnitHash":[20 numbers]}`.
    #[must_use]
    pub fn encode(&self) -> String {
        encode(&JobObjectJson {
            name: self.name.clone(),
            hash: *self.hash.as_bytes(),
        })
    }

    /// # Errors
    /// [`WireError::Malformed`] when it is not that shape.
    pub fn decode(text: &str) -> Result<JobObject, WireError> {
        let json: JobObjectJson = decode("unit record", text)?;
        Ok(JobObject {
            name: json.name,
            hash: UnitHash::from_bytes(json.hash),
        })
    }
}

/// `unit/<hash>`: a unit file's canonical text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnitFileBlob {
    /// The canonical text.
    #[serde(rename = "Raw")]
    pub raw: String,
}

impl UnitFileBlob {
    /// fleet's JSON: `{"Raw":"…"}`.
    #[must_use]
    pub fn encode(&self) -> String {
        encode(self)
    }

    /// # Errors
    /// [`WireError::Malformed`] when it is not that shape.
    pub fn decode(text: &str) -> Result<UnitFileBlob, WireError> {
        decode("unit file", text)
    }
}

/// `schedule/<machine>/<unit>`: one entry of a machine's index (Keel's).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScheduleEntry {
    /// The unit file to run.
    pub hash: UnitHash,
    /// `loaded` or `launched`.
    pub desired: DesiredState,
    /// A timer placed with it starts it: the agent leaves it running while it is only
    /// `loaded`.
    pub triggered: bool,
    /// A batch job (`"kind":"batch"`): the agent starts it only if it has not run since it
    /// was loaded, and reports how its run ended.
    pub batch: bool,
    /// For a batch job with retries: which attempt to run (`"attempt"`, `"attempts"`,
    /// `"after"`, each left out at its default).
    pub attempt: Attempt,
    /// `WhenCutOff=stop` (`"whenCutOff":"stop"`): the agent stops it when cut off from
    /// Keel and checks its entry by a quorum read before it starts it.
    pub stop_when_cut_off: bool,
}

#[derive(Serialize, Deserialize)]
struct ScheduleEntryJson<'a> {
    version: u32,
    hash: &'a str,
    #[serde(rename = "desiredState")]
    desired: &'a str,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    triggered: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    kind: Option<&'a str>,
    #[serde(default = "one", skip_serializing_if = "is_one")]
    attempt: u32,
    #[serde(default = "one", skip_serializing_if = "is_one")]
    attempts: u32,
    #[serde(default, skip_serializing_if = "is_zero")]
    after: u64,
    #[serde(
        rename = "whenCutOff",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    when_cut_off: Option<&'a str>,
}

/// The `whenCutOff` of an entry whose unit stops when cut off; any other has none.
const STOP_WHEN_CUT_OFF: &str = "stop";

/// An optional field that has one value when present: whether it is there.
fn marker_field(
    what: &'static str,
    field: &'static str,
    value: Option<&str>,
    marker: &str,
) -> Result<bool, WireError> {
    match value {
        None => Ok(false),
        Some(value) if value == marker => Ok(true),
        Some(other) => Err(WireError::InvalidField {
            what,
            field,
            value: other.to_owned(),
        }),
    }
}

/// A stored attempt: `number` from 1 to `of`.
fn attempt_field(
    what: &'static str,
    number: u32,
    of: u32,
    after_ms: u64,
) -> Result<Attempt, WireError> {
    if number == 0 || number > of {
        return Err(WireError::InvalidField {
            what,
            field: "attempt",
            value: format!("{number} of {of}"),
        });
    }
    Ok(Attempt {
        number,
        of,
        after_ms,
    })
}

fn one() -> u32 {
    1
}

#[allow(clippy::trivially_copy_pass_by_ref)] // serde's skip_serializing_if passes a reference
fn is_one(value: &u32) -> bool {
    *value == 1
}

#[allow(clippy::trivially_copy_pass_by_ref)] // serde's skip_serializing_if passes a reference
fn is_zero(value: &u64) -> bool {
    *value == 0
}

/// The `kind` of a batch job's index entry; any other unit's entry has none.
const BATCH_KIND: &str = "batch";

impl ScheduleEntry {
    /// `{"version":1,"hash":"<40 hex>","desiredState":"…"}`, with `"triggered":true` for
    /// a service that a timer starts, `"kind":"batch"` for a batch job and, for a batch job
    /// with retries, `"attempt"`, `"attempts"` and `"after"` (ms since the epoch), and
    /// `"whenCutOff":"stop"` for a unit that stops when cut off.
    #[must_use]
    pub fn encode(&self) -> String {
        let hash = self.hash.to_hex();
        encode(&ScheduleEntryJson {
            version: VALUE_VERSION,
            hash: &hash,
            desired: self.desired.as_str(),
            triggered: self.triggered,
            kind: self.batch.then_some(BATCH_KIND),
            attempt: self.attempt.number,
            attempts: self.attempt.of,
            after: self.attempt.after_ms,
            when_cut_off: self.stop_when_cut_off.then_some(STOP_WHEN_CUT_OFF),
        })
    }

    /// # Errors
    /// [`WireError`] for another shape, another version, a bad hash, desired state, kind,
    /// attempt (0, or above the attempts) or `whenCutOff`.
    pub fn decode(text: &str) -> Result<ScheduleEntry, WireError> {
        const WHAT: &str = "schedule entry";
        let json: ScheduleEntryJson<'_> = decode(WHAT, text)?;
        check_version(WHAT, json.version)?;
        let desired = json.desired.parse().map_err(|_| WireError::InvalidField {
            what: WHAT,
            field: "desiredState",
            value: json.desired.to_owned(),
        })?;
        let batch = marker_field(WHAT, "kind", json.kind, BATCH_KIND)?;
        let stop_when_cut_off =
            marker_field(WHAT, "whenCutOff", json.when_cut_off, STOP_WHEN_CUT_OFF)?;
        Ok(ScheduleEntry {
            hash: hash_field(WHAT, json.hash)?,
            desired,
            triggered: json.triggered,
            batch,
            attempt: attempt_field(WHAT, json.attempt, json.attempts, json.after)?,
            stop_when_cut_off,
        })
    }
}

/// `states/<unit>/<machine>`: what systemd says of a unit on one machine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateReport {
    /// systemd's `LoadState`, verbatim.
    pub load_state: String,
    /// systemd's `ActiveState`, verbatim.
    pub active_state: String,
    /// systemd's `SubState`, verbatim.
    pub sub_state: String,
    /// The reporting machine.
    pub machine: MachineId,
    /// The hash of the unit file it runs.
    pub hash: UnitHash,
    /// Whether the agent has started it (fleet kept this in a separate heartbeat key).
    pub launched: bool,
}

#[derive(Serialize, Deserialize)]
struct MachineRefJson {
    #[serde(rename = "ID")]
    id: String,
}

#[derive(Serialize, Deserialize)]
struct StateReportJson {
    #[serde(rename = "loadState")]
    load_state: String,
    #[serde(rename = "activeState")]
    active_state: String,
    #[serde(rename = "subState")]
    sub_state: String,
    #[serde(rename = "machineState")]
    machine: MachineRefJson,
    #[serde(rename = "unitHash")]
    hash: String,
    #[serde(default)]
    launched: bool,
}

impl StateReport {
    /// fleet's state JSON plus `"launched"`.
    #[must_use]
    pub fn encode(&self) -> String {
        encode(&StateReportJson {
            load_state: self.load_state.clone(),
            active_state: self.active_state.clone(),
            sub_state: self.sub_state.clone(),
            machine: MachineRefJson {
                id: self.machine.to_string(),
            },
            hash: self.hash.to_hex(),
            launched: self.launched,
        })
    }

    /// # Errors
    /// [`WireError`] for another shape, a bad machine ID or hash.
    pub fn decode(text: &str) -> Result<StateReport, WireError> {
        const WHAT: &str = "state report";
        let json: StateReportJson = decode(WHAT, text)?;
        Ok(StateReport {
            machine: machine_field(WHAT, &json.machine.id)?,
            hash: hash_field(WHAT, &json.hash)?,
            load_state: json.load_state,
            active_state: json.active_state,
            sub_state: json.sub_state,
            launched: json.launched,
        })
    }
}

/// `machines/<id>/object`: a live machine's facts (fleet's `MachineState`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MachineObject {
    /// Its ID.
    pub id: MachineId,
    /// Its public IP, empty when unknown.
    pub public_ip: String,
    /// Its static metadata, from its configuration.
    pub metadata: BTreeMap<String, String>,
    /// Whether it never competes for the engine lease.
    pub engine_disabled: bool,
    /// Its fleetd version.
    pub version: String,
    /// Where its fleetd serves the HTTP API to other hosts (`http://ip:port`), so that any
    /// fleetd can forward a unit's `status` or `journal` to the unit's host. A Keel field
    /// (`"APIURL"`), left out when the fleetd listens on no TCP address; fleet ignores it.
    pub api_url: Option<String>,
    /// What it offers to units' `Cpu=`/`Memory=` requests. A Keel field (`"Capacity":
    /// {"CPU": millicores, "Memory": bytes}`), left out, and `None`, for a fleet agent.
    pub capacity: Option<Resources>,
    /// Whether it is drained: `machines/<id>/cordon` exists (Keel's; a key of its own, set
    /// by `fleetctl drain`, so it outlives the record's TTL). Not part of this JSON: the
    /// listing decoder sets it.
    pub cordoned: bool,
}

#[derive(Serialize, Deserialize)]
struct CapacityJson {
    #[serde(rename = "CPU", default)]
    cpu_millis: u64,
    #[serde(rename = "Memory", default)]
    memory_bytes: u64,
}

#[derive(Serialize, Deserialize)]
struct CapabilitiesJson {
    #[serde(rename = "DISABLE_ENGINE", default)]
    disable_engine: bool,
    #[serde(rename = "GRPC", default)]
    grpc: bool,
}

#[derive(Serialize, Deserialize)]
struct MachineObjectJson {
    #[serde(rename = "ID")]
    id: String,
    #[serde(rename = "PublicIP", default)]
    public_ip: String,
    #[serde(rename = "Metadata", default)]
    metadata: BTreeMap<String, String>,
    #[serde(rename = "Capabilities", default)]
    capabilities: Option<CapabilitiesJson>,
    #[serde(rename = "Version", default)]
    version: String,
    #[serde(rename = "APIURL", default, skip_serializing_if = "Option::is_none")]
    api_url: Option<String>,
    #[serde(rename = "Capacity", default, skip_serializing_if = "Option::is_none")]
    capacity: Option<CapacityJson>,
}

impl MachineObject {
    /// fleet's JSON: `{"ID","PublicIP","Metadata","Capabilities","Version"}`.
    #[must_use]
    pub fn encode(&self) -> String {
        encode(&MachineObjectJson {
            id: self.id.to_string(),
            public_ip: self.public_ip.clone(),
            metadata: self.metadata.clone(),
            capabilities: Some(CapabilitiesJson {
                disable_engine: self.engine_disabled,
                grpc: false,
            }),
            version: self.version.clone(),
            api_url: self.api_url.clone(),
            capacity: self.capacity.map(|capacity| CapacityJson {
                cpu_millis: capacity.cpu_millis,
                memory_bytes: capacity.memory_bytes,
            }),
        })
    }

    /// # Errors
    /// [`WireError`] for another shape or a bad machine ID.
    pub fn decode(text: &str) -> Result<MachineObject, WireError> {
        const WHAT: &str = "machine record";
        let json: MachineObjectJson = decode(WHAT, text)?;
        Ok(MachineObject {
            id: machine_field(WHAT, &json.id)?,
            public_ip: json.public_ip,
            metadata: json.metadata,
            engine_disabled: json.capabilities.is_some_and(|caps| caps.disable_engine),
            version: json.version,
            api_url: json.api_url,
            capacity: json.capacity.map(|capacity| Resources {
                cpu_millis: capacity.cpu_millis,
                memory_bytes: capacity.memory_bytes,
            }),
            cordoned: false,
        })
    }
}

/// `lease/engine-leader`: who holds the engine lease.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EngineLease {
    /// The holder.
    pub machine: MachineId,
    /// The holder's engine version; 0 for fleet's oldest leases, a bare machine ID.
    pub version: u32,
}

#[derive(Serialize, Deserialize)]
struct EngineLeaseJson {
    #[serde(rename = "MachineID")]
    machine: String,
    #[serde(rename = "Version")]
    version: u32,
}

impl EngineLease {
    /// fleet's JSON: `{"MachineID":"…","Version":N}`.
    #[must_use]
    pub fn encode(&self) -> String {
        encode(&EngineLeaseJson {
            machine: self.machine.to_string(),
            version: self.version,
        })
    }

    /// That JSON, or a bare machine ID (version 0), as fleet reads it.
    ///
    /// # Errors
    /// [`WireError`] when it is neither.
    pub fn decode(text: &str) -> Result<EngineLease, WireError> {
        const WHAT: &str = "engine lease";
        if !text.trim_start().starts_with('{') {
            return Ok(EngineLease {
                machine: machine_field(WHAT, text)?,
                version: 0,
            });
        }
        let json: EngineLeaseJson = decode(WHAT, text)?;
        Ok(EngineLease {
            machine: machine_field(WHAT, &json.machine)?,
            version: json.version,
        })
    }
}

/// `job/<unit>/pending`: why the engine could not place a unit (Keel's).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingReason {
    /// One line for people, e.g. `none of 3 machine(s) accepts it`.
    pub reason: String,
    /// Per machine, the rule that refused the unit.
    pub refusals: Vec<(String, String)>,
}

#[derive(Serialize, Deserialize)]
struct RefusalJson {
    machine: String,
    rule: String,
}

#[derive(Serialize, Deserialize)]
struct PendingJson {
    version: u32,
    reason: String,
    refusals: Vec<RefusalJson>,
}

impl PendingReason {
    /// `{"version":1,"reason":"…","refusals":[{"machine":"…","rule":"…"}]}`.
    #[must_use]
    pub fn encode(&self) -> String {
        encode(&PendingJson {
            version: VALUE_VERSION,
            reason: self.reason.clone(),
            refusals: self
                .refusals
                .iter()
                .map(|(machine, rule)| RefusalJson {
                    machine: machine.clone(),
                    rule: rule.clone(),
                })
                .collect(),
        })
    }

    /// # Errors
    /// [`WireError`] for another shape or version.
    pub fn decode(text: &str) -> Result<PendingReason, WireError> {
        const WHAT: &str = "pending reason";
        let json: PendingJson = decode(WHAT, text)?;
        check_version(WHAT, json.version)?;
        Ok(PendingReason {
            reason: json.reason,
            refusals: json
                .refusals
                .into_iter()
                .map(|refusal| (refusal.machine, refusal.rule))
                .collect(),
        })
    }
}

#[path = "wire_rollout.rs"]
mod rollout;
pub use rollout::{RolloutFailure, RolloutRecord, RolloutState};

#[path = "wire_completion.rs"]
mod completion;
pub use completion::CompletionRecord;

#[cfg(test)]
#[path = "wire_tests.rs"]
mod tests;
