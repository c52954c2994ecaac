//! Every key of fleet's registry, in one place (`docs/fleet.md`, "Registry layout"): how each
//! is built from a prefix, and how a key seen in a listing or a watch event is recognised.
//!
//! Invariants: every key is `<prefix><kind>/...` with the prefix ending in `/`; a unit name,
//! machine ID or metadata key never contains `/` (their parsers refuse it), so
//! [`Keys::classify`] is the exact inverse of the builders. Must not perform I/O.

use fleet_core::model::MachineId;
use fleet_core::unit_file::UnitHash;

/// fleet's default `etcd_key_prefix`.
pub const DEFAULT_PREFIX: &str = "/_coreos.com/fleet/";

/// The key builder for one registry prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Keys {
    /// Always starts and ends with `/`.
    prefix: String,
}

/// A key of the registry, recognised.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RegistryKey {
    /// `job/<unit>/object`.
    JobObject {
        /// The unit.
        unit: String,
    },
    /// `job/<unit>/target-state`.
    TargetState {
        /// The unit.
        unit: String,
    },
    /// `job/<unit>/target`.
    Target {
        /// The unit.
        unit: String,
    },
    /// `job/<unit>/pending`.
    Pending {
        /// The unit.
        unit: String,
    },
    /// `job/<template>/replicas` (Keel's): how many instances of the template to keep.
    Replicas {
        /// The template.
        unit: String,
    },
    /// `job/<unit>/rollout` (Keel's): a rolling replacement of the unit (`fleetctl replace`).
    Rollout {
        /// The unit, template or global unit.
        unit: String,
    },
    /// `job/<unit>/completion` (Keel's): how a batch job's last run ended.
    Completion {
        /// The unit.
        unit: String,
    },
    /// `unit/<hash>`.
    UnitFile {
        /// The hash, as written in the key (40 hex characters when well-formed).
        hash: String,
    },
    /// `schedule/<machine>/<unit>`.
    Schedule {
        /// The machine.
        machine: String,
        /// The unit.
        unit: String,
    },
    /// `states/<unit>/<machine>`.
    State {
        /// The unit.
        unit: String,
        /// The reporting machine.
        machine: String,
    },
    /// `machines/<id>/object`.
    MachineObject {
        /// The machine.
        machine: String,
    },
    /// `machines/<id>/metadata/<key>`.
    MachineMetadata {
        /// The machine.
        machine: String,
        /// The metadata key.
        key: String,
    },
    /// `machines/<id>/cordon` (Keel's): the machine is drained.
    MachineCordon {
        /// The machine.
        machine: String,
    },
    /// `lease/engine-leader`.
    EngineLease,
    /// `engine/version`.
    EngineVersion,
}

impl Keys {
    /// Keys under `prefix`; a missing leading or trailing `/` is added, as fleet does.
    #[must_use]
    pub fn new(prefix: &str) -> Keys {
        let trimmed = prefix.trim_matches('/');
        let prefix = if trimmed.is_empty() {
            "/".to_owned()
        } else {
            format!("/{trimmed}/")
        };
        Keys { prefix }
    }

    /// The prefix, with both slashes.
    #[must_use]
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// `job/`: every unit's record.
    #[must_use]
    pub fn jobs(&self) -> String {
        format!("{}job", self.prefix)
    }

    /// `job/<unit>`: the directory deleted with a unit.
    #[must_use]
    pub fn job(&self, unit: &str) -> String {
        format!("{}job/{unit}", self.prefix)
    }

    /// `job/<unit>/object`.
    #[must_use]
    pub fn job_object(&self, unit: &str) -> String {
        format!("{}job/{unit}/object", self.prefix)
    }

    /// `job/<unit>/target-state`.
    #[must_use]
    pub fn target_state(&self, unit: &str) -> String {
        format!("{}job/{unit}/target-state", self.prefix)
    }

    /// `job/<unit>/target`.
    #[must_use]
    pub fn target(&self, unit: &str) -> String {
        format!("{}job/{unit}/target", self.prefix)
    }

    /// `job/<unit>/pending`.
    #[must_use]
    pub fn pending(&self, unit: &str) -> String {
        format!("{}job/{unit}/pending", self.prefix)
    }

    /// `job/<template>/replicas`.
    #[must_use]
    pub fn replicas(&self, unit: &str) -> String {
        format!("{}job/{unit}/replicas", self.prefix)
    }

    /// `job/<unit>/rollout`.
    #[must_use]
    pub fn rollout(&self, unit: &str) -> String {
        format!("{}job/{unit}/rollout", self.prefix)
    }

    /// `job/<unit>/completion`.
    #[must_use]
    pub fn completion(&self, unit: &str) -> String {
        format!("{}job/{unit}/completion", self.prefix)
    }

    /// `unit/`: every stored unit file.
    #[must_use]
    pub fn unit_files(&self) -> String {
        format!("{}unit", self.prefix)
    }

    /// `unit/<hash>`.
    #[must_use]
    pub fn unit_file(&self, hash: &UnitHash) -> String {
        format!("{}unit/{}", self.prefix, hash.to_hex())
    }

    /// `schedule/`: every machine's index.
    #[must_use]
    pub fn schedules(&self) -> String {
        format!("{}schedule", self.prefix)
    }

    /// `schedule/<machine>`: one machine's index, what its agent watches.
    #[must_use]
    pub fn schedule(&self, machine: &MachineId) -> String {
        format!("{}schedule/{machine}", self.prefix)
    }

    /// `schedule/<machine>/<unit>`.
    #[must_use]
    pub fn schedule_entry(&self, machine: &MachineId, unit: &str) -> String {
        format!("{}schedule/{machine}/{unit}", self.prefix)
    }

    /// `states/`: every state report.
    #[must_use]
    pub fn states(&self) -> String {
        format!("{}states", self.prefix)
    }

    /// `states/<unit>`: every machine's report of one unit.
    #[must_use]
    pub fn unit_states(&self, unit: &str) -> String {
        format!("{}states/{unit}", self.prefix)
    }

    /// `states/<unit>/<machine>`.
    #[must_use]
    pub fn state(&self, unit: &str, machine: &MachineId) -> String {
        format!("{}states/{unit}/{machine}", self.prefix)
    }

    /// `machines/`.
    #[must_use]
    pub fn machines(&self) -> String {
        format!("{}machines", self.prefix)
    }

    /// `machines/<id>/object`: the presence key.
    #[must_use]
    pub fn machine_object(&self, machine: &MachineId) -> String {
        format!("{}machines/{machine}/object", self.prefix)
    }

    /// `machines/<id>/metadata/<key>`.
    #[must_use]
    pub fn machine_metadata(&self, machine: &str, key: &str) -> String {
        format!("{}machines/{machine}/metadata/{key}", self.prefix)
    }

    /// `machines/<id>/cordon`.
    #[must_use]
    pub fn machine_cordon(&self, machine: &MachineId) -> String {
        format!("{}machines/{machine}/cordon", self.prefix)
    }

    /// `lease/engine-leader`.
    #[must_use]
    pub fn engine_lease(&self) -> String {
        format!("{}lease/engine-leader", self.prefix)
    }

    /// `engine/version`.
    #[must_use]
    pub fn engine_version(&self) -> String {
        format!("{}engine/version", self.prefix)
    }

    /// Recognises a key of this registry; `None` for anything else (another prefix, an
    /// unknown kind, a directory, extra segments).
    #[must_use]
    pub fn classify(&self, key: &str) -> Option<RegistryKey> {
        let rest = key.strip_prefix(&self.prefix)?;
        let parts: Vec<&str> = rest.split('/').collect();
        if parts.iter().any(|part| part.is_empty()) {
            return None;
        }
        let owned = |text: &str| text.to_owned();
        let recognised = match parts.as_slice() {
            ["job", unit, "object"] => RegistryKey::JobObject { unit: owned(unit) },
            ["job", unit, "target-state"] => RegistryKey::TargetState { unit: owned(unit) },
            ["job", unit, "target"] => RegistryKey::Target { unit: owned(unit) },
            ["job", unit, "pending"] => RegistryKey::Pending { unit: owned(unit) },
            ["job", unit, "replicas"] => RegistryKey::Replicas { unit: owned(unit) },
            ["job", unit, "rollout"] => RegistryKey::Rollout { unit: owned(unit) },
            ["job", unit, "completion"] => RegistryKey::Completion { unit: owned(unit) },
            ["unit", hash] => RegistryKey::UnitFile { hash: owned(hash) },
            ["schedule", machine, unit] => RegistryKey::Schedule {
                machine: owned(machine),
                unit: owned(unit),
            },
            ["states", unit, machine] => RegistryKey::State {
                unit: owned(unit),
                machine: owned(machine),
            },
            ["machines", machine, "object"] => RegistryKey::MachineObject {
                machine: owned(machine),
            },
            ["machines", machine, "metadata", key] => RegistryKey::MachineMetadata {
                machine: owned(machine),
                key: owned(key),
            },
            ["machines", machine, "cordon"] => RegistryKey::MachineCordon {
                machine: owned(machine),
            },
            ["lease", "engine-leader"] => RegistryKey::EngineLease,
            ["engine", "version"] => RegistryKey::EngineVersion,
            _ => return None,
        };
        Some(recognised)
    }
}

impl Default for Keys {
    /// Keys under fleet's default prefix.
    fn default() -> Keys {
        Keys::new(DEFAULT_PREFIX)
    }
}

#[cfg(test)]
#[path = "keys_tests.rs"]
mod tests;
