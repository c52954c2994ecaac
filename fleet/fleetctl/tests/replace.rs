//! End-to-end tests of `fleetctl replace`: asking for a rolling replacement with the local
//! file and the strategy flags, following it to done or to the failure that stopped it, and
//! `--status`.
//!
//! Method: a fake fleetd that records the rollout requests and shows a scripted sequence of
//! rollout records, one per read; fleetctl's real client runs each command.

mod support;

use serde_json::json;
use support::{service_text, unit, write, Cluster, Engine, Fake, MACHINE_A};

fn cluster_with_template() -> Cluster {
    let mut cluster = Cluster::new(Engine::Frozen);
    cluster.put(unit("web@.service", "Web", "inactive", "inactive", ""));
    cluster
}

fn record(state: &str, updated: u32, healthy: u32) -> serde_json::Value {
    json!({"unit": "web@.service", "state": state, "total": 3, "updated": updated,
           "healthy": healthy, "maxParallel": 2, "minHealthyTimeMs": 1500})
}

#[tokio::test]
async fn replace_sends_the_file_and_strategy_and_follows_to_done() {
    // Goal: the local file's options and the flags reach fleetd; every change of the counts
    // is printed once (nothing before the engine has counted); done exits 0 with the final
    // count.
    let directory = tempfile::tempdir().expect("a temporary directory");
    let path = write(directory.path(), "web@.service", &service_text("Web v2"));
    let fake = Fake::tcp(cluster_with_template()).await;
    fake.with(|cluster| {
        let uncounted = json!({"unit": "web@.service", "state": "running"});
        let script = [
            uncounted,
            record("running", 0, 0),
            record("running", 2, 0),
            record("running", 2, 0),
            record("running", 3, 2),
            record("done", 3, 3),
        ];
        cluster
            .rollout_script
            .insert("web@.service".into(), script.into_iter().collect());
    });
    let args = [
        "replace",
        "--max-parallel",
        "2",
        "--min-healthy-time",
        "1500ms",
        "--healthy-deadline",
        "1m",
        path.as_str(),
    ];
    let replaced = fake.run(&args).await;
    assert_eq!((replaced.stderr.as_str(), replaced.code), ("", 0));
    assert_eq!(
        replaced.stdout,
        "web@.service: 0 of 3 on the new file, 0 healthy\n\
         web@.service: 2 of 3 on the new file, 0 healthy\n\
         web@.service: 3 of 3 on the new file, 2 healthy\n\
         Replaced web@.service: 3 of 3 healthy on the new file\n"
    );
    let sent = fake.with(|cluster| cluster.replaced["web@.service"].clone());
    assert_eq!(sent["maxParallel"], 2);
    assert_eq!(sent["minHealthyTimeMs"], 1500);
    assert_eq!(sent["healthyDeadlineMs"], 60_000);
    assert_eq!(
        sent["options"][0],
        json!({"section": "Unit", "name": "Description", "value": "Web v2"})
    );
}

#[tokio::test]
async fn a_failed_rollout_says_which_instance_failed_and_exits_1() {
    // Goal: the failure names the instance, its machine (in full; abbreviated in the table)
    // and systemd's verdict; `--status` shows the same in its table.
    let directory = tempfile::tempdir().expect("a temporary directory");
    let path = write(directory.path(), "web@.service", &service_text("Web v3"));
    let fake = Fake::tcp(cluster_with_template()).await;
    let failed = json!({"unit": "web@.service", "state": "failed", "total": 3, "updated": 1,
        "healthy": 0, "maxParallel": 1, "minHealthyTimeMs": 10000,
        "failedTarget": "web@1.service", "failedMachine": MACHINE_A,
        "reason": "systemd reports it failed/failed"});
    fake.with(|cluster| {
        let script = [record("running", 1, 0), failed];
        cluster
            .rollout_script
            .insert("web@.service".into(), script.into_iter().collect());
    });
    let replaced = fake.run(&["replace", &path]).await;
    assert_eq!(replaced.code, 1);
    assert_eq!(
        replaced.stderr,
        format!("Rolling replace of web@.service stopped: web@1.service on {MACHINE_A}: systemd reports it failed/failed\n")
    );
    let status = fake.run(&["replace", "--status"]).await;
    assert_eq!(status.code, 0);
    assert_eq!(
        status.stdout,
        "UNIT\t\tSTATE\tHEALTHY\tSTRATEGY\t\t\tDETAIL\n\
         web@.service\tfailed\t0/3\tmax-parallel 1, min-healthy 10s\tweb@1.service on 113f16a7...: systemd reports it failed/failed\n"
    );
}

#[tokio::test]
async fn bad_requests_are_refused_before_or_by_fleetd() {
    // Goal: a zero max-parallel and a duration that does not parse are refused by fleetctl
    // (nothing sent); a unit the cluster does not know gets fleetd's 404 in words; no file
    // at all is fleet's "failed getting Unit"; --no-block only triggers.
    let directory = tempfile::tempdir().expect("a temporary directory");
    let path = write(directory.path(), "web@.service", &service_text("Web"));
    let other = write(directory.path(), "db.service", &service_text("Db"));
    let fake = Fake::tcp(cluster_with_template()).await;
    let zero = fake.run(&["replace", "--max-parallel", "0", &path]).await;
    assert_eq!(
        (zero.stderr.as_str(), zero.code),
        ("--max-parallel must be at least 1\n", 1)
    );
    let bad = fake
        .run(&["replace", "--min-healthy-time", "soon", &path])
        .await;
    assert_eq!(bad.code, 1);
    assert!(
        bad.stderr
            .starts_with("invalid --min-healthy-time \"soon\": "),
        "{}",
        bad.stderr
    );
    assert!(fake.with(|cluster| cluster.replaced.is_empty()));
    let unknown = fake.run(&["replace", &other]).await;
    assert_eq!(unknown.code, 1);
    assert_eq!(
        unknown.stderr,
        "Unit db.service does not exist in the cluster: start it first; replace updates units that exist\n"
    );
    let missing = fake.run(&["replace", "nothing.service"]).await;
    assert_eq!(missing.code, 1);
    assert!(
        missing
            .stderr
            .starts_with("failed getting Unit(nothing.service) from file: "),
        "{}",
        missing.stderr
    );
    let triggered = fake.run(&["replace", "--no-block", &path]).await;
    assert_eq!(
        (triggered.stdout.as_str(), triggered.code),
        ("Triggered rolling replace of web@.service\n", 0)
    );
}
