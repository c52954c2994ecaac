//! The semaphore workload: clients contend for the slots of one locksmith semaphore (the
//! reboot lock's document, through `locksmith-store` as `locksmithd` uses it) while the
//! nemesis partitions, kills and pauses members. Each client takes a slot, believes it holds
//! it until it starts to give it back, and records the fencing token it was given; one hold
//! in twenty stalls for seconds, as a paused client would.
//!
//! The check: at no instant do more than `max` clients believe they hold a slot, and a hold
//! that ended before another began has the smaller token (fencing tokens follow the order of
//! the holds). A client whose lock failed or whose outcome is unknown believes nothing (it gives
//! back, idempotently, whatever it may hold).

use std::sync::Arc;
use std::time::Duration;

use kv_client::{Client, ClientConfig};
use locksmith_store::{SemaphoreStore, StoreError};
use rand::Rng as _;
use serde::Serialize;
use tokio::time::Instant;

use crate::workload::Env;

/// Slots of the workload's semaphore.
pub const SLOTS: i64 = 2;

/// One hold a client believed it had.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Hold {
    /// The client.
    pub client: String,
    /// Its fencing token.
    pub token: u64,
    /// When the lock was acknowledged, in microseconds since the phase began.
    pub acquired_us: u64,
    /// When the client began to give it back.
    pub released_us: u64,
}

/// A violation found in the holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Violation {
    /// `semaphore-overlap` or `semaphore-token-order`.
    pub kind: &'static str,
    /// What was seen.
    pub detail: String,
}

/// Runs `clients` clients until `end`; every hold they believed they had.
pub async fn run_clients(env: Arc<Env>, clients: usize, end: Instant) -> Vec<Hold> {
    let group = format!("jepsen-{}", env.seed);
    let started = Instant::now();
    let store = SemaphoreStore::new(shared_client(&env), &group);
    if let Err(error) = store.set_max(SLOTS, 0).await {
        eprintln!("semaphore: set-max failed: {error}");
        return Vec::new();
    }
    let mut tasks = tokio::task::JoinSet::new();
    for number in 0..clients {
        let env = Arc::clone(&env);
        let store = SemaphoreStore::new(shared_client(&env), &group);
        tasks.spawn(async move { client_loop(&env, &store, number, started, end).await });
    }
    let mut holds = Vec::new();
    while let Some(joined) = tasks.join_next().await {
        holds.extend(joined.unwrap_or_default());
    }
    holds.sort_by_key(|hold| hold.acquired_us);
    holds
}

/// A client with failover over every member, as a daemon has.
fn shared_client(env: &Env) -> Client {
    let config = ClientConfig {
        request_timeout: env.timeout,
        connect_timeout: env.timeout.min(Duration::from_millis(500)),
        operation_timeout: env.timeout * 2,
        jitter_seed: Some(env.seed),
        ..ClientConfig::new(env.urls.clone())
    };
    Client::new(config).unwrap_or_else(|e| panic!("semaphore client: {e}"))
}

async fn client_loop(
    env: &Env,
    store: &SemaphoreStore,
    number: usize,
    started: Instant,
    end: Instant,
) -> Vec<Hold> {
    let id = format!("client-{number:02}");
    let mut rng = env.rng(1000 + number as u64);
    let mut holds = Vec::new();
    let since =
        |at: Instant| u64::try_from(at.duration_since(started).as_micros()).unwrap_or(u64::MAX);
    while Instant::now() < end {
        match store.lock(&id, 0).await {
            Ok(token) => {
                let acquired_us = since(Instant::now());
                // One hold in twenty is a client that stalls while holding (a paused process).
                let held_ms = if rng.gen_range(0..20) == 0 {
                    rng.gen_range(1000..3000)
                } else {
                    rng.gen_range(5..60)
                };
                tokio::time::sleep(Duration::from_millis(held_ms)).await;
                holds.push(Hold {
                    client: id.clone(),
                    token: token.0,
                    acquired_us,
                    released_us: since(Instant::now()),
                });
                give_back(store, &id, end).await;
            }
            Err(StoreError::Refused(_)) => {}
            // Unknown whether it holds: it believes nothing, and gives back what it may hold.
            Err(_) => give_back(store, &id, end).await,
        }
        tokio::time::sleep(Duration::from_millis(rng.gen_range(1..20))).await;
    }
    holds
}

/// Unlocks until it is done or the phase is over (then healing lets the final unlock pass).
async fn give_back(store: &SemaphoreStore, id: &str, end: Instant) {
    let last = end + Duration::from_secs(20);
    while store.unlock(id, 0).await.is_err() && Instant::now() < last {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The violations in `holds` (sorted by acquisition) with `max` slots.
#[must_use]
pub fn check(holds: &[Hold], max: i64) -> Vec<Violation> {
    let mut violations = Vec::new();
    // Sweep: +1 at each acquisition, -1 at each release; releases first at equal times.
    let mut edges: Vec<(u64, i64)> = holds
        .iter()
        .flat_map(|hold| [(hold.acquired_us, 1), (hold.released_us, -1)])
        .collect();
    edges.sort_by_key(|&(at, delta)| (at, delta));
    let mut current = 0_i64;
    for (at, delta) in edges {
        current += delta;
        if current > max {
            violations.push(Violation {
                kind: "semaphore-overlap",
                detail: format!(
                    "{current} clients believed they held a slot at {at} µs (max {max})"
                ),
            });
            break;
        }
    }
    for earlier in holds {
        for later in holds
            .iter()
            .filter(|later| later.acquired_us > earlier.released_us)
        {
            if later.token <= earlier.token {
                violations.push(Violation {
                    kind: "semaphore-token-order",
                    detail: format!(
                        "{} held with token {} until {} µs, then {} got token {} at {} µs",
                        earlier.client,
                        earlier.token,
                        earlier.released_us,
                        later.client,
                        later.token,
                        later.acquired_us
                    ),
                });
                return violations;
            }
        }
    }
    violations
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hold(client: &str, token: u64, acquired_us: u64, released_us: u64) -> Hold {
        Hold {
            client: client.to_owned(),
            token,
            acquired_us,
            released_us,
        }
    }

    /// Goal: the check flags more believed holders than slots, and a later hold with a token
    /// not above an earlier one's; valid histories pass. Method: small hand-made histories.
    #[test]
    fn overlaps_and_token_order() {
        let valid = [
            hold("a", 5, 0, 10),
            hold("b", 7, 5, 20),
            hold("c", 9, 10, 30),
        ];
        assert!(check(&valid, 2).is_empty());
        let crowded = [
            hold("a", 5, 0, 10),
            hold("b", 7, 5, 20),
            hold("c", 9, 6, 30),
        ];
        let found = check(&crowded, 2);
        assert_eq!(
            found.first().map(|v| v.kind),
            Some("semaphore-overlap"),
            "{found:?}"
        );
        let stale = [hold("a", 9, 0, 10), hold("b", 7, 11, 20)];
        let found = check(&stale, 2);
        assert_eq!(
            found.first().map(|v| v.kind),
            Some("semaphore-token-order"),
            "{found:?}"
        );
    }
}
