//! Every mutation's success shape and every error it can give, with etcd's causes (spec §5).

use super::*;
use crate::{Action, StoreError, StoreStats};

fn file_view(key: &str, value: &str, modified: u64, created: u64) -> NodeView {
    NodeView {
        key: Some(key.into()),
        value: Some(value.into()),
        dir: false,
        expiration: None,
        ttl: None,
        nodes: None,
        modified_index: StoreIndex(modified),
        created_index: StoreIndex(created),
    }
}

fn dir_view(key: &str, modified: u64, created: u64) -> NodeView {
    NodeView {
        key: Some(key.into()),
        value: None,
        dir: true,
        expiration: None,
        ttl: None,
        nodes: None,
        modified_index: StoreIndex(modified),
        created_index: StoreIndex(created),
    }
}

/// The node of a delete-like event: key, dir and indexes, no value.
fn removed(key: &str, dir: bool, modified: u64, created: u64) -> NodeView {
    NodeView {
        dir,
        value: None,
        ..file_view(key, "", modified, created)
    }
}

// Goal: set on a new key creates it at the next index with no prevNode (the HTTP layer's 201).
#[test]
fn set_creates_file() {
    let mut store = Store::new();
    let event = apply_ok(&mut store, &set("/foo", "bar"));
    assert_eq!(event.action, Action::Set);
    assert_eq!(event.node, file_view("/foo", "bar", 1, 1));
    assert_eq!(event.prev_node, None);
    assert!(!event.refresh);
    assert_eq!(store.index(), StoreIndex(1));
    assert_eq!(get_node(&store, "/foo"), file_view("/foo", "bar", 1, 1));
}

// Goal: set on an existing file recreates it (new createdIndex) and reports the old node.
#[test]
fn set_replaces_file_with_new_created_index() {
    let mut store = store_with(&[set("/foo", "bar")]);
    let event = apply_ok(&mut store, &set("/foo", "baz"));
    assert_eq!(event.node, file_view("/foo", "baz", 2, 2));
    assert_eq!(event.prev_node, Some(file_view("/foo", "bar", 1, 1)));
}

// Goal: a write under missing directories creates them at the write's index, no extra index.
#[test]
fn implicit_parents_take_the_write_index() {
    let mut store = store_with(&[set("/x", "1")]);
    apply_ok(&mut store, &set("/a/b/c", "v"));
    assert_eq!(store.index(), StoreIndex(2));
    assert_eq!(get_node(&store, "/a/b").modified_index, StoreIndex(2));
    let a = get_node(&store, "/a");
    assert!(a.dir);
    assert_eq!(
        (a.created_index, a.modified_index),
        (StoreIndex(2), StoreIndex(2))
    );
    assert_eq!(a.nodes, Some(vec![dir_view("/a/b", 2, 2)]));
}

// Goal: set with dir=true makes an empty directory, ignoring the value; on a file it replaces
// the file with an empty directory and reports the file as prevNode.
#[test]
fn set_dir_creates_or_replaces_file() {
    let mut store = Store::new();
    let created = apply_ok(
        &mut store,
        &Mutation::Set {
            path: "/d".into(),
            value: "ignored".into(),
            dir: true,
            expire_at: None,
            refresh: false,
        },
    );
    assert_eq!(created.node, dir_view("/d", 1, 1));
    apply_ok(&mut store, &set("/f", "v"));
    let replaced = apply_ok(&mut store, &mkdir("/f"));
    assert_eq!(replaced.node, dir_view("/f", 3, 3));
    assert_eq!(replaced.prev_node, Some(file_view("/f", "v", 2, 2)));
    assert_eq!(get_node(&store, "/f"), dir_view("/f", 3, 3));
}

// Goal: the error table of set: directory target (102), root (107), path through a file (104).
#[test]
fn set_errors() {
    let mut store = store_with(&[mkdir("/d"), set("/f", "v"), set("/e/x", "1")]);
    expect_failure(&mut store, &set("/d", "v"), 102, "/d");
    expect_failure(&mut store, &mkdir("/d"), 102, "/d");
    expect_failure(&mut store, &mkdir("/e"), 102, "/e");
    expect_failure(&mut store, &set("/", "v"), 107, "/");
    expect_failure(&mut store, &mkdir("/"), 107, "/");
    expect_failure(&mut store, &set("/f/x", "v"), 104, "/f");
    expect_failure(&mut store, &set("/f/x/y", "v"), 104, "/f");
    expect_failure(&mut store, &set("/e/x/y", "v"), 104, "/e/x");
}

// Goal: create makes a new file or directory and refuses any existing node with 105.
#[test]
fn create_table() {
    let mut store = store_with(&[set("/f", "v"), mkdir("/d")]);
    let event = apply_ok(&mut store, &create("/n", "1"));
    assert_eq!(event.action, Action::Create);
    assert_eq!(event.node, file_view("/n", "1", 3, 3));
    assert_eq!(event.prev_node, None);
    let dir = Mutation::Create {
        path: "/nd/sub".into(),
        value: String::new(),
        dir: true,
        expire_at: None,
        in_order: false,
    };
    assert_eq!(apply_ok(&mut store, &dir).node, dir_view("/nd/sub", 4, 4));
    expect_failure(&mut store, &create("/f", "x"), 105, "/f");
    expect_failure(&mut store, &create("/d", "x"), 105, "/d");
    expect_failure(&mut store, &create("/", "x"), 107, "/");
    expect_failure(&mut store, &create("/f/x", "x"), 104, "/f");
}

// Goal: update keeps createdIndex on files, needs the key (100), refuses a value on a dir.
#[test]
fn update_table() {
    let mut store = store_with(&[set("/f", "a"), mkdir("/d")]);
    let event = apply_ok(&mut store, &update("/f", "b"));
    assert_eq!(event.action, Action::Update);
    assert_eq!(event.node, file_view("/f", "b", 3, 1));
    assert_eq!(event.prev_node, Some(file_view("/f", "a", 1, 1)));
    let emptied = apply_ok(&mut store, &update("/f", ""));
    assert_eq!(emptied.node.value.as_deref(), Some(""));
    expect_failure(&mut store, &update("/missing", "x"), 100, "/missing");
    expect_failure(&mut store, &update("/m/n", "x"), 100, "/m");
    expect_failure(&mut store, &update("/d", "x"), 102, "/d");
    expect_failure(&mut store, &update("/", ""), 107, "/");
    expect_failure(&mut store, &update("/f/x", "x"), 104, "/f");
}

// Goal: update of a directory without value only changes its TTL; its event reports the new
// index but the stored modifiedIndex does not move (etcd quirk, spec §5.2 [Q]).
#[test]
fn update_directory_keeps_stored_modified_index() {
    let mut store = store_with(&[mkdir("/d"), set("/d/k", "v")]);
    let until = NOW.plus_seconds(100);
    let event = apply_ok(
        &mut store,
        &Mutation::Update {
            path: "/d".into(),
            value: String::new(),
            expire_at: Some(until),
            refresh: false,
        },
    );
    let expected = NodeView {
        expiration: Some(until),
        ttl: Some(100),
        ..dir_view("/d", 3, 1)
    };
    assert_eq!(event.node, expected);
    assert_eq!(event.prev_node, Some(dir_view("/d", 1, 1)));
    let stored = get_node(&store, "/d");
    assert_eq!(stored.modified_index, StoreIndex(1));
    assert_eq!(stored.expiration, Some(until));
    assert_eq!(store.index(), StoreIndex(3));
}

// Goal: compareAndSwap succeeds when every given condition holds and keeps createdIndex.
#[test]
fn compare_and_swap_success_table() {
    let cases: [(Option<&str>, Option<u64>); 5] = [
        (Some("a"), None),
        (None, Some(2)),
        (Some("a"), Some(2)),
        (Some(""), Some(2)),
        (Some("a"), Some(0)),
    ];
    for (prev_value, prev_index) in cases {
        let mut store = store_with(&[set("/x", "0"), set("/f", "a")]);
        let event = apply_ok(&mut store, &cas("/f", "b", prev_value, prev_index));
        assert_eq!(event.action, Action::CompareAndSwap);
        assert_eq!(
            event.node,
            file_view("/f", "b", 3, 2),
            "{prev_value:?} {prev_index:?}"
        );
        assert_eq!(event.prev_node, Some(file_view("/f", "a", 2, 2)));
    }
}

// Goal: compareAndSwap failures with etcd's exact causes, and its other errors.
#[test]
fn compare_and_swap_error_table() {
    let mut store = store_with(&[set("/x", "0"), set("/f", "a"), mkdir("/d")]);
    expect_failure(
        &mut store,
        &cas("/f", "b", Some("z"), None),
        101,
        "[z != a]",
    );
    expect_failure(&mut store, &cas("/f", "b", None, Some(7)), 101, "[7 != 2]");
    expect_failure(
        &mut store,
        &cas("/f", "b", Some("z"), Some(7)),
        101,
        "[z != a] [7 != 2]",
    );
    expect_failure(
        &mut store,
        &cas("/f", "b", Some("z"), Some(2)),
        101,
        "[z != a]",
    );
    expect_failure(
        &mut store,
        &cas("/f", "b", Some("a"), Some(1)),
        101,
        "[1 != 2]",
    );
    expect_failure(
        &mut store,
        &cas("/missing", "b", Some("a"), None),
        100,
        "/missing",
    );
    expect_failure(&mut store, &cas("/d", "b", Some("a"), None), 102, "/d");
    expect_failure(&mut store, &cas("/", "b", Some("a"), None), 107, "/");
    expect_failure(&mut store, &cas("/f/g", "b", Some("a"), None), 104, "/f");
}

// Goal: delete of files and directories: no value in node, new modifiedIndex, prevNode
// without children; recursive implies dir; a file goes whatever dir says.
#[test]
fn delete_success_table() {
    let cases = [
        ("/f", false, false, false),
        ("/f", true, false, false),
        ("/f", true, true, false),
        ("/e", true, false, true),
        ("/e", false, true, true),
        ("/d", true, true, true),
        ("/d", false, true, true),
    ];
    for (path, dir, recursive, is_dir) in cases {
        let mut store = store_with(&[set("/f", "v"), mkdir("/e"), set("/d/k", "1")]);
        let event = apply_ok(&mut store, &delete(path, dir, recursive));
        let created = match path {
            "/f" => 1,
            "/e" => 2,
            _ => 3,
        };
        assert_eq!(event.action, Action::Delete);
        assert_eq!(
            event.node,
            removed(path, is_dir, 4, created),
            "{path} {dir} {recursive}"
        );
        let prev = event.prev_node.expect("delete reports the old node");
        assert_eq!(prev.nodes, None);
        assert_eq!(prev.dir, is_dir);
        assert!(store.get(path, false, false, NOW).is_err());
    }
}

// Goal: delete errors: 102 without dir, 108 non-empty, 100 missing, 107 root, 104 through file.
#[test]
fn delete_error_table() {
    let mut store = store_with(&[
        set("/f", "v"),
        mkdir("/e"),
        set("/d/k", "1"),
        set("/h/_x", "1"),
    ]);
    expect_failure(&mut store, &delete("/e", false, false), 102, "/e");
    expect_failure(&mut store, &delete("/d", false, false), 102, "/d");
    expect_failure(&mut store, &delete("/d", true, false), 108, "/d");
    expect_failure(&mut store, &delete("/h", true, false), 108, "/h");
    expect_failure(
        &mut store,
        &delete("/missing", false, false),
        100,
        "/missing",
    );
    expect_failure(&mut store, &delete("/d/k/x", false, false), 104, "/d/k");
    for (dir, recursive) in [(false, false), (true, false), (true, true)] {
        expect_failure(&mut store, &delete("/", dir, recursive), 107, "/");
    }
}

// Goal: compareAndDelete on files only, with the compare causes; the root is a directory with
// an empty cause, as etcd 3.4 answers.
#[test]
fn compare_and_delete_table() {
    let mut store = store_with(&[set("/f", "one"), mkdir("/d")]);
    expect_failure(
        &mut store,
        &cad("/f", Some("two"), None),
        101,
        "[two != one]",
    );
    expect_failure(&mut store, &cad("/f", None, Some(9)), 101, "[9 != 1]");
    expect_failure(
        &mut store,
        &cad("/f", Some("two"), Some(9)),
        101,
        "[two != one] [9 != 1]",
    );
    expect_failure(&mut store, &cad("/d", Some("x"), None), 102, "/d");
    expect_failure(&mut store, &cad("/", Some("x"), None), 102, "");
    expect_failure(
        &mut store,
        &cad("/missing", Some("x"), None),
        100,
        "/missing",
    );
    expect_failure(&mut store, &cad("/f/x", Some("x"), None), 104, "/f");
    let event = apply_ok(&mut store, &cad("/f", Some("one"), Some(1)));
    assert_eq!(event.action, Action::CompareAndDelete);
    assert_eq!(event.node, removed("/f", false, 3, 1));
    assert_eq!(event.prev_node, Some(file_view("/f", "one", 1, 1)));
}

// Goal: in-order create names the child with the new index in 20 digits, creates the parent
// with the same index, allows the root, and refuses a file parent with 104.
#[test]
fn in_order_create_table() {
    let mut store = store_with(&[set("/a", "1"), set("/file", "v")]);
    let first = apply_ok(&mut store, &post("/queue", "job1"));
    assert_eq!(first.action, Action::Create);
    assert_eq!(
        first.node,
        file_view("/queue/00000000000000000003", "job1", 3, 3)
    );
    assert_eq!(get_node(&store, "/queue").created_index, StoreIndex(3));
    assert_eq!(store.index(), StoreIndex(3));
    apply_ok(&mut store, &set("/b", "2"));
    let second = apply_ok(&mut store, &post("/queue", "job2"));
    assert_eq!(
        second.node.key.as_deref(),
        Some("/queue/00000000000000000005")
    );
    let at_root = apply_ok(&mut store, &post("/", "r"));
    assert_eq!(at_root.node.key.as_deref(), Some("/00000000000000000006"));
    let dir = Mutation::Create {
        path: "/queue".into(),
        value: String::new(),
        dir: true,
        expire_at: None,
        in_order: true,
    };
    let dir_child = apply_ok(&mut store, &dir);
    assert_eq!(
        dir_child.node,
        dir_view("/queue/00000000000000000007", 7, 7)
    );
    expect_failure(&mut store, &post("/file", "x"), 104, "/file");
    expect_failure(&mut store, &post("/file/sub", "x"), 104, "/file");
    let listing = store.get("/queue", false, true, NOW).unwrap().node;
    let keys: Vec<_> = listing
        .nodes
        .unwrap()
        .into_iter()
        .map(|node| node.key.unwrap())
        .collect();
    assert_eq!(
        keys,
        vec![
            "/queue/00000000000000000003",
            "/queue/00000000000000000005",
            "/queue/00000000000000000007",
        ]
    );
}

// Goal: paths that are not clean are cleaned like etcd's path.Clean before use.
#[test]
fn unclean_paths_are_cleaned() {
    let mut store = Store::new();
    let event = apply_ok(&mut store, &set("a//b/./c/", "v"));
    assert_eq!(event.node.key.as_deref(), Some("/a/b/c"));
    assert_eq!(get_node(&store, "/a/b/../b/c").value.as_deref(), Some("v"));
    expect_failure(&mut store, &set("/a/..", "v"), 107, "/");
}

// Goal: code, cause and index accessors for every error variant.
#[test]
fn error_accessor_table() {
    let index = StoreIndex(9);
    let cause = String::from("c");
    let cases = [
        (
            StoreError::KeyNotFound {
                cause: cause.clone(),
                index,
            },
            Some(100),
        ),
        (
            StoreError::CompareFailed {
                cause: cause.clone(),
                index,
            },
            Some(101),
        ),
        (
            StoreError::NotAFile {
                cause: cause.clone(),
                index,
            },
            Some(102),
        ),
        (
            StoreError::NotADirectory {
                cause: cause.clone(),
                index,
            },
            Some(104),
        ),
        (
            StoreError::KeyAlreadyExists {
                cause: cause.clone(),
                index,
            },
            Some(105),
        ),
        (
            StoreError::RootReadOnly {
                cause: cause.clone(),
                index,
            },
            Some(107),
        ),
        (
            StoreError::DirectoryNotEmpty {
                cause: cause.clone(),
                index,
            },
            Some(108),
        ),
        (
            StoreError::EventIndexCleared {
                cause: cause.clone(),
                index,
            },
            Some(401),
        ),
    ];
    for (error, code) in cases {
        assert_eq!(error.code(), code, "{error}");
        assert_eq!(error.cause(), "c");
        assert_eq!(error.index(), index);
    }
    let limit = StoreError::WatcherLimitReached { index };
    assert_eq!(
        (limit.code(), limit.cause(), limit.index()),
        (None, "", index)
    );
    let invalid = StoreError::InvalidSaveData { reason: "r".into() };
    assert_eq!((invalid.code(), invalid.cause()), (None, ""));
    assert_eq!(invalid.index(), StoreIndex(0));
}

// Goal: each operation's success and failure lands in its own counter.
#[test]
fn stats_count_outcomes() {
    let mut store = Store::new();
    let pairs = [
        (set("/f", "a"), set("/", "a")),
        (create("/g", "a"), create("/g", "a")),
        (update("/g", "b"), update("/nope", "b")),
        (
            cas("/g", "c", Some("b"), None),
            cas("/g", "c", Some("b"), None),
        ),
        (cad("/g", Some("c"), None), cad("/g", Some("c"), None)),
        (delete("/f", false, false), delete("/f", false, false)),
    ];
    for (succeeding, failing) in &pairs {
        apply_ok(&mut store, succeeding);
        store.apply(failing, NOW).unwrap_err();
    }
    store.get("/", false, false, NOW).unwrap();
    store.get("/nope", false, false, NOW).unwrap_err();
    store.get("/nope", false, false, NOW).unwrap_err();
    let expected = StoreStats {
        gets_success: 1,
        gets_fail: 2,
        sets_success: 1,
        sets_fail: 1,
        delete_success: 1,
        delete_fail: 1,
        update_success: 1,
        update_fail: 1,
        create_success: 1,
        create_fail: 1,
        compare_and_swap_success: 1,
        compare_and_swap_fail: 1,
        compare_and_delete_success: 1,
        compare_and_delete_fail: 1,
        expire_count: 0,
        watchers: 0,
    };
    assert_eq!(store.stats(), expected);
}

// Goal: the store can sit behind a RwLock shared across threads.
#[test]
fn store_is_send_and_sync() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Store>();
    assert_send_sync::<StoreError>();
}
