//! Prometheus metrics with etcd 3.4's names where they mean the same, so etcd's dashboards
//! and alerts work (`GET /metrics`, text format by `prometheus-client`):
//!
//! - from the raft thread's progress, read at each scrape: `etcd_server_has_leader`,
//!   `etcd_server_is_leader`, `etcd_server_leader_changes_seen_total`,
//!   `etcd_server_proposals_committed_total`, `etcd_server_proposals_applied_total`
//!   (gauges of the commit and applied index, as etcd's), `etcd_server_proposals_pending`,
//!   `etcd_server_proposals_failed_total`, `etcd_server_id{server_id}`,
//!   `etcd_server_version{server_version}`;
//! - measured by the raft thread through [`RaftDurations`] (kvstore's `Observer` port):
//!   `etcd_disk_wal_fsync_duration_seconds` (the synced write of entries and hard state) and
//!   `etcd_network_peer_round_trip_time_seconds{To}` (a leader's heartbeat to its answer);
//! - per request of the keys API: `etcd_http_received_total{method}`,
//!   `etcd_http_failed_total{method,code}` and, for answered requests that are not watches,
//!   `etcd_http_successful_duration_seconds{method}`.
//!
//! Invariants: recording never blocks the raft thread (histograms are atomics; a family's
//! lock is held only to find a series); a scrape reads atomics only, never the store.

use crate::cluster::ETCD_SERVER_VERSION;
use axum::http::{header, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use kvstore::{NodeHandle, NodeId, Role};
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet, EncodeMetric};
use prometheus_client::metrics::counter::{ConstCounter, Counter};
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;
use std::sync::atomic::Ordering;
use std::time::Duration;

/// The content type of the text format `prometheus-client` writes.
const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// The peer of a round trip: etcd's label `To` (capitalised, so not derived from a field).
#[derive(Debug, Clone, Hash, PartialEq, Eq)]
struct ToLabel(String);

impl EncodeLabelSet for ToLabel {
    fn encode(
        &self,
        encoder: &mut prometheus_client::encoding::LabelSetEncoder<'_>,
    ) -> Result<(), std::fmt::Error> {
        use prometheus_client::encoding::EncodeLabel as _;
        ("To", self.0.as_str()).encode(encoder.encode_label())
    }
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct MethodLabels {
    method: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct FailedLabels {
    method: &'static str,
    code: u16,
}

/// A method's label without an allocation per request; methods the keys API does not
/// answer share one label.
fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::PUT => "PUT",
        Method::POST => "POST",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::PATCH => "PATCH",
        _ => "OTHER",
    }
}

type HistogramFamily<L> = Family<L, Histogram, fn() -> Histogram>;

fn fsync_histogram() -> Histogram {
    // etcd's buckets: 1 ms to 8 s.
    Histogram::new(exponential_buckets(0.001, 2.0, 14))
}

fn round_trip_histogram() -> Histogram {
    // etcd's buckets: 0.1 ms to 0.8 s.
    Histogram::new(exponential_buckets(0.0001, 2.0, 14))
}

fn request_histogram() -> Histogram {
    // etcd's buckets: 0.5 ms to 2 s.
    Histogram::new(exponential_buckets(0.0005, 2.0, 13))
}

/// The raft thread's durations (kvstore's `Observer`): give it to `kvstore::thread::spawn`,
/// then to [`Metrics::new`].
#[derive(Debug)]
pub struct RaftDurations {
    fsync: Histogram,
    round_trip: HistogramFamily<ToLabel>,
}

impl Default for RaftDurations {
    fn default() -> Self {
        RaftDurations {
            fsync: fsync_histogram(),
            round_trip: Family::new_with_constructor(round_trip_histogram),
        }
    }
}

impl kvstore::Observer for RaftDurations {
    fn synced_write(&self, took: Duration) {
        self.fsync.observe(took.as_secs_f64());
    }

    fn heartbeat_round_trip(&self, peer: NodeId, took: Duration) {
        self.round_trip
            .get_or_create(&ToLabel(peer.to_string()))
            .observe(took.as_secs_f64());
    }
}

/// The member's metrics registry and the keys API's request metrics.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    received: Family<MethodLabels, Counter>,
    failed: Family<FailedLabels, Counter>,
    successful: HistogramFamily<MethodLabels>,
}

impl Metrics {
    /// Every family registered; the raft gauges read `node`'s progress at each scrape.
    #[must_use]
    pub fn new(node: NodeHandle, durations: &RaftDurations) -> Metrics {
        let mut registry = Registry::default();
        let received = Family::<MethodLabels, Counter>::default();
        let failed = Family::<FailedLabels, Counter>::default();
        let successful: HistogramFamily<MethodLabels> =
            Family::new_with_constructor(request_histogram);
        registry.register(
            "etcd_http_received",
            "Counter of requests received into the system (successfully parsed and authd)",
            received.clone(),
        );
        registry.register(
            "etcd_http_failed",
            "Counter of handle failures of requests (non-watches), by method (GET/PUT etc.) and code (400, 500 etc.)",
            failed.clone(),
        );
        registry.register(
            "etcd_http_successful_duration_seconds",
            "Bucketed histogram of processing time (s) of successfully handled requests (non-watches), by method (GET/PUT etc.)",
            successful.clone(),
        );
        registry.register(
            "etcd_disk_wal_fsync_duration_seconds",
            "The latency distributions of fsync called by WAL",
            durations.fsync.clone(),
        );
        registry.register(
            "etcd_network_peer_round_trip_time_seconds",
            "Round-Trip-Time histogram between peers",
            durations.round_trip.clone(),
        );
        // `register` appends a full stop to each help text; the collector's are written whole.
        registry.register_collector(Box::new(ProgressCollector { node }));
        Metrics {
            registry,
            received,
            failed,
            successful,
        }
    }

    /// Records one keys-API request: received, then failed (status 400 and above) or, when
    /// it is not a watch, its duration.
    pub fn request(&self, method: &Method, status: StatusCode, watch: bool, took: Duration) {
        let method = method_label(method);
        self.received.get_or_create(&MethodLabels { method }).inc();
        if status.as_u16() >= 400 {
            let code = status.as_u16();
            self.failed
                .get_or_create(&FailedLabels { method, code })
                .inc();
        } else if !watch {
            self.successful
                .get_or_create(&MethodLabels { method })
                .observe(took.as_secs_f64());
        }
    }

    /// The text format.
    #[must_use]
    pub fn encode(&self) -> String {
        let mut text = String::new();
        if prometheus_client::encoding::text::encode(&mut text, &self.registry).is_err() {
            text.clear();
        }
        text
    }

    /// `GET /metrics`.
    pub fn response(&self) -> Response {
        let mut response = ([(header::CONTENT_TYPE, CONTENT_TYPE)], self.encode()).into_response();
        *response.status_mut() = StatusCode::OK;
        response
    }
}

/// The gauges and counters that the raft thread keeps as atomics in its progress.
struct ProgressCollector {
    node: NodeHandle,
}

impl std::fmt::Debug for ProgressCollector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ProgressCollector({})", self.node.id())
    }
}

impl Collector for ProgressCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let progress = self.node.progress();
        for (name, help, value) in self.gauges() {
            let gauge = ConstGauge::new(value);
            gauge.encode(encoder.encode_descriptor(name, help, None, gauge.metric_type())?)?;
        }
        let counters = [
            (
                "etcd_server_leader_changes_seen",
                "The number of leader changes seen.",
                progress.leader_changes.load(Ordering::Relaxed),
            ),
            (
                "etcd_server_proposals_failed",
                "The total number of failed proposals seen.",
                progress.proposals_failed.load(Ordering::Relaxed),
            ),
        ];
        for (name, help, value) in counters {
            let counter = ConstCounter::new(value);
            counter.encode(encoder.encode_descriptor(
                name,
                help,
                None,
                counter.metric_type(),
            )?)?;
        }
        self.encode_labelled(&mut encoder)
    }
}

impl ProgressCollector {
    /// The plain gauges: name, help, value now.
    fn gauges(&self) -> [(&'static str, &'static str, i64); 5] {
        let progress = self.node.progress();
        [
            (
                "etcd_server_has_leader",
                "Whether or not a leader exists. 1 is existence, 0 is not.",
                i64::from(progress.leader().is_some()),
            ),
            (
                "etcd_server_is_leader",
                "Whether or not this member is a leader. 1 if is, 0 otherwise.",
                i64::from(progress.role() == Role::Leader),
            ),
            (
                "etcd_server_proposals_committed_total",
                "The total number of consensus proposals committed.",
                count(progress.commit().0),
            ),
            (
                "etcd_server_proposals_applied_total",
                "The total number of consensus proposals applied.",
                count(progress.applied().0),
            ),
            (
                "etcd_server_proposals_pending",
                "The current number of pending proposals to commit.",
                count(progress.proposals_pending.load(Ordering::Relaxed)),
            ),
        ]
    }

    /// The gauges that are 1 with a label: the member ID and the version.
    fn encode_labelled(&self, encoder: &mut DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let labelled = [
            (
                "etcd_server_id",
                "Server or member ID in hexadecimal format. 1 for 'server_id' label with current ID.",
                ("server_id", self.node.id().to_string()),
            ),
            (
                "etcd_server_version",
                "Which version is running. 1 for 'server_version' label with current version.",
                ("server_version", ETCD_SERVER_VERSION.to_owned()),
            ),
        ];
        for (name, help, label) in labelled {
            let gauge = ConstGauge::new(1_i64);
            let mut family = encoder.encode_descriptor(name, help, None, gauge.metric_type())?;
            let labels = [(label.0, label.1.as_str())];
            gauge.encode(family.encode_family(&labels)?)?;
        }
        Ok(())
    }
}

fn count(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}
