//! What the store returns: events and node views, independent of any wire format.
//!
//! Owns: the shapes only; `tree.rs` builds them. Invariants: a `prev_node` never has `nodes`;
//! the node of a delete, compareAndDelete or expire event has no value. Must not depend on
//! JSON or HTTP: `kv-http` maps these to etcd's wire fields.

use crate::{StoreIndex, Time};
use serde::{Deserialize, Serialize};

/// The action of an event, named as etcd names them on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Action {
    /// A read.
    Get,
    /// Create or replace.
    Set,
    /// Create of a node that must not exist (also in-order create).
    Create,
    /// Replace of a node that must exist.
    Update,
    /// Conditional replace.
    CompareAndSwap,
    /// Removal.
    Delete,
    /// Conditional removal.
    CompareAndDelete,
    /// Removal by TTL expiry.
    Expire,
}

/// A node as seen at one moment. `ttl` is computed from `expiration` against the `now` that
/// produced the view, and is `None` when it would be 0 (etcd leaves the field out then).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeView {
    /// Absolute path such as `/dir/a`; `None` for the root.
    pub key: Option<String>,
    /// The value of a file; `None` for directories and for the node of delete-like events.
    pub value: Option<String>,
    /// True for directories.
    pub dir: bool,
    /// Absolute expiry, if the node has a TTL.
    pub expiration: Option<Time>,
    /// Remaining seconds, rounded up; `None` when there is no TTL or it computes to 0.
    pub ttl: Option<i64>,
    /// Children of a directory listing; `None` when not listed or when there are no visible
    /// children (etcd leaves `nodes` out for an empty directory).
    pub nodes: Option<Vec<NodeView>>,
    /// Index of the last change (0 for the root).
    pub modified_index: StoreIndex,
    /// Index of the change that created this incarnation (0 for the root).
    pub created_index: StoreIndex,
}

/// The outcome of one operation: what etcd serialises as `{"action","node","prevNode"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    /// What happened.
    pub action: Action,
    /// The node after the operation (for deletes: key, dir and indexes, no value).
    pub node: NodeView,
    /// The node before the operation, without children, when one was replaced or removed.
    pub prev_node: Option<NodeView>,
    /// True for a TTL refresh: it uses an index but is never delivered to watchers.
    pub refresh: bool,
}

impl Event {
    /// The store index of this event (`node.modifiedIndex`).
    #[must_use]
    pub fn index(&self) -> StoreIndex {
        self.node.modified_index
    }
}
