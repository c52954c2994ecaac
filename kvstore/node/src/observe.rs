//! What the raft thread measures as it goes, for metrics: a port, so this crate depends on
//! no metrics library (`kv-http` implements it with Prometheus histograms). The counters and
//! gauges that need no distribution live in [`crate::Progress`] as atomics.

use crate::ids::NodeId;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

/// Durations the raft thread reports. It calls them on its own thread, between two steps
/// of its loop: every method must return at once and never block.
pub trait Observer: Send + Sync {
    /// A synced write of log entries and hard state (the log's fsync) took `took`.
    fn synced_write(&self, took: Duration);
    /// `peer` answered a heartbeat `took` after this member, as leader, sent it.
    fn heartbeat_round_trip(&self, peer: NodeId, took: Duration);
}

/// The observer of a member, set at most once before its raft thread starts.
#[derive(Default)]
pub struct ObserverSlot(OnceLock<Arc<dyn Observer>>);

impl ObserverSlot {
    /// Sets the observer; false when one was set already (the first stays).
    pub fn set(&self, observer: Arc<dyn Observer>) -> bool {
        self.0.set(observer).is_ok()
    }

    /// The observer, when one is set.
    pub fn get(&self) -> Option<&Arc<dyn Observer>> {
        self.0.get()
    }
}

impl std::fmt::Debug for ObserverSlot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.get().is_some() {
            "ObserverSlot(set)"
        } else {
            "ObserverSlot(empty)"
        })
    }
}
