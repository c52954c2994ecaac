//! The replicated mutations: what a proposer decides before consensus, as plain data.
//!
//! Owns: the mutation shapes. Invariant: a mutation carries everything apply needs (absolute
//! expiries, not relative TTLs), so replicas agree. Must not depend on the HTTP parameters
//! that chose the operation (spec §5.2's table lives in `kv-http`).

use crate::{StoreIndex, Time};
use serde::{Deserialize, Serialize};

/// A write to the tree. Paths are already cleaned absolute paths (`/`, `/a`, `/a/b`), as the
/// HTTP layer produces them. Relative TTLs have already been turned into absolute expiries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Mutation {
    /// etcd `set`: create or replace a file, or create a directory (`dir`).
    Set {
        /// Target path.
        path: String,
        /// New value (ignored when `dir`).
        value: String,
        /// Create a directory instead of a file.
        dir: bool,
        /// Absolute expiry; `None` makes the node permanent.
        expire_at: Option<Time>,
        /// TTL refresh: keep the value, reset the expiry, never notify watchers.
        refresh: bool,
    },
    /// etcd `create` (`prevExist=false`), or an in-order create under `path` (POST).
    Create {
        /// Target path; for `in_order`, the parent directory.
        path: String,
        /// New value (ignored when `dir`).
        value: String,
        /// Create a directory instead of a file.
        dir: bool,
        /// Absolute expiry.
        expire_at: Option<Time>,
        /// Name the new child with the new index as 20 zero-padded digits.
        in_order: bool,
    },
    /// etcd `update` (`prevExist=true`).
    Update {
        /// Target path.
        path: String,
        /// New value; on a directory only an empty value is allowed.
        value: String,
        /// Absolute expiry; `None` removes any TTL.
        expire_at: Option<Time>,
        /// TTL refresh.
        refresh: bool,
    },
    /// etcd `compareAndSwap`.
    CompareAndSwap {
        /// Target path.
        path: String,
        /// New value.
        value: String,
        /// Required current value, if any.
        prev_value: Option<String>,
        /// Required current `modifiedIndex`, if any.
        prev_index: Option<StoreIndex>,
        /// Absolute expiry; `None` removes any TTL.
        expire_at: Option<Time>,
        /// TTL refresh.
        refresh: bool,
    },
    /// etcd `delete`.
    Delete {
        /// Target path.
        path: String,
        /// Allow deleting an (empty) directory.
        dir: bool,
        /// Delete a directory with all its contents (implies `dir`).
        recursive: bool,
    },
    /// etcd `compareAndDelete`.
    CompareAndDelete {
        /// Target path.
        path: String,
        /// Required current value, if any.
        prev_value: Option<String>,
        /// Required current `modifiedIndex`, if any.
        prev_index: Option<StoreIndex>,
    },
}
