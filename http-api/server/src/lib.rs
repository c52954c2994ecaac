//! The etcd v2 HTTP API of a Keel member: client routes (keys, members, stats, health,
//! version) and the peer raft transport.
//!
//! Owns: request parsing, mapping domain results and errors to etcd's JSON, status codes and
//! headers, watch streaming, and the member-to-member message transport. Must not depend on
//! RocksDB; knows the store only through `kvstore::NodeHandle`.

mod batch;
mod cluster;
pub mod error;
pub mod keys;
pub mod metrics;
pub mod peer;
mod propose;
mod rfc3339;

use axum::http::header::{
    ACCESS_CONTROL_ALLOW_HEADERS, ACCESS_CONTROL_ALLOW_METHODS, ACCESS_CONTROL_ALLOW_ORIGIN,
};
use axum::http::{HeaderName, HeaderValue};
use axum::response::Response;
use axum::routing::any;
use axum::Router;
use kvstore::{ClusterId, NodeHandle};
use std::sync::Arc;
use std::time::Duration;
use v2store::Time;

/// Settings of the client API.
#[derive(Debug, Clone)]
pub struct ApiConfig {
    /// `--name`.
    pub name: String,
    /// The cluster id, sent as `X-Etcd-Cluster-Id`.
    pub cluster_id: ClusterId,
    /// Largest request body accepted (`--max-request-bytes`).
    pub max_request_bytes: usize,
    /// How long a write or quorum read may wait, including waiting for a leader.
    pub request_timeout: Duration,
    /// When this member started (for `/v2/stats/self`).
    pub start_time: Time,
}

/// Shared state of every handler.
#[derive(Clone)]
pub struct Api {
    pub(crate) node: NodeHandle,
    pub(crate) config: Arc<ApiConfig>,
    pub(crate) peers: Arc<peer::PeerStats>,
    pub(crate) metrics: Arc<metrics::Metrics>,
}

impl Api {
    /// Handlers' state over a running member; `durations` is the observer its raft thread
    /// was started with (`kvstore::thread::spawn`).
    #[must_use]
    pub fn new(
        node: NodeHandle,
        config: ApiConfig,
        peers: Arc<peer::PeerStats>,
        durations: &metrics::RaftDurations,
    ) -> Api {
        Api {
            metrics: Arc::new(metrics::Metrics::new(node.clone(), durations)),
            node,
            config: Arc::new(config),
            peers,
        }
    }
}

/// The client router: `/v2/keys`, `/v2/members`, `/v2/machines`, `/v2/stats/*`, `/health`,
/// `/version`, `/metrics`, and Keel's `/keel/v1/batch`. Every response carries `X-Etcd-Cluster-Id` and etcd's CORS headers, set here and
/// nowhere else; `OPTIONS` on any path is answered 200 with an empty body, as etcd's CORS
/// wrapper answers it.
pub fn client_router(api: Api) -> Router {
    let cluster_id = HeaderValue::from_str(&api.config.cluster_id.to_string())
        .expect("a hex number is a valid header value");
    Router::new()
        .route("/v2/keys", any(keys::handler::keys))
        .route("/v2/keys/", any(keys::handler::keys))
        .route("/v2/keys/{*path}", any(keys::handler::keys))
        .route("/keel/v1/batch", axum::routing::post(batch::batch))
        .merge(cluster::routes())
        .fallback(cluster::page_not_found)
        .with_state(api.clone())
        // One layer for what every request gets: each axum layer clones the inner service
        // and boxes a future per request, which showed in the plain GET profile.
        .layer(axum::middleware::from_fn_with_state(
            Around {
                cluster_id,
                metrics: Arc::clone(&api.metrics),
            },
            around_every_request,
        ))
}

/// What the one layer around every request needs.
#[derive(Clone)]
struct Around {
    cluster_id: HeaderValue,
    metrics: Arc<metrics::Metrics>,
}

/// Whether a keys request is a watch (`wait=true`), which metrics do not time.
fn is_watch(query: Option<&str>) -> bool {
    query.is_some_and(|query| {
        form_urlencoded::parse(query.as_bytes())
            .any(|(key, value)| key == "wait" && value == "true")
    })
}

/// The headers etcd's CORS wrapper adds to every response (spec §1), built at compile time.
const CORS_HEADERS: [(HeaderName, HeaderValue); 3] = [
    (ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*")),
    (
        ACCESS_CONTROL_ALLOW_METHODS,
        HeaderValue::from_static("POST, GET, OPTIONS, PUT, DELETE"),
    ),
    (
        ACCESS_CONTROL_ALLOW_HEADERS,
        HeaderValue::from_static("accept, content-type, authorization"),
    ),
];

/// The header naming the cluster on every response.
const X_ETCD_CLUSTER_ID: HeaderName = HeaderName::from_static("x-etcd-cluster-id");

/// Numbers requests for the `request` span.
static REQUEST_COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// Every request runs in a `request{id, method, path}` span (STYLE §2.9); the outcome is logged
/// at debug, never the stored values. `OPTIONS` never reaches a handler: etcd answers it 200
/// with an empty body on every path. Every response gets the cluster id and the CORS headers;
/// every keys request is counted and timed (`metrics`).
async fn around_every_request(
    axum::extract::State(around): axum::extract::State<Around>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    use tracing::Instrument as _;
    let keys = request.uri().path().starts_with("/v2/keys");
    let method = request.method().clone();
    let watch = keys && is_watch(request.uri().query());
    let started = std::time::Instant::now();
    let id = REQUEST_COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let span = tracing::debug_span!("request", id, method = %request.method(), path = %request.uri().path());
    let mut response = async move {
        let response = if request.method() == axum::http::Method::OPTIONS {
            Response::new(axum::body::Body::empty())
        } else {
            next.run(request).await
        };
        tracing::debug!(status = response.status().as_u16(), "answered");
        response
    }
    .instrument(span)
    .await;
    if keys && method != axum::http::Method::OPTIONS {
        around
            .metrics
            .request(&method, response.status(), watch, started.elapsed());
    }
    let headers = response.headers_mut();
    headers.insert(X_ETCD_CLUSTER_ID, around.cluster_id);
    for (name, value) in CORS_HEADERS {
        headers.insert(name, value);
    }
    response
}
