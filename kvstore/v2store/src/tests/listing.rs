//! Reads: files, directory listings, recursion, hidden keys, order and errors (spec §3, §5.1, §8).

use super::*;
use crate::Action;

fn keys(nodes: Option<&Vec<NodeView>>) -> Vec<String> {
    nodes
        .into_iter()
        .flatten()
        .map(|node| node.key.clone().unwrap())
        .collect()
}

// Goal: a root GET on an empty store is a bare directory with no key, no nodes, indexes 0.
#[test]
fn root_of_empty_store() {
    let store = Store::new();
    let event = store.get("/", false, false, NOW).unwrap();
    assert_eq!(event.action, Action::Get);
    assert_eq!(event.prev_node, None);
    let root = event.node;
    assert_eq!(root.key, None);
    assert!(root.dir);
    assert_eq!(root.value, None);
    assert_eq!(root.nodes, None);
    assert_eq!(
        (root.modified_index, root.created_index),
        (StoreIndex(0), StoreIndex(0))
    );
}

// Goal: a file reads back with its value (empty included); recursive changes nothing.
#[test]
fn file_reads() {
    let store = store_with(&[set("/f", ""), set("/g", "v")]);
    assert_eq!(get_node(&store, "/f").value.as_deref(), Some(""));
    let plain = store.get("/g", false, false, NOW).unwrap();
    let recursive = store.get("/g", true, true, NOW).unwrap();
    assert_eq!(plain, recursive);
    assert_eq!(plain.node.nodes, None);
}

// Goal: a directory lists immediate children; child directories appear without children
// unless recursive, which lists the whole visible subtree.
#[test]
fn directory_listing_depth() {
    let store = store_with(&[set("/d/a", "1"), set("/d/sub/b", "2"), mkdir("/d/empty")]);
    let plain = get_node(&store, "/d");
    assert_eq!(
        keys(plain.nodes.as_ref()),
        vec!["/d/a", "/d/empty", "/d/sub"]
    );
    for child in plain.nodes.as_ref().unwrap() {
        assert_eq!(child.nodes, None, "{:?}", child.key);
    }
    let recursive = store.get("/d", true, false, NOW).unwrap().node;
    let children = recursive.nodes.unwrap();
    assert_eq!(children[1].nodes, None, "empty directory has no nodes");
    assert_eq!(keys(children[2].nodes.as_ref()), vec!["/d/sub/b"]);
    assert_eq!(
        children[2].nodes.as_ref().unwrap()[0].value.as_deref(),
        Some("2")
    );
    let root = store.get("/", true, false, NOW).unwrap().node;
    assert_eq!(keys(root.nodes.as_ref()), vec!["/d"]);
}

// Goal: hidden children are left out at every depth, with their subtrees, yet stay readable
// by exact path; a directory whose only children are hidden lists no nodes.
#[test]
fn hidden_children_left_out() {
    let store = store_with(&[
        set("/_top", "t"),
        set("/d/_h", "1"),
        set("/d/v", "2"),
        set("/d/sub/_deep", "3"),
        set("/d/_hd/x", "4"),
        set("/only/_x", "5"),
    ]);
    let root = store.get("/", true, true, NOW).unwrap().node;
    assert_eq!(keys(root.nodes.as_ref()), vec!["/d", "/only"]);
    let d = &root.nodes.as_ref().unwrap()[0];
    assert_eq!(keys(d.nodes.as_ref()), vec!["/d/sub", "/d/v"]);
    assert_eq!(d.nodes.as_ref().unwrap()[0].nodes, None);
    assert_eq!(root.nodes.as_ref().unwrap()[1].nodes, None);
    assert_eq!(get_node(&store, "/d/_h").value.as_deref(), Some("1"));
    assert_eq!(get_node(&store, "/d/_hd/x").value.as_deref(), Some("4"));
    assert_eq!(
        keys(get_node(&store, "/d/_hd").nodes.as_ref()),
        vec!["/d/_hd/x"]
    );
}

// Goal: children come in byte order of their keys at every level, sorted or not.
#[test]
fn listing_is_in_byte_order() {
    let store = store_with(&[
        set("/s/b", "1"),
        set("/s/B", "2"),
        set("/s/a0", "3"),
        set("/s/a/z", "4"),
        set("/s/a/y", "5"),
        set("/s/\u{e9}", "6"),
        set("/s/a.b", "7"),
    ]);
    for sorted in [false, true] {
        let node = store.get("/s", true, sorted, NOW).unwrap().node;
        assert_eq!(
            keys(node.nodes.as_ref()),
            vec!["/s/B", "/s/a", "/s/a.b", "/s/a0", "/s/b", "/s/\u{e9}"]
        );
        assert_eq!(
            keys(node.nodes.unwrap()[1].nodes.as_ref()),
            vec!["/s/a/y", "/s/a/z"]
        );
    }
}

// Goal: GET errors: 100 with the first missing prefix, 104 with the file in the way, both at
// the current index.
#[test]
fn get_error_table() {
    let store = store_with(&[set("/f", "v"), set("/d/k", "1")]);
    let cases = [
        ("/missing", 100, "/missing"),
        ("/missing/a/b", 100, "/missing"),
        ("/d/x/y", 100, "/d/x"),
        ("/f/x", 104, "/f"),
        ("/d/k/x/y", 104, "/d/k"),
    ];
    for (path, code, cause) in cases {
        let error = store.get(path, false, false, NOW).unwrap_err();
        assert_eq!(error.code(), Some(code), "{path}");
        assert_eq!(error.cause(), cause, "{path}");
        assert_eq!(error.index(), StoreIndex(2), "{path}");
    }
}

// Goal: after deleting a directory, reading below it reports the directory as missing.
#[test]
fn missing_prefix_after_delete() {
    let mut store = store_with(&[set("/dir1/a", "1")]);
    apply_ok(&mut store, &delete("/dir1", true, true));
    let error = store.get("/dir1/a", false, false, NOW).unwrap_err();
    assert_eq!((error.code(), error.cause()), (Some(100), "/dir1"));
}
