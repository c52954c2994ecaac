//! keel-bench: load for the etcd v2 API (Keel or etcd), closed-loop clients over keep-alive
//! connections, latencies in an HdrHistogram. Workloads: `put`, `get` (plain or
//! `quorum=true`), `mixed` (a read/write ratio) and `watch-latency` (PUT acknowledged →
//! each watcher has the event). See `bench/README.md`.

pub mod fsync;
pub mod http;
pub mod progress;
pub mod watch;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use hdrhistogram::Histogram;
use hyper::Method;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;
use tokio::sync::Mutex;
use tokio::time::Instant;

use crate::http::{Answer, Connection, RequestError};
use crate::progress::{load_line, LoadStatus, Progress};

/// What the clients do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Workload {
    /// `PUT /v2/keys/<prefix>/<key>` with `value=<value-size bytes>`.
    Put,
    /// `GET /v2/keys/<prefix>/<key>`, plain or `quorum=true`.
    Get {
        /// Linearizable reads.
        quorum: bool,
    },
    /// Reads with probability `read_percent`, writes otherwise.
    Mixed {
        /// Percent of requests that are reads.
        read_percent: u8,
        /// Linearizable reads.
        quorum: bool,
    },
}

impl Workload {
    /// A short name for reports.
    pub fn name(self) -> String {
        match self {
            Workload::Put => "put".into(),
            Workload::Get { quorum: false } => "get".into(),
            Workload::Get { quorum: true } => "get-quorum".into(),
            Workload::Mixed {
                read_percent,
                quorum,
            } => format!(
                "mixed-{read_percent}r{}",
                if quorum { "-quorum" } else { "" }
            ),
        }
    }
}

/// A load run.
#[derive(Debug, Clone)]
pub struct BenchConfig {
    /// Client URLs requests go to (connections are spread over them in turn).
    pub endpoints: Vec<String>,
    /// Concurrent closed-loop clients.
    pub clients: usize,
    /// HTTP connections the clients share (at most `clients`).
    pub conns: usize,
    /// Stop after this many requests...
    pub total: Option<u64>,
    /// ...or after this long (whichever comes first; at least one must be set).
    pub duration: Option<Duration>,
    /// Requests per second over all clients, when limited.
    pub rate: Option<f64>,
    /// The workload.
    pub workload: Workload,
    /// Keys are drawn from `0..key_space`.
    pub key_space: u64,
    /// Key length in characters (zero-padded decimal).
    pub key_size: usize,
    /// Value length in bytes.
    pub value_size: usize,
    /// Keys in order `0, 1, 2, ...` (wrapping) instead of uniformly at random.
    pub sequential: bool,
    /// Directory the keys live under.
    pub prefix: String,
    /// Seed of the key choice.
    pub seed: u64,
    /// Show progress on stderr: a bar on a terminal, plain lines otherwise ([`progress`]).
    pub progress: bool,
}

/// Latency percentiles in milliseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Latency {
    /// Samples.
    pub count: u64,
    /// Mean.
    pub mean_ms: f64,
    /// Median.
    pub p50_ms: f64,
    /// 90th percentile.
    pub p90_ms: f64,
    /// 99th percentile.
    pub p99_ms: f64,
    /// 99.9th percentile.
    pub p99_9_ms: f64,
    /// Largest.
    pub max_ms: f64,
}

impl Latency {
    /// Summarises a histogram of microseconds.
    pub fn of(histogram: &Histogram<u64>) -> Latency {
        #[allow(clippy::cast_precision_loss)]
        let ms = |us: u64| us as f64 / 1000.0;
        if histogram.is_empty() {
            return Latency::default();
        }
        Latency {
            count: histogram.len(),
            mean_ms: histogram.mean() / 1000.0,
            p50_ms: ms(histogram.value_at_quantile(0.50)),
            p90_ms: ms(histogram.value_at_quantile(0.90)),
            p99_ms: ms(histogram.value_at_quantile(0.99)),
            p99_9_ms: ms(histogram.value_at_quantile(0.999)),
            max_ms: ms(histogram.max()),
        }
    }
}

/// The result of a load run.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// The workload's name.
    pub workload: String,
    /// Clients and connections.
    pub clients: usize,
    /// Connections.
    pub conns: usize,
    /// Endpoints used.
    pub endpoints: Vec<String>,
    /// Requests answered with success (2xx; for reads also 404).
    pub ok: u64,
    /// Reads of a key that does not exist (counted in `ok`).
    pub not_found: u64,
    /// Requests answered with another status, or not answered.
    pub errors: u64,
    /// The first few error texts.
    pub error_samples: Vec<String>,
    /// Seconds from the first request to the last answer.
    pub elapsed_s: f64,
    /// Successful requests per second.
    pub throughput: f64,
    /// Latency of successful requests.
    pub latency: Latency,
}

/// A fresh latency histogram: microseconds, 1 µs to 60 s, 3 significant digits.
///
/// # Panics
/// Never: the bounds are constants that hdrhistogram accepts.
pub fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, LATENCY_MAX_US, 3).expect("constant histogram bounds are valid")
}

/// The largest latency a `histogram()` holds, in microseconds (60 s).
const LATENCY_MAX_US: u64 = 60_000_000;

/// Records `elapsed` in a `histogram()`, in microseconds, clamped to its bounds.
pub fn record(histogram: &mut Histogram<u64>, elapsed: Duration) {
    let micros = u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX);
    let _ = histogram.record(micros.clamp(1, LATENCY_MAX_US));
}

/// The key with number `n`, `size` characters long (zero-padded, at least the digits).
pub fn key_name(n: u64, size: usize) -> String {
    format!("{n:0size$}")
}

struct Shared {
    config: BenchConfig,
    issued: AtomicU64,
    stop: AtomicBool,
    completed: AtomicU64,
    failed: AtomicU64,
    start: Instant,
    value_form: Bytes,
}

struct ClientResult {
    histogram: Histogram<u64>,
    ok: u64,
    not_found: u64,
    errors: u64,
    samples: Vec<String>,
}

/// Runs the configured load and reports.
///
/// # Errors
/// When the configuration is unusable (no endpoint, no stop condition, bad endpoint URL).
pub async fn run(config: BenchConfig) -> Result<Report, String> {
    if config.endpoints.is_empty() {
        return Err("no endpoint".into());
    }
    if config.total.is_none() && config.duration.is_none() {
        return Err("give --total or --duration".into());
    }
    let clients = config.clients.max(1);
    let conns = config.conns.clamp(1, clients);
    let mut connections = Vec::with_capacity(conns);
    for c in 0..conns {
        let endpoint = &config.endpoints[c % config.endpoints.len()];
        connections.push(Arc::new(Mutex::new(Connection::new(endpoint)?)));
    }
    let mut form = b"value=".to_vec();
    form.extend(std::iter::repeat_n(b'v', config.value_size));
    let shared = Arc::new(Shared {
        issued: AtomicU64::new(0),
        stop: AtomicBool::new(false),
        completed: AtomicU64::new(0),
        failed: AtomicU64::new(0),
        start: Instant::now(),
        value_form: Bytes::from(form),
        config: config.clone(),
    });
    let (finished, finish) = tokio::sync::oneshot::channel();
    let progress = tokio::spawn(show_progress(
        Arc::clone(&shared),
        Progress::stderr(config.progress),
        finish,
    ));
    let mut tasks = Vec::with_capacity(clients);
    for client in 0..clients {
        let shared = Arc::clone(&shared);
        let connection = Arc::clone(&connections[client % conns]);
        tasks.push(tokio::spawn(run_client(shared, connection, client as u64)));
    }
    let (total, ok, not_found, errors, mut samples) = merge(tasks).await?;
    let elapsed_s = shared.start.elapsed().as_secs_f64();
    let _ = finished.send(());
    if let Ok(progress) = progress.await {
        progress.finish(&load_line(&load_status(&shared, &config.workload.name())));
    }
    samples.truncate(5);
    #[allow(clippy::cast_precision_loss)]
    let throughput = ok as f64 / elapsed_s.max(1e-9);
    Ok(Report {
        workload: config.workload.name(),
        clients,
        conns,
        endpoints: config.endpoints.clone(),
        ok,
        not_found,
        errors,
        error_samples: samples,
        elapsed_s,
        throughput,
        latency: Latency::of(&total),
    })
}

/// The clients' results added up: latencies, ok, not found, errors and error samples.
type Merged = (Histogram<u64>, u64, u64, u64, Vec<String>);

async fn merge(tasks: Vec<tokio::task::JoinHandle<ClientResult>>) -> Result<Merged, String> {
    let mut total = histogram();
    let (mut ok, mut not_found, mut errors, mut samples) = (0, 0, 0, Vec::new());
    for task in tasks {
        let result = task
            .await
            .map_err(|e| format!("a client task failed: {e}"))?;
        total
            .add(&result.histogram)
            .map_err(|e| format!("merging histograms: {e}"))?;
        ok += result.ok;
        not_found += result.not_found;
        errors += result.errors;
        samples.extend(result.samples);
    }
    Ok((total, ok, not_found, errors, samples))
}

fn load_status<'a>(shared: &Shared, workload: &'a str) -> LoadStatus<'a> {
    LoadStatus {
        workload,
        done: shared.completed.load(Ordering::Relaxed),
        total: shared.config.total,
        errors: shared.failed.load(Ordering::Relaxed),
        elapsed: shared.start.elapsed(),
        duration: shared.config.duration,
    }
}

/// Shows the run's progress until `finish` fires (or its sender is dropped), then hands the
/// output back for its last line.
async fn show_progress(
    shared: Arc<Shared>,
    mut progress: Progress,
    mut finish: tokio::sync::oneshot::Receiver<()>,
) -> Progress {
    let name = shared.config.workload.name();
    let mut interval = tokio::time::interval(progress::BAR_PERIOD);
    loop {
        tokio::select! {
            _ = &mut finish => return progress,
            _ = interval.tick() => {}
        }
        progress.tick(|| {
            let status = load_status(&shared, &name);
            let fraction =
                progress::fraction(status.done, status.total, status.elapsed, status.duration);
            (fraction, load_line(&status))
        });
    }
}

impl ClientResult {
    fn new() -> ClientResult {
        ClientResult {
            histogram: histogram(),
            ok: 0,
            not_found: 0,
            errors: 0,
            samples: Vec::new(),
        }
    }

    /// Counts one answer (a read of a missing key is answered), timing the successful ones
    /// and keeping a sample of the first few failures; whether it succeeded.
    fn note(
        &mut self,
        answer: Result<Answer, RequestError>,
        read: bool,
        elapsed: Duration,
    ) -> bool {
        match answer {
            Ok(answer) if (200..300).contains(&answer.status) || (read && answer.status == 404) => {
                self.ok += 1;
                if answer.status == 404 {
                    self.not_found += 1;
                }
                record(&mut self.histogram, elapsed);
                true
            }
            Ok(answer) => {
                self.errors += 1;
                if self.samples.len() < 5 {
                    self.samples.push(format!(
                        "HTTP {}: {}",
                        answer.status,
                        String::from_utf8_lossy(&answer.body).trim()
                    ));
                }
                false
            }
            Err(error) => {
                self.errors += 1;
                if self.samples.len() < 5 {
                    self.samples.push(error.to_string());
                }
                false
            }
        }
    }
}

async fn run_client(
    shared: Arc<Shared>,
    connection: Arc<Mutex<Connection>>,
    client: u64,
) -> ClientResult {
    let config = &shared.config;
    let mut rng = ChaCha8Rng::seed_from_u64(config.seed);
    rng.set_stream(client);
    let mut result = ClientResult::new();
    let deadline = config.duration.map(|d| shared.start + d);
    loop {
        if shared.stop.load(Ordering::Relaxed) || deadline.is_some_and(|d| Instant::now() >= d) {
            break;
        }
        let seq = shared.issued.fetch_add(1, Ordering::Relaxed);
        if config.total.is_some_and(|total| seq >= total) {
            break;
        }
        if let Some(rate) = config.rate {
            // Open-loop pacing over all clients: request `seq` is due at start + seq / rate.
            #[allow(clippy::cast_precision_loss)]
            let due = shared.start + Duration::from_secs_f64(seq as f64 / rate.max(1e-6));
            tokio::time::sleep_until(due).await;
        }
        let n = if config.sequential {
            seq % config.key_space.max(1)
        } else {
            rng.gen_range(0..config.key_space.max(1))
        };
        let path = format!(
            "/v2/keys/{}/{}",
            config.prefix,
            key_name(n, config.key_size)
        );
        let (read, quorum) = match config.workload {
            Workload::Put => (false, false),
            Workload::Get { quorum } => (true, quorum),
            Workload::Mixed {
                read_percent,
                quorum,
            } => (rng.gen_range(0..100) < u32::from(read_percent), quorum),
        };
        let started = Instant::now();
        let answer = {
            let mut connection = connection.lock().await;
            if read {
                let path = if quorum {
                    format!("{path}?quorum=true")
                } else {
                    path
                };
                connection.send(Method::GET, &path, None).await
            } else {
                connection
                    .send(Method::PUT, &path, Some(shared.value_form.clone()))
                    .await
            }
        };
        let elapsed = started.elapsed();
        if !result.note(answer, read, elapsed) {
            shared.failed.fetch_add(1, Ordering::Relaxed);
        }
        shared.completed.fetch_add(1, Ordering::Relaxed);
    }
    result
}

/// Renders a report as a few human-readable lines.
pub fn render(report: &Report) -> String {
    let l = &report.latency;
    format!(
        "{} · {} clients on {} connections · {} ok ({} not found), {} errors in {:.2} s\n\
         throughput {:.0} req/s\n\
         latency ms: p50 {:.3}  p90 {:.3}  p99 {:.3}  p99.9 {:.3}  max {:.3}  mean {:.3}\n",
        report.workload,
        report.clients,
        report.conns,
        report.ok,
        report.not_found,
        report.errors,
        report.elapsed_s,
        report.throughput,
        l.p50_ms,
        l.p90_ms,
        l.p99_ms,
        l.p99_9_ms,
        l.max_ms,
        l.mean_ms
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Goal: percentiles come out of the histogram as recorded, in milliseconds.
    #[test]
    fn latency_summary() {
        let mut h = histogram();
        for us in 1..=1000 {
            let _ = h.record(us * 10);
        }
        let l = Latency::of(&h);
        assert_eq!(l.count, 1000);
        assert!((l.p50_ms - 5.0).abs() < 0.01, "{l:?}");
        assert!((l.p99_ms - 9.9).abs() < 0.01, "{l:?}");
        assert!((l.max_ms - 10.0).abs() < 0.01, "{l:?}");
        assert_eq!(Latency::of(&histogram()), Latency::default());
        assert_eq!(key_name(42, 8), "00000042");
        assert_eq!(key_name(123_456, 3), "123456");
    }
}
