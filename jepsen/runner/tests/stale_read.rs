//! The harness can see the anomaly it exists to catch (`docs/jepsen.md`, "Controls").
//!
//! Goal: plain (non-quorum) reads served by an isolated old leader are stale, and the checker
//! flags the recorded history; `quorum=true` reads under the very same fault are not, and the
//! checker accepts theirs. Method: a 3-member cluster in network namespaces; write "1" and
//! isolate the leader with nftables; once the majority has a new leader, write "2" through
//! it; then read from the old leader, plainly (history A) and with `quorum=true` (history B),
//! plus a quorum read on the majority side in both. Raft thesis §6.4 (read-only queries must
//! confirm leadership) is the property quorum reads implement.
//!
//! Needs root (network namespaces): elsewhere it prints a notice and passes without running.

use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::Duration;

use checker::{CheckOptions, EventKind, Op, Verdict};
use jepsen::nemesis::isolate;
use jepsen::recorder::{Meta, Recorder};
use jepsen::workload::{register_read, Env, ReadMode};
use kv_client::SetOptions;
use testkit::lab::{is_root, Lab, LabConfig};
use testkit::{wait_for, Cluster};

fn env(recorder: Arc<Recorder>, urls: &[String], read_mode: ReadMode) -> Env {
    Env {
        recorder,
        urls: urls.to_vec(),
        seed: 1,
        read_mode,
        rate: 1.0,
        timeout: Duration::from_millis(1500),
        processes: AtomicU64::new(0),
        elements: AtomicU64::new(0),
        prefix: "/stale".into(),
    }
}

async fn write(env: &Env, node: usize, key: &str, value: &str) {
    let process = env.new_process();
    let op = Op::Write {
        key: key.into(),
        value: value.into(),
    };
    let meta = Meta {
        node: Some(format!("n{}", node + 1)),
        ..Meta::default()
    };
    env.recorder
        .client(process, EventKind::Invoke, op.clone(), &meta);
    let client = env.client(node, Duration::from_secs(5));
    let result = client.set(key, value, SetOptions::default()).await;
    let kind = if result.is_ok() {
        EventKind::Ok
    } else {
        EventKind::Info
    };
    env.recorder.client(process, kind, op, &meta);
    assert!(
        result.is_ok(),
        "write {value} through n{}: {result:?}",
        node + 1
    );
}

fn check(path: &std::path::Path) -> Verdict {
    checker::check_file(path, &CheckOptions::default()).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn plain_reads_from_an_isolated_leader_are_flagged_quorum_reads_pass() {
    if !is_root() {
        eprintln!("skipped: needs root for network namespaces");
        return;
    }
    let lab = Lab::up(LabConfig {
        nodes: 3,
        net: "10.79.0".into(),
        prefix: "jsr".into(),
        bridge: "jsrbr0".into(),
    })
    .unwrap_or_else(|e| panic!("{e}"));
    let cluster = Cluster::start_in_lab(&lab, &[], &[], None);
    let urls: Vec<String> = (0..3).map(|n| cluster.url(n).to_owned()).collect();
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let plain_path = dir.path().join("plain.jsonl");
    let quorum_path = dir.path().join("quorum.jsonl");
    let plain = env(
        Arc::new(Recorder::create(&plain_path).unwrap_or_else(|e| panic!("{e}"))),
        &urls,
        ReadMode::Plain,
    );
    let quorum = env(
        Arc::new(Recorder::create(&quorum_path).unwrap_or_else(|e| panic!("{e}"))),
        &urls,
        ReadMode::Quorum,
    );
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("{e}"));
    let key = "/stale/x";

    let old_leader = cluster.wait_leader();
    runtime.block_on(async {
        write(&plain, old_leader, key, "1").await;
        write(&quorum, old_leader, key, "1").await;
    });
    // The old leader must hold "1" locally before it is cut off.
    wait_for(Duration::from_secs(10), "the old leader to apply 1", || {
        let reply = cluster
            .get(&urls[old_leader], &format!("/v2/keys{key}"))
            .ok()?;
        (reply.json()["node"]["value"] == "1").then_some(())
    });
    lab.grudge(&isolate(old_leader, 3))
        .unwrap_or_else(|e| panic!("{e}"));
    let new_leader = wait_for(
        Duration::from_secs(20),
        "a new leader on the majority side",
        || {
            cluster
                .leader_by_majority()
                .filter(|&leader| leader != old_leader)
        },
    );
    runtime.block_on(async {
        write(&plain, new_leader, key, "2").await;
        write(&quorum, new_leader, key, "2").await;
        for env in [&plain, &quorum] {
            let client = env.client(old_leader, env.timeout);
            register_read(env, &client, old_leader, env.new_process(), key).await;
            let client = env.client(new_leader, Duration::from_secs(5));
            register_read(env, &client, new_leader, env.new_process(), key).await;
        }
    });
    lab.heal().unwrap_or_else(|e| panic!("{e}"));

    let plain_events = plain.recorder.client_events();
    let stale = plain_events.iter().any(|e| {
        e.event.kind == EventKind::Ok
            && e.node.as_deref() == Some(&format!("n{}", old_leader + 1))
            && e.event.op
                == Op::Read {
                    key: key.into(),
                    value: Some("1".into()),
                }
    });
    assert!(
        stale,
        "the isolated old leader served its stale value: {plain_events:#?}"
    );
    match check(&plain_path) {
        Verdict::NotLinearizable { key: flagged, .. } => assert_eq!(flagged, key),
        other => panic!("plain reads from the old leader must be flagged, got {other}"),
    }
    let verdict = check(&quorum_path);
    assert!(
        verdict.is_linearizable(),
        "quorum reads must pass: {verdict}"
    );
    let quorum_events = quorum.recorder.client_events();
    assert!(
        quorum_events.iter().any(|e| e.event.kind == EventKind::Ok
            && e.event.op
                == Op::Read {
                    key: key.into(),
                    value: Some("2".into()),
                }),
        "the majority side's quorum read saw 2: {quorum_events:#?}"
    );
}
