//! The store: the tree, the store index, the history, the hub and the counters behind the
//! public API.
//!
//! Owns: the store index and the order of every mutation: validate (nothing changes on
//! error), take the next index, change the tree, advance the index, then record the event in
//! history and offer it to watchers. Invariants: the store index strictly increases by one per
//! successful mutation, expired node and refresh; the newest history event carries the current
//! index.
//!
//! Must not depend on: a clock, randomness, I/O, or anything outside this crate.

mod apply;
mod save;

use crate::hash::Fnv1a;
use crate::history::History;
use crate::hub::{Hub, Registration};
use crate::matching::event_matches;
use crate::path::{clean, ROOT};
use crate::stats::{Counter, Counters};
use crate::tree::{removed_view, view, Content, Listing, Tree};
use crate::{
    Action, Event, Mutation, StoreError, StoreIndex, Time, WatchRequest, WatchSink, WatchStart,
    WatcherId,
};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

/// Operation counters, as etcd's `/v2/stats/store` reports them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct StoreStats {
    /// Successful gets.
    pub gets_success: u64,
    /// Failed gets.
    pub gets_fail: u64,
    /// Successful sets.
    pub sets_success: u64,
    /// Failed sets.
    pub sets_fail: u64,
    /// Successful deletes.
    pub delete_success: u64,
    /// Failed deletes.
    pub delete_fail: u64,
    /// Successful updates.
    pub update_success: u64,
    /// Failed updates.
    pub update_fail: u64,
    /// Successful creates (in-order creates included).
    pub create_success: u64,
    /// Failed creates.
    pub create_fail: u64,
    /// Successful compare-and-swaps.
    pub compare_and_swap_success: u64,
    /// Failed compare-and-swaps.
    pub compare_and_swap_fail: u64,
    /// Successful compare-and-deletes.
    pub compare_and_delete_success: u64,
    /// Failed compare-and-deletes.
    pub compare_and_delete_fail: u64,
    /// Nodes removed by expiry.
    pub expire_count: u64,
    /// Watchers registered now.
    pub watchers: u64,
}

/// The etcd v2 store.
///
/// `apply` and `expire` take `&mut self`; reads and watch registration take `&self`. The hub
/// has its own std `Mutex` because `watch`/`unwatch` run under the caller's read lock: nothing
/// inside it blocks or awaits (sinks never block), and its critical sections are short.
pub struct Store {
    tree: Tree,
    index: StoreIndex,
    history: History,
    hub: Mutex<Hub>,
    counters: Counters,
}

impl Default for Store {
    fn default() -> Store {
        Store::new()
    }
}

impl std::fmt::Debug for Store {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("Store")
            .field("index", &self.index)
            .field("history_len", &self.history.len())
            .field("watchers", &self.lock_hub().count())
            .finish_non_exhaustive()
    }
}

impl Store {
    /// An empty store at index 0.
    #[must_use]
    pub fn new() -> Store {
        Store::from_parts(Tree::new(), StoreIndex(0), History::new())
    }

    fn from_parts(tree: Tree, index: StoreIndex, history: History) -> Store {
        Store {
            tree,
            index,
            history,
            hub: Mutex::new(Hub::default()),
            counters: Counters::default(),
        }
    }

    /// The current store index.
    #[must_use]
    pub fn index(&self) -> StoreIndex {
        self.index
    }

    /// Read a node. `now` only computes `ttl` fields. A directory lists its visible children
    /// (its whole visible subtree when `recursive`). Children are always in byte order of their
    /// keys, which is what `sorted` asks for, so `sorted` changes nothing here.
    ///
    /// # Errors
    /// `KeyNotFound` (cause: first missing prefix), `NotADirectory` (path through a file).
    pub fn get(
        &self,
        path: &str,
        recursive: bool,
        sorted: bool,
        now: Time,
    ) -> Result<Event, StoreError> {
        let _ = sorted;
        let path = clean(path);
        let listing = if recursive {
            Listing::Subtree
        } else {
            Listing::Children
        };
        let result = self.tree.find(&path, self.index).map(|node| {
            let key = (path != ROOT).then(|| path.to_string());
            Event {
                action: Action::Get,
                node: view(node, key, listing, now),
                prev_node: None,
                refresh: false,
            }
        });
        self.counters
            .outcome(result.is_ok(), Counter::GetsSuccess, Counter::GetsFail);
        result
    }

    /// Apply one mutation. `now` is the proposer's time carried in the command; it is used only
    /// to compute `ttl` fields of the returned event. Successful events are recorded in
    /// history and, unless they are refreshes, offered to matching watchers.
    ///
    /// # Errors
    /// The etcd domain errors of the operation; a failed mutation changes nothing.
    ///
    /// # Panics
    /// If the store index would pass `u64::MAX`, or an internal invariant is broken.
    pub fn apply(&mut self, mutation: &Mutation, now: Time) -> Result<Event, StoreError> {
        let event = self.apply_mutation(mutation, now)?;
        self.publish(&event);
        Ok(event)
    }

    /// Remove every node whose expiry is at or before `now`, one index and one `expire` event
    /// each (a directory goes with its subtree in one event), earliest expiry first and by path
    /// among equal expiries.
    ///
    /// # Panics
    /// If the store index would pass `u64::MAX`, or an internal invariant is broken.
    pub fn expire(&mut self, now: Time) -> Vec<Event> {
        let mut events = Vec::new();
        while let Some(path) = self.tree.first_expired(now) {
            let pending = self.tree.expiry_count();
            let event = self.expire_one(&path, now);
            assert!(
                self.tree.expiry_count() < pending,
                "each expiry removes at least its own entry"
            );
            self.publish(&event);
            events.push(event);
        }
        events
    }

    /// etcd's `DeleteExpiredKeys` body for one node: `node` has key, dir and indexes only,
    /// `prevNode` is the old node with its expiration.
    fn expire_one(&mut self, path: &str, now: Time) -> Event {
        let next = self.next_index();
        let node = self
            .tree
            .find(path, self.index)
            .expect("every expiry entry names an existing node");
        let event = Event {
            action: Action::Expire,
            node: removed_view(path, node, next),
            prev_node: Some(view(node, Some(path.to_owned()), Listing::Bare, now)),
            refresh: false,
        };
        self.tree.remove(path);
        self.advance(next);
        self.counters.add(Counter::ExpireCount);
        event
    }

    /// The earliest expiry in the tree, so the leader proposes an expiry only when due.
    #[must_use]
    pub fn next_expiry(&self) -> Option<Time> {
        self.tree.next_expiry()
    }

    /// Register a watch (takes `&self`: the hub has its own lock, and callers hold the store's
    /// read lock so no apply can run between the history scan and the registration).
    ///
    /// A non-stream watch with a matching kept event at or after `since` is answered at once
    /// (`Done`). A stream watch gets every matching kept event at or after `since` delivered
    /// to its sink first; if the sink refuses one, the watcher is not registered, its sink is
    /// dropped, and the returned id is already unknown to `unwatch`.
    ///
    /// # Errors
    /// `EventIndexCleared` when `since` is older than the history window;
    /// `WatcherLimitReached` when the hub is full.
    pub fn watch(
        &self,
        request: &WatchRequest,
        sink: Box<dyn WatchSink>,
    ) -> Result<WatchStart, StoreError> {
        let index = self.index;
        let path = clean(&request.path).into_owned();
        let requested = request.since.filter(|since| since.0 != 0);
        if let Some(since) = requested {
            self.history.check_answerable(since, index)?;
        }
        // etcd's `Store.Watch`: no `waitIndex` means "from the next index on".
        let since = requested.unwrap_or(StoreIndex(index.0.saturating_add(1)));
        let mut replay = self
            .history
            .since(since)
            .filter(|event| event_matches(event, &path, request.recursive));
        let mut hub = self.lock_hub();
        if request.stream {
            hub.check_capacity(index)?;
            for event in replay {
                if !sink.deliver(Arc::clone(event)) {
                    let id = hub.allocate_id();
                    return Ok(WatchStart::Registered { id, index });
                }
            }
        } else if let Some(event) = replay.next() {
            let event = Arc::clone(event);
            return Ok(WatchStart::Done { event, index });
        }
        let registration = Registration {
            path,
            recursive: request.recursive,
            stream: request.stream,
            since,
        };
        let id = hub.register(registration, sink, index)?;
        Ok(WatchStart::Registered { id, index })
    }

    /// Remove a watcher; unknown ids are ignored.
    pub fn unwatch(&self, id: WatcherId) {
        self.lock_hub().unwatch(id);
    }

    /// Counters for `/v2/stats/store`.
    #[must_use]
    pub fn stats(&self) -> StoreStats {
        let watchers = self.lock_hub().count() as u64;
        self.counters.snapshot(watchers)
    }

    /// A hash of the tree and index, to compare replicas in tests and the simulator. FNV-1a
    /// over the index and every node in pre-order, so it is the same on every platform.
    #[must_use]
    pub fn content_hash(&self) -> u64 {
        let mut hasher = Fnv1a::new();
        hasher.write_u64(self.index.0);
        self.tree.for_each(|path, node| {
            hasher.write_str(path);
            hasher.write_u64(node.created_index.0);
            hasher.write_u64(node.modified_index.0);
            match node.expiration {
                Some(expiry) => {
                    hasher.write_bytes(&[1]);
                    hasher.write_bytes(&expiry.0.to_le_bytes());
                }
                None => hasher.write_bytes(&[0]),
            }
            match &node.content {
                Content::File(value) => {
                    hasher.write_bytes(&[0]);
                    hasher.write_str(value);
                }
                Content::Dir(_) => hasher.write_bytes(&[1]),
            }
        });
        hasher.finish()
    }

    /// The index the next mutation will take.
    fn next_index(&self) -> StoreIndex {
        let next =
            self.index.0.checked_add(1).expect(
                "store index below u64::MAX: one index per mutation cannot exhaust 64 bits",
            );
        StoreIndex(next)
    }

    /// Commit the index taken by `next_index`, once the tree holds the change.
    fn advance(&mut self, next: StoreIndex) {
        assert!(next > self.index, "the store index strictly increases");
        assert!(
            next.0 == self.index.0 + 1,
            "a mutation takes exactly one index"
        );
        self.index = next;
    }

    /// Record a successful event and offer it to watchers. Refreshes are recorded (they hold
    /// an index, as in etcd's `watcherHub.add`) but never offered.
    fn publish(&mut self, event: &Event) {
        assert!(
            event.index() == self.index,
            "an event carries the index it took"
        );
        let shared = Arc::new(event.clone());
        self.history.push(Arc::clone(&shared));
        if !shared.refresh {
            self.hub
                .get_mut()
                .unwrap_or_else(PoisonError::into_inner)
                .notify(&shared);
        }
    }

    /// The hub. A panic in a sink while the lock was held leaves the hub consistent (each
    /// watcher is removed or kept whole), so a poisoned lock is taken over, not propagated.
    fn lock_hub(&self) -> MutexGuard<'_, Hub> {
        self.hub.lock().unwrap_or_else(PoisonError::into_inner)
    }
}
