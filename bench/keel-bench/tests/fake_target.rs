//! keel-bench against a fake v2 server that counts what it gets (and a real one for watches).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::any;
use axum::Router;
use keel_bench::{BenchConfig, Workload};

/// Counts requests; answers every `fail_every`-th with 500 (0: never).
#[derive(Default)]
struct Fake {
    requests: AtomicU64,
    puts: AtomicU64,
    quorum_gets: AtomicU64,
    fail_every: u64,
}

async fn handle(
    State(fake): State<Arc<Fake>>,
    method: axum::http::Method,
    uri: axum::http::Uri,
) -> (StatusCode, String) {
    let n = fake.requests.fetch_add(1, Ordering::SeqCst) + 1;
    if method == axum::http::Method::PUT {
        fake.puts.fetch_add(1, Ordering::SeqCst);
    }
    if uri.query().is_some_and(|q| q.contains("quorum=true")) {
        fake.quorum_gets.fetch_add(1, Ordering::SeqCst);
    }
    if fake.fail_every > 0 && n % fake.fail_every == 0 {
        return (StatusCode::INTERNAL_SERVER_ERROR, "boom".into());
    }
    (
        StatusCode::OK,
        r#"{"action":"get","node":{"modifiedIndex":1}}"#.into(),
    )
}

async fn serve(fake: Arc<Fake>) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let address = listener.local_addr().unwrap_or_else(|e| panic!("{e}"));
    let app = Router::new()
        .route("/v2/keys/{*path}", any(handle))
        .with_state(fake);
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    format!("http://{address}")
}

fn config(endpoint: String, workload: Workload) -> BenchConfig {
    BenchConfig {
        endpoints: vec![endpoint],
        clients: 4,
        conns: 2,
        total: Some(200),
        duration: None,
        rate: None,
        workload,
        key_space: 1000,
        key_size: 8,
        value_size: 256,
        sequential: false,
        prefix: "bench".into(),
        seed: 7,
        progress: false,
    }
}

/// Goal: every request is sent once, counted once and timed once, over the connections
/// asked for. Method: 200 PUTs from 4 clients on 2 connections against the fake.
#[tokio::test]
async fn counts_and_histogram_match_the_requests() {
    let fake = Arc::new(Fake::default());
    let endpoint = serve(Arc::clone(&fake)).await;
    let report = keel_bench::run(config(endpoint, Workload::Put))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(report.ok, 200);
    assert_eq!(report.errors, 0);
    assert_eq!(report.latency.count, 200);
    assert_eq!(fake.requests.load(Ordering::SeqCst), 200);
    assert_eq!(fake.puts.load(Ordering::SeqCst), 200);
    assert!(report.latency.p50_ms > 0.0 && report.latency.p50_ms <= report.latency.max_ms);
    assert_eq!((report.clients, report.conns), (4, 2));
}

/// Goal: failed requests are counted as errors with a sample, and kept out of the latency
/// histogram. Method: the fake fails every 10th of 200 requests.
#[tokio::test]
async fn errors_are_counted_and_not_timed() {
    let fake = Arc::new(Fake {
        fail_every: 10,
        ..Fake::default()
    });
    let endpoint = serve(Arc::clone(&fake)).await;
    let report = keel_bench::run(config(endpoint, Workload::Get { quorum: true }))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(report.errors, 20);
    assert_eq!(report.ok, 180);
    assert_eq!(report.latency.count, 180);
    assert_eq!(fake.quorum_gets.load(Ordering::SeqCst), 200);
    assert!(
        report.error_samples[0].contains("HTTP 500"),
        "{:?}",
        report.error_samples
    );
}

/// Goal: a mixed workload splits reads and writes by the ratio asked (exactly, for a seed),
/// and a rate limit spreads requests over time. Method: 200 requests at 90 % reads, then
/// 50 requests at 100/s (which cannot finish in less than 0.49 s).
#[tokio::test]
async fn mix_and_rate() {
    let fake = Arc::new(Fake::default());
    let endpoint = serve(Arc::clone(&fake)).await;
    let mixed = Workload::Mixed {
        read_percent: 90,
        quorum: false,
    };
    let report = keel_bench::run(config(endpoint.clone(), mixed))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let puts = fake.puts.load(Ordering::SeqCst);
    assert_eq!(report.ok, 200);
    assert!((5..=40).contains(&puts), "about 10 % writes: {puts}");
    let paced = BenchConfig {
        total: Some(50),
        rate: Some(100.0),
        ..config(endpoint, Workload::Put)
    };
    let report = keel_bench::run(paced)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(report.ok, 50);
    assert!(report.elapsed_s >= 0.49, "paced: {}", report.elapsed_s);
}

/// Goal: the binary's load run, stderr piped, ends its progress with one plain line that
/// counts every request and error, free of control characters, and leaves stdout to the
/// report. Method: `keel-bench put --total 100` against the fake failing every 10th request.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn piped_load_progress_is_a_plain_line() {
    let fake = Arc::new(Fake {
        fail_every: 10,
        ..Fake::default()
    });
    let endpoint = serve(Arc::clone(&fake)).await;
    let output = tokio::task::spawn_blocking(move || {
        std::process::Command::new(env!("CARGO_BIN_EXE_keel-bench"))
            .args(["--endpoints", &endpoint, "--clients", "2", "--total", "100"])
            .arg("put")
            .output()
    })
    .await
    .unwrap_or_else(|e| panic!("{e}"))
    .unwrap_or_else(|e| panic!("{e}"));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert!(
        !stderr.contains('\r') && !stderr.contains('\x1b'),
        "{stderr:?}"
    );
    let last = stderr.lines().last().unwrap_or_default();
    assert!(
        last.starts_with("keel-bench: put 100/100 requests, "),
        "{stderr}"
    );
    assert!(last.ends_with(", 10 errors, done"), "{stderr}");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.starts_with("put · 2 clients"), "{stdout}");
}

/// Goal: bad configurations are refused, not run.
#[tokio::test]
async fn bad_configurations() {
    let mut bad = config("127.0.0.1:2379".into(), Workload::Put);
    assert!(keel_bench::run(bad.clone()).await.is_err(), "no scheme");
    bad.endpoints = vec![];
    assert!(keel_bench::run(bad.clone()).await.is_err(), "no endpoint");
    let mut unbounded = config("http://127.0.0.1:1".into(), Workload::Put);
    unbounded.total = None;
    assert!(
        keel_bench::run(unbounded).await.is_err(),
        "no stop condition"
    );
}

/// Goal: watch-latency sees every event of every PUT on every watcher of a real member.
/// Method: a one-member Keel, 3 watchers, 20 PUTs.
#[test]
fn watch_latency_receives_every_event() {
    let cluster = testkit::Cluster::start(1, &[]);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("{e}"));
    let report = runtime
        .block_on(keel_bench::watch::run(keel_bench::watch::WatchConfig {
            put_endpoint: cluster.url(0).to_owned(),
            watch_endpoints: vec![cluster.url(0).to_owned()],
            watchers: 3,
            puts: 20,
            value_size: 16,
            key: "bench/watched".into(),
            interval: Duration::from_millis(2),
            deadline: Duration::from_secs(10),
            progress: false,
        }))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(report.puts, 20);
    assert_eq!(report.expected, 60);
    assert_eq!(report.received, 60, "{report:?}");
    assert_eq!(report.latency.count, 60);
    assert_eq!(report.put_latency.count, 20);
}
