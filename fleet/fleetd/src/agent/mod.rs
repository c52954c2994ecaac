//! The agent: makes this machine's systemd run what the engine put in this machine's index
//! (`schedule/<machine>/`), and reports what systemd says.
//!
//! It keeps a watch-fed cache of its own index only, never of the whole registry. A round
//! runs when the index changes and every `interval`: the index and systemd's unit files →
//! `fleet_core::agent_plan::plan` → tasks, each under a deadline, one at a time. Before a
//! start, the unit's `Cpu=`/`Memory=` requests become its systemd limits (`CPUQuota=`,
//! `MemoryMax=`, as a runtime drop-in). A batch job is started only if it has not run since
//! it was loaded, and the end of its run is recorded ([`batch`]). A unit that stops when
//! cut off is stopped once this machine's presence has gone unrefreshed too long, and
//! started only after a fencing read of its entry ([`cut_off`]). Unit state
//! arrives from systemd's signals (the `Systemd` port's subscription) and is published to
//! Keel when it changes ([`report`]); a report that cannot be written is retried. Every
//! report write and removal is conditional on what the agent last learnt of the key
//! ([`ledger`]), so a late copy of an earlier write cannot undo a newer one; a report is
//! removed once its unit is neither in the index nor in the units directory.
//!
//! Invariants: no round runs while the index cache is not synced, so with Keel unreachable
//! nothing is started or stopped and running units keep running; when Keel returns the cache
//! resyncs and the next round reconciles. Leaving the loop (shutdown, restart) touches no
//! unit: a restarted fleetd finds its units loaded and running and plans nothing for them.

mod batch;
mod cut_off;
pub mod dns;
pub mod ledger;
pub mod presence;
mod publish;
pub mod report;

use crate::status::Status;
use fleet_core::agent_plan::{plan, Task, WantedUnit};
use fleet_core::model::MachineId;
use fleet_core::name::UnitName;
use fleet_core::options::parse_x_fleet;
use fleet_core::ports::{StateChange, Systemd, SystemdError, UnitState};
use fleet_core::resources::SystemdLimits;
use fleet_core::unit_file::{UnitFile, UnitHash};
use fleet_registry::{view, Registry};
use futures_util::StreamExt;
use kv_client::{Cache, ReflectorOptions, StoreIndex};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// How the agent runs.
#[derive(Debug, Clone)]
pub struct AgentSettings {
    /// This machine.
    pub machine: MachineId,
    /// Time between periodic rounds (fleet's agent reconciles every 5 s).
    pub interval: Duration,
    /// How long one systemd task may take before the round gives up on it.
    pub task_deadline: Duration,
    /// `agent_ttl`: how long this machine's presence key lives after each write.
    pub agent_ttl: Duration,
    /// Where the agent shows its state for the SIGUSR1 dump.
    pub status: Status,
    /// Where units with an `[X-Discovery]` section are published ([`dns`]); `None`: not.
    pub dns: Option<dns::DnsSettings>,
}

/// Why the agent could not start.
#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    /// The index cache could not be opened.
    #[error("cannot watch this machine's index: {0}")]
    Cache(#[from] kv_client::ConfigError),
}

struct Agent<'a, S: Systemd> {
    registry: Registry,
    systemd: &'a S,
    settings: AgentSettings,
    /// What the index asked for in the last round that ran.
    wanted: BTreeMap<String, WantedUnit>,
    /// systemd's last state of each watched unit.
    states: BTreeMap<String, UnitState>,
    /// What Keel holds under each report key, as far as this agent knows.
    ledger: ledger::Ledger,
    /// The units in this machine's units directory: their reports stay until they are
    /// unloaded.
    resident: BTreeSet<String>,
    files: HashMap<UnitHash, UnitFile>,
    /// The batch jobs whose run on this file, in this attempt, the registry has recorded
    /// ([`batch`]).
    recorded: BTreeMap<String, (UnitHash, u32)>,
    /// When the last successful presence write was sent ([`presence`]).
    fresh: watch::Receiver<Option<Instant>>,
    /// When this agent started.
    started: Instant,
    /// The current cut-off has been acted on ([`cut_off`]).
    stopped_when_cut_off: bool,
    /// The `modifiedIndex` of each cached entry of a unit that stops when cut off: its
    /// fencing token.
    fences: BTreeMap<String, StoreIndex>,
    /// The reports an earlier run of this machine left behind are in the ledger.
    adopted: bool,
    /// Something changed (a round ran, systemd sent a state) since the last publish that
    /// went through: Keel's reports and the status dump may be behind. A wake-up with
    /// nothing new (a presence write, a quiet tick) publishes nothing and builds no dump.
    unsettled: bool,
    /// The status dump is behind what the agent knows since this instant.
    unshown_since: Option<Instant>,
    /// The DNS records this agent wrote, by unit ([`dns`]).
    dns: BTreeMap<String, dns::Published>,
    /// Unit files whose `[X-Discovery]` section was refused (logged once each).
    dns_refused: std::collections::HashSet<UnitHash>,
}

/// The status dump follows the agent at most this far behind: building it on every state
/// change took a tenth of a thousand simulated agents' CPU.
const SHOW_EVERY: Duration = Duration::from_secs(1);

/// Runs the agent until `shutdown`.
///
/// # Errors
/// The index cache could not be opened (a bad prefix).
pub async fn run<S: Systemd>(
    registry: Registry,
    systemd: &S,
    settings: AgentSettings,
    fresh: watch::Receiver<Option<Instant>>,
    tasks: &TaskTracker,
    shutdown: CancellationToken,
) -> Result<(), AgentError> {
    let prefix = registry.keys().schedule(&settings.machine);
    let index = registry.client().reflect(
        &prefix,
        ReflectorOptions::default(),
        tasks,
        shutdown.child_token(),
    )?;
    let mut index = index.subscribe();
    let mut ticks = tokio::time::interval(settings.interval);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut agent = Agent {
        registry,
        systemd,
        settings,
        wanted: BTreeMap::new(),
        states: BTreeMap::new(),
        ledger: ledger::Ledger::default(),
        resident: BTreeSet::new(),
        files: HashMap::new(),
        recorded: BTreeMap::new(),
        fresh: fresh.clone(),
        started: Instant::now(),
        stopped_when_cut_off: false,
        fences: BTreeMap::new(),
        adopted: false,
        unsettled: true,
        unshown_since: None,
        dns: BTreeMap::new(),
        dns_refused: std::collections::HashSet::new(),
    };
    let mut fresh_changes = Some(fresh);
    let mut changes: Option<S::StateChanges> = None;
    loop {
        if changes.is_none() {
            changes = agent.subscribe().await;
        }
        let cut_off = agent.cut_off_deadline();
        let show_at = agent.unshown_since.map(|since| since + SHOW_EVERY);
        let round = tokio::select! {
            () = shutdown.cancelled() => break,
            () = sleep_until(show_at) => false,
            result = index.changed() => result.is_ok(),
            _ = ticks.tick() => true,
            changed = next_fresh(&mut fresh_changes) => {
                if changed {
                    agent.on_fresh();
                } else {
                    // Presence stopped (the generation ends): nothing more to follow.
                    fresh_changes = None;
                }
                false
            }
            () = sleep_until(cut_off) => {
                agent.stop_when_cut_off().await;
                false
            }
            change = next_change(&mut changes) => {
                match change {
                    Some(Ok(change)) => agent.on_change(change),
                    Some(Err(error)) => {
                        tracing::warn!(%error, "systemd subscription ended");
                        changes = None;
                        false
                    }
                    None => {
                        changes = None;
                        false
                    }
                }
            }
        };
        if round {
            let cache = index.borrow_and_update().clone();
            agent.round(&cache).await;
        }
        let dns_due = round || agent.unsettled;
        if agent.unsettled {
            agent.publish().await;
            agent.unshown_since.get_or_insert_with(Instant::now);
        }
        if dns_due {
            agent.publish_dns().await;
        }
        if agent
            .unshown_since
            .is_some_and(|since| since.elapsed() >= SHOW_EVERY)
        {
            agent.show(&index.borrow());
        }
    }
    tracing::info!("agent stopped; units keep running");
    Ok(())
}

/// Whether presence sent a new value; `false` once it stopped. Never resolves for `None`.
async fn next_fresh(fresh: &mut Option<watch::Receiver<Option<Instant>>>) -> bool {
    match fresh {
        Some(fresh) => fresh.changed().await.is_ok(),
        None => std::future::pending().await,
    }
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline).await,
        None => std::future::pending().await,
    }
}

async fn next_change<T: futures_util::Stream + Unpin>(stream: &mut Option<T>) -> Option<T::Item> {
    match stream {
        Some(stream) => stream.next().await,
        None => std::future::pending().await,
    }
}

impl<S: Systemd> Agent<'_, S> {
    async fn subscribe(&self) -> Option<S::StateChanges> {
        let deadline = self.settings.task_deadline;
        match tokio::time::timeout(deadline, self.systemd.subscribe()).await {
            Ok(Ok(stream)) => Some(stream),
            Ok(Err(error)) => {
                tracing::warn!(%error, "cannot subscribe to systemd");
                None
            }
            Err(_) => {
                tracing::warn!(?deadline, "systemd subscription timed out");
                None
            }
        }
    }

    /// Keeps the new state; whether a round should follow: a wanted batch job stopped
    /// running, so its run is recorded now rather than at the next tick.
    fn on_change(&mut self, change: StateChange) -> bool {
        let batch_ended = !change.state.is_running()
            && self.wanted.get(&change.name).is_some_and(|want| want.batch);
        self.states.insert(change.name, change.state);
        self.unsettled = true;
        batch_ended
    }

    /// One reconciliation round against the index as cached.
    async fn round(&mut self, cache: &Arc<Cache>) {
        self.unsettled = true;
        if !cache.is_synced() {
            tracing::debug!(health = ?cache.health(), "index not synced; nothing is started or stopped");
            return;
        }
        self.wanted = self.wanted_from(cache);
        self.fences = self.fences_from(cache);
        let mut local = match self.with_deadline(self.systemd.local_units()).await {
            Ok(local) => local,
            Err(error) => {
                tracing::warn!(%error, "cannot read this machine's units");
                return;
            }
        };
        self.resident = local.keys().cloned().collect();
        let watched: BTreeSet<String> = self.wanted.keys().chain(local.keys()).cloned().collect();
        if let Err(error) = self.systemd.watch_units(&watched) {
            tracing::warn!(%error, "cannot watch this machine's units");
        }
        self.note_batch_runs(&mut local).await;
        for task in plan(&self.wanted, &local) {
            if let Task::Start(name) = &task {
                if !self.may_start(name).await {
                    continue;
                }
            }
            if let Err(error) = self.execute(&task).await {
                tracing::warn!(?task, %error, "task failed; retried next round");
            }
        }
        if !self.adopted {
            self.adopt_left_behind().await;
        }
        self.recheck_late_creates().await;
    }

    fn wanted_from(&self, cache: &Cache) -> BTreeMap<String, WantedUnit> {
        let pairs = cache
            .entries()
            .map(|(key, entry)| (key, entry.value.as_str()));
        let decoded = view::schedules(self.registry.keys(), pairs);
        for problem in &decoded.problems {
            tracing::warn!(key = %problem.key, error = %problem.error, "unreadable index entry");
        }
        let mut items = decoded.items;
        items
            .remove(self.settings.machine.as_str())
            .unwrap_or_default()
            .into_iter()
            .map(|(unit, entry)| {
                let want = WantedUnit {
                    hash: entry.hash,
                    desired: entry.desired,
                    triggered: entry.triggered,
                    batch: entry.batch,
                    attempt: entry.attempt,
                    stop_when_cut_off: entry.stop_when_cut_off,
                };
                (unit, want)
            })
            .collect()
    }

    /// The fencing tokens of the wanted units that stop when cut off: their entries'
    /// `modifiedIndex` in `cache`.
    fn fences_from(&self, cache: &Cache) -> BTreeMap<String, StoreIndex> {
        let keys = self.registry.keys();
        self.wanted
            .iter()
            .filter(|(_, want)| want.stop_when_cut_off)
            .filter_map(|(name, _)| {
                let entry = cache.get(&keys.schedule_entry(&self.settings.machine, name))?;
                Some((name.clone(), entry.modified_index))
            })
            .collect()
    }

    async fn with_deadline<T>(
        &self,
        future: impl std::future::Future<Output = Result<T, SystemdError>>,
    ) -> Result<T, TaskError> {
        match tokio::time::timeout(self.settings.task_deadline, future).await {
            Ok(result) => result.map_err(TaskError::Systemd),
            Err(_) => Err(TaskError::Deadline(self.settings.task_deadline)),
        }
    }

    async fn execute(&mut self, task: &Task) -> Result<(), TaskError> {
        tracing::info!(?task, "agent task");
        match task {
            Task::Load(name) => {
                let file = self.file(name).await?;
                self.with_deadline(self.systemd.load_unit(name, &file))
                    .await?;
                self.resident.insert(name.clone());
                Ok(())
            }
            Task::Unload(name) => {
                self.with_deadline(self.systemd.unload_unit(name)).await?;
                self.states.remove(name);
                self.resident.remove(name);
                Ok(())
            }
            Task::Reload => self.with_deadline(self.systemd.reload()).await,
            Task::Start(name) => {
                let limits = self.limits(name).await?;
                self.with_deadline(self.systemd.set_limits(name, limits))
                    .await?;
                self.with_deadline(self.systemd.start_unit(name)).await
            }
            Task::Stop(name) => self.with_deadline(self.systemd.stop_unit(name)).await,
        }
    }

    /// The file of a wanted unit, from Keel the first time its hash is seen.
    async fn file(&mut self, name: &str) -> Result<UnitFile, TaskError> {
        let hash = self
            .wanted
            .get(name)
            .map(|want| want.hash)
            .ok_or_else(|| TaskError::NotWanted(name.to_owned()))?;
        if let Some(file) = self.files.get(&hash) {
            return Ok(file.clone());
        }
        let file = self
            .registry
            .unit_file(&hash)
            .await
            .map_err(TaskError::Registry)?
            .ok_or(TaskError::MissingFile(hash))?;
        self.files.insert(hash, file.clone());
        Ok(file)
    }

    /// The systemd limits of a wanted unit: its `[X-Fleet]` `Cpu=`/`Memory=` requests. A
    /// file whose section no longer parses (it was accepted when submitted) gets none.
    async fn limits(&mut self, name: &str) -> Result<SystemdLimits, TaskError> {
        let file = self.file(name).await?;
        let requests = UnitName::parse(name)
            .ok()
            .and_then(|unit| parse_x_fleet(&unit, &file).ok())
            .map(|options| options.requirements.requests)
            .unwrap_or_default();
        Ok(SystemdLimits::for_requests(requests))
    }

    /// Puts the agent's state into the SIGUSR1 dump.
    fn show(&mut self, index: &Cache) {
        self.unshown_since = None;
        let wanted: serde_json::Map<String, serde_json::Value> = self
            .wanted
            .iter()
            .map(|(unit, want)| {
                let value = serde_json::json!({
                    "hash": want.hash.to_hex(),
                    "desiredState": want.desired.as_str(),
                });
                (unit.clone(), value)
            })
            .collect();
        let systemd: serde_json::Map<String, serde_json::Value> = self
            .states
            .iter()
            .map(|(unit, state)| {
                let value = serde_json::json!({
                    "loadState": state.load_state,
                    "activeState": state.active_state,
                    "subState": state.sub_state,
                });
                (unit.clone(), value)
            })
            .collect();
        let published: Vec<&String> = self.ledger.held().collect();
        self.settings.status.set(
            "agent",
            serde_json::json!({
                "machine": self.settings.machine.as_str(),
                "index": {"synced": index.is_synced(), "storeIndex": index.index().0},
                "wanted": wanted,
                "systemd": systemd,
                "published": published,
            }),
        );
    }
}

/// Takes this machine out of the cluster on purpose: removes its presence (the engine
/// reschedules its units elsewhere at once), then unloads every unit in the units directory
/// and removes their state reports. Each step is bounded by `deadline`; failures are logged
/// and the rest goes on.
pub async fn drain<S: Systemd>(
    registry: &Registry,
    systemd: &S,
    machine: &MachineId,
    deadline: Duration,
) {
    match tokio::time::timeout(deadline, registry.withdraw(machine)).await {
        Ok(Ok(())) => tracing::info!("drain: machine withdrawn"),
        Ok(Err(error)) => tracing::warn!(%error, "drain: cannot withdraw this machine"),
        Err(_) => tracing::warn!(?deadline, "drain: withdrawing timed out"),
    }
    let local = match tokio::time::timeout(deadline, systemd.local_units()).await {
        Ok(Ok(local)) => local,
        Ok(Err(error)) => {
            tracing::warn!(%error, "drain: cannot list this machine's units");
            return;
        }
        Err(_) => {
            tracing::warn!(?deadline, "drain: listing units timed out");
            return;
        }
    };
    for name in local.keys() {
        match tokio::time::timeout(deadline, systemd.unload_unit(name)).await {
            Ok(Ok(())) => tracing::info!(unit = %name, "drain: unit unloaded"),
            Ok(Err(error)) => tracing::warn!(unit = %name, %error, "drain: cannot unload"),
            Err(_) => tracing::warn!(unit = %name, "drain: unloading timed out"),
        }
        if let Err(error) = registry.remove_state(name, machine).await {
            tracing::warn!(unit = %name, %error, "drain: state report left behind");
        }
    }
}

/// Why one task failed.
#[derive(Debug, thiserror::Error)]
enum TaskError {
    #[error(transparent)]
    Systemd(SystemdError),
    #[error("no answer from systemd within {0:?}")]
    Deadline(Duration),
    #[error(transparent)]
    Registry(fleet_registry::RegistryError),
    #[error("unit file {} is not in the registry", .0.to_hex())]
    MissingFile(UnitHash),
    #[error("{0} is not in this machine's index")]
    NotWanted(String),
}
