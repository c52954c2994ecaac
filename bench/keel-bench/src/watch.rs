//! The watch-latency workload: watchers long-poll one key (`?wait=true&waitIndex=N`, so no
//! event is missed); one client PUTs it `puts` times, one at a time. For every (PUT, watcher)
//! pair it measures the time from the PUT's acknowledgement to the watcher having the event
//! (never below zero: an event that arrived before the acknowledgement counts as 0), and from
//! sending the PUT to the event. Every wait is bounded by `deadline`.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use hdrhistogram::Histogram;
use hyper::Method;
use serde::Serialize;
use tokio::time::Instant;

use crate::http::Connection;
use crate::progress::{watch_line, Progress};
use crate::{histogram, record, Latency};

/// A watch-latency run.
#[derive(Debug, Clone)]
pub struct WatchConfig {
    /// Where the PUTs go.
    pub put_endpoint: String,
    /// Where watchers connect, in turn.
    pub watch_endpoints: Vec<String>,
    /// Number of watchers.
    pub watchers: usize,
    /// Number of PUTs.
    pub puts: u64,
    /// Value length in bytes.
    pub value_size: usize,
    /// The watched key (a path below `/v2/keys`).
    pub key: String,
    /// Pause between PUTs.
    pub interval: Duration,
    /// Bound on the whole run after the last PUT.
    pub deadline: Duration,
    /// Show progress on stderr ([`crate::progress`]).
    pub progress: bool,
}

/// The result of a watch-latency run.
#[derive(Debug, Clone, Serialize)]
pub struct WatchReport {
    /// Watchers.
    pub watchers: usize,
    /// PUTs acknowledged.
    pub puts: u64,
    /// Events expected (acknowledged PUTs × watchers).
    pub expected: u64,
    /// Events received in time.
    pub received: u64,
    /// PUT acknowledged → watcher has the event.
    pub latency: Latency,
    /// PUT sent → watcher has the event.
    pub latency_from_send: Latency,
    /// The PUTs' own latency.
    pub put_latency: Latency,
}

fn modified_index(body: &Bytes) -> Option<u64> {
    let value: serde_json::Value = serde_json::from_slice(body).ok()?;
    value["node"]["modifiedIndex"].as_u64()
}

/// Runs the workload.
///
/// # Errors
/// When an endpoint is unusable or the key cannot be read to find the starting index.
pub async fn run(config: WatchConfig) -> Result<WatchReport, String> {
    if config.watch_endpoints.is_empty() {
        return Err("no watch endpoint".into());
    }
    let path = format!("/v2/keys/{}", config.key.trim_start_matches('/'));
    let mut putter = Connection::new(&config.put_endpoint)?;
    let first = putter
        .send(Method::GET, &path, None)
        .await
        .map_err(|e| format!("reading {path}: {e}"))?;
    let start_index = first
        .etcd_index
        .ok_or_else(|| format!("no X-Etcd-Index reading {path}"))?;
    // Set once the PUTs are done: watchers stop after this index (0: still running).
    let last = Arc::new(AtomicU64::new(0));
    let mut watchers = Vec::new();
    for w in 0..config.watchers.max(1) {
        let connection =
            Connection::new(&config.watch_endpoints[w % config.watch_endpoints.len()])?;
        watchers.push(tokio::spawn(watch(
            connection,
            path.clone(),
            start_index,
            Arc::clone(&last),
            config.deadline,
        )));
    }
    let started = Instant::now();
    let mut progress = Progress::stderr(config.progress);
    let (puts, put_histogram) = put_all(&config, &mut putter, &path, &mut progress).await;
    let last_index = puts.iter().map(|(i, _, _)| *i).max().unwrap_or(start_index);
    last.store(last_index.max(1), Ordering::Release);
    let mut from_ack = histogram();
    let mut from_send = histogram();
    let mut received = 0;
    for watcher in watchers {
        let seen = tokio::time::timeout(config.deadline + Duration::from_secs(2), watcher)
            .await
            .ok()
            .and_then(Result::ok)
            .unwrap_or_default();
        for (index, sent, acked) in &puts {
            if let Some(at) = seen.get(index) {
                received += 1;
                record(&mut from_ack, at.saturating_duration_since(*acked));
                record(&mut from_send, at.saturating_duration_since(*sent));
            }
        }
    }
    progress.finish(&watch_line(
        puts.len() as u64,
        config.puts,
        started.elapsed(),
    ));
    Ok(WatchReport {
        watchers: config.watchers.max(1),
        puts: puts.len() as u64,
        expected: puts.len() as u64 * config.watchers.max(1) as u64,
        received,
        latency: Latency::of(&from_ack),
        latency_from_send: Latency::of(&from_send),
        put_latency: Latency::of(&put_histogram),
    })
}

/// One watcher: long-polls `path` from `start_index + 1` until the index in `last` (once
/// set) is seen or `deadline` after that has passed; when each index arrived.
async fn watch(
    mut connection: Connection,
    path: String,
    start_index: u64,
    last: Arc<AtomicU64>,
    deadline: Duration,
) -> HashMap<u64, Instant> {
    let mut seen: HashMap<u64, Instant> = HashMap::new();
    let mut next = start_index + 1;
    let mut give_up: Option<Instant> = None;
    loop {
        let wanted = last.load(Ordering::Acquire);
        if wanted > 0 {
            if next > wanted {
                break;
            }
            let limit = *give_up.get_or_insert_with(|| Instant::now() + deadline);
            if Instant::now() >= limit {
                break;
            }
        }
        let query = format!("{path}?wait=true&waitIndex={next}");
        let poll = connection.send(Method::GET, &query, None);
        let Ok(Ok(answer)) = tokio::time::timeout(Duration::from_secs(1), poll).await else {
            // Re-issue the same poll on a fresh connection: the abandoned one may still owe
            // an answer.
            connection.reset();
            continue;
        };
        let now = Instant::now();
        if let Some(index) = modified_index(&answer.body) {
            seen.entry(index).or_insert(now);
            next = next.max(index + 1);
        }
    }
    seen
}

/// The acknowledged PUTs (index, sent, acknowledged) and their latencies, one at a time with
/// `config.interval` between them.
async fn put_all(
    config: &WatchConfig,
    putter: &mut Connection,
    path: &str,
    progress: &mut Progress,
) -> (Vec<(u64, Instant, Instant)>, Histogram<u64>) {
    let mut form = b"value=".to_vec();
    form.extend(std::iter::repeat_n(b'w', config.value_size));
    let form = Bytes::from(form);
    let mut puts: Vec<(u64, Instant, Instant)> = Vec::new();
    let mut put_histogram = histogram();
    let started = Instant::now();
    for n in 0..config.puts {
        let sent = Instant::now();
        let answer = putter.send(Method::PUT, path, Some(form.clone())).await;
        let acked = Instant::now();
        if let Ok(answer) = answer {
            if let Some(index) = modified_index(&answer.body).filter(|_| answer.status < 300) {
                puts.push((index, sent, acked));
                record(&mut put_histogram, acked - sent);
            }
        }
        progress.tick(|| {
            #[allow(clippy::cast_precision_loss)]
            let fraction = (n + 1) as f64 / config.puts.max(1) as f64;
            (
                Some(fraction),
                watch_line(puts.len() as u64, config.puts, started.elapsed()),
            )
        });
        tokio::time::sleep(config.interval).await;
    }
    (puts, put_histogram)
}

/// Renders a watch report as a few lines.
pub fn render(report: &WatchReport) -> String {
    let (a, s, p) = (
        &report.latency,
        &report.latency_from_send,
        &report.put_latency,
    );
    format!(
        "watch-latency · {} watchers · {} PUTs · {}/{} events received\n\
         PUT acked → event ms: p50 {:.3}  p90 {:.3}  p99 {:.3}  p99.9 {:.3}  max {:.3}\n\
         PUT sent → event ms:  p50 {:.3}  p99 {:.3}   PUT latency ms: p50 {:.3}  p99 {:.3}\n",
        report.watchers,
        report.puts,
        report.received,
        report.expected,
        a.p50_ms,
        a.p90_ms,
        a.p99_ms,
        a.p99_9_ms,
        a.max_ms,
        s.p50_ms,
        s.p99_ms,
        p.p50_ms,
        p.p99_ms
    )
}
