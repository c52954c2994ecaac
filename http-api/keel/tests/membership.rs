//! Shrinking a running cluster with `DELETE /v2/members/<id>` (raft configuration changes,
//! raft thesis §4.1: one server at a time), as etcd's v2 members API does it.

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

// Goal: a 5-member cluster shrinks to 3 while a client keeps writing: a follower and then
// the leader itself are removed, each removal takes effect on every remaining member, each
// removed member stops with a clear message, and every acknowledged write is readable from
// every remaining member. Method: background writer over the remaining members; DELETE
// through another member; wait for the removed process to exit; compare member lists and
// read all keys with quorum=true.
#[test]
fn shrink_five_to_three_under_writes() {
    let cluster = Arc::new(Mutex::new(Cluster::start(5, &[])));
    let live: Arc<Mutex<Vec<usize>>> = Arc::new(Mutex::new((0..5).collect()));
    let urls: Vec<String> = {
        let guard = cluster.lock().unwrap_or_else(|e| e.into_inner());
        (0..5).map(|m| guard.url(m).to_owned()).collect()
    };
    let stop = Arc::new(AtomicBool::new(false));
    let acknowledged = Arc::new(Mutex::new(Vec::new()));
    let writer = {
        let (stop, acknowledged, live, urls) = (
            Arc::clone(&stop),
            Arc::clone(&acknowledged),
            Arc::clone(&live),
            urls.clone(),
        );
        std::thread::spawn(move || {
            let agent = ureq::AgentBuilder::new()
                .timeout(Duration::from_secs(3))
                .build();
            let mut key = 0usize;
            while !stop.load(Ordering::Relaxed) && key < 20_000 {
                let targets = live.lock().unwrap_or_else(|e| e.into_inner()).clone();
                let url = &urls[targets[key % targets.len()]];
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
