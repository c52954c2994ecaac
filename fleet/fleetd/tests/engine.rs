//! The engine loop against a real Keel member, with machines that are only presence keys:
//! one engine leads at a time, places units and writes the per-machine index; when the
//! leader stops, the other candidate takes the lease over and goes on; grace, replicas, the
//! rebalancer and rollouts, with the agents faked by the test.
#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

use fleet_core::model::{DesiredState, MachineId};
use fleet_core::rollout::{Progress, Strategy};
use fleet_core::unit_file::{UnitFile, UnitHash};
use fleet_registry::wire::{
    MachineObject, RolloutRecord, RolloutState, ScheduleEntry, StateReport,
};
use fleet_registry::{Held, Keys, Registry};
use fleetd::engine::{self, EngineSettings};
use fleetd::status::Status;
use kv_client::{Client, ClientConfig};
use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::time::Duration;
use testkit::Cluster;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

const M1: &str = "1111111111111111111111111111111a";
const M2: &str = "2222222222222222222222222222222b";
const M3: &str = "3333333333333333333333333333333c";
const DEADLINE: Duration = Duration::from_secs(20);

fn id(text: &str) -> MachineId {
    MachineId::parse(text).unwrap()
}

fn machine(text: &str) -> MachineObject {
    MachineObject {
        id: id(text),
        public_ip: String::new(),
        metadata: BTreeMap::new(),
        engine_disabled: false,
        version: String::new(),
        api_url: None,
        capacity: None,
        cordoned: false,
    }
}

/// Polls `condition` every 50 ms until it returns `Some`, failing after `DEADLINE`.
async fn eventually<T, F: Future<Output = Option<T>>>(what: &str, condition: impl Fn() -> F) -> T {
    let deadline = Instant::now() + DEADLINE;
    loop {
        if let Some(value) = condition().await {
            return value;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The engine settings of machine `own`: 200 ms passes, a 60 s agent TTL, no grace, no
/// rebalancer.
fn settings(own: &str) -> EngineSettings {
    EngineSettings {
        machine: id(own),
        interval: Duration::from_millis(200),
        agent_ttl: Duration::from_secs(60),
        reschedule_grace: Duration::ZERO,
        rebalance_moves: 0,
        rebalance_interval: Duration::from_secs(30),
        status: Status::default(),
    }
}

/// Runs an engine loop with `settings` until `token` is cancelled, tracked by `tasks`.
fn spawn_engine(
    registry: &Registry,
    settings: EngineSettings,
    tasks: &TaskTracker,
    token: &CancellationToken,
) {
    tasks.spawn(engine::run(
        registry.clone(),
        settings,
        tasks.clone(),
        token.clone(),
    ));
}

/// A one-member Keel cluster (stopped when dropped) and the registry on it.
fn registry_on_one_member() -> (Cluster, Registry) {
    let cluster = Cluster::start(1, &[]);
    let client = Client::new(ClientConfig::new(vec![cluster.url(0).to_owned()])).unwrap();
    (cluster, Registry::new(client, Keys::default()))
}

/// One engine loop with `settings` against a fresh one-member Keel on which `machines` are
/// announced; [`Bench::stop`] ends it.
struct Bench {
    _cluster: Cluster,
    registry: Registry,
    tasks: TaskTracker,
    token: CancellationToken,
}

async fn one_engine(machines: &[&str], settings: EngineSettings) -> Bench {
    let (cluster, registry) = registry_on_one_member();
    for own in machines {
        registry
            .announce(&machine(own), Duration::from_secs(60))
            .await
            .unwrap();
    }
    let tasks = TaskTracker::new();
    let token = CancellationToken::new();
    spawn_engine(&registry, settings, &tasks, &token);
    Bench {
        _cluster: cluster,
        registry,
        tasks,
        token,
    }
}

impl Bench {
    /// Stops the engine (and the fake agents) and waits for their tasks.
    async fn stop(self) {
        self.token.cancel();
        self.tasks.close();
        tokio::time::timeout(DEADLINE, self.tasks.wait())
            .await
            .unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_engine_schedules_and_another_takes_over_when_it_stops() {
    // Goal: of two candidates exactly one holds the lease; it places a unit on a present
    // machine and indexes it there, and removes the state report of a machine that is not
    // present once the agent TTL has passed; once that engine stops, the other takes the lease after
    // it expires and schedules a new unit.
    // Method: two engine loops in this process against one Keel member, machines as presence
    // keys written by the test; each condition polled with a deadline.
    let (_cluster, registry) = registry_on_one_member();
    registry
        .announce(&machine(M1), Duration::from_secs(60))
        .await
        .unwrap();
    registry
        .announce(&machine(M2), Duration::from_secs(60))
        .await
        .unwrap();
    let gone = StateReport {
        load_state: "loaded".into(),
        active_state: "active".into(),
        sub_state: "running".into(),
        machine: id(M3),
        hash: UnitFile::parse("[Service]\nExecStart=/bin/true\n")
            .unwrap()
            .hash(),
        launched: true,
    };
    registry
        .publish_state("old.service", &gone, Held::Absent)
        .await
        .unwrap();
    let tasks = TaskTracker::new();
    let interval = Duration::from_millis(200);
    let first = CancellationToken::new();
    let second = CancellationToken::new();
    for (own, token) in [(M1, &first), (M2, &second)] {
        let settings = EngineSettings {
            interval,
            agent_ttl: Duration::from_secs(1),
            ..settings(own)
        };
        spawn_engine(&registry, settings, &tasks, token);
    }
    let file = UnitFile::parse("[Service]\nExecStart=/bin/true\n").unwrap();
    registry
        .create_unit("a.service", &file, DesiredState::Launched)
        .await
        .unwrap();
    let placed = eventually("a.service placed and indexed", || async {
        let job = registry.unit("a.service").await.ok()??;
        let target = job.target?;
        let index = registry
            .list(&registry.keys().schedule(&target))
            .await
            .ok()?;
        (index.len() == 1).then_some(target)
    })
    .await;
    eventually(
        "the report of a machine that is not present to be removed",
        || async { registry.states().await.ok()?.items.is_empty().then_some(()) },
    )
    .await;
    let leader = registry.lease().await.unwrap().unwrap().holder;
    let (stop, other) = if leader.as_str() == M1 {
        (&first, M2)
    } else {
        (&second, M1)
    };
    stop.cancel();
    eventually("the other engine to take the lease", || async {
        let lease = registry.lease().await.ok()??;
        (lease.holder.as_str() == other).then_some(())
    })
    .await;
    registry
        .create_unit("b.service", &file, DesiredState::Loaded)
        .await
        .unwrap();
    eventually("b.service placed by the new leader", || async {
        registry.unit("b.service").await.ok()??.target
    })
    .await;
    assert_eq!(
        registry.unit("a.service").await.unwrap().unwrap().target,
        Some(placed),
        "the takeover left the first placement alone"
    );
    first.cancel();
    second.cancel();
    tasks.close();
    tokio::time::timeout(DEADLINE, tasks.wait()).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_machines_units_wait_out_the_grace_and_a_scaled_template_fills_up() {
    // Goal: with a reschedule grace, a unit whose machine's presence went away stays placed
    // there while a later pass places new units elsewhere (so the pass ran and chose to keep
    // it); a template with a replica count gets its numbered instances, and fewer when the
    // count drops (highest numbers first).
    // Method: one engine with a 60 s grace against one Keel member, machines as presence
    // keys; the withdrawal is followed by a new unit, whose placement proves a pass saw the
    // machine gone.
    let settings = EngineSettings {
        reschedule_grace: Duration::from_secs(60),
        ..settings(M1)
    };
    let bench = one_engine(&[M1, M2], settings).await;
    let registry = &bench.registry;
    let file = UnitFile::parse("[Service]\nExecStart=/bin/true\n").unwrap();
    registry
        .create_unit("a.service", &file, DesiredState::Launched)
        .await
        .unwrap();
    let placed = eventually("a.service placed", || async {
        registry.unit("a.service").await.ok()??.target
    })
    .await;
    registry.withdraw(&placed).await.unwrap();
    registry
        .create_unit("b.service", &file, DesiredState::Launched)
        .await
        .unwrap();
    let other = eventually("b.service placed", || async {
        registry.unit("b.service").await.ok()??.target
    })
    .await;
    assert_ne!(other, placed, "nothing new goes to a lost machine");
    assert_eq!(
        registry.unit("a.service").await.unwrap().unwrap().target,
        Some(placed),
        "the lost machine's unit waits out the grace"
    );

    registry
        .create_unit("web@.service", &file, DesiredState::Inactive)
        .await
        .unwrap();
    let instances = || async {
        let units = registry.units().await.ok()?.items;
        let mut names: Vec<String> = units
            .keys()
            .filter(|name| name.starts_with("web@") && *name != "web@.service")
            .cloned()
            .collect();
        names.sort();
        Some(names)
    };
    registry.set_replicas("web@.service", 3).await.unwrap();
    eventually("three instances", || async {
        (instances().await? == ["web@1.service", "web@2.service", "web@3.service"]).then_some(())
    })
    .await;
    registry.set_replicas("web@.service", 1).await.unwrap();
    eventually("one instance left, the lowest", || async {
        (instances().await? == ["web@1.service"]).then_some(())
    })
    .await;
    bench.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_rebalancer_moves_units_to_a_machine_that_joined() {
    // Goal: with the rebalancer on, units placed while one machine was present move to a
    // machine that joins later, until both hold two; with it off (the other tests) nothing
    // moves.
    // Method: one engine against one Keel member; four units placed on the only machine, a
    // second machine announced, placements polled with a deadline.
    let settings = EngineSettings {
        rebalance_moves: 1,
        rebalance_interval: Duration::from_millis(200),
        ..settings(M1)
    };
    let bench = one_engine(&[M1], settings).await;
    let registry = &bench.registry;
    let file = UnitFile::parse("[Service]\nExecStart=/bin/true\n").unwrap();
    for n in 1..=4 {
        registry
            .create_unit(&format!("u{n}.service"), &file, DesiredState::Launched)
            .await
            .unwrap();
    }
    let on = |machine: &'static str| {
        let registry = registry.clone();
        async move {
            let units = registry.units().await.ok()?.items;
            Some(
                units
                    .values()
                    .filter(|job| job.target.as_ref().is_some_and(|t| t.as_str() == machine))
                    .count(),
            )
        }
    };
    eventually("four units on the first machine", || async {
        (on(M1).await? == 4).then_some(())
    })
    .await;
    registry
        .announce(&machine(M2), Duration::from_secs(60))
        .await
        .unwrap();
    eventually("two units moved to the machine that joined", || async {
        (on(M1).await? == 2 && on(M2).await? == 2).then_some(())
    })
    .await;
    bench.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_leading_engine_shows_units_machines_and_its_passes_in_metrics() {
    // Goal: the leader's metrics tell how many machines and units by desired state it saw,
    // which units it could not place, how long its passes take and how long a unit waited
    // for a machine. Method: one engine, two machines; a launched unit it can place, a
    // loaded one it cannot (MachineOf a unit that does not exist) and an inactive one; the
    // status's metrics read back line by line until they show it.
    let settings = settings(M1);
    let status = settings.status.clone();
    let bench = one_engine(&[M1, M2], settings).await;
    let registry = &bench.registry;
    let plain = UnitFile::parse("[Service]\nExecStart=/bin/true\n").unwrap();
    let stuck =
        UnitFile::parse("[Service]\nExecStart=/bin/true\n[X-Fleet]\nMachineOf=ghost.service\n")
            .unwrap();
    for (name, file, state) in [
        ("web.service", &plain, DesiredState::Launched),
        ("stuck.service", &stuck, DesiredState::Loaded),
        ("idle.service", &plain, DesiredState::Inactive),
    ] {
        registry.create_unit(name, file, state).await.unwrap();
    }
    let wanted = [
        "fleet_engine_leader 1",
        "fleet_machines 2",
        "fleet_units{desired_state=\"launched\"} 1",
        "fleet_units{desired_state=\"loaded\"} 1",
        "fleet_units{desired_state=\"inactive\"} 1",
        "fleet_units_pending 1",
        "fleet_engine_scheduling_latency_seconds_count 1",
    ];
    eventually("the engine's metrics", || async {
        let text = status.metrics().encode();
        wanted
            .iter()
            .all(|line| text.lines().any(|l| l == *line))
            .then_some(())
    })
    .await;
    let text = status.metrics().encode();
    let passes = text
        .lines()
        .find_map(|line| line.strip_prefix("fleet_engine_reconcile_duration_seconds_count "))
        .and_then(|count| count.parse::<u64>().ok())
        .unwrap();
    assert!(passes >= 1, "{text}");
    bench.stop().await;
}

/// A stand-in for the agents: every 50 ms, reports each placed unit (and each index entry
/// of `global`) active on the hash it has, or failed when that hash is in `failing`.
fn spawn_fake_agents(
    registry: &Registry,
    global: Option<&'static str>,
    failing: Vec<UnitHash>,
    bench: &Bench,
) {
    let registry = registry.clone();
    let token = bench.token.clone();
    bench.tasks.spawn(async move {
        while !token.is_cancelled() {
            let mut running: Vec<(String, MachineId, UnitHash)> = Vec::new();
            if let Ok(units) = registry.units().await {
                for job in units.items.into_values() {
                    if let Some(target) = job.target {
                        running.push((job.name, target, job.hash));
                    }
                }
            }
            if let Some(unit) = global {
                for own in [M1, M2, M3] {
                    let key = registry.keys().schedule_entry(&id(own), unit);
                    if let Ok(pairs) = registry.list(&key).await {
                        for (_, value) in pairs {
                            if let Ok(entry) = ScheduleEntry::decode(&value) {
                                running.push((unit.to_owned(), id(own), entry.hash));
                            }
                        }
                    }
                }
            }
            for (unit, machine, hash) in running {
                let failed = failing.contains(&hash);
                let report = StateReport {
                    load_state: "loaded".into(),
                    active_state: if failed { "failed" } else { "active" }.into(),
                    sub_state: if failed { "failed" } else { "running" }.into(),
                    machine,
                    hash,
                    launched: true,
                };
                let held = match registry.state(&unit, &report.machine).await {
                    Ok(Some(found)) => Held::At(found.index),
                    Ok(None) => Held::Absent,
                    Err(_) => continue,
                };
                let _ = registry.publish_state(&unit, &report, held).await;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    });
}

/// A running rollout record of `file` with `strategy`, as the API writes it.
async fn ask_rollout(registry: &Registry, unit: &str, file: &UnitFile, strategy: Strategy) {
    let hash = registry.put_unit_file(file).await.unwrap();
    let record = RolloutRecord {
        hash,
        strategy,
        state: RolloutState::Running,
        progress: Progress::default(),
        started: 0,
    };
    registry.put_rollout(unit, &record).await.unwrap();
}

/// `unit`'s rollout record once it is no longer running.
async fn settled_rollout(registry: &Registry, unit: &str) -> RolloutRecord {
    eventually("the rollout to settle", || async {
        let (record, _) = registry.unit(unit).await.ok()??.rollout?;
        (record.state != RolloutState::Running).then_some(record)
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rollout_moves_instances_one_at_a_time_and_stops_at_a_failure() {
    // Goal: a template's instances move to the new file in number order, the next only
    // after the previous has been up for the minimum time, each staying on its machine; the
    // record ends done with every count at 3. A second rollout whose file fails stops at the
    // first instance, names it, its machine and systemd's verdict, and leaves the others on
    // the file they had.
    // Method: one engine against one Keel member, three machines as presence keys, agents
    // faked by a task that reports what each placed unit runs; when each instance got the
    // new hash is polled every 20 ms.
    let bench = one_engine(&[M1, M2, M3], settings(M1)).await;
    let registry = &bench.registry;
    let v1 = UnitFile::parse("[Service]\nExecStart=/bin/sleep 1000\n").unwrap();
    let v2 = UnitFile::parse("[Service]\nExecStart=/bin/sleep 2000\n").unwrap();
    let v3 = UnitFile::parse("[Service]\nExecStart=/bin/false\n").unwrap();
    spawn_fake_agents(registry, None, vec![v3.hash()], &bench);
    let instances = ["web@1.service", "web@2.service", "web@3.service"];
    for name in instances {
        registry
            .create_unit(name, &v1, DesiredState::Launched)
            .await
            .unwrap();
    }
    registry
        .create_unit("web@.service", &v1, DesiredState::Inactive)
        .await
        .unwrap();
    let before = eventually("three instances placed", || async {
        let units = registry.units().await.ok()?.items;
        instances
            .iter()
            .map(|name| units.get(*name)?.target.clone())
            .collect::<Option<Vec<_>>>()
    })
    .await;
    let min_healthy = Duration::from_millis(500);
    let strategy = Strategy {
        max_parallel: 1,
        min_healthy,
        deadline: Duration::from_secs(20),
    };
    ask_rollout(registry, "web@.service", &v2, strategy).await;
    let moved_at: RefCell<BTreeMap<String, Instant>> = RefCell::default();
    eventually("every instance on the new file", || async {
        let units = registry.units().await.ok()?.items;
        let mut moved = moved_at.borrow_mut();
        for name in instances {
            if units.get(name)?.hash == v2.hash() {
                moved.entry(name.to_owned()).or_insert_with(Instant::now);
            }
        }
        (moved.len() == 3).then_some(())
    })
    .await;
    let moved_at = moved_at.into_inner();
    let done = settled_rollout(registry, "web@.service").await;
    assert_eq!(done.state, RolloutState::Done);
    assert_eq!((done.progress.total, done.progress.healthy), (3, 3));
    for pair in instances.windows(2) {
        let gap = moved_at[pair[1]].duration_since(moved_at[pair[0]]);
        assert!(
            gap >= min_healthy - Duration::from_millis(100),
            "{pair:?} {gap:?}"
        );
    }
    let units = registry.units().await.unwrap().items;
    let after: Vec<Option<MachineId>> =
        instances.iter().map(|n| units[*n].target.clone()).collect();
    let before_placed: Vec<Option<MachineId>> = before.iter().cloned().map(Some).collect();
    assert_eq!(after, before_placed, "each instance kept its machine");

    ask_rollout(registry, "web@.service", &v3, strategy).await;
    let failed = settled_rollout(registry, "web@.service").await;
    let RolloutState::Failed(failure) = &failed.state else {
        panic!("expected a failed rollout, got {failed:?}");
    };
    assert_eq!(failure.target, "web@1.service");
    assert_eq!(failure.machine.as_deref(), Some(before[0].as_str()));
    assert_eq!(failure.reason, "systemd reports it failed/failed");
    let units = registry.units().await.unwrap().items;
    assert_eq!(units["web@1.service"].hash, v3.hash());
    assert_eq!(units["web@2.service"].hash, v2.hash());
    assert_eq!(units["web@3.service"].hash, v2.hash());
    bench.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_global_units_rollout_walks_its_machines_then_updates_the_unit() {
    // Goal: a global unit's rollout moves each machine's index entry to the new file, two at
    // a time, and once all are healthy the unit's own record takes the new hash; no entry
    // goes back to the old file along the way.
    // Method: one engine against one Keel member, three machines, agents faked from the
    // index entries.
    let bench = one_engine(&[M1, M2, M3], settings(M1)).await;
    let registry = &bench.registry;
    spawn_fake_agents(registry, Some("g.service"), Vec::new(), &bench);
    let v1 =
        UnitFile::parse("[Service]\nExecStart=/bin/sleep 1000\n[X-Fleet]\nGlobal=true\n").unwrap();
    let v2 =
        UnitFile::parse("[Service]\nExecStart=/bin/sleep 2000\n[X-Fleet]\nGlobal=true\n").unwrap();
    registry
        .create_unit("g.service", &v1, DesiredState::Launched)
        .await
        .unwrap();
    let entries = || async {
        let mut hashes = Vec::new();
        for own in [M1, M2, M3] {
            let key = registry.keys().schedule_entry(&id(own), "g.service");
            let pairs = registry.list(&key).await.ok()?;
            let (_, value) = pairs.first()?;
            hashes.push(ScheduleEntry::decode(value).ok()?.hash);
        }
        Some(hashes)
    };
    eventually("g.service indexed on three machines", || async {
        entries().await.map(drop)
    })
    .await;
    let strategy = Strategy {
        max_parallel: 2,
        min_healthy: Duration::from_millis(300),
        deadline: Duration::from_secs(20),
    };
    ask_rollout(registry, "g.service", &v2, strategy).await;
    let moved: RefCell<BTreeSet<usize>> = RefCell::default();
    eventually("the unit's record on the new file", || async {
        if let Some(hashes) = entries().await {
            let mut moved = moved.borrow_mut();
            for (n, hash) in hashes.iter().enumerate() {
                if *hash == v2.hash() {
                    moved.insert(n);
                } else {
                    assert!(!moved.contains(&n), "machine {n} went back to the old file");
                }
            }
        }
        (registry.unit("g.service").await.ok()??.hash == v2.hash()).then_some(())
    })
    .await;
    let done = settled_rollout(registry, "g.service").await;
    assert_eq!(done.state, RolloutState::Done);
    assert_eq!(entries().await, Some(vec![v2.hash(); 3]));
    bench.stop().await;
}
