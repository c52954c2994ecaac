//! The retry policy against faulty endpoints: writes are retried elsewhere only when they were
//! never sent; once sent, a hang, a reset or error 300 is indeterminate and the other endpoint
//! must never see the write. Reads fail over freely.

use crate::config;
use crate::fake::{closed_endpoint, FakeServer, Reply};
use kv_client::{Client, ClientError, DeleteOptions, GetOptions, IndeterminateReason, SetOptions};

const SET_BODY: &str =
    "{\"action\":\"set\",\"node\":{\"key\":\"/k\",\"value\":\"v\",\"modifiedIndex\":5,\"createdIndex\":5}}\n";
const RAFT_TIMEOUT: &str = "{\"errorCode\":300,\"message\":\"Raft Internal Error\",\"cause\":\"etcdserver: request timed out\",\"index\":0}\n";

async fn healthy() -> FakeServer {
    FakeServer::start(|_, _| Reply::keys(200, 5, SET_BODY)).await
}

// Goal: a write whose server hangs after reading it is reported indeterminate and is NOT sent
// to the other endpoint. Method: A reads the PUT and never answers; B would succeed.
#[tokio::test]
async fn write_that_hangs_after_sending_is_indeterminate_and_not_retried() {
    let hanging = FakeServer::start(|_, _| Reply::Hang).await;
    let other = healthy().await;
    let client = Client::new(config(&[&hanging.endpoint, &other.endpoint])).unwrap();
    let error = client
        .set("/k", "v", SetOptions::default())
        .await
        .unwrap_err();
    assert!(error.is_indeterminate(), "{error}");
    assert!(!error.is_retriable());
    assert!(matches!(
        error,
        ClientError::Indeterminate {
            reason: IndeterminateReason::TimedOut { .. },
            ..
        }
    ));
    let seen = hanging.requests();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].method, "PUT");
    assert_eq!(seen[0].body, "value=v");
    // The call has returned and the client runs no background work, so nothing can follow.
    assert!(other.requests().is_empty());
}

// Goal: a connection that breaks after the write was sent is indeterminate, not retried.
#[tokio::test]
async fn write_reset_after_sending_is_indeterminate() {
    let breaking = FakeServer::start(|_, _| Reply::DropAfterHead { etcd_index: 5 }).await;
    let other = healthy().await;
    let client = Client::new(config(&[&breaking.endpoint, &other.endpoint])).unwrap();
    let error = client
        .delete("/k", DeleteOptions::default())
        .await
        .unwrap_err();
    assert!(error.is_indeterminate(), "{error}");
    assert_eq!(breaking.requests().len(), 1);
    assert!(other.requests().is_empty());
}

// Goal: etcd error 300 on a write (the server's proposal timed out) is indeterminate, carries
// code 300, and is not retried.
#[tokio::test]
async fn write_error_300_is_indeterminate() {
    let timing_out = FakeServer::start(|_, _| Reply::keys(500, 0, RAFT_TIMEOUT)).await;
    let other = healthy().await;
    let client = Client::new(config(&[&timing_out.endpoint, &other.endpoint])).unwrap();
    let error = client
        .create("/k", "v", SetOptions::default())
        .await
        .unwrap_err();
    assert!(error.is_indeterminate(), "{error}");
    assert_eq!(error.code(), Some(300));
    assert!(other.requests().is_empty());
}

// Goal: a write that could not be sent (connection refused) is retried on the next endpoint,
// which applies it once.
#[tokio::test]
async fn write_not_sent_fails_over() {
    let closed = closed_endpoint();
    let other = healthy().await;
    let client = Client::new(config(&[&closed, &other.endpoint])).unwrap();
    let response = client.set("/k", "v", SetOptions::default()).await.unwrap();
    assert_eq!(response.node.value.as_deref(), Some("v"));
    assert_eq!(other.requests().len(), 1);
    // The endpoint that answered is now where calls start: the next write goes straight there.
    client.set("/k", "v", SetOptions::default()).await.unwrap();
    assert_eq!(other.requests().len(), 2);
}

// Goal: a read moves on after a hang (timeout) and after a 5xx, and succeeds on the third
// endpoint; each endpoint is asked once.
#[tokio::test]
async fn read_fails_over_after_timeout_and_server_error() {
    let hanging = FakeServer::start(|_, _| Reply::Hang).await;
    let failing = FakeServer::start(|_, _| Reply::plain(503, "overloaded")).await;
    let other = healthy().await;
    let endpoints = [&*hanging.endpoint, &*failing.endpoint, &*other.endpoint];
    let client = Client::new(config(&endpoints)).unwrap();
    let response = client.get("/k", GetOptions::default()).await.unwrap();
    assert_eq!(response.node.key, "/k");
    assert_eq!(hanging.requests().len(), 1);
    assert_eq!(failing.requests().len(), 1);
    assert_eq!(other.requests().len(), 1);
}

// Goal: when no endpoint accepts a connection, the call ends after `attempts_max` attempts
// with `Unavailable`, which is safe to retry.
#[tokio::test]
async fn no_reachable_endpoint_is_unavailable() {
    let endpoints = [closed_endpoint(), closed_endpoint()];
    let client = Client::new(config(&[&endpoints[0], &endpoints[1]])).unwrap();
    let error = client
        .set("/k", "v", SetOptions::default())
        .await
        .unwrap_err();
    assert!(
        matches!(error, ClientError::Unavailable { attempts: 5, .. }),
        "{error}"
    );
    assert!(error.is_retriable());
    assert!(!error.is_indeterminate());
}

// Goal: a read that times out everywhere is a retriable `Timeout`.
#[tokio::test]
async fn read_timing_out_everywhere_is_timeout() {
    let hanging = FakeServer::start(|_, _| Reply::Hang).await;
    let mut settings = config(&[&hanging.endpoint]);
    settings.attempts_max = 2;
    let client = Client::new(settings).unwrap();
    let error = client.get("/k", GetOptions::default()).await.unwrap_err();
    assert!(matches!(error, ClientError::Timeout { .. }), "{error}");
    assert!(error.is_retriable());
    assert_eq!(hanging.requests().len(), 2);
}
