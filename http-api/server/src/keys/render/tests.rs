//! Golden tests of event rendering: hand-built `v2store::Event`s must render to the exact
//! bytes etcd 3.4.23 sent (spec §3, §4, §11, or captured with curl where marked).

use super::{event_body, event_status, watch_line};
use v2store::{Action, Event, NodeView, StoreIndex, Time};

fn file(key: &str, value: &str, modified: u64, created: u64) -> NodeView {
    NodeView {
        key: Some(key.to_owned()),
        value: Some(value.to_owned()),
        dir: false,
        expiration: None,
        ttl: None,
        nodes: None,
        modified_index: StoreIndex(modified),
        created_index: StoreIndex(created),
    }
}

fn removed(key: &str, modified: u64, created: u64) -> NodeView {
    NodeView {
        value: None,
        ..file(key, "", modified, created)
    }
}

fn event(action: Action, node: NodeView, prev_node: Option<NodeView>) -> Event {
    Event {
        action,
        node,
        prev_node,
        refresh: false,
    }
}

fn text(bytes: &[u8]) -> &str {
    std::str::from_utf8(bytes).expect("JSON is UTF-8")
}

#[test]
fn set_of_a_new_key_is_201_and_replace_is_200() {
    // Goal: spec §11 lines 1–2: body bytes and status (201 only without prevNode).
    let new = event(Action::Set, file("/foo", "bar", 4, 4), None);
    assert_eq!(
        text(&event_body(&new, false)),
        "{\"action\":\"set\",\"node\":{\"key\":\"/foo\",\"value\":\"bar\",\"modifiedIndex\":4,\"createdIndex\":4}}\n"
    );
    assert_eq!(event_status(&new), 201);
    let replaced = event(
        Action::Set,
        file("/foo", "baz", 5, 5),
        Some(file("/foo", "bar", 4, 4)),
    );
    assert_eq!(
        text(&event_body(&replaced, false)),
        concat!(
            r#"{"action":"set","node":{"key":"/foo","value":"baz","modifiedIndex":5,"createdIndex":5},"#,
            r#""prevNode":{"key":"/foo","value":"bar","modifiedIndex":4,"createdIndex":4}}"#,
            "\n"
        )
    );
    assert_eq!(event_status(&replaced), 200);
}

#[test]
fn statuses_of_every_action() {
    // Goal: etcd's `IsCreated`: create is always 201, everything else but a fresh set is 200.
    let create = event(
        Action::Create,
        file("/q/00000000000000001160", "job1", 1160, 1160),
        None,
    );
    assert_eq!(event_status(&create), 201);
    for action in [
        Action::Get,
        Action::Update,
        Action::CompareAndSwap,
        Action::Delete,
        Action::CompareAndDelete,
        Action::Expire,
    ] {
        assert_eq!(
            event_status(&event(action, file("/k", "v", 2, 1), None)),
            200,
            "{action:?}"
        );
    }
}

#[test]
fn root_get_and_nested_listing() {
    // Goal: root without key and indexes (spec §3), and a captured sorted recursive listing
    // with an empty directory (no `nodes`) and a nested one.
    let root = NodeView {
        key: None,
        value: None,
        dir: true,
        nodes: None,
        modified_index: StoreIndex(0),
        created_index: StoreIndex(0),
        ..file("", "", 0, 0)
    };
    let empty = event(Action::Get, root.clone(), None);
    assert_eq!(
        text(&event_body(&empty, false)),
        "{\"action\":\"get\",\"node\":{\"dir\":true}}\n"
    );
    let queue = NodeView {
        value: None,
        dir: true,
        nodes: Some(vec![file("/q/00000000000000000020", "j", 20, 20)]),
        ..file("/q", "", 20, 20)
    };
    let empty_dir = NodeView {
        value: None,
        dir: true,
        nodes: Some(Vec::new()),
        ..file("/e", "", 21, 21)
    };
    let listing = NodeView {
        nodes: Some(vec![empty_dir, queue, file("/t", "", 19, 19)]),
        ..root
    };
    assert_eq!(
        text(&event_body(&event(Action::Get, listing, None), false)),
        concat!(
            r#"{"action":"get","node":{"dir":true,"nodes":["#,
            r#"{"key":"/e","dir":true,"modifiedIndex":21,"createdIndex":21},"#,
            r#"{"key":"/q","dir":true,"nodes":[{"key":"/q/00000000000000000020","value":"j","#,
            r#""modifiedIndex":20,"createdIndex":20}],"modifiedIndex":20,"createdIndex":20},"#,
            r#"{"key":"/t","value":"","modifiedIndex":19,"createdIndex":19}]}}"#,
            "\n"
        )
    );
}

#[test]
fn expiration_and_ttl_as_captured() {
    // Goal: captured reply to `PUT ?refresh=true&value=&ttl=5&prevExist=true` on etcd.
    let node = NodeView {
        expiration: Some(Time(1_795_322_549_911_414_414)),
        ttl: Some(5),
        ..file("/foo", "up case", 12, 11)
    };
    let update = event(Action::Update, node, Some(file("/foo", "up case", 11, 11)));
    assert_eq!(
        text(&event_body(&update, false)),
        concat!(
            r#"{"action":"update","node":{"key":"/foo","value":"up case","#,
            r#""expiration":"2026-11-22T04:42:29.911414414Z","ttl":5,"modifiedIndex":12,"createdIndex":11},"#,
            r#""prevNode":{"key":"/foo","value":"up case","modifiedIndex":11,"createdIndex":11}}"#,
            "\n"
        )
    );
}

#[test]
fn delete_like_events_and_expire_watch_line() {
    // Goal: spec §11 compareAndDelete and expire shapes: node without value, prevNode with
    // it; a watch line is the same JSON plus `\n`.
    let delete = event(
        Action::CompareAndDelete,
        removed("/c1", 11, 10),
        Some(file("/c1", "one", 10, 10)),
    );
    assert_eq!(
        text(&event_body(&delete, true)),
        concat!(
            r#"{"action":"compareAndDelete","node":{"key":"/c1","modifiedIndex":11,"createdIndex":10},"#,
            r#""prevNode":{"key":"/c1","value":"one","modifiedIndex":10,"createdIndex":10}}"#,
            "\n"
        )
    );
    let previous = NodeView {
        expiration: Some(Time(1_795_316_340_233_991_290)),
        ttl: None,
        ..file("/t3", "x", 34, 34)
    };
    let expire = event(Action::Expire, removed("/t3", 36, 34), Some(previous));
    assert_eq!(
        text(&watch_line(&expire)),
        concat!(
            r#"{"action":"expire","node":{"key":"/t3","modifiedIndex":36,"createdIndex":34},"#,
            r#""prevNode":{"key":"/t3","value":"x","expiration":"2026-11-22T02:59:00.23399129Z","#,
            r#""modifiedIndex":34,"createdIndex":34}}"#,
            "\n"
        )
    );
    assert_eq!(watch_line(&expire), event_body(&expire, false));
}

#[test]
fn no_value_on_success_shrinks_writes_only() {
    // Goal: `PUT /v2/keys/nv?noValueOnSuccess=true value=1` → `{"action":"set"}` (spec §11);
    // same for create, update and compareAndSwap; deletes and gets ignore it (spec §5.5).
    for (action, name) in [
        (Action::Set, "set"),
        (Action::Create, "create"),
        (Action::Update, "update"),
        (Action::CompareAndSwap, "compareAndSwap"),
    ] {
        let write = event(action, file("/nv", "1", 5, 5), Some(file("/nv", "0", 4, 4)));
        assert_eq!(
            text(&event_body(&write, true)),
            format!("{{\"action\":\"{name}\"}}\n")
        );
    }
    let delete = event(
        Action::Delete,
        removed("/nv", 6, 5),
        Some(file("/nv", "1", 5, 5)),
    );
    assert!(text(&event_body(&delete, true)).contains("\"prevNode\""));
    let read = event(Action::Get, file("/nv", "1", 5, 5), None);
    assert!(text(&event_body(&read, true)).contains("\"value\":\"1\""));
}

#[test]
fn strings_are_escaped_like_go() {
    // Goal: Go's encoder escapes. Method: captured
    // `PUT /v2/keys/esc%3C%3E --data-urlencode $'value=<a>&b\b\f\x01\n\t"\\\u2028/é'`.
    let value = "<a>&b\u{8}\u{c}\u{1}\n\t\"\\\u{2028}/é";
    let set = event(Action::Set, file("/esc<>", value, 25, 25), None);
    assert_eq!(
        text(&event_body(&set, false)),
        concat!(
            r#"{"action":"set","node":{"key":"/esc\u003c\u003e","#,
            r#""value":"\u003ca\u003e\u0026b\u0008\u000c\u0001\n\t\"\\\u2028/é","#,
            r#""modifiedIndex":25,"createdIndex":25}}"#,
            "\n"
        )
    );
}

#[test]
fn line_separators_escaped_other_three_byte_characters_kept() {
    // Goal: U+2028 and U+2029 become escapes wherever they stand, while other characters
    // that share their first bytes (E2 80 A6 "…", E2 82 AC "€") pass through unchanged.
    // Method: Go's encoder escapes exactly <, >, &, U+2028 and U+2029 (encoding/json).
    let value = "\u{2029}…€\u{2028}x\u{2029}";
    let set = event(Action::Set, file("/s", value, 3, 3), None);
    assert_eq!(
        text(&event_body(&set, false)),
        concat!(
            r#"{"action":"set","node":{"key":"/s","#,
            r#""value":"\u2029…€\u2028x\u2029","#,
            r#""modifiedIndex":3,"createdIndex":3}}"#,
            "\n"
        )
    );
}

#[test]
fn deepest_allowed_listing_renders_on_a_worker_stack() {
    // Goal: a recursive listing of the deepest tree the request parser lets in
    // (`KEY_SEGMENTS_MAX` segments plus an in-order child) renders and drops within tokio's
    // default 2 MiB worker stack, since conversion, encoding and drop recurse per level.
    // Method: build the nested view bottom-up on such a thread, render it, count the levels.
    let levels = v2store::limits::KEY_SEGMENTS_MAX + 1;
    let run = move || {
        let mut node = file(&"/d".repeat(levels), "x", 2, 2);
        for depth in (1..levels).rev() {
            node = NodeView {
                value: None,
                dir: true,
                nodes: Some(vec![node]),
                ..file(&"/d".repeat(depth), "", 1, 1)
            };
        }
        let body = event_body(&event(Action::Get, node, None), false);
        text(&body).matches("\"nodes\"").count()
    };
    let listed = std::thread::Builder::new()
        .stack_size(2 << 20)
        .spawn(run)
        .expect("a test thread starts")
        .join()
        .expect("the thread finishes (a stack overflow aborts the test binary)");
    assert_eq!(listed, levels - 1, "every directory level is rendered");
}
