//! Turning a reply (status, headers, body) into a typed result or a typed failure.
//!
//! Pure: no I/O, so every shape is tested from exact etcd bytes. A failure here is a
//! [`ReplyError`], classified later against the request kind (`client.rs`), because the same
//! reply means different things for a read (retry elsewhere) and a write (report).

use crate::error::DecodeError;
use crate::limits::ERROR_BODY_EXCERPT_MAX;
use crate::types::{ClusterId, Event, Node, RaftIndex, Response, StoreIndex, Term};
use bytes::Bytes;
use hyper::HeaderMap;
use kv_wire::{header, Envelope, ErrorBody};
use serde::de::DeserializeOwned;

/// A complete reply as read from the wire.
#[derive(Debug, Clone)]
pub(crate) struct RawReply {
    pub(crate) status: u16,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Bytes,
}

/// A reply with no headers, for unit tests of reply handling.
#[cfg(test)]
pub(crate) fn test_reply(status: u16, body: &'static str) -> RawReply {
    RawReply {
        status,
        headers: HeaderMap::new(),
        body: Bytes::from_static(body.as_bytes()),
    }
}

/// A reply that is not the success the caller wanted.
#[derive(Debug)]
pub(crate) enum ReplyError {
    /// A v2 error object.
    Etcd {
        code: u16,
        message: String,
        cause: String,
        index: StoreIndex,
    },
    /// Any other non-success reply.
    Http { status: u16, body: String },
    /// A success reply that does not decode.
    Decode(DecodeError),
}

impl From<DecodeError> for ReplyError {
    fn from(error: DecodeError) -> ReplyError {
        ReplyError::Decode(error)
    }
}

fn is_success(status: u16) -> bool {
    (200..300).contains(&status)
}

/// The failure carried by a non-success reply: the v2 error object when the body is one,
/// otherwise the status with the start of the body.
pub(crate) fn failure(reply: &RawReply) -> ReplyError {
    if let Ok(error) = serde_json::from_slice::<ErrorBody<'static>>(&reply.body) {
        return ReplyError::Etcd {
            code: error.error_code,
            message: error.message.into_owned(),
            cause: error.cause.into_owned(),
            index: StoreIndex(error.index),
        };
    }
    ReplyError::Http {
        status: reply.status,
        body: excerpt(&reply.body),
    }
}

/// The start of a body as text, for error messages.
pub(crate) fn excerpt(body: &[u8]) -> String {
    let cut = body.len().min(ERROR_BODY_EXCERPT_MAX);
    String::from_utf8_lossy(&body[..cut]).trim_end().to_owned()
}

/// A keys reply: the envelope plus the index headers.
pub(crate) fn keys_response(reply: &RawReply) -> Result<Response, ReplyError> {
    if !is_success(reply.status) {
        return Err(failure(reply));
    }
    let envelope: Envelope<'static> =
        serde_json::from_slice(&reply.body).map_err(DecodeError::from)?;
    let node = envelope.node.ok_or(DecodeError::MissingNode)?;
    let etcd_index =
        index_header(&reply.headers, header::ETCD_INDEX)?.ok_or(DecodeError::MissingHeader {
            name: header::ETCD_INDEX,
        })?;
    let raft_index = index_header(&reply.headers, header::RAFT_INDEX)?.unwrap_or(0);
    let raft_term = index_header(&reply.headers, header::RAFT_TERM)?.unwrap_or(0);
    Ok(Response {
        action: envelope.action,
        node: Node::from(node),
        prev_node: envelope.prev_node.map(Node::from),
        etcd_index: StoreIndex(etcd_index),
        raft_index: RaftIndex(raft_index),
        raft_term: Term(raft_term),
        cluster_id: cluster_id(&reply.headers),
    })
}

/// One watch event body. `Ok(None)` for an empty body: the server ended the long-poll without
/// an event (watcher evicted, server shutting down).
pub(crate) fn watch_event(body: &[u8]) -> Result<Option<Event>, DecodeError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    let envelope: Envelope<'static> = serde_json::from_slice(body)?;
    let node = envelope.node.ok_or(DecodeError::MissingNode)?;
    Ok(Some(Event {
        action: envelope.action,
        node: Node::from(node),
        prev_node: envelope.prev_node.map(Node::from),
    }))
}

/// A JSON body of another endpoint (members, version, leader).
pub(crate) fn json<T: DeserializeOwned>(reply: &RawReply) -> Result<T, ReplyError> {
    if !is_success(reply.status) {
        return Err(failure(reply));
    }
    Ok(serde_json::from_slice(&reply.body).map_err(DecodeError::from)?)
}

/// A decimal index header; `Ok(None)` when absent.
pub(crate) fn index_header(
    headers: &HeaderMap,
    name: &'static str,
) -> Result<Option<u64>, DecodeError> {
    let Some(value) = headers.get(name) else {
        return Ok(None);
    };
    let invalid = || DecodeError::InvalidHeader {
        name,
        value: String::from_utf8_lossy(value.as_bytes()).into_owned(),
    };
    let text = value.to_str().map_err(|_| invalid())?;
    text.trim().parse::<u64>().map(Some).map_err(|_| invalid())
}

/// `X-Etcd-Cluster-Id` (lowercase hex); `None` when absent or malformed, since it is only
/// informational.
fn cluster_id(headers: &HeaderMap) -> Option<ClusterId> {
    let text = headers.get(header::ETCD_CLUSTER_ID)?.to_str().ok()?;
    u64::from_str_radix(text.trim(), 16).ok().map(ClusterId)
}

#[cfg(test)]
#[path = "decode_tests.rs"]
mod tests;
