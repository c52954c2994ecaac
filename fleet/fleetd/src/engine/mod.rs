//! The engine: one per cluster at a time, elected through the lease, schedules units onto
//! machines and writes the per-machine index the agents follow.
//!
//! Every `engine_reconcile_interval` each candidate takes one leadership step
//! (`fleet_core::lease::decide`: raise the engine version, renew, acquire, follow or steal,
//! always by compare-and-swap). While it leads it keeps watch-fed caches of `job/`,
//! `machines/` and `schedule/` (opened when it starts leading, closed when it stops) and runs a
//! pass whenever one of them changes and on every tick: snapshot → `fleet_core::schedule::plan`
//! → the writes that differ ([`reconcile`]), sent in stages ([`apply`]). A pass whose
//! placement write loses a race stops there and runs again on the next wake-up. Before
//! planning, a pass keeps every template with a replica count (`job/<template>/replicas`,
//! `fleetctl scale`) at that many numbered instances (`fleet_core::replicas::scale`) and
//! advances every running rollout ([`rollout`], `fleetctl replace`); a pass that created,
//! destroyed or moved anything there ends, and the next one, woken by the cache, plans the
//! result. The index entry of a unit that stops when cut off waits while its old copy still
//! runs ([`fence`]).
//!
//! Invariants: only a candidate whose lease write succeeded less than one lease TTL ago (minus
//! one interval of margin) writes anything; after stealing an older engine's lease it waits
//! out what was left of that lease first; no pass runs on an unsynced cache.

pub mod apply;
pub mod fence;
pub mod reconcile;
pub mod rollout;

use crate::engine::reconcile::Write;
use crate::status::Status;
use fleet_core::lease::{decide, LeaseStep};
use fleet_core::model::{DesiredState, MachineId};
use fleet_core::name::UnitName;
use fleet_core::replicas::scale;
use fleet_core::schedule::{plan, rebalance, Decision, Plan};
use fleet_core::unit_file::{UnitFile, UnitHash};
use fleet_registry::view;
use fleet_registry::wire::EngineLease;
use fleet_registry::{Registry, RegistryError, Written};
use kv_client::{Cache, Reflector, ReflectorOptions};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// The engine version this fleetd runs (`engine/version`); an engine never works under a
/// cluster whose version is higher.
pub const ENGINE_VERSION: u32 = 1;

/// How the engine runs.
#[derive(Debug, Clone)]
pub struct EngineSettings {
    /// This machine.
    pub machine: MachineId,
    /// `engine_reconcile_interval`: time between leadership steps and periodic passes. The
    /// lease lives five times this.
    pub interval: Duration,
    /// `agent_ttl`: how long the state reports of a machine that went away are kept, and how
    /// often the leader looks for such reports.
    pub agent_ttl: Duration,
    /// `engine_reschedule_grace` (Keel's): how long the units of a machine whose presence
    /// went away stay placed there before they move; zero moves them at once, as fleet.
    pub reschedule_grace: Duration,
    /// `engine_rebalance_moves` (Keel's): at most this many units moved by the rebalancer
    /// per `rebalance_interval`, in passes that have nothing else to do; zero turns it off.
    pub rebalance_moves: usize,
    /// `engine_rebalance_interval` (Keel's).
    pub rebalance_interval: Duration,
    /// Where the engine shows its state for the SIGUSR1 dump.
    pub status: Status,
}

impl EngineSettings {
    fn lease_ttl(&self) -> Duration {
        self.interval * 5
    }
}

/// The caches a leading engine keeps, closed when it stops leading.
struct Caches {
    token: CancellationToken,
    jobs: watch::Receiver<Arc<Cache>>,
    machines: watch::Receiver<Arc<Cache>>,
    schedule: watch::Receiver<Arc<Cache>>,
}

impl Drop for Caches {
    fn drop(&mut self) {
        self.token.cancel();
    }
}

/// Leadership as last established.
struct Leadership {
    /// Until when this engine may act (its last successful lease write plus TTL, minus margin).
    valid_until: Instant,
    /// Not before this (after stealing a lease).
    act_after: Instant,
}

/// The engine of one fleetd.
pub struct Engine {
    registry: Registry,
    settings: EngineSettings,
    tasks: TaskTracker,
    leadership: Option<Leadership>,
    caches: Option<Caches>,
    files: reconcile::UnitFiles,
    /// When each machine that still has state reports was first seen absent.
    absent_since: BTreeMap<String, Instant>,
    /// When the leader last looked for reports of machines gone.
    last_sweep: Option<Instant>,
    /// Machines gone within the reschedule grace.
    lost: reconcile::LostMachines,
    /// When the rebalancer last moved something.
    last_rebalance: Option<Instant>,
    /// The clocks of the rollouts this engine advances.
    rollouts: rollout::Rollouts,
    /// Where the engine's last writes are in the store, and when they were made: a pass
    /// waits for its caches to hold them, for at most one interval (a cache publishes
    /// nothing for an event that changes none of its entries, so its index may stay behind).
    written_through: (apply::WrittenThrough, Instant),
    /// When a pass first saw each unit that wants a machine and has none (for the
    /// scheduling latency; global units, placed nowhere, stay until they go inactive).
    unplaced_since: BTreeMap<String, Instant>,
}

/// Runs the engine until `shutdown`. Spawned tasks (the caches' watches) are tracked by
/// `tasks` and end with `shutdown`.
pub async fn run(
    registry: Registry,
    settings: EngineSettings,
    tasks: TaskTracker,
    shutdown: CancellationToken,
) {
    let mut engine = Engine {
        registry,
        settings,
        tasks,
        leadership: None,
        caches: None,
        files: reconcile::UnitFiles::default(),
        absent_since: BTreeMap::new(),
        last_sweep: None,
        lost: reconcile::LostMachines::default(),
        last_rebalance: None,
        rollouts: rollout::Rollouts::default(),
        written_through: (apply::WrittenThrough::default(), Instant::now()),
        unplaced_since: BTreeMap::new(),
    };
    let mut ticks = tokio::time::interval(engine.settings.interval);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let tick = tokio::select! {
            () = shutdown.cancelled() => break,
            _ = ticks.tick() => true,
            () = engine.cache_changed() => false,
        };
        if tick {
            engine.leadership_step(&shutdown).await;
            if engine.may_act() {
                engine.sweep_reports().await;
            }
        }
        if engine.may_act() {
            if let Err(error) = engine.pass().await {
                tracing::warn!(%error, "engine pass stopped");
            }
        }
        engine.show();
    }
    tracing::info!("engine stopped");
}

impl Engine {
    /// Resolves when a cache of a leading engine has a new generation; never otherwise.
    async fn cache_changed(&mut self) {
        let Some(caches) = &mut self.caches else {
            return std::future::pending().await;
        };
        let changed = tokio::select! {
            result = caches.jobs.changed() => result,
            result = caches.machines.changed() => result,
            result = caches.schedule.changed() => result,
        };
        if changed.is_err() {
            // A cache stopped (shutdown): wait for the shutdown branch.
            std::future::pending::<()>().await;
        }
    }

    fn may_act(&self) -> bool {
        let now = Instant::now();
        self.leadership
            .as_ref()
            .is_some_and(|lead| now < lead.valid_until && now >= lead.act_after)
            && self.caches.is_some()
    }

    /// One leadership step: read the version and the lease, decide, write.
    async fn leadership_step(&mut self, shutdown: &CancellationToken) {
        let started = Instant::now();
        match self.try_lead(started).await {
            Ok(Some(act_after)) => {
                let margin = self.settings.interval;
                let valid_until = started + self.settings.lease_ttl().saturating_sub(margin);
                if self.leadership.is_none() {
                    tracing::info!(machine = %self.settings.machine, "engine leads");
                }
                let act_after = self
                    .leadership
                    .as_ref()
                    .map_or(act_after, |lead| lead.act_after.max(act_after));
                self.leadership = Some(Leadership {
                    valid_until,
                    act_after,
                });
                if self.caches.is_none() {
                    self.caches = self.open_caches(shutdown);
                }
            }
            Ok(None) => self.stop_leading(),
            Err(error) => {
                tracing::warn!(%error, "engine leadership step failed");
                // Keep leading until the lease may have expired (`may_act` checks).
            }
        }
    }

    fn stop_leading(&mut self) {
        if self.leadership.take().is_some() {
            tracing::info!(machine = %self.settings.machine, "engine no longer leads");
        }
        self.caches = None;
        self.lost = reconcile::LostMachines::default();
        // The engine's series are the leader's: a follower shows none, so sums over machines
        // count each unit once.
        self.unplaced_since.clear();
        let none = [
            DesiredState::Inactive,
            DesiredState::Loaded,
            DesiredState::Launched,
        ]
        .map(|state| (state.as_str(), 0));
        self.settings.status.metrics().set_cluster(0, none, 0);
    }

    /// `Some(when it may act)` when this engine holds the lease after the step.
    async fn try_lead(&self, now: Instant) -> Result<Option<Instant>, RegistryError> {
        let own = EngineLease {
            machine: self.settings.machine.clone(),
            version: ENGINE_VERSION,
        };
        let ttl = self.settings.lease_ttl();
        for _ in 0..2 {
            let version = self.registry.engine_version().await?;
            let lease = self.registry.lease().await?;
            let step = decide(
                &own.machine,
                ENGINE_VERSION,
                version.map(|(v, _)| v),
                lease.as_ref(),
            );
            let written = match step {
                LeaseStep::RaiseVersion { .. } => {
                    let from = version.map(|(_, index)| index);
                    self.registry
                        .raise_engine_version(from, ENGINE_VERSION)
                        .await?;
                    continue;
                }
                LeaseStep::SitOut { cluster_version } => {
                    tracing::debug!(cluster_version, "a newer engine runs the cluster");
                    return Ok(None);
                }
                LeaseStep::Follow { holder } => {
                    tracing::debug!(%holder, "following the engine leader");
                    return Ok(None);
                }
                LeaseStep::Renew { revision } => {
                    self.registry.swap_lease(&own, revision, ttl).await?
                }
                LeaseStep::Acquire => self.registry.acquire_lease(&own, ttl).await?,
                LeaseStep::Steal { revision, wait } => {
                    let written = self.registry.swap_lease(&own, revision, ttl + wait).await?;
                    if written == Written::Done {
                        tracing::info!(?wait, "took the lease of an older engine");
                        return Ok(Some(now + wait));
                    }
                    written
                }
            };
            return Ok((written == Written::Done).then_some(now));
        }
        Ok(None)
    }

    fn open_caches(&self, shutdown: &CancellationToken) -> Option<Caches> {
        let token = shutdown.child_token();
        let keys = self.registry.keys();
        let reflect = |prefix: String| -> Option<Reflector> {
            let client = self.registry.client();
            match client.reflect(
                &prefix,
                ReflectorOptions::default(),
                &self.tasks,
                token.clone(),
            ) {
                Ok(reflector) => Some(reflector),
                Err(error) => {
                    tracing::error!(%error, %prefix, "cannot open the engine's cache");
                    None
                }
            }
        };
        let jobs = reflect(keys.jobs())?;
        let machines = reflect(keys.machines())?;
        let schedule = reflect(keys.schedules())?;
        Some(Caches {
            token,
            jobs: jobs.subscribe(),
            machines: machines.subscribe(),
            schedule: schedule.subscribe(),
        })
    }

    /// One scheduling pass over the caches as they are now.
    async fn pass(&mut self) -> Result<(), RegistryError> {
        let started = Instant::now();
        let Some(caches) = &self.caches else {
            return Ok(());
        };
        let (jobs, machines, schedule) = (
            caches.jobs.borrow().clone(),
            caches.machines.borrow().clone(),
            caches.schedule.borrow().clone(),
        );
        if !(jobs.is_synced() && machines.is_synced() && schedule.is_synced()) {
            tracing::debug!("engine caches not synced; pass skipped");
            return Ok(());
        }
        let (through, written_at) = self.written_through;
        if !through.held_by(jobs.index(), schedule.index())
            && written_at.elapsed() < self.settings.interval
        {
            tracing::debug!("engine caches behind the engine's own writes; pass waits");
            return Ok(());
        }
        let keys = self.registry.keys().clone();
        let jobs = logged(view::jobs(&keys, pairs(&jobs)));
        let machines = logged(view::machines(&keys, pairs(&machines)));
        let index = logged(view::schedules(&keys, pairs(&schedule)));
        self.observe_cluster(&jobs, machines.len());
        self.fetch_files(&jobs).await?;
        if self.scale_templates(&jobs).await? {
            // The caches bring the created or removed instances; the next pass plans them.
            return Ok(());
        }
        if self.advance_rollouts(&jobs, &index).await? {
            // Targets moved to a new file: the next pass plans them.
            return Ok(());
        }
        let lost = self
            .lost
            .update(&machines, Instant::now(), self.settings.reschedule_grace);
        let (mut snapshot, skipped) = reconcile::snapshot(&jobs, &machines, &mut self.files);
        reconcile::add_lost(&mut snapshot, &lost);
        for skip in &skipped {
            tracing::warn!(unit = %skip.unit, why = %skip.why, "unit left out of scheduling");
        }
        let mut planned = plan(&snapshot);
        if planned.decisions.is_empty() && skipped.is_empty() {
            if let Some(moves) = self.rebalance(&snapshot) {
                planned = moves;
            }
        }
        log_decisions(&planned.decisions);
        let rolling = rollout::rolling_hashes(&jobs);
        let writes = reconcile::writes(&planned, &snapshot, &jobs, &index, &skipped, &rolling);
        let present: BTreeSet<MachineId> = machines.keys().cloned().collect();
        let writes = self.hold_back(writes, &present).await?;
        let through = self.execute(writes).await?;
        if through != apply::WrittenThrough::default() {
            self.written_through = (self.written_through.0.max(through), Instant::now());
        }
        self.settings.status.metrics().reconciled(started.elapsed());
        Ok(())
    }

    /// The metrics of what a pass sees: machines, units by desired state and pending, and
    /// the scheduling latency of each unit placed since the last pass.
    fn observe_cluster(&mut self, jobs: &BTreeMap<String, view::JobView>, machines: usize) {
        let metrics = self.settings.status.metrics();
        let count = |state: DesiredState| jobs.values().filter(|job| job.desired == state).count();
        let by_state = [
            DesiredState::Inactive,
            DesiredState::Loaded,
            DesiredState::Launched,
        ]
        .map(|state| (state.as_str(), count(state)));
        let pending = jobs.values().filter(|job| job.pending.is_some()).count();
        metrics.set_cluster(machines, by_state, pending);
        let now = Instant::now();
        self.unplaced_since
            .retain(|unit, since| match jobs.get(unit) {
                Some(job) if job.desired == DesiredState::Inactive => false,
                Some(job) if job.target.is_some() => {
                    metrics.scheduled(now.saturating_duration_since(*since));
                    false
                }
                Some(_) => true,
                None => false,
            });
        for job in jobs.values() {
            if job.desired != DesiredState::Inactive && job.target.is_none() {
                self.unplaced_since.entry(job.name.clone()).or_insert(now);
            }
        }
    }

    /// Puts the engine's state into the SIGUSR1 dump and its leadership into the metrics.
    fn show(&self) {
        self.settings
            .status
            .metrics()
            .set_leading(self.leadership.is_some());
        self.settings.status.set(
            "engine",
            serde_json::json!({
                "machine": self.settings.machine.as_str(),
                "leading": self.leadership.is_some(),
                "unitFilesCached": self.files.files.len(),
                "unitsParsed": self.files.parsed_len(),
                "machinesAbsentWithReports": self.absent_since.len(),
            }),
        );
    }

    /// Deletes the state reports of machines absent for longer than `agent_ttl`, looking at
    /// most every half `agent_ttl` (one read of `states/`). Each is deleted only at the index
    /// it was read at: a machine that came back meanwhile and wrote again keeps its report.
    async fn sweep_reports(&mut self) {
        let now = Instant::now();
        let due = self
            .last_sweep
            .is_none_or(|last| now - last >= self.settings.agent_ttl / 2);
        let Some(caches) = self.caches.as_ref().filter(|_| due) else {
            return;
        };
        let machines = caches.machines.borrow().clone();
        if !machines.is_synced() {
            return;
        }
        self.last_sweep = Some(now);
        let keys = self.registry.keys().clone();
        let present: BTreeSet<String> = logged(view::machines(&keys, pairs(&machines)))
            .into_keys()
            .map(|id| id.to_string())
            .collect();
        let reports = match self.registry.indexed_states().await {
            Ok(reports) => reports,
            Err(error) => {
                tracing::debug!(%error, "state reports not swept");
                return;
            }
        };
        let grace = self.settings.agent_ttl;
        let stale =
            reconcile::stale_reports(&reports, &present, &mut self.absent_since, now, grace);
        for (unit, machine) in stale {
            let (Ok(id), Some(at)) = (
                MachineId::parse(&machine),
                reports.get(&(unit.clone(), machine.clone())),
            ) else {
                continue;
            };
            tracing::info!(%unit, %machine, "removing the state report of a machine gone");
            match self.registry.remove_state_at(&unit, &id, at.index).await {
                Ok(Written::Done) => {}
                Ok(Written::Lost) => {
                    tracing::debug!(%unit, %machine, "state report rewritten; kept")
                }
                Err(error) => {
                    tracing::debug!(%error, "state report not removed yet");
                    return;
                }
            }
        }
    }

    /// Reads the files of `jobs` not cached yet, up to [`FILE_READS_IN_FLIGHT`] at once
    /// (a new engine meets every file at once).
    async fn fetch_files(
        &mut self,
        jobs: &BTreeMap<String, view::JobView>,
    ) -> Result<(), RegistryError> {
        use futures_util::{StreamExt as _, TryStreamExt as _};
        let missing: BTreeSet<UnitHash> = jobs
            .values()
            .map(|job| job.hash)
            .filter(|hash| !self.files.files.contains_key(hash))
            .collect();
        let registry = &self.registry;
        let fetched: Vec<(UnitHash, Option<UnitFile>)> =
            futures_util::stream::iter(missing)
                .map(|hash| async move {
                    Ok::<_, RegistryError>((hash, registry.unit_file(&hash).await?))
                })
                .buffer_unordered(FILE_READS_IN_FLIGHT)
                .try_collect()
                .await?;
        for (hash, file) in fetched {
            if let Some(file) = file {
                self.files.files.insert(hash, file);
            }
        }
        Ok(())
    }

    /// The rebalancer's moves for a settled `snapshot`, when it is on and its interval has
    /// passed since it last moved anything.
    fn rebalance(&mut self, snapshot: &fleet_core::model::ClusterSnapshot) -> Option<Plan> {
        let settings = &self.settings;
        if settings.rebalance_moves == 0 {
            return None;
        }
        let now = Instant::now();
        if self
            .last_rebalance
            .is_some_and(|last| now.duration_since(last) < settings.rebalance_interval)
        {
            return None;
        }
        let moves = rebalance(snapshot, settings.rebalance_moves);
        if moves.decisions.is_empty() {
            return None;
        }
        self.last_rebalance = Some(now);
        Some(moves)
    }

    /// Brings every template with a replica count to that many numbered instances: creates
    /// the missing ones (the template's file, desired `launched`) and destroys the surplus,
    /// highest numbers first. Whether anything was written.
    async fn scale_templates(
        &self,
        jobs: &BTreeMap<String, view::JobView>,
    ) -> Result<bool, RegistryError> {
        let mut wrote = false;
        for (name, template, count, hash) in jobs.values().filter_map(|job| {
            let template = UnitName::parse(&job.name)
                .ok()
                .filter(UnitName::is_template)?;
            Some((&job.name, template, job.replicas?, job.hash))
        }) {
            let step = scale(&template, count, jobs.keys().map(String::as_str));
            if step.create.is_empty() && step.remove.is_empty() {
                continue;
            }
            let Some(file) = self.files.files.get(&hash) else {
                tracing::warn!(template = %name, "template file not in the registry; not scaled");
                continue;
            };
            for instance in &step.create {
                if !self.may_act() {
                    return Ok(wrote);
                }
                tracing::info!(%instance, count, "scale: creating instance");
                self.registry
                    .create_unit(instance, file, DesiredState::Launched)
                    .await?;
                wrote = true;
            }
            for instance in &step.remove {
                if !self.may_act() {
                    return Ok(wrote);
                }
                tracing::info!(%instance, count, "scale: destroying instance");
                self.registry.destroy_unit(instance).await?;
                wrote = true;
            }
        }
        Ok(wrote)
    }

    /// Sends the pass's writes ([`apply`]): stage by stage, each stage's writes
    /// concurrently; stops at a lost placement or when the lease may have expired.
    /// Returns where the writes that went through are in the store.
    async fn execute(&self, writes: Vec<Write>) -> Result<apply::WrittenThrough, RegistryError> {
        let through = std::sync::Mutex::new(apply::WrittenThrough::default());
        for stage in apply::stages(writes) {
            if !self.execute_stage(stage, &through).await? {
                break;
            }
        }
        Ok(through
            .into_inner()
            .unwrap_or_else(std::sync::PoisonError::into_inner))
    }

    /// One stage's writes in batches of [`apply::BATCH_WRITES`], up to
    /// [`apply::BATCHES_IN_FLIGHT`] at once; whether the pass goes on. A lost placement, or
    /// a lease that may have expired, starts no further batch.
    async fn execute_stage(
        &self,
        stage: Vec<Write>,
        through: &std::sync::Mutex<apply::WrittenThrough>,
    ) -> Result<bool, RegistryError> {
        use futures_util::StreamExt;
        let stopped = std::sync::atomic::AtomicBool::new(false);
        let stopped = &stopped;
        let batches: Vec<Vec<Write>> = stage
            .chunks(apply::BATCH_WRITES)
            .map(<[Write]>::to_vec)
            .collect();
        let mut results = futures_util::stream::iter(batches)
            .map(|batch| async move {
                if stopped.load(std::sync::atomic::Ordering::Relaxed) {
                    return Ok::<(), RegistryError>(());
                }
                if !self.may_act() {
                    tracing::warn!("engine lease may have expired; pass stopped");
                    stopped.store(true, std::sync::atomic::Ordering::Relaxed);
                    return Ok(());
                }
                tracing::debug!(writes = batch.len(), "engine writes");
                let outcomes = self.registry.write_all(&batch).await?;
                {
                    let mut through = through
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner);
                    for (write, outcome) in batch.iter().zip(&outcomes) {
                        if let Some(index) = outcome.index {
                            through.note(write, index);
                        }
                    }
                }
                let lost = batch
                    .iter()
                    .zip(&outcomes)
                    .find(|(_, outcome)| outcome.written == Written::Lost);
                if let Some((write, _)) = lost {
                    tracing::info!(?write, "placement changed under the engine; pass stopped");
                    stopped.store(true, std::sync::atomic::Ordering::Relaxed);
                }
                Ok(())
            })
            .buffer_unordered(apply::BATCHES_IN_FLIGHT);
        while let Some(result) = results.next().await {
            result?;
        }
        Ok(!stopped.load(std::sync::atomic::Ordering::Relaxed))
    }
}

/// Unit file reads in flight at once while the engine fills its file cache.
const FILE_READS_IN_FLIGHT: usize = 64;

/// A cache's files as the registry's decoders read them.
fn pairs(cache: &Cache) -> impl Iterator<Item = (&str, &str)> {
    cache
        .entries()
        .map(|(key, entry)| (key, entry.value.as_str()))
}

fn logged<T>(decoded: view::Decoded<T>) -> T {
    for problem in decoded.problems {
        tracing::warn!(key = %problem.key, error = %problem.error, "unreadable registry value");
    }
    decoded.items
}

fn log_decisions(decisions: &[Decision]) {
    for decision in decisions {
        match decision {
            Decision::Unplace {
                unit,
                machine,
                reason,
            } => tracing::info!(%unit, %machine, %reason, "unscheduling unit"),
            Decision::Place { unit, machine } => {
                tracing::info!(%unit, %machine, "scheduling unit");
            }
            Decision::Unplaceable { unit, refusals } => {
                tracing::debug!(%unit, refusals = refusals.len(), "unit cannot be placed");
            }
        }
    }
}
