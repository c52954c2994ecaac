//! The registry's batch-job operations: the agent that ran a batch job records how its run
//! ended; setting a unit `inactive` forgets it, so a job loaded and started again runs again.

use super::{ignore_missing, Registry, RegistryError};
use crate::wire::CompletionRecord;
use kv_client::{DeleteOptions, SetOptions};

impl Registry {
    /// Records how `unit`'s run ended (`job/<unit>/completion`), replacing an earlier record.
    ///
    /// # Errors
    /// The store.
    pub async fn put_completion(
        &self,
        unit: &str,
        record: &CompletionRecord,
    ) -> Result<(), RegistryError> {
        self.client
            .set(
                &self.keys.completion(unit),
                &record.encode(),
                SetOptions::default(),
            )
            .await?;
        Ok(())
    }

    /// Forgets how `unit`'s last run ended (absent is fine).
    ///
    /// # Errors
    /// The store.
    pub async fn delete_completion(&self, unit: &str) -> Result<(), RegistryError> {
        let key = self.keys.completion(unit);
        ignore_missing(self.client.delete(&key, DeleteOptions::default()).await)?;
        Ok(())
    }
}
