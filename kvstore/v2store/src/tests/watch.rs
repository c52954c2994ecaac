//! Watches: matching rules, history replay and its window, streams, eviction and the hub's
//! bookkeeping (spec §7, §8).

use super::*;
use crate::limits::{WATCHERS_MAX, WATCH_HISTORY_MAX};
use crate::{Action, StoreError, WatchRequest, WatchStart, WatcherId};

fn request(path: &str, recursive: bool, stream: bool, since: Option<u64>) -> WatchRequest {
    WatchRequest {
        path: path.into(),
        recursive,
        stream,
        since: since.map(StoreIndex),
    }
}

/// Register a live watch (no waitIndex) and return its recorder.
fn live(store: &Store, path: &str, recursive: bool, stream: bool) -> Recorder {
    let recorder = Recorder::new();
    let start = store
        .watch(&request(path, recursive, stream, None), recorder.boxed())
        .unwrap();
    assert!(matches!(start, WatchStart::Registered { .. }));
    recorder
}

fn registered_id(start: &WatchStart) -> WatcherId {
    match start {
        WatchStart::Registered { id, .. } => *id,
        WatchStart::Done { .. } => panic!("expected a registration"),
    }
}

// Goal: a non-stream watch gets the next event on its key, then ends (watcher count drops).
#[test]
fn one_shot_watch_fires_once() {
    let mut store = store_with(&[set("/k", "0")]);
    let recorder = live(&store, "/k", false, false);
    assert_eq!(store.stats().watchers, 1);
    apply_ok(&mut store, &set("/other", "x"));
    apply_ok(&mut store, &set("/k", "1"));
    apply_ok(&mut store, &set("/k", "2"));
    assert_eq!(recorder.seen(), seen(&[("/k", 3)]));
    assert_eq!(store.stats().watchers, 0);
}

// Goal: the match table for live watches: exact key, recursive below (not a sibling prefix),
// a non-recursive directory watch only for the directory itself, and the removal of a
// directory containing the watched path (existing or not) with the directory's event.
#[test]
fn live_match_table() {
    let setup = [set("/d/k", "1"), set("/dx", "1"), set("/other", "1")];
    let cases: [(&str, bool, Mutation, Option<&str>); 11] = [
        ("/d/k", false, set("/d/k", "2"), Some("/d/k")),
        ("/d", true, set("/d/k", "2"), Some("/d/k")),
        ("/", true, set("/d/k", "2"), Some("/d/k")),
        ("/d", false, set("/d/k", "2"), None),
        ("/d", true, set("/dx", "2"), None),
        ("/d", false, update("/d", ""), Some("/d")),
        ("/d", false, delete("/d", true, true), Some("/d")),
        ("/d/k", false, delete("/d", true, true), Some("/d")),
        ("/d/k/never", false, delete("/d", true, true), Some("/d")),
        ("/d/k", false, delete("/other", false, false), None),
        ("/d/k", true, post("/d/k2", "q"), None),
    ];
    for (path, recursive, mutation, expected) in cases {
        let mut store = store_with(&setup);
        let recorder = live(&store, path, recursive, false);
        let event = apply_ok(&mut store, &mutation);
        let got = recorder.events();
        match expected {
            Some(key) => {
                assert_eq!(got.len(), 1, "{path} {recursive} {mutation:?}");
                assert_eq!(got[0].node.key.as_deref(), Some(key));
                assert_eq!(*got[0], event);
            }
            None => assert!(got.is_empty(), "{path} {recursive} {mutation:?}: {got:?}"),
        }
    }
}

// Goal: expiry of a directory reaches watchers of the directory and of paths inside it.
#[test]
fn directory_expiry_reaches_watchers_inside() {
    let mut store = store_with(&[mkdir_until("/d", NOW.plus_seconds(1)), set("/d/k", "v")]);
    let on_child = live(&store, "/d/k", false, false);
    let on_dir = live(&store, "/d", false, true);
    let on_root = live(&store, "/", true, true);
    store.expire(NOW.plus_seconds(1));
    for recorder in [&on_child, &on_dir, &on_root] {
        let events = recorder.events();
        assert_eq!(events.len(), 1, "exactly one delivery, no stream duplicate");
        assert_eq!(events[0].action, Action::Expire);
        assert_eq!(events[0].node.key.as_deref(), Some("/d"));
    }
}

// Goal: a file's expiry reaches watchers on the key and recursive watchers above it, with
// the expire event's shape (no value, new index, prevNode with the expiration).
#[test]
fn file_expiry_reaches_key_and_ancestor_watchers() {
    let until = NOW.plus_seconds(2);
    let mut store = store_with(&[set_until("/d/k", "v", until)]);
    let on_key = live(&store, "/d/k", false, false);
    let on_parent = live(&store, "/d", true, false);
    let on_parent_exact = live(&store, "/d", false, false);
    store.expire(until);
    for recorder in [&on_key, &on_parent] {
        let events = recorder.events();
        assert_eq!(events.len(), 1);
        assert_eq!(events[0].action, Action::Expire);
        assert_eq!(events[0].node.value, None);
        assert_eq!(events[0].index(), StoreIndex(2));
        assert_eq!(
            events[0].prev_node.as_ref().unwrap().expiration,
            Some(until)
        );
    }
    assert!(on_parent_exact.events().is_empty());
    assert_eq!(store.stats().watchers, 1);
}

// Goal: live delivery skips keys with a hidden segment below the watched path, unless the key
// is the watched path; a hidden watched path itself does not hide its children.
#[test]
fn hidden_filter_table() {
    let cases = [
        ("/w", true, "/w/_h", false),
        ("/w", true, "/w/_h/x", false),
        ("/w", true, "/w/a/_b", false),
        ("/", true, "/_top", false),
        ("/w", true, "/w/a_b", true),
        ("/w/_h", false, "/w/_h", true),
        ("/w/_h", true, "/w/_h/x", true),
        ("/_w", true, "/_w/x", true),
    ];
    for (path, recursive, key, delivered) in cases {
        let mut store = Store::new();
        let recorder = live(&store, path, recursive, false);
        apply_ok(&mut store, &set(key, "v"));
        assert_eq!(
            recorder.seen().len(),
            usize::from(delivered),
            "{path} {key}"
        );
    }
}

// Goal: history replay filters hidden keys the same way live delivery does.
#[test]
fn history_replay_filters_hidden_keys() {
    let store = store_with(&[set("/hid/_x", "1"), set("/hid/y", "2")]);
    let start = store
        .watch(
            &request("/hid", true, false, Some(1)),
            Recorder::new().boxed(),
        )
        .unwrap();
    let WatchStart::Done { event, index } = start else {
        panic!("history has a match");
    };
    assert_eq!(event.node.key.as_deref(), Some("/hid/y"));
    assert_eq!(index, StoreIndex(2));
}

// Goal: waitIndex <= current returns the first matching kept event at or after it, with the
// current index; no match registers the watch for the next live match.
#[test]
fn history_replay_first_match() {
    let mut store = store_with(&[
        set("/a", "1"),
        set("/b", "1"),
        set("/a", "2"),
        set("/c", "1"),
    ]);
    for (since, expected) in [(1, 1), (2, 3), (3, 3)] {
        let start = store
            .watch(
                &request("/a", false, false, Some(since)),
                Recorder::new().boxed(),
            )
            .unwrap();
        let WatchStart::Done { event, index } = start else {
            panic!("history has a match from {since}");
        };
        assert_eq!(event.index(), StoreIndex(expected));
        assert_eq!(index, StoreIndex(4));
    }
    let recorder = Recorder::new();
    let start = store
        .watch(&request("/a", false, false, Some(4)), recorder.boxed())
        .unwrap();
    assert!(matches!(
        start,
        WatchStart::Registered {
            index: StoreIndex(4),
            ..
        }
    ));
    apply_ok(&mut store, &set("/b", "2"));
    apply_ok(&mut store, &set("/a", "3"));
    assert_eq!(recorder.seen(), seen(&[("/a", 6)]));
}

// Goal: a waitIndex in the future waits for the first match at or after it; none or 0 means
// the next match after the current index.
#[test]
fn future_and_absent_wait_index() {
    let mut store = store_with(&[set("/a", "1")]);
    let future = Recorder::new();
    store
        .watch(&request("/a", false, false, Some(4)), future.boxed())
        .unwrap();
    let zero = Recorder::new();
    store
        .watch(&request("/a", false, false, Some(0)), zero.boxed())
        .unwrap();
    apply_ok(&mut store, &set("/a", "2"));
    apply_ok(&mut store, &set("/a", "3"));
    apply_ok(&mut store, &set("/a", "4"));
    assert_eq!(zero.seen(), seen(&[("/a", 2)]));
    assert_eq!(future.seen(), seen(&[("/a", 4)]));
}

// Goal: the 401 window: with more than 1000 events, a waitIndex older than the oldest kept
// event fails with etcd's cause and the current index; the oldest kept one still answers.
#[test]
fn cleared_history_window() {
    let mut store = Store::new();
    for round in 0..1100 {
        apply_ok(&mut store, &set("/k", &round.to_string()));
    }
    let oldest = 1100 - WATCH_HISTORY_MAX as u64 + 1;
    assert_eq!(oldest, 101);
    let error = store
        .watch(
            &request("/k", false, false, Some(5)),
            Recorder::new().boxed(),
        )
        .unwrap_err();
    assert_eq!(error.code(), Some(401));
    assert_eq!(
        error.cause(),
        "the requested history has been cleared [101/5]"
    );
    assert_eq!(error.index(), StoreIndex(1100));
    let error = store
        .watch(
            &request("/k", false, true, Some(100)),
            Recorder::new().boxed(),
        )
        .unwrap_err();
    assert_eq!(
        error.cause(),
        "the requested history has been cleared [101/100]"
    );
    let start = store
        .watch(
            &request("/k", false, false, Some(101)),
            Recorder::new().boxed(),
        )
        .unwrap();
    assert!(
        matches!(start, WatchStart::Done { ref event, .. } if event.index() == StoreIndex(101))
    );
    assert_eq!(store.stats().watchers, 0);
}

// Goal: refreshes count in the window like every other index (etcd records them too).
#[test]
fn refreshes_occupy_history_slots() {
    let mut store = store_with(&[set_until("/k", "v", NOW.plus_seconds(9))]);
    let refresh = Mutation::Update {
        path: "/k".into(),
        value: String::new(),
        expire_at: Some(NOW.plus_seconds(9)),
        refresh: true,
    };
    for _ in 0..WATCH_HISTORY_MAX {
        apply_ok(&mut store, &refresh);
    }
    let error = store
        .watch(
            &request("/k", false, false, Some(1)),
            Recorder::new().boxed(),
        )
        .unwrap_err();
    assert_eq!(
        error.cause(),
        "the requested history has been cleared [2/1]"
    );
}

// Goal: with fewer events than the window, nothing is cleared: waitIndex 1 still answers.
#[test]
fn short_history_is_never_cleared() {
    let store = store_with(&[set("/a", "1"), set("/b", "1")]);
    let start = store
        .watch(
            &request("/a", false, false, Some(1)),
            Recorder::new().boxed(),
        )
        .unwrap();
    assert!(matches!(start, WatchStart::Done { .. }));
}

// Goal: a stream watch gets every matching kept event from waitIndex in order, then live
// events, and stays registered.
#[test]
fn stream_replays_history_then_live() {
    let mut store = store_with(&[
        set("/s/a", "1"),
        set("/x", "1"),
        set("/s/b", "1"),
        set("/s/a", "2"),
    ]);
    let recorder = Recorder::new();
    let start = store
        .watch(&request("/s", true, true, Some(2)), recorder.boxed())
        .unwrap();
    assert!(matches!(
        start,
        WatchStart::Registered {
            index: StoreIndex(4),
            ..
        }
    ));
    assert_eq!(recorder.seen(), seen(&[("/s/b", 3), ("/s/a", 4)]));
    apply_ok(&mut store, &set("/s/c", "1"));
    apply_ok(&mut store, &set("/y", "1"));
    apply_ok(&mut store, &delete("/s", true, true));
    assert_eq!(
        recorder.seen(),
        seen(&[("/s/b", 3), ("/s/a", 4), ("/s/c", 5), ("/s", 7)])
    );
    assert_eq!(store.stats().watchers, 1);
}

// Goal: a sink that refuses an event evicts its watcher, live or during stream replay.
#[test]
fn refusing_sink_is_evicted() {
    let mut store = store_with(&[set("/a", "1"), set("/a", "2")]);
    let full = Recorder::with_capacity(1);
    store
        .watch(&request("/a", false, true, None), full.boxed())
        .unwrap();
    let healthy = live(&store, "/a", false, true);
    apply_ok(&mut store, &set("/a", "3"));
    apply_ok(&mut store, &set("/a", "4"));
    apply_ok(&mut store, &set("/a", "5"));
    assert_eq!(full.seen(), seen(&[("/a", 3)]));
    assert_eq!(healthy.seen().len(), 3);
    assert_eq!(store.stats().watchers, 1);
    let replay_full = Recorder::with_capacity(1);
    let id = registered_id(
        &store
            .watch(&request("/a", false, true, Some(1)), replay_full.boxed())
            .unwrap(),
    );
    assert_eq!(replay_full.seen(), seen(&[("/a", 1)]));
    assert_eq!(store.stats().watchers, 1);
    store.unwatch(id);
    let closed = Recorder::with_capacity(0);
    store
        .watch(&request("/a", false, false, None), closed.boxed())
        .unwrap();
    apply_ok(&mut store, &set("/a", "6"));
    assert_eq!(store.stats().watchers, 1);
}

// Goal: unwatch removes exactly that watcher; unknown or repeated ids are ignored.
#[test]
fn unwatch_removes_watcher() {
    let mut store = Store::new();
    let kept = Recorder::new();
    let dropped = Recorder::new();
    store
        .watch(&request("/k", true, true, None), kept.boxed())
        .unwrap();
    let id = registered_id(
        &store
            .watch(&request("/k", true, true, None), dropped.boxed())
            .unwrap(),
    );
    assert_eq!(store.stats().watchers, 2);
    store.unwatch(id);
    store.unwatch(id);
    store.unwatch(WatcherId(9_999));
    assert_eq!(store.stats().watchers, 1);
    apply_ok(&mut store, &set("/k/x", "1"));
    assert_eq!(kept.seen().len(), 1);
    assert!(dropped.seen().is_empty());
}

// Goal: the hub refuses watchers beyond WATCHERS_MAX with the current index, and accepts one
// again once a slot is free; answers from history need no slot.
#[test]
fn watcher_limit() {
    let store = store_with(&[set("/k", "1")]);
    let sink = Recorder::new();
    let mut last = None;
    for _ in 0..WATCHERS_MAX {
        last = Some(registered_id(
            &store
                .watch(&request("/k", false, false, None), sink.boxed())
                .unwrap(),
        ));
    }
    let error = store
        .watch(&request("/k", true, true, None), sink.boxed())
        .unwrap_err();
    assert_eq!(
        error,
        StoreError::WatcherLimitReached {
            index: StoreIndex(1)
        }
    );
    assert_eq!(error.code(), None);
    let done = store.watch(&request("/k", false, false, Some(1)), sink.boxed());
    assert!(matches!(done, Ok(WatchStart::Done { .. })));
    store.unwatch(last.unwrap());
    assert!(store
        .watch(&request("/k", false, false, None), sink.boxed())
        .is_ok());
}

// Goal: watchers on many unrelated paths do not see an event, and the ones that match do.
#[test]
fn many_watchers_only_matching_ones_fire() {
    let mut store = store_with(&[mkdir("/other")]);
    let others = Recorder::new();
    for n in 0..500 {
        store
            .watch(
                &request(&format!("/other/{n}"), true, true, None),
                others.boxed(),
            )
            .unwrap();
    }
    let target = live(&store, "/t", true, true);
    apply_ok(&mut store, &set("/t/x", "1"));
    assert!(others.seen().is_empty());
    assert_eq!(target.seen(), seen(&[("/t/x", 2)]));
    apply_ok(&mut store, &delete("/other", true, true));
    assert_eq!(others.seen().len(), 500);
    assert_eq!(store.stats().watchers, 501);
}
