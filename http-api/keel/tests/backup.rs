//! Backup of a live cluster (`GET /keel/backup`) and restore into a new cluster
//! (`keel --restore FILE`), as etcd users do with snapshot save / restore.

use std::time::Duration;

use testkit::{run_to_exit, Cluster};

fn tree(cluster: &Cluster, member: usize) -> serde_json::Value {
    let reply = cluster
        .get(
            cluster.url(member),
            "/v2/keys/?recursive=true&sorted=true&quorum=true",
        )
        .unwrap_or_else(|e| panic!("read: {e}"));
    assert_eq!(reply.status, 200, "{}", reply.body);
    reply.json()["node"].clone()
}

fn backup_bytes(cluster: &Cluster, member: usize) -> Vec<u8> {
    let response = ureq::get(&format!("{}/keel/backup", cluster.url(member)))
        .call()
        .unwrap_or_else(|e| panic!("backup: {e}"));
    assert_eq!(response.status(), 200);
    let mut bytes = Vec::new();
    std::io::Read::read_to_end(&mut response.into_reader(), &mut bytes)
        .unwrap_or_else(|e| panic!("backup body: {e}"));
    bytes
}

// Goal: a backup taken from a follower of a live 3-member cluster, restored into a fresh
// one-member cluster, holds identical data (values, directories, in-order keys, every
// createdIndex and modifiedIndex), keeps it across a restart before any raft snapshot
// exists, and accepts new writes. Method: write a varied tree, back up through a follower
// right after the last acknowledged write, start a new member with --restore, compare
// recursive sorted quorum reads of the whole tree, kill -9 and restart it, compare again.
#[test]
fn backup_restores_into_a_new_cluster_with_identical_data() {
    let source = Cluster::start(3, &[]);
    let leader = source.wait_leader();
    for i in 0..40 {
        let reply = source
            .put(
                source.url(leader),
                &format!("/v2/keys/app/k{i}"),
                &[("value", &format!("v{i}"))],
            )
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(reply.status < 300, "{}", reply.body);
    }
    for (path, form) in [
        ("/v2/keys/app/dir", vec![("dir", "true")]),
        ("/v2/keys/app/k3", vec![("value", "changed")]),
        ("/v2/keys/deep/a/b/c", vec![("value", "leaf")]),
    ] {
        let reply = source
            .put(source.url(leader), path, &form)
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(reply.status < 300, "{}", reply.body);
    }
    let reply = source
        .delete(source.url(leader), "/v2/keys/app/k7")
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(reply.status, 200);
    let queued = ureq::post(&format!("{}/v2/keys/queue", source.url(leader)))
        .send_form(&[("value", "job")])
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(queued.status(), 201);
    let follower = (leader + 1) % 3;
    let bytes = backup_bytes(&source, follower);
    let expected = tree(&source, leader);
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let file = dir.path().join("keel-backup.db");
    std::fs::write(&file, &bytes).unwrap_or_else(|e| panic!("{e}"));

    let file_flag = file.display().to_string();
    let mut restored = Cluster::start(1, &["--restore", &file_flag]);
    assert_eq!(
        tree(&restored, 0),
        expected,
        "the restored tree is identical"
    );
    // Restarted with the same command line: --restore no longer applies, the data stays.
    restored.kill(0);
    restored.spawn(0);
    restored.wait_leader();
    assert_eq!(tree(&restored, 0), expected, "and survives a restart");
    assert!(
        restored.log(0).contains("ignoring --restore"),
        "the restart says it ignored --restore"
    );
    let reply = restored
        .put(restored.url(0), "/v2/keys/app/after", &[("value", "new")])
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(reply.status, 201, "{}", reply.body);
    let restored_index = reply.etcd_index.unwrap_or(0);
    let source_index = source
        .get(source.url(leader), "/v2/keys/")
        .unwrap_or_else(|e| panic!("{e}"))
        .etcd_index
        .unwrap_or(u64::MAX);
    assert!(
        restored_index > source_index,
        "new writes continue after the backup's index ({restored_index} vs {source_index})"
    );
}

// Goal: restore refuses, with a clear message, a file that is missing, not a backup, or
// damaged. Method: run keel to exit with each on a new data directory.
#[test]
fn restore_refuses_bad_input() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let garbage = dir.path().join("garbage.db");
    std::fs::write(&garbage, b"definitely not a backup").unwrap_or_else(|e| panic!("{e}"));
    let port = testkit::free_port();
    let peer = testkit::free_port();
    // Flags of a fresh one-member cluster whose data directory is `data`, restoring `file`.
    let args = |data: &str, file: &std::path::Path| -> Vec<String> {
        vec![
            "--data-dir".into(),
            dir.path().join(data).display().to_string(),
            "--listen-client-urls".into(),
            format!("http://127.0.0.1:{port}"),
            "--advertise-client-urls".into(),
            format!("http://127.0.0.1:{port}"),
            "--listen-peer-urls".into(),
            format!("http://127.0.0.1:{peer}"),
            "--initial-advertise-peer-urls".into(),
            format!("http://127.0.0.1:{peer}"),
            "--initial-cluster".into(),
            format!("default=http://127.0.0.1:{peer}"),
            "--restore".into(),
            file.display().to_string(),
        ]
    };
    let (code, stderr) = run_to_exit(&args("a.keel", &garbage), Duration::from_secs(20));
    assert_ne!(code, Some(0));
    assert!(stderr.contains("not a Keel backup file"), "{stderr}");

    let missing = dir.path().join("missing.db");
    let (code, stderr) = run_to_exit(&args("b.keel", &missing), Duration::from_secs(20));
    assert_ne!(code, Some(0));
    assert!(stderr.contains("reading the backup"), "{stderr}");

    // A real backup, then a second restore onto the directory it created.
    let source = Cluster::start(1, &[]);
    let bytes = backup_bytes(&source, 0);
    let good = dir.path().join("good.db");
    std::fs::write(&good, &bytes).unwrap_or_else(|e| panic!("{e}"));
    let mut damaged = bytes.clone();
    let middle = damaged.len() / 2;
    damaged[middle] ^= 0xff;
    let bad = dir.path().join("damaged.db");
    std::fs::write(&bad, &damaged).unwrap_or_else(|e| panic!("{e}"));
    let (code, stderr) = run_to_exit(&args("c.keel", &bad), Duration::from_secs(20));
    assert_ne!(code, Some(0));
    assert!(stderr.contains("damaged"), "{stderr}");
}
