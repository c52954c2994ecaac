//! The agent's report I/O: writes the reports Keel may not hold as they should be, removes
//! those of units this machine no longer has, each under the condition the [`Ledger`]
//! gives, reading a key first when the ledger does not know it.
//!
//! [`Ledger`]: super::ledger::Ledger

use super::{report, Agent};
use fleet_core::ports::Systemd;
use fleet_registry::wire::StateReport;
use fleet_registry::{Held, Written};
use std::collections::BTreeSet;
use tokio::time::Instant;

impl<S: Systemd> Agent<'_, S> {
    /// The units whose reports stay: those in the index and those still in the units
    /// directory (a unit not yet unloaded may still run, and its report says so).
    fn kept(&self) -> BTreeSet<String> {
        self.wanted
            .keys()
            .chain(self.resident.iter())
            .cloned()
            .collect()
    }

    /// Writes every report that Keel may not hold as it is, then removes the reports of units
    /// not kept; stops at the first failure of the store and tries again after the next
    /// wake-up. Settles the agent when everything went through.
    pub(super) async fn publish(&mut self) {
        let wanted = report::reports(&self.settings.machine, &self.wanted, &self.states);
        for (unit, report) in self.ledger.to_write(&wanted) {
            if !self.write_report(&unit, &report).await {
                return;
            }
        }
        for unit in self.ledger.to_remove(&self.kept()) {
            if !self.remove_report(&unit).await {
                return;
            }
        }
        self.unsettled = false;
    }

    /// The condition of the next write of `unit`'s key, reading it first when the ledger
    /// does not know it; `None` when the store did not answer.
    async fn guard(&mut self, unit: &str) -> Option<Held> {
        if let Some(held) = self.ledger.guard(unit) {
            return Some(held);
        }
        match self.registry.state(unit, &self.settings.machine).await {
            Ok(found) => {
                self.ledger.read(unit, found, Instant::now());
                self.ledger.guard(unit)
            }
            Err(error) => {
                tracing::debug!(%unit, %error, "state report not read yet");
                None
            }
        }
    }

    /// Writes `report`; a lost condition is read and tried once more. False when the store
    /// did not answer.
    async fn write_report(&mut self, unit: &str, report: &StateReport) -> bool {
        for _ in 0..2 {
            let Some(held) = self.guard(unit).await else {
                return false;
            };
            let sent = Instant::now();
            match self.registry.publish_state(unit, report, held).await {
                Ok(Some(index)) => {
                    self.ledger.wrote(unit, report.clone(), index);
                    return true;
                }
                Ok(None) => self.ledger.lost(unit),
                Err(error) => {
                    tracing::debug!(%unit, %error, "state report not written yet");
                    self.ledger.unanswered(unit, held, sent);
                    return false;
                }
            }
        }
        true
    }

    /// Removes `unit`'s report at the index the ledger holds. False when the store did not
    /// answer.
    async fn remove_report(&mut self, unit: &str) -> bool {
        let Some(held) = self.guard(unit).await else {
            return false;
        };
        let Held::At(index) = held else {
            // Read as absent: nothing to remove.
            return true;
        };
        match self
            .registry
            .remove_state_at(unit, &self.settings.machine, index)
            .await
        {
            Ok(Written::Done) => self.ledger.removed(unit),
            Ok(Written::Lost) => self.ledger.lost(unit),
            Err(error) => {
                tracing::debug!(%unit, %error, "state report not removed yet");
                self.ledger.lost(unit);
                return false;
            }
        }
        true
    }

    /// Once per run: puts this machine's reports found in Keel into the ledger, so those of
    /// units it neither runs nor is asked to run are removed. A machine that crashed and
    /// came back under the same ID is present again, so the engine's sweep of gone machines
    /// never removes them, and a stale `active` would hold back a unit that stops when cut
    /// off.
    pub(super) async fn adopt_left_behind(&mut self) {
        let listed = match self.registry.indexed_states().await {
            Ok(listed) => listed,
            Err(error) => {
                tracing::debug!(%error, "reports of an earlier run not looked for yet");
                return;
            }
        };
        let machine = self.settings.machine.as_str();
        for ((unit, on), found) in listed {
            if on == machine {
                self.ledger.adopt(&unit, found);
            }
        }
        self.adopted = true;
    }

    /// Reads again the keys of unanswered creates, read as absent, of units not kept: a
    /// create that lands late is then removed like any report.
    pub(super) async fn recheck_late_creates(&mut self) {
        let kept = self.kept();
        for unit in self.ledger.to_recheck(&kept, Instant::now()) {
            match self.registry.state(&unit, &self.settings.machine).await {
                Ok(found) => self.ledger.read(&unit, found, Instant::now()),
                Err(error) => {
                    tracing::debug!(%unit, %error, "late report not checked yet");
                    return;
                }
            }
        }
    }
}
