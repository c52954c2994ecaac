//! The watcher hub: registered watchers, indexed by watched path.
//!
//! Owns: the watchers and their sinks. Invariants: every watcher appears exactly once in
//! `paths` and once in `locations`, so `locations.len()` is the live count and never exceeds
//! `WATCHERS_MAX`; a path entry with no watchers is removed.
//!
//! Delivery never iterates all watchers: an event on key `K` visits the recursive watchers on
//! each ancestor of `K`, all watchers on `K`, and, for the delete or expiry of a directory, the
//! watchers on paths below `K` (one ordered range of the path index). This is etcd's
//! `watcherHub.notify` walk plus its delete callback, without etcd's duplicate delivery to a
//! stream watcher on a deleted directory (spec §13 says drop it).
//!
//! Must not depend on: the tree or the history; `sink.deliver` must never block, since the hub
//! runs inside apply.

use crate::limits::WATCHERS_MAX;
use crate::matching::{event_matches, removes_subtree};
use crate::path::ancestors;
use crate::{Event, StoreError, StoreIndex, WatchSink, WatcherId};
use std::collections::BTreeMap;
use std::ops::Bound;
use std::sync::Arc;

/// One registered watcher.
struct Watcher {
    stream: bool,
    /// The first index this watcher may receive: `waitIndex`, or the index after the one at
    /// registration.
    since: StoreIndex,
    sink: Box<dyn WatchSink>,
}

/// The watchers on one path, split so ancestors are checked for recursive watchers only.
#[derive(Default)]
struct PathWatchers {
    exact: BTreeMap<WatcherId, Watcher>,
    recursive: BTreeMap<WatcherId, Watcher>,
}

impl PathWatchers {
    fn is_empty(&self) -> bool {
        self.exact.is_empty() && self.recursive.is_empty()
    }
}

/// Which watchers of a path an event may reach.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Reach {
    /// The path is a proper ancestor of the event's key.
    RecursiveOnly,
    /// The path is the event's key, or lies below a removed directory.
    All,
}

/// A watch to register.
pub(crate) struct Registration {
    pub(crate) path: String,
    pub(crate) recursive: bool,
    pub(crate) stream: bool,
    pub(crate) since: StoreIndex,
}

/// The hub.
#[derive(Default)]
pub(crate) struct Hub {
    paths: BTreeMap<String, PathWatchers>,
    locations: BTreeMap<WatcherId, (String, bool)>,
    next_id: u64,
}

impl Hub {
    /// Registered watchers.
    pub(crate) fn count(&self) -> usize {
        self.locations.len()
    }

    /// Error `WatcherLimitReached` when one more watcher would exceed `WATCHERS_MAX`.
    pub(crate) fn check_capacity(&self, index: StoreIndex) -> Result<(), StoreError> {
        if self.count() >= WATCHERS_MAX {
            return Err(StoreError::WatcherLimitReached { index });
        }
        Ok(())
    }

    /// A fresh id. Also used for a stream watcher whose sink refused its history replay: it
    /// gets an id but is never registered, and dropping its sink tells the client it ended.
    pub(crate) fn allocate_id(&mut self) -> WatcherId {
        self.next_id += 1;
        WatcherId(self.next_id)
    }

    /// Register a watcher. Error `WatcherLimitReached` when the hub is full.
    pub(crate) fn register(
        &mut self,
        registration: Registration,
        sink: Box<dyn WatchSink>,
        index: StoreIndex,
    ) -> Result<WatcherId, StoreError> {
        self.check_capacity(index)?;
        let id = self.allocate_id();
        let watcher = Watcher {
            stream: registration.stream,
            since: registration.since,
            sink,
        };
        let entry = self.paths.entry(registration.path.clone()).or_default();
        let set = if registration.recursive {
            &mut entry.recursive
        } else {
            &mut entry.exact
        };
        set.insert(id, watcher);
        self.locations
            .insert(id, (registration.path, registration.recursive));
        assert!(
            self.count() <= WATCHERS_MAX,
            "the hub stays within its bound"
        );
        Ok(id)
    }

    /// Remove a watcher; unknown ids (already ended or evicted) are ignored.
    pub(crate) fn unwatch(&mut self, id: WatcherId) {
        let Some((path, recursive)) = self.locations.remove(&id) else {
            return;
        };
        let entry = self
            .paths
            .get_mut(&path)
            .expect("every located watcher has a path entry");
        let removed = if recursive {
            entry.recursive.remove(&id)
        } else {
            entry.exact.remove(&id)
        };
        assert!(
            removed.is_some(),
            "every located watcher is in its path entry"
        );
        if entry.is_empty() {
            self.paths.remove(&path);
        }
    }

    /// Offer an event to every watcher it matches. A non-stream watcher ends after its event;
    /// a watcher whose sink refuses is evicted (etcd closes a full watcher's channel too).
    pub(crate) fn notify(&mut self, event: &Arc<Event>) {
        if event.refresh || self.paths.is_empty() {
            return;
        }
        let Some(key) = event.node.key.as_deref() else {
            return;
        };
        for ancestor in ancestors(key) {
            self.notify_path(ancestor, event, Reach::RecursiveOnly);
        }
        self.notify_path(key, event, Reach::All);
        if removes_subtree(event) {
            let prefix = format!("{key}/");
            let below: Vec<String> = self
                .paths
                .range::<str, _>((Bound::Included(prefix.as_str()), Bound::Unbounded))
                .take_while(|(path, _)| path.starts_with(&prefix))
                .map(|(path, _)| path.clone())
                .collect();
            for path in below {
                self.notify_path(&path, event, Reach::All);
            }
        }
    }

    fn notify_path(&mut self, path: &str, event: &Arc<Event>, reach: Reach) {
        let Some(entry) = self.paths.get_mut(path) else {
            return;
        };
        let mut ended = Vec::new();
        if event_matches(event, path, true) {
            deliver(&mut entry.recursive, event, &mut ended);
        }
        if reach == Reach::All && event_matches(event, path, false) {
            deliver(&mut entry.exact, event, &mut ended);
        }
        if entry.is_empty() {
            self.paths.remove(path);
        }
        for id in ended {
            let located = self.locations.remove(&id);
            assert!(located.is_some(), "every ended watcher was located");
        }
    }
}

/// Offer `event` to each watcher in `watchers` that is waiting for its index, keeping only
/// the ones that stay registered; the ids of the others go to `ended`.
fn deliver(
    watchers: &mut BTreeMap<WatcherId, Watcher>,
    event: &Arc<Event>,
    ended: &mut Vec<WatcherId>,
) {
    watchers.retain(|id, watcher| {
        if event.index() < watcher.since {
            return true;
        }
        let accepted = watcher.sink.deliver(Arc::clone(event));
        let keep = accepted && watcher.stream;
        if !keep {
            ended.push(*id);
        }
        keep
    });
}
