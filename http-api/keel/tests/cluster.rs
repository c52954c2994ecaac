//! Real-process tests of a 3-member keel cluster on loopback: replication through every
//! member, leader failure, `kill -9` of every member mid-load, and refusing foreign data.

// A test crate: a failed unwrap is a failed check.
#![allow(clippy::unwrap_used)]

use testkit as common;

use common::{run_to_exit, wait_for, Cluster, READY_DEADLINE};
use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Every key in `keys` reads back with its own name as value from member `index`, with a
/// quorum read (linearizable, so no waiting for replication is needed).
fn assert_all_readable(cluster: &Cluster, index: usize, keys: &BTreeSet<String>) {
    for key in keys {
        let reply = cluster
            .get(cluster.url(index), &format!("/v2/keys{key}?quorum=true"))
            .unwrap();
        assert_eq!(
            reply.status, 200,
            "member {index} lost acknowledged {key}: {}",
            reply.body
        );
        assert_eq!(reply.json()["node"]["value"], key.as_str());
    }
}

// Goal: a write sent to any member (leader or follower) succeeds and is visible on every
// member. Method: write one key through each member, read all keys from all members.
#[test]
fn writes_through_every_member_replicate_to_all() {
    let cluster = Cluster::start(3, &[]);
    let mut keys = BTreeSet::new();
    for index in 0..3 {
        let key = format!("/via{index}");
        let reply = cluster
            .put(
                cluster.url(index),
                &format!("/v2/keys{key}"),
                &[("value", &key)],
            )
            .unwrap();
        assert_eq!(reply.status, 201, "{}", reply.body);
        assert_eq!(reply.json()["action"], "set");
        keys.insert(key);
    }
    for index in 0..3 {
        assert_all_readable(&cluster, index, &keys);
        // Plain reads are local: wait (with a deadline) until this member has applied them.
        for key in &keys {
            wait_for(READY_DEADLINE, "a follower to apply", || {
                let reply = cluster
                    .get(cluster.url(index), &format!("/v2/keys{key}"))
                    .ok()?;
                (reply.status == 200).then_some(())
            });
        }
    }
    // Every member reports the same members with their published client URLs.
    let members = cluster.get(cluster.url(1), "/v2/members").unwrap().json();
    let members = members["members"].as_array().unwrap().clone();
    assert_eq!(members.len(), 3);
    wait_for(
        READY_DEADLINE,
        "every member to publish its client URL",
        || {
            let list = cluster.get(cluster.url(2), "/v2/machines").ok()?.body;
            (list.split(", ").count() == 3).then_some(())
        },
    );
}

// Goal: killing the leader elects a new one and loses no acknowledged write (Raft §5.4).
// Method: acknowledged writes, kill -9 the leader, check the survivors, write again, restart.
#[test]
fn leader_killed_new_leader_keeps_acknowledged_writes() {
    let mut cluster = Cluster::start(3, &[]);
    let leader = cluster.wait_leader();
    let mut keys = BTreeSet::new();
    for n in 0..20 {
        let key = format!("/before{n}");
        let reply = cluster
            .put(
                cluster.url(n % 3),
                &format!("/v2/keys{key}"),
                &[("value", &key)],
            )
            .unwrap();
        assert!(reply.status == 201, "{}", reply.body);
        keys.insert(key);
    }
    cluster.kill(leader);
    let new_leader = cluster.wait_leader();
    assert_ne!(new_leader, leader);
    let survivor = (0..3).find(|i| *i != leader && *i != new_leader).unwrap();
    assert_all_readable(&cluster, new_leader, &keys);
    assert_all_readable(&cluster, survivor, &keys);
    let reply = cluster
        .put(
            cluster.url(survivor),
            "/v2/keys/after",
            &[("value", "/after")],
        )
        .unwrap();
    assert_eq!(reply.status, 201, "{}", reply.body);
    keys.insert("/after".to_string());
    cluster.spawn(leader);
    cluster.wait_leader();
    assert_all_readable(&cluster, leader, &keys);
}

// Goal: kill -9 of every member while clients write loses no acknowledged write.
// Method: writers on every member record acknowledged keys; all members are killed mid-load,
// restarted, and every acknowledged key is read back from every member.
#[test]
fn every_member_killed_mid_load_keeps_acknowledged_writes() {
    let mut cluster = Cluster::start(3, &[]);
    let acknowledged = Arc::new(Mutex::new(BTreeSet::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let urls: Vec<String> = (0..3).map(|i| cluster.url(i).to_string()).collect();
    let writers: Vec<_> = (0..6)
        .map(|writer| {
            let (acknowledged, stop, url) = (
                Arc::clone(&acknowledged),
                Arc::clone(&stop),
                urls[writer % 3].clone(),
            );
            std::thread::spawn(move || {
                let agent = ureq::AgentBuilder::new()
                    .timeout(Duration::from_secs(2))
                    .build();
                // Bounded: at most 10 000 writes per writer, and it stops when told.
                for n in 0..10_000 {
                    if stop.load(Ordering::Relaxed) {
                        break;
                    }
                    let key = format!("/load/w{writer}-{n}");
                    let sent = agent
                        .put(&format!("{url}/v2/keys{key}"))
                        .send_form(&[("value", &key)]);
                    if sent.is_ok_and(|r| r.status() == 201) {
                        acknowledged.lock().unwrap().insert(key);
                    }
                }
            })
        })
        .collect();
    wait_for(READY_DEADLINE, "some acknowledged writes", || {
        (acknowledged.lock().unwrap().len() >= 200).then_some(())
    });
    for index in 0..3 {
        cluster.kill(index);
    }
    stop.store(true, Ordering::Relaxed);
    for writer in writers {
        writer.join().unwrap();
    }
    for index in 0..3 {
        cluster.spawn(index);
    }
    cluster.wait_leader();
    let keys = acknowledged.lock().unwrap().clone();
    for index in 0..3 {
        assert_all_readable(&cluster, index, &keys);
    }
}

// Goal: a member refuses to start on another member's data directory, on another cluster's,
// and on a damaged one, with a clear message and no change to the data.
#[test]
fn foreign_or_damaged_data_dir_is_refused() {
    let mut cluster = Cluster::start(3, &[]);
    cluster.kill(0);
    cluster.kill(1);
    // Member 1 started on member 0's data directory.
    let mut args = cluster.members[1].args.clone();
    let data_dir_flag = args.iter().position(|a| a == "--data-dir").unwrap();
    args[data_dir_flag + 1] = cluster.members[0].data_dir.display().to_string();
    let (code, stderr) = run_to_exit(&args, READY_DEADLINE);
    assert_ne!(code, Some(0));
    assert!(stderr.contains("belongs to member"), "{stderr}");
    // Member 0 with another cluster token.
    let mut args = cluster.members[0].args.clone();
    let token = args
        .iter()
        .position(|a| a == "--initial-cluster-token")
        .unwrap();
    args[token + 1] = "another-cluster".into();
    let (code, stderr) = run_to_exit(&args, READY_DEADLINE);
    assert_ne!(code, Some(0));
    assert!(stderr.contains("belongs to cluster"), "{stderr}");
    // A damaged directory: every file overwritten with garbage.
    for entry in std::fs::read_dir(&cluster.members[0].data_dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_file() && path.file_name().is_some_and(|n| n != "LOCK") {
            std::fs::write(&path, b"garbage").unwrap();
        }
    }
    let (code, stderr) = run_to_exit(&cluster.members[0].args, READY_DEADLINE);
    assert_ne!(code, Some(0));
    assert!(
        stderr.contains("cannot open the data directory") || stderr.contains("damaged"),
        "{stderr}"
    );
}

// Goal: a write sent to a follower right after the leader dies succeeds once a new leader is
// elected, instead of timing out: the follower proposes its pending writes again to the new
// leader, and the state machine applies a write committed twice only once.
// Method: kill -9 the leader, at once write through a follower, then check the value and that
// the in-order queue got exactly one entry per acknowledged create.
#[test]
fn write_to_follower_right_after_leader_death_succeeds_once() {
    let mut cluster = Cluster::start(3, &[]);
    let leader = cluster.wait_leader();
    let follower = (0..3).find(|i| *i != leader).unwrap();
    cluster.kill(leader);
    let reply = cluster
        .put(
            cluster.url(follower),
            "/v2/keys/failover",
            &[("value", "v")],
        )
        .unwrap();
    assert_eq!(reply.status, 201, "{}", reply.body);
    for n in 0..3 {
        let value = format!("job{n}");
        let url = format!("{}/v2/keys/queue", cluster.url(follower));
        let reply = ureq::post(&url).send_form(&[("value", &value)]).unwrap();
        assert_eq!(reply.status(), 201);
    }
    let listing = cluster
        .get(cluster.url(follower), "/v2/keys/queue?quorum=true")
        .unwrap()
        .json();
    assert_eq!(
        listing["node"]["nodes"].as_array().unwrap().len(),
        3,
        "{listing}"
    );
}

#[test]
fn a_member_that_exits_at_start_is_retried_then_reported_with_its_log() {
    // Goal: testkit's `Cluster::start` notices a member that exits before a leader is
    // elected (as one does when another process took its port), starts again on fresh ports a
    // bounded number of times, and then fails with the member's own log instead of waiting
    // out the deadline. Method: a flag keel refuses makes every attempt exit at once.
    let started = std::time::Instant::now();
    let outcome = std::panic::catch_unwind(|| Cluster::start(1, &["--no-such-flag"]));
    let payload = outcome
        .err()
        .expect("a member that cannot start fails the start");
    let message = payload
        .downcast_ref::<String>()
        .cloned()
        .unwrap_or_default();
    assert!(message.contains("3 attempts"), "{message}");
    assert!(
        message.contains("no-such-flag"),
        "the member's log is shown: {message}"
    );
    assert!(
        started.elapsed() < READY_DEADLINE,
        "an exited member is noticed without waiting out the deadline"
    );
}

/// The value of the sample `series` (name and labels, as printed) in a scrape, if present.
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' '))
        .and_then(|value| value.parse().ok())
}

// Goal: in a real cluster `/metrics` tells leader from followers with etcd's names, and the
// leader measures its round trip to each follower (`etcd_network_peer_round_trip_time_seconds`
// labelled `To` with the follower's member ID). Method: three members; every member's scrape
// read for has_leader and is_leader; the leader's scraped until each follower's ID has a
// round trip counted (heartbeats go out every tick).
#[test]
fn metrics_show_the_leader_and_its_round_trips_to_each_follower() {
    let cluster = Cluster::start(3, &[]);
    let leader = cluster.wait_leader();
    let members = cluster
        .get(cluster.url(leader), "/v2/members")
        .unwrap()
        .json();
    let ids: Vec<String> = members["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|member| member["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(ids.len(), 3);
    let own = |index: usize| {
        let text = cluster.get(cluster.url(index), "/metrics").unwrap().body;
        let label = text
            .lines()
            .find_map(|line| line.strip_prefix("etcd_server_id{server_id=\""))
            .and_then(|rest| rest.split('"').next())
            .unwrap()
            .to_owned();
        (label, text)
    };
    let (leader_id, _) = own(leader);
    for index in 0..3 {
        let (id, text) = own(index);
        assert!(ids.contains(&id), "{id} not in {ids:?}");
        assert_eq!(sample(&text, "etcd_server_has_leader"), Some(1.0), "{text}");
        let is_leader = if index == leader { 1.0 } else { 0.0 };
        assert_eq!(sample(&text, "etcd_server_is_leader"), Some(is_leader));
        assert!(sample(&text, "etcd_server_leader_changes_seen_total").unwrap() >= 1.0);
    }
    for follower in ids.iter().filter(|id| **id != leader_id) {
        let series =
            format!("etcd_network_peer_round_trip_time_seconds_count{{To=\"{follower}\"}}");
        wait_for(
            READY_DEADLINE,
            "a heartbeat round trip to a follower",
            || {
                let text = cluster.get(cluster.url(leader), "/metrics").ok()?.body;
                sample(&text, &series).filter(|count| *count >= 1.0)
            },
        );
    }
}
