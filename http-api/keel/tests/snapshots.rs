//! Snapshots and log compaction on real `keel` processes (raft thesis §5: log compaction;
//! §5.3 / raft paper §7: InstallSnapshot for followers behind the compacted log).

use std::time::Duration;

use testkit::{wait_for, Cluster};

const SNAPSHOT_COUNT: u64 = 100;
const CATCH_UP: u64 = 20;
/// Entries a member may hold beyond snapshot-count plus the catch-up window: those appended
/// since the last snapshot was taken but not yet applied (writes here go one at a time).
const SLACK: u64 = 10;

fn flags() -> Vec<String> {
    vec![
        "--snapshot-count".into(),
        SNAPSHOT_COUNT.to_string(),
        "--snapshot-catch-up-entries".into(),
        CATCH_UP.to_string(),
    ]
}

fn start() -> Cluster {
    let flags = flags();
    let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
    Cluster::start(3, &flags)
}

fn debug(cluster: &Cluster, member: usize) -> serde_json::Value {
    cluster
        .get(cluster.url(member), "/debug/raft")
        .unwrap_or_else(|e| panic!("debug/raft of member {member}: {e}"))
        .json()
}

fn number(value: &serde_json::Value, field: &str) -> u64 {
    value[field]
        .as_u64()
        .unwrap_or_else(|| panic!("{field} missing in {value}"))
}

fn write(cluster: &Cluster, member: usize, key: usize, padding: usize) {
    let value = format!("value-{key}-{}", "x".repeat(padding));
    let reply = cluster
        .put(
            cluster.url(member),
            &format!("/v2/keys/snap/k{key}"),
            &[("value", &value)],
        )
        .unwrap_or_else(|e| panic!("write {key}: {e}"));
    assert!(reply.status == 200 || reply.status == 201, "{}", reply.body);
}

fn tree(cluster: &Cluster, member: usize) -> serde_json::Value {
    cluster
        .get(
            cluster.url(member),
            "/v2/keys/snap?recursive=true&sorted=true",
        )
        .unwrap_or_else(|e| panic!("read member {member}: {e}"))
        .json()["node"]
        .clone()
}

// Goal: a member that was down while the cluster wrote 3 × snapshot-count entries comes back
// through a snapshot from the leader (its old log position was compacted away there) and then
// holds exactly the leader's data. Method: kill a follower, write 330 keys of 16 KiB (so the
// snapshot, about 5 MiB, streams in several chunks), check the leader compacted, restart the
// follower, wait for it to report an installed snapshot and the leader's applied index, and
// compare the whole subtree.
#[test]
fn stopped_member_comes_back_by_snapshot() {
    let mut cluster = start();
    let leader = cluster.wait_leader();
    let stopped = (leader + 1) % 3;
    cluster.kill(stopped);
    let writes = 3 * SNAPSHOT_COUNT as usize + 30;
    for key in 0..writes {
        write(&cluster, leader, key, 16 * 1024);
    }
    let leader_view = debug(&cluster, leader);
    assert!(
        number(&leader_view, "snapshotsSaved") >= 3,
        "the leader snapshotted: {leader_view}"
    );
    assert!(
        number(&leader_view, "firstIndex") > 2 * SNAPSHOT_COUNT,
        "the leader compacted its log: {leader_view}"
    );
    let target = number(&leader_view, "appliedIndex");
    cluster.spawn(stopped);
    let caught_up = wait_for(
        Duration::from_secs(30),
        "the restarted member to install a snapshot and catch up",
        || {
            let view = cluster
                .get(cluster.url(stopped), "/debug/raft")
                .ok()?
                .json();
            (number(&view, "snapshotsInstalled") >= 1 && number(&view, "appliedIndex") >= target)
                .then_some(view)
        },
    );
    assert!(
        number(&caught_up, "firstIndex") > 2 * SNAPSHOT_COUNT,
        "its log starts after the snapshot: {caught_up}"
    );
    assert_eq!(tree(&cluster, stopped), tree(&cluster, leader));
    let listed = tree(&cluster, stopped)["nodes"]
        .as_array()
        .map_or(0, Vec::len);
    assert_eq!(
        listed, writes,
        "every acknowledged key is on the restarted member"
    );
}

// Goal: under constant writes the stored log stays bounded by snapshot-count plus the
// catch-up window, on every member, as reported live and as counted in RocksDB itself.
// Method: write 5 × snapshot-count keys one at a time, checking every member's reported log
// length after each write; then kill a member and count the entries in its data directory.
#[test]
fn log_stays_bounded_under_writes() {
    let mut cluster = start();
    let leader = cluster.wait_leader();
    let bound = SNAPSHOT_COUNT + CATCH_UP + SLACK;
    let mut largest = 0;
    for key in 0..(5 * SNAPSHOT_COUNT as usize) {
        write(&cluster, leader, key, 0);
        if key % 10 == 0 {
            for member in 0..3 {
                let view = debug(&cluster, member);
                let entries = number(&view, "logEntries");
                largest = largest.max(entries);
                assert!(
                    entries <= bound,
                    "member {member} holds {entries} entries: {view}"
                );
            }
        }
    }
    assert!(
        largest > CATCH_UP,
        "the log did grow between snapshots ({largest})"
    );
    let follower = (leader + 1) % 3;
    let data_dir = cluster.members[follower].data_dir.clone();
    cluster.kill(follower);
    let storage = kvstore_rocks::RocksStorage::open(&data_dir)
        .unwrap_or_else(|e| panic!("open the killed member's data: {e}"));
    let on_disk = storage
        .log_entries_on_disk()
        .unwrap_or_else(|e| panic!("count entries: {e}"));
    assert!(
        on_disk <= bound,
        "{on_disk} entries in RocksDB, bound {bound}"
    );
    assert!(on_disk > 0, "the log is not empty");
}
