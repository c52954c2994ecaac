//! Every bound the store keeps, in one place.
//!
//! Owns: the size of the event history, the number of registered watchers and the depth of a
//! key path. Nothing here
//! depends on other modules; the relations between limits are checked at compile time.

/// Events kept for `waitIndex` replay. etcd keeps 1000 (`newEventHistory(1000)` in
/// `v2store/store.go`); every index is one event, so after index `I` the oldest answerable
/// `waitIndex` is `I - 999` and an older one gets error 401.
pub const WATCH_HISTORY_MAX: usize = 1000;

/// Watchers registered at once across all paths. etcd has no such bound; ours keeps the hub's
/// memory finite. Over it, `watch` answers `WatcherLimitReached` and the client retries.
pub const WATCHERS_MAX: usize = 100_000;

/// Segments a key path may have (`/a/b` has two). etcd has no such bound; ours keeps every
/// walk over the tree's depth (listings, subtree removal, dropping a subtree) far from the
/// stack's end, since several of them recurse once per level. The HTTP layer refuses deeper
/// paths before they are proposed; an in-order create adds one level below its directory, so
/// the tree is at most `KEY_SEGMENTS_MAX + 1` deep.
pub const KEY_SEGMENTS_MAX: usize = 1024;

const _: () = assert!(WATCH_HISTORY_MAX > 0);
const _: () = assert!(KEY_SEGMENTS_MAX > 0);
const _: () = assert!(WATCHERS_MAX > 0);
