//! The event history: a ring of the most recent events, for `waitIndex` replay.
//!
//! Owns: the ring. Invariant: event indexes strictly increase front to back, and the ring
//! never holds more than `WATCH_HISTORY_MAX` events. Every successful mutation (refreshes
//! included, as etcd's `watcherHub.add` records them) is one index and one event, so the ring
//! covers exactly the last `WATCH_HISTORY_MAX` indexes and the oldest answerable `waitIndex`
//! is `current - 999`, as in etcd.
//!
//! Must not depend on: the tree or the hub.

use crate::limits::WATCH_HISTORY_MAX;
use crate::{Event, StoreError, StoreIndex};
use std::collections::VecDeque;
use std::sync::Arc;

/// The last `WATCH_HISTORY_MAX` events, oldest first.
#[derive(Debug, Clone, Default)]
pub(crate) struct History {
    events: VecDeque<Arc<Event>>,
}

impl History {
    pub(crate) fn new() -> History {
        History {
            events: VecDeque::with_capacity(WATCH_HISTORY_MAX),
        }
    }

    /// Append the newest event, dropping the oldest when the ring is full.
    pub(crate) fn push(&mut self, event: Arc<Event>) {
        if let Some(last) = self.events.back() {
            assert!(
                event.index() > last.index(),
                "history indexes strictly increase"
            );
        }
        if self.events.len() == WATCH_HISTORY_MAX {
            self.events.pop_front();
        }
        self.events.push_back(event);
        assert!(
            self.events.len() <= WATCH_HISTORY_MAX,
            "history stays within its bound"
        );
    }

    /// The index of the oldest kept event.
    pub(crate) fn oldest(&self) -> Option<StoreIndex> {
        self.events.front().map(|event| event.index())
    }

    /// etcd's `EventHistory.scan` precondition: a `waitIndex` older than the oldest kept event
    /// gets 401 with etcd's exact cause text and the current index.
    pub(crate) fn check_answerable(
        &self,
        since: StoreIndex,
        current: StoreIndex,
    ) -> Result<(), StoreError> {
        match self.oldest() {
            Some(oldest) if since < oldest => Err(StoreError::EventIndexCleared {
                cause: format!(
                    "the requested history has been cleared [{}/{}]",
                    oldest.0, since.0
                ),
                index: current,
            }),
            _ => Ok(()),
        }
    }

    /// Kept events with index `>= since`, oldest first.
    pub(crate) fn since(&self, since: StoreIndex) -> impl Iterator<Item = &Arc<Event>> {
        let start = self.events.partition_point(|event| event.index() < since);
        self.events.range(start..)
    }

    /// All kept events, oldest first (for save).
    pub(crate) fn iter(&self) -> impl Iterator<Item = &Arc<Event>> {
        self.events.iter()
    }

    pub(crate) fn len(&self) -> usize {
        self.events.len()
    }
}
