//! What the reflector tests share: a client with short timeouts, a started reflector with its
//! tracker and token, waits on published caches with deadlines, and a fresh quorum list of a
//! prefix to compare a cache with.

use kv_client::{
    Cache, Client, ClientConfig, GetOptions, Node, Reflector, ReflectorOptions, StoreIndex,
};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// Short timeouts so a dead member is noticed within a second; a 100 ms idle re-poll, so a
/// watch that idles through 1000 other changes meets error 401 quickly; fixed jitter seeds so
/// runs repeat.
pub fn client(urls: &[&str]) -> Client {
    let config = ClientConfig {
        request_timeout: Duration::from_secs(2),
        connect_timeout: Duration::from_millis(200),
        operation_timeout: Duration::from_secs(3),
        attempts_max: 3,
        backoff_min: Duration::from_millis(10),
        backoff_max: Duration::from_millis(50),
        watch_poll_timeout: Duration::from_millis(100),
        jitter_seed: Some(7),
        ..ClientConfig::new(urls.iter().map(|url| (*url).to_owned()).collect())
    };
    Client::new(config).unwrap()
}

/// Fast retries: a restarted member is re-listed within a few hundred milliseconds.
pub fn options() -> ReflectorOptions {
    ReflectorOptions {
        retry_pause_min: Duration::from_millis(20),
        retry_pause_max: Duration::from_millis(200),
        jitter_seed: Some(11),
        ..ReflectorOptions::default()
    }
}

/// How long a test waits for one condition on the cache.
pub const CONDITION_DEADLINE: Duration = Duration::from_secs(8);

/// A reflector with the tracker and token that own its task.
pub struct Running {
    pub reflector: Reflector,
    pub tasks: TaskTracker,
    pub shutdown: CancellationToken,
}

impl Running {
    pub fn start(client: &Client, prefix: &str, options: ReflectorOptions) -> Running {
        let tasks = TaskTracker::new();
        let shutdown = CancellationToken::new();
        let reflector = client
            .reflect(prefix, options, &tasks, shutdown.clone())
            .unwrap();
        Running {
            reflector,
            tasks,
            shutdown,
        }
    }

    pub async fn synced(&self) -> Arc<Cache> {
        let deadline = Instant::now() + CONDITION_DEADLINE;
        self.reflector.wait_synced(deadline).await.unwrap()
    }

    /// The first published cache that satisfies `condition`, or a failure naming `what` and
    /// the last cache after `CONDITION_DEADLINE`.
    pub async fn until(&self, what: &str, condition: impl Fn(&Cache) -> bool) -> Arc<Cache> {
        let mut receiver = self.reflector.subscribe();
        let waited = tokio::time::timeout(
            CONDITION_DEADLINE,
            receiver.wait_for(|cache| condition(cache)),
        )
        .await;
        match waited {
            Ok(Ok(cache)) => Arc::clone(&cache),
            Ok(Err(_)) => panic!("the reflector stopped while waiting for {what}"),
            Err(_) => {
                let last = self.reflector.cache();
                panic!(
                    "timed out waiting for {what}; last cache: {:?} at {} after {} lists, keys {:?}",
                    last.health(),
                    last.index(),
                    last.list_count(),
                    last.entries().map(|(key, _)| key).collect::<Vec<_>>()
                );
            }
        }
    }

    /// Cancels the token and waits for the task to end.
    pub async fn stop(self) -> Arc<Cache> {
        self.shutdown.cancel();
        self.tasks.close();
        tokio::time::timeout(CONDITION_DEADLINE, self.tasks.wait())
            .await
            .expect("the reflector task ends promptly after cancel");
        self.reflector.cache()
    }
}

/// Key → (value, modifiedIndex) of every file in a cache.
pub fn contents(cache: &Cache) -> BTreeMap<String, (String, StoreIndex)> {
    cache
        .entries()
        .map(|(key, entry)| (key.to_owned(), (entry.value.clone(), entry.modified_index)))
        .collect()
}

/// The same, from a fresh quorum GET of `prefix` (hidden keys are not listed by the server).
pub async fn listed(client: &Client, prefix: &str) -> BTreeMap<String, (String, StoreIndex)> {
    let options = GetOptions {
        recursive: true,
        sorted: false,
        quorum: true,
    };
    let mut files = BTreeMap::new();
    match client.get(prefix, options).await {
        Ok(response) => flatten(response.node, &mut files),
        Err(error) if error.is_key_not_found() => {}
        Err(error) => panic!("listing {prefix}: {error}"),
    }
    files
}

fn flatten(node: Node, files: &mut BTreeMap<String, (String, StoreIndex)>) {
    if node.dir {
        for child in node.nodes {
            flatten(child, files);
        }
    } else {
        files.insert(
            node.key,
            (node.value.unwrap_or_default(), node.modified_index),
        );
    }
}

/// `(key, value)` pairs, for readable expectations.
pub fn pairs(cache: &Cache) -> Vec<(&str, &str)> {
    cache
        .entries()
        .map(|(key, entry)| (key, entry.value.as_str()))
        .collect()
}
