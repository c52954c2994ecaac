//! kv-client against a real 3-member keel cluster on loopback (processes from `testkit`):
//! failover when the member in use is killed, a watch that survives its member being killed,
//! and an indeterminate (not failed) write when the leader is frozen mid-write.
//!
//! Needs the `keel` binary (`cargo build --bin keel`; `scripts/test.sh` builds it first).

// A test crate: a failed unwrap is a failed check.
#![allow(clippy::unwrap_used)]

use futures_util::StreamExt;
use kv_client::{Client, ClientConfig, GetOptions, SetOptions, WatchOptions};
use std::time::Duration;
use testkit::{Cluster, READY_DEADLINE};

fn client(urls: Vec<String>, request_timeout: Duration) -> Client {
    let config = ClientConfig {
        request_timeout,
        ..ClientConfig::new(urls)
    };
    Client::new(config).unwrap()
}

fn urls(cluster: &Cluster, order: &[usize]) -> Vec<String> {
    order.iter().map(|i| cluster.url(*i).to_string()).collect()
}

/// Member indexes with a follower first, then the leader, then the other follower. Killing the
/// first then tests the client's failover alone: killing the leader would add an election,
/// during which writes may time out on the server (error 300, indeterminate) as with etcd.
fn follower_first(cluster: &Cluster) -> [usize; 3] {
    let leader = cluster.wait_leader();
    let mut followers = (0..3).filter(|i| *i != leader);
    let first = followers.next().unwrap();
    let second = followers.next().unwrap();
    [first, leader, second]
}

// Goal: when the member the client uses is killed, reads and writes go on through the others.
// Method: the client's first endpoint is a follower; write, kill -9 it, write and read.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_fails_over_when_its_member_is_killed() {
    let mut cluster = Cluster::start(3, &[]);
    let order = follower_first(&cluster);
    let client = client(urls(&cluster, &order), Duration::from_secs(10));
    client
        .set("/f/before", "1", SetOptions::default())
        .await
        .unwrap();
    cluster.kill(order[0]);
    let written = client
        .set("/f/after", "2", SetOptions::default())
        .await
        .unwrap();
    assert_eq!(written.node.value.as_deref(), Some("2"));
    let quorum = GetOptions {
        quorum: true,
        ..GetOptions::default()
    };
    let before = client.get("/f/before", quorum).await.unwrap();
    assert_eq!(before.node.value.as_deref(), Some("1"));
}

// Goal: a watch survives the death of the member it polls and sees every later event exactly
// once, in index order. Method: watch /w recursively through a follower first; write five
// events through the other members, kill the follower once some have arrived, write five more.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watch_survives_its_member_being_killed() {
    let mut cluster = Cluster::start(3, &[]);
    let order = follower_first(&cluster);
    let writer = client(urls(&cluster, &order[1..]), Duration::from_secs(10));
    let start = writer
        .set("/w/start", "s", SetOptions::default())
        .await
        .unwrap()
        .etcd_index;
    let watcher = client(urls(&cluster, &order), Duration::from_secs(2));
    let mut watch = watcher.watch("/w", WatchOptions::after(start).recursive());
    let mut seen = Vec::new();
    for n in 0..5 {
        writer
            .set(&format!("/w/k{n}"), "v", SetOptions::default())
            .await
            .unwrap();
    }
    while seen.len() < 2 {
        let event = tokio::time::timeout(READY_DEADLINE, watch.next())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        seen.push((event.node.key.clone(), event.node.modified_index));
    }
    cluster.kill(order[0]);
    for n in 5..10 {
        writer
            .set(&format!("/w/k{n}"), "v", SetOptions::default())
            .await
            .unwrap();
    }
    while seen.len() < 10 {
        let next = tokio::time::timeout(READY_DEADLINE, watch.next())
            .await
            .unwrap()
            .unwrap();
        let event = match next {
            Ok(event) => event,
            // A transient error after a failover budget is surfaced, and the watch goes on.
            Err(error) => {
                assert!(error.is_retriable(), "{error}");
                continue;
            }
        };
        seen.push((event.node.key.clone(), event.node.modified_index));
    }
    let keys: Vec<String> = seen.iter().map(|(key, _)| key.clone()).collect();
    let expected: Vec<String> = (0..10).map(|n| format!("/w/k{n}")).collect();
    assert_eq!(keys, expected, "every event once, in order");
    assert!(
        seen.windows(2).all(|pair| pair[0].1 < pair[1].1),
        "indexes increase: {seen:?}"
    );
    assert!(seen[0].1 > start);
}

// Goal: a write whose outcome is unknown is reported as indeterminate, never as a failure.
// Method: freeze the leader with SIGSTOP (its socket still accepts connections, so the
// request is sent), write through it with a short timeout, then thaw it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn write_to_a_frozen_leader_is_indeterminate() {
    let cluster = Cluster::start(3, &[]);
    let leader = cluster.wait_leader();
    let client = client(urls(&cluster, &[leader]), Duration::from_millis(1500));
    client
        .set("/i/warm", "up", SetOptions::default())
        .await
        .unwrap();
    cluster.pause(leader);
    let result = client.set("/i/key", "v", SetOptions::default()).await;
    cluster.resume(leader);
    let error = result.unwrap_err();
    assert!(
        error.is_indeterminate(),
        "expected indeterminate, got {error}"
    );
    assert!(
        !error.is_retriable(),
        "an indeterminate write must not be retried blindly"
    );
    // The cluster serves again after the thaw; the write's fate is whatever it was.
    cluster.wait_leader();
}
