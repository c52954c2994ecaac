//! Table tests of the pure reflector core: every action on files and directories, keys at,
//! below, above and beside the prefix, hidden keys, duplicates, refused bounds, re-list
//! differences, publishing and the readers of a published cache.

use super::*;
use std::time::Duration;

fn node(key: &str, value: Option<&str>, dir: bool, index: u64) -> Node {
    Node {
        key: key.to_owned(),
        value: value.map(str::to_owned),
        dir,
        modified_index: StoreIndex(index),
        created_index: StoreIndex(index),
        ..Node::default()
    }
}

/// A file `key` with value `v<index>`, as a listing or an event shows it.
fn file(key: &str, index: u64) -> Node {
    node(key, Some(&format!("v{index}")), false, index)
}

/// An event on a file; removals carry no value, as etcd sends them.
fn on_file(action: Action, key: &str, index: u64) -> Event {
    let mut node = file(key, index);
    if is_removal(action) {
        node.value = None;
    }
    Event {
        action,
        node,
        prev_node: None,
    }
}

/// An event on a directory (mkdir, recursive delete, expiry of a directory with a TTL).
fn on_dir(action: Action, key: &str, index: u64) -> Event {
    Event {
        action,
        node: node(key, None, true, index),
        prev_node: Some(node(key, None, true, 1)),
    }
}

/// A listing of `prefix` as a directory holding `files`, some nested one level deeper, at
/// index `index`.
fn listing(prefix: &str, files: &[&str], index: u64) -> Listing {
    let mut root = node(prefix, None, true, 1);
    for (position, key) in files.iter().enumerate() {
        let leaf = file(key, 2);
        if position % 2 == 0 {
            root.nodes.push(leaf);
        } else {
            let mut holder = node(&format!("{prefix}/holder{position}"), None, true, 1);
            holder.nodes.push(leaf);
            root.nodes.push(holder);
        }
    }
    Listing {
        node: Some(root),
        index: StoreIndex(index),
    }
}

fn started() -> Instant {
    Instant::now()
}

/// A core on `prefix` listed with `files` at index 10, its first generation published.
fn listed(prefix: &str, files: &[&str]) -> Core {
    let mut core = Core::new(prefix, 100, started());
    core.relist(listing(prefix, files, 10)).unwrap();
    core.publish().unwrap();
    core
}

fn keys(cache: &Cache) -> Vec<&str> {
    cache.entries().map(|(key, _)| key).collect()
}

fn changed(cache: &Cache) -> Vec<String> {
    let keys = cache.changes().keys().expect("exact changes");
    keys.iter().map(|key| key.to_string()).collect()
}

struct Case {
    name: &'static str,
    prefix: &'static str,
    listed: &'static [&'static str],
    events: Vec<Event>,
    expected: &'static [&'static str],
}

/// Lists `case.listed` under `case.prefix`, applies the events, and compares the keys left.
fn run(cases: Vec<Case>) {
    for case in cases {
        let mut core = listed(case.prefix, case.listed);
        for event in &case.events {
            core.apply(event).unwrap();
        }
        let cache = core.publish().unwrap_or_else(|| core.snapshot());
        assert_eq!(keys(&cache), case.expected, "{}", case.name);
    }
}

// Goal: set, create, update and compareAndSwap store a file; delete, compareAndDelete and
// expire remove it. Method: table: list, apply, compare the keys left with a fresh list's.
#[test]
fn file_events_store_and_remove() {
    use Action::{CompareAndDelete, CompareAndSwap, Create, Delete, Expire, Set, Update};
    run(vec![
        Case {
            name: "set, create, update and compareAndSwap store a file",
            prefix: "/p",
            listed: &["/p/u", "/p/c"],
            events: vec![
                on_file(Set, "/p/s", 11),
                on_file(Create, "/p/n", 12),
                on_file(Update, "/p/u", 13),
                on_file(CompareAndSwap, "/p/c", 14),
            ],
            expected: &["/p/c", "/p/n", "/p/s", "/p/u"],
        },
        Case {
            name: "delete, compareAndDelete and expire remove a file",
            prefix: "/p",
            listed: &["/p/a", "/p/b", "/p/c", "/p/d"],
            events: vec![
                on_file(Delete, "/p/a", 11),
                on_file(CompareAndDelete, "/p/b", 12),
                on_file(Expire, "/p/c", 13),
            ],
            expected: &["/p/d"],
        },
        Case {
            name: "removing a key that is not cached changes nothing",
            prefix: "/p",
            listed: &["/p/a"],
            events: vec![on_file(Delete, "/p/zz", 11)],
            expected: &["/p/a"],
        },
    ]);
}

// Goal: a recursive delete or the expiry of a directory (one event on the directory node)
// removes every key below it and none beside it; writing a directory caches nothing, and
// replaces a file at its key. Method: table, as above.
#[test]
fn directory_events_remove_subtrees() {
    use Action::{Create, Delete, Expire, Set, Update};
    run(vec![
        Case {
            name: "a recursive delete of a directory is one event that removes its subtree",
            prefix: "/p",
            listed: &[
                "/p/job/foo/a",
                "/p/job/foo/b/c",
                "/p/job/foobar/x",
                "/p/job/fo",
            ],
            events: vec![on_dir(Delete, "/p/job/foo", 11)],
            expected: &["/p/job/fo", "/p/job/foobar/x"],
        },
        Case {
            name: "the expiry of a directory with a TTL removes its subtree",
            prefix: "/p",
            listed: &["/p/m/1/object", "/p/m/1/meta/x", "/p/m/2/object"],
            events: vec![on_dir(Expire, "/p/m/1", 11)],
            expected: &["/p/m/2/object"],
        },
        Case {
            name: "mkdir and updatedir cache nothing",
            prefix: "/p",
            listed: &["/p/a"],
            events: vec![on_dir(Create, "/p/d", 11), on_dir(Update, "/p/d", 12)],
            expected: &["/p/a"],
        },
        Case {
            name: "set dir=true over a file removes the file",
            prefix: "/p",
            listed: &["/p/a", "/p/d"],
            events: vec![on_dir(Set, "/p/d", 11)],
            expected: &["/p/a"],
        },
    ]);
}

// Goal: events outside the prefix (segment-wise: /pa is not below /p) and keys with a hidden
// segment below it are ignored, as a recursive GET would not list them; a hidden prefix itself
// is fine. Method: table.
#[test]
fn events_outside_or_hidden_are_ignored() {
    use Action::{Delete, Set};
    run(vec![
        Case {
            name: "events outside the prefix are ignored, on segment boundaries",
            prefix: "/p",
            listed: &["/p/a"],
            events: vec![
                on_file(Set, "/q/a", 11),
                on_file(Set, "/pa/b", 12),
                on_dir(Delete, "/pa", 13),
                on_dir(Delete, "/q", 14),
            ],
            expected: &["/p/a"],
        },
        Case {
            name: "keys with a hidden segment below the prefix are ignored",
            prefix: "/p",
            listed: &["/p/a"],
            events: vec![
                on_file(Set, "/p/_h", 11),
                on_file(Set, "/p/a_b/_h/x", 12),
                on_dir(Delete, "/p/_h", 13),
            ],
            expected: &["/p/a"],
        },
        Case {
            name: "a prefix that is itself hidden is reflected below it",
            prefix: "/_coreos.com/fleet",
            listed: &["/_coreos.com/fleet/job/a/object"],
            events: vec![on_file(Set, "/_coreos.com/fleet/job/b/object", 11)],
            expected: &[
                "/_coreos.com/fleet/job/a/object",
                "/_coreos.com/fleet/job/b/object",
            ],
        },
    ]);
}

// Goal: a file at the prefix itself is cached; removing the prefix or an ancestor of it clears
// everything (etcd delivers a directory's removal to the watchers inside it), while writes to
// an ancestor are ignored; the root prefix holds every visible key. Method: table.
#[test]
fn events_at_and_above_the_prefix() {
    use Action::{Create, Delete, Expire, Set, Update};
    run(vec![
        Case {
            name: "a file exactly at the prefix is cached and removed",
            prefix: "/p/k",
            listed: &[],
            events: vec![
                on_file(Set, "/p/k", 11),
                on_file(Set, "/p/kk", 12),
                on_file(Delete, "/p/k", 13),
                on_file(Create, "/p/k", 14),
            ],
            expected: &["/p/k"],
        },
        Case {
            name: "deleting the prefix directory removes everything",
            prefix: "/p",
            listed: &["/p/a", "/p/b/c"],
            events: vec![on_dir(Delete, "/p", 11)],
            expected: &[],
        },
        Case {
            name: "deleting or expiring an ancestor of the prefix removes everything",
            prefix: "/f/job",
            listed: &["/f/job/a", "/f/job/b/c"],
            events: vec![on_dir(Expire, "/f", 11), on_file(Set, "/f/job/n", 12)],
            expected: &["/f/job/n"],
        },
        Case {
            name: "writes to an ancestor of the prefix are ignored",
            prefix: "/f/job",
            listed: &["/f/job/a"],
            events: vec![on_dir(Set, "/f", 11), on_dir(Update, "/", 12)],
            expected: &["/f/job/a"],
        },
        Case {
            name: "the root prefix reflects every key that is not hidden",
            prefix: "/",
            listed: &["/a", "/b/c", "/b/d"],
            events: vec![
                on_file(Set, "/e", 11),
                on_file(Set, "/_h", 12),
                on_dir(Delete, "/b", 13),
            ],
            expected: &["/a", "/e"],
        },
    ]);
}

// Goal: events apply in index order; one at or below the cache's index (already listed or
// applied) is a duplicate and ignored; a `get` changes nothing. Method: table.
#[test]
fn events_apply_in_order_without_duplicates() {
    use Action::{Delete, Get, Set};
    run(vec![
        Case {
            name: "events at or below the listed index are duplicates",
            prefix: "/p",
            listed: &["/p/a"],
            events: vec![on_file(Delete, "/p/a", 10), on_file(Set, "/p/b", 9)],
            expected: &["/p/a"],
        },
        Case {
            name: "a replayed event after a later one is a duplicate",
            prefix: "/p",
            listed: &[],
            events: vec![
                on_file(Set, "/p/a", 11),
                on_file(Delete, "/p/a", 12),
                on_file(Set, "/p/a", 11),
            ],
            expected: &[],
        },
        Case {
            name: "events apply in order",
            prefix: "/p",
            listed: &[],
            events: vec![
                on_file(Set, "/p/a", 11),
                on_file(Delete, "/p/a", 12),
                on_file(Set, "/p/a", 13),
                on_file(Get, "/p/b", 14),
            ],
            expected: &["/p/a"],
        },
    ]);
}

// Goal: a stored entry carries what the event said: value, both indexes, expiration and TTL;
// a later set replaces it. Method: apply two sets with a TTL on the second and read it back.
#[test]
fn stored_entry_carries_value_indexes_and_ttl() {
    let mut core = listed("/p", &[]);
    core.apply(&on_file(Action::Create, "/p/a", 11)).unwrap();
    let mut with_ttl = on_file(Action::Set, "/p/a", 12);
    with_ttl.node.created_index = StoreIndex(12);
    with_ttl.node.expiration = Some("2030-01-01T00:00:00Z".to_owned());
    with_ttl.node.ttl = Some(30);
    assert_eq!(core.apply(&with_ttl), Ok(Applied::Stored));
    let cache = core.publish().unwrap();
    let expected = Entry {
        value: "v12".to_owned(),
        modified_index: StoreIndex(12),
        created_index: StoreIndex(12),
        expiration: Some("2030-01-01T00:00:00Z".to_owned()),
        ttl: Some(30),
    };
    assert_eq!(cache.get("/p/a"), Some(&expected));
    assert_eq!(cache.index(), StoreIndex(12));
}

// Goal: the index follows every new event, also ignored ones, and never moves back. Method:
// apply an event outside the prefix, then a duplicate; read the index after each.
#[test]
fn index_follows_new_events_only() {
    let mut core = listed("/p", &["/p/a"]);
    assert_eq!(
        core.apply(&on_file(Action::Set, "/q/x", 15)),
        Ok(Applied::Ignored(Ignored::OutsidePrefix))
    );
    assert_eq!(core.index(), StoreIndex(15));
    assert_eq!(
        core.apply(&on_file(Action::Delete, "/p/a", 14)),
        Ok(Applied::Ignored(Ignored::Duplicate))
    );
    assert_eq!(core.index(), StoreIndex(15));
    assert_eq!(core.len(), 1);
    assert!(
        core.publish().is_none(),
        "ignored events publish nothing new"
    );
}

// Goal: an event or a list beyond keys_max is refused and leaves the state exactly as it was
// (entries, index, nothing to publish). Method: a core with keys_max 2 holding 2 files.
#[test]
fn refused_event_or_list_changes_nothing() {
    let mut core = Core::new("/p", 2, started());
    core.relist(listing("/p", &["/p/a", "/p/b"], 10)).unwrap();
    let before = core.publish().unwrap();
    let refused = ApplyError::TooManyKeys { keys_max: 2 };
    assert_eq!(
        core.apply(&on_file(Action::Create, "/p/c", 11)),
        Err(refused)
    );
    assert_eq!(
        core.relist(listing("/p", &["/p/a", "/p/b", "/p/c"], 12)),
        Err(refused)
    );
    assert_eq!(core.index(), StoreIndex(10));
    assert!(core.publish().is_none());
    let after = core.snapshot();
    assert_eq!(keys(&after), keys(&before));
    // Replacing a cached key is not a new key: allowed at the bound.
    assert_eq!(
        core.apply(&on_file(Action::Set, "/p/a", 11)),
        Ok(Applied::Stored)
    );
}

// Goal: the first list reports "anything changed"; a re-list reports exactly the keys added,
// changed (same value, new index included) or removed, and not the unchanged ones. Method:
// list, then re-list a different listing and read the published changes.
#[test]
fn relist_reports_the_difference() {
    let mut core = Core::new("/p", 100, started());
    core.relist(listing("/p", &["/p/same", "/p/gone", "/p/touched"], 10))
        .unwrap();
    let first = core.publish().unwrap();
    assert_eq!(first.changes(), &Changes::All);
    assert_eq!((first.generation(), first.list_count()), (1, 1));
    let mut second = listing("/p", &["/p/same", "/p/new"], 20);
    let mut touched = file("/p/touched", 2);
    touched.modified_index = StoreIndex(15);
    second.node.as_mut().unwrap().nodes.push(touched);
    core.relist(second).unwrap();
    let cache = core.publish().unwrap();
    assert_eq!(changed(&cache), ["/p/gone", "/p/new", "/p/touched"]);
    assert_eq!(keys(&cache), ["/p/new", "/p/same", "/p/touched"]);
    assert_eq!((cache.index(), cache.list_count()), (StoreIndex(20), 2));
}

// Goal: a prefix that does not exist lists as empty at the error's index, and a re-list that
// changes nothing still publishes the new index with no key named. Method: relist twice.
#[test]
fn missing_prefix_lists_empty() {
    let mut core = Core::new("/p", 100, started());
    let missing = |index| Listing {
        node: None,
        index: StoreIndex(index),
    };
    core.relist(missing(7)).unwrap();
    let cache = core.publish().unwrap();
    assert!(cache.is_empty() && cache.is_synced());
    assert_eq!(cache.index(), StoreIndex(7));
    core.relist(missing(9)).unwrap();
    let again = core.publish().unwrap();
    assert_eq!(again.changes(), &Changes::Keys(BTreeSet::new()));
    assert_eq!(again.index(), StoreIndex(9));
}

// Goal: a listing is flattened to its files: nested directories walked, empty and hidden
// directories and keys outside the prefix skipped, a file at the prefix itself kept. Method:
// build one tree by hand.
#[test]
fn listing_keeps_only_visible_files() {
    let mut deep = node("/p/a/b", None, true, 1);
    deep.nodes.push(file("/p/a/b/c", 2));
    deep.nodes.push(node("/p/a/b/empty", None, true, 1));
    let mut outer = node("/p/a", None, true, 1);
    outer.nodes.push(deep);
    let mut hidden = node("/p/_h", None, true, 1);
    hidden.nodes.push(file("/p/_h/x", 2));
    let mut root = node("/p", None, true, 1);
    root.nodes.extend([outer, hidden, file("/other/x", 2)]);
    let entries = leaves("/p", Some(root), 100).unwrap();
    let listed: Vec<&str> = entries.keys().map(|key| &**key).collect();
    assert_eq!(listed, ["/p/a/b/c"]);
    let single = leaves("/p/k", Some(file("/p/k", 3)), 100).unwrap();
    assert!(single.contains_key("/p/k"));
}

// Goal: publishing bumps the generation by exactly one, drains the changes, and happens only
// when something changed; health changes alone publish with no key named. Method: drive a
// core through events, staleness and stop.
#[test]
fn publish_bumps_generation_once_per_change() {
    let start = started();
    let mut core = Core::new("/p", 100, start);
    let initial = core.snapshot();
    assert_eq!(initial.generation(), 0);
    assert_eq!(initial.health(), Health::Stale { since: start });
    assert!(core.publish().is_none(), "nothing happened yet");
    assert!(!core.mark_stale(start), "already stale");
    core.relist(listing("/p", &[], 10)).unwrap();
    assert_eq!(core.publish().unwrap().generation(), 1);
    core.apply(&on_file(Action::Set, "/p/a", 11)).unwrap();
    core.apply(&on_file(Action::Set, "/p/b", 12)).unwrap();
    let second = core.publish().unwrap();
    assert_eq!(
        (second.generation(), changed(&second)),
        (2, vec!["/p/a".into(), "/p/b".into()])
    );
    let later = start + Duration::from_secs(5);
    assert!(core.mark_stale(later));
    assert!(
        !core.mark_stale(later + Duration::from_secs(1)),
        "first instant kept"
    );
    let stale = core.publish().unwrap();
    assert_eq!(stale.generation(), 3);
    assert_eq!(stale.health(), Health::Stale { since: later });
    assert_eq!(stale.changes(), &Changes::Keys(BTreeSet::new()));
    core.mark_stopped();
    let stopped = core.publish().unwrap();
    assert_eq!(
        (stopped.generation(), stopped.health()),
        (4, Health::Stopped)
    );
    assert!(!core.mark_stale(later), "a stopped core stays stopped");
}

// Goal: more changed keys than the bound turn the changes into "anything changed", whether by
// events or by one directory delete. Method: change REFLECTOR_CHANGED_KEYS_MAX + 1 keys.
#[test]
fn too_many_changes_become_all() {
    let max = u64::try_from(REFLECTOR_CHANGED_KEYS_MAX).unwrap();
    let mut core = Core::new("/p", REFLECTOR_CHANGED_KEYS_MAX + 10, started());
    core.relist(listing("/p", &[], 10)).unwrap();
    core.publish().unwrap();
    for offset in 0..max {
        core.apply(&on_file(
            Action::Set,
            &format!("/p/d/{offset}"),
            11 + offset,
        ))
        .unwrap();
    }
    let full = core.publish().unwrap();
    assert_eq!(
        full.changes().keys().map(BTreeSet::len),
        Some(REFLECTOR_CHANGED_KEYS_MAX)
    );
    core.apply(&on_file(Action::Set, "/p/x", 11 + max)).unwrap();
    core.apply(&on_dir(Action::Delete, "/p/d", 12 + max))
        .unwrap();
    let cache = core.publish().unwrap();
    assert!(cache.changes().is_all());
    assert!(cache.changes().may_include("/p/anything"));
    assert_eq!(keys(&cache), ["/p/x"]);
}

// Goal: a consumer that skipped generations is told "anything changed"; one that is current
// is told "nothing". Method: publish three generations, ask from each earlier one.
#[test]
fn changes_since_reports_gaps_as_all() {
    let mut core = listed("/p", &[]);
    core.apply(&on_file(Action::Set, "/p/a", 11)).unwrap();
    core.publish().unwrap();
    core.apply(&on_file(Action::Set, "/p/b", 12)).unwrap();
    let cache = core.publish().unwrap();
    assert_eq!(cache.generation(), 3);
    assert_eq!(cache.changes_since(3), &Changes::Keys(BTreeSet::new()));
    assert_eq!(cache.changes_since(2), cache.changes());
    assert!(cache.changes_since(2).may_include("/p/b"));
    assert!(!cache.changes_since(2).may_include("/p/a"));
    assert!(cache.changes_since(1).is_all());
    assert!(cache.changes_since(7).is_all());
}

// Goal: a published cache never changes, while the core goes on (copy-on-write). Method:
// keep generation 1, apply a delete and a set, compare both.
#[test]
fn published_cache_is_immutable() {
    let mut core = Core::new("/p", 100, started());
    core.relist(listing("/p", &["/p/a"], 10)).unwrap();
    let kept = core.publish().unwrap();
    core.apply(&on_file(Action::Delete, "/p/a", 11)).unwrap();
    core.apply(&on_file(Action::Set, "/p/b", 12)).unwrap();
    let next = core.publish().unwrap();
    assert_eq!(keys(&kept), ["/p/a"]);
    assert_eq!(kept.index(), StoreIndex(10));
    assert_eq!(keys(&next), ["/p/b"]);
}

// Goal: `under` walks exactly one directory's subtree: segment boundaries respected, a
// trailing slash accepted, the directory's own key excluded, `/` giving everything.
// Method: one cache, several sub-prefixes.
#[test]
fn under_walks_one_subtree() {
    let files = ["/p/job", "/p/job/a", "/p/job/b/c", "/p/jobs/x", "/p/joa"];
    let core = listed("/p", &files);
    let cache = core.snapshot();
    let under = |dir: &str| cache.under(dir).map(|(key, _)| key).collect::<Vec<_>>();
    assert_eq!(under("/p/job"), ["/p/job/a", "/p/job/b/c"]);
    assert_eq!(under("/p/job/"), ["/p/job/a", "/p/job/b/c"]);
    assert_eq!(under("/p/job/b"), ["/p/job/b/c"]);
    assert!(under("/p/nothing").is_empty());
    assert_eq!(under("/").len(), files.len());
    assert_eq!(cache.len(), files.len());
}

// Goal: the place of a key relative to the prefix is decided segment by segment. Method: a
// table of (key, prefix, place).
#[test]
fn place_is_segment_wise() {
    let table = [
        ("/p", "/p", Place::Inside),
        ("/p/a/b", "/p", Place::Inside),
        ("/p/a_b", "/p", Place::Inside),
        ("/pa", "/p", Place::Outside),
        ("/q/p", "/p", Place::Outside),
        ("/p/_a", "/p", Place::Hidden),
        ("/p/a/_b/c", "/p", Place::Hidden),
        ("/_p/a", "/_p", Place::Inside),
        ("/", "/p/q", Place::Ancestor),
        ("/p", "/p/q", Place::Ancestor),
        ("/p/q", "/p/qr", Place::Outside),
        ("/a", "/", Place::Inside),
        ("/_a", "/", Place::Hidden),
        ("/", "/", Place::Inside),
    ];
    for (key, prefix, expected) in table {
        assert_eq!(place(key, prefix), expected, "{key} against {prefix}");
    }
}
