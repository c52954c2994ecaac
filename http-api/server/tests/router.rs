//! The client router driven in-process (tower `oneshot`) over a one-member raft loop with
//! in-memory storage: the full request path without sockets or RocksDB.

// A test crate: a failed unwrap is a failed check.
#![allow(clippy::unwrap_used)]

use axum::body::{Body, Bytes};
use axum::http::{Request, StatusCode};
use axum::Router;
use http_body_util::BodyExt;
use kv_http::{peer, Api, ApiConfig};
use kvstore::core::NodeConfig;
use kvstore::memory::MemoryStorage;
use kvstore::thread::RaftThread;
use kvstore::{ClusterId, Members, NodeId, StateMachine};
use std::time::Duration;
use tower::ServiceExt;

struct Harness {
    router: Router,
    raft: Option<RaftThread>,
}

impl Drop for Harness {
    fn drop(&mut self) {
        if let Some(raft) = self.raft.take() {
            raft.stop();
        }
    }
}

fn start(max_request_bytes: usize) -> Harness {
    let id = NodeId(1);
    let config = NodeConfig {
        id,
        name: "solo".to_string(),
        client_urls: vec!["http://127.0.0.1:1".to_string()],
        election_ticks: 10,
        election_ticks_max: 20,
        heartbeat_ticks: 1,
        request_timeout_ticks: 100,
        expire_interval_ticks: 1,
        retry_ticks: 10,
        snapshot_entries: 0,
        catch_up_entries: 0,
        first_seq: 0,
    };
    let members = Members::from_initial([(id, vec!["http://127.0.0.1:2".to_string()])]);
    let (transport, _queues, stats) = peer::transport(&[]);
    let durations = std::sync::Arc::new(kv_http::metrics::RaftDurations::default());
    let observer: std::sync::Arc<dyn kvstore::Observer> = durations.clone();
    let (node, raft) = kvstore::thread::spawn(
        config,
        Duration::from_millis(10),
        MemoryStorage::new(&[1]),
        transport,
        StateMachine::new(members),
        0,
        Some(observer),
    )
    .unwrap();
    let api_config = ApiConfig {
        name: "solo".to_string(),
        cluster_id: ClusterId(0xabc),
        max_request_bytes,
        request_timeout: Duration::from_secs(5),
        start_time: kvstore::thread::wall_now(),
    };
    let router = kv_http::client_router(Api::new(node, api_config, stats, &durations));
    Harness {
        router,
        raft: Some(raft),
    }
}

async fn send(
    router: &Router,
    method: &str,
    uri: &str,
    form: &str,
) -> (StatusCode, axum::http::HeaderMap, Bytes) {
    let request = Request::builder()
        .method(method)
        .uri(uri)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(Body::from(form.to_string()))
        .unwrap();
    let response = router.clone().oneshot(request).await.unwrap();
    let (parts, body) = response.into_parts();
    let bytes = tokio::time::timeout(Duration::from_secs(10), body.collect())
        .await
        .unwrap()
        .unwrap()
        .to_bytes();
    (parts.status, parts.headers, bytes)
}

// Goal: a write answers 201 with the v2 headers, the cluster id header is on every response,
// and a read sees the write. Method: PUT then GET through the router.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn write_then_read_carries_v2_headers() {
    let harness = start(1024);
    let (status, headers, body) = send(&harness.router, "PUT", "/v2/keys/a", "value=1").await;
    assert_eq!(status, StatusCode::CREATED, "{body:?}");
    assert_eq!(headers["x-etcd-index"], "1");
    assert_eq!(headers["x-etcd-cluster-id"], "abc");
    assert!(headers.contains_key("x-raft-index") && headers.contains_key("x-raft-term"));
    assert_eq!(&body[..], b"{\"action\":\"set\",\"node\":{\"key\":\"/a\",\"value\":\"1\",\"modifiedIndex\":1,\"createdIndex\":1}}\n");
    let (status, headers, _) = send(&harness.router, "GET", "/v2/keys/a?quorum=true", "").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers["x-etcd-index"], "1");
    let (status, headers, body) = send(&harness.router, "GET", "/no/such/path", "").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(headers["x-etcd-cluster-id"], "abc");
    assert_eq!(&body[..], b"404 page not found\n");
}

/// The value of the sample `series` (name and labels, as printed) in a scrape, if present.
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' '))
        .and_then(|value| value.parse().ok())
}

// Goal: `/metrics` speaks etcd's names: keys requests counted by method, failures by method
// and code, successful non-watch requests timed, the raft gauges and the synced writes.
// Method: a PUT, a GET, a GET of a missing key and a watch that a second PUT answers, then
// one scrape, each series read back by its exact name and labels.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_count_requests_and_raft_progress_with_etcds_names() {
    let harness = start(1024);
    let router = &harness.router;
    assert_eq!(
        send(router, "PUT", "/v2/keys/a", "value=1").await.0,
        StatusCode::CREATED
    );
    assert_eq!(
        send(router, "GET", "/v2/keys/a", "").await.0,
        StatusCode::OK
    );
    assert_eq!(
        send(router, "GET", "/v2/keys/nope", "").await.0,
        StatusCode::NOT_FOUND
    );
    let watch = {
        let router = router.clone();
        tokio::spawn(async move { send(&router, "GET", "/v2/keys/a?wait=true", "").await })
    };
    // The watch answers the next write only once it is registered: write until it does.
    let answered = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            send(router, "PUT", "/v2/keys/a", "value=2").await;
            if watch.is_finished() {
                break;
            }
            tokio::task::yield_now().await;
        }
    })
    .await;
    assert!(answered.is_ok(), "the watch never answered");
    let (status, headers, body) = send(router, "GET", "/metrics", "").await;
    assert_eq!(status, StatusCode::OK);
    assert!(headers["content-type"]
        .to_str()
        .unwrap()
        .starts_with("application/openmetrics-text"));
    let text = String::from_utf8(body.to_vec()).unwrap();
    let puts = sample(&text, r#"etcd_http_received_total{method="PUT"}"#).unwrap();
    assert!(puts >= 2.0, "{text}");
    // Two plain GETs and the watch.
    assert_eq!(
        sample(&text, r#"etcd_http_received_total{method="GET"}"#),
        Some(3.0),
        "{text}"
    );
    assert_eq!(
        sample(&text, r#"etcd_http_failed_total{method="GET",code="404"}"#),
        Some(1.0)
    );
    // The watch is counted, never timed: one timed GET.
    assert_eq!(
        sample(
            &text,
            r#"etcd_http_successful_duration_seconds_count{method="GET"}"#
        ),
        Some(1.0),
        "{text}"
    );
    assert_eq!(sample(&text, "etcd_server_has_leader"), Some(1.0));
    assert_eq!(sample(&text, "etcd_server_is_leader"), Some(1.0));
    assert_eq!(
        sample(&text, "etcd_server_leader_changes_seen_total"),
        Some(1.0)
    );
    assert_eq!(
        sample(&text, "etcd_server_proposals_failed_total"),
        Some(0.0)
    );
    assert!(sample(&text, "etcd_server_proposals_committed_total").unwrap() >= 1.0 + puts);
    assert!(sample(&text, "etcd_disk_wal_fsync_duration_seconds_count").unwrap() >= 1.0);
    assert!(text.ends_with("# EOF\n"), "{text}");
}

// Goal: a body over --max-request-bytes is refused in etcd's error format and not applied.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_body_is_refused() {
    let harness = start(64);
    let form = format!("value={}", "x".repeat(100));
    let (status, _, body) = send(&harness.router, "PUT", "/v2/keys/big", &form).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(std::str::from_utf8(&body)
        .unwrap()
        .contains("\"errorCode\":210"));
    let (status, _, _) = send(&harness.router, "GET", "/v2/keys/big", "").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

// Goal: a live watch gets the next matching event, a stream watch gets several, and a watch
// from history answers at once. Method: start watches as tasks, then write.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watches_deliver_live_stream_and_history_events() {
    let harness = start(1024);
    send(&harness.router, "PUT", "/v2/keys/w", "value=0").await;
    let router = harness.router.clone();
    let live = tokio::spawn(async move { send(&router, "GET", "/v2/keys/w?wait=true", "").await });
    let router = harness.router.clone();
    let stream = tokio::spawn(async move {
        let request = Request::builder()
            .uri("/v2/keys/?wait=true&recursive=true&stream=true")
            .body(Body::empty())
            .unwrap();
        let mut body = router.oneshot(request).await.unwrap().into_body();
        let mut lines = Vec::new();
        while lines.len() < 2 {
            let frame = tokio::time::timeout(Duration::from_secs(10), body.frame())
                .await
                .unwrap()
                .unwrap()
                .unwrap();
            lines.push(String::from_utf8(frame.into_data().unwrap().to_vec()).unwrap());
        }
        lines
    });
    // Registration is not observable from outside; write until the live watch answers, each
    // write being a new event for it (bounded: 100 writes).
    for n in 1..=100 {
        send(&harness.router, "PUT", "/v2/keys/w", &format!("value={n}")).await;
        if live.is_finished() && stream.is_finished() {
            break;
        }
        tokio::task::yield_now().await;
    }
    let (status, _, body) = live.await.unwrap();
    assert_eq!(status, StatusCode::OK);
    assert!(std::str::from_utf8(&body)
        .unwrap()
        .starts_with("{\"action\":\"set\",\"node\":{\"key\":\"/w\""));
    let lines = stream.await.unwrap();
    assert!(
        lines
            .iter()
            .all(|l| l.contains("\"key\":\"/w\"") && l.ends_with('\n')),
        "{lines:?}"
    );
    assert_ne!(lines[0], lines[1]);
    let (status, headers, body) = send(
        &harness.router,
        "GET",
        "/v2/keys/w?wait=true&waitIndex=1",
        "",
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(headers.contains_key("x-etcd-index"));
    assert!(std::str::from_utf8(&body)
        .unwrap()
        .contains("\"modifiedIndex\":1,"));
}

// Goal: a stuck watcher (a client that never reads) neither blocks apply nor other clients:
// its bounded buffer fills, the hub evicts it, and writes and other watches go on.
// Method: open a stream watch and never poll it, write far more events than its buffer holds,
// then check a fresh watch from history and the store's watcher count.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stuck_watcher_is_evicted_without_stalling_writes() {
    let harness = start(1024);
    let request = Request::builder()
        .uri("/v2/keys/s?wait=true&stream=true")
        .body(Body::empty())
        .unwrap();
    let stuck = harness.router.clone().oneshot(request).await.unwrap();
    assert_eq!(stuck.status(), StatusCode::OK);
    for n in 0..300 {
        let (status, _, _) =
            send(&harness.router, "PUT", "/v2/keys/s", &format!("value={n}")).await;
        assert!(status.is_success());
    }
    let (_, _, body) = send(&harness.router, "GET", "/v2/stats/store", "").await;
    let stats: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(
        stats["watchers"], 0,
        "the stuck watcher must have been evicted"
    );
    let (status, _, body) = send(
        &harness.router,
        "GET",
        "/v2/keys/s?wait=true&waitIndex=300",
        "",
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(std::str::from_utf8(&body)
        .unwrap()
        .contains("\"value\":\"299\""));
    drop(stuck);
}

// Goal: `POST /keel/v1/batch` applies its writes in order, each with its own index and its
// v2 answer (a failed compare fails alone), the history holds one event per write, and a
// malformed batch is refused whole with nothing applied.
// Method: a batch of create, create of the same key, compare-and-swap, delete; then watches
// from history at each index; then a batch with a bad TTL.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_applies_each_write_in_order_with_its_own_answer() {
    let harness = start(4096);
    let batch = r#"[
        {"method":"PUT","key":"/b/1","form":"value=a&prevExist=false"},
        {"method":"PUT","key":"/b/1","form":"value=a&prevExist=false"},
        {"method":"PUT","key":"/b/1","form":"value=c&prevValue=a"},
        {"method":"DELETE","key":"/b/1"}
    ]"#;
    let (status, headers, body) = send(&harness.router, "POST", "/keel/v1/batch", batch).await;
    assert_eq!(status, StatusCode::OK, "{body:?}");
    assert_eq!(headers["x-etcd-index"], "3");
    assert!(!body.contains(&b'\n'), "one line: {body:?}");
    let answer: serde_json::Value = serde_json::from_slice(&body).unwrap();
    let results = answer["results"].as_array().unwrap();
    let statuses: Vec<u64> = results
        .iter()
        .map(|r| r["status"].as_u64().unwrap())
        .collect();
    assert_eq!(statuses, [201, 412, 200, 200], "{answer}");
    assert_eq!(results[0]["response"]["action"], "create");
    assert_eq!(results[1]["response"]["errorCode"], 105);
    assert_eq!(results[2]["response"]["node"]["value"], "c");
    assert_eq!(results[2]["response"]["prevNode"]["value"], "a");
    assert_eq!(results[3]["response"]["node"]["modifiedIndex"], 3);
    let indexes: Vec<u64> = results
        .iter()
        .map(|r| r["index"].as_u64().unwrap())
        .collect();
    assert_eq!(indexes, [1, 1, 2, 3], "{answer}");
    for (index, action) in [(1, "create"), (2, "compareAndSwap"), (3, "delete")] {
        let uri = format!("/v2/keys/b/1?wait=true&waitIndex={index}");
        let (_, _, event) = send(&harness.router, "GET", &uri, "").await;
        let event: serde_json::Value = serde_json::from_slice(&event).unwrap();
        assert_eq!(event["action"], action, "{event}");
        assert_eq!(event["node"]["modifiedIndex"], index, "{event}");
    }
    let bad = r#"[{"method":"PUT","key":"/b/2","form":"value=x"},
                  {"method":"PUT","key":"/b/3","form":"value=y&ttl=soon"}]"#;
    let (status, _, body) = send(&harness.router, "POST", "/keel/v1/batch", bad).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let error: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(error["errorCode"], 202, "{error}");
    assert!(
        error["cause"].as_str().unwrap().starts_with("write 1:"),
        "{error}"
    );
    let (status, _, _) = send(&harness.router, "GET", "/v2/keys/b/2", "").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}
