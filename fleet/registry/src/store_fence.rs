//! The fencing read of an agent that starts a unit which stops when cut off: is its index
//! entry, as its cache holds it, still the current one?

use super::{Registry, RegistryError};
use fleet_core::model::MachineId;
use kv_client::{GetOptions, StoreIndex};

impl Registry {
    /// The `modifiedIndex` of `machine`'s index entry of `unit`, by a quorum (linearizable)
    /// read; `None` when there is no such entry.
    ///
    /// # Errors
    /// The store.
    pub async fn schedule_entry_index(
        &self,
        machine: &MachineId,
        unit: &str,
    ) -> Result<Option<StoreIndex>, RegistryError> {
        let options = GetOptions {
            quorum: true,
            ..GetOptions::default()
        };
        let key = self.keys.schedule_entry(machine, unit);
        match self.client.get(&key, options).await {
            Ok(response) => Ok(Some(response.node.modified_index)),
            Err(error) if error.is_key_not_found() => Ok(None),
            Err(error) => Err(error.into()),
        }
    }
}
