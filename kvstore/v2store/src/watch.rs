//! The public watch types: requests, sinks, ids and what `Store::watch` did.
//!
//! Owns: the contract between the store and whoever consumes events. The hub itself is in
//! `hub.rs` and the history in `history.rs`. Must not depend on any transport.

use crate::{Event, StoreIndex};
use std::sync::Arc;

/// Where a watcher's events go. Implemented outside the store (for example by a bounded
/// channel); `deliver` must never block and must not call back into the store (it runs inside
/// apply, and under the hub's lock during `watch`). Dropping the sink is how the consumer
/// learns that the watcher ended or was evicted.
pub trait WatchSink: Send + Sync {
    /// Offer one event. Returns false when the receiver is full or gone: the hub then evicts
    /// the watcher (the client re-watches from its last index), so apply never waits.
    fn deliver(&self, event: Arc<Event>) -> bool;
}

/// Identifies a registered watcher, for `Store::unwatch`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct WatcherId(pub u64);

/// A watch as the client asked for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WatchRequest {
    /// The watched path (cleaned absolute path).
    pub path: String,
    /// Also match events below `path`.
    pub recursive: bool,
    /// Keep delivering events (`stream=true`) instead of ending after the first.
    pub stream: bool,
    /// `waitIndex`; `None` (or 0) means "the next event after now".
    pub since: Option<StoreIndex>,
}

/// What `Store::watch` did.
#[derive(Debug)]
pub enum WatchStart {
    /// A non-stream watch was answered from history at once; nothing was registered.
    Done {
        /// The event to return.
        event: Arc<Event>,
        /// The store index when the watch was made (`X-Etcd-Index`).
        index: StoreIndex,
    },
    /// The watcher is registered. Matching history events (stream watches) were already
    /// delivered to the sink, in index order, before any live event.
    Registered {
        /// Pass to `Store::unwatch` when the client goes away.
        id: WatcherId,
        /// The store index when the watch was made (`X-Etcd-Index`).
        index: StoreIndex,
    },
}
