//! End-to-end tests of the commands that change units: their success lines, `Triggered`
//! lines, waits, timeouts, the pending explanation, `--replace` and templates.
//!
//! Method: a fake fleetd on 127.0.0.1:0 whose engine applies desired states on the next
//! read (or after some reads, or never); fleetctl's real client runs each command with a
//! 1 ms poll and two polls per attempt, so timeouts take milliseconds; stdout, stderr and
//! exit codes are compared with literal text, and the fake's request log shows what was sent.

mod support;

use serde_json::json;
use support::{option, service_text, unit, write, Cluster, Engine, Fake, MACHINE_A};

const ON_A: &str = "on 113f16a7.../172.17.8.103";

fn launched(name: &str) -> Cluster {
    let mut cluster = Cluster::new(Engine::Instant);
    cluster.put(unit(name, "Hello World", "launched", "launched", MACHINE_A));
    cluster
}

#[tokio::test]
async fn start_creates_from_a_local_file_and_waits_until_active() {
    // Goal: an unknown unit is read from the file, sent with its options, reported inactive,
    // then launched on its machine; systemd's active state is awaited through
    // `GET /fleet/v1/state/{name}`; starting it again sends nothing and prints nothing.
    let directory = tempfile::tempdir().expect("a temporary directory");
    let path = write(
        directory.path(),
        "hello.service",
        &service_text("Hello World"),
    );
    let fake = Fake::tcp(Cluster::new(Engine::Instant)).await;
    let started = fake.run(&["start", &path]).await;
    assert_eq!(
        started.stdout,
        format!("Unit hello.service inactive\nUnit hello.service launched {ON_A}\n")
    );
    assert_eq!((started.stderr.as_str(), started.code), ("", 0));
    let stored = fake.with(|cluster| cluster.units["hello.service"].clone());
    assert_eq!(
        stored.options[0],
        option("Unit", "Description", "Hello World")
    );
    assert_eq!(stored.desired_state, "launched");
    assert!(fake.with(|cluster| cluster
        .requests
        .contains(&"GET /fleet/v1/state/hello.service".to_owned())));
    let writes_before = fake.with(|cluster| cluster.writes().len());
    let again = fake.run(&["start", &path]).await;
    assert_eq!(
        (again.stdout.as_str(), again.stderr.as_str(), again.code),
        ("", "", 0)
    );
    assert_eq!(fake.with(|cluster| cluster.writes().len()), writes_before);
}

#[tokio::test]
async fn load_and_no_block_print_fleets_lines() {
    // Goal: `load` waits for `loaded` and names the machine; `--no-block` prints
    // `Triggered unit <name> <verb>` and does not wait (not even for inactive).
    let directory = tempfile::tempdir().expect("a temporary directory");
    let hello = write(directory.path(), "hello.service", &service_text("Hello"));
    let other = write(directory.path(), "other.service", &service_text("Other"));
    let fake = Fake::tcp(Cluster::new(Engine::Frozen)).await;
    fake.with(|cluster| cluster.engine = Engine::Instant);
    let loaded = fake.run(&["load", &hello]).await;
    assert_eq!(
        loaded.stdout,
        format!("Unit hello.service inactive\nUnit hello.service loaded {ON_A}\n")
    );
    assert_eq!(loaded.code, 0);
    let triggered = fake.run(&["start", "--no-block", &other]).await;
    assert_eq!(triggered.stdout, "Triggered unit other.service start\n");
    assert_eq!((triggered.stderr.as_str(), triggered.code), ("", 0));
}

#[tokio::test]
async fn global_units_never_block() {
    // Goal: a global unit reports inactive by its desired state, with an empty state part
    // (`Unit <name> ` with the trailing space, as fleet), then `Triggered global unit`.
    let directory = tempfile::tempdir().expect("a temporary directory");
    let text = format!("{}\n[X-Fleet]\nGlobal=true\n", service_text("Monitor"));
    let path = write(directory.path(), "monitor.service", &text);
    let fake = Fake::tcp(Cluster::new(Engine::Instant)).await;
    let started = fake.run(&["start", &path]).await;
    assert_eq!(
        started.stdout,
        "Unit monitor.service \nTriggered global unit monitor.service start\n"
    );
    assert_eq!(started.code, 0);
    let stopped = fake.run(&["stop", "monitor.service"]).await;
    assert_eq!(
        stopped.stdout,
        "Triggered global unit monitor.service stop\n"
    );
    assert_eq!(stopped.stderr, "Successfully stopped units [].\n");
}

#[tokio::test]
async fn stop_unload_and_destroy() {
    // Goal: fleet's lines: the success line on stdout, `Successfully stopped/unloaded units
    // [...]`. on stderr, `Destroyed <name>`; a unit already loaded is skipped by stop.
    let fake = Fake::tcp(launched("hello.service")).await;
    let stopped = fake.run(&["stop", "hello"]).await;
    assert_eq!(
        stopped.stdout,
        format!("Unit hello.service loaded {ON_A}\n")
    );
    assert_eq!(
        stopped.stderr,
        "Successfully stopped units [hello.service].\n"
    );
    assert_eq!(stopped.code, 0);
    let again = fake.run(&["stop", "hello.service"]).await;
    assert_eq!(again.stderr, "Successfully stopped units [].\n");
    let unloaded = fake.run(&["unload", "hello.service"]).await;
    assert_eq!(unloaded.stdout, "Unit hello.service inactive\n");
    assert_eq!(
        unloaded.stderr,
        "Successfully unloaded units [hello.service].\n"
    );
    let destroyed = fake.run(&["destroy", "hello.service"]).await;
    assert_eq!(destroyed.stdout, "Destroyed hello.service\n");
    assert_eq!((destroyed.stderr.as_str(), destroyed.code), ("", 0));
    assert!(fake.with(|cluster| cluster.units.is_empty()));
}

#[tokio::test]
async fn stop_refuses_an_inactive_unit_and_unknown_units_are_not_errors() {
    // Goal: `Unable to stop unit ... in state inactive` (exit 1); names matching nothing print
    // `Units not found in registry` and exit 0 (fleet's quirk); no names: `No units given`.
    let mut cluster = Cluster::new(Engine::Instant);
    cluster.put(unit("idle.service", "Idle", "inactive", "inactive", ""));
    let fake = Fake::tcp(cluster).await;
    let refused = fake.run(&["stop", "idle.service"]).await;
    assert_eq!(
        refused.stderr,
        "Unable to stop unit idle.service in state inactive\n"
    );
    assert_eq!(refused.code, 1);
    for command in ["stop", "unload", "destroy", "restart"] {
        let missing = fake.run(&[command, "nothere.service"]).await;
        assert_eq!(missing.stderr, "Units not found in registry\n", "{command}");
        assert_eq!(missing.code, 0);
        let none = fake.run(&[command]).await;
        assert_eq!((none.stderr.as_str(), none.code), ("No units given\n", 0));
    }
    assert!(fake.with(|cluster| cluster.writes().is_empty()));
}

#[tokio::test]
async fn restart_goes_through_loaded() {
    // Goal: a launched unit is stopped (loaded) and started again (launched), each step
    // reported as stop and start report it.
    let fake = Fake::tcp(launched("hello.service")).await;
    let restarted = fake.run(&["restart", "hello.service"]).await;
    assert_eq!(
        restarted.stdout,
        format!("Unit hello.service loaded {ON_A}\nUnit hello.service launched {ON_A}\n")
    );
    assert_eq!((restarted.stderr.as_str(), restarted.code), ("", 0));
}

#[tokio::test]
async fn block_attempts_time_out_with_fleets_errors() {
    // Goal: an engine that never moves: with `--block-attempts=1` start gives up with
    // fleet's two error lines and exit 1; stop and unload report `Failed to ...`.
    let mut cluster = Cluster::new(Engine::Frozen);
    cluster.put(unit("hello.service", "Hello", "inactive", "inactive", ""));
    cluster.put(unit(
        "busy.service",
        "Busy",
        "launched",
        "launched",
        MACHINE_A,
    ));
    let fake = Fake::tcp(cluster).await;
    let started = fake
        .run(&["start", "--block-attempts=1", "hello.service"])
        .await;
    assert_eq!(started.stdout, "");
    assert_eq!(
        started.stderr,
        "Error waiting for units: timed out waiting for unit hello.service to report state launched\n\
         Error waiting for unit states, exit status: 1\n"
    );
    assert_eq!(started.code, 1);
    let stopped = fake
        .run(&["stop", "--block-attempts=2", "busy.service"])
        .await;
    assert_eq!(
        stopped.stderr,
        "Error waiting for units: timed out waiting for unit busy.service to report state loaded\n\
         Failed to stop units [busy.service]. exit status 1\n"
    );
    assert_eq!(stopped.code, 1);
}

#[tokio::test]
async fn a_unit_that_cannot_be_placed_is_explained_once() {
    // Goal: while the engine cannot place a unit, start prints fleetd's reason and each
    // machine's refusal once on stderr (not once per poll), keeps waiting, and then either
    // gives up (block attempts) or reports the unit when it is finally placed.
    let mut cluster = Cluster::new(Engine::Frozen);
    cluster.put(unit("web.service", "Web", "inactive", "inactive", ""));
    cluster.pending.insert(
        "web.service".into(),
        json!({
            "reason": "no machine satisfies its requirements",
            "refusals": [
                {"machine": support::MACHINE_A, "rule": "MachineMetadata region=us-east not matched"},
                {"machine": support::MACHINE_B, "rule": "Conflicts web* with web-old.service"}
            ]
        }),
    );
    let fake = Fake::tcp(cluster).await;
    let explanation =
        "Unit web.service cannot be placed yet: no machine satisfies its requirements\n  \
                       113f16a7...: MachineMetadata region=us-east not matched\n  \
                       85c0c595...: Conflicts web* with web-old.service\n";
    let gave_up = fake
        .run(&["start", "--block-attempts=3", "web.service"])
        .await;
    assert_eq!(
        gave_up.stderr,
        format!(
            "{explanation}Error waiting for units: timed out waiting for unit web.service to report state launched\n\
             Error waiting for unit states, exit status: 1\n"
        )
    );
    let polls = fake.with(|cluster| {
        cluster
            .requests
            .iter()
            .filter(|request| request.as_str() == "GET /keel/v1/units/web.service/pending")
            .count()
    });
    assert_eq!(polls, 6, "asked on every poll, printed once");
    fake.with(|cluster| {
        cluster
            .units
            .get_mut("web.service")
            .expect("stored")
            .desired_state = "inactive".into();
        cluster.engine = Engine::Lagging(3);
    });
    let placed = fake.run(&["start", "web.service"]).await;
    assert_eq!(placed.stderr, explanation);
    assert_eq!(placed.stdout, format!("Unit web.service launched {ON_A}\n"));
    assert_eq!(placed.code, 0);
}

#[tokio::test]
async fn a_failed_unit_is_reported_while_waiting_for_active() {
    // Goal: systemd reports `failed`: start says so once, keeps waiting, and its timeout
    // names the last systemd state.
    let mut cluster = Cluster::new(Engine::Frozen);
    cluster.put(unit(
        "crash.service",
        "Crash",
        "loaded",
        "launched",
        MACHINE_A,
    ));
    cluster.states.push(fleet_api::entities::UnitState {
        name: "crash.service".into(),
        hash: String::new(),
        machine_id: MACHINE_A.into(),
        load_state: "loaded".into(),
        active_state: "failed".into(),
        sub_state: "failed".into(),
    });
    let fake = Fake::tcp(cluster).await;
    let started = fake
        .run(&["start", "--block-attempts=2", "crash.service"])
        .await;
    assert_eq!(
        started.stdout,
        format!("Unit crash.service launched {ON_A}\n")
    );
    assert_eq!(
        started.stderr,
        "Unit crash.service has failed in systemd (failed/failed); still waiting for it to become active\n\
         Error waiting for units: timed out waiting for unit crash.service to report active state (systemd: loaded/failed/failed)\n\
         Error waiting for systemd unit states, exit status: 1\n"
    );
    assert_eq!(started.code, 1);
}

#[tokio::test]
async fn replace_rules() {
    // Goal: a differing local file only warns without `--replace`; with it the unit is
    // overwritten when its desired state allows it for the verb, refused with fleet's
    // warning otherwise; an identical file is `nothing to do`.
    let directory = tempfile::tempdir().expect("a temporary directory");
    let path = write(directory.path(), "hello.service", &service_text("Hello v2"));
    let fake = Fake::tcp(launched("hello.service")).await;
    let warned = fake.run(&["start", &path]).await;
    assert_eq!(
        warned.stderr,
        format!("WARNING: Unit hello.service in registry differs from local unit file {path}. Add --replace to override.\n")
    );
    assert_eq!((warned.stdout.as_str(), warned.code), ("", 0));
    let refused = fake.run(&["submit", "--replace", &path]).await;
    assert_eq!(
        refused.stderr,
        "Warning: can not replace Unit(hello.service) in state 'launched', use the appropriate command\n"
    );
    assert!(fake.with(|cluster| cluster.writes().is_empty()));
    let replaced = fake.run(&["start", "--replace", &path]).await;
    assert_eq!(
        replaced.stdout,
        format!("Unit hello.service inactive\nUnit hello.service launched {ON_A}\n")
    );
    assert_eq!(replaced.code, 0);
    let description = fake.with(|cluster| cluster.units["hello.service"].options[0].value.clone());
    assert_eq!(description, "Hello v2");
    let same = fake.run(&["start", "--replace", &path]).await;
    assert_eq!(
        same.stdout,
        "Found same Unit(hello.service) in Registry, nothing to do\n"
    );
}

#[tokio::test]
async fn instances_copy_their_template() {
    // Goal: an instance without a file of its own takes a local `prefix@.suffix` file next
    // to the argument, or else the template stored in the cluster.
    let directory = tempfile::tempdir().expect("a temporary directory");
    write(directory.path(), "web@.service", &service_text("Web %i"));
    let instance = directory.path().join("web@1.service").display().to_string();
    let fake = Fake::tcp(Cluster::new(Engine::Instant)).await;
    let local = fake.run(&["submit", &instance]).await;
    assert_eq!(
        (local.stdout.as_str(), local.code),
        ("Unit web@1.service inactive\n", 0)
    );
    fake.with(|cluster| {
        cluster.put(unit(
            "db@.service",
            "Database %i",
            "inactive",
            "inactive",
            "",
        ));
    });
    let stored = fake.run(&["submit", "db@7"]).await;
    assert_eq!(
        (stored.stdout.as_str(), stored.code),
        ("Unit db@7.service inactive\n", 0)
    );
    let (web, db) = fake.with(|cluster| {
        (
            cluster.units["web@1.service"].options.clone(),
            cluster.units["db@7.service"].options.clone(),
        )
    });
    assert_eq!(web[0], option("Unit", "Description", "Web %i"));
    assert_eq!(db[0], option("Unit", "Description", "Database %i"));
    assert!(fake.with(|cluster| cluster
        .requests
        .contains(&"PUT /fleet/v1/units/db%407.service".to_owned())));
}
