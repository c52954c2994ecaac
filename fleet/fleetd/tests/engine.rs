//! The engine loop against a real Keel member, with machines that are only presence keys:
//! one engine leads at a time, places units and writes the per-machine index; when the
//! leader stops, the other candidate takes the lease over and goes on.
#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

use fleet_core::model::{DesiredState, MachineId};
use fleet_core::unit_file::UnitFile;
use fleet_registry::wire::{MachineObject, StateReport};
use fleet_registry::{Keys, Registry};
use fleetd::engine::{self, EngineSettings};
use fleetd::status::Status;
use kv_client::{Client, ClientConfig};
use std::collections::BTreeMap;
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
    registry.publish_state("old.service", &gone).await.unwrap();
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
    let (_cluster, registry) = registry_on_one_member();
    for own in [M1, M2] {
        registry
            .announce(&machine(own), Duration::from_secs(60))
            .await
            .unwrap();
    }
    let tasks = TaskTracker::new();
    let token = CancellationToken::new();
    let settings = EngineSettings {
        reschedule_grace: Duration::from_secs(60),
        ..settings(M1)
    };
    spawn_engine(&registry, settings, &tasks, &token);
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
    token.cancel();
    tasks.close();
    tokio::time::timeout(DEADLINE, tasks.wait()).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_rebalancer_moves_units_to_a_machine_that_joined() {
    // Goal: with the rebalancer on, units placed while one machine was present move to a
    // machine that joins later, until both hold two; with it off (the other tests) nothing
    // moves.
    // Method: one engine against one Keel member; four units placed on the only machine, a
    // second machine announced, placements polled with a deadline.
    let (_cluster, registry) = registry_on_one_member();
    registry
        .announce(&machine(M1), Duration::from_secs(60))
        .await
        .unwrap();
    let tasks = TaskTracker::new();
    let token = CancellationToken::new();
    let settings = EngineSettings {
        rebalance_moves: 1,
        rebalance_interval: Duration::from_millis(200),
        ..settings(M1)
    };
    spawn_engine(&registry, settings, &tasks, &token);
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
    token.cancel();
    tasks.close();
    tokio::time::timeout(DEADLINE, tasks.wait()).await.unwrap();
}
