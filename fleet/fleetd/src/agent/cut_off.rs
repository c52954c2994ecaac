//! Units that stop when cut off (`WhenCutOff=stop`): the agent's half of "never on two
//! machines at once".
//!
//! - *Cut off* means three quarters of the agent TTL have passed since the last successful
//!   presence write was sent (a quarter TTL after the agent started, before any). That key
//!   lives at least one whole TTL from then, so the engine cannot have seen this machine
//!   gone yet: the agent stops every such unit now, leaving a quarter TTL for the stop, and
//!   starts none while cut off. It needs systemd only, not Keel.
//! - *Fencing*: before it starts such a unit, the agent reads its own index entry by a
//!   quorum read and starts only if the entry's `modifiedIndex` is the one its cache holds,
//!   so a cache that missed a move (a partition, a resync) never starts a moved unit.
//!
//! The engine's half is `engine::fence`: a new machine's entry waits while an old one that is
//! still present reports the unit running.

use super::Agent;
use fleet_core::ports::Systemd;
use tokio::time::Instant;

impl<S: Systemd> Agent<'_, S> {
    /// When this machine counts as cut off from Keel.
    fn cut_off_at(&self) -> Instant {
        let ttl = self.settings.agent_ttl;
        match *self.fresh.borrow() {
            Some(sent) => sent + ttl * 3 / 4,
            None => self.started + ttl / 4,
        }
    }

    /// Whether this machine is cut off from Keel now.
    pub(super) fn is_cut_off(&self) -> bool {
        Instant::now() >= self.cut_off_at()
    }

    /// When the loop must act on a cut-off: only while a wanted unit stops when cut off and
    /// this cut-off has not been acted on.
    pub(super) fn cut_off_deadline(&self) -> Option<Instant> {
        let any = self.wanted.values().any(|want| want.stop_when_cut_off);
        (any && !self.stopped_when_cut_off).then(|| self.cut_off_at())
    }

    /// Presence was written again: a later cut-off is acted on again.
    pub(super) fn on_fresh(&mut self) {
        if !self.is_cut_off() {
            self.stopped_when_cut_off = false;
        }
    }

    /// Cut off: stops every wanted unit that stops when cut off.
    pub(super) async fn stop_when_cut_off(&mut self) {
        self.stopped_when_cut_off = true;
        let names: Vec<String> = self
            .wanted
            .iter()
            .filter(|(_, want)| want.stop_when_cut_off)
            .map(|(name, _)| name.clone())
            .collect();
        tracing::warn!(units = ?names, "cut off from Keel: stopping the units that stop when cut off");
        for name in names {
            if let Err(error) = self.with_deadline(self.systemd.stop_unit(&name)).await {
                tracing::warn!(unit = %name, %error, "cannot stop a unit while cut off");
            }
        }
    }

    /// Whether a start of the wanted unit `name` may go ahead: always for a unit that keeps
    /// running when cut off; for one that stops, only while not cut off and when its index
    /// entry as cached is the current one.
    pub(super) async fn may_start(&self, name: &str) -> bool {
        if !self
            .wanted
            .get(name)
            .is_some_and(|want| want.stop_when_cut_off)
        {
            return true;
        }
        if self.is_cut_off() {
            tracing::info!(unit = %name, "not started while cut off from Keel");
            return false;
        }
        let cached = self.fences.get(name).copied();
        match self
            .registry
            .schedule_entry_index(&self.settings.machine, name)
            .await
        {
            Ok(current) if current.is_some() && current == cached => true,
            Ok(current) => {
                tracing::info!(unit = %name, ?current, ?cached, "index entry changed; not started");
                false
            }
            Err(error) => {
                tracing::warn!(unit = %name, %error, "cannot check the index entry; not started");
                false
            }
        }
    }
}
