//! The semaphore operations against a real Keel member: locksmith's document, created once;
//! compare-and-swap under contention never gives out more slots than there are; a malformed
//! document is reported and left alone.

use kv_client::{Client, ClientConfig, GetOptions, SetOptions};
use locksmith_core::semaphore::{FencingToken, Semaphore, SemaphoreError, DEFAULT_KEY};
use locksmith_store::{groups, SemaphoreStore, StoreError};
use std::time::Duration;
use testkit::Cluster;

fn client(cluster: &Cluster) -> Client {
    Client::new(ClientConfig::new(vec![cluster.url(0).to_owned()])).expect("valid client")
}

async fn stored(client: &Client, key: &str) -> (String, u64) {
    let response = client
        .get(key, GetOptions::default())
        .await
        .expect("the key exists");
    (
        response.node.value.expect("a file"),
        response.node.modified_index.0,
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operations_round_trip_with_tokens() {
    // Goal: the first read creates locksmith's document; lock writes and its token is the
    // write's modifiedIndex; locking again returns that token without a write; unlock and
    // set-max are idempotent; a document with `null` holders, as locksmith writes, is read.
    // Method: one member; each step checked against the stored value and index.
    let cluster = Cluster::start(1, &[]);
    let client = client(&cluster);
    let store = SemaphoreStore::new(client.clone(), "");
    assert_eq!(store.key(), DEFAULT_KEY);
    let read = store.read().await.expect("read");
    assert_eq!(read.semaphore, Semaphore::initial());
    assert_eq!(
        stored(&client, DEFAULT_KEY).await.0,
        r#"{"semaphore":1,"max":1,"holders":[]}"#
    );
    let token = store.lock("m1", 1_000).await.expect("lock");
    let (_, index) = stored(&client, DEFAULT_KEY).await;
    assert_eq!(token, FencingToken(index));
    assert_eq!(store.lock("m1", 2_000).await.expect("lock again"), token);
    assert_eq!(
        stored(&client, DEFAULT_KEY).await.1,
        index,
        "no second write"
    );
    assert!(matches!(
        store.lock("m2", 2_000).await,
        Err(StoreError::Refused(SemaphoreError::Full { semaphore: 0 }))
    ));
    let (old, after) = store.set_max(2, 3_000).await.expect("set_max");
    assert_eq!((old, after.max, after.semaphore), (1, 2, 1));
    let second = store.lock("m2", 3_000).await.expect("lock m2");
    assert!(second > token);
    assert!(store.unlock("m1", 4_000).await.expect("unlock"));
    assert!(!store.unlock("m1", 4_000).await.expect("unlock again"));
    let holds = store.read().await.expect("read").semaphore;
    assert_eq!(holds.holders, ["m2"]);

    client
        .set(
            DEFAULT_KEY,
            r#"{"semaphore":0,"max":1,"holders":null}"#,
            SetOptions::default(),
        )
        .await
        .expect("set");
    assert_eq!(store.read().await.expect("read").semaphore.semaphore, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn contending_lockers_never_exceed_max() {
    // Goal: with more lockers than slots racing, exactly max of them get a slot, with
    // distinct tokens, and the document's holders are exactly the winners. Method: twelve
    // concurrent lockers on max 3, on one member; each retries its lost swaps.
    let cluster = Cluster::start(1, &[]);
    let client = client(&cluster);
    let store = SemaphoreStore::new(client.clone(), "race");
    store.set_max(3, 0).await.expect("set_max");
    let mut tasks = tokio::task::JoinSet::new();
    for number in 0..12 {
        let store = store.clone();
        tasks.spawn(async move {
            let holder = format!("host{number:02}");
            (holder.clone(), store.lock(&holder, 10).await)
        });
    }
    let mut winners = Vec::new();
    let mut tokens = Vec::new();
    while let Some(joined) = tasks.join_next().await {
        let (holder, result) = joined.expect("the task ran");
        match result {
            Ok(token) => {
                winners.push(holder);
                tokens.push(token);
            }
            Err(StoreError::Refused(SemaphoreError::Full { .. })) => {}
            Err(error) => panic!("{holder}: {error}"),
        }
    }
    winners.sort();
    tokens.sort();
    tokens.dedup();
    assert_eq!((winners.len(), tokens.len()), (3, 3), "{winners:?}");
    let read = store.read().await.expect("read");
    assert_eq!(read.semaphore.holders, winners);
    assert_eq!(read.semaphore.semaphore, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_documents_are_left_alone() {
    // Goal: a value that is not a semaphore document, or a directory at the key, is an
    // error naming the key, and nothing is written over it. Method: store garbage, then try
    // every operation and compare the stored value and index.
    let cluster = Cluster::start(1, &[]);
    let client = client(&cluster);
    let store = SemaphoreStore::new(client.clone(), "");
    client
        .set(DEFAULT_KEY, "{not json", SetOptions::default())
        .await
        .expect("set");
    let before = stored(&client, DEFAULT_KEY).await;
    let malformed = |result: Result<(), StoreError>| match result {
        Err(error @ StoreError::Malformed { .. }) => {
            assert!(error.to_string().contains(DEFAULT_KEY), "{error}");
            assert!(!error.is_retriable());
        }
        other => panic!("expected a malformed document, got {other:?}"),
    };
    malformed(store.lock("m1", 0).await.map(drop));
    malformed(store.unlock("m1", 0).await.map(drop));
    malformed(store.set_max(2, 0).await.map(drop));
    malformed(store.reap(Duration::ZERO, "me", "test", 0).await.map(drop));
    assert_eq!(stored(&client, DEFAULT_KEY).await, before);

    let dir = SemaphoreStore::new(client.clone(), "dir");
    client
        .mkdir(dir.key(), SetOptions::default())
        .await
        .expect("mkdir");
    assert!(matches!(
        dir.lock("m1", 0).await,
        Err(StoreError::Directory { .. })
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn groups_are_listed_and_stale_holders_reaped() {
    // Goal: named groups (escaped as locksmith escapes them) are listed by name; a holder
    // over the maximum hold is reaped with a record, a younger one stays. Method: three
    // groups, one with a `/` and a space; two holders of different ages.
    let cluster = Cluster::start(1, &[]);
    let client = client(&cluster);
    assert!(groups(&client).await.expect("groups").is_empty());
    for group in ["lb", "web servers/eu", "db"] {
        SemaphoreStore::new(client.clone(), group)
            .init()
            .await
            .expect("init");
    }
    assert_eq!(
        groups(&client).await.expect("groups"),
        ["db", "lb", "web servers/eu"]
    );
    let store = SemaphoreStore::new(client.clone(), "lb");
    store.set_max(2, 0).await.expect("set_max");
    store.lock("old", 1_000).await.expect("lock");
    store.lock("young", 50_000).await.expect("lock");
    let reaped = store
        .reap(Duration::from_secs(30), "ctl", "held over 30s", 60_000)
        .await
        .expect("reap");
    assert_eq!(reaped.len(), 1);
    assert_eq!(
        (
            reaped[0].holder.as_str(),
            reaped[0].by.as_str(),
            reaped[0].reaped_at_ms
        ),
        ("old", "ctl", 60_000)
    );
    let read = store.read().await.expect("read");
    assert_eq!(
        (read.semaphore.holders.as_slice(), read.semaphore.semaphore),
        (&["young".to_owned()][..], 1)
    );
}
