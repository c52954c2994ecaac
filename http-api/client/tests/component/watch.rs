//! Watches under faults: resumption after a dropped connection or a frozen member, idle
//! re-polls, 401 surfaced, transient errors yielded without ending the stream.

use crate::config;
use crate::fake::{FakeServer, Recorded, Reply};
use futures_util::StreamExt;
use kv_client::{Client, ClientError, StoreIndex, WatchOptions};
use std::time::Duration;

/// Answers a watch with an event at exactly the requested `waitIndex`.
fn event_at_wait_index(request: &Recorded) -> Reply {
    let index = request.query_param("waitIndex").unwrap().parse().unwrap();
    Reply::event("/w", index)
}

fn wait_indexes(server: &FakeServer) -> Vec<Option<String>> {
    server
        .requests()
        .iter()
        .map(|request| request.query_param("waitIndex"))
        .collect()
}

fn from(index: u64) -> WatchOptions {
    WatchOptions {
        recursive: false,
        wait_index: Some(StoreIndex(index)),
    }
}

// Goal: a watch whose connection drops mid-stream resumes on the other endpoint from the last
// index + 1: no event lost, none repeated. Method: A delivers index 5, then breaks the next
// poll after its head; B answers whatever waitIndex it is asked for.
#[tokio::test]
async fn dropped_watch_resumes_on_other_endpoint_without_loss_or_duplicate() {
    let first = FakeServer::start(|request, number| match number {
        0 => event_at_wait_index(request),
        _ => Reply::DropAfterHead { etcd_index: 5 },
    })
    .await;
    let second = FakeServer::start(|request, _| event_at_wait_index(request)).await;
    let client = Client::new(config(&[&first.endpoint, &second.endpoint])).unwrap();
    let mut watch = client.watch("/w", from(5));
    let mut indexes = Vec::new();
    for _ in 0..3 {
        indexes.push(watch.next().await.unwrap().unwrap().index().0);
    }
    assert_eq!(indexes, vec![5, 6, 7]);
    assert_eq!(watch.next_wait_index(), Some(StoreIndex(8)));
    let waited = |index: &str| Some(index.to_owned());
    assert_eq!(wait_indexes(&first), vec![waited("5"), waited("6")]);
    assert_eq!(wait_indexes(&second), vec![waited("6"), waited("7")]);
    assert!(first
        .requests()
        .iter()
        .all(|request| request.query.contains("wait=true")));
}

// Goal: a member that accepts the connection but never answers (frozen) is left after
// `request_timeout`, and the watch continues elsewhere from the same index.
#[tokio::test]
async fn frozen_member_is_left_for_another() {
    let frozen = FakeServer::start(|_, _| Reply::Hang).await;
    let other = FakeServer::start(|request, _| event_at_wait_index(request)).await;
    let client = Client::new(config(&[&frozen.endpoint, &other.endpoint])).unwrap();
    let mut watch = client.watch("/w", from(10));
    let event = watch.next().await.unwrap().unwrap();
    assert_eq!(event.index(), StoreIndex(10));
    assert_eq!(wait_indexes(&frozen), vec![Some("10".to_owned())]);
}

// Goal: error 401 (history cleared) is surfaced with code 401 and ends the stream, so the
// caller resynchronises.
#[tokio::test]
async fn history_cleared_is_surfaced_and_ends_the_stream() {
    let body = "{\"errorCode\":401,\"message\":\"The event in requested index is outdated and cleared\",\"cause\":\"the requested history has been cleared [150/5]\",\"index\":1149}\n";
    let server = FakeServer::start(move |_, _| Reply::keys(400, 1149, body)).await;
    let client = Client::new(config(&[&server.endpoint])).unwrap();
    let mut watch = client.watch("/w", from(5));
    let error = watch.next().await.unwrap().unwrap_err();
    assert_eq!(error.code(), Some(401));
    assert!(error.is_history_cleared());
    assert!(matches!(
        error,
        ClientError::HistoryCleared {
            wait_index: StoreIndex(5),
            index: StoreIndex(1149),
            ..
        }
    ));
    assert!(watch.next().await.is_none());
    assert_eq!(server.requests().len(), 1);
}

// Goal: a watch started "from now" whose first poll sees no event within `watch_poll_timeout`
// is re-issued from the index the server registered at + 1, so no later change is missed.
#[tokio::test]
async fn idle_poll_is_reissued_past_the_registered_index() {
    let server = FakeServer::start(|request, number| match number {
        0 => Reply::HeadThenHang { etcd_index: 41 },
        _ => event_at_wait_index(request),
    })
    .await;
    let mut settings = config(&[&server.endpoint]);
    settings.watch_poll_timeout = Duration::from_millis(500);
    let client = Client::new(settings).unwrap();
    let mut watch = client.watch("/w", WatchOptions::default().recursive());
    assert_eq!(watch.next_wait_index(), None);
    let event = watch.next().await.unwrap().unwrap();
    assert_eq!(event.index(), StoreIndex(42));
    assert_eq!(wait_indexes(&server), vec![None, Some("42".to_owned())]);
    assert!(server.requests()[0].query.contains("recursive=true"));
}

// Goal: a poll the server ends without an event moves past the registered index and on to
// the next endpoint.
#[tokio::test]
async fn poll_ended_without_event_moves_on() {
    let ending = FakeServer::start(|_, _| Reply::keys(200, 20, "")).await;
    let other = FakeServer::start(|request, _| event_at_wait_index(request)).await;
    let client = Client::new(config(&[&ending.endpoint, &other.endpoint])).unwrap();
    let mut watch = client.watch("/w", from(3));
    let event = watch.next().await.unwrap().unwrap();
    assert_eq!(event.index(), StoreIndex(21));
}

// Goal: when every attempt of one poll fails, the transient error is yielded, and polling
// again resumes from the same index.
#[tokio::test]
async fn transient_failures_are_yielded_and_the_watch_continues() {
    let server = FakeServer::start(|request, number| match number {
        0 | 1 => Reply::plain(503, "overloaded"),
        _ => event_at_wait_index(request),
    })
    .await;
    let mut settings = config(&[&server.endpoint]);
    settings.attempts_max = 2;
    let client = Client::new(settings).unwrap();
    let mut watch = client.watch("/w", from(8));
    let error = watch.next().await.unwrap().unwrap_err();
    assert!(error.is_retriable(), "{error}");
    let event = watch.next().await.unwrap().unwrap();
    assert_eq!(event.index(), StoreIndex(8));
}

// Goal: a watch that idled longer than `operation_timeout` still fails over in full when its
// member then breaks (the failure budget starts at the first failure, not at the poll).
#[tokio::test]
async fn long_idle_watch_still_fails_over() {
    let first = FakeServer::start(|_, number| match number {
        0 => Reply::HeadThenHang { etcd_index: 41 },
        _ => Reply::DropAfterHead { etcd_index: 41 },
    })
    .await;
    let second = FakeServer::start(|request, _| event_at_wait_index(request)).await;
    let mut settings = config(&[&first.endpoint, &second.endpoint]);
    settings.operation_timeout = Duration::from_secs(1);
    settings.watch_poll_timeout = Duration::from_millis(1200);
    let client = Client::new(settings).unwrap();
    let mut watch = client.watch("/w", WatchOptions::default());
    let event = watch.next().await.unwrap().unwrap();
    assert_eq!(event.index(), StoreIndex(42));
    assert_eq!(wait_indexes(&second), vec![Some("42".to_owned())]);
}

// Goal: a poll from a fixed index that merely timed out is re-issued with the same waitIndex:
// a history hit may have been in flight, so the client never skips to X-Etcd-Index + 1 on a
// guess.
#[tokio::test]
async fn timed_out_poll_from_an_index_keeps_its_index() {
    let server = FakeServer::start(|request, number| match number {
        0 => Reply::HeadThenHang { etcd_index: 41 },
        _ => event_at_wait_index(request),
    })
    .await;
    let mut settings = config(&[&server.endpoint]);
    settings.watch_poll_timeout = Duration::from_millis(500);
    let client = Client::new(settings).unwrap();
    let mut watch = client.watch("/w", from(5));
    let event = watch.next().await.unwrap().unwrap();
    assert_eq!(event.index(), StoreIndex(5));
    let waited = Some("5".to_owned());
    assert_eq!(wait_indexes(&server), vec![waited.clone(), waited]);
}
