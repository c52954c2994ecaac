//! locksmithd's Prometheus metrics (Keel's; CoreOS's locksmith had none), served at
//! `GET /metrics` on `LOCKSMITHD_METRICS_ADDR` (text format by `prometheus-client`):
//!
//! - `locksmith_holding`: 1 while this machine holds a slot of its group's semaphore;
//! - `locksmith_semaphore_holders`, `locksmith_semaphore_max`: the semaphore as last read;
//! - `locksmith_waits_total`: lock attempts that found the semaphore full;
//! - `locksmith_locks_acquired_total`, `locksmith_reaped_total`: slots taken, stale holders
//!   reaped (`LOCKSMITHD_MAX_HOLD`);
//! - `locksmith_reboots_total`: reboots this daemon asked for.
//!
//! Invariants: recording is atomics; a scrape reads them only, never Keel.

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

/// The daemon's registry and its series.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    holding: Gauge,
    holders: Gauge,
    max: Gauge,
    waits: Counter,
    locks: Counter,
    reaped: Counter,
    reboots: Counter,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::default();
        let metrics = Metrics {
            registry: Registry::default(),
            holding: Gauge::default(),
            holders: Gauge::default(),
            max: Gauge::default(),
            waits: Counter::default(),
            locks: Counter::default(),
            reaped: Counter::default(),
            reboots: Counter::default(),
        };
        let gauges = [
            (
                "locksmith_holding",
                "1 while this machine holds a reboot slot",
                &metrics.holding,
            ),
            (
                "locksmith_semaphore_holders",
                "Holders of the group's semaphore as last read",
                &metrics.holders,
            ),
            (
                "locksmith_semaphore_max",
                "Slots of the group's semaphore as last read",
                &metrics.max,
            ),
        ];
        for (name, help, gauge) in gauges {
            registry.register(name, help, gauge.clone());
        }
        let counters = [
            (
                "locksmith_waits",
                "Lock attempts that found the semaphore full",
                &metrics.waits,
            ),
            (
                "locksmith_locks_acquired",
                "Reboot slots this machine took",
                &metrics.locks,
            ),
            (
                "locksmith_reaped",
                "Stale holders this daemon reaped",
                &metrics.reaped,
            ),
            (
                "locksmith_reboots",
                "Reboots this daemon asked for",
                &metrics.reboots,
            ),
        ];
        for (name, help, counter) in counters {
            registry.register(name, help, counter.clone());
        }
        Metrics {
            registry,
            ..metrics
        }
    }
}

impl Metrics {
    /// The semaphore as just read, and whether this machine is among its holders.
    pub fn semaphore(&self, holders: usize, max: i64, holding: bool) {
        self.holders.set(i64::try_from(holders).unwrap_or(i64::MAX));
        self.max.set(max);
        self.holding.set(i64::from(holding));
    }

    /// A lock attempt found the semaphore full.
    pub fn waited(&self) {
        self.waits.inc();
    }

    /// This machine took a slot.
    pub fn locked(&self) {
        self.locks.inc();
        self.holding.set(1);
    }

    /// This daemon reaped `count` stale holders.
    pub fn reaped(&self, count: usize) {
        self.reaped.inc_by(u64::try_from(count).unwrap_or(u64::MAX));
    }

    /// This daemon asked for a reboot.
    pub fn rebooted(&self) {
        self.reboots.inc();
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

/// Serves `GET /metrics` on `listener` until `shutdown`.
///
/// # Errors
/// The server's I/O error.
pub async fn serve(
    listener: TcpListener,
    metrics: Arc<Metrics>,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    let router = axum::Router::new()
        .route("/metrics", axum::routing::get(scrape))
        .with_state(metrics);
    axum::serve(listener, router)
        .with_graceful_shutdown(async move { shutdown.cancelled().await })
        .await
}

async fn scrape(State(metrics): State<Arc<Metrics>>) -> impl IntoResponse {
    let content_type = "application/openmetrics-text; version=1.0.0; charset=utf-8";
    ([(header::CONTENT_TYPE, content_type)], metrics.encode())
}
