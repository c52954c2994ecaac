//! Batch jobs on this machine: whether each wanted batch job has run since it was loaded,
//! in the attempt its index entry names (so the plan does not start it again), and the
//! record of how each run ended (`job/<unit>/completion`), written once per run.
//!
//! A retry (`Retries=`) is the same file with a higher attempt: the run of the failed
//! attempt started before that attempt ended (`Attempt::owns_run`), so it does not count
//! and the plan starts the job again.
//!
//! Invariants: only batch jobs desired `launched`, loaded on their wanted file and not
//! running are looked up; a job whose run cannot be looked up, or whose run has started and
//! not ended (systemd's state can lag behind its run), counts as run for this round, so it
//! is never started twice and never recorded before it ends; a run is remembered as
//! recorded only once the registry has taken the record, so a failed write is retried next
//! round.

use super::Agent;
use fleet_core::agent_plan::{LocalState, LocalUnit};
use fleet_core::model::{Attempt, DesiredState};
use fleet_core::ports::Systemd;
use fleet_core::unit_file::UnitHash;
use fleet_registry::wire::CompletionRecord;
use std::collections::BTreeMap;

impl<S: Systemd> Agent<'_, S> {
    /// Marks in `local` the wanted batch jobs that have run since they were loaded, and
    /// records the end of each run not recorded yet.
    pub(super) async fn note_batch_runs(&mut self, local: &mut BTreeMap<String, LocalUnit>) {
        let candidates: Vec<(String, UnitHash, Attempt)> = self
            .wanted
            .iter()
            .filter(|(_, want)| want.batch && want.desired == DesiredState::Launched)
            .filter(|(name, want)| {
                local
                    .get(*name)
                    .is_some_and(|unit| unit.hash == want.hash && unit.state == LocalState::Loaded)
            })
            .map(|(name, want)| (name.clone(), want.hash, want.attempt))
            .collect();
        for (name, hash, attempt) in candidates {
            let ran = if self.recorded.get(&name) == Some(&(hash, attempt.number)) {
                true
            } else {
                self.look_up_run(&name, hash, attempt).await
            };
            if let Some(unit) = local.get_mut(&name) {
                unit.ran = ran;
            }
        }
        self.recorded
            .retain(|name, _| self.wanted.contains_key(name));
    }

    /// Whether `name` (on file `hash`) has run since it was loaded, in `attempt`; records
    /// that run's end.
    async fn look_up_run(&mut self, name: &str, hash: UnitHash, attempt: Attempt) -> bool {
        let run = match self.with_deadline(self.systemd.main_run(name)).await {
            Ok(Some(run)) if attempt.owns_run(run.started_usec) && run.exited_at_ms.is_none() => {
                // Started and not ended (its job may still be queued, or systemd's state
                // may not say so yet): its `Result` is still the default `success`. Not
                // started again, recorded once it ends.
                tracing::debug!(unit = %name, ?run, "batch job still running");
                return true;
            }
            Ok(Some(run)) if attempt.owns_run(run.started_usec) => run,
            Ok(run) => {
                tracing::debug!(unit = %name, ?run, ?attempt, "no run of this attempt yet");
                return false;
            }
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
            // A retry must start after it ended.
            finished_ms: run.exited_at_ms.unwrap_or(run.started_usec / 1000),
            attempt,
        };
        match self.registry.put_completion(name, &record).await {
            Ok(()) => {
                tracing::info!(
                    unit = %name,
                    result = %run.result,
                    status = run.exit_status,
                    attempt = attempt.number,
                    attempts = attempt.of,
                    "batch job finished"
                );
                self.recorded
                    .insert(name.to_owned(), (hash, attempt.number));
            }
            Err(error) => tracing::warn!(unit = %name, %error, "completion not written yet"),
        }
        true
    }
}
