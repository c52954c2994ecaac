//! Which events a watch receives (spec §7), shared by history replay and live delivery so the
//! two can never disagree.
//!
//! Owns: the match rule only. Candidate selection (which watchers to even look at) is the hub's.

use crate::path::{has_hidden_segment_below, is_below};
use crate::{Action, Event};

/// True when a watch on `watch_path` receives `event`:
/// * the event's key is the watched path; or
/// * the watch is recursive, the key lies below the watched path, and no segment of the key
///   below the watched path is hidden (etcd's `isHidden` in `watcher_hub.go`; etcd skips this
///   filter on history replay, which the spec lets us drop so replay and live agree); or
/// * the event deletes or expires a directory that contains the watched path (etcd notifies
///   the watchers of every removed node with the directory's event).
///
/// Refresh events match nothing: etcd records them but never delivers them, live or replayed.
pub(crate) fn event_matches(event: &Event, watch_path: &str, recursive: bool) -> bool {
    if event.refresh {
        return false;
    }
    let Some(key) = event.node.key.as_deref() else {
        return false;
    };
    if key == watch_path {
        return true;
    }
    if recursive && is_below(key, watch_path) {
        return !has_hidden_segment_below(key, watch_path);
    }
    removes_subtree(event) && is_below(watch_path, key)
}

/// True for the delete or expiry of a directory, which also ends everything below it.
pub(crate) fn removes_subtree(event: &Event) -> bool {
    matches!(event.action, Action::Delete | Action::Expire) && event.node.dir
}
