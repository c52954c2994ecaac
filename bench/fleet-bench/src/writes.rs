//! `fleet-bench engine --members N`: the engine's pass with its registry reads and writes,
//! against a real Keel cluster. The generated cluster ([`crate::generated`]) is written
//! first, with no engine running: every machine's presence record (a long TTL) and every
//! unit through the registry, as the API creates them. Then one engine (fleetd's own,
//! `fleetd::engine`) starts and the clock runs until the per-machine index holds an entry
//! for every unit the pure pass places: its lease, its watches' first lists of units,
//! files and machines, the plan, and its writes (placements, then index entries) through
//! the cluster. The pure pass of the same cluster is timed beside it.
//!
//! Prints one JSON object. A benchmark: nothing asserted.

use crate::generated::Generated;
use crate::progress::{Count, Progress};
use anyhow::{bail, Context, Result};
use fleet_core::model::MachineId;
use fleet_core::schedule::{plan, Decision};
use fleet_registry::Registry;
use fleetd::engine::{self, EngineSettings};
use fleetd::status::Status;
use futures_util::stream::{self, StreamExt as _, TryStreamExt as _};
use kv_client::{Cache, ReflectorOptions};
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// What `engine --members` runs.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Machines in the cluster.
    pub machines: usize,
    /// Units to place.
    pub units: usize,
    /// Keel members.
    pub members: usize,
    /// Records written at once while setting up.
    pub setup_parallel: usize,
    /// The bound of each phase.
    pub deadline: Duration,
}

/// How long the machines' presence records live: longer than any run.
const PRESENCE_TTL: Duration = Duration::from_secs(3600);

/// Runs the benchmark and prints its JSON line.
///
/// # Errors
/// The generated cluster, Keel refusing the setup, or the engine not done within the
/// deadline.
pub fn run(settings: &Settings) -> Result<()> {
    let progress = Progress::stderr(5);
    let progress = &progress;
    crate::keel::run(settings.members, progress, |urls| async move {
        bench(settings, &urls, progress).await
    })
}

async fn bench(settings: &Settings, urls: &[String], progress: &Progress) -> Result<Value> {
    progress.phase("generate the cluster and time the pure pass");
    let generated = Generated::new(settings.machines, settings.units)?;
    let snapshot = generated.snapshot()?;
    let started = Instant::now();
    let planned = plan(&snapshot);
    let pure = started.elapsed();
    let placed = planned
        .decisions
        .iter()
        .filter(|decision| matches!(decision, Decision::Place { .. }))
        .count();

    let writer = crate::keel::registry(urls)?;
    let setup_started = Instant::now();
    progress.phase("write the cluster");
    write_cluster(&writer, &generated, settings.setup_parallel, progress).await?;
    let setup = setup_started.elapsed();

    let shutdown = CancellationToken::new();
    let tasks = TaskTracker::new();
    progress.phase("follow the index");
    let mut index = Index::follow(crate::keel::registry(urls)?, &tasks, shutdown.child_token())?;
    index
        .until("the index followed", settings.deadline, |_| true)
        .await?;
    let before = crate::stats::read(urls, 0).await?;
    let started = Instant::now();
    progress.phase("the engine places and indexes");
    tasks.spawn(engine::run(
        crate::keel::registry(urls)?,
        engine_settings()?,
        tasks.clone(),
        shutdown.child_token(),
    ));
    index
        .until("every placement indexed", settings.deadline, |entries| {
            progress.count(Count {
                done: entries as u64,
                of: placed as u64,
                what: "placements",
            });
            entries >= placed
        })
        .await?;
    let elapsed = started.elapsed();
    let after = crate::stats::read(urls, 0).await?;

    crate::keel::stop(&shutdown, &tasks, "the engine").await;
    let requests = crate::stats::delta(&before, &after);
    let writes = requests["writes"].as_u64().unwrap_or(0);
    let seconds = elapsed.as_secs_f64();
    Ok(json!({
        "benchmark": "engine-with-registry",
        "machines": settings.machines,
        "units": settings.units,
        "members": settings.members,
        "placed": placed,
        "unplaceable": planned.decisions.len() - placed,
        "setupSeconds": setup.as_secs_f64(),
        "pureSeconds": pure.as_secs_f64(),
        "purePlacementsPerSecond": (placed as f64 / pure.as_secs_f64()).round(),
        "seconds": seconds,
        "placementsPerSecond": (placed as f64 / seconds).round(),
        "writesPerPlacement": writes as f64 / (placed.max(1) as f64),
        "requests": requests,
    }))
}

fn engine_settings() -> Result<EngineSettings> {
    Ok(EngineSettings {
        machine: MachineId::parse("e0").context("engine ID")?,
        interval: Duration::from_secs(1),
        agent_ttl: Duration::from_secs(30),
        reschedule_grace: Duration::ZERO,
        rebalance_moves: 0,
        rebalance_interval: Duration::from_secs(60),
        status: Status::default(),
    })
}

/// Every machine's presence, then every unit (created through the registry, desired
/// `launched`), `parallel` at a time, counted on `progress`.
async fn write_cluster(
    registry: &Registry,
    generated: &Generated,
    parallel: usize,
    progress: &Progress,
) -> Result<()> {
    let records = generated.machines.len() + generated.units.len();
    let written = progress.counter(records as u64, "records");
    let written = &written;
    stream::iter(&generated.machines)
        .map(|machine| async move {
            registry
                .announce(machine, PRESENCE_TTL)
                .await
                .with_context(|| format!("announce {}", machine.id))?;
            written.add_one();
            Ok::<_, anyhow::Error>(())
        })
        .buffer_unordered(parallel)
        .try_collect::<Vec<_>>()
        .await?;
    let units = generated
        .units
        .iter()
        .map(|(name, file)| (name.clone(), file));
    crate::keel::create_units(registry, units, parallel, written).await
}

/// The per-machine index (`schedule/`), followed by watch: how many entries it holds.
struct Index {
    caches: watch::Receiver<Arc<Cache>>,
}

impl Index {
    fn follow(
        registry: Registry,
        tasks: &TaskTracker,
        shutdown: CancellationToken,
    ) -> Result<Index> {
        let prefix = registry.keys().schedules();
        let reflector = registry
            .client()
            .reflect(&prefix, ReflectorOptions::default(), tasks, shutdown)
            .context("follow the index")?;
        Ok(Index {
            caches: reflector.subscribe(),
        })
    }

    /// Waits until the index is followed and `done` holds of its entry count, within
    /// `deadline`.
    async fn until(
        &mut self,
        what: &str,
        deadline: Duration,
        done: impl Fn(usize) -> bool,
    ) -> Result<()> {
        let started = Instant::now();
        loop {
            let cache = Arc::clone(&self.caches.borrow_and_update());
            if cache.is_synced() && done(cache.len()) {
                return Ok(());
            }
            let left = deadline.saturating_sub(started.elapsed());
            match tokio::time::timeout(left, self.caches.changed()).await {
                Ok(Ok(())) => {}
                Ok(Err(_)) => bail!("{what}: the index is no longer followed"),
                Err(_) => bail!("{what}: not within {deadline:?}"),
            }
        }
    }
}
