//! The registry's reads and writes over `kv-client`: every operation the engine, the agents
//! and the API make, each as one or two etcd v2 requests with the conditions that make it
//! safe to race (`docs/fleet.md`, "Registry layout").
//!
//! - Unit files are content-addressed and created only (`prevExist=false`); a unit record is
//!   created only when absent, replaced only on purpose.
//! - A placement is created only where none exists and removed only with `prevValue` of the
//!   machine it names, so two engines can never move a unit behind each other's back.
//! - The engine lease and version change only by compare-and-swap on their index.
//! - Presence is a TTL'd key kept with `refresh` (no watch event per heartbeat).
//! - A state report is created, replaced and removed only as its writer last saw it
//!   (`store_state.rs`), so a late copy of an earlier write cannot undo a newer one.
//!
//! Domain outcomes (a lost race, an absent key) are return values; [`RegistryError`] is for
//! the store being unreachable and for values that cannot be read.

use crate::keys::Keys;
use crate::view::{self, Decoded, ProblemKind};
use crate::wire::{
    EngineLease, JobObject, MachineObject, PendingReason, ScheduleEntry, UnitFileBlob,
};
use fleet_core::lease::{LeaseRevision, LeaseView};
use fleet_core::model::{DesiredState, MachineId};
use fleet_core::unit_file::{UnitFile, UnitHash};
use kv_client::{
    Client, ClientError, DeleteOptions, GetOptions, Node, PrevConditions, SetOptions, StoreIndex,
};
use std::collections::BTreeMap;
use std::time::Duration;

/// Why a registry operation failed.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    /// The store did not answer, or refused in a way the registry does not expect.
    #[error("registry store: {0}")]
    Store(#[from] ClientError),
    /// A value that the operation needs cannot be read.
    #[error("registry value {key}: {problem}")]
    Corrupt {
        /// The key.
        key: String,
        /// What is wrong.
        problem: ProblemKind,
    },
}

impl RegistryError {
    /// True when the store could not be reached (or did not answer in time): the caller may
    /// retry, and the API answers 503.
    #[must_use]
    pub fn is_unavailable(&self) -> bool {
        match self {
            RegistryError::Store(error) => error.is_retriable() || error.is_indeterminate(),
            RegistryError::Corrupt { .. } => false,
        }
    }
}

/// The outcome of a conditional write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Written {
    /// The write was applied.
    Done,
    /// Its condition failed: another writer got there first, or the key is not as expected.
    Lost,
}

/// fleet's registry in one Keel cluster, under one prefix.
#[derive(Debug, Clone)]
pub struct Registry {
    client: Client,
    keys: Keys,
}

/// Every file under `node`, as `(key, value)`.
fn files(node: &Node, out: &mut Vec<(String, String)>) {
    if let Some(value) = &node.value {
        out.push((node.key.clone(), value.clone()));
    }
    for child in &node.nodes {
        files(child, out);
    }
}

fn ignore_missing(result: Result<kv_client::Response, ClientError>) -> Result<bool, ClientError> {
    match result {
        Ok(_) => Ok(true),
        Err(error) if error.is_key_not_found() => Ok(false),
        Err(error) => Err(error),
    }
}

fn lost_on(
    result: Result<kv_client::Response, ClientError>,
    lost: impl Fn(&ClientError) -> bool,
) -> Result<Written, ClientError> {
    match result {
        Ok(_) => Ok(Written::Done),
        Err(error) if lost(&error) => Ok(Written::Lost),
        Err(error) => Err(error),
    }
}

impl Registry {
    /// The registry under `keys` in the cluster `client` talks to.
    #[must_use]
    pub fn new(client: Client, keys: Keys) -> Registry {
        Registry { client, keys }
    }

    /// The client, for reflectors over the registry's prefixes.
    #[must_use]
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// The key schema.
    #[must_use]
    pub fn keys(&self) -> &Keys {
        &self.keys
    }

    /// Every file under `dir` (recursive, linearizable); an absent directory is empty.
    ///
    /// # Errors
    /// The store.
    pub async fn list(&self, dir: &str) -> Result<Vec<(String, String)>, RegistryError> {
        let options = GetOptions {
            recursive: true,
            sorted: true,
            quorum: true,
        };
        let mut out = Vec::new();
        match self.client.get(dir, options).await {
            Ok(response) => files(&response.node, &mut out),
            Err(error) if error.is_key_not_found() => {}
            Err(error) => return Err(error.into()),
        }
        Ok(out)
    }

    // ----- units (API) -----

    /// Every unit record, by name.
    ///
    /// # Errors
    /// The store.
    pub async fn units(&self) -> Result<Decoded<BTreeMap<String, view::JobView>>, RegistryError> {
        let pairs = self.list(&self.keys.jobs()).await?;
        Ok(view::jobs(
            &self.keys,
            pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())),
        ))
    }

    /// One unit's record, or `None`.
    ///
    /// # Errors
    /// The store; a record whose object cannot be read.
    pub async fn unit(&self, name: &str) -> Result<Option<view::JobView>, RegistryError> {
        let pairs = self.list(&self.keys.job(name)).await?;
        let decoded = view::jobs(
            &self.keys,
            pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())),
        );
        if let Some(problem) = decoded.problems.into_iter().next() {
            return Err(RegistryError::Corrupt {
                key: problem.key,
                problem: problem.error,
            });
        }
        Ok(decoded.items.into_values().find(|job| job.name == name))
    }

    /// Every stored unit file, by hash.
    ///
    /// # Errors
    /// The store.
    pub async fn unit_files(&self) -> Result<Decoded<BTreeMap<UnitHash, UnitFile>>, RegistryError> {
        let pairs = self.list(&self.keys.unit_files()).await?;
        Ok(view::unit_files(
            &self.keys,
            pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())),
        ))
    }

    /// The unit file with `hash`, or `None` when it is not stored.
    ///
    /// # Errors
    /// The store; a stored file that cannot be read.
    pub async fn unit_file(&self, hash: &UnitHash) -> Result<Option<UnitFile>, RegistryError> {
        let key = self.keys.unit_file(hash);
        let response = match self.client.get(&key, GetOptions::default()).await {
            Ok(response) => response,
            Err(error) if error.is_key_not_found() => return Ok(None),
            Err(error) => return Err(error.into()),
        };
        let value = response.node.value.unwrap_or_default();
        view::unit_file(&hash.to_hex(), &value)
            .map(|(_, file)| Some(file))
            .map_err(|problem| RegistryError::Corrupt { key, problem })
    }

    /// Stores `file` under its hash (create-only: an existing blob is the same text). A
    /// plain read first: instances of one template share their file, and a read served by
    /// one member costs far less than a create that every member applies only to refuse.
    ///
    /// # Errors
    /// The store.
    pub async fn put_unit_file(&self, file: &UnitFile) -> Result<UnitHash, RegistryError> {
        let hash = file.hash();
        let key = self.keys.unit_file(&hash);
        match self.client.get(&key, GetOptions::default()).await {
            Ok(response) if response.node.value.is_some() => return Ok(hash),
            Ok(_) => {}
            Err(error) if error.is_key_not_found() => {}
            Err(error) => return Err(error.into()),
        }
        let blob = UnitFileBlob {
            raw: file.canonical_text(),
        };
        let result = self
            .client
            .create(&key, &blob.encode(), SetOptions::default())
            .await;
        lost_on(result, ClientError::is_key_exists)?;
        Ok(hash)
    }

    /// Creates the unit `name` with `file` and `desired`: its file, then its record (only if
    /// no record exists), then its desired state. `Lost` when the unit exists.
    ///
    /// # Errors
    /// The store.
    pub async fn create_unit(
        &self,
        name: &str,
        file: &UnitFile,
        desired: DesiredState,
    ) -> Result<Written, RegistryError> {
        let hash = self.put_unit_file(file).await?;
        let object = JobObject {
            name: name.to_owned(),
            hash,
        };
        let result = self
            .client
            .create(
                &self.keys.job_object(name),
                &object.encode(),
                SetOptions::default(),
            )
            .await;
        if lost_on(result, ClientError::is_key_exists)? == Written::Lost {
            return Ok(Written::Lost);
        }
        self.set_desired_state(name, desired).await?;
        Ok(Written::Done)
    }

    /// Replaces the unit `name`'s file and desired state (fleet's PUT of different options).
    ///
    /// # Errors
    /// The store.
    pub async fn replace_unit(
        &self,
        name: &str,
        file: &UnitFile,
        desired: DesiredState,
    ) -> Result<(), RegistryError> {
        let hash = self.put_unit_file(file).await?;
        let object = JobObject {
            name: name.to_owned(),
            hash,
        };
        self.client
            .set(
                &self.keys.job_object(name),
                &object.encode(),
                SetOptions::default(),
            )
            .await?;
        self.set_desired_state(name, desired).await
    }

    /// Sets a unit's desired state; `inactive` also forgets a batch job's completion
    /// (`job/<unit>/completion`), so a job loaded and started again runs again.
    ///
    /// # Errors
    /// The store.
    pub async fn set_desired_state(
        &self,
        name: &str,
        desired: DesiredState,
    ) -> Result<(), RegistryError> {
        self.client
            .set(
                &self.keys.target_state(name),
                desired.as_str(),
                SetOptions::default(),
            )
            .await?;
        if desired == DesiredState::Inactive {
            self.delete_completion(name).await?;
        }
        Ok(())
    }

    /// Removes the unit's record with its placement and pending reason. False when there was
    /// none. The agents remove their state reports when they unload it.
    ///
    /// # Errors
    /// The store.
    pub async fn destroy_unit(&self, name: &str) -> Result<bool, RegistryError> {
        let options = DeleteOptions {
            dir: true,
            recursive: true,
        };
        Ok(ignore_missing(
            self.client.delete(&self.keys.job(name), options).await,
        )?)
    }

    // ----- machines -----

    /// Present machines with their metadata (static, overridden by dynamic keys).
    ///
    /// # Errors
    /// The store.
    pub async fn machines(
        &self,
    ) -> Result<Decoded<BTreeMap<MachineId, MachineObject>>, RegistryError> {
        let pairs = self.list(&self.keys.machines()).await?;
        Ok(view::machines(
            &self.keys,
            pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())),
        ))
    }

    /// Writes a machine's presence with `ttl` (a fresh key: watchers see the machine join).
    ///
    /// # Errors
    /// The store.
    pub async fn announce(
        &self,
        machine: &MachineObject,
        ttl: Duration,
    ) -> Result<(), RegistryError> {
        self.client
            .set(
                &self.keys.machine_object(&machine.id),
                &machine.encode(),
                SetOptions { ttl: Some(ttl) },
            )
            .await?;
        Ok(())
    }

    /// Extends a machine's presence by `ttl` without waking watchers. `Lost` when the key
    /// has expired (the caller announces again).
    ///
    /// # Errors
    /// The store.
    pub async fn refresh_presence(
        &self,
        machine: &MachineId,
        ttl: Duration,
    ) -> Result<Written, RegistryError> {
        let result = self
            .client
            .refresh_ttl(
                &self.keys.machine_object(machine),
                ttl,
                &PrevConditions::default(),
            )
            .await;
        Ok(lost_on(result, ClientError::is_key_not_found)?)
    }

    /// Removes a machine's presence (a drained host leaving on purpose).
    ///
    /// # Errors
    /// The store.
    pub async fn withdraw(&self, machine: &MachineId) -> Result<(), RegistryError> {
        let key = self.keys.machine_object(machine);
        ignore_missing(self.client.delete(&key, DeleteOptions::default()).await)?;
        Ok(())
    }

    /// Drains (`cordoned`) or undrains a machine: creates or removes `machines/<id>/cordon`
    /// (absent when undraining is fine).
    ///
    /// # Errors
    /// The store.
    pub async fn set_cordon(
        &self,
        machine: &MachineId,
        cordoned: bool,
    ) -> Result<(), RegistryError> {
        let key = self.keys.machine_cordon(machine);
        if cordoned {
            self.client.set(&key, "1", SetOptions::default()).await?;
        } else {
            ignore_missing(self.client.delete(&key, DeleteOptions::default()).await)?;
        }
        Ok(())
    }

    /// Sets a dynamic metadata key (`""` hides a static key of that name, as fleet's remove).
    ///
    /// # Errors
    /// The store.
    pub async fn set_machine_metadata(
        &self,
        machine: &str,
        key: &str,
        value: &str,
    ) -> Result<(), RegistryError> {
        self.client
            .set(
                &self.keys.machine_metadata(machine, key),
                value,
                SetOptions::default(),
            )
            .await?;
        Ok(())
    }
}

// The engine's writes: lease, placements, pending reasons and the per-machine index.
impl Registry {
    /// The cluster's engine version and the key's index, or `None`.
    ///
    /// # Errors
    /// The store; a version that is not a number.
    pub async fn engine_version(&self) -> Result<Option<(u32, StoreIndex)>, RegistryError> {
        let key = self.keys.engine_version();
        let response = match self.client.get(&key, GetOptions::default()).await {
            Ok(response) => response,
            Err(error) if error.is_key_not_found() => return Ok(None),
            Err(error) => return Err(error.into()),
        };
        let text = response.node.value.unwrap_or_default();
        let version = text.trim().parse().map_err(|_| RegistryError::Corrupt {
            key,
            problem: ProblemKind::EngineVersion(text.clone()),
        })?;
        Ok(Some((version, response.node.modified_index)))
    }

    /// Raises the engine version to `to`: created when `from` is `None`, else by CAS on the
    /// index read.
    ///
    /// # Errors
    /// The store.
    pub async fn raise_engine_version(
        &self,
        from: Option<StoreIndex>,
        to: u32,
    ) -> Result<Written, RegistryError> {
        let key = self.keys.engine_version();
        let value = to.to_string();
        let result = match from {
            None => {
                self.client
                    .create(&key, &value, SetOptions::default())
                    .await
            }
            Some(index) => {
                self.client
                    .compare_and_swap(
                        &key,
                        &value,
                        &PrevConditions::index(index),
                        SetOptions::default(),
                    )
                    .await
            }
        };
        Ok(lost_on(result, |error| {
            error.is_key_exists() || error.is_compare_failed() || error.is_key_not_found()
        })?)
    }

    /// The engine lease as read now, or `None`.
    ///
    /// # Errors
    /// The store; a lease that cannot be read.
    pub async fn lease(&self) -> Result<Option<LeaseView>, RegistryError> {
        let key = self.keys.engine_lease();
        let response = match self
            .client
            .get(
                &key,
                GetOptions {
                    quorum: true,
                    ..GetOptions::default()
                },
            )
            .await
        {
            Ok(response) => response,
            Err(error) if error.is_key_not_found() => return Ok(None),
            Err(error) => return Err(error.into()),
        };
        let node = response.node;
        let lease =
            EngineLease::decode(node.value.as_deref().unwrap_or_default()).map_err(|error| {
                RegistryError::Corrupt {
                    key,
                    problem: error.into(),
                }
            })?;
        let remaining = u64::try_from(node.ttl.unwrap_or(0)).unwrap_or(0);
        Ok(Some(LeaseView {
            holder: lease.machine,
            version: lease.version,
            revision: LeaseRevision(node.modified_index.0),
            remaining: Duration::from_secs(remaining),
        }))
    }

    /// Takes the lease if nobody holds it.
    ///
    /// # Errors
    /// The store.
    pub async fn acquire_lease(
        &self,
        own: &EngineLease,
        ttl: Duration,
    ) -> Result<Written, RegistryError> {
        let result = self
            .client
            .create(
                &self.keys.engine_lease(),
                &own.encode(),
                SetOptions { ttl: Some(ttl) },
            )
            .await;
        Ok(lost_on(result, ClientError::is_key_exists)?)
    }

    /// Writes the lease for `own` with `ttl`, only if it is still at `revision` (renewal, or
    /// taking over an older engine's lease).
    ///
    /// # Errors
    /// The store.
    pub async fn swap_lease(
        &self,
        own: &EngineLease,
        revision: LeaseRevision,
        ttl: Duration,
    ) -> Result<Written, RegistryError> {
        let prev = PrevConditions::index(StoreIndex(revision.0));
        let result = self
            .client
            .compare_and_swap(
                &self.keys.engine_lease(),
                &own.encode(),
                &prev,
                SetOptions { ttl: Some(ttl) },
            )
            .await;
        Ok(lost_on(result, |error| {
            error.is_compare_failed() || error.is_key_not_found()
        })?)
    }

    /// Places `unit` on `machine`, only if it has no placement.
    ///
    /// # Errors
    /// The store.
    pub async fn place(&self, unit: &str, machine: &MachineId) -> Result<Written, RegistryError> {
        let result = self
            .client
            .create(
                &self.keys.target(unit),
                machine.as_str(),
                SetOptions::default(),
            )
            .await;
        // 100: the unit's directory is gone (destroyed meanwhile) is not possible for a
        // create; 105: someone placed it first.
        Ok(lost_on(result, ClientError::is_key_exists)?)
    }

    /// Removes `unit`'s placement, only if it still names `machine`.
    ///
    /// # Errors
    /// The store.
    pub async fn unplace(&self, unit: &str, machine: &MachineId) -> Result<Written, RegistryError> {
        let result = self
            .client
            .compare_and_delete(
                &self.keys.target(unit),
                &PrevConditions::value(machine.as_str()),
            )
            .await;
        Ok(lost_on(result, |error| {
            error.is_compare_failed() || error.is_key_not_found()
        })?)
    }

    /// Records why `unit` cannot be placed.
    ///
    /// # Errors
    /// The store.
    pub async fn set_pending(
        &self,
        unit: &str,
        reason: &PendingReason,
    ) -> Result<(), RegistryError> {
        self.client
            .set(
                &self.keys.pending(unit),
                &reason.encode(),
                SetOptions::default(),
            )
            .await?;
        Ok(())
    }

    /// Removes `unit`'s pending reason (absent is fine).
    ///
    /// # Errors
    /// The store.
    pub async fn clear_pending(&self, unit: &str) -> Result<(), RegistryError> {
        let key = self.keys.pending(unit);
        ignore_missing(self.client.delete(&key, DeleteOptions::default()).await)?;
        Ok(())
    }

    /// Sets how many instances of the template `template` the engine keeps
    /// (`job/<template>/replicas`).
    ///
    /// # Errors
    /// The store.
    pub async fn set_replicas(&self, template: &str, count: u32) -> Result<(), RegistryError> {
        self.client
            .set(
                &self.keys.replicas(template),
                &count.to_string(),
                SetOptions::default(),
            )
            .await?;
        Ok(())
    }

    /// Writes one entry of `machine`'s index.
    ///
    /// # Errors
    /// The store.
    pub async fn put_schedule_entry(
        &self,
        machine: &MachineId,
        unit: &str,
        entry: &ScheduleEntry,
    ) -> Result<(), RegistryError> {
        self.client
            .set(
                &self.keys.schedule_entry(machine, unit),
                &entry.encode(),
                SetOptions::default(),
            )
            .await?;
        Ok(())
    }

    /// Removes one entry of `machine`'s index (absent is fine).
    ///
    /// # Errors
    /// The store.
    pub async fn delete_schedule_entry(
        &self,
        machine: &MachineId,
        unit: &str,
    ) -> Result<(), RegistryError> {
        let key = self.keys.schedule_entry(machine, unit);
        ignore_missing(self.client.delete(&key, DeleteOptions::default()).await)?;
        Ok(())
    }
}

#[path = "store_rollout.rs"]
mod rollout;

#[path = "store_batch.rs"]
mod batch;

#[path = "store_fence.rs"]
mod fence;

#[path = "store_state.rs"]
mod state;
pub use state::{Held, ReportAt};

#[path = "store_writes.rs"]
mod writes;
pub use writes::{EngineWrite, WriteOutcome};
