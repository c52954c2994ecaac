//! The watch workload: one sequential writer puts unique values under one directory (each
//! write recorded in the history like a register write), while watchers on different members
//! follow the directory recursively from the index before the first write. After the final
//! heal every watcher drains to the last index, and the logs are checked: every watcher saw
//! every event of its prefix exactly once and in index order, every acknowledged write at its
//! acknowledged index, no value nobody wrote, and all watchers saw the same sequence.

use std::collections::{BTreeMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use checker::{EventKind, Op};
use futures_util::StreamExt;
use kv_client::{GetOptions, SetOptions, StoreIndex, WatchOptions};
use serde::Serialize;
use tokio::time::Instant;

use crate::recorder::Meta;
use crate::workload::{node_name, Env};

/// One event a watcher received.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Seen {
    /// The event's index (`modifiedIndex`).
    pub index: u64,
    /// The key.
    pub key: String,
    /// The value (`None` for deletes, which this workload never does).
    pub value: Option<String>,
}

/// Everything one watcher saw.
#[derive(Debug, Clone, Default, Serialize)]
pub struct WatcherLog {
    /// Its member.
    pub node: String,
    /// Events in arrival order.
    pub events: Vec<Seen>,
    /// Whether it reached the final index before the drain deadline.
    pub drained: bool,
    /// Errors the stream yielded (it resumes after transient ones).
    pub errors: Vec<String>,
    /// The history window was passed (401): completeness cannot be judged.
    pub history_cleared: bool,
}

/// One write of the writer and how it ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Written {
    /// The key.
    pub key: String,
    /// The unique value.
    pub value: String,
    /// `ok`, `fail` or `info`.
    pub outcome: String,
    /// The acknowledged `modifiedIndex` (ok only).
    pub index: Option<u64>,
}

/// The writer and the watchers of one phase.
pub struct WatchPhase {
    env: Arc<Env>,
    dir: String,
    /// Set to the index every watcher must reach; 0 until the writer is done.
    target: Arc<AtomicU64>,
    logs: Vec<Arc<Mutex<WatcherLog>>>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl WatchPhase {
    /// Starts `watchers` watchers (on members 0, 1, ...) on a fresh directory, from the current
    /// index. The directory is `<prefix>/w`.
    ///
    /// # Errors
    /// When no member answers the initial quorum read.
    pub async fn start(env: Arc<Env>, watchers: usize) -> Result<WatchPhase, String> {
        let dir = format!("{}/w", env.prefix);
        let mut start_index = None;
        for node in 0..env.urls.len() {
            let client = env.client(node, Duration::from_secs(5));
            let options = GetOptions {
                quorum: true,
                ..GetOptions::default()
            };
            match client.get("/", options).await {
                Ok(response) => {
                    start_index = Some(response.etcd_index.0);
                    break;
                }
                Err(_) => continue,
            }
        }
        let start_index =
            start_index.ok_or_else(|| "watch: no member answered a quorum read".to_owned())?;
        let target = Arc::new(AtomicU64::new(0));
        let mut logs = Vec::new();
        let mut tasks = Vec::new();
        for watcher in 0..watchers.min(env.urls.len()).max(1) {
            let log = Arc::new(Mutex::new(WatcherLog {
                node: node_name(watcher),
                ..WatcherLog::default()
            }));
            logs.push(Arc::clone(&log));
            // Watchers may retry (a watch resumes from its own index, nothing is written), so
            // they get a few attempts per poll and a short long-poll to notice a frozen member.
            let client = {
                let config = kv_client::ClientConfig {
                    request_timeout: Duration::from_secs(2),
                    connect_timeout: Duration::from_millis(500),
                    operation_timeout: Duration::from_secs(5),
                    attempts_max: 3,
                    watch_poll_timeout: Duration::from_secs(5),
                    ..kv_client::ClientConfig::new(vec![env.urls[watcher].clone()])
                };
                kv_client::Client::new(config).map_err(|e| e.to_string())?
            };
            let dir = dir.clone();
            let target = Arc::clone(&target);
            tasks.push(tokio::spawn(async move {
                follow(client, dir, start_index, target, log).await;
            }));
        }
        Ok(WatchPhase {
            env,
            dir,
            target,
            logs,
            tasks,
        })
    }

    /// The writer: unique values `1, 2, ...` to keys `<dir>/k0..k2`, rotating members, until
    /// `end`. Returns every write and its outcome.
    pub async fn write_until(&self, end: Instant) -> Vec<Written> {
        let env = &self.env;
        let nodes = env.urls.len();
        let clients: Vec<_> = (0..nodes).map(|n| env.client(n, env.timeout)).collect();
        let mut rng = env.rng(7);
        let mut written = Vec::new();
        let mut process = env.new_process();
        let mut i: u64 = 0;
        loop {
            env.pace(&mut rng, 1).await;
            if Instant::now() >= end || crate::run::interrupted() {
                break;
            }
            i += 1;
            let node = usize::try_from(i).unwrap_or(0) % nodes;
            let key = format!("{}/k{}", self.dir, i % 3);
            let value = i.to_string();
            let op = Op::Write {
                key: key.clone(),
                value: value.clone(),
            };
            let mut meta = Meta {
                node: Some(node_name(node)),
                ..Meta::default()
            };
            env.recorder
                .client(process, EventKind::Invoke, op.clone(), &meta);
            let result = clients[node].set(&key, &value, SetOptions::default()).await;
            let (kind, index) = match &result {
                Ok(response) => {
                    meta.modified_index = Some(response.node.modified_index.0);
                    meta.etcd_index = Some(response.etcd_index.0);
                    (EventKind::Ok, Some(response.node.modified_index.0))
                }
                Err(error) => {
                    meta.error_code = error.code();
                    meta.error = Some(error.to_string());
                    let kind = if error.is_indeterminate() {
                        EventKind::Info
                    } else {
                        EventKind::Fail
                    };
                    (kind, None)
                }
            };
            env.recorder.client(process, kind, op, &meta);
            written.push(Written {
                key,
                value,
                outcome: match kind {
                    EventKind::Ok => "ok",
                    EventKind::Info => "info",
                    _ => "fail",
                }
                .into(),
                index,
            });
            if kind == EventKind::Info {
                process = env.new_process();
            }
        }
        written
    }

    /// Lets every watcher run until it has passed `final_index`, or until `deadline`.
    pub async fn drain(self, final_index: u64, deadline: Duration) -> Vec<WatcherLog> {
        self.target.store(final_index.max(1), Ordering::Release);
        let stop = Instant::now() + deadline;
        for task in self.tasks {
            let remaining = stop.saturating_duration_since(Instant::now());
            // A watcher still running at the deadline is reported as not drained.
            let _ = tokio::time::timeout(remaining, task).await;
        }
        self.logs
            .iter()
            .map(|log| log.lock().map(|l| l.clone()).unwrap_or_default())
            .collect()
    }
}

/// One watcher: follows `dir` from `start_index + 1`, resuming after transient errors, until
/// the target index is set and passed.
async fn follow(
    client: kv_client::Client,
    dir: String,
    start_index: u64,
    target: Arc<AtomicU64>,
    log: Arc<Mutex<WatcherLog>>,
) {
    let mut next = StoreIndex(start_index + 1);
    'outer: loop {
        let mut watch = client.watch(
            &dir,
            WatchOptions::after(StoreIndex(next.0 - 1)).recursive(),
        );
        loop {
            let wanted = target.load(Ordering::Acquire);
            if wanted > 0 && next.0 > wanted {
                if let Ok(mut log) = log.lock() {
                    log.drained = true;
                }
                return;
            }
            // Bounded waits so the drain target is noticed; the stream keeps its state when a
            // wait times out, so nothing is lost.
            let item = match tokio::time::timeout(Duration::from_millis(200), watch.next()).await {
                Err(_) => continue,
                Ok(None) => continue 'outer,
                Ok(Some(item)) => item,
            };
            match item {
                Ok(event) => {
                    next = event.index().next();
                    if let Ok(mut log) = log.lock() {
                        log.events.push(Seen {
                            index: event.index().0,
                            key: event.node.key.clone(),
                            value: event.node.value.clone(),
                        });
                    }
                }
                Err(error) if error.is_history_cleared() => {
                    if let Ok(mut log) = log.lock() {
                        log.history_cleared = true;
                        log.errors.push(error.to_string());
                    }
                    return;
                }
                Err(error) => {
                    if let Some(index) = watch.next_wait_index() {
                        next = next.max(index);
                    }
                    if let Ok(mut log) = log.lock() {
                        if log.errors.len() < 100 {
                            log.errors.push(error.to_string());
                        }
                    }
                    if !error.is_retriable() {
                        continue 'outer;
                    }
                }
            }
        }
    }
}

/// A watch anomaly.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WatchAnomaly {
    /// `watch-order`, `watch-duplicate`, `watch-unknown-value`, `watch-missing`,
    /// `watch-index-mismatch`, `watch-divergence`, `watch-stuck`, `watch-history-cleared`.
    pub kind: String,
    /// The watcher's member.
    pub node: String,
    /// What was wrong.
    pub detail: String,
}

/// Checks the watchers' logs against the writes (see the module docs). `final_index` is the
/// store index after the last write; events past it are ignored.
pub fn check(writes: &[Written], logs: &[WatcherLog], final_index: u64) -> Vec<WatchAnomaly> {
    let mut anomalies = Vec::new();
    let mut add = |kind: &str, node: &str, detail: String| {
        if anomalies.len() < 200 {
            anomalies.push(WatchAnomaly {
                kind: kind.into(),
                node: node.into(),
                detail,
            });
        }
    };
    let by_value: BTreeMap<(&str, &str), &Written> = writes
        .iter()
        .map(|w| ((w.key.as_str(), w.value.as_str()), w))
        .collect();
    let mut sequences = Vec::new();
    for log in logs {
        let node = log.node.as_str();
        if log.history_cleared {
            add(
                "watch-history-cleared",
                node,
                "the watcher fell more than 1000 events behind; completeness not judged".into(),
            );
        }
        if !log.drained && !log.history_cleared {
            add(
                "watch-stuck",
                node,
                format!("did not reach index {final_index} after the cluster healed"),
            );
        }
        let events: Vec<&Seen> = log
            .events
            .iter()
            .filter(|e| e.index <= final_index)
            .collect();
        let mut previous = 0;
        let mut seen_values = HashSet::new();
        for event in &events {
            if event.index <= previous {
                add(
                    "watch-order",
                    node,
                    format!("index {} after index {previous}", event.index),
                );
            }
            previous = previous.max(event.index);
            let value = event.value.as_deref().unwrap_or("");
            match by_value.get(&(event.key.as_str(), value)) {
                None => add(
                    "watch-unknown-value",
                    node,
                    format!(
                        "{}={value:?} at {} was never written",
                        event.key, event.index
                    ),
                ),
                Some(w) if w.outcome == "fail" => add(
                    "watch-unknown-value",
                    node,
                    format!(
                        "{}={value:?} at {} was a failed write",
                        event.key, event.index
                    ),
                ),
                Some(w) => {
                    if let Some(index) = w.index.filter(|&i| i != event.index) {
                        add(
                            "watch-index-mismatch",
                            node,
                            format!(
                                "{}={value:?} acknowledged at {index}, seen at {}",
                                w.key, event.index
                            ),
                        );
                    }
                }
            }
            if !seen_values.insert((event.key.as_str(), value)) {
                add(
                    "watch-duplicate",
                    node,
                    format!("{}={value:?} delivered twice", event.key),
                );
            }
        }
        if log.drained {
            for write in writes.iter().filter(|w| w.outcome == "ok") {
                if !seen_values.contains(&(write.key.as_str(), write.value.as_str())) {
                    add(
                        "watch-missing",
                        node,
                        format!(
                            "acknowledged {}={:?} at {:?} never delivered",
                            write.key, write.value, write.index
                        ),
                    );
                }
            }
            sequences.push((node, events));
        }
    }
    if let Some((first_node, first)) = sequences.first() {
        for (node, other) in &sequences[1..] {
            if other != first {
                let position = first
                    .iter()
                    .zip(other.iter())
                    .position(|(a, b)| a != b)
                    .unwrap_or(first.len().min(other.len()));
                add(
                    "watch-divergence",
                    node,
                    format!(
                        "differs from {first_node} at event {position} ({} vs {} events)",
                        other.len(),
                        first.len()
                    ),
                );
            }
        }
    }
    anomalies
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(value: &str, outcome: &str, index: Option<u64>) -> Written {
        Written {
            key: "/w/k0".into(),
            value: value.into(),
            outcome: outcome.into(),
            index,
        }
    }

    fn seen(index: u64, value: &str) -> Seen {
        Seen {
            index,
            key: "/w/k0".into(),
            value: Some(value.into()),
        }
    }

    fn log(node: &str, events: Vec<Seen>) -> WatcherLog {
        WatcherLog {
            node: node.into(),
            events,
            drained: true,
            ..WatcherLog::default()
        }
    }

    /// Goal: the watch checker accepts complete identical logs (with an indeterminate write
    /// that did apply) and names each kind of anomaly. Method: hand-made logs, one defect each.
    #[test]
    fn watch_check_accepts_good_logs_and_names_each_defect() {
        let writes = vec![
            write("1", "ok", Some(5)),
            write("2", "info", None),
            write("3", "ok", Some(9)),
            write("4", "fail", None),
        ];
        let good = vec![seen(5, "1"), seen(7, "2"), seen(9, "3")];
        let logs = vec![log("n1", good.clone()), log("n2", good.clone())];
        assert_eq!(check(&writes, &logs, 9), vec![]);

        let kinds = |logs: Vec<WatcherLog>| -> Vec<String> {
            check(&writes, &logs, 9)
                .into_iter()
                .map(|a| a.kind)
                .collect()
        };
        let missing = vec![seen(5, "1"), seen(7, "2")];
        assert!(kinds(vec![log("n1", good.clone()), log("n2", missing)])
            .contains(&"watch-missing".to_owned()));
        let reordered = vec![seen(5, "1"), seen(9, "3"), seen(7, "2")];
        assert!(kinds(vec![log("n1", reordered)]).contains(&"watch-order".to_owned()));
        let duplicated = vec![seen(5, "1"), seen(5, "1"), seen(7, "2"), seen(9, "3")];
        let found = kinds(vec![log("n1", duplicated)]);
        assert!(found.contains(&"watch-duplicate".to_owned()), "{found:?}");
        let failed_visible = vec![seen(5, "1"), seen(7, "4"), seen(9, "3")];
        assert!(kinds(vec![log("n1", failed_visible)]).contains(&"watch-unknown-value".to_owned()));
        let moved = vec![seen(5, "1"), seen(7, "2"), seen(8, "3")];
        assert!(kinds(vec![log("n1", moved)]).contains(&"watch-index-mismatch".to_owned()));
        let without_info = vec![seen(5, "1"), seen(9, "3")];
        assert_eq!(
            kinds(vec![log("n1", good.clone()), log("n2", without_info)]),
            ["watch-divergence"]
        );
        let mut stuck = log("n1", good);
        stuck.drained = false;
        assert_eq!(kinds(vec![stuck]), ["watch-stuck"]);
    }
}
