//! A rolling restart under load: each member in turn gets SIGTERM and is started again.
//! A leader hands leadership to an up-to-date follower before it stops (raft thesis §3.10,
//! leadership transfer), so the cluster never waits out an election timeout.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use testkit::{wait_for, Cluster};

/// One write of the background writer.
struct Outcome {
    key: usize,
    acknowledged: bool,
    at: Instant,
    /// The member written to was being restarted when the write was sent or answered.
    to_restarting: bool,
}

/// No member is being restarted.
const NONE: usize = usize::MAX;

// Goal: restarting all three members one at a time (SIGTERM, start again) under a steady
// write load loses no acknowledged write, each stopping leader hands leadership over instead
// of leaving the others to time out, and the cluster serves again after each step. Method: a
// writer thread writes sequential keys, each to the next member in turn; every member is
// stopped with SIGTERM (it must exit 0), restarted, and waited for until it has caught up;
// at the end every acknowledged key is read with quorum=true from every member. Every write
// sent to a member that was not itself restarting must succeed: the hand-over leaves no
// window in which the rest of the cluster refuses writes (the longest stretch of refused
// writes is printed; timing is measured by benchmarks, not asserted here).
#[test]
fn rolling_restart_under_load_loses_nothing() {
    let cluster = Arc::new(Mutex::new(Cluster::start(3, &[])));
    let urls: Vec<String> = {
        let guard = cluster.lock().unwrap_or_else(|e| e.into_inner());
        (0..3).map(|m| guard.url(m).to_owned()).collect()
    };
    let stop = Arc::new(AtomicBool::new(false));
    let restarting = Arc::new(std::sync::atomic::AtomicUsize::new(NONE));
    let outcomes = Arc::new(Mutex::new(Vec::<Outcome>::new()));
    let writer = {
        let (stop, outcomes, urls, restarting) = (
            Arc::clone(&stop),
            Arc::clone(&outcomes),
            urls.clone(),
            Arc::clone(&restarting),
        );
        std::thread::spawn(move || {
            let agent = ureq::AgentBuilder::new()
                .timeout(Duration::from_secs(3))
                .build();
            let mut key = 0;
            while !stop.load(Ordering::Relaxed) && key < 20_000 {
                let target = key % 3;
                let url = format!("{}/v2/keys/roll/k{key}", urls[target]);
                let before = restarting.load(Ordering::SeqCst);
                let result = agent.put(&url).send_form(&[("value", &key.to_string())]);
                let after = restarting.load(Ordering::SeqCst);
                let acknowledged =
                    matches!(&result, Ok(r) if r.status() == 201 || r.status() == 200);
                outcomes
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .push(Outcome {
                        key,
                        acknowledged,
                        at: Instant::now(),
                        to_restarting: before == target || after == target,
                    });
                key += 1;
            }
        })
    };
    // The load is under way before the first restart, and goes on after the last one.
    let acknowledged_count = |outcomes: &Mutex<Vec<Outcome>>| {
        outcomes
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .filter(|o| o.acknowledged)
            .count()
    };
    wait_for(Duration::from_secs(30), "20 acknowledged writes", || {
        (acknowledged_count(&outcomes) >= 20).then_some(())
    });
    let mut handed_over = 0;
    for member in 0..3 {
        let mut guard = cluster.lock().unwrap_or_else(|e| e.into_inner());
        let was_leader = guard.wait_leader() == member;
        restarting.store(member, Ordering::SeqCst);
        let status = guard.stop_gracefully(member, Duration::from_secs(20));
        assert!(status.success(), "member {member} exits cleanly: {status}");
        if was_leader {
            let log = guard.log(member);
            assert!(
                log.contains("handed leadership over before stopping"),
                "the stopping leader handed over: {log}"
            );
            handed_over += 1;
        }
        guard.spawn(member);
        let leader = guard.wait_leader();
        let applied = |guard: &Cluster, m: usize| -> Option<u64> {
            guard.get(guard.url(m), "/debug/raft").ok()?.json()["appliedIndex"].as_u64()
        };
        let target = applied(&guard, leader).unwrap_or(0);
        wait_for(
            Duration::from_secs(30),
            "the restarted member to catch up",
            || (applied(&guard, member)? >= target).then_some(()),
        );
    }
    // Leadership only moves by hand-over here (pre-vote keeps restarted members from forcing
    // elections), so whoever leads is stopped as leader at its turn: at least one hand-over.
    assert!(handed_over >= 1, "a stopping leader handed over");
    let after_restarts = acknowledged_count(&outcomes) + 20;
    wait_for(
        Duration::from_secs(30),
        "20 more acknowledged writes",
        || (acknowledged_count(&outcomes) >= after_restarts).then_some(()),
    );
    stop.store(true, Ordering::Relaxed);
    writer.join().unwrap_or_else(|_| panic!("writer panicked"));
    let outcomes = outcomes.lock().unwrap_or_else(|e| e.into_inner());
    let acknowledged: Vec<usize> = outcomes
        .iter()
        .filter(|o| o.acknowledged)
        .map(|o| o.key)
        .collect();
    assert!(
        acknowledged.len() >= 40,
        "the writer made progress: {}",
        acknowledged.len()
    );
    let mut longest = Duration::ZERO;
    let mut refused_since: Option<Instant> = None;
    for outcome in outcomes.iter() {
        match (outcome.acknowledged, refused_since) {
            (false, None) => refused_since = Some(outcome.at),
            (true, Some(since)) => {
                longest = longest.max(outcome.at - since);
                refused_since = None;
            }
            _ => {}
        }
    }
    println!(
        "{} writes, {} acknowledged, longest stretch of refused writes {longest:?}",
        outcomes.len(),
        acknowledged.len()
    );
    let refused_elsewhere: Vec<usize> = outcomes
        .iter()
        .filter(|o| !o.acknowledged && !o.to_restarting)
        .map(|o| o.key)
        .collect();
    assert!(
        refused_elsewhere.is_empty(),
        "writes to members that were not restarting were refused: {refused_elsewhere:?}"
    );
    let guard = cluster.lock().unwrap_or_else(|e| e.into_inner());
    for member in 0..3 {
        let reply = guard
            .get(
                guard.url(member),
                "/v2/keys/roll?recursive=true&quorum=true",
            )
            .unwrap_or_else(|e| panic!("read member {member}: {e}"));
        let present: std::collections::HashSet<String> = reply.json()["node"]["nodes"]
            .as_array()
            .map(|nodes| {
                nodes
                    .iter()
                    .filter_map(|n| n["key"].as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default();
        for key in &acknowledged {
            assert!(
                present.contains(&format!("/roll/k{key}")),
                "member {member} lacks acknowledged /roll/k{key}"
            );
        }
    }
}
