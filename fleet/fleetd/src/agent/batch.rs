//! Batch jobs on this machine: whether each wanted batch job has run since it was loaded
//! (so the plan does not start it again), and the record of how each run ended
//! (`job/<unit>/completion`), written once per run.
//!
//! Invariants: only batch jobs desired `launched`, loaded on their wanted file and not
//! running are looked up; a job whose run cannot be looked up counts as run for this round,
//! so an error never starts it twice; a run is remembered as recorded only once the
//! registry has taken the record, so a failed write is retried next round.

use super::Agent;
use fleet_core::agent_plan::{LocalState, LocalUnit};
use fleet_core::model::DesiredState;
use fleet_core::ports::Systemd;
use fleet_core::unit_file::UnitHash;
use fleet_registry::wire::CompletionRecord;
use std::collections::BTreeMap;

impl<S: Systemd> Agent<'_, S> {
    /// Marks in `local` the wanted batch jobs that have run since they were loaded, and
    /// records the end of each run not recorded yet.
    pub(super) async fn note_batch_runs(&mut self, local: &mut BTreeMap<String, LocalUnit>) {
        let candidates: Vec<(String, UnitHash)> = self
            .wanted
            .iter()
            .filter(|(_, want)| want.batch && want.desired == DesiredState::Launched)
            .filter(|(name, want)| {
                local
                    .get(*name)
                    .is_some_and(|unit| unit.hash == want.hash && unit.state == LocalState::Loaded)
            })
            .map(|(name, want)| (name.clone(), want.hash))
            .collect();
        for (name, hash) in candidates {
            let ran = if self.recorded.get(&name) == Some(&hash) {
                true
            } else {
                self.look_up_run(&name, hash).await
            };
            if let Some(unit) = local.get_mut(&name) {
                unit.ran = ran;
            }
        }
        self.recorded
            .retain(|name, _| self.wanted.contains_key(name));
    }

    /// Whether `name` (on file `hash`) has run since it was loaded; records a run's end.
    async fn look_up_run(&mut self, name: &str, hash: UnitHash) -> bool {
        let run = match self.with_deadline(self.systemd.main_run(name)).await {
            Ok(Some(run)) => run,
            Ok(None) => return false,
            Err(error) => {
                tracing::warn!(unit = %name, %error, "cannot tell whether the batch job ran");
                return true;
            }
        };
        let record = CompletionRecord {
            hash,
            machine: self.settings.machine.clone(),
            result: run.result.clone(),
            exit_status: run.exit_status,
            finished_ms: run.exited_at_ms.unwrap_or(0),
        };
        match self.registry.put_completion(name, &record).await {
            Ok(()) => {
                tracing::info!(unit = %name, result = %run.result, status = run.exit_status, "batch job finished");
                self.recorded.insert(name.to_owned(), hash);
            }
            Err(error) => tracing::warn!(unit = %name, %error, "completion not written yet"),
        }
        true
    }
}
