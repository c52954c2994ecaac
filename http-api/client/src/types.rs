//! The typed results of the keys API: index newtypes, [`Node`], [`Response`] and watch
//! [`Event`]s, converted from `kv-wire`'s envelope plus the response headers.
//!
//! Invariant: every value here is owned, so results outlive the reply buffer and can be sent
//! across tasks. Must not depend on the transport; conversion is pure.

use kv_wire::Action;
use std::fmt;

/// The etcd index: `modifiedIndex`, `createdIndex` and the `X-Etcd-Index` header.
///
/// One cluster-wide counter bumped by every successful mutation; clients never assume where it
/// starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct StoreIndex(pub u64);

impl StoreIndex {
    /// The index after this one, the `waitIndex` that resumes a watch just past it.
    #[must_use]
    pub fn next(self) -> StoreIndex {
        StoreIndex(self.0.saturating_add(1))
    }
}

impl fmt::Display for StoreIndex {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "{}", self.0)
    }
}

/// The raft committed index (`X-Raft-Index`); informational.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct RaftIndex(pub u64);

/// The raft term (`X-Raft-Term`); informational.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Term(pub u64);

/// The cluster id (`X-Etcd-Cluster-Id`), sent as lowercase hex.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ClusterId(pub u64);

impl fmt::Display for ClusterId {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "{:x}", self.0)
    }
}

/// A node of the key tree: a file (with a value) or a directory (with children).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Node {
    /// Absolute path such as `/dir/a`; `/` for the root (etcd leaves the root's key out).
    pub key: String,
    /// The value of a file; `None` for directories and for the node of a delete or expire.
    pub value: Option<String>,
    /// True for directories.
    pub dir: bool,
    /// Absolute expiry as etcd writes it (RFC 3339, UTC), when the node has a TTL.
    pub expiration: Option<String>,
    /// Remaining seconds, rounded up, when the node has a TTL (briefly 0 or negative while an
    /// expired node awaits the sweep).
    pub ttl: Option<i64>,
    /// Children of a directory listing (immediate ones, or the subtree with `recursive`).
    /// Empty for files and empty directories.
    pub nodes: Vec<Node>,
    /// The index of the last change to this node; 0 only for the root.
    pub modified_index: StoreIndex,
    /// The index of the change that created this incarnation of the node; 0 only for the root.
    pub created_index: StoreIndex,
}

impl From<kv_wire::Node<'static>> for Node {
    fn from(wire: kv_wire::Node<'static>) -> Node {
        let key = match wire.key {
            Some(key) if !key.is_empty() => key.into_owned(),
            _ => "/".to_owned(),
        };
        Node {
            key,
            value: wire.value.map(std::borrow::Cow::into_owned),
            dir: wire.dir,
            expiration: wire.expiration.map(std::borrow::Cow::into_owned),
            ttl: wire.ttl,
            nodes: wire
                .nodes
                .unwrap_or_default()
                .into_iter()
                .map(Node::from)
                .collect(),
            modified_index: StoreIndex(wire.modified_index),
            created_index: StoreIndex(wire.created_index),
        }
    }
}

/// The reply to a keys operation: the event body plus the response headers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// What the server did (`get`, `set`, `create`, `compareAndSwap`, ...).
    pub action: Action,
    /// The node after the operation (for a delete: the deleted node, without its value).
    pub node: Node,
    /// The node before the operation, when one was replaced or removed.
    pub prev_node: Option<Node>,
    /// `X-Etcd-Index`: the store index after the operation. After a GET, watching from
    /// `etcd_index.next()` misses no later change.
    pub etcd_index: StoreIndex,
    /// `X-Raft-Index`; `RaftIndex(0)` when the server did not send it.
    pub raft_index: RaftIndex,
    /// `X-Raft-Term`; `Term(0)` when the server did not send it.
    pub raft_term: Term,
    /// `X-Etcd-Cluster-Id`, when sent and well-formed.
    pub cluster_id: Option<ClusterId>,
}

/// One change delivered by a watch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// What happened (`set`, `delete`, `expire`, ...).
    pub action: Action,
    /// The node after the change; `node.modified_index` is the event's index.
    pub node: Node,
    /// The node before the change, when there was one.
    pub prev_node: Option<Node>,
}

impl Event {
    /// The store index of this event.
    #[must_use]
    pub fn index(&self) -> StoreIndex {
        self.node.modified_index
    }
}
