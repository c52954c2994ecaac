//! `fleet-bench agents`: simulated machines against a real Keel cluster. One process runs
//! one engine and, per machine, fleetd's own presence task and agent (`fleetd::agent`) on a
//! modelled systemd (`fleet_sim`), each with its own `kv-client` connection.
//!
//! Phases, each bounded by `--deadline`: every machine present; every unit submitted
//! (`--units` instances of one template, created through the registry as the API does) and
//! reported `active`; a steady window with nothing changing; one machine lost (its agent and
//! presence stopped) until its presence key expires, then until its units are reported
//! active elsewhere. For each phase Keel's
//! store counters (`/v2/stats/store`, summed over the members for reads, the leader's for
//! writes) give the requests made. Prints one JSON object. A benchmark: nothing asserted.

use crate::progress::{Count, Progress};
use crate::running::Running;
use anyhow::{bail, Context, Result};
use fleet_core::model::MachineId;
use fleet_core::resources::Resources;
use fleet_core::unit_file::UnitFile;
use fleet_registry::wire::MachineObject;
use fleet_registry::Registry;
use fleet_sim::{Model, SimHost};
use fleetd::agent::{self, presence, AgentSettings};
use fleetd::engine::{self, EngineSettings};
use fleetd::status::Status;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tokio::sync::watch;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// What `agents` runs.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Simulated machines.
    pub machines: usize,
    /// Units to submit.
    pub units: usize,
    /// Keel members.
    pub members: usize,
    /// The agents' presence TTL.
    pub agent_ttl: Duration,
    /// The steady window.
    pub steady: Duration,
    /// The bound of each phase.
    pub deadline: Duration,
    /// Units submitted at once.
    pub submit_parallel: usize,
}

const TEMPLATE: &str = "[Service]\nExecStart=/bin/sleep 100000\n[X-Fleet]\nCpu=10m\nMemory=16M\n";

/// Runs the benchmark and prints its JSON line.
///
/// # Errors
/// A phase that does not finish within the deadline, or Keel refusing the setup.
pub fn run(settings: &Settings) -> Result<()> {
    let progress = Progress::stderr(8);
    let progress = &progress;
    crate::keel::run(settings.members, progress, |urls| async move {
        bench(settings, &urls, progress).await
    })
}

/// Counts `done` of `of` things (`what`) on `progress`.
fn count(progress: &Progress, done: usize, of: usize, what: &'static str) {
    progress.count(Count {
        done: done as u64,
        of: of as u64,
        what,
    });
}

/// Starts the engine and the simulated machines.
fn start(
    settings: &Settings,
    urls: &[String],
    tasks: &TaskTracker,
    shutdown: &CancellationToken,
) -> Result<Vec<Machine>> {
    let engine_settings = EngineSettings {
        machine: MachineId::parse("e0").context("engine ID")?,
        interval: Duration::from_secs(1),
        agent_ttl: settings.agent_ttl,
        reschedule_grace: Duration::ZERO,
        rebalance_moves: 0,
        rebalance_interval: Duration::from_secs(60),
        status: Status::default(),
    };
    tasks.spawn(engine::run(
        crate::keel::registry(urls)?,
        engine_settings,
        tasks.clone(),
        shutdown.child_token(),
    ));
    (0..settings.machines)
        .map(|number| spawn_machine(number, urls, settings, tasks, shutdown))
        .collect()
}

/// Waits out the steady window, counting its seconds on `progress`.
async fn steady_window(window: Duration, progress: &Progress) {
    let end = Instant::now() + window;
    loop {
        let left = end.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return;
        }
        tokio::time::sleep(left.min(Duration::from_secs(1))).await;
        progress.count(Count {
            done: (window - end.saturating_duration_since(Instant::now())).as_secs(),
            of: window.as_secs(),
            what: "s",
        });
    }
}

/// One simulated machine: its ID and the token that ends its agent and presence.
struct Machine {
    id: MachineId,
    stop: CancellationToken,
}

fn spawn_machine(
    number: usize,
    urls: &[String],
    settings: &Settings,
    tasks: &TaskTracker,
    shutdown: &CancellationToken,
) -> Result<Machine> {
    let id = MachineId::parse(&format!("{:032x}", number + 1)).context("machine ID")?;
    let object = MachineObject {
        id: id.clone(),
        public_ip: format!(
            "10.{}.{}.{}",
            number / 65_536 % 256,
            number / 256 % 256,
            number % 256
        ),
        metadata: BTreeMap::new(),
        engine_disabled: true,
        version: "sim".to_owned(),
        api_url: None,
        capacity: Some(Resources {
            cpu_millis: 8_000,
            memory_bytes: 32 << 30,
        }),
        cordoned: false,
    };
    let stop = shutdown.child_token();
    let (registered, _) = watch::channel(false);
    let (fresh, fresh_rx) = watch::channel(None);
    let ttl = settings.agent_ttl;
    tasks.spawn(presence::run(
        crate::keel::registry(urls)?,
        object,
        ttl,
        registered,
        fresh,
        stop.clone(),
    ));
    let agent_settings = AgentSettings {
        machine: id.clone(),
        interval: Duration::from_secs(5),
        task_deadline: Duration::from_secs(30),
        agent_ttl: ttl,
        status: Status::default(),
        dns: None,
    };
    let agent_registry = crate::keel::registry(urls)?;
    let (agent_stop, agent_tasks) = (stop.clone(), tasks.clone());
    tasks.spawn(async move {
        let systemd = SimHost::new(Model::default()).connect();
        let ran = agent::run(
            agent_registry,
            &systemd,
            agent_settings,
            fresh_rx,
            &agent_tasks,
            agent_stop,
        )
        .await;
        if let Err(error) = ran {
            eprintln!("agent stopped: {error}");
        }
    });
    Ok(Machine { id, stop })
}

/// Waits until `done` holds, reading every tenth of a second, within `deadline`.
async fn until<F, Fut>(what: &str, deadline: Duration, mut done: F) -> Result<Duration>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<bool>>,
{
    let started = Instant::now();
    loop {
        if done().await? {
            return Ok(started.elapsed());
        }
        if started.elapsed() > deadline {
            bail!("{what}: not within {deadline:?}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The benchmark's own reads of Keel, left out of the phases' counts.
static OWN_READS: AtomicU64 = AtomicU64::new(0);

fn own_reads() -> u64 {
    OWN_READS.load(Ordering::Relaxed)
}

/// How many machines are present (one read).
async fn present(registry: &Registry) -> Result<BTreeMap<MachineId, MachineObject>> {
    OWN_READS.fetch_add(1, Ordering::Relaxed);
    Ok(registry.machines().await.context("machines")?.items)
}

async fn bench(settings: &Settings, urls: &[String], progress: &Progress) -> Result<Value> {
    let shutdown = CancellationToken::new();
    let tasks = TaskTracker::new();
    let watcher = crate::keel::registry(urls)?;
    let machines = start(settings, urls, &tasks, &shutdown)?;
    progress.phase("machines present");
    let all_present = until("machines present", settings.deadline, || async {
        let present = present(&watcher).await?.len();
        count(progress, present, settings.machines, "machines");
        Ok(present >= settings.machines)
    })
    .await?;

    progress.phase("follow the state reports");
    let mut running =
        Running::follow(crate::keel::registry(urls)?, &tasks, shutdown.child_token())?;
    running
        .until("the state reports followed", settings.deadline, |_| true)
        .await?;
    let before = crate::stats::read(urls, own_reads()).await?;
    let started = Instant::now();
    progress.phase("submit units");
    submit(&watcher, settings.units, settings.submit_parallel, progress).await?;
    let submitted = started.elapsed();
    progress.phase("units running");
    running
        .until("units running", settings.deadline, |active| {
            count(progress, active.len(), settings.units, "units");
            active.len() >= settings.units
        })
        .await?;
    let all_running = started.elapsed();
    let placed = crate::stats::read(urls, own_reads()).await?;

    progress.phase("steady window");
    steady_window(settings.steady, progress).await;
    let steady = crate::stats::read(urls, own_reads()).await?;

    let loss = lose_machine(&machines[0], &watcher, &mut running, settings, progress).await?;
    let after_loss = crate::stats::read(urls, own_reads()).await?;

    crate::keel::stop(&shutdown, &tasks, "some simulated machines").await;
    let per = |count: &Value, over: f64| count.as_u64().unwrap_or(0) as f64 / over.max(1.0);
    let start = crate::stats::delta(&before, &placed);
    let quiet = crate::stats::delta(&placed, &steady);
    let window = settings.steady.as_secs_f64();
    let heartbeats = settings.machines as f64 * window / (settings.agent_ttl.as_secs_f64() / 2.0);
    Ok(json!({
        "machines": settings.machines,
        "units": settings.units,
        "members": settings.members,
        "agentTtlSeconds": settings.agent_ttl.as_secs_f64(),
        "presentSeconds": all_present.as_secs_f64(),
        "submitSeconds": submitted.as_secs_f64(),
        "submitParallel": settings.submit_parallel,
        "submittedToRunningSeconds": all_running.as_secs_f64(),
        "writesPerUnitStart": per(&start["writes"], settings.units as f64),
        "readsPerUnitStart": per(&start["reads"], settings.units as f64),
        "submitAndStart": start,
        "steadyWindowSeconds": window,
        "steadyRequestsPerMinute": (per(&quiet["reads"], window) + per(&quiet["writes"], window)) * 60.0,
        "steadyWritesPerHeartbeat": per(&quiet["writes"], heartbeats),
        "steady": quiet,
        "lostMachineUnits": loss.units,
        "lossToExpirySeconds": loss.expired.as_secs_f64(),
        "expiryToRunningElsewhereSeconds": loss.moved.as_secs_f64(),
        "loss": crate::stats::delta(&steady, &after_loss),
    }))
}

/// What losing a machine took.
struct Loss {
    /// Units that ran on it.
    units: usize,
    /// From stopping it to its presence key expiring.
    expired: Duration,
    /// From then to its units being reported active elsewhere.
    moved: Duration,
}

/// Stops `lost`'s agent and presence, then waits (two phases) for its presence to expire and
/// for its units to run elsewhere.
async fn lose_machine(
    lost: &Machine,
    watcher: &Registry,
    running: &mut Running,
    settings: &Settings,
    progress: &Progress,
) -> Result<Loss> {
    let on_lost: Vec<String> = running
        .units()
        .into_iter()
        .filter(|(_, machine)| *machine == lost.id)
        .map(|(unit, _)| unit)
        .collect();
    lost.stop.cancel();
    progress.phase("a lost machine's presence expires");
    let expired = until(
        "a lost machine's presence expired",
        settings.deadline,
        || async { Ok(!present(watcher).await?.contains_key(&lost.id)) },
    )
    .await?;
    progress.phase("the lost machine's units run elsewhere");
    let moved = running
        .until(
            "a lost machine's units elsewhere",
            settings.deadline,
            |now| {
                let elsewhere = on_lost
                    .iter()
                    .filter(|unit| now.get(*unit).is_some_and(|machine| *machine != lost.id))
                    .count();
                count(progress, elsewhere, on_lost.len(), "units");
                elsewhere == on_lost.len()
            },
        )
        .await?;
    Ok(Loss {
        units: on_lost.len(),
        expired,
        moved,
    })
}

/// Creates `units` instances of one template, desired `launched`, `parallel` at a time.
async fn submit(
    registry: &Registry,
    units: usize,
    parallel: usize,
    progress: &Progress,
) -> Result<()> {
    let file = UnitFile::parse(TEMPLATE).context("the template parses")?;
    let names = (0..units).map(|number| (format!("sim@{number}.service"), &file));
    let created = progress.counter(units as u64, "units");
    crate::keel::create_units(registry, names, parallel, &created).await
}
