//! Classification of every attempt outcome for reads and writes (STYLE §2.5, §2.7): what is
//! retried on another endpoint, what is indeterminate, and what each error reports through
//! `code()`, `is_retriable()` and `is_indeterminate()`.

use super::*;
use crate::error::TransportError;
use crate::types::StoreIndex;
use bytes::Bytes;
use hyper::HeaderMap;
use std::time::Duration;

const READ: RequestKind = RequestKind::Read;
const WRITE: RequestKind = RequestKind::Write;

fn endpoint() -> Endpoint {
    Endpoint::parse("http://127.0.0.1:2379").unwrap()
}

fn reply(status: u16, body: &'static str) -> Result<RawReply, AttemptError> {
    Ok(RawReply {
        status,
        headers: HeaderMap::new(),
        body: Bytes::from_static(body.as_bytes()),
    })
}

/// A decoder that wants any success and reports failures like the keys decoder.
fn decode(reply: &RawReply) -> Result<(), ReplyError> {
    if (200..300).contains(&reply.status) {
        Ok(())
    } else {
        Err(decode::failure(reply))
    }
}

/// `(retried on another endpoint, the error)`; panics on success.
fn outcome(kind: RequestKind, attempt: Result<RawReply, AttemptError>) -> (bool, ClientError) {
    match classify(kind, &endpoint(), 1, attempt, decode) {
        Step::Retry(error) => (true, error),
        Step::Done(Err(error)) => (false, error),
        Step::Done(Ok(())) => panic!("expected a failure"),
    }
}

fn not_sent() -> Result<RawReply, AttemptError> {
    Err(AttemptError::NotSent(TransportError::watch_ended()))
}

fn lost() -> Result<RawReply, AttemptError> {
    Err(AttemptError::Lost(TransportError::watch_ended()))
}

fn timed_out() -> Result<RawReply, AttemptError> {
    Err(AttemptError::TimedOut(Duration::from_secs(1)))
}

const RAFT_TIMEOUT: &str = r#"{"errorCode":300,"message":"Raft Internal Error","cause":"etcdserver: request timed out","index":0}"#;
const NOT_FOUND: &str = r#"{"errorCode":100,"message":"Key not found","cause":"/k","index":3}"#;
const COMPARE_FAILED: &str =
    r#"{"errorCode":101,"message":"Compare failed","cause":"[a != b]","index":3}"#;

// Goal: a request that never left (connect failed) is retried elsewhere, read or write, and
// is retriable, never indeterminate.
#[test]
fn not_sent_is_retried_for_reads_and_writes() {
    for kind in [READ, WRITE] {
        let (retried, error) = outcome(kind, not_sent());
        assert!(retried);
        assert!(matches!(error, ClientError::Unavailable { .. }));
        assert!(error.is_retriable());
        assert!(!error.is_indeterminate());
        assert_eq!(error.code(), None);
    }
}

// Goal: after sending, a reset or timeout retries a read but makes a write indeterminate,
// returned at once (not retried).
#[test]
fn lost_or_timed_out_after_sending() {
    let (retried, error) = outcome(READ, lost());
    assert!(retried && error.is_retriable() && !error.is_indeterminate());
    let (retried, error) = outcome(READ, timed_out());
    assert!(retried && matches!(error, ClientError::Timeout { .. }) && error.is_retriable());

    for attempt in [lost(), timed_out()] {
        let (retried, error) = outcome(WRITE, attempt);
        assert!(!retried);
        assert!(error.is_indeterminate());
        assert!(!error.is_retriable());
    }
}

// Goal: error 300 from the server is retried for a read, indeterminate for a write, and
// `code()` says 300 either way.
#[test]
fn raft_internal_error() {
    let (retried, error) = outcome(READ, reply(500, RAFT_TIMEOUT));
    assert!(retried && error.is_retriable() && !error.is_indeterminate());
    assert_eq!(error.code(), Some(300));

    let (retried, error) = outcome(WRITE, reply(500, RAFT_TIMEOUT));
    assert!(!retried && error.is_indeterminate() && !error.is_retriable());
    assert_eq!(error.code(), Some(300));
    assert!(matches!(
        error,
        ClientError::Indeterminate {
            reason: IndeterminateReason::ServerTimeout {
                index: StoreIndex(0),
                ..
            },
            ..
        }
    ));
}

// Goal: domain outcomes are answers: returned at once, neither retriable nor indeterminate,
// with their helper predicates.
#[test]
fn domain_errors_are_definite() {
    for kind in [READ, WRITE] {
        let (retried, error) = outcome(kind, reply(404, NOT_FOUND));
        assert!(!retried && !error.is_retriable() && !error.is_indeterminate());
        assert!(error.is_key_not_found());
        assert_eq!(error.to_string(), "100: Key not found (/k) [3]");
        let (_, error) = outcome(kind, reply(412, COMPARE_FAILED));
        assert!(error.is_compare_failed() && !error.is_key_not_found());
    }
}

// Goal: non-v2 5xx replies retry a read and make a write indeterminate (the handler may have
// proposed); 4xx replies are definite for both; 429 is retriable but a write is not resent.
#[test]
fn non_v2_statuses() {
    let (retried, error) = outcome(READ, reply(503, "busy"));
    assert!(retried && error.is_retriable());
    let (retried, error) = outcome(WRITE, reply(503, "busy"));
    assert!(!retried && error.is_indeterminate());
    let (retried, error) = outcome(WRITE, reply(408, "timeout"));
    assert!(!retried && error.is_indeterminate());
    for kind in [READ, WRITE] {
        let (retried, error) = outcome(kind, reply(405, "Method Not Allowed"));
        assert!(!retried && !error.is_retriable() && !error.is_indeterminate());
        assert!(matches!(error, ClientError::Http { status: 405, .. }));
    }
    let (retried, error) = outcome(WRITE, reply(429, "slow down"));
    assert!(!retried && error.is_retriable() && !error.is_indeterminate());
}

// Goal: a reply that cannot be read ends a read as a plain failure, but leaves a write
// indeterminate: the server may well have applied it.
#[test]
fn unreadable_replies() {
    let (retried, error) = outcome(READ, Err(AttemptError::TooLarge(10)));
    assert!(!retried && !error.is_retriable() && !error.is_indeterminate());
    let (retried, error) = outcome(WRITE, Err(AttemptError::TooLarge(10)));
    assert!(!retried && error.is_indeterminate());

    let keys = |reply: &RawReply| decode::keys_response(reply).map(|_| ());
    let success_without_node = reply(201, "{\"action\":\"set\"}");
    match classify(READ, &endpoint(), 1, success_without_node, keys) {
        Step::Done(Err(error)) => assert!(matches!(error, ClientError::Decode { .. })),
        _ => panic!("expected a decode error"),
    }
    let success_without_node = reply(201, "{\"action\":\"set\"}");
    match classify(WRITE, &endpoint(), 1, success_without_node, keys) {
        Step::Done(Err(error)) => assert!(matches!(
            error,
            ClientError::Indeterminate {
                reason: IndeterminateReason::UndecodableReply { status: 201, .. },
                ..
            }
        )),
        _ => panic!("expected an indeterminate write"),
    }
}

// Goal: the remaining variants' classification, including 401 and config errors.
#[test]
fn other_variants() {
    let cleared = ClientError::HistoryCleared {
        wait_index: StoreIndex(5),
        cause: "the requested history has been cleared [150/5]".to_owned(),
        index: StoreIndex(1149),
    };
    assert_eq!(cleared.code(), Some(401));
    assert!(cleared.is_history_cleared());
    assert!(!cleared.is_retriable() && !cleared.is_indeterminate());
    let invalid = ClientError::from(crate::config::ConfigError::NoEndpoints);
    assert!(!invalid.is_retriable() && invalid.code().is_none());
    let leader_election = ClientError::Etcd {
        code: 301,
        message: "During Leader Election".to_owned(),
        cause: String::new(),
        index: StoreIndex(0),
    };
    assert!(leader_election.is_retriable());
}
