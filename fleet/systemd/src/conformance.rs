//! The conformance suite of fleet-core's [`Systemd`] port: what every implementation (this
//! crate's [`crate::DbusSystemd`] on a real manager, and any fake) must do, one public async
//! function per behaviour, each run against a fresh [`Harness`] by the implementation's
//! tests. A test kit: a failed check panics, which fails the test.
//!
//! Every wait is for a condition with a deadline ([`CHANGE_DEADLINE`]). State waits read the
//! subscription; the end of a run is polled through the port (`ended_run`), because systemd
//! signals nothing when it collects a unit that ended cleanly, and a run can end and start
//! again between two signals.
//!
//! Invariants: each case uses unit names of its own and unloads what it loaded when it
//! passes. Depends on fleet-core's port, tokio's timer and futures-util's `StreamExt`; never on
//! anything of the D-Bus adapter, so a fake runs it unchanged.
#![allow(clippy::missing_panics_doc)]

use fleet_core::agent_plan::LocalState;
use fleet_core::ports::{MainRun, StateChange, Systemd, SystemdError, UnitState};
use fleet_core::unit_file::UnitFile;
use futures_util::StreamExt as _;
use std::collections::BTreeSet;
use std::future::Future;
use std::time::Duration;

/// How long a state change may take to arrive: systemd acts in milliseconds, but CI shares
/// two cores with builds.
pub const CHANGE_DEADLINE: Duration = Duration::from_secs(20);

/// A long-running service: prints, then sleeps well past any test.
pub const SLEEPER: &str = "[Service]\nExecStart=/bin/sh -c 'echo hi; sleep 600'\n";

/// A service whose process exits with status 1 at once.
pub const FAILER: &str = "[Service]\nExecStart=/bin/false\n";

/// One systemd for the suite to drive.
pub trait Harness: Sync {
    /// The implementation under test.
    type Systemd: Systemd;

    /// A new instance on the same systemd and units directory, as a restarted fleetd makes.
    fn connect(&self) -> impl Future<Output = Self::Systemd> + Send;

    /// Whether `name`'s file is in the units directory.
    fn unit_file_exists(&self, name: &str) -> bool;
}

/// `text` as a unit file.
#[must_use]
pub fn unit_file(text: &str) -> UnitFile {
    UnitFile::parse(text).expect("the suite's unit files parse")
}

/// Reads changes until one of `name` satisfies `wanted`, within [`CHANGE_DEADLINE`].
pub async fn wait_for_state<S, F>(changes: &mut S, name: &str, wanted: F) -> UnitState
where
    S: futures_core::Stream<Item = Result<StateChange, SystemdError>> + Unpin,
    F: Fn(&UnitState) -> bool,
{
    let mut seen: Vec<UnitState> = Vec::new();
    let waited = tokio::time::timeout(CHANGE_DEADLINE, async {
        while let Some(item) = changes.next().await {
            let change = item.expect("the subscription delivers changes, not errors");
            if change.name != name {
                continue;
            }
            if wanted(&change.state) {
                return Some(change.state);
            }
            seen.push(change.state);
        }
        None
    })
    .await;
    match waited {
        Ok(Some(state)) => state,
        Ok(None) => panic!("the subscription ended; {name} went through {seen:?}"),
        Err(_) => panic!("no wanted state of {name} within {CHANGE_DEADLINE:?}; saw {seen:?}"),
    }
}

/// Whether a state is `active_state` (`sub_state`).
pub fn is(active_state: &'static str, sub_state: &'static str) -> impl Fn(&UnitState) -> bool {
    move |state| state.active_state == active_state && state.sub_state == sub_state
}

/// Loads `text` as `name` and reloads the manager.
pub async fn load(systemd: &impl Systemd, name: &str, text: &str) -> UnitFile {
    let file = unit_file(text);
    systemd.load_unit(name, &file).await.expect("load_unit");
    systemd.reload().await.expect("reload");
    file
}

/// A subscription watching `name` alone.
pub async fn watch_one<S: Systemd>(systemd: &S, name: &str) -> S::StateChanges {
    let changes = systemd.subscribe().await.expect("subscribe");
    systemd
        .watch_units(&BTreeSet::from([name.to_owned()]))
        .expect("watch_units");
    changes
}

/// Load, then reload: systemd has the unit (`loaded`, not running), its file is there, and
/// the listing reports it `Loaded` with the file's hash.
pub async fn load_links_the_unit<H: Harness>(harness: &H) {
    let name = "conformance-load.service";
    let systemd = harness.connect().await;
    let file = load(&systemd, name, SLEEPER).await;
    let state = systemd.unit_state(name).await.expect("unit_state");
    assert_eq!(state.load_state, "loaded", "{state:?}");
    assert_eq!(state.active_state, "inactive", "{state:?}");
    assert!(harness.unit_file_exists(name));
    let local = systemd.local_units().await.expect("local_units");
    let unit = local.get(name).expect("the loaded unit is listed");
    assert_eq!(unit.hash, file.hash());
    assert_eq!(unit.state, LocalState::Loaded);
    systemd.unload_unit(name).await.expect("unload_unit");
}

/// Start and stop arrive through the subscription (first the current state, then
/// `active/running`, then `inactive/dead`) without anyone asking systemd again.
pub async fn start_and_stop_arrive_as_changes<H: Harness>(harness: &H) {
    let name = "conformance-start.service";
    let systemd = harness.connect().await;
    load(&systemd, name, SLEEPER).await;
    let mut changes = watch_one(&systemd, name).await;
    wait_for_state(&mut changes, name, is("inactive", "dead")).await;
    systemd.start_unit(name).await.expect("start_unit");
    wait_for_state(&mut changes, name, is("active", "running")).await;
    systemd.stop_unit(name).await.expect("stop_unit");
    wait_for_state(&mut changes, name, is("inactive", "dead")).await;
    systemd.unload_unit(name).await.expect("unload_unit");
}

/// Unloading a running unit stops it and removes its file; after the reload systemd no
/// longer has it (`not-found`, delivered as a change too) and the listing leaves it out.
pub async fn unload_forgets_the_unit<H: Harness>(harness: &H) {
    let name = "conformance-unload.service";
    let systemd = harness.connect().await;
    load(&systemd, name, SLEEPER).await;
    let mut changes = watch_one(&systemd, name).await;
    systemd.start_unit(name).await.expect("start_unit");
    wait_for_state(&mut changes, name, is("active", "running")).await;
    systemd.unload_unit(name).await.expect("unload_unit");
    assert!(!harness.unit_file_exists(name), "the file is removed");
    systemd.reload().await.expect("reload");
    let gone = |state: &UnitState| state.load_state == "not-found" && !state.is_running();
    wait_for_state(&mut changes, name, gone).await;
    let state = systemd.unit_state(name).await.expect("unit_state");
    assert_eq!(state.load_state, "not-found", "{state:?}");
    let local = systemd.local_units().await.expect("local_units");
    assert!(!local.contains_key(name), "{local:?}");
    systemd
        .unload_unit(name)
        .await
        .expect("a second unload is a no-op");
}

/// A new instance (fleetd restarted) finds the running unit `Launched` with its hash, so
/// the agent plans nothing for it (coreos/fleet#1086).
pub async fn restarted_instance_lists_running_unit<H: Harness>(harness: &H) {
    let name = "conformance-restart.service";
    let first = harness.connect().await;
    let file = load(&first, name, SLEEPER).await;
    let mut changes = watch_one(&first, name).await;
    first.start_unit(name).await.expect("start_unit");
    wait_for_state(&mut changes, name, is("active", "running")).await;
    drop(changes);
    drop(first);
    let second = harness.connect().await;
    let local = second.local_units().await.expect("local_units");
    let unit = local.get(name).expect("the running unit is listed");
    assert_eq!(unit.hash, file.hash());
    assert_eq!(unit.state, LocalState::Launched);
    second.unload_unit(name).await.expect("unload_unit");
}

/// A unit whose process fails reaches `failed/failed`, delivered as a change; unloading
/// it resets the failure.
pub async fn failing_unit_reports_failed<H: Harness>(harness: &H) {
    let name = "conformance-fail.service";
    let systemd = harness.connect().await;
    load(&systemd, name, FAILER).await;
    let mut changes = watch_one(&systemd, name).await;
    systemd.start_unit(name).await.expect("start_unit");
    wait_for_state(&mut changes, name, is("failed", "failed")).await;
    let local = systemd.local_units().await.expect("local_units");
    assert_eq!(
        local.get(name).map(|unit| unit.state),
        Some(LocalState::Loaded)
    );
    systemd.unload_unit(name).await.expect("unload_unit");
    systemd.reload().await.expect("reload");
    let state = systemd.unit_state(name).await.expect("unit_state");
    assert_ne!(state.active_state, "failed", "{state:?}");
}

/// A service's run is unknown until it is started after its file was written; once it has
/// exited, its run reports systemd's result, exit status and times, and a second start
/// reports a run that started after the first ended; loaded again with a new file, it has
/// not run.
pub async fn main_run_is_reported_since_load<H: Harness>(harness: &H) {
    let failing = "conformance-run-fail.service";
    let systemd = harness.connect().await;
    load(
        &systemd,
        failing,
        "[Service]\nType=oneshot\nExecStart=/bin/sh -c 'exit 3'\n",
    )
    .await;
    assert_eq!(systemd.main_run(failing).await.expect("main_run"), None);
    let mut changes = watch_one(&systemd, failing).await;
    systemd.start_unit(failing).await.expect("start_unit");
    wait_for_state(&mut changes, failing, is("failed", "failed")).await;
    let run = systemd.main_run(failing).await.expect("main_run");
    let run = run.expect("a started service has run");
    assert_eq!((run.result.as_str(), run.exit_status), ("exit-code", 3));
    let exited_ms = run.exited_at_ms.expect("a failed run has ended");
    assert!(
        run.started_usec > 0 && run.started_usec / 1000 <= exited_ms,
        "{run:?}"
    );
    // Started again on the same file: the new run starts no earlier than the first ended
    // (what tells a retry's run from the failed one).
    systemd.start_unit(failing).await.expect("start_unit");
    let again = ended_run(&systemd, failing, |next| {
        next.started_usec > run.started_usec
    })
    .await;
    assert!(
        again.started_usec / 1000 >= exited_ms,
        "{again:?} after {run:?}"
    );
    systemd.unload_unit(failing).await.expect("unload_unit");
    load(
        &systemd,
        failing,
        "[Service]\nType=oneshot\nExecStart=/bin/true\n",
    )
    .await;
    assert_eq!(systemd.main_run(failing).await.expect("main_run"), None);
    systemd.unload_unit(failing).await.expect("unload_unit");

    let passing = "conformance-run-pass.service";
    let text = "[Service]\nType=oneshot\nRemainAfterExit=yes\nExecStart=/bin/true\n";
    load(&systemd, passing, text).await;
    let mut changes = watch_one(&systemd, passing).await;
    systemd.start_unit(passing).await.expect("start_unit");
    wait_for_state(&mut changes, passing, is("active", "exited")).await;
    let run = systemd.main_run(passing).await.expect("main_run");
    let run = run.expect("a started service has run");
    assert_eq!((run.result.as_str(), run.exit_status), ("success", 0));
    systemd.unload_unit(passing).await.expect("unload_unit");
}

/// A clean run of a plain oneshot service is reported as a success once it has ended, also
/// when systemd has collected the unit and forgotten its run.
pub async fn clean_run_is_reported_after_collection<H: Harness>(harness: &H) {
    let systemd = harness.connect().await;
    let clean = "conformance-run-clean.service";
    let text = "[Service]\nType=oneshot\nExecStart=/bin/true\n";
    load(&systemd, clean, text).await;
    assert_eq!(systemd.main_run(clean).await.expect("main_run"), None);
    systemd.start_unit(clean).await.expect("start_unit");
    let ran = ended_run(&systemd, clean, |_| true).await;
    assert_eq!(
        (ran.result.as_str(), ran.exit_status),
        ("success", 0),
        "{ran:?}"
    );
    systemd.unload_unit(clean).await.expect("unload_unit");
}

/// The run of `name` once the unit is no longer running and the run satisfies `wanted`,
/// within [`CHANGE_DEADLINE`].
pub async fn ended_run(
    systemd: &impl Systemd,
    name: &str,
    wanted: impl Fn(&MainRun) -> bool,
) -> MainRun {
    let ended = async {
        loop {
            let state = systemd.unit_state(name).await.expect("unit_state");
            let run = systemd.main_run(name).await.expect("main_run");
            let stopped = matches!(state.active_state.as_str(), "inactive" | "failed");
            if let Some(run) = run.filter(|run| stopped && wanted(run)) {
                return run;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    };
    tokio::time::timeout(CHANGE_DEADLINE, ended)
        .await
        .unwrap_or_else(|_| panic!("no ended run of {name} within {CHANGE_DEADLINE:?}"))
}

/// Malformed names are refused as `InvalidUnitName` before anything happens, and a unit
/// systemd does not have is `UnitNotFound`.
pub async fn bad_names_are_typed_errors<H: Harness>(harness: &H) {
    let systemd = harness.connect().await;
    let invalid = |result: Result<(), SystemdError>| {
        assert!(
            matches!(result, Err(SystemdError::InvalidUnitName { .. })),
            "{result:?}"
        );
    };
    invalid(systemd.start_unit("bad/name").await);
    invalid(systemd.stop_unit("no-suffix").await);
    invalid(
        systemd
            .load_unit("../escape.service", &unit_file(SLEEPER))
            .await,
    );
    invalid(systemd.unload_unit("").await);
    invalid(systemd.unit_state("bad/name").await.map(drop));
    invalid(systemd.main_run("bad/name").await.map(drop));
    invalid(systemd.watch_units(&BTreeSet::from(["a b.service".to_owned()])));
    assert!(!harness.unit_file_exists("../escape.service"));
    let absent = "conformance-absent.service";
    let started = systemd.start_unit(absent).await;
    assert!(
        matches!(started, Err(SystemdError::UnitNotFound { ref name, .. }) if name == absent),
        "{started:?}"
    );
    let state = systemd.unit_state(absent).await.expect("unit_state");
    assert_eq!(state.load_state, "not-found", "{state:?}");
}
