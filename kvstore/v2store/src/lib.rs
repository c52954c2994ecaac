//! The etcd v2 key tree as a pure state machine.
//!
//! Owns: the tree of keys and directories, the store index (`modifiedIndex`), TTL bookkeeping,
//! the 1000-event history and the watcher hub, and save/recover of the whole tree.
//!
//! Invariants: apply is a pure function of (state, mutation, the `now` carried in the command):
//! no clock, no randomness, no I/O, and children live in a `BTreeMap` so iteration order is
//! deterministic. The store index strictly increases with every successful mutation.
//!
//! Must not depend on: raft, tokio, HTTP, JSON, RocksDB, or any other workspace crate.

mod error;
mod hash;
mod history;
mod hub;
pub mod limits;
mod matching;
mod mutation;
mod path;
mod stats;
mod store;
mod time;
mod tree;
mod view;
mod watch;

#[cfg(test)]
mod tests;

pub use error::StoreError;
pub use hash::Fnv1a;
pub use mutation::Mutation;
pub use store::{Store, StoreStats};
pub use time::Time;
pub use view::{Action, Event, NodeView};
pub use watch::{WatchRequest, WatchSink, WatchStart, WatcherId};

use serde::{Deserialize, Serialize};

/// The etcd index: `modifiedIndex`, `createdIndex` and the `X-Etcd-Index` header. Bumped by
/// exactly one for each successful mutation (and each expired node).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
pub struct StoreIndex(pub u64);
