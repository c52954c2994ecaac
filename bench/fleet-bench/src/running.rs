//! Which units run where, as the benchmark waits for it: a reflector over the state reports
//! (one list, then a watch), kept as a map from report key to the unit and machine of each
//! `active` report and updated from the keys each publish changed. Waiting for "all running"
//! or "moved" then reads nothing from Keel beyond the watch and decodes each report once,
//! where a poll would list and decode every report ten times a second.
//!
//! Owns [`Running`]. Depends on `kv-client`'s reflector and `fleet-registry`'s keys and
//! report decoding.

use anyhow::{bail, Context, Result};
use fleet_core::model::MachineId;
use fleet_registry::{view, Registry};
use kv_client::{Cache, Changes, ReflectorOptions};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// The `active` state reports, followed by watch.
pub struct Running {
    registry: Registry,
    caches: watch::Receiver<Arc<Cache>>,
    seen: Option<u64>,
    /// Report key → (unit, machine), for the reports whose state is `active`.
    active: BTreeMap<String, (String, MachineId)>,
}

impl Running {
    /// Starts following `registry`'s state reports until `shutdown`.
    ///
    /// # Errors
    /// The reflector's options.
    pub fn follow(
        registry: Registry,
        tasks: &TaskTracker,
        shutdown: CancellationToken,
    ) -> Result<Running> {
        let prefix = registry.keys().states();
        let reflector = registry
            .client()
            .reflect(&prefix, ReflectorOptions::default(), tasks, shutdown)
            .context("follow the state reports")?;
        Ok(Running {
            registry,
            caches: reflector.subscribe(),
            seen: None,
            active: BTreeMap::new(),
        })
    }

    /// Units reported active, by unit, with the machine reporting them.
    pub fn units(&self) -> BTreeMap<String, MachineId> {
        self.active.values().cloned().collect()
    }

    /// Waits until the reports are followed (listed, then watched) and `done` holds of the
    /// units reported active, within `deadline`; how long it took.
    pub async fn until(
        &mut self,
        what: &str,
        deadline: Duration,
        mut done: impl FnMut(&BTreeMap<String, MachineId>) -> bool,
    ) -> Result<Duration> {
        let started = Instant::now();
        loop {
            if self.catch_up() && done(&self.units()) {
                return Ok(started.elapsed());
            }
            let left = deadline.saturating_sub(started.elapsed());
            match tokio::time::timeout(left, self.caches.changed()).await {
                Ok(Ok(())) => {}
                Ok(Err(_)) => bail!("{what}: the state reports are no longer followed"),
                Err(_) => bail!("{what}: not within {deadline:?}"),
            }
        }
    }

    /// Applies what changed since the last look at the cache; whether the cache is synced.
    fn catch_up(&mut self) -> bool {
        let cache = Arc::clone(&self.caches.borrow_and_update());
        if !cache.is_synced() {
            return false;
        }
        let changes = match self.seen {
            Some(seen) => cache.changes_since(seen).clone(),
            None => Changes::All,
        };
        self.seen = Some(cache.generation());
        match changes.keys() {
            None => {
                self.active.clear();
                for (key, entry) in cache.entries() {
                    self.note(key, Some(&entry.value));
                }
            }
            Some(keys) => {
                for key in keys {
                    self.note(key, cache.get(key).map(|entry| entry.value.as_str()));
                }
            }
        }
        true
    }

    /// Records the report at `key` (`None`: removed).
    fn note(&mut self, key: &str, value: Option<&str>) {
        let decoded = value.map(|value| view::states(self.registry.keys(), [(key, value)]));
        let active = decoded
            .and_then(|decoded| decoded.items.into_iter().next())
            .filter(|(_, report)| report.active_state == "active");
        match active {
            Some(((unit, _), report)) => {
                self.active.insert(key.to_owned(), (unit, report.machine));
            }
            None => {
                self.active.remove(key);
            }
        }
    }
}
