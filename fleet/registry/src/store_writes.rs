//! The engine's writes, sent many at a time: each [`EngineWrite`] is the request of its
//! single-write method (`place`, `unplace`, `set_pending`, …) with the same condition, and
//! [`Registry::write_all`] sends a list of them as one Keel batch (`kv_client::Batch`: one
//! raft entry, applied in order, each write with its own outcome; one request per write
//! against a store without batches). Each outcome is read as its single-write method reads
//! it: a lost condition is [`Written::Lost`], an absent key where absence is fine is done.

use super::{Registry, RegistryError, Written};
use crate::wire::{PendingReason, ScheduleEntry};
use fleet_core::model::MachineId;
use kv_client::{Batch, ClientError, DeleteOptions, PrevConditions, SetOptions, StoreIndex};

/// What one engine write did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WriteOutcome {
    /// Applied, or its condition lost.
    pub written: Written,
    /// The store index of the event it made (`None`: it made none, being lost or a removal
    /// of an absent key). A cache of the key's prefix holds it once its index reaches this.
    pub index: Option<StoreIndex>,
}

/// One registry write of the engine's pass.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EngineWrite {
    /// Remove `unit`'s placement on `machine` (only if it still names it).
    Unplace {
        /// The unit.
        unit: String,
        /// Its machine.
        machine: MachineId,
    },
    /// Place `unit` on `machine` (only if it has no placement).
    Place {
        /// The unit.
        unit: String,
        /// The machine.
        machine: MachineId,
    },
    /// Record why `unit` cannot be placed.
    SetPending {
        /// The unit.
        unit: String,
        /// Why.
        reason: PendingReason,
    },
    /// Remove `unit`'s pending reason.
    ClearPending {
        /// The unit.
        unit: String,
    },
    /// Remove an entry of a machine's index.
    DeleteEntry {
        /// The machine.
        machine: MachineId,
        /// The unit.
        unit: String,
    },
    /// Write an entry of a machine's index.
    PutEntry {
        /// The machine.
        machine: MachineId,
        /// The unit.
        unit: String,
        /// What the agent should do with it.
        entry: ScheduleEntry,
    },
}

impl Registry {
    /// Sends `writes` together, in order (at most `kv_client::BATCH_WRITES_MAX`); each one's
    /// outcome, in order.
    ///
    /// # Errors
    /// The store, for the batch (its outcome may be unknown) or for the first write that
    /// failed otherwise than its method allows.
    pub async fn write_all(
        &self,
        writes: &[EngineWrite],
    ) -> Result<Vec<WriteOutcome>, RegistryError> {
        let mut batch = Batch::new();
        for write in writes {
            self.add(&mut batch, write);
        }
        let results = self.client.batch(&batch).await?;
        writes
            .iter()
            .zip(results)
            .map(|(write, result)| Ok(outcome(write, result)?))
            .collect()
    }

    fn add(&self, batch: &mut Batch, write: &EngineWrite) {
        let keys = &self.keys;
        let none = SetOptions::default();
        match write {
            EngineWrite::Unplace { unit, machine } => {
                let prev = PrevConditions::value(machine.as_str());
                batch.compare_and_delete(&keys.target(unit), &prev)
            }
            EngineWrite::Place { unit, machine } => {
                batch.create(&keys.target(unit), machine.as_str(), none)
            }
            EngineWrite::SetPending { unit, reason } => {
                batch.set(&keys.pending(unit), &reason.encode(), none)
            }
            EngineWrite::ClearPending { unit } => {
                batch.delete(&keys.pending(unit), DeleteOptions::default())
            }
            EngineWrite::DeleteEntry { machine, unit } => batch.delete(
                &keys.schedule_entry(machine, unit),
                DeleteOptions::default(),
            ),
            EngineWrite::PutEntry {
                machine,
                unit,
                entry,
            } => batch.set(&keys.schedule_entry(machine, unit), &entry.encode(), none),
        };
    }
}

/// `write`'s outcome from its reply, as its single-write method reads it.
fn outcome(
    write: &EngineWrite,
    result: Result<kv_client::Response, ClientError>,
) -> Result<WriteOutcome, ClientError> {
    let error = match result {
        Ok(response) => {
            return Ok(WriteOutcome {
                written: Written::Done,
                index: Some(response.etcd_index),
            })
        }
        Err(error) => error,
    };
    let no_event = |written| WriteOutcome {
        written,
        index: None,
    };
    let lost = match write {
        EngineWrite::Place { .. } => error.is_key_exists(),
        EngineWrite::Unplace { .. } => error.is_compare_failed() || error.is_key_not_found(),
        EngineWrite::ClearPending { .. } | EngineWrite::DeleteEntry { .. } => {
            if error.is_key_not_found() {
                return Ok(no_event(Written::Done));
            }
            false
        }
        EngineWrite::SetPending { .. } | EngineWrite::PutEntry { .. } => false,
    };
    if lost {
        Ok(no_event(Written::Lost))
    } else {
        Err(error)
    }
}
