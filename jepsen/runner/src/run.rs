//! One run: probe the machine, build the lab, start the cluster, then for each workload a
//! phase of load under the nemesis schedule followed by a final phase (heal everything, wait
//! for every member to serve quorum reads, final reads), then check the history and write the
//! artifacts. Harness trouble anywhere (a fault command failing, the cluster not starting, a
//! history that cannot be written) ends the run as a harness failure, never as valid.

use std::collections::{BTreeMap, BTreeSet};
use std::panic::AssertUnwindSafe;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use checker::{EventKind, Op};
use kv_client::GetOptions;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use testkit::lab::{probe, Lab, LabConfig};
use testkit::Cluster;
use tokio::time::Instant;

use crate::nemesis::{Family, Nemesis};
use crate::progress::{self, load_line, phase_label, LoadStatus, Progress};
use crate::recorder::Recorder;
use crate::report::{self, Anomaly, PhaseResult, Results};
use crate::watch::{self, WatchPhase};
use crate::workload::{self, Env, Keys, Mix, ReadMode};

mod units_phase;

use units_phase::PhaseEnv;

/// Set by the SIGINT/SIGTERM handler: load stops, the cluster is healed and torn down, and the
/// run ends as a harness failure (its history is still checked and reported).
pub static INTERRUPTED: AtomicBool = AtomicBool::new(false);

/// Whether the run was asked to stop.
pub fn interrupted() -> bool {
    INTERRUPTED.load(Ordering::Relaxed)
}

/// A workload, as named on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Workload {
    /// Compare-and-swap registers.
    Register,
    /// Append/set on in-order keys.
    Set,
    /// Watchers following one writer.
    Watch,
    /// Clients contending for locksmith's semaphore: never more holders than slots.
    Semaphore,
    /// fleet units that must never run twice at once, on real hosts.
    Units,
}

impl Workload {
    /// The command-line name.
    pub fn name(self) -> &'static str {
        match self {
            Workload::Register => "register",
            Workload::Set => "set",
            Workload::Watch => "watch",
            Workload::Semaphore => "semaphore",
            Workload::Units => "units",
        }
    }

    /// Parses a comma-separated list (`all` for every store workload; `units` only by name),
    /// in run order.
    ///
    /// # Errors
    /// Names the unknown workload.
    pub fn parse_list(text: &str) -> Result<Vec<Workload>, String> {
        let all = [
            Workload::Register,
            Workload::Set,
            Workload::Watch,
            Workload::Semaphore,
        ];
        let known = [
            Workload::Register,
            Workload::Set,
            Workload::Watch,
            Workload::Semaphore,
            Workload::Units,
        ];
        let mut out = BTreeSet::new();
        for name in text.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            if name == "all" {
                out.extend(all);
                continue;
            }
            let workload = known
                .into_iter()
                .find(|w| w.name() == name)
                .ok_or_else(|| {
                    format!(
                        "unknown workload {name:?}; known: register, set, watch, semaphore, units, all"
                    )
                })?;
            out.insert(workload);
        }
        if out.is_empty() {
            return Err("no workload given".into());
        }
        Ok(out.into_iter().collect())
    }
}

/// What a phase's load leaves for its check.
enum Loaded {
    /// Nothing: the check reads the store.
    Nothing,
    /// The watch workload's watchers and writes.
    Watch(WatchPhase, Vec<watch::Written>),
    /// The semaphore workload's holds.
    Semaphore(Vec<crate::semaphore::Hold>),
}

/// Everything a run needs.
#[derive(Debug, Clone)]
pub struct RunConfig {
    /// Workloads, run one after another, each for its share of the time limit.
    pub workloads: Vec<Workload>,
    /// Fault families.
    pub families: Vec<Family>,
    /// Load time over all workloads (final phases and checking come on top).
    pub time_limit: Duration,
    /// Cluster size.
    pub nodes: usize,
    /// Concurrent client workers (register and set).
    pub concurrency: usize,
    /// The seed of everything random.
    pub seed: u64,
    /// Target total rate, ops/s.
    pub rate: f64,
    /// How long each fault lasts.
    pub fault: Duration,
    /// How long each calm phase between faults lasts.
    pub heal: Duration,
    /// How reads are served.
    pub read_mode: ReadMode,
    /// Operations per key before a group of workers moves to a new key.
    pub ops_per_key: u64,
    /// Client timeout per request.
    pub client_timeout: Duration,
    /// Where the artifact directory is made.
    pub artifacts: PathBuf,
    /// The lab's network, namespace prefix and bridge.
    pub lab: LabConfig,
    /// Checker step budget per key.
    pub step_budget: u64,
    /// The command line that replays this run.
    pub command: String,
    /// The `jepsen` binary, which also runs the delay nemesis's packet holder.
    pub holder: Option<PathBuf>,
    /// The members' `--snapshot-count`, when set.
    pub snapshot_count: Option<u64>,
    /// The `fleetd` binary the units workload runs on its hosts.
    pub fleetd: Option<PathBuf>,
    /// The units workload's units keep running when cut off (a negative control).
    pub units_keep_when_cut_off: bool,
}

/// How a run ended.
#[derive(Debug)]
pub enum RunOutcome {
    /// The machine cannot build a lab (no root, no user namespace).
    Skipped(String),
    /// The run finished; the artifact directory and its results.
    Finished {
        /// The artifact directory.
        dir: PathBuf,
        /// What `results.json` says.
        results: Box<Results>,
    },
}

impl RunOutcome {
    /// The process exit status: 0 valid (or skipped), 1 anomaly, 2 harness failure or
    /// undecided.
    pub fn exit_code(&self) -> i32 {
        match self {
            RunOutcome::Skipped(_) => 0,
            RunOutcome::Finished { results, .. } => match results.verdict.as_str() {
                "valid" => 0,
                "invalid" => 1,
                _ => 2,
            },
        }
    }
}

fn panic_text(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| payload.downcast_ref::<&str>().map(|s| (*s).to_owned()))
        .unwrap_or_else(|| "panic".to_owned())
}

/// Runs one Jepsen test as configured.
///
/// # Errors
/// When the artifact directory cannot be created (nothing else has happened then).
pub fn run(config: &RunConfig) -> std::io::Result<RunOutcome> {
    let caps = probe(&config.lab.prefix);
    if !caps.namespaces {
        return Ok(RunOutcome::Skipped(format!(
            "skipped: needs root or a user namespace ({})",
            caps.notices.join("; ")
        )));
    }
    let stamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let dir = config
        .artifacts
        .join(format!("{stamp}-seed{}", config.seed));
    std::fs::create_dir_all(&dir)?;
    let dir = dir.canonicalize()?;
    let progress = Arc::new(Progress::stderr());
    progress.line(&format!(
        "seed {} · {} members · workloads {} · artifacts {}",
        config.seed,
        config.nodes,
        config
            .workloads
            .iter()
            .map(|w| w.name())
            .collect::<Vec<_>>()
            .join(","),
        dir.display()
    ));
    let mut skipped = Vec::new();
    let mut families = Vec::new();
    for &family in &config.families {
        let unavailable = family.unavailable(&caps).or_else(|| {
            (family == Family::Delay && config.holder.is_none())
                .then(|| "delay: skipped, no packet holder binary".to_owned())
        });
        match unavailable {
            Some(why) => {
                progress.line(&format!("notice: {why}"));
                skipped.push(why);
            }
            None => families.push(family),
        }
    }
    std::fs::write(
        dir.join("capabilities.txt"),
        format!("{caps:#?}\n\nskipped:\n{}\n", skipped.join("\n")),
    )?;
    let recorder = Arc::new(Recorder::create(&dir.join("history.jsonl"))?);
    let mut state = RunState {
        config,
        dir: dir.clone(),
        recorder,
        progress,
        phase: 0,
        phases: Vec::new(),
        anomalies: Vec::new(),
        lost_writes: 0,
        faults: BTreeMap::new(),
        members: Vec::new(),
    };
    let outcome = std::panic::catch_unwind(AssertUnwindSafe(|| state.execute(&families, &caps)));
    let harness_error = match outcome {
        Ok(Ok(())) => state.recorder.failure(),
        Ok(Err(error)) => Some(error),
        Err(payload) => Some(format!(
            "harness panicked: {}",
            panic_text(payload.as_ref())
        )),
    };
    let results = state.finish(harness_error, skipped)?;
    Ok(RunOutcome::Finished {
        dir,
        results: Box::new(results),
    })
}

struct RunState<'a> {
    config: &'a RunConfig,
    dir: PathBuf,
    recorder: Arc<Recorder>,
    progress: Arc<Progress>,
    /// The phase running, from 1 (one per workload).
    phase: usize,
    phases: Vec<PhaseResult>,
    anomalies: Vec<Anomaly>,
    lost_writes: u64,
    faults: BTreeMap<String, u64>,
    members: Vec<serde_json::Value>,
}

impl RunState<'_> {
    /// `phase 1/2 register`: how the lines of the running phase start.
    fn label(&self, workload: &str) -> String {
        phase_label(self.phase, self.config.workloads.len(), workload)
    }

    fn execute(
        &mut self,
        families: &[Family],
        caps: &testkit::lab::Capabilities,
    ) -> Result<(), String> {
        let config = self.config;
        let mut lab_config = config.lab.clone();
        lab_config.nodes = config.nodes;
        let lab = Lab::up(lab_config).map_err(|e| e.to_string())?;
        // Clock skew: every member runs under libfaketime with its own offset file.
        let mut clock_files = Vec::new();
        let mut env = Vec::new();
        if families.contains(&Family::Clock) {
            if let Some(library) = &caps.faketime {
                for node in 0..config.nodes {
                    let path = self.dir.join(format!("clock-n{}.rc", node + 1));
                    std::fs::write(&path, "+0\n").map_err(|e| e.to_string())?;
                    env.push(vec![
                        ("LD_PRELOAD".to_owned(), library.clone()),
                        (
                            "FAKETIME_TIMESTAMP_FILE".to_owned(),
                            path.display().to_string(),
                        ),
                        ("FAKETIME_NO_CACHE".to_owned(), "1".to_owned()),
                        ("FAKETIME_DONT_FAKE_MONOTONIC".to_owned(), "1".to_owned()),
                    ]);
                    clock_files.push(path);
                }
            }
        }
        let mut flags = vec![
            "--heartbeat-interval".to_owned(),
            "100".to_owned(),
            "--election-timeout".to_owned(),
            "1000".to_owned(),
        ];
        // The snapshot family needs logs that compact within a fault's time.
        let snapshot_count = config
            .snapshot_count
            .or_else(|| families.contains(&Family::Snapshot).then_some(100));
        if let Some(count) = snapshot_count {
            // A small count compacts often; keep a short catch-up window so that members
            // behind it really go through snapshots.
            flags.extend([
                "--snapshot-count".to_owned(),
                count.to_string(),
                "--snapshot-catch-up-entries".to_owned(),
                (count / 5).to_string(),
            ]);
        }
        let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
        let started = std::panic::catch_unwind(AssertUnwindSafe(|| {
            Cluster::start_in_lab(&lab, &flags, &env, Some(&self.dir))
        }));
        let cluster = match started {
            Ok(cluster) => Mutex::new(cluster),
            Err(payload) => {
                return Err(format!(
                    "the cluster did not start: {}",
                    panic_text(payload.as_ref())
                ))
            }
        };
        let urls: Vec<String> = {
            let guard = cluster.lock().map_err(|e| e.to_string())?;
            (0..config.nodes).map(|n| guard.url(n).to_owned()).collect()
        };
        self.progress
            .line(&format!("cluster up: {}", urls.join(" ")));
        let env = Arc::new(Env {
            recorder: Arc::clone(&self.recorder),
            urls,
            seed: config.seed,
            read_mode: config.read_mode,
            rate: config.rate,
            timeout: config.client_timeout,
            processes: AtomicU64::new(0),
            elements: AtomicU64::new(0),
            prefix: format!("/jepsen/{}", config.seed),
        });
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .map_err(|e| format!("tokio runtime: {e}"))?;
        #[allow(clippy::cast_possible_truncation)]
        let share = config.time_limit / config.workloads.len().max(1) as u32;
        let mut failure = None;
        let recorder = Arc::clone(&self.recorder);
        for (number, &workload) in config.workloads.iter().enumerate() {
            self.phase = number + 1;
            let rng = {
                let mut rng = ChaCha8Rng::seed_from_u64(config.seed);
                rng.set_stream(1 + number as u64);
                rng
            };
            let fleet = if workload == Workload::Units {
                match crate::units::start_fleet(&lab, config.fleetd.as_deref(), &self.dir) {
                    Ok(fleet) => Some(Mutex::new(fleet)),
                    Err(error) => {
                        failure = Some(format!("units workload: {error}"));
                        break;
                    }
                }
            } else {
                None
            };
            let mut nemesis = Nemesis::new(
                &cluster,
                &lab,
                &recorder,
                rng,
                families.to_vec(),
                clock_files.clone(),
                config.holder.clone(),
            )
            .with_fleet(fleet.as_ref());
            let result = match &fleet {
                Some(fleet) => {
                    let phase = PhaseEnv {
                        runtime: &runtime,
                        env: &env,
                        cluster: &cluster,
                        lab: &lab,
                    };
                    self.units_phase(&phase, &mut nemesis, share, fleet)
                }
                None => self.phase(
                    &runtime,
                    &env,
                    &mut nemesis,
                    workload,
                    share,
                    &cluster,
                    &lab,
                ),
            };
            for (kind, count) in std::mem::take(&mut nemesis.counts) {
                *self.faults.entry(kind).or_default() += count;
            }
            if let Err(error) = result {
                failure = Some(error);
                break;
            }
            if interrupted() {
                failure = Some("interrupted by a signal".to_owned());
                break;
            }
        }
        // Each member's own view of its log at the end (compaction, snapshots sent and taken).
        if let Ok(cluster) = cluster.lock() {
            for node in 0..config.nodes {
                let view = cluster
                    .get(cluster.url(node), "/debug/raft")
                    .ok()
                    .and_then(|reply| serde_json::from_str(&reply.body).ok())
                    .unwrap_or(serde_json::Value::Null);
                self.members.push(view);
            }
        }
        if failure.is_some() || !self.anomalies.is_empty() {
            if let Ok(mut cluster) = cluster.lock() {
                cluster.dir.disable_cleanup(true);
            }
        }
        runtime.shutdown_timeout(Duration::from_secs(2));
        drop(cluster);
        drop(lab);
        failure.map_or(Ok(()), Err)
    }

    #[allow(clippy::too_many_arguments)]
    fn phase(
        &mut self,
        runtime: &tokio::runtime::Runtime,
        env: &Arc<Env>,
        nemesis: &mut Nemesis<'_>,
        workload: Workload,
        share: Duration,
        cluster: &Mutex<Cluster>,
        lab: &Lab,
    ) -> Result<(), String> {
        let config = self.config;
        self.progress.line(&format!(
            "{}: {:.0} s of load under faults",
            self.label(workload.name()),
            share.as_secs_f64()
        ));
        let started = std::time::Instant::now();
        let end_std = started + share;
        let end = Instant::now() + share;
        let stop = AtomicBool::new(false);
        let groups = config.concurrency.div_ceil(5);
        let keys = Arc::new(Keys::new(
            format!("{}/{}", env.prefix, workload.name()),
            groups,
            config.ops_per_key,
        ));
        let (nemesis_result, load_result) = std::thread::scope(|scope| {
            let schedule = scope.spawn(|| schedule_caught(nemesis, end_std, config, &stop));
            let load = runtime.block_on(self.load(env, &keys, workload, end, started));
            stop.store(true, Ordering::Relaxed);
            let nemesis_result = schedule
                .join()
                .unwrap_or_else(|_| Err("nemesis thread died".to_owned()));
            (nemesis_result, load)
        });
        let load_s = started.elapsed().as_secs_f64();
        let heal_result = heal_everything(cluster, lab, nemesis);
        nemesis_result?;
        heal_result?;
        self.progress.line(&format!(
            "{}: healed, waiting for recovery",
            self.label(workload.name())
        ));
        let recovery_ms = runtime.block_on(converge(env, Duration::from_secs(30)))?;
        let mut phase = PhaseResult {
            workload: workload.name().into(),
            load_s,
            recovery_ms: Some(recovery_ms),
            keys: 0,
        };
        match (workload, load_result) {
            (Workload::Register, _) => {
                let used = keys.used();
                phase.keys = used.len();
                runtime.block_on(workload::final_reads(
                    env,
                    &used,
                    Mix::Register,
                    Duration::from_secs(5),
                ));
            }
            (Workload::Set, _) => {
                let used = keys.used();
                phase.keys = used.len();
                let first_event = self.recorder.client_event_count();
                runtime.block_on(workload::final_reads(
                    env,
                    &used,
                    Mix::Set,
                    Duration::from_secs(5),
                ));
                self.check_lost_adds(first_event);
            }
            (Workload::Semaphore, Loaded::Semaphore(holds)) => {
                phase.keys = holds.len();
                let violations = crate::semaphore::check(&holds, crate::semaphore::SLOTS);
                let text = serde_json::to_string_pretty(&serde_json::json!({
                    "slots": crate::semaphore::SLOTS, "holds": holds, "violations": violations,
                }))
                .map_err(|e| e.to_string())?;
                std::fs::write(self.dir.join("semaphore.json"), text).map_err(|e| e.to_string())?;
                self.progress.line(&format!(
                    "{}: {} holds, {} violations",
                    self.label("semaphore"),
                    holds.len(),
                    violations.len()
                ));
                for violation in violations {
                    self.anomalies.push(Anomaly {
                        kind: violation.kind.to_owned(),
                        subject: "semaphore".to_owned(),
                        detail: violation.detail,
                    });
                }
            }
            (Workload::Semaphore, _) => return Err("semaphore workload did not run".into()),
            (Workload::Watch, Loaded::Watch(phase_watch, writes)) => {
                let final_index = runtime.block_on(final_index(env))?;
                let logs =
                    runtime.block_on(phase_watch.drain(final_index, Duration::from_secs(30)));
                phase.keys = logs.len();
                let anomalies = watch::check(&writes, &logs, final_index);
                let text = serde_json::to_string_pretty(&serde_json::json!({
                    "final_index": final_index, "writes": writes, "watchers": logs,
                    "anomalies": anomalies,
                }))
                .map_err(|e| e.to_string())?;
                std::fs::write(self.dir.join("watch.json"), text).map_err(|e| e.to_string())?;
                for anomaly in anomalies {
                    if anomaly.kind == "watch-missing" {
                        self.lost_writes += 1;
                    }
                    if anomaly.kind == "watch-history-cleared" {
                        return Err(format!("watch workload: {}", anomaly.detail));
                    }
                    self.anomalies.push(Anomaly {
                        kind: anomaly.kind,
                        subject: anomaly.node,
                        detail: anomaly.detail,
                    });
                }
            }
            (Workload::Watch, _) => return Err("watch workload did not start".into()),
            (Workload::Units, _) => return Err("the units workload has its own phase".into()),
        }
        self.phases.push(phase);
        Ok(())
    }

    /// Runs the load of one phase until `end`; for the watch workload returns its watchers and
    /// writes for draining, for the semaphore workload the holds.
    async fn load(
        &self,
        env: &Arc<Env>,
        keys: &Arc<Keys>,
        workload: Workload,
        end: Instant,
        started: std::time::Instant,
    ) -> Loaded {
        let ticker = self.ticker(workload, started, end);
        let result = match workload {
            Workload::Register | Workload::Set => {
                let mix = if workload == Workload::Register {
                    Mix::Register
                } else {
                    Mix::Set
                };
                workload::run_workers(
                    Arc::clone(env),
                    Arc::clone(keys),
                    mix,
                    self.config.concurrency,
                    end,
                )
                .await;
                Loaded::Nothing
            }
            Workload::Watch => match WatchPhase::start(Arc::clone(env), 3).await {
                Ok(phase) => {
                    let writes = phase.write_until(end).await;
                    Loaded::Watch(phase, writes)
                }
                Err(error) => {
                    self.progress.line(&format!("watch: {error}"));
                    Loaded::Nothing
                }
            },
            Workload::Semaphore => Loaded::Semaphore(
                crate::semaphore::run_clients(Arc::clone(env), self.config.concurrency, end).await,
            ),
            Workload::Units => Loaded::Nothing,
        };
        ticker.abort();
        self.progress.end_load();
        result
    }

    /// Starts the phase's bar (on a terminal) and a task updating it, or writing a plain
    /// status line every few seconds, until aborted.
    fn ticker(
        &self,
        workload: Workload,
        started: std::time::Instant,
        end: Instant,
    ) -> tokio::task::JoinHandle<()> {
        let recorder = Arc::clone(&self.recorder);
        let progress = Arc::clone(&self.progress);
        let (phase, phases) = (self.phase, self.config.workloads.len());
        let name = workload.name();
        let total = end.saturating_duration_since(Instant::now()) + started.elapsed();
        progress.start_load(total);
        tokio::spawn(async move {
            let mut interval = tokio::time::interval(progress::BAR_PERIOD);
            loop {
                interval.tick().await;
                progress.update(|| {
                    let elapsed = started.elapsed();
                    let fault = recorder.current_fault();
                    let status = LoadStatus {
                        phase,
                        phases,
                        workload: name,
                        elapsed,
                        total,
                        ops: Some(recorder.op_counts()),
                        fault: fault.as_deref(),
                    };
                    (elapsed, load_line(&status))
                });
            }
        })
    }

    /// Acknowledged adds that the final reads (all members) do not contain.
    fn check_lost_adds(&mut self, first_final_event: usize) {
        let events = self.recorder.client_events();
        let mut acknowledged: BTreeMap<String, BTreeSet<u64>> = BTreeMap::new();
        let mut invoked: BTreeMap<u64, Op> = BTreeMap::new();
        for event in &events[..first_final_event.min(events.len())] {
            let e = &event.event;
            match e.kind {
                EventKind::Invoke => {
                    invoked.insert(e.process, e.op.clone());
                }
                EventKind::Ok => {
                    if let Some(Op::Add { key, element }) = invoked.remove(&e.process) {
                        acknowledged.entry(key).or_default().insert(element);
                    }
                }
                _ => {
                    invoked.remove(&e.process);
                }
            }
        }
        for event in &events[first_final_event.min(events.len())..] {
            let e = &event.event;
            if let (
                EventKind::Ok,
                Op::ReadSet {
                    key,
                    elements: Some(seen),
                },
            ) = (e.kind, &e.op)
            {
                let missing: Vec<u64> = acknowledged
                    .get(key)
                    .map(|acked| acked.difference(seen).copied().collect())
                    .unwrap_or_default();
                if !missing.is_empty() {
                    self.lost_writes += missing.len() as u64;
                    self.anomalies.push(Anomaly {
                        kind: "lost-write".into(),
                        subject: key.clone(),
                        detail: format!(
                            "the final read on {} lacks acknowledged elements {missing:?}",
                            event.node.as_deref().unwrap_or("?")
                        ),
                    });
                }
            }
        }
    }

    /// Checks the history file, writes `results.json`, `checker.txt` and `report.html`.
    fn finish(
        &mut self,
        harness_error: Option<String>,
        skipped: Vec<String>,
    ) -> std::io::Result<Results> {
        let config = self.config;
        let path = self.dir.join("history.jsonl");
        let options = checker::CheckOptions {
            step_budget: config.step_budget,
            ..checker::CheckOptions::default()
        };
        let (verdict_text, linearizability, mut verdict) =
            match checker::check_file(&path, &options) {
                Ok(verdict) => {
                    let text = verdict.to_string();
                    let json = serde_json::to_value(&verdict).unwrap_or_default();
                    let word = match &verdict {
                        checker::Verdict::Linearizable => "valid",
                        checker::Verdict::NotLinearizable { key, .. } => {
                            self.anomalies.push(Anomaly {
                                kind: "not-linearizable".into(),
                                subject: key.clone(),
                                detail: text.clone(),
                            });
                            "invalid"
                        }
                        checker::Verdict::Unknown { .. } => "unknown",
                    };
                    (text, json, word.to_owned())
                }
                Err(error) => (
                    format!("malformed history: {error}"),
                    serde_json::Value::Null,
                    "harness-failure".to_owned(),
                ),
            };
        if verdict == "valid" && !self.anomalies.is_empty() {
            verdict = "invalid".into();
        }
        if harness_error.is_some() {
            verdict = "harness-failure".into();
        }
        std::fs::write(self.dir.join("checker.txt"), &verdict_text)?;
        let events = self.recorder.client_events();
        let nemesis = self.recorder.nemesis_events();
        let results = Results {
            verdict,
            seed: config.seed,
            command: config.command.clone(),
            nodes: config.nodes,
            ops: report::count_ops(&events),
            faults: std::mem::take(&mut self.faults),
            anomalies: std::mem::take(&mut self.anomalies),
            lost_writes: self.lost_writes,
            phases: std::mem::take(&mut self.phases),
            skipped,
            linearizability,
            harness_error,
            members: std::mem::take(&mut self.members),
        };
        let json = serde_json::to_string_pretty(&results).map_err(std::io::Error::other)?;
        std::fs::write(self.dir.join("results.json"), json + "\n")?;
        std::fs::write(
            self.dir.join("report.html"),
            report::html(&results, &events, &nemesis),
        )?;
        Ok(results)
    }
}

/// Undoes every fault there could be: partitions and loss, slow links, clock offsets, pauses,
/// and restarts every member that is down.
/// The nemesis schedule until `end` (or `stop`), a panic in it reported as an error.
fn schedule_caught(
    nemesis: &mut Nemesis<'_>,
    end: std::time::Instant,
    config: &RunConfig,
    stop: &AtomicBool,
) -> Result<(), String> {
    std::panic::catch_unwind(AssertUnwindSafe(|| {
        nemesis.run_schedule(end, config.fault, config.heal, stop)
    }))
    .unwrap_or_else(|payload| {
        Err(format!(
            "nemesis panicked: {}",
            panic_text(payload.as_ref())
        ))
    })
}

fn heal_everything(
    cluster: &Mutex<Cluster>,
    lab: &Lab,
    nemesis: &mut Nemesis<'_>,
) -> Result<(), String> {
    lab.heal().map_err(|e| e.to_string())?;
    nemesis.stop_delays()?;
    for node in 0..lab.nodes() {
        lab.unslow(node).map_err(|e| e.to_string())?;
    }
    nemesis.reset_clocks()?;
    let outcome = std::panic::catch_unwind(AssertUnwindSafe(|| {
        let mut cluster = cluster
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        for node in 0..lab.nodes() {
            if cluster.is_running(node) {
                cluster.resume(node);
            } else {
                cluster.spawn(node);
            }
        }
    }));
    outcome.map_err(|payload| format!("restarting members: {}", panic_text(payload.as_ref())))
}

/// Waits until every member answers a quorum read; returns how long that took (ms).
async fn converge(env: &Env, deadline: Duration) -> Result<u64, String> {
    let start = Instant::now();
    let clients: Vec<_> = (0..env.urls.len())
        .map(|n| env.client(n, Duration::from_secs(2)))
        .collect();
    let mut ready = vec![false; clients.len()];
    loop {
        for (node, client) in clients.iter().enumerate() {
            if !ready[node] {
                let options = GetOptions {
                    quorum: true,
                    ..GetOptions::default()
                };
                ready[node] = client.get("/", options).await.is_ok();
            }
        }
        if ready.iter().all(|r| *r) {
            return Ok(u64::try_from(start.elapsed().as_millis()).unwrap_or(u64::MAX));
        }
        if start.elapsed() > deadline {
            let waiting: Vec<String> = ready
                .iter()
                .enumerate()
                .filter(|(_, r)| !**r)
                .map(|(n, _)| workload::node_name(n))
                .collect();
            return Err(format!(
                "the cluster did not recover within {deadline:?} after healing: {} not serving quorum reads",
                waiting.join(", ")
            ));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The store index now, from a quorum read.
async fn final_index(env: &Env) -> Result<u64, String> {
    for node in 0..env.urls.len() {
        let client = env.client(node, Duration::from_secs(5));
        let options = GetOptions {
            quorum: true,
            ..GetOptions::default()
        };
        if let Ok(response) = client.get("/", options).await {
            return Ok(response.etcd_index.0);
        }
    }
    Err("no member answered the final quorum read".into())
}

/// Parses `90`, `90s`, `2m`, `1h`, `500ms`.
///
/// # Errors
/// Says what a duration looks like.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: f64 = number
        .parse()
        .map_err(|_| format!("{text:?} is not a duration (like 90s, 2m, 500ms)"))?;
    let seconds = match unit {
        "" | "s" => number,
        "ms" => number / 1000.0,
        "m" => number * 60.0,
        "h" => number * 3600.0,
        _ => return Err(format!("{text:?}: unknown unit {unit:?} (ms, s, m, h)")),
    };
    if !seconds.is_finite() || seconds < 0.0 {
        return Err(format!("{text:?} is not a duration"));
    }
    Ok(Duration::from_secs_f64(seconds))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Goal: durations parse the way the command line documents, and bad ones are refused.
    #[test]
    fn durations() {
        assert_eq!(parse_duration("90"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("60s"), Ok(Duration::from_secs(60)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert!(parse_duration("5 parsecs").is_err());
        assert!(parse_duration("").is_err());
    }

    /// Goal: workload lists parse in run order and typos are named.
    #[test]
    fn workloads() {
        assert_eq!(
            Workload::parse_list("watch,register"),
            Ok(vec![Workload::Register, Workload::Watch])
        );
        assert_eq!(Workload::parse_list("all").map(|w| w.len()), Ok(4));
        assert!(Workload::parse_list("regster").is_err_and(|e| e.contains("regster")));
    }
}
