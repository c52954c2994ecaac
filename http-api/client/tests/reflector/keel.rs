//! The reflector against a real single-member keel.

use crate::support::{client, contents, listed, options, pairs, Running};
use kv_client::{
    Changes, Client, DeleteOptions, Health, PrevConditions, ReflectorOptions, SetOptions,
    StoreIndex,
};
use std::time::Duration;
use testkit::Cluster;

async fn set(client: &Client, key: &str, value: &str) -> StoreIndex {
    client
        .set(key, value, SetOptions::default())
        .await
        .unwrap()
        .etcd_index
}

// Goal: the first cache is exactly a recursive list of the prefix (hidden keys and keys
// outside it left out), and later set, compare-and-swap and delete reach it in order, ending
// equal to a fresh quorum list. Method: write, start the reflector on "/r/" (cleaned to
// "/r"), wait for sync; write more; wait until the cache's index reaches the last write.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lists_the_prefix_then_follows_live_changes() {
    let cluster = Cluster::start(1, &[]);
    let client = client(&[cluster.url(0)]);
    set(&client, "/r/a", "1").await;
    set(&client, "/r/b/c", "2").await;
    set(&client, "/r/_hidden", "h").await;
    set(&client, "/rr/x", "beside").await;
    let running = Running::start(&client, "/r/", options());
    let first = running.synced().await;
    assert_eq!(first.prefix(), "/r");
    assert_eq!(pairs(&first), [("/r/a", "1"), ("/r/b/c", "2")]);
    assert_eq!((first.list_count(), first.changes()), (1, &Changes::All));
    let a = first.get("/r/a").unwrap().modified_index;
    set(&client, "/r/d", "3").await;
    let prev = PrevConditions::index(a);
    client
        .compare_and_swap("/r/a", "1b", &prev, SetOptions::default())
        .await
        .unwrap();
    set(&client, "/rr/y", "beside").await;
    let last = client
        .delete("/r/b/c", DeleteOptions::default())
        .await
        .unwrap()
        .etcd_index;
    let cache = running
        .until("the delete", |cache| cache.index() >= last)
        .await;
    assert_eq!(pairs(&cache), [("/r/a", "1b"), ("/r/d", "3")]);
    assert_eq!(contents(&cache), listed(&client, "/r").await);
    assert!(cache.is_synced());
    assert_eq!(cache.list_count(), 1, "live changes need no re-list");
    let stopped = running.stop().await;
    assert_eq!(stopped.health(), Health::Stopped);
}

// Goal: a prefix that does not exist yet is an empty, synced cache (etcd's error 100 is an
// answer), and its first key arrives by the watch. Method: reflect /missing, then create a
// key two levels below it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_prefix_is_empty_until_written() {
    let cluster = Cluster::start(1, &[]);
    let client = client(&[cluster.url(0)]);
    set(&client, "/elsewhere", "x").await;
    let running = Running::start(&client, "/missing", options());
    let first = running.synced().await;
    assert!(first.is_empty());
    assert!(
        first.index() > StoreIndex(0),
        "the error's index is the position"
    );
    let written = set(&client, "/missing/a/b", "1").await;
    let cache = running
        .until("the first key", |cache| cache.index() >= written)
        .await;
    assert_eq!(pairs(&cache), [("/missing/a/b", "1")]);
    assert_eq!(cache.list_count(), 1);
    running.stop().await;
}

// Goal: a recursive delete of a directory, one event on the directory node, removes every
// cached key below it and nothing beside it, and the publish names exactly those keys.
// Method: cache /r/job/{foo/a, foo/b/c, foobar/x}; delete /r/job/foo recursively.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recursive_directory_delete_removes_every_key_below() {
    let cluster = Cluster::start(1, &[]);
    let client = client(&[cluster.url(0)]);
    for key in ["/r/job/foo/a", "/r/job/foo/b/c", "/r/job/foobar/x"] {
        set(&client, key, "v").await;
    }
    let running = Running::start(&client, "/r", options());
    let synced = running.synced().await;
    assert_eq!(synced.len(), 3);
    let recursive = DeleteOptions {
        dir: true,
        recursive: true,
    };
    let deleted = client.delete("/r/job/foo", recursive).await.unwrap();
    let cache = running
        .until("the recursive delete", |cache| {
            cache.index() >= deleted.etcd_index
        })
        .await;
    assert_eq!(pairs(&cache), [("/r/job/foobar/x", "v")]);
    let changed = cache.changes_since(synced.generation());
    let expected: Vec<&str> = vec!["/r/job/foo/a", "/r/job/foo/b/c"];
    let named: Vec<&str> = changed.keys().unwrap().iter().map(|key| &**key).collect();
    assert_eq!(named, expected);
    running.stop().await;
}

// Goal: a key whose TTL runs out leaves the cache (the server's expire event), and its TTL
// metadata was cached while it lived. Method: cache a key with a 2 s TTL next to a permanent
// one; wait until it is gone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_key_leaves_the_cache() {
    let cluster = Cluster::start(1, &[]);
    let client = client(&[cluster.url(0)]);
    set(&client, "/r/keep", "k").await;
    let ttl = SetOptions {
        ttl: Some(Duration::from_secs(2)),
    };
    client.set("/r/short", "s", ttl).await.unwrap();
    let running = Running::start(&client, "/r", options());
    let synced = running.synced().await;
    let short = synced.get("/r/short").unwrap();
    assert!(short.expiration.is_some(), "{short:?}");
    assert!(matches!(short.ttl, Some(1..=2)), "{short:?}");
    let cache = running
        .until("the expiry", |cache| cache.get("/r/short").is_none())
        .await;
    assert_eq!(pairs(&cache), [("/r/keep", "k")]);
    assert!(cache.is_synced());
    running.stop().await;
}

// Goal: a watch that falls out of the server's 1000-event history (error 401) is followed by
// a re-list, and the cache is correct afterwards. Method: the reflector's watch idles on /r
// while 1010 changes happen outside it; its next idle re-poll (100 ms) asks for an index that
// has left the history. Then a change inside /r must still arrive.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn history_cleared_leads_to_a_relist() {
    let cluster = Cluster::start(1, &[]);
    let client = client(&[cluster.url(0)]);
    set(&client, "/r/a", "1").await;
    // A watch that ran 20 ms counts as healthy, so its 401 re-lists at once (the writes below
    // take far longer than that).
    let window = Duration::from_millis(20);
    let quick = ReflectorOptions {
        retry_pause_min: window,
        retry_pause_max: window,
        ..options()
    };
    let running = Running::start(&client, "/r", quick);
    assert_eq!(running.synced().await.list_count(), 1);
    let writers = (0..8).map(|writer| {
        let client = client.clone();
        async move {
            for n in 0..127 {
                set(&client, &format!("/out/{writer}"), &n.to_string()).await;
            }
        }
    });
    futures_util::future::join_all(writers).await;
    let relisted = running
        .until("a re-list", |cache| cache.list_count() >= 2)
        .await;
    assert!(relisted.is_synced());
    // Generation 1 was the first list, 2 the re-list: nothing was published stale in
    // between, so the re-list came from the 401, not from a failed watch.
    assert_eq!(relisted.generation(), 2);
    assert_eq!(pairs(&relisted), [("/r/a", "1")]);
    let written = set(&client, "/r/after", "2").await;
    let cache = running
        .until("the change after the re-list", |cache| {
            cache.index() >= written
        })
        .await;
    assert_eq!(contents(&cache), listed(&client, "/r").await);
    running.stop().await;
}

// Goal: while the store is down the cache is marked stale (keeping what it last saw), and
// once it is back the cache is synced again and correct. Method: kill -9 the only member, wait
// for Stale; restart it on the same data; wait for Synced; write and wait for the write.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn member_killed_and_restarted_marks_stale_then_resyncs() {
    let mut cluster = Cluster::start(1, &[]);
    let client = client(&[cluster.url(0)]);
    set(&client, "/r/a", "1").await;
    let running = Running::start(&client, "/r", options());
    running.synced().await;
    cluster.kill(0);
    let stale = running
        .until("staleness", |cache| {
            matches!(cache.health(), Health::Stale { .. })
        })
        .await;
    assert_eq!(pairs(&stale), [("/r/a", "1")], "the last state is kept");
    cluster.spawn(0);
    let resynced = running.synced().await;
    assert!(resynced.list_count() >= 2);
    assert_eq!(pairs(&resynced), [("/r/a", "1")]);
    let written = set(&client, "/r/b", "2").await;
    let cache = running
        .until("the write after the restart", |cache| {
            cache.index() >= written
        })
        .await;
    assert_eq!(contents(&cache), listed(&client, "/r").await);
    running.stop().await;
}

// Goal: cancelling the token stops the task promptly, its last publish says Stopped, and
// subscribers then see the channel close. Method: cancel a synced reflector whose watch is
// mid long-poll; wait on the tracker with a deadline.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancellation_stops_the_task() {
    let cluster = Cluster::start(1, &[]);
    let client = client(&[cluster.url(0)]);
    let running = Running::start(&client, "/r", options());
    running.synced().await;
    let mut receiver = running.reflector.subscribe();
    let reflector = running.reflector.clone();
    let last = running.stop().await;
    assert_eq!(last.health(), Health::Stopped);
    while receiver.changed().await.is_ok() {
        assert_eq!(receiver.borrow_and_update().health(), Health::Stopped);
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(1);
    assert_eq!(
        reflector.wait_synced(deadline).await.unwrap_err(),
        kv_client::WaitSyncedError::Stopped
    );
}
