//! The register and set workloads: many concurrent logical processes, each bound to one member,
//! going through `kv-client` like any user. Every operation is recorded as `invoke` before the
//! request and exactly one completion after it:
//! * a domain answer is `ok` (a read, an applied write) or `fail` (compare failed, key missing
//!   on a compare);
//! * a write the client reports as indeterminate is `info`: the process is retired and its
//!   worker continues as a fresh process on a new connection;
//! * any other error is `fail`: the client guarantees it was never applied (reads never change
//!   state, so a failed read is always `fail`).
//!
//! Keys rotate: a group of at most five workers shares one key for `ops_per_key` operations,
//! then moves to a fresh key, which bounds the checker's search per key.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use checker::{EventKind, Op};
use kv_client::{Client, ClientConfig, ClientError, GetOptions, PrevConditions, SetOptions};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use tokio::time::Instant;

use crate::recorder::{Meta, Recorder};

/// How register and set reads are served.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadMode {
    /// `quorum=true`: linearizable.
    Quorum,
    /// Plain reads from the answering member's replica: not linearizable (a negative control).
    Plain,
}

/// What every worker of a run shares.
#[derive(Debug)]
pub struct Env {
    /// The history.
    pub recorder: Arc<Recorder>,
    /// Each member's client URL, by node.
    pub urls: Vec<String>,
    /// The run's seed.
    pub seed: u64,
    /// How reads are served.
    pub read_mode: ReadMode,
    /// Target total operation rate (ops/s) over all workers.
    pub rate: f64,
    /// Client timeout per request; shorter than a fault.
    pub timeout: Duration,
    /// Next logical process number (never reused within a run).
    pub processes: AtomicU64,
    /// Next unique set element.
    pub elements: AtomicU64,
    /// Key prefix of this run.
    pub prefix: String,
}

impl Env {
    /// A fresh logical process number.
    pub fn new_process(&self) -> u64 {
        self.processes.fetch_add(1, Ordering::Relaxed)
    }

    /// A client bound to one member: no failover and one attempt, so every request goes where
    /// the history says and is never retried.
    ///
    /// # Panics
    /// When the URL is not a valid endpoint (the runner builds them).
    pub fn client(&self, node: usize, timeout: Duration) -> Client {
        let config = ClientConfig {
            request_timeout: timeout,
            connect_timeout: timeout.min(Duration::from_millis(500)),
            operation_timeout: timeout,
            attempts_max: 1,
            jitter_seed: Some(self.seed),
            ..ClientConfig::new(vec![self.urls[node].clone()])
        };
        Client::new(config).unwrap_or_else(|e| panic!("client for {}: {e}", self.urls[node]))
    }

    /// A seeded random stream for `stream` (worker number or a fixed purpose tag).
    pub fn rng(&self, stream: u64) -> ChaCha8Rng {
        let mut rng = ChaCha8Rng::seed_from_u64(self.seed);
        rng.set_stream(stream);
        rng
    }

    /// Pause between one worker's operations so that `workers` together make about `rate`
    /// ops/s (uniform jitter; this paces load, it waits for nothing).
    pub async fn pace(&self, rng: &mut ChaCha8Rng, workers: usize) {
        #[allow(clippy::cast_precision_loss)]
        let mean = workers as f64 / self.rate.max(0.1);
        let pause = rng.gen_range(0.0..2.0 * mean);
        tokio::time::sleep(Duration::from_secs_f64(pause.min(10.0))).await;
    }

    fn meta(&self, node: usize) -> Meta {
        Meta {
            node: Some(node_name(node)),
            ..Meta::default()
        }
    }
}

/// `n1`, `n2`, ... for node 0, 1, ...
pub fn node_name(node: usize) -> String {
    format!("n{}", node + 1)
}

/// Key rotation for groups of workers.
#[derive(Debug)]
pub struct Keys {
    counters: Vec<AtomicU64>,
    ops_per_key: u64,
    prefix: String,
}

impl Keys {
    /// `groups` groups, each moving to a new key every `ops_per_key` operations.
    pub fn new(prefix: String, groups: usize, ops_per_key: u64) -> Keys {
        Keys {
            counters: (0..groups.max(1)).map(|_| AtomicU64::new(0)).collect(),
            ops_per_key: ops_per_key.max(1),
            prefix,
        }
    }

    /// The key for `group`'s next operation.
    pub fn next(&self, group: usize) -> String {
        let group = group % self.counters.len();
        let n = self.counters[group].fetch_add(1, Ordering::Relaxed);
        format!("{}/g{group}-{}", self.prefix, n / self.ops_per_key)
    }

    /// Every key handed out so far.
    pub fn used(&self) -> Vec<String> {
        let mut keys = Vec::new();
        for (group, counter) in self.counters.iter().enumerate() {
            let n = counter.load(Ordering::Relaxed);
            if n > 0 {
                for generation in 0..=(n - 1) / self.ops_per_key {
                    keys.push(format!("{}/g{group}-{generation}", self.prefix));
                }
            }
        }
        keys
    }
}

fn meta_of(meta: &mut Meta, response: &kv_client::Response) {
    meta.modified_index = Some(response.node.modified_index.0);
    meta.etcd_index = Some(response.etcd_index.0);
    meta.raft_index = Some(response.raft_index.0);
    meta.raft_term = Some(response.raft_term.0);
}

fn meta_err(meta: &mut Meta, error: &ClientError) {
    meta.error_code = error.code();
    meta.error = Some(error.to_string());
}

/// How a write's error is recorded.
fn write_error_kind(error: &ClientError) -> EventKind {
    if error.is_indeterminate() {
        EventKind::Info
    } else {
        EventKind::Fail
    }
}

/// One register read; returns the completion kind.
pub async fn register_read(env: &Env, client: &Client, node: usize, process: u64, key: &str) {
    let op = Op::Read {
        key: key.to_owned(),
        value: None,
    };
    let mut meta = env.meta(node);
    env.recorder
        .client(process, EventKind::Invoke, op, &meta.clone());
    let options = GetOptions {
        quorum: env.read_mode == ReadMode::Quorum,
        ..GetOptions::default()
    };
    let (kind, value) = match client.get(key, options).await {
        Ok(response) => {
            meta_of(&mut meta, &response);
            (EventKind::Ok, response.node.value)
        }
        Err(error) if error.is_key_not_found() => {
            meta_err(&mut meta, &error);
            (EventKind::Ok, None)
        }
        Err(error) => {
            meta_err(&mut meta, &error);
            (EventKind::Fail, None)
        }
    };
    let op = Op::Read {
        key: key.to_owned(),
        value,
    };
    env.recorder.client(process, kind, op, &meta);
}

/// One register operation chosen from the mix (50 % read, 25 % write, 25 % CAS, values 0–4).
/// Returns the completion kind.
async fn register_op(
    env: &Env,
    client: &Client,
    node: usize,
    process: u64,
    key: &str,
    rng: &mut ChaCha8Rng,
) -> EventKind {
    let roll = rng.gen_range(0..100);
    if roll < 50 {
        register_read(env, client, node, process, key).await;
        return EventKind::Ok;
    }
    let mut meta = env.meta(node);
    let value = rng.gen_range(0..5).to_string();
    let (op, result) = if roll < 75 {
        let op = Op::Write {
            key: key.to_owned(),
            value: value.clone(),
        };
        env.recorder
            .client(process, EventKind::Invoke, op.clone(), &meta);
        (op, client.set(key, &value, SetOptions::default()).await)
    } else {
        let from = rng.gen_range(0..5).to_string();
        let op = Op::Cas {
            key: key.to_owned(),
            from: from.clone(),
            to: value.clone(),
        };
        env.recorder
            .client(process, EventKind::Invoke, op.clone(), &meta);
        let prev = PrevConditions::value(from);
        let result = client
            .compare_and_swap(key, &value, &prev, SetOptions::default())
            .await;
        (op, result)
    };
    let kind = match &result {
        Ok(response) => {
            meta_of(&mut meta, response);
            EventKind::Ok
        }
        Err(error) => {
            meta_err(&mut meta, error);
            // Compare failed (101) and key missing (100) are definite refusals.
            if error.is_compare_failed() || error.is_key_not_found() {
                EventKind::Fail
            } else {
                write_error_kind(error)
            }
        }
    };
    env.recorder.client(process, kind, op, &meta);
    kind
}

/// Reads the set stored as in-order children of `key`.
pub async fn set_read(env: &Env, client: &Client, node: usize, process: u64, key: &str) {
    let op = Op::ReadSet {
        key: key.to_owned(),
        elements: None,
    };
    let mut meta = env.meta(node);
    env.recorder.client(process, EventKind::Invoke, op, &meta);
    let options = GetOptions {
        recursive: true,
        sorted: true,
        quorum: env.read_mode == ReadMode::Quorum,
    };
    let (kind, elements) = match client.get(key, options).await {
        Ok(response) => {
            meta_of(&mut meta, &response);
            let mut elements = BTreeSet::new();
            let mut unreadable = Vec::new();
            for child in &response.node.nodes {
                match child.value.as_deref().map(str::parse::<u64>) {
                    Some(Ok(element)) => {
                        elements.insert(element);
                    }
                    _ => unreadable.push(child.key.clone()),
                }
            }
            if unreadable.is_empty() {
                (EventKind::Ok, Some(elements))
            } else {
                meta.error = Some(format!(
                    "children that are not set elements: {unreadable:?}"
                ));
                (EventKind::Fail, None)
            }
        }
        Err(error) if error.is_key_not_found() => {
            meta_err(&mut meta, &error);
            (EventKind::Ok, Some(BTreeSet::new()))
        }
        Err(error) => {
            meta_err(&mut meta, &error);
            (EventKind::Fail, None)
        }
    };
    let op = Op::ReadSet {
        key: key.to_owned(),
        elements,
    };
    env.recorder.client(process, kind, op, &meta);
}

/// One set operation: 70 % add of a unique element (a POST of an in-order key), 30 % read.
async fn set_op(
    env: &Env,
    client: &Client,
    node: usize,
    process: u64,
    key: &str,
    rng: &mut ChaCha8Rng,
) -> EventKind {
    if rng.gen_range(0..100) >= 70 {
        set_read(env, client, node, process, key).await;
        return EventKind::Ok;
    }
    let element = env.elements.fetch_add(1, Ordering::Relaxed);
    let op = Op::Add {
        key: key.to_owned(),
        element,
    };
    let mut meta = env.meta(node);
    env.recorder
        .client(process, EventKind::Invoke, op.clone(), &meta);
    let kind = match client
        .create_in_order(key, &element.to_string(), SetOptions::default())
        .await
    {
        Ok(response) => {
            meta_of(&mut meta, &response);
            EventKind::Ok
        }
        Err(error) => {
            meta_err(&mut meta, &error);
            write_error_kind(&error)
        }
    };
    env.recorder.client(process, kind, op, &meta);
    kind
}

/// Which operation mix a worker runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mix {
    /// Register reads, writes and CAS.
    Register,
    /// Set adds and reads.
    Set,
}

/// Runs `workers` workers of `mix` until `end`, spread over the members (worker `w` uses
/// member `w mod n`), groups of up to five per key.
pub async fn run_workers(env: Arc<Env>, keys: Arc<Keys>, mix: Mix, workers: usize, end: Instant) {
    let mut tasks = Vec::new();
    for worker in 0..workers {
        let env = Arc::clone(&env);
        let keys = Arc::clone(&keys);
        tasks.push(tokio::spawn(async move {
            let node = worker % env.urls.len();
            let group = worker / 5;
            let mut rng = env.rng(1000 + worker as u64);
            let mut process = env.new_process();
            let mut client = env.client(node, env.timeout);
            loop {
                env.pace(&mut rng, workers).await;
                if Instant::now() >= end || crate::run::interrupted() {
                    break;
                }
                let key = keys.next(group);
                let kind = match mix {
                    Mix::Register => {
                        register_op(&env, &client, node, process, &key, &mut rng).await
                    }
                    Mix::Set => set_op(&env, &client, node, process, &key, &mut rng).await,
                };
                if kind == EventKind::Info {
                    process = env.new_process();
                    client = env.client(node, env.timeout);
                }
            }
        }));
    }
    for task in tasks {
        let _ = task.await;
    }
}

/// After healing: a quorum read of every key from every member, recorded like any other read
/// (these reads are what shows a lost acknowledged write).
pub async fn final_reads(env: &Env, keys: &[String], mix: Mix, timeout: Duration) {
    for node in 0..env.urls.len() {
        let client = env.client(node, timeout);
        let process = env.new_process();
        for key in keys {
            match mix {
                Mix::Register => register_read(env, &client, node, process, key).await,
                Mix::Set => set_read(env, &client, node, process, key).await,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Goal: keys rotate after `ops_per_key` operations per group and `used` lists exactly
    /// the keys handed out.
    #[test]
    fn keys_rotate_and_are_listed() {
        let keys = Keys::new("/p".into(), 2, 3);
        let first: Vec<String> = (0..4).map(|_| keys.next(0)).collect();
        assert_eq!(first, ["/p/g0-0", "/p/g0-0", "/p/g0-0", "/p/g0-1"]);
        assert_eq!(keys.next(1), "/p/g1-0");
        assert_eq!(keys.used(), ["/p/g0-0", "/p/g0-1", "/p/g1-0"]);
    }
}
