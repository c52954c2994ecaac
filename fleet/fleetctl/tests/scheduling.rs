//! End-to-end tests of Keel's scheduling commands: `why`, `scale`, `run`, and
//! `list-unit-files`' `pending`, replica and batch-job states.
//!
//! Method: a fake fleetd serving hand-made `why`, `pending` and replica bodies and recording
//! what it is sent; fleetctl's real client runs each command; output and exit codes are
//! compared with TABs spelled out.

mod support;

use serde_json::json;
use support::{unit, Cluster, Engine, Fake, MACHINE_A, MACHINE_B};

fn pending_cluster() -> Cluster {
    let mut cluster = Cluster::new(Engine::Frozen);
    cluster.put(unit("db.service", "Database", "launched", "inactive", ""));
    cluster.put(unit(
        "web.service",
        "Web",
        "launched",
        "launched",
        MACHINE_A,
    ));
    cluster.pending.insert(
        "db.service".into(),
        json!({"reason": "none of 2 machine(s) accepts it", "refusals": []}),
    );
    cluster.why.insert(
        "db.service".into(),
        json!({
            "unit": "db.service",
            "desiredState": "launched",
            "pending": "none of 2 machine(s) accepts it",
            "machines": [
                {"machine": MACHINE_A, "primaryIP": "10.0.0.1",
                 "filtered": "insufficient memory: requests 2G, 1.1G free"},
                {"machine": MACHINE_B,
                 "filtered": "MachineMetadata disk=ssd not matched"}
            ]
        }),
    );
    cluster.why.insert(
        "web.service".into(),
        json!({
            "unit": "web.service",
            "desiredState": "launched",
            "placed": MACHINE_A,
            "best": MACHINE_B,
            "machines": [
                {"machine": MACHINE_A, "primaryIP": "10.0.0.1",
                 "score": {"total": 400, "spread": 100, "free": 50, "load": 50}},
                {"machine": MACHINE_B, "primaryIP": "10.0.0.2",
                 "score": {"total": 600, "spread": 100, "zone": 100, "free": 100, "load": 100}}
            ]
        }),
    );
    cluster
}

#[tokio::test]
async fn why_prints_each_machines_rule_or_score() {
    // Goal: a pending unit's reason first, then one row per machine with the rule that
    // filtered it; a placed unit's scores, its machine and the best one marked.
    let fake = Fake::tcp(pending_cluster()).await;
    let pending = fake.run(&["why", "db"]).await;
    assert_eq!(pending.code, 0, "{}", pending.stderr);
    assert_eq!(
        pending.stdout,
        "db.service is pending: none of 2 machine(s) accepts it\n\
         MACHINE\t\tIP\t\tVERDICT\n\
         113f16a7...\t10.0.0.1\tfiltered: insufficient memory: requests 2G, 1.1G free\n\
         85c0c595...\t-\t\tfiltered: MachineMetadata disk=ssd not matched\n"
    );
    let placed = fake.run(&["why", "--no-legend", "web.service"]).await;
    assert_eq!(
        placed.stdout,
        "web.service is placed on 113f16a7...\n\
         113f16a7...\t10.0.0.1\tscore 400 (spread 100, free 50, load 50) (placed here)\n\
         85c0c595...\t10.0.0.2\tscore 600 (spread 100, zone 100, free 100, load 100) (best)\n"
    );
}

#[tokio::test]
async fn why_refuses_missing_units_and_wrong_arguments() {
    // Goal: fleet-style errors and exit status 1 for an unknown unit and for zero or two
    // arguments.
    let fake = Fake::tcp(pending_cluster()).await;
    let missing = fake.run(&["why", "nope.service"]).await;
    assert_eq!(
        (missing.stderr.as_str(), missing.code),
        ("Unit nope.service not found\n", 1)
    );
    let two = fake.run(&["why", "a.service", "b.service"]).await;
    assert_eq!(
        (two.stderr.as_str(), two.code),
        ("One unit must be provided\n", 1)
    );
}

#[tokio::test]
async fn list_unit_files_shows_pending_with_the_reason_when_full() {
    // Goal: a unit that should run but has no machine shows STATE `pending`, and the stored
    // reason with --full; placed units keep their state.
    let fake = Fake::tcp(pending_cluster()).await;
    let short = fake.run(&["list-unit-files", "--fields=unit,state"]).await;
    assert_eq!(
        short.stdout,
        "UNIT\t\tSTATE\ndb.service\tpending\nweb.service\tlaunched\n"
    );
    let full = fake
        .run(&["list-unit-files", "--full", "--fields=unit,state"])
        .await;
    assert_eq!(
        full.stdout,
        "UNIT\t\tSTATE\n\
         db.service\tpending: none of 2 machine(s) accepts it\n\
         web.service\tlaunched\n"
    );
}

#[tokio::test]
async fn finished_batch_jobs_say_how_they_ended() {
    // Goal: list-unit-files shows a finished batch job's STATE as `completed` or `failed
    // (...)` (other units as before); why names its machine and result, and no table.
    let mut cluster = pending_cluster();
    cluster.put(unit(
        "job.service",
        "Job",
        "launched",
        "launched",
        MACHINE_B,
    ));
    cluster.put(unit("ok.service", "Ok", "launched", "launched", MACHINE_A));
    let failed = json!({"unit": "job.service", "machine": MACHINE_B, "result": "exit-code",
                        "exitStatus": 4, "finished": 1, "summary": "failed (exit-code, status 4)"});
    cluster.completions = vec![
        failed.clone(),
        json!({"unit": "ok.service", "machine": MACHINE_A, "result": "success",
               "exitStatus": 0, "finished": 1, "summary": "completed"}),
    ];
    cluster.why.insert(
        "job.service".into(),
        json!({"unit": "job.service", "desiredState": "launched", "placed": MACHINE_B,
               "completion": failed, "machines": []}),
    );
    let fake = Fake::tcp(cluster).await;
    let listed = fake
        .run(&["list-unit-files", "--no-legend", "--fields=unit,state"])
        .await;
    assert_eq!(
        listed.stdout,
        "db.service\tpending\n\
         job.service\tfailed (exit-code, status 4)\n\
         ok.service\tcompleted\n\
         web.service\tlaunched\n"
    );
    let why = fake.run(&["why", "job.service"]).await;
    assert_eq!(
        (why.stdout.as_str(), why.code),
        (
            "job.service finished on 85c0c595...: failed (exit-code, status 4)\n\
             It does not run again until its file changes or it is unloaded and started again\n",
            0
        )
    );
}

#[tokio::test]
async fn scale_sends_the_count_and_waits_for_the_instances() {
    // Goal: `scale` refuses a non-template, sends the count for a template the cluster
    // knows, returns at once with --no-block, waits until the replica list shows every
    // instance running, and times out with the running count when it does not;
    // list-unit-files shows a scaled template's STATE as running/wanted.
    let mut cluster = pending_cluster();
    cluster.put(unit("api@.service", "API", "inactive", "inactive", ""));
    cluster.replica_sets = vec![json!({"template": "api@.service", "count": 3,
                                       "instances": 3, "running": 2})];
    let fake = Fake::tcp(cluster).await;
    let refused = fake.run(&["scale", "web.service", "3"]).await;
    assert_eq!(
        (refused.stderr.as_str(), refused.code),
        (
            "Unit web.service is not a template: scale takes a template (NAME@.service)\n",
            1
        )
    );
    let triggered = fake
        .run(&["scale", "--no-block", "api@.service", "3"])
        .await;
    assert_eq!(
        (triggered.stdout.as_str(), triggered.code),
        ("Triggered api@.service scale to 3\n", 0)
    );
    assert_eq!(
        fake.with(|cluster| cluster.scaled.get("api@.service").copied()),
        Some(3)
    );
    let timed_out = fake
        .run(&["scale", "--block-attempts=1", "api@.service", "3"])
        .await;
    assert_eq!(
        (timed_out.stderr.as_str(), timed_out.code),
        (
            "Error waiting for api@.service: timed out waiting for 3 instances to run (2 running)\n",
            1
        )
    );
    let listed = fake
        .run(&["list-unit-files", "--no-legend", "--fields=unit,state"])
        .await;
    assert!(
        listed.stdout.contains("api@.service\t2/3 running\n"),
        "{}",
        listed.stdout
    );
    fake.with(|cluster| {
        cluster.replica_sets = vec![json!({"template": "api@.service", "count": 3,
                                           "instances": 3, "running": 3})];
    });
    let done = fake.run(&["scale", "api@.service", "3"]).await;
    assert_eq!(
        (done.stdout.as_str(), done.code),
        ("Unit api@.service scaled to 3: 3 running\n", 0)
    );
}

#[tokio::test]
async fn run_makes_a_unit_from_a_command_line() {
    // Goal: `run` creates NAME.service with the command quoted for systemd and the requests
    // in [X-Fleet], starts it, refuses a name that exists and a bad request; with
    // --replicas it creates the template and scales it.
    let fake = Fake::tcp(Cluster::new(Engine::Frozen)).await;
    let ran = fake
        .run(&[
            "run",
            "--no-block",
            "--cpu",
            "500m",
            "--memory",
            "256M",
            "hello",
            "--",
            "/bin/echo",
            "hello world",
        ])
        .await;
    assert_eq!(
        (ran.stdout.as_str(), ran.code),
        ("Triggered unit hello.service start\n", 0),
        "{}",
        ran.stderr
    );
    let cat = fake.run(&["cat", "hello.service"]).await;
    assert_eq!(
        cat.stdout,
        "[Unit]\nDescription=hello (fleetctl run)\n\n[Service]\nExecStart=/bin/echo \"hello world\"\n\n\
         [X-Fleet]\nCpu=500m\nMemory=256M\n"
    );
    let again = fake.run(&["run", "hello", "--", "/bin/true"]).await;
    assert_eq!(
        (again.stderr.as_str(), again.code),
        (
            "Unit hello.service already exists: destroy it first, or use start\n",
            1
        )
    );
    let bad = fake
        .run(&["run", "--memory", "lots", "x", "--", "/bin/true"])
        .await;
    assert_eq!(bad.code, 1);
    assert!(
        bad.stderr.starts_with("invalid Memory value \"lots\""),
        "{}",
        bad.stderr
    );
    let replicated = fake
        .run(&[
            "run",
            "--no-block",
            "--replicas",
            "2",
            "api",
            "--",
            "/bin/sleep",
            "100",
        ])
        .await;
    assert_eq!(
        (replicated.stdout.as_str(), replicated.code),
        ("Triggered api@.service scale to 2\n", 0),
        "{}",
        replicated.stderr
    );
    assert_eq!(
        fake.with(|cluster| cluster.scaled.get("api@.service").copied()),
        Some(2)
    );
}

#[tokio::test]
async fn drain_and_uncordon_name_a_machine_by_prefix() {
    // Goal: drain resolves a unique ID prefix, drains, and waits until no non-global unit is
    // placed there (timing out with the units left); uncordon undoes it; an unknown prefix is
    // refused.
    let fake = Fake::tcp(pending_cluster()).await;
    let triggered = fake.run(&["drain", "--no-block", "113f"]).await;
    assert_eq!(
        (triggered.stdout.as_str(), triggered.code),
        ("Triggered machine 113f16a7... drain\n", 0)
    );
    assert!(fake.with(|cluster| cluster.cordoned.contains(MACHINE_A)));
    let waited = fake.run(&["drain", "--block-attempts=1", MACHINE_A]).await;
    assert_eq!(
        (waited.stderr.as_str(), waited.code),
        (
            "Error waiting for machine 113f16a7... to drain: timed out with 1 unit(s) left: web.service\n",
            1
        )
    );
    let empty = fake.run(&["drain", "85c0"]).await;
    assert_eq!(
        (empty.stdout.as_str(), empty.code),
        ("Machine 85c0c595... drained\n", 0)
    );
    let undone = fake.run(&["uncordon", "113f16a7"]).await;
    assert_eq!(
        (undone.stdout.as_str(), undone.code),
        ("Machine 113f16a7... uncordoned\n", 0)
    );
    assert!(!fake.with(|cluster| cluster.cordoned.contains(MACHINE_A)));
    let unknown = fake.run(&["drain", "ffff"]).await;
    assert_eq!(
        (unknown.stderr.as_str(), unknown.code),
        ("Machine ffff not found\n", 1)
    );
}
