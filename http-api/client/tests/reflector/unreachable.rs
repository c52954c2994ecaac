//! The reflector with no store to reach, under paused time: nothing real is waited for.

use crate::support::client;
use kv_client::{Health, ReflectorOptions, WaitSyncedError};
use std::time::Duration;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

// Goal: a store that cannot be reached leaves the cache stale and empty (never "synced" on
// nothing), the reflector retrying with its backoff until told to stop. Method: point it at a
// port nobody listens on; with paused time, wait_synced's 60 s deadline passes at once; then
// cancel and join.
#[tokio::test(start_paused = true)]
async fn unreachable_store_stays_stale() {
    let url = format!("http://127.0.0.1:{}", testkit::free_port());
    let client = client(&[&url]);
    let tasks = TaskTracker::new();
    let shutdown = CancellationToken::new();
    let started = Instant::now().into_std();
    let reflector = client
        .reflect("/r", ReflectorOptions::default(), &tasks, shutdown.clone())
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    let error = reflector.wait_synced(deadline).await.unwrap_err();
    assert_eq!(
        error,
        WaitSyncedError::DeadlinePassed {
            health: Health::Stale { since: started }
        }
    );
    let cache = reflector.cache();
    assert_eq!((cache.list_count(), cache.len()), (0, 0));
    shutdown.cancel();
    tasks.close();
    tasks.wait().await;
    assert_eq!(reflector.cache().health(), Health::Stopped);
}

// Goal: dropping every handle stops the task (no detached task outlives its users). Method:
// drop the reflector without cancelling; the tracker must then empty.
#[tokio::test(start_paused = true)]
async fn dropping_every_handle_stops_the_task() {
    let url = format!("http://127.0.0.1:{}", testkit::free_port());
    let client = client(&[&url]);
    let tasks = TaskTracker::new();
    let reflector = client
        .reflect(
            "/r",
            ReflectorOptions::default(),
            &tasks,
            CancellationToken::new(),
        )
        .unwrap();
    drop(reflector);
    tasks.close();
    tokio::time::timeout(Duration::from_secs(10), tasks.wait())
        .await
        .expect("the task ends once nobody can read its cache");
}
