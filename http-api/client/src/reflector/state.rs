//! The reflector's pure core: applies list results and watch events, in order, to the cached
//! map, tracks what changed since the last publish, and builds each published [`Cache`].
//!
//! Owns every state change of a reflector; the task (`task.rs`) only feeds it and sends what
//! it builds. No I/O, no tokio, no clock: instants arrive as arguments.
//!
//! Which keys are cached, and what each action does at each place relative to the prefix, is
//! the table in the `reflector` module docs; `apply` is that table, arm by arm. Keys are
//! compared segment-wise (`/ab` is not below `/a`), and "hidden" is etcd's v2 store rule (a
//! name starting with `_`, below the watched path: `isHidden` in etcd's `watcher_hub.go`).
//!
//! Invariants: `index` only grows through events (an event at or below it is a duplicate and
//! is ignored); a refused list or event (more keys than `keys_max`) leaves the state exactly as
//! it was; `pending` names every key changed since the last publish, or is `All`.

use super::cache::{Cache, Changes, Entries, Entry, Health};
use crate::limits::REFLECTOR_CHANGED_KEYS_MAX;
use crate::types::{Event, Node, StoreIndex};
use kv_wire::Action;
use std::collections::BTreeSet;
use std::ops::Bound;
use std::sync::Arc;
use std::time::Instant;

/// The result of a recursive GET of the prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Listing {
    /// The node at the prefix with its subtree; `None` when the prefix does not exist
    /// (error 100).
    pub(crate) node: Option<Node>,
    /// `X-Etcd-Index` of the reply, or the index of the error 100.
    pub(crate) index: StoreIndex,
}

/// A list or an event the cache refused; the state is unchanged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub(crate) enum ApplyError {
    /// Caching it would hold more files than `keys_max`.
    #[error("more than keys_max = {keys_max} files under the prefix")]
    TooManyKeys {
        /// The bound.
        keys_max: usize,
    },
}

/// What one event did to the cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Applied {
    /// A file was stored.
    Stored,
    /// This many files were removed (0 when none was cached).
    Removed { keys: usize },
    /// The cache did not change, for this reason.
    Ignored(Ignored),
}

/// Why an event left the cache as it was.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ignored {
    /// Its index is at or below the cache's index: already applied or listed.
    Duplicate,
    /// Its key is neither at, below, nor (for a removal) above the prefix.
    OutsidePrefix,
    /// Its key has a hidden segment below the prefix.
    Hidden,
    /// A directory was written where no file was cached.
    Directory,
    /// Its action changes nothing (`get`).
    NotAChange,
}

/// Where a key lies relative to the prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Place {
    /// The prefix itself, or below it with no hidden segment.
    Inside,
    /// Below the prefix, with a hidden segment.
    Hidden,
    /// A proper ancestor of the prefix.
    Ancestor,
    Outside,
}

/// The state of one reflector between publishes.
#[derive(Debug)]
pub(crate) struct Core {
    prefix: Arc<str>,
    keys_max: usize,
    /// Shared with the last published cache until the next change copies it.
    entries: Arc<Entries>,
    index: StoreIndex,
    generation: u64,
    list_count: u64,
    health: Health,
    /// What changed since the last publish.
    pending: Changes,
    /// Something to publish: entries, health or a re-list.
    dirty: bool,
}

impl Core {
    /// An empty, stale core for `prefix` (cleaned by the caller), started at `started`.
    pub(crate) fn new(prefix: &str, keys_max: usize, started: Instant) -> Core {
        Core {
            prefix: Arc::from(prefix),
            keys_max,
            entries: Arc::new(Entries::new()),
            index: StoreIndex(0),
            generation: 0,
            list_count: 0,
            health: Health::Stale { since: started },
            pending: Changes::All,
            dirty: false,
        }
    }

    pub(crate) fn prefix(&self) -> &str {
        &self.prefix
    }

    pub(crate) fn index(&self) -> StoreIndex {
        self.index
    }

    pub(crate) fn list_count(&self) -> u64 {
        self.list_count
    }

    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    /// Replaces the whole cache with `listing`, which becomes the position watched from, and
    /// marks it synced. The changes are the difference to the old cache (all, for the first).
    ///
    /// # Errors
    /// [`ApplyError::TooManyKeys`]; the state is then unchanged.
    pub(crate) fn relist(&mut self, listing: Listing) -> Result<(), ApplyError> {
        let entries = leaves(&self.prefix, listing.node, self.keys_max)?;
        if self.list_count > 0 {
            self.note_difference(&entries);
        }
        self.entries = Arc::new(entries);
        self.index = listing.index;
        self.list_count += 1;
        self.health = Health::Synced;
        self.dirty = true;
        Ok(())
    }

    /// Applies one watch event.
    ///
    /// # Errors
    /// [`ApplyError::TooManyKeys`] when it would store a file beyond `keys_max`; the state,
    /// index included, is then unchanged.
    pub(crate) fn apply(&mut self, event: &Event) -> Result<Applied, ApplyError> {
        let index = event.index();
        if index <= self.index {
            return Ok(Applied::Ignored(Ignored::Duplicate));
        }
        let key = event.node.key.as_str();
        let applied = match (place(key, &self.prefix), event.action) {
            (_, Action::Get) => Applied::Ignored(Ignored::NotAChange),
            (Place::Outside, _) => Applied::Ignored(Ignored::OutsidePrefix),
            (Place::Hidden, _) => Applied::Ignored(Ignored::Hidden),
            (Place::Ancestor, action) if is_removal(action) => self.remove_below("/"),
            (Place::Ancestor, _) => Applied::Ignored(Ignored::OutsidePrefix),
            (Place::Inside, action) if is_removal(action) => self.remove_below(key),
            (Place::Inside, _) if event.node.dir => self.replace_by_directory(key),
            (Place::Inside, _) => self.store(&event.node)?,
        };
        self.index = index;
        Ok(applied)
    }

    /// Marks the cache stale from `now`, unless it already is (the first instant is kept) or
    /// has stopped. Returns true when it was synced.
    pub(crate) fn mark_stale(&mut self, now: Instant) -> bool {
        if self.health != Health::Synced {
            return false;
        }
        self.health = Health::Stale { since: now };
        self.dirty = true;
        true
    }

    /// Marks the reflector stopped: nothing will feed the cache any more.
    pub(crate) fn mark_stopped(&mut self) {
        self.health = Health::Stopped;
        self.dirty = true;
    }

    /// The state as it stands, without publishing (generation unchanged).
    pub(crate) fn snapshot(&self) -> Cache {
        Cache {
            prefix: Arc::clone(&self.prefix),
            entries: Arc::clone(&self.entries),
            index: self.index,
            generation: self.generation,
            list_count: self.list_count,
            changes: self.pending.clone(),
            health: self.health,
        }
    }

    /// The next generation, if anything changed since the last publish; its changes are then
    /// forgotten. O(1): the map is shared with the cache, and copied by the next change.
    pub(crate) fn publish(&mut self) -> Option<Cache> {
        if !self.dirty {
            return None;
        }
        // `store` and `leaves` refuse what would pass the bound; a publish re-checks it.
        assert!(self.entries.len() <= self.keys_max, "cache beyond keys_max");
        self.generation += 1;
        self.dirty = false;
        let changes = std::mem::replace(&mut self.pending, Changes::Keys(BTreeSet::new()));
        Some(Cache {
            changes,
            ..self.snapshot()
        })
    }

    fn store(&mut self, node: &Node) -> Result<Applied, ApplyError> {
        let key = node.key.as_str();
        if self.entries.len() >= self.keys_max && !self.entries.contains_key(key) {
            return Err(ApplyError::TooManyKeys {
                keys_max: self.keys_max,
            });
        }
        let key: Arc<str> = Arc::from(key);
        Arc::make_mut(&mut self.entries).insert(Arc::clone(&key), Arc::new(entry(node)));
        self.note_change(key);
        Ok(Applied::Stored)
    }

    /// A directory written at `key` (mkdir, or `set dir=true` over a file): a file cached there
    /// was replaced.
    fn replace_by_directory(&mut self, key: &str) -> Applied {
        if !self.entries.contains_key(key) {
            return Applied::Ignored(Ignored::Directory);
        }
        self.remove_keys(vec![Arc::from(key)])
    }

    /// Removes `key` and every key below it (everything for `/`).
    fn remove_below(&mut self, key: &str) -> Applied {
        let mut doomed: Vec<Arc<str>> = Vec::new();
        if let Some((cached, _)) = self.entries.get_key_value(key) {
            doomed.push(Arc::clone(cached));
        }
        let mut start = key.trim_end_matches('/').to_owned();
        start.push('/');
        let below = self
            .entries
            .range::<str, _>((Bound::Included(start.as_str()), Bound::Unbounded))
            .map(|(cached, _)| cached)
            .take_while(|cached| cached.starts_with(start.as_str()));
        doomed.extend(below.cloned());
        self.remove_keys(doomed)
    }

    fn remove_keys(&mut self, doomed: Vec<Arc<str>>) -> Applied {
        let keys = doomed.len();
        if keys > 0 {
            let entries = Arc::make_mut(&mut self.entries);
            for key in &doomed {
                entries.remove(key);
            }
            for key in doomed {
                self.note_change(key);
            }
        }
        Applied::Removed { keys }
    }

    fn note_change(&mut self, key: Arc<str>) {
        self.dirty = true;
        if let Changes::Keys(keys) = &mut self.pending {
            if keys.len() < REFLECTOR_CHANGED_KEYS_MAX || keys.contains(&key) {
                keys.insert(key);
            } else {
                self.pending = Changes::All;
            }
        }
    }

    /// Notes every key that differs between the cache and a new listing of it.
    fn note_difference(&mut self, listed: &Entries) {
        let old = Arc::clone(&self.entries);
        let added_or_changed = listed
            .iter()
            .filter(|(key, entry)| old.get(*key) != Some(*entry))
            .map(|(key, _)| key);
        let removed = old.keys().filter(|key| !listed.contains_key(*key));
        for key in added_or_changed.chain(removed) {
            if self.pending.is_all() {
                return;
            }
            self.note_change(Arc::clone(key));
        }
    }
}

/// The cached files of a listing: every file at or below the prefix outside hidden
/// directories. Walks with an explicit stack, so a deep tree cannot exhaust the thread's.
fn leaves(prefix: &str, root: Option<Node>, keys_max: usize) -> Result<Entries, ApplyError> {
    let mut entries = Entries::new();
    let mut stack: Vec<Node> = root.into_iter().collect();
    while let Some(mut node) = stack.pop() {
        if node.dir {
            stack.append(&mut node.nodes);
            continue;
        }
        if place(&node.key, prefix) != Place::Inside {
            continue;
        }
        if entries.len() >= keys_max {
            return Err(ApplyError::TooManyKeys { keys_max });
        }
        let cached = Arc::new(entry(&node));
        entries.insert(Arc::from(node.key), cached);
    }
    Ok(entries)
}

fn entry(node: &Node) -> Entry {
    Entry {
        value: node.value.clone().unwrap_or_default(),
        modified_index: node.modified_index,
        created_index: node.created_index,
        expiration: node.expiration.clone(),
        ttl: node.ttl,
    }
}

fn is_removal(action: Action) -> bool {
    matches!(
        action,
        Action::Delete | Action::CompareAndDelete | Action::Expire
    )
}

/// Where clean key `key` lies relative to clean prefix `prefix` (segment-wise: `/ab` is not
/// below `/a`).
fn place(key: &str, prefix: &str) -> Place {
    if key == prefix {
        return Place::Inside;
    }
    if let Some(rest) = strictly_below(key, prefix) {
        return if rest.split('/').any(|name| name.starts_with('_')) {
            Place::Hidden
        } else {
            Place::Inside
        };
    }
    if strictly_below(prefix, key).is_some() {
        return Place::Ancestor;
    }
    Place::Outside
}

/// The part of `key` below `dir` (without the separating `/`), if `key` is strictly below it.
fn strictly_below<'a>(key: &'a str, dir: &str) -> Option<&'a str> {
    let rest = if dir == "/" {
        key.strip_prefix('/')?
    } else {
        key.strip_prefix(dir)?.strip_prefix('/')?
    };
    (!rest.is_empty()).then_some(rest)
}

#[cfg(test)]
#[path = "state_tests.rs"]
mod tests;
