//! [`ClientError`] and its classification: every failure is a domain outcome (an etcd error
//! code), transient (retry), or indeterminate (a write that may or may not have been applied).
//!
//! Invariant: `Indeterminate` is produced only for writes, and a write is never retried by the
//! client once it may have reached a server. Callers branch on [`ClientError::code`],
//! [`ClientError::is_retriable`] and [`ClientError::is_indeterminate`], never on text.

use crate::config::{ConfigError, Endpoint};
use crate::types::StoreIndex;
use kv_wire::code;
use std::fmt;
use std::time::Duration;

/// Everything a client call can fail with.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// The server answered with a v2 error object; the display copies etcdctl's
    /// `code: message (cause) [index]`. For a write this is a definite failure: nothing was
    /// applied (except code 300, which becomes [`ClientError::Indeterminate`]).
    #[error("{code}: {message} ({cause}) [{index}]")]
    Etcd {
        /// The etcd error code (`kv_wire::code`).
        code: u16,
        /// etcd's fixed text for the code.
        message: String,
        /// The detail, e.g. the missing path; empty when the server left it out.
        cause: String,
        /// The store index when the error happened (0 for request validation errors).
        index: StoreIndex,
    },
    /// A watch asked for events older than the server's history window (error 401). The
    /// caller resynchronises: a GET, then a new watch from `etcd_index.next()`.
    #[error("watch history cleared: {cause} (current index {index})")]
    HistoryCleared {
        /// The `waitIndex` the watch asked for.
        wait_index: StoreIndex,
        /// The server's cause, e.g. `the requested history has been cleared [150/5]`.
        cause: String,
        /// The current store index.
        index: StoreIndex,
    },
    /// A write may or may not have been applied: it was sent, and then no definite answer
    /// came. The client did not retry it; the caller settles it (usually by reading).
    #[error("outcome unknown: the write was sent to {endpoint} and {reason}")]
    Indeterminate {
        /// Where it was sent.
        endpoint: Endpoint,
        /// What went wrong after sending.
        reason: IndeterminateReason,
    },
    /// No endpoint gave an answer. For a write this means it reached no server (every attempt
    /// failed to connect), so retrying is safe.
    #[error("no endpoint answered after {attempts} attempt(s); last: {endpoint}: {source}")]
    Unavailable {
        /// The last endpoint tried.
        endpoint: Endpoint,
        /// Attempts made.
        attempts: u32,
        /// The last failure.
        #[source]
        source: TransportError,
    },
    /// A read got no reply in time on its last attempt.
    #[error("no reply from {endpoint} within {timeout:?}")]
    Timeout {
        /// The endpoint of the last attempt.
        endpoint: Endpoint,
        /// The per-attempt timeout.
        timeout: Duration,
    },
    /// A reply that is not a v2 error object (e.g. `404 page not found`, a 503 from
    /// `/v2/members/leader`, `/health` answering 503).
    #[error("HTTP {status} from {endpoint}: {body}")]
    Http {
        /// The endpoint that answered.
        endpoint: Endpoint,
        /// The HTTP status.
        status: u16,
        /// The start of the body (lossy UTF-8, cut at `limits::ERROR_BODY_EXCERPT_MAX`).
        body: String,
    },
    /// A successful reply to a read that could not be understood (for a write this is
    /// [`ClientError::Indeterminate`]).
    #[error("undecodable reply from {endpoint}")]
    Decode {
        /// The endpoint that answered.
        endpoint: Endpoint,
        /// What could not be decoded.
        #[source]
        source: DecodeError,
    },
    /// A reply body to a read longer than `response_bytes_max` (for a write this is
    /// [`ClientError::Indeterminate`]).
    #[error("reply from {endpoint} exceeds {max_bytes} bytes")]
    ReplyTooLarge {
        /// The endpoint that answered.
        endpoint: Endpoint,
        /// The configured bound.
        max_bytes: usize,
    },
    /// The configuration was refused; nothing was sent.
    #[error("invalid client configuration: {0}")]
    InvalidConfig(#[from] ConfigError),
    /// The call's arguments were refused before sending.
    #[error("invalid request: {0}")]
    InvalidRequest(#[from] RequestError),
    /// One write of an answered batch ([`Client::batch`](crate::Client::batch)) got a reply
    /// that is neither its success nor a v2 error object: its outcome is unknown.
    #[error("batch write answered with status {status}: {detail}")]
    BatchWrite {
        /// The write's status in the batch's answer.
        status: u16,
        /// What could not be understood.
        detail: String,
    },
}

impl ClientError {
    /// The etcd error code, when the server sent one: [`ClientError::Etcd`], 401 for
    /// [`ClientError::HistoryCleared`], and 300 for a write the server timed out on.
    #[must_use]
    pub fn code(&self) -> Option<u16> {
        match self {
            ClientError::Etcd { code, .. } => Some(*code),
            ClientError::HistoryCleared { .. } => Some(code::EVENT_INDEX_CLEARED),
            ClientError::Indeterminate {
                reason: IndeterminateReason::ServerTimeout { code, .. },
                ..
            } => Some(*code),
            _ => None,
        }
    }

    /// True when the same call may simply be made again: nothing was applied and the cause is
    /// transient (no endpoint reachable, a read timed out, the server was busy or leaderless).
    /// Domain outcomes (missing key, compare failed) and indeterminate writes are not.
    #[must_use]
    pub fn is_retriable(&self) -> bool {
        match self {
            ClientError::Etcd { code, .. } => is_transient_code(*code),
            ClientError::Unavailable { .. } | ClientError::Timeout { .. } => true,
            ClientError::Http { status, .. } => is_transient_status(*status),
            _ => false,
        }
    }

    /// True when a write may or may not have been applied. Never reported for reads.
    #[must_use]
    pub fn is_indeterminate(&self) -> bool {
        matches!(self, ClientError::Indeterminate { .. })
    }

    /// Error 100 `Key not found`.
    #[must_use]
    pub fn is_key_not_found(&self) -> bool {
        self.code() == Some(code::KEY_NOT_FOUND)
    }

    /// Error 101 `Compare failed`.
    #[must_use]
    pub fn is_compare_failed(&self) -> bool {
        self.code() == Some(code::TEST_FAILED)
    }

    /// Error 105 `Key already exists`.
    #[must_use]
    pub fn is_key_exists(&self) -> bool {
        self.code() == Some(code::NODE_EXIST)
    }

    /// Error 102 `Not a file`.
    #[must_use]
    pub fn is_not_file(&self) -> bool {
        self.code() == Some(code::NOT_FILE)
    }

    /// Error 104 `Not a directory`.
    #[must_use]
    pub fn is_not_dir(&self) -> bool {
        self.code() == Some(code::NOT_DIR)
    }

    /// Error 108 `Directory not empty`.
    #[must_use]
    pub fn is_dir_not_empty(&self) -> bool {
        self.code() == Some(code::DIR_NOT_EMPTY)
    }

    /// Error 401: the watch must resynchronise.
    #[must_use]
    pub fn is_history_cleared(&self) -> bool {
        self.code() == Some(code::EVENT_INDEX_CLEARED)
    }
}

/// 300 `Raft Internal Error` (a proposal or quorum read timed out, no leader, busy) and 301
/// `During Leader Election`: the server could not serve the request now.
pub(crate) fn is_transient_code(error_code: u16) -> bool {
    matches!(error_code, code::RAFT_INTERNAL | code::LEADER_ELECT)
}

/// A non-v2 reply worth retrying: overload (429) or a server-side failure (5xx).
pub(crate) fn is_transient_status(status: u16) -> bool {
    status == 429 || status >= 500
}

/// Why a write's outcome is unknown.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum IndeterminateReason {
    /// No complete reply within the per-attempt timeout.
    #[error("no reply came within {timeout:?}")]
    TimedOut {
        /// The per-attempt timeout.
        timeout: Duration,
    },
    /// The connection failed (reset, closed) after the request was handed to it.
    #[error("the connection failed before a reply was read")]
    ConnectionLost {
        /// The transport failure.
        #[source]
        source: TransportError,
    },
    /// The server answered error 300 (or 301): its proposal timed out or failed, and the entry
    /// may still commit (etcd `request timed out`).
    #[error("the server answered {code}: {message} ({cause})")]
    ServerTimeout {
        /// 300 or 301.
        code: u16,
        /// etcd's text for the code.
        message: String,
        /// The server's cause, e.g. `etcdserver: request timed out`.
        cause: String,
        /// The store index in the error.
        index: StoreIndex,
    },
    /// A success reply that could not be decoded: the write was most likely applied, but its
    /// result is unknown, so the caller must settle it like any other unknown outcome.
    #[error("its reply (HTTP {status}) could not be decoded")]
    UndecodableReply {
        /// The HTTP status of the reply.
        status: u16,
        /// What could not be decoded.
        #[source]
        source: DecodeError,
    },
    /// The reply exceeded `response_bytes_max` before it could be read.
    #[error("its reply exceeds {max_bytes} bytes")]
    ReplyTooLarge {
        /// The configured bound.
        max_bytes: usize,
    },
    /// A non-v2 server failure (5xx, or 408 from a proxy or timeout layer) after the request
    /// reached the server.
    #[error("the server answered HTTP {status}: {body}")]
    ServerFailure {
        /// The HTTP status.
        status: u16,
        /// The start of the body.
        body: String,
    },
}

/// A successful reply that could not be decoded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// The body is not the expected JSON.
    #[error("invalid JSON body")]
    Json(#[from] serde_json::Error),
    /// A keys reply without a `node` (e.g. a `noValueOnSuccess` reply, which the client never
    /// asks for).
    #[error("the reply has no node")]
    MissingNode,
    /// A required header is absent.
    #[error("header {name} is missing")]
    MissingHeader {
        /// The header name.
        name: &'static str,
    },
    /// A header is not a number (or not hex, for the cluster id).
    #[error("header {name} is malformed: {value:?}")]
    InvalidHeader {
        /// The header name.
        name: &'static str,
        /// Its value, lossy.
        value: String,
    },
}

/// Arguments refused before anything was sent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RequestError {
    /// A compare-and-swap or compare-and-delete without `prevValue` or `prevIndex`: etcd
    /// would silently run a plain set or delete instead.
    #[error("a compare needs prevValue or prevIndex")]
    NoCondition,
    /// `prevIndex` 0: etcd treats it as absent, which could turn the compare into a plain
    /// write.
    #[error("prevIndex must be greater than zero")]
    ZeroPrevIndex,
    /// An endpoint given to a call (e.g. `health`) is not `http://host:port`.
    #[error("{0}")]
    Endpoint(ConfigError),
    /// The request does not make a valid URI (the client encodes keys, so this points at a
    /// bug rather than at the key).
    #[error("request path {path:?} is not a valid URI")]
    InvalidPath {
        /// The encoded path and query.
        path: String,
    },
}

/// A failure of the connection: connecting, sending, or reading the reply.
#[derive(Debug)]
pub struct TransportError {
    inner: TransportInner,
}

#[derive(Debug)]
enum TransportInner {
    /// From the pooled client: connecting or exchanging the request and response head.
    Client(hyper_util::client::legacy::Error),
    /// Reading the reply body.
    Body(hyper::Error),
    /// A watch poll answered 200 and ended without an event (the server dropped the watcher,
    /// e.g. while shutting down).
    WatchEnded,
}

impl TransportError {
    pub(crate) fn from_client(error: hyper_util::client::legacy::Error) -> TransportError {
        TransportError {
            inner: TransportInner::Client(error),
        }
    }

    pub(crate) fn from_body(error: hyper::Error) -> TransportError {
        TransportError {
            inner: TransportInner::Body(error),
        }
    }

    pub(crate) fn watch_ended() -> TransportError {
        TransportError {
            inner: TransportInner::WatchEnded,
        }
    }

    /// True when the connection could not be opened, so the request was never sent.
    #[must_use]
    pub fn is_connect(&self) -> bool {
        match &self.inner {
            TransportInner::Client(error) => error.is_connect(),
            TransportInner::Body(_) | TransportInner::WatchEnded => false,
        }
    }
}

impl fmt::Display for TransportError {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        // hyper-util's own text is terse ("client error (Connect)"); name the cause too.
        let error: &dyn std::error::Error = match &self.inner {
            TransportInner::Client(error) => error,
            TransportInner::Body(error) => error,
            TransportInner::WatchEnded => {
                return write!(formatter, "the server ended the watch without an event");
            }
        };
        write!(formatter, "{error}")?;
        let mut source = error.source();
        while let Some(cause) = source {
            write!(formatter, ": {cause}")?;
            source = cause.source();
        }
        Ok(())
    }
}

impl std::error::Error for TransportError {}
