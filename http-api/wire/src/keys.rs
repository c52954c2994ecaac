//! The keys API bodies: the event envelope `{action, node, prevNode}` and the node object.
//!
//! Field order and omission rules copy etcd 3.4's `v2store.Event` and `NodeExtern`
//! (`json:"…,omitempty"` on every node field except `value`, which is a `*string`).

use crate::skip::{is_false, is_zero};
use crate::Body;
use serde::{Deserialize, Serialize};
use std::borrow::Cow;

/// The action of an event, spelled as etcd spells it on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Action {
    /// `get`
    Get,
    /// `set`
    Set,
    /// `create` (also in-order creates by POST)
    Create,
    /// `update`
    Update,
    /// `compareAndSwap`
    CompareAndSwap,
    /// `delete`
    Delete,
    /// `compareAndDelete`
    CompareAndDelete,
    /// `expire` (seen only through watches)
    Expire,
}

impl Action {
    /// The wire spelling, e.g. `compareAndSwap`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Get => "get",
            Action::Set => "set",
            Action::Create => "create",
            Action::Update => "update",
            Action::CompareAndSwap => "compareAndSwap",
            Action::Delete => "delete",
            Action::CompareAndDelete => "compareAndDelete",
            Action::Expire => "expire",
        }
    }
}

/// A keys API response: `{"action":…,"node":…,"prevNode":…}`.
///
/// `node` is `None` only for a `noValueOnSuccess` reply, which etcd shrinks to
/// `{"action":"set"}`. `prevNode` is present only when a node was replaced or removed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Envelope<'a> {
    /// What happened.
    pub action: Action,
    /// The node after the operation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node: Option<Node<'a>>,
    /// The node before the operation, without children.
    #[serde(rename = "prevNode", default, skip_serializing_if = "Option::is_none")]
    pub prev_node: Option<Node<'a>>,
}

impl Body for Envelope<'_> {
    /// etcd writes events with `json.NewEncoder(w).Encode`.
    const TRAILING_NEWLINE: bool = true;
}

/// A node: `{key, value, dir, expiration, ttl, nodes, modifiedIndex, createdIndex}`.
///
/// Omission rules (Go `omitempty`, seen on etcd 3.4.23):
/// - `key` is left out when `None` or empty (the root);
/// - `value` is written whenever it is `Some`, even `""` (files), and never for directories or
///   the node of a delete-like event;
/// - `dir` only when true;
/// - `expiration` only when the node has a TTL;
/// - `ttl` when `None` or `Some(0)` (etcd leaves out a TTL that computes to 0);
/// - `nodes` when `None` or empty (an empty directory has no `nodes` field);
/// - `modifiedIndex` and `createdIndex` when 0 (only the root has 0).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Node<'a> {
    /// Absolute path such as `/dir/a`.
    #[serde(default, skip_serializing_if = "key_absent")]
    pub key: Option<Cow<'a, str>>,
    /// The value of a file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<Cow<'a, str>>,
    /// True for directories.
    #[serde(default, skip_serializing_if = "is_false")]
    pub dir: bool,
    /// Absolute expiry in RFC 3339 (UTC, up to 9 fraction digits, trailing zeros trimmed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expiration: Option<Cow<'a, str>>,
    /// Remaining seconds, rounded up.
    #[serde(default, skip_serializing_if = "ttl_absent")]
    pub ttl: Option<i64>,
    /// Children of a directory listing.
    #[serde(default, skip_serializing_if = "nodes_absent")]
    pub nodes: Option<Vec<Node<'a>>>,
    /// Store index of the last change.
    #[serde(rename = "modifiedIndex", default, skip_serializing_if = "is_zero")]
    pub modified_index: u64,
    /// Store index of the change that created this incarnation of the node.
    #[serde(rename = "createdIndex", default, skip_serializing_if = "is_zero")]
    pub created_index: u64,
}

fn key_absent(key: &Option<Cow<'_, str>>) -> bool {
    key.as_deref().is_none_or(str::is_empty)
}

#[allow(clippy::ref_option)] // serde passes a reference
fn ttl_absent(ttl: &Option<i64>) -> bool {
    matches!(ttl, None | Some(0))
}

fn nodes_absent(nodes: &Option<Vec<Node<'_>>>) -> bool {
    nodes.as_ref().is_none_or(Vec::is_empty)
}
