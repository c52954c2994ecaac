//! fleetd's Prometheus metrics, served at `GET /metrics` on its API (text format by
//! `prometheus-client`):
//!
//! - `fleet_engine_leader`: 1 while this fleetd's engine holds the lease (the other series of
//!   the engine are kept by the leader only; sum or max them over machines);
//! - `fleet_machines`: machines present (agents with a live presence key), as the leader saw
//!   them at its last pass;
//! - `fleet_units{desired_state}`: units by desired state (`inactive`, `loaded`,
//!   `launched`); `fleet_units_pending`: units the engine could not place, with a reason
//!   (`fleetctl why`);
//! - `fleet_engine_reconcile_duration_seconds`: each full scheduling pass, reading the
//!   caches to the last write;
//! - `fleet_engine_scheduling_latency_seconds`: from the pass that first saw a unit wanting a
//!   machine to the pass that placed it;
//! - `fleet_api_requests_total{method,code}`: requests this fleetd's API answered (every
//!   path, `/metrics` too), by method and status code.
//!
//! Invariants: recording is atomics (a histogram's observe, a gauge's set); a scrape reads
//! them only, never Keel.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;
use std::time::Duration;

/// The content type of the text format `prometheus-client` writes.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct DesiredLabels {
    desired_state: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    method: &'static str,
    code: u16,
}

/// fleetd's registry and its series.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    engine_leader: Gauge,
    machines: Gauge,
    units: Family<DesiredLabels, Gauge>,
    pending: Gauge,
    reconcile: Histogram,
    scheduling: Histogram,
    requests: Family<RequestLabels, Counter>,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::default();
        let engine_leader = Gauge::default();
        let machines = Gauge::default();
        let units = Family::<DesiredLabels, Gauge>::default();
        let pending = Gauge::default();
        // 1 ms to about 16 s.
        let reconcile = Histogram::new(exponential_buckets(0.001, 2.0, 15));
        // 10 ms to about 80 s.
        let scheduling = Histogram::new(exponential_buckets(0.01, 2.0, 14));
        registry.register(
            "fleet_engine_leader",
            "1 while this fleetd's engine holds the lease",
            engine_leader.clone(),
        );
        registry.register(
            "fleet_machines",
            "Machines present, as the leading engine saw them at its last pass",
            machines.clone(),
        );
        registry.register(
            "fleet_units",
            "Units by desired state, as the leading engine saw them at its last pass",
            units.clone(),
        );
        registry.register(
            "fleet_units_pending",
            "Units the engine could not place (fleetctl why tells the reason)",
            pending.clone(),
        );
        registry.register(
            "fleet_engine_reconcile_duration_seconds",
            "Duration of each full scheduling pass of the leading engine",
            reconcile.clone(),
        );
        registry.register(
            "fleet_engine_scheduling_latency_seconds",
            "From the pass that first saw a unit wanting a machine to the pass that placed it",
            scheduling.clone(),
        );
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "fleet_api_requests",
            "Requests the API answered, by method and status code",
            requests.clone(),
        );
        Metrics {
            requests,
            registry,
            engine_leader,
            machines,
            units,
            pending,
            reconcile,
            scheduling,
        }
    }
}

impl Metrics {
    /// Whether this engine leads.
    pub fn set_leading(&self, leading: bool) {
        self.engine_leader.set(i64::from(leading));
    }

    /// What the leader's pass saw: machines, units by desired state, units left pending.
    pub fn set_cluster(
        &self,
        machines: usize,
        by_state: [(&'static str, usize); 3],
        pending: usize,
    ) {
        self.machines.set(gauge(machines));
        for (desired_state, count) in by_state {
            self.units
                .get_or_create(&DesiredLabels { desired_state })
                .set(gauge(count));
        }
        self.pending.set(gauge(pending));
    }

    /// A full pass took `took`.
    pub fn reconciled(&self, took: Duration) {
        self.reconcile.observe(took.as_secs_f64());
    }

    /// A unit was placed `waited` after a pass first saw it wanting a machine.
    pub fn scheduled(&self, waited: Duration) {
        self.scheduling.observe(waited.as_secs_f64());
    }

    /// The API answered a `method` request with `code`.
    pub fn answered(&self, method: &axum::http::Method, code: u16) {
        let method = match *method {
            axum::http::Method::GET => "GET",
            axum::http::Method::PUT => "PUT",
            axum::http::Method::DELETE => "DELETE",
            axum::http::Method::POST => "POST",
            axum::http::Method::HEAD => "HEAD",
            _ => "other",
        };
        self.requests
            .get_or_create(&RequestLabels { method, code })
            .inc();
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
}

fn gauge(count: usize) -> i64 {
    i64::try_from(count).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Goal: every series is in the text with fleet's names and the values last set.
    /// Method: set each, encode, read the lines back.
    #[test]
    fn every_series_encodes_with_its_last_value() {
        let metrics = Metrics::default();
        metrics.set_leading(true);
        metrics.set_cluster(3, [("inactive", 1), ("loaded", 0), ("launched", 4)], 2);
        metrics.reconciled(Duration::from_millis(5));
        metrics.scheduled(Duration::from_millis(250));
        let text = metrics.encode();
        for line in [
            "fleet_engine_leader 1",
            "fleet_machines 3",
            "fleet_units{desired_state=\"inactive\"} 1",
            "fleet_units{desired_state=\"launched\"} 4",
            "fleet_units_pending 2",
            "fleet_engine_reconcile_duration_seconds_count 1",
            "fleet_engine_scheduling_latency_seconds_count 1",
        ] {
            assert!(
                text.lines().any(|l| l == line),
                "{line} missing from:\n{text}"
            );
        }
    }
}
