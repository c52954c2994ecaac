//! The registry's rollout operations (`fleetctl replace`): the API stores a record, the
//! engine moves targets to the new file and advances the record by compare-and-swap, so a
//! record replaced by a newer `replace` is never overwritten by an engine that read the old.

use super::{lost_on, Registry, RegistryError, Written};
use crate::view::Decoded;
use crate::wire::{JobObject, RolloutRecord, StateReport};
use fleet_core::unit_file::UnitHash;
use kv_client::{ClientError, PrevConditions, SetOptions};
use std::collections::BTreeMap;

impl Registry {
    /// Stores `record` as `unit`'s rollout, replacing any earlier one.
    ///
    /// # Errors
    /// The store.
    pub async fn put_rollout(
        &self,
        unit: &str,
        record: &RolloutRecord,
    ) -> Result<(), RegistryError> {
        self.client
            .set(
                &self.keys.rollout(unit),
                &record.encode(),
                SetOptions::default(),
            )
            .await?;
        Ok(())
    }

    /// Replaces `unit`'s rollout with `record` only if it is still `previous` (its encoded
    /// text as read). `Lost` when it changed or is gone.
    ///
    /// # Errors
    /// The store.
    pub async fn swap_rollout(
        &self,
        unit: &str,
        previous: &str,
        record: &RolloutRecord,
    ) -> Result<Written, RegistryError> {
        let result = self
            .client
            .compare_and_swap(
                &self.keys.rollout(unit),
                &record.encode(),
                &PrevConditions::value(previous),
                SetOptions::default(),
            )
            .await;
        Ok(lost_on(result, |error| {
            error.is_compare_failed() || error.is_key_not_found()
        })?)
    }

    /// Points the existing unit `name` at the stored file `hash`, keeping its desired state
    /// and placement. `Lost` when the unit is gone (it is never created again here).
    ///
    /// # Errors
    /// The store.
    pub async fn set_unit_hash(
        &self,
        name: &str,
        hash: UnitHash,
    ) -> Result<Written, RegistryError> {
        let object = JobObject {
            name: name.to_owned(),
            hash,
        };
        let result = self
            .client
            .update(
                &self.keys.job_object(name),
                &object.encode(),
                SetOptions::default(),
            )
            .await;
        Ok(lost_on(result, ClientError::is_key_not_found)?)
    }

    /// The state reports of one unit, by (unit, machine).
    ///
    /// # Errors
    /// The store.
    pub async fn unit_states(
        &self,
        unit: &str,
    ) -> Result<Decoded<BTreeMap<(String, String), StateReport>>, RegistryError> {
        self.states_in(&self.keys.unit_states(unit)).await
    }
}
