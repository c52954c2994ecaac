//! State reports: each agent writes its own, the API and the engine read them all.
//!
//! An agent's writes are conditional on what it last learnt of the key ([`Held`]): a report
//! is created only where none is, replaced only at the index it was last seen at, removed
//! only at that index. A write whose answer never came may still be applied later, when a
//! paused or cut-off member gets to it; by then the key has moved on, so the late copy is
//! refused instead of overwriting a newer report with an older one.

use super::{ignore_missing, Registry, RegistryError, Written};
use crate::view::{self, Decoded};
use crate::wire::StateReport;
use fleet_core::model::MachineId;
use kv_client::{DeleteOptions, GetOptions, Node, PrevConditions, SetOptions, StoreIndex};
use std::collections::BTreeMap;

/// What a writer last learnt a report key holds, and so the condition of its next write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Held {
    /// No report.
    Absent,
    /// A report last modified at this index.
    At(StoreIndex),
}

/// One report as read, with the index it was last modified at. `report` is `None` when the
/// value cannot be read (it is then replaced like any other).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportAt {
    /// Its `modifiedIndex`.
    pub index: StoreIndex,
    /// The report.
    pub report: Option<StateReport>,
}

/// Every file under `node`, as `(key, value, modifiedIndex)`.
fn indexed_files(node: &Node, out: &mut Vec<(String, String, StoreIndex)>) {
    if let Some(value) = &node.value {
        out.push((node.key.clone(), value.clone(), node.modified_index));
    }
    for child in &node.nodes {
        indexed_files(child, out);
    }
}

const QUORUM: GetOptions = GetOptions {
    recursive: false,
    sorted: false,
    quorum: true,
};

impl Registry {
    /// Every state report, by (unit, machine).
    ///
    /// # Errors
    /// The store.
    pub async fn states(
        &self,
    ) -> Result<Decoded<BTreeMap<(String, String), StateReport>>, RegistryError> {
        self.states_in(&self.keys.states()).await
    }

    /// The state reports under `dir` (all of them, or one unit's), by (unit, machine).
    pub(super) async fn states_in(
        &self,
        dir: &str,
    ) -> Result<Decoded<BTreeMap<(String, String), StateReport>>, RegistryError> {
        let pairs = self.list(dir).await?;
        Ok(view::states(
            &self.keys,
            pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())),
        ))
    }

    /// Every state report with the index it was last modified at, by (unit, machine), for
    /// removals conditional on that index. Reports that cannot be read are listed too, as
    /// `report: None`, so they can be removed like any other.
    ///
    /// # Errors
    /// The store.
    pub async fn indexed_states(
        &self,
    ) -> Result<BTreeMap<(String, String), ReportAt>, RegistryError> {
        let options = GetOptions {
            recursive: true,
            sorted: true,
            quorum: true,
        };
        let mut files = Vec::new();
        match self.client.get(&self.keys.states(), options).await {
            Ok(response) => indexed_files(&response.node, &mut files),
            Err(error) if error.is_key_not_found() => {}
            Err(error) => return Err(error.into()),
        }
        let mut out = BTreeMap::new();
        for (key, value, index) in files {
            if let Some(crate::RegistryKey::State { unit, machine }) = self.keys.classify(&key) {
                let report = StateReport::decode(&value).ok();
                out.insert((unit, machine), ReportAt { index, report });
            }
        }
        Ok(out)
    }

    /// `machine`'s report of `unit` as Keel holds it now (a quorum read), or `None`.
    ///
    /// # Errors
    /// The store.
    pub async fn state(
        &self,
        unit: &str,
        machine: &MachineId,
    ) -> Result<Option<ReportAt>, RegistryError> {
        match self
            .client
            .get(&self.keys.state(unit, machine), QUORUM)
            .await
        {
            Ok(response) => Ok(Some(ReportAt {
                index: response.node.modified_index,
                report: response
                    .node
                    .value
                    .as_deref()
                    .and_then(|text| StateReport::decode(text).ok()),
            })),
            Err(error) if error.is_key_not_found() => Ok(None),
            Err(error) => Err(error.into()),
        }
    }

    /// Writes this machine's state of `unit` where the key is as `held` says: created when
    /// `Absent`, replaced at the index of `At`. The new index, or `None` when the key is not
    /// as `held` says (the caller reads it again).
    ///
    /// # Errors
    /// The store.
    pub async fn publish_state(
        &self,
        unit: &str,
        report: &StateReport,
        held: Held,
    ) -> Result<Option<StoreIndex>, RegistryError> {
        let key = self.keys.state(unit, &report.machine);
        let value = report.encode();
        let result = match held {
            Held::Absent => {
                self.client
                    .create(&key, &value, SetOptions::default())
                    .await
            }
            Held::At(index) => {
                let prev = PrevConditions::index(index);
                let options = SetOptions::default();
                self.client
                    .compare_and_swap(&key, &value, &prev, options)
                    .await
            }
        };
        match result {
            Ok(response) => Ok(Some(response.node.modified_index)),
            Err(error)
                if error.is_key_exists()
                    || error.is_compare_failed()
                    || error.is_key_not_found() =>
            {
                Ok(None)
            }
            Err(error) => Err(error.into()),
        }
    }

    /// Removes `machine`'s report of `unit` if it is still the one last modified at `index`.
    /// `Done` also when there is no report any more; `Lost` when a newer one is there.
    ///
    /// # Errors
    /// The store.
    pub async fn remove_state_at(
        &self,
        unit: &str,
        machine: &MachineId,
        index: StoreIndex,
    ) -> Result<Written, RegistryError> {
        let key = self.keys.state(unit, machine);
        let prev = PrevConditions::index(index);
        match self.client.compare_and_delete(&key, &prev).await {
            Ok(_) => Ok(Written::Done),
            Err(error) if error.is_key_not_found() => Ok(Written::Done),
            Err(error) if error.is_compare_failed() => Ok(Written::Lost),
            Err(error) => Err(error.into()),
        }
    }

    /// Removes `machine`'s report of `unit`, whatever it holds (absent is fine): for a machine
    /// leaving on purpose, whose agent writes nothing after.
    ///
    /// # Errors
    /// The store.
    pub async fn remove_state(&self, unit: &str, machine: &MachineId) -> Result<(), RegistryError> {
        let key = self.keys.state(unit, machine);
        ignore_missing(self.client.delete(&key, DeleteOptions::default()).await)?;
        Ok(())
    }
}
