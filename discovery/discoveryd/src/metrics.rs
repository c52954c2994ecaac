//! Prometheus metrics with SkyDNS's names, and the HTTP endpoint that serves them beside the
//! readiness checks: `<namespace>_<subsystem>_dns_request_count_total{system}`,
//! `..._dns_request_duration_seconds{system}`, `..._dns_response_size_bytes{system}`,
//! `..._dns_error_count_total{system,cause}`, `..._dns_cachemiss_count_total{cache}`
//! (namespace and subsystem `skydns` by default, as SkyDNS's `PROMETHEUS_NAMESPACE` and
//! `PROMETHEUS_SUBSYSTEM`), plus `discoveryd_records` and `discoveryd_synced`.
//!
//! Invariants: recording never blocks a query on the endpoint (counters are atomics; the
//! families' locks are held only to find a series); the endpoint reads the index, never Keel.

use crate::feed::Records;
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use prometheus_client::encoding::{EncodeLabelSet, EncodeLabelValue};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

/// Where an answer came from (SkyDNS's `system` label).
#[derive(Debug, Clone, Copy, Hash, PartialEq, Eq, EncodeLabelValue)]
#[allow(non_camel_case_types)]
pub enum System {
    /// The zone's records, authoritative.
    auth,
    /// The response cache.
    cache,
    /// An upstream.
    recursive,
    /// A reverse record.
    reverse,
    /// A stub zone's servers.
    stub,
}

/// Why an answer counts as an error (SkyDNS's `cause` label).
#[derive(Debug, Clone, Copy, Hash, PartialEq, Eq, EncodeLabelValue)]
#[allow(non_camel_case_types)]
pub enum Cause {
    /// NXDOMAIN.
    nxdomain,
    /// NOERROR without records of the type.
    nodata,
    /// Cut to fit, TC set.
    truncated,
    /// REFUSED.
    refused,
    /// SERVFAIL.
    servfail,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct SystemLabels {
    system: System,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ErrorLabels {
    system: System,
    cause: Cause,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CacheLabels {
    cache: &'static str,
}

type HistogramFamily = Family<SystemLabels, Histogram, fn() -> Histogram>;

/// Request duration buckets: Prometheus's defaults with SkyDNS's extra 1 ms and 3 ms.
const DURATION_BUCKETS: [f64; 13] = [
    0.001, 0.003, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// Response size buckets, bytes, up to 64 KiB.
const SIZE_BUCKETS: [f64; 21] = [
    0.0, 512.0, 1024.0, 1500.0, 2048.0, 4096.0, 8192.0, 12288.0, 16384.0, 20480.0, 24576.0,
    28672.0, 32768.0, 36864.0, 40960.0, 45056.0, 49152.0, 53248.0, 57344.0, 61440.0, 65536.0,
];

fn duration_histogram() -> Histogram {
    Histogram::new(DURATION_BUCKETS)
}

fn size_histogram() -> Histogram {
    Histogram::new(SIZE_BUCKETS)
}

/// The server's metrics.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    requests: Family<SystemLabels, Counter>,
    durations: HistogramFamily,
    sizes: HistogramFamily,
    errors: Family<ErrorLabels, Counter>,
    cache_misses: Family<CacheLabels, Counter>,
    records: Gauge,
    synced: Gauge,
}

impl Metrics {
    /// The metrics under `<namespace>_<subsystem>_` (SkyDNS's names).
    #[must_use]
    pub fn new(namespace: &str, subsystem: &str) -> Metrics {
        let prefix: Vec<&str> = [namespace, subsystem]
            .into_iter()
            .filter(|part| !part.is_empty())
            .collect();
        let metrics = Metrics {
            registry: Registry::default(),
            requests: Family::default(),
            durations: Family::new_with_constructor(duration_histogram),
            sizes: Family::new_with_constructor(size_histogram),
            errors: Family::default(),
            cache_misses: Family::default(),
            records: Gauge::default(),
            synced: Gauge::default(),
        };
        let mut registry = Registry::default();
        let dns = if prefix.is_empty() {
            &mut registry
        } else {
            registry.sub_registry_with_prefix(prefix.join("_"))
        };
        metrics.register_dns(dns);
        let own = registry.sub_registry_with_prefix("discoveryd");
        own.register(
            "records",
            "Records in the index answered from.",
            metrics.records.clone(),
        );
        own.register(
            "synced",
            "1 while the index follows Keel, 0 while it is served stale.",
            metrics.synced.clone(),
        );
        Metrics {
            registry,
            ..metrics
        }
    }

    fn register_dns(&self, dns: &mut Registry) {
        let requests = "Counter of DNS requests made.";
        dns.register("dns_request_count", requests, self.requests.clone());
        let durations = "Histogram of the time (in seconds) each request took to resolve.";
        dns.register(
            "dns_request_duration_seconds",
            durations,
            self.durations.clone(),
        );
        let sizes = "Size of the returned response in bytes.";
        dns.register("dns_response_size_bytes", sizes, self.sizes.clone());
        let errors = "Counter of DNS requests resulting in an error.";
        dns.register("dns_error_count", errors, self.errors.clone());
        let misses = "Counter of DNS requests that result in a cache miss.";
        dns.register("dns_cachemiss_count", misses, self.cache_misses.clone());
    }

    /// Records one answered request.
    pub fn observe(&self, system: System, cause: Option<Cause>, took: Duration, size: usize) {
        let labels = SystemLabels { system };
        self.requests.get_or_create(&labels).inc();
        self.durations
            .get_or_create(&labels)
            .observe(took.as_secs_f64());
        #[allow(clippy::cast_precision_loss)]
        self.sizes.get_or_create(&labels).observe(size as f64);
        if let Some(cause) = cause {
            self.errors
                .get_or_create(&ErrorLabels { system, cause })
                .inc();
        }
    }

    /// Records a miss of `cache` (`response` or `signature`).
    pub fn cache_miss(&self, cache: &'static str) {
        self.cache_misses
            .get_or_create(&CacheLabels { cache })
            .inc();
    }

    /// The text format, with the index's gauges read now.
    #[must_use]
    pub fn encode(&self, records: &Records) -> String {
        self.records
            .set(i64::try_from(records.index().len()).unwrap_or(i64::MAX));
        self.synced.set(i64::from(records.is_synced()));
        let mut text = String::new();
        if prometheus_client::encoding::text::encode(&mut text, &self.registry).is_err() {
            text.clear();
        }
        text
    }
}

/// What the endpoint serves from.
#[derive(Debug, Clone)]
struct Endpoint {
    metrics: Arc<Metrics>,
    records: Records,
}

/// Serves `path` (the metrics), `/ready` (200 once the index is loaded and queries are
/// answered, else 503) and `/health` (200 while the index follows Keel, 503 while it is
/// served stale or not loaded) on `listener` until `shutdown`.
///
/// # Errors
/// The server's I/O error.
pub async fn serve(
    listener: TcpListener,
    path: String,
    metrics: Arc<Metrics>,
    records: Records,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    let router = axum::Router::new()
        .route(&path, axum::routing::get(scrape))
        .route("/ready", axum::routing::get(ready))
        .route("/health", axum::routing::get(health))
        .with_state(Endpoint { metrics, records });
    axum::serve(listener, router)
        .with_graceful_shutdown(async move { shutdown.cancelled().await })
        .await
}

async fn scrape(State(endpoint): State<Endpoint>) -> impl IntoResponse {
    let text = endpoint.metrics.encode(&endpoint.records);
    let content_type = "application/openmetrics-text; version=1.0.0; charset=utf-8";
    ([(header::CONTENT_TYPE, content_type)], text)
}

async fn ready(State(endpoint): State<Endpoint>) -> impl IntoResponse {
    if endpoint.records.is_loaded() {
        (StatusCode::OK, "ready\n")
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            "the records are not loaded yet\n",
        )
    }
}

async fn health(State(endpoint): State<Endpoint>) -> impl IntoResponse {
    match (endpoint.records.is_loaded(), endpoint.records.is_synced()) {
        (true, true) => (StatusCode::OK, "ok: following Keel\n"),
        (true, false) => (
            StatusCode::SERVICE_UNAVAILABLE,
            "stale: Keel is unreachable, answering from the last index\n",
        ),
        (false, _) => (
            StatusCode::SERVICE_UNAVAILABLE,
            "the records are not loaded yet\n",
        ),
    }
}
