//! The dashboard's HTTP server (axum): the page and its two files, embedded in the binary;
//! `GET /api/view`, the document as JSON; `GET /api/events`, server-sent events carrying
//! the document each time it changes; `PUT /api/units/<name>` (`{"desiredState": ...}`)
//! and `PUT /api/units/<name>/replicas` (`{"count": N}`), passed to fleet's API.
//!
//! The document is rebuilt by one task, on every change Keel's watches of `/` (locksmith,
//! the records) and of fleet's prefix report (the changes that arrive while a document is
//! built fold into one rebuild, at most one per [`REBUILD_GAP`]; fleet's state changes are
//! also counted, [`super::history`]) and at least every [`REFRESH`] (raft positions move
//! without a key changing); the page never polls.

use super::history::{Tally, FLEET_PREFIX};
use super::source::Sources;
use super::view::{build, View};
use crate::probe;
use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, put};
use axum::{Json, Router};
use futures_util::{FutureExt as _, StreamExt as _};
use kv_client::WatchOptions;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

/// Queued changes folded into one rebuild, at most.
const COALESCED_MAX: usize = 10_000;

/// The longest the document goes without a rebuild.
pub const REFRESH: Duration = Duration::from_secs(1);

/// The shortest time between two rebuilds.
pub const REBUILD_GAP: Duration = Duration::from_millis(250);

const INDEX_HTML: &str = include_str!("assets/index.html");
const APP_JS: &str = include_str!("assets/app.js");
const APP_CSS: &str = include_str!("assets/app.css");

/// The handlers' state.
#[derive(Clone)]
struct Dashboard {
    view: watch::Receiver<Arc<View>>,
    fleet: String,
}

/// Serves the dashboard on `listener` until `shutdown`, reading from `sources`.
///
/// # Errors
/// The server's I/O error.
pub async fn serve(
    listener: tokio::net::TcpListener,
    sources: Sources,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    let first = Arc::new(build(
        &sources.gather().await,
        &sources.record_prefix,
        &Tally::default(),
        seconds(),
    ));
    let (publish, view) = watch::channel(first);
    let fleet = sources.fleet.clone();
    tokio::spawn(refresh(sources, publish, shutdown.clone()));
    let router = Router::new()
        .route("/", get(index))
        .route("/app.js", get(app_js))
        .route("/app.css", get(app_css))
        .route("/api/view", get(current))
        .route("/api/events", get(events))
        .route("/api/units/{name}", put(set_state))
        .route("/api/units/{name}/replicas", put(scale))
        .with_state(Dashboard { view, fleet });
    axum::serve(listener, router)
        .with_graceful_shutdown(async move { shutdown.cancelled().await })
        .await
}

/// One watch of the dashboard: a path of Keel, watched recursively from now.
struct Feed {
    keel: kv_client::Client,
    path: &'static str,
    stream: kv_client::Watch,
}

impl Feed {
    fn new(keel: &kv_client::Client, path: &'static str) -> Feed {
        Feed {
            keel: keel.clone(),
            path,
            stream: keel.watch(path, WatchOptions::default().recursive()),
        }
    }

    /// Watches again from now (after the stream ended or failed: history cleared, Keel
    /// away).
    fn restart(&mut self) {
        self.stream = self
            .keel
            .watch(self.path, WatchOptions::default().recursive());
    }

    /// The changes that came while the last document was built need one rebuild, not one
    /// each (a rebuild reads fleet's whole state): counts each, at most a bounded number at
    /// once; an ended or failing stream is watched again.
    fn drain(&mut self, tally: &mut Tally) {
        for _ in 0..COALESCED_MAX {
            match self.stream.next().now_or_never() {
                Some(Some(Ok(event))) => count(tally, &event),
                Some(_) => {
                    self.restart();
                    break;
                }
                None => break,
            }
        }
    }
}

/// Counts a watch's next item; true when the watch ended or failed.
fn take(tally: &mut Tally, item: Option<Result<kv_client::Event, kv_client::ClientError>>) -> bool {
    match item {
        Some(Ok(event)) => {
            count(tally, &event);
            false
        }
        _ => true,
    }
}

/// Rebuilds the document on each change of Keel and every [`REFRESH`], publishing it when it
/// differs from the last. Two watches: `/` (locksmith's keys, the records), and fleet's
/// prefix, which a watch of `/` does not see (a hidden `_` segment below the watched path,
/// as in etcd); the second also feeds the failure and restart counts.
async fn refresh(sources: Sources, publish: watch::Sender<Arc<View>>, shutdown: CancellationToken) {
    let mut feeds = [
        Feed::new(&sources.keel, "/"),
        Feed::new(&sources.keel, FLEET_PREFIX),
    ];
    let mut tally = Tally::default();
    let mut tick = tokio::time::interval(REFRESH);
    let mut last = tokio::time::Instant::now();
    loop {
        let [all, fleet] = &mut feeds;
        // Which watch ended or failed, if one did.
        let stopped = tokio::select! {
            () = shutdown.cancelled() => return,
            _ = tick.tick() => None,
            item = all.stream.next() => take(&mut tally, item).then_some(0),
            item = fleet.stream.next() => take(&mut tally, item).then_some(1),
        };
        // Watch again after the next tick, which keeps the document current meanwhile; and
        // at most one rebuild per REBUILD_GAP: a burst of fleet's writes (a crash loop, a
        // scale to a hundred) is counted change by change but read once.
        let wait = match stopped {
            Some(_) => tokio::time::Instant::now() + REFRESH,
            None => last + REBUILD_GAP,
        };
        tokio::select! {
            () = shutdown.cancelled() => return,
            () = tokio::time::sleep_until(wait) => {}
        }
        if let Some(feed) = stopped {
            feeds[feed].restart();
        }
        for feed in &mut feeds {
            feed.drain(&mut tally);
        }
        last = tokio::time::Instant::now();
        let view = build(
            &sources.gather().await,
            &sources.record_prefix,
            &tally,
            seconds(),
        );
        publish.send_if_modified(|current| {
            let changed = **current != view;
            if changed {
                *current = Arc::new(view);
            }
            changed
        });
    }
}

/// Counts a change of a state report in `tally` (see [`super::history`]).
fn count(tally: &mut Tally, event: &kv_client::Event) {
    let before = event
        .prev_node
        .as_ref()
        .and_then(|node| node.value.as_deref());
    tally.record(
        &event.node.key,
        before,
        event.node.value.as_deref(),
        seconds(),
    );
}

/// Seconds on a monotonic clock (since its first reading): the counts' buckets never move
/// back with the wall clock.
fn seconds() -> u64 {
    static START: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();
    START
        .get_or_init(std::time::Instant::now)
        .elapsed()
        .as_secs()
}

async fn index() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        INDEX_HTML,
    )
}

async fn app_js() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
        APP_JS,
    )
}

async fn app_css() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "text/css; charset=utf-8")], APP_CSS)
}

async fn current(State(dashboard): State<Dashboard>) -> Json<View> {
    Json(View::clone(&dashboard.view.borrow()))
}

/// The document now, then each new one, as `view` events.
async fn events(
    State(dashboard): State<Dashboard>,
) -> Sse<impl futures_util::Stream<Item = Result<Event, Infallible>>> {
    let mut receiver = dashboard.view.clone();
    receiver.mark_changed();
    let stream = futures_util::stream::unfold(receiver, |mut receiver| async move {
        receiver.changed().await.ok()?;
        let view = Arc::clone(&receiver.borrow_and_update());
        let data = serde_json::to_string(&*view).unwrap_or_else(|_| "{}".to_owned());
        Some((Ok(Event::default().event("view").data(data)), receiver))
    });
    Sse::new(stream).keep_alive(KeepAlive::default())
}

/// Whether `name` can be a unit's name (systemd's characters), so it cannot change the path
/// of the request to fleet.
fn unit_name_ok(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 256
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"@._:-\\".contains(&b))
        && !name.starts_with('.')
}

/// `name` as one path segment of a URL (systemd's `\x2d` escapes and all).
pub fn segment(name: &str) -> String {
    percent_encoding::utf8_percent_encode(name, percent_encoding::NON_ALPHANUMERIC).to_string()
}

fn bad_request(message: &'static str) -> Response {
    (StatusCode::BAD_REQUEST, message).into_response()
}

/// `PUT <fleet><before><name><after>` with `body`, once `name` is known to be a unit name.
async fn put_unit(fleet: &str, before: &str, name: &str, after: &str, body: String) -> Response {
    if !unit_name_ok(name) {
        return bad_request("not a unit name");
    }
    let url = format!("{fleet}{before}{}{after}", segment(name));
    forward(probe::send(hyper::Method::PUT, &url, Some(body)).await)
}

/// `{"desiredState": "launched" | "loaded" | "inactive"}` for a unit, through fleet's API.
async fn set_state(
    State(dashboard): State<Dashboard>,
    Path(name): Path<String>,
    Json(body): Json<serde_json::Value>,
) -> Response {
    let state = body["desiredState"].as_str().unwrap_or_default();
    if !matches!(state, "launched" | "loaded" | "inactive") {
        return bad_request("desiredState must be launched, loaded or inactive");
    }
    let body = serde_json::json!({ "desiredState": state }).to_string();
    put_unit(&dashboard.fleet, "/fleet/v1/units/", &name, "", body).await
}

/// `{"count": N}` for a template, through Keel's fleet API (`fleetctl scale`).
async fn scale(
    State(dashboard): State<Dashboard>,
    Path(name): Path<String>,
    Json(body): Json<serde_json::Value>,
) -> Response {
    let Some(count) = body["count"].as_u64() else {
        return bad_request("count must be a whole number");
    };
    let body = serde_json::json!({ "count": count }).to_string();
    put_unit(
        &dashboard.fleet,
        "/keel/v1/units/",
        &name,
        "/replicas",
        body,
    )
    .await
}

/// fleet's answer as it is, or 502 when fleet did not answer.
fn forward(reply: Result<probe::Reply, probe::ProbeError>) -> Response {
    match reply {
        Ok(reply) => {
            let status = StatusCode::from_u16(reply.status).unwrap_or(StatusCode::BAD_GATEWAY);
            (status, reply.body).into_response()
        }
        Err(error) => (StatusCode::BAD_GATEWAY, format!("fleet: {error}")).into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Goal: a unit name from the page's path can never change the path of the request to
    /// fleet. Method: systemd names pass; traversal, separators and queries do not.
    #[test]
    fn only_unit_names_reach_fleet() {
        for good in [
            "web.service",
            "app@1.service",
            "a-b_c:d.socket",
            "x\\x2d.service",
        ] {
            assert!(unit_name_ok(good), "{good}");
        }
        for bad in [
            "",
            "..",
            "../machines",
            "a/b.service",
            "a?b=c",
            "a b.service",
            ".hidden",
        ] {
            assert!(!unit_name_ok(bad), "{bad}");
        }
    }
}
