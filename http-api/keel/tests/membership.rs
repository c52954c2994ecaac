//! Growing and shrinking a running cluster with `POST` and `DELETE /v2/members` (raft
//! configuration changes, raft thesis §4.1: one server at a time), as etcd's v2 members API
//! does it.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use testkit::{wait_for, Cluster};

fn member_ids(cluster: &Cluster, member: usize) -> Vec<String> {
    let reply = cluster
        .get(cluster.url(member), "/v2/members")
        .unwrap_or_else(|e| panic!("members: {e}"));
    reply.json()["members"]
        .as_array()
        .map(|members| {
            members
                .iter()
                .filter_map(|m| m["id"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

fn id_of(cluster: &Cluster, member: usize) -> String {
    let reply = cluster
        .get(cluster.url(member), "/v2/stats/self")
        .unwrap_or_else(|e| panic!("stats: {e}"));
    reply.json()["id"].as_str().unwrap_or_default().to_owned()
}

fn delete(cluster: &Cluster, via: usize, id: &str) -> testkit::Reply {
    cluster
        .delete(cluster.url(via), &format!("/v2/members/{id}"))
        .unwrap_or_else(|e| panic!("delete {id}: {e}"))
}

fn post_member(cluster: &Cluster, via: usize, body: &str, content_type: &str) -> (u16, String) {
    let reply = cluster
        .send_body("POST", cluster.url(via), "/v2/members", content_type, body)
        .unwrap_or_else(|e| panic!("POST /v2/members: {e}"));
    (reply.status, reply.body)
}

fn applied(cluster: &Cluster, member: usize) -> Option<u64> {
    cluster.get(cluster.url(member), "/debug/raft").ok()?.json()["appliedIndex"].as_u64()
}

/// Adds a member through `POST /v2/members`, starts it with `--initial-cluster-state
/// existing`, and waits until it has caught up with the leader and published its name.
fn grow(cluster: &mut Cluster, flags: &[&str]) -> usize {
    let leader = cluster.wait_leader();
    let index = cluster.add_member(flags);
    let body = format!(r#"{{"peerURLs":["{}"]}}"#, cluster.members[index].peer_url);
    let (status, reply) = post_member(cluster, leader, &body, "application/json");
    assert_eq!(status, 201, "add: {reply}");
    let added: serde_json::Value = serde_json::from_str(&reply).unwrap_or_default();
    assert_eq!(added["name"], "", "not started yet: {reply}");
    assert_eq!(
        added["peerURLs"][0],
        cluster.members[index].peer_url.as_str()
    );
    cluster.spawn(index);
    let target = applied(cluster, leader).unwrap_or(0);
    wait_for(
        Duration::from_secs(30),
        "the new member to catch up",
        || (applied(cluster, index)? >= target).then_some(()),
    );
    let id = added["id"].as_str().unwrap_or_default().to_owned();
    let name = cluster.members[index].name.clone();
    wait_for(
        Duration::from_secs(10),
        "the new member to publish its name",
        || {
            let list = cluster.get(cluster.url(leader), "/v2/members").ok()?.json();
            list["members"]
                .as_array()?
                .iter()
                .any(|m| m["id"] == id.as_str() && m["name"] == name.as_str())
                .then_some(())
        },
    );
    index
}

// Goal: the issue's lifecycle: a running cluster grows from 1 to 3 to 5 members and shrinks
// back to 3 (a follower, then the leader itself) while a client keeps writing; each change
// takes effect on every member, new members join with --initial-cluster-state existing and
// catch up, each removed member stops with a clear message, and every acknowledged write is
// readable from every member at the end. Method: a writer thread over the members in service;
// POST / DELETE /v2/members through the leader or another member; quorum reads at the end.
#[test]
fn grow_one_to_five_and_shrink_to_three_under_writes() {
    // Small snapshots: the first member joins by replaying the log, later ones (once the
    // leader compacted) by installing its snapshot.
    let flags = [
        "--snapshot-count",
        "60",
        "--snapshot-catch-up-entries",
        "10",
    ];
    let cluster = Arc::new(Mutex::new(Cluster::start(1, &flags)));
    let live: Arc<Mutex<Vec<usize>>> = Arc::new(Mutex::new(vec![0]));
    let urls: Arc<Mutex<Vec<String>>> = Arc::new(Mutex::new(vec![cluster
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .url(0)
        .to_owned()]));
    let stop = Arc::new(AtomicBool::new(false));
    let acknowledged = Arc::new(Mutex::new(Vec::new()));
    let writer = {
        let (stop, acknowledged, live, urls) = (
            Arc::clone(&stop),
            Arc::clone(&acknowledged),
            Arc::clone(&live),
            Arc::clone(&urls),
        );
        std::thread::spawn(move || {
            let agent = ureq::AgentBuilder::new()
                .timeout(Duration::from_secs(3))
                .build();
            let mut key = 0usize;
            while !stop.load(Ordering::Relaxed) && key < 50_000 {
                let targets = live.lock().unwrap_or_else(|e| e.into_inner()).clone();
                let url = urls.lock().unwrap_or_else(|e| e.into_inner())
                    [targets[key % targets.len()]]
                .clone();
                let result = agent
                    .put(&format!("{url}/v2/keys/grow/k{key}"))
                    .send_form(&[("value", "x")]);
                if matches!(&result, Ok(r) if r.status() == 201) {
                    acknowledged
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .push(key);
                }
                key += 1;
            }
        })
    };
    for size in 2..=5 {
        let mut guard = cluster.lock().unwrap_or_else(|e| e.into_inner());
        let index = grow(&mut guard, &flags);
        urls.lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(guard.url(index).to_owned());
        live.lock().unwrap_or_else(|e| e.into_inner()).push(index);
        for &member in live.lock().unwrap_or_else(|e| e.into_inner()).iter() {
            wait_for(
                Duration::from_secs(10),
                "every member to list the new one",
                || (member_ids(&guard, member).len() == size).then_some(()),
            );
        }
    }
    for round in 0..2 {
        let mut guard = cluster.lock().unwrap_or_else(|e| e.into_inner());
        let leader = guard.wait_leader();
        let remaining = live.lock().unwrap_or_else(|e| e.into_inner()).clone();
        // First a follower, then the leader itself.
        let victim = if round == 0 {
            *remaining.iter().find(|&&m| m != leader).unwrap_or(&leader)
        } else {
            leader
        };
        let via = *remaining.iter().find(|&&m| m != victim).unwrap_or(&0);
        let victim_id = id_of(&guard, victim);
        live.lock()
            .unwrap_or_else(|e| e.into_inner())
            .retain(|&m| m != victim);
        let reply = delete(&guard, via, &victim_id);
        assert_eq!(reply.status, 204, "remove {victim_id}: {}", reply.body);
        let child = guard.members[victim]
            .child
            .as_mut()
            .unwrap_or_else(|| panic!("member {victim} runs"));
        let status = wait_for(
            Duration::from_secs(30),
            "the removed member to stop",
            || child.try_wait().ok().flatten(),
        );
        guard.members[victim].child = None;
        assert!(
            !status.success(),
            "a removed member exits with an error: {status}"
        );
        let log = guard.log(victim);
        assert!(
            log.contains("was removed from the cluster"),
            "the removed member says why it stopped: {log}"
        );
        let left = live.lock().unwrap_or_else(|e| e.into_inner()).clone();
        for &member in &left {
            wait_for(
                Duration::from_secs(10),
                "the removal to apply everywhere",
                || {
                    let ids = member_ids(&guard, member);
                    (ids.len() == left.len() && !ids.contains(&victim_id)).then_some(())
                },
            );
        }
        // Removed for good: a second removal is 410, as in etcd.
        let again = delete(&guard, via, &victim_id);
        assert_eq!(again.status, 410, "{}", again.body);
        assert_eq!(
            again.json()["message"],
            format!("Member permanently removed: {victim_id}")
        );
    }
    stop.store(true, Ordering::Relaxed);
    writer.join().unwrap_or_else(|_| panic!("writer panicked"));
    let acknowledged = acknowledged
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clone();
    assert!(acknowledged.len() > 20, "the writer made progress");
    let guard = cluster.lock().unwrap_or_else(|e| e.into_inner());
    let left = live.lock().unwrap_or_else(|e| e.into_inner()).clone();
    assert_eq!(left.len(), 3);
    guard.wait_leader();
    let installed: u64 = left
        .iter()
        .filter_map(|&m| {
            guard.get(guard.url(m), "/debug/raft").ok()?.json()["snapshotsInstalled"].as_u64()
        })
        .sum();
    assert!(installed >= 1, "a member joined by installing a snapshot");
    for &member in &left {
        let reply = guard
            .get(
                guard.url(member),
                "/v2/keys/grow?recursive=true&quorum=true",
            )
            .unwrap_or_else(|e| panic!("{e}"));
        let body = reply.body;
        for key in &acknowledged {
            assert!(
                body.contains(&format!("\"/grow/k{key}\"")),
                "member {member} lacks acknowledged /grow/k{key}"
            );
        }
    }
}

// Goal: additions are refused in etcd's shapes: no JSON content type is 415, a body that does
// not parse or a bad URL is 400, a peer URL already in use is 409 `membership: peerURL
// exists`. Method: a one-member cluster.
#[test]
fn addition_errors() {
    let cluster = Cluster::start(1, &[]);
    let own = cluster.members[0].peer_url.clone();
    let cases = [
        (
            r#"{"peerURLs":["http://127.0.0.1:1"]}"#,
            "application/x-www-form-urlencoded",
            415,
            "Bad Content-Type application/x-www-form-urlencoded, accept application/json"
                .to_owned(),
        ),
        ("x", "application/json", 400, String::new()),
        (
            r#"{"peerURLs":["foo"]}"#,
            "application/json",
            400,
            "URL scheme must be http, https, unix, or unixs: foo".to_owned(),
        ),
        (
            &format!(r#"{{"peerURLs":["{own}"]}}"#) as &str,
            "application/json",
            409,
            "membership: peerURL exists".to_owned(),
        ),
    ];
    for (body, content_type, status, message) in cases {
        let (got, reply) = post_member(&cluster, 0, body, content_type);
        assert_eq!(got, status, "{body}: {reply}");
        let reply: serde_json::Value = serde_json::from_str(&reply).unwrap_or_default();
        if !message.is_empty() {
            assert_eq!(reply["message"], message.as_str());
        }
        assert!(reply["message"].is_string());
    }
    assert_eq!(member_ids(&cluster, 0).len(), 1, "nothing was added");
}

// Goal: the removal errors come in etcd's shapes: an unknown or malformed id is 404 `No such
// member`, and Keel refuses to remove the last member (409). Method: a one-member cluster.
#[test]
fn removal_errors() {
    let cluster = Cluster::start(1, &[]);
    for id in ["1234", "zz"] {
        let reply = delete(&cluster, 0, id);
        assert_eq!(reply.status, 404, "{}", reply.body);
        assert_eq!(reply.json()["message"], format!("No such member: {id}"));
    }
    let own = id_of(&cluster, 0);
    let reply = delete(&cluster, 0, &own);
    assert_eq!(reply.status, 409, "{}", reply.body);
    assert_eq!(
        reply.json()["message"],
        "membership: cannot remove the last member"
    );
    assert_eq!(member_ids(&cluster, 0), vec![own]);
}

// Goal: `PUT /v2/members/<id>` moves a member to new peer URLs: every member lists them, the
// member keeps its id and data when restarted on the new URLs, and the others reach it there.
// Unknown ids are 404 and a URL another member uses is 409, as in etcd. Method: a 3-member
// cluster; change a follower's peer URL, restart it on the new port, write through it and
// read the write back from the leader with quorum=true.
#[test]
fn update_peer_urls_and_restart_there() {
    let mut cluster = Cluster::start(3, &[]);
    let leader = cluster.wait_leader();
    let moved = (leader + 1) % 3;
    let id = id_of(&cluster, moved);
    let old_url = cluster.members[moved].peer_url.clone();
    let new_url = format!("http://127.0.0.1:{}", testkit::free_port());
    let put = |cluster: &Cluster, id: &str, url: &str| -> (u16, String) {
        let reply = cluster
            .send_body(
                "PUT",
                cluster.url(leader),
                &format!("/v2/members/{id}"),
                "application/json",
                &format!(r#"{{"peerURLs":["{url}"]}}"#),
            )
            .unwrap_or_else(|e| panic!("PUT: {e}"));
        (reply.status, reply.body)
    };
    let (status, body) = put(&cluster, "1234", &new_url);
    assert_eq!(
        (status, body.contains("No such member: 1234")),
        (404, true),
        "{body}"
    );
    let taken = cluster.members[leader].peer_url.clone();
    let (status, body) = put(&cluster, &id, &taken);
    assert_eq!(status, 409, "{body}");
    let (status, body) = put(&cluster, &id, &new_url);
    assert_eq!(status, 204, "{body}");
    for member in 0..3 {
        wait_for(
            Duration::from_secs(10),
            "every member to list the new URL",
            || {
                let list = cluster.get(cluster.url(member), "/v2/members").ok()?.json();
                list["members"]
                    .as_array()?
                    .iter()
                    .any(|m| m["id"] == id.as_str() && m["peerURLs"][0] == new_url.as_str())
                    .then_some(())
            },
        );
    }
    cluster.kill(moved);
    // The new URL everywhere the old one was: peer flags and its entry in --initial-cluster.
    for arg in &mut cluster.members[moved].args {
        *arg = arg.replace(&old_url, &new_url);
    }
    cluster.members[moved].peer_url.clone_from(&new_url);
    cluster.spawn(moved);
    let reply = wait_for(
        Duration::from_secs(30),
        "a write through the moved member",
        || {
            let reply = cluster
                .put(cluster.url(moved), "/v2/keys/moved", &[("value", "here")])
                .ok()?;
            (reply.status == 201 || reply.status == 200).then_some(reply)
        },
    );
    assert_eq!(
        id_of(&cluster, moved),
        id,
        "same member, same id: {}",
        reply.body
    );
    let read = cluster
        .get(cluster.url(leader), "/v2/keys/moved?quorum=true")
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(read.json()["node"]["value"], "here");
}
