//! TTL with an explicit `now`: ttl rounding, permanence rules, expiry sweeps and refresh
//! (spec §3, §6).

use super::*;
use crate::{Action, WatchRequest, WatchStart};

fn refresh_update(path: &str, expire_at: Time) -> Mutation {
    Mutation::Update {
        path: path.into(),
        value: String::new(),
        expire_at: Some(expire_at),
        refresh: true,
    }
}

fn refresh_set(path: &str, expire_at: Time) -> Mutation {
    Mutation::Set {
        path: path.into(),
        value: String::new(),
        dir: false,
        expire_at: Some(expire_at),
        refresh: true,
    }
}

fn watch_key(store: &Store, path: &str, since: Option<u64>, recorder: &Recorder) -> WatchStart {
    let request = WatchRequest {
        path: path.into(),
        recursive: false,
        stream: false,
        since: since.map(StoreIndex),
    };
    store.watch(&request, recorder.boxed()).unwrap()
}

// Goal: ttl is the remaining time rounded up, left out at 0, negative once past expiry.
#[test]
fn ttl_rounding_table() {
    let expiry = NOW.plus_seconds(5);
    let store = store_with(&[set_until("/k", "v", expiry)]);
    let cases = [
        (0, Some(5)),
        (500, Some(5)),
        (1, Some(5)),
        (1000, Some(4)),
        (4999, Some(1)),
        (5000, None),
        (5500, None),
        (6000, Some(-1)),
        (7500, Some(-2)),
    ];
    for (ms, ttl) in cases {
        let node = store.get("/k", false, false, after_ms(ms)).unwrap().node;
        assert_eq!(node.ttl, ttl, "at +{ms}ms");
        assert_eq!(node.expiration, Some(expiry));
    }
}

// Goal: the event of a write computes ttl from the now passed to apply, and history keeps
// that event unchanged when replayed later.
#[test]
fn event_ttl_uses_apply_now_and_history_keeps_it() {
    let mut store = Store::new();
    let event = store
        .apply(&set_until("/k", "v", NOW.plus_seconds(10)), after_ms(2500))
        .unwrap();
    assert_eq!(event.node.ttl, Some(8));
    let recorder = Recorder::new();
    let WatchStart::Done {
        event: replayed, ..
    } = watch_key(&store, "/k", Some(1), &recorder)
    else {
        panic!("history answers at once");
    };
    assert_eq!(replayed.node.ttl, Some(8));
    assert_eq!(*replayed, event);
}

// Goal: set and update without a TTL make the node permanent; next_expiry follows.
#[test]
fn writes_without_ttl_make_node_permanent() {
    let mut store = store_with(&[set_until("/a", "1", NOW.plus_seconds(5))]);
    assert_eq!(store.next_expiry(), Some(NOW.plus_seconds(5)));
    apply_ok(&mut store, &set("/a", "2"));
    assert_eq!(get_node(&store, "/a").expiration, None);
    assert_eq!(store.next_expiry(), None);
    apply_ok(&mut store, &set_until("/b", "1", NOW.plus_seconds(7)));
    apply_ok(&mut store, &update("/b", "2"));
    let node = get_node(&store, "/b");
    assert_eq!((node.expiration, node.ttl), (None, None));
    assert_eq!(store.next_expiry(), None);
    apply_ok(&mut store, &set_until("/c", "1", NOW.plus_seconds(9)));
    apply_ok(&mut store, &cas("/c", "2", Some("1"), None));
    assert_eq!(store.next_expiry(), None);
    assert!(store.expire(NOW.plus_seconds(100)).is_empty());
}

// Goal: next_expiry is the minimum over all nodes and forgets deleted subtrees.
#[test]
fn next_expiry_tracks_minimum() {
    let mut store = store_with(&[
        set_until("/a", "1", NOW.plus_seconds(30)),
        set_until("/d/b", "1", NOW.plus_seconds(10)),
        mkdir_until("/e", NOW.plus_seconds(20)),
    ]);
    assert_eq!(store.next_expiry(), Some(NOW.plus_seconds(10)));
    apply_ok(&mut store, &delete("/d", true, true));
    assert_eq!(store.next_expiry(), Some(NOW.plus_seconds(20)));
    apply_ok(&mut store, &delete("/e", true, false));
    assert_eq!(store.next_expiry(), Some(NOW.plus_seconds(30)));
}

// Goal: expire removes every node due at or before now, one index and one event each, in
// order of expiry then path; the event node has no value and the new index, prevNode keeps
// the expiration.
#[test]
fn expire_events_shape_and_order() {
    let soon = NOW.plus_seconds(5);
    let mut store = store_with(&[
        set_until("/b", "vb", soon),
        set_until("/a", "va", soon),
        set_until("/c", "vc", NOW.plus_seconds(3)),
        set_until("/later", "vl", NOW.plus_seconds(6)),
        set("/keep", "k"),
    ]);
    assert!(store.expire(after_ms(2999)).is_empty());
    assert_eq!(store.index(), StoreIndex(5));
    let events = store.expire(soon);
    let keys: Vec<_> = events
        .iter()
        .map(|event| event.node.key.clone().unwrap())
        .collect();
    assert_eq!(keys, vec!["/c", "/a", "/b"]);
    let indexes: Vec<_> = events.iter().map(|event| event.index().0).collect();
    assert_eq!(indexes, vec![6, 7, 8]);
    let a = &events[1];
    assert_eq!(a.action, Action::Expire);
    assert_eq!(a.node.value, None);
    assert_eq!(a.node.expiration, None);
    assert_eq!(a.node.created_index, StoreIndex(2));
    let prev = a.prev_node.as_ref().unwrap();
    assert_eq!(prev.value.as_deref(), Some("va"));
    assert_eq!(prev.expiration, Some(soon));
    assert_eq!(prev.ttl, None, "ttl computes to 0 at the expiry instant");
    assert_eq!(store.index(), StoreIndex(8));
    assert_eq!(store.stats().expire_count, 3);
    assert!(store.get("/a", false, false, soon).is_err());
    assert_eq!(get_node(&store, "/later").value.as_deref(), Some("vl"));
    assert_eq!(store.next_expiry(), Some(NOW.plus_seconds(6)));
}

// Goal: a directory TTL takes the whole subtree in one event, child expiries included; a
// child due earlier expires on its own first.
#[test]
fn directory_expiry_takes_subtree_in_one_event() {
    let mut store = store_with(&[
        mkdir_until("/d", NOW.plus_seconds(10)),
        set("/d/a", "1"),
        set_until("/d/b", "2", NOW.plus_seconds(20)),
        set_until("/d/c", "3", NOW.plus_seconds(4)),
        set("/d/sub/x", "4"),
    ]);
    let early = store.expire(NOW.plus_seconds(4));
    assert_eq!(early.len(), 1);
    assert_eq!(early[0].node.key.as_deref(), Some("/d/c"));
    let events = store.expire(NOW.plus_seconds(10));
    assert_eq!(events.len(), 1);
    let event = &events[0];
    assert_eq!(event.node.key.as_deref(), Some("/d"));
    assert!(event.node.dir);
    assert_eq!(event.node.modified_index, StoreIndex(7));
    assert_eq!(event.prev_node.as_ref().unwrap().nodes, None);
    assert_eq!(store.next_expiry(), None);
    assert!(store.expire(NOW.plus_seconds(100)).is_empty());
    assert_eq!(
        store.get("/d/b", false, false, NOW).unwrap_err().cause(),
        "/d"
    );
}

// Goal: writes below a directory do not extend its TTL (spec §6).
#[test]
fn child_writes_do_not_extend_directory_ttl() {
    let mut store = store_with(&[mkdir_until("/d", NOW.plus_seconds(1))]);
    apply_ok(&mut store, &set("/d/k", "v"));
    assert_eq!(get_node(&store, "/d").expiration, Some(NOW.plus_seconds(1)));
    assert_eq!(store.expire(NOW.plus_seconds(1)).len(), 1);
}

// Goal: an expiry already past when written still expires on the next sweep (ttl=0).
#[test]
fn ttl_zero_expires_on_next_sweep() {
    let mut store = store_with(&[set_until("/k", "v", NOW)]);
    assert_eq!(get_node(&store, "/k").ttl, None);
    assert_eq!(store.expire(NOW).len(), 1);
}

// Goal: an update refresh keeps value and createdIndex, resets the expiry, uses one index and
// is never delivered to watchers, live or from history.
#[test]
fn update_refresh_rules() {
    let mut store = store_with(&[set_until("/k", "v", NOW.plus_seconds(5))]);
    let live = Recorder::new();
    watch_key(&store, "/k", None, &live);
    let event = apply_ok(&mut store, &refresh_update("/k", NOW.plus_seconds(50)));
    assert!(event.refresh);
    assert_eq!(event.action, Action::Update);
    assert_eq!(event.node.value.as_deref(), Some("v"));
    assert_eq!(event.node.created_index, StoreIndex(1));
    assert_eq!(event.node.ttl, Some(50));
    assert_eq!(store.index(), StoreIndex(2));
    assert_eq!(store.next_expiry(), Some(NOW.plus_seconds(50)));
    assert!(live.seen().is_empty());
    let replay = Recorder::new();
    let start = watch_key(&store, "/k", Some(2), &replay);
    assert!(matches!(start, WatchStart::Registered { .. }));
    apply_ok(&mut store, &set("/k", "w"));
    assert_eq!(live.seen(), seen(&[("/k", 3)]));
    assert_eq!(replay.seen(), seen(&[("/k", 3)]));
}

// Goal: a set refresh keeps the value but recreates the node (new createdIndex) [Q]; a
// compareAndSwap refresh still checks its condition; refreshing a missing key gives 100.
#[test]
fn set_and_cas_refresh_rules() {
    let mut store = store_with(&[set_until("/k", "v", NOW.plus_seconds(5))]);
    let event = apply_ok(&mut store, &refresh_set("/k", NOW.plus_seconds(9)));
    assert_eq!(event.action, Action::Set);
    assert!(event.refresh);
    assert_eq!(event.node.value.as_deref(), Some("v"));
    assert_eq!(event.node.created_index, StoreIndex(2));
    assert!(event.prev_node.is_some());
    let refresh_cas = |prev_value: &str| Mutation::CompareAndSwap {
        path: "/k".into(),
        value: String::new(),
        prev_value: Some(prev_value.into()),
        prev_index: None,
        expire_at: Some(NOW.plus_seconds(9)),
        refresh: true,
    };
    expect_failure(&mut store, &refresh_cas("other"), 101, "[other != v]");
    let passing = refresh_cas("v");
    let swapped = apply_ok(&mut store, &passing);
    assert_eq!(swapped.node.value.as_deref(), Some("v"));
    assert!(swapped.refresh);
    assert_eq!(swapped.node.created_index, StoreIndex(2));
    expect_failure(&mut store, &refresh_set("/missing", NOW), 100, "/missing");
    expect_failure(&mut store, &refresh_set("/m/n", NOW), 100, "/m");
    expect_failure(
        &mut store,
        &refresh_update("/missing", NOW),
        100,
        "/missing",
    );
}

// Goal: a directory's TTL is set, changed and cleared by update without value.
#[test]
fn directory_ttl_set_and_cleared_by_update() {
    let mut store = store_with(&[mkdir("/d")]);
    let with_ttl = Mutation::Update {
        path: "/d".into(),
        value: String::new(),
        expire_at: Some(NOW.plus_seconds(3)),
        refresh: false,
    };
    apply_ok(&mut store, &with_ttl);
    assert_eq!(get_node(&store, "/d").ttl, Some(3));
    apply_ok(&mut store, &update("/d", ""));
    assert_eq!(get_node(&store, "/d").expiration, None);
    assert!(store.expire(NOW.plus_seconds(10)).is_empty());
}
