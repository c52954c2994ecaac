//! The units workload's phase: submit the units, let the nemesis run while they do, heal,
//! wait for every unit to run once more, then check every run's beats
//! ([`crate::units`]).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use testkit::fleet::Fleet;
use testkit::lab::Lab;
use testkit::Cluster;

use super::{converge, heal_everything, interrupted, schedule_caught, RunState};
use crate::nemesis::Nemesis;
use crate::progress::{load_line, LoadStatus};
use crate::report::{Anomaly, PhaseResult};
use crate::units::{self, SETTLE_DEADLINE};
use crate::workload::Env;

/// What a phase runs against.
pub(super) struct PhaseEnv<'a> {
    pub runtime: &'a tokio::runtime::Runtime,
    pub env: &'a Arc<Env>,
    pub cluster: &'a Mutex<Cluster>,
    pub lab: &'a Lab,
}

fn locked(fleet: &Mutex<Fleet>) -> std::sync::MutexGuard<'_, Fleet> {
    fleet
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl RunState<'_> {
    pub(super) fn units_phase(
        &mut self,
        phase: &PhaseEnv<'_>,
        nemesis: &mut Nemesis<'_>,
        share: Duration,
        fleet: &Mutex<Fleet>,
    ) -> Result<(), String> {
        let beats = self.dir.join("beats");
        std::fs::create_dir_all(&beats).map_err(|e| e.to_string())?;
        let policy = if self.config.units_keep_when_cut_off {
            "keep"
        } else {
            "stop"
        };
        let units = units::submit(&locked(fleet), &beats, policy)?;
        let since = units::uptime()?;
        let waiting = units::wait_settled(&locked(fleet), &units, &beats, since, SETTLE_DEADLINE);
        if !waiting.is_empty() {
            return Err(format!(
                "units workload: the units did not start before the faults: {waiting:?}\n{}",
                locked(fleet).logs()
            ));
        }
        self.progress.line(&format!(
            "{}: {} units running, {:.0} s under faults",
            self.label("units"),
            units.len(),
            share.as_secs_f64()
        ));
        let started = std::time::Instant::now();
        let end = started + share;
        let schedule = self.faults_until(nemesis, started, end);
        let load_s = started.elapsed().as_secs_f64();
        let healed = heal_everything(phase.cluster, phase.lab, nemesis);
        schedule?;
        healed?;
        let nodes: Vec<usize> = (0..phase.lab.nodes()).collect();
        nemesis.restart_hosts(&nodes)?;
        self.progress.line(&format!(
            "{}: healed, waiting for every unit to run once",
            self.label("units")
        ));
        let recovery_ms = phase
            .runtime
            .block_on(converge(phase.env, Duration::from_secs(30)))?;
        let healed_at = units::uptime()?;
        let waiting =
            units::wait_settled(&locked(fleet), &units, &beats, healed_at, SETTLE_DEADLINE);
        self.check_units(&beats, &waiting)?;
        self.phases.push(PhaseResult {
            workload: "units".into(),
            load_s,
            recovery_ms: Some(recovery_ms),
            keys: units.len(),
        });
        Ok(())
    }

    /// Runs the nemesis schedule from `started` until `end` while the units run on their
    /// own: they are the load.
    fn faults_until(
        &self,
        nemesis: &mut Nemesis<'_>,
        started: std::time::Instant,
        end: std::time::Instant,
    ) -> Result<(), String> {
        let stop = AtomicBool::new(false);
        let total = end.saturating_duration_since(started);
        self.progress.start_load(total);
        std::thread::scope(|scope| {
            let schedule = scope.spawn(|| schedule_caught(nemesis, end, self.config, &stop));
            // The units are the load: they run on their own until the end of the phase.
            while std::time::Instant::now() < end && !interrupted() {
                std::thread::sleep(Duration::from_millis(100));
                self.progress.update(|| {
                    let elapsed = started.elapsed();
                    let fault = self.recorder.current_fault();
                    let status = LoadStatus {
                        phase: self.phase,
                        phases: self.config.workloads.len(),
                        workload: "units",
                        elapsed,
                        total,
                        ops: None,
                        fault: fault.as_deref(),
                    };
                    (elapsed, load_line(&status))
                });
            }
            self.progress.end_load();
            stop.store(true, Ordering::Relaxed);
            schedule
                .join()
                .unwrap_or_else(|_| Err("nemesis thread died".to_owned()))
        })
    }

    /// Reads every run's beats, records the anomalies and writes `units.json`.
    fn check_units(
        &mut self,
        beats: &std::path::Path,
        waiting: &std::collections::BTreeMap<String, String>,
    ) -> Result<(), String> {
        let runs = units::read_runs(beats);
        let mut findings = units::overlaps(&runs);
        for (unit, why) in waiting {
            findings.push(units::Finding {
                kind: "unit-not-running".into(),
                unit: unit.clone(),
                detail: format!(
                    "not running {} s after the heal: {why}",
                    SETTLE_DEADLINE.as_secs()
                ),
            });
        }
        let text = serde_json::to_string_pretty(&serde_json::json!({
            "runs": runs, "anomalies": findings,
        }))
        .map_err(|e| e.to_string())?;
        std::fs::write(self.dir.join("units.json"), text).map_err(|e| e.to_string())?;
        self.progress.line(&format!(
            "{}: {} runs, {} anomalies",
            self.label("units"),
            runs.len(),
            findings.len()
        ));
        for finding in findings {
            self.anomalies.push(Anomaly {
                kind: finding.kind,
                subject: finding.unit,
                detail: finding.detail,
            });
        }
        Ok(())
    }
}
