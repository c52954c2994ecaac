//! Decoding from the exact bytes etcd 3.4.23 sends (shapes from the spec's §3–§5, §9–§11).

use super::*;
use crate::types::Node;
use kv_wire::{Action, MemberList};

fn reply(status: u16, headers: &[(&'static str, &'static str)], body: &'static str) -> RawReply {
    let mut map = HeaderMap::new();
    for (name, value) in headers {
        map.insert(*name, value.parse().unwrap());
    }
    RawReply {
        status,
        headers: map,
        body: Bytes::from_static(body.as_bytes()),
    }
}

const KEYS_HEADERS: &[(&str, &str)] = &[
    ("x-etcd-index", "5"),
    ("x-raft-index", "12"),
    ("x-raft-term", "2"),
    ("x-etcd-cluster-id", "cdf818194e3a8c32"),
];

// Goal: a set that replaced a key decodes node, prevNode and every header (spec §4, §11).
#[test]
fn set_with_prev_node_and_headers() {
    let body = concat!(
        r#"{"action":"set","node":{"key":"/foo","value":"baz","modifiedIndex":5,"createdIndex":5},"#,
        r#""prevNode":{"key":"/foo","value":"bar","modifiedIndex":4,"createdIndex":4}}"#,
        "\n"
    );
    let response = keys_response(&reply(200, KEYS_HEADERS, body)).unwrap();
    assert_eq!(response.action, Action::Set);
    assert_eq!(response.node.key, "/foo");
    assert_eq!(response.node.value.as_deref(), Some("baz"));
    assert_eq!(response.node.modified_index, StoreIndex(5));
    assert_eq!(response.node.created_index, StoreIndex(5));
    let prev = response.prev_node.unwrap();
    assert_eq!(prev.value.as_deref(), Some("bar"));
    assert_eq!(prev.modified_index, StoreIndex(4));
    assert_eq!(response.etcd_index, StoreIndex(5));
    assert_eq!(response.raft_index, RaftIndex(12));
    assert_eq!(response.raft_term, Term(2));
    assert_eq!(response.cluster_id, Some(ClusterId(0xcdf8_1819_4e3a_8c32)));
}

// Goal: an empty value is a value, a delete node has none, a TTL node keeps expiration and
// ttl (spec §3).
#[test]
fn values_ttl_and_delete_nodes() {
    let body = r#"{"action":"set","node":{"key":"/e","value":"","expiration":"2026-11-22T02:59:00.23399129Z","ttl":5,"modifiedIndex":9,"createdIndex":9}}
"#;
    let node = keys_response(&reply(201, KEYS_HEADERS, body)).unwrap().node;
    assert_eq!(node.value.as_deref(), Some(""));
    assert_eq!(
        node.expiration.as_deref(),
        Some("2026-11-22T02:59:00.23399129Z")
    );
    assert_eq!(node.ttl, Some(5));
    assert!(!node.dir);

    let body = r#"{"action":"compareAndDelete","node":{"key":"/c1","modifiedIndex":11,"createdIndex":10},"prevNode":{"key":"/c1","value":"one","modifiedIndex":10,"createdIndex":10}}
"#;
    let response = keys_response(&reply(200, KEYS_HEADERS, body)).unwrap();
    assert_eq!(response.action, Action::CompareAndDelete);
    assert_eq!(response.node.value, None);
    assert_eq!(response.prev_node.unwrap().value.as_deref(), Some("one"));
}

// Goal: directory listings nest, and the root (no key, no indexes) reads as "/" (spec §3).
#[test]
fn directories_and_root() {
    let body = r#"{"action":"get","node":{"key":"/dir","dir":true,"nodes":[{"key":"/dir/a","value":"1","modifiedIndex":6,"createdIndex":6},{"key":"/dir/sub","dir":true,"nodes":[{"key":"/dir/sub/b","value":"2","modifiedIndex":7,"createdIndex":7}],"modifiedIndex":7,"createdIndex":7}],"modifiedIndex":6,"createdIndex":6}}
"#;
    let node = keys_response(&reply(200, KEYS_HEADERS, body)).unwrap().node;
    assert!(node.dir);
    assert_eq!(node.value, None);
    assert_eq!(node.nodes.len(), 2);
    assert_eq!(node.nodes[1].nodes[0].key, "/dir/sub/b");

    let root = r#"{"action":"get","node":{"dir":true}}
"#;
    let node = keys_response(&reply(200, KEYS_HEADERS, root)).unwrap().node;
    let expected = Node {
        key: "/".to_owned(),
        dir: true,
        ..Node::default()
    };
    assert_eq!(node, expected);
}

// Goal: v2 error objects decode with code, message, cause and index (spec §10, §11).
#[test]
fn v2_error_objects() {
    let headers: &[(&str, &str)] = &[("x-etcd-index", "4")];
    let body = r#"{"errorCode":100,"message":"Key not found","cause":"/foo","index":4}
"#;
    match keys_response(&reply(404, headers, body)) {
        Err(ReplyError::Etcd {
            code,
            message,
            cause,
            index,
        }) => {
            assert_eq!(code, 100);
            assert_eq!(message, "Key not found");
            assert_eq!(cause, "/foo");
            assert_eq!(index, StoreIndex(4));
        }
        other => panic!("expected error 100, got {other:?}"),
    }
    let body = r#"{"errorCode":101,"message":"Compare failed","cause":"[wrong != z]","index":8}
"#;
    assert!(matches!(
        keys_response(&reply(412, headers, body)),
        Err(ReplyError::Etcd { code: 101, ref cause, .. }) if cause == "[wrong != z]"
    ));
    // `cause` is left out when empty.
    let body = r#"{"errorCode":107,"message":"Root is read only","index":0}"#;
    assert!(matches!(
        keys_response(&reply(400, headers, body)),
        Err(ReplyError::Etcd { code: 107, ref cause, .. }) if cause.is_empty()
    ));
    let body = r#"{"errorCode":401,"message":"The event in requested index is outdated and cleared","cause":"the requested history has been cleared [150/5]","index":1149}
"#;
    assert!(matches!(
        keys_response(&reply(400, headers, body)),
        Err(ReplyError::Etcd {
            code: 401,
            index: StoreIndex(1149),
            ..
        })
    ));
}

// Goal: non-v2 replies keep status and body text (spec §1 404/405, §9 short errors).
#[test]
fn non_v2_errors() {
    let plain = reply(404, &[], "404 page not found\n");
    assert!(matches!(
        keys_response(&plain),
        Err(ReplyError::Http { status: 404, ref body }) if body == "404 page not found"
    ));
    let election = reply(503, &[], r#"{"message":"During election"}"#);
    assert!(matches!(
        json::<MemberList>(&election),
        Err(ReplyError::Http { status: 503, ref body }) if body.contains("During election")
    ));
    let long = reply(500, &[], include_str!("decode_tests.rs"));
    match failure(&long) {
        ReplyError::Http { body, .. } => assert!(body.len() <= ERROR_BODY_EXCERPT_MAX),
        other => panic!("expected Http, got {other:?}"),
    }
}

// Goal: replies the client cannot use are decode errors, not silent defaults.
#[test]
fn undecodable_success_replies() {
    let no_node = reply(201, KEYS_HEADERS, "{\"action\":\"set\"}\n");
    assert!(matches!(
        keys_response(&no_node),
        Err(ReplyError::Decode(DecodeError::MissingNode))
    ));
    let body =
        r#"{"action":"get","node":{"key":"/k","value":"v","modifiedIndex":1,"createdIndex":1}}"#;
    assert!(matches!(
        keys_response(&reply(200, &[], body)),
        Err(ReplyError::Decode(DecodeError::MissingHeader {
            name: "x-etcd-index"
        }))
    ));
    assert!(matches!(
        keys_response(&reply(200, &[("x-etcd-index", "seven")], body)),
        Err(ReplyError::Decode(DecodeError::InvalidHeader { .. }))
    ));
    assert!(matches!(
        keys_response(&reply(200, KEYS_HEADERS, "<html>")),
        Err(ReplyError::Decode(DecodeError::Json(_)))
    ));
    // A malformed cluster id is only informational: ignored.
    let response = keys_response(&reply(
        200,
        &[("x-etcd-index", "1"), ("x-etcd-cluster-id", "zz")],
        body,
    ));
    assert_eq!(response.unwrap().cluster_id, None);
}

// Goal: watch bodies: one event line (expire from history, spec §11), or empty when the
// server ended the poll.
#[test]
fn watch_bodies() {
    let body = br#"{"action":"expire","node":{"key":"/t3","modifiedIndex":36,"createdIndex":34},"prevNode":{"key":"/t3","value":"x","expiration":"2026-11-22T02:59:00Z","modifiedIndex":34,"createdIndex":34}}
"#;
    let event = watch_event(body).unwrap().unwrap();
    assert_eq!(event.action, Action::Expire);
    assert_eq!(event.index(), StoreIndex(36));
    assert_eq!(event.node.value, None);
    assert!(event.prev_node.unwrap().expiration.is_some());
    assert!(watch_event(b"").unwrap().is_none());
    assert!(watch_event(b"\n").unwrap().is_none());
    assert!(watch_event(b"{").is_err());
}

// Goal: the members list as etcd sends it, with an unstarted member (spec §9.1).
#[test]
fn members_list() {
    let body = r#"{"members":[{"id":"8e9e05c52164694d","name":"n1","peerURLs":["http://127.0.0.1:2380"],"clientURLs":["http://127.0.0.1:2379"]},{"id":"91bc3c398fb3c146","name":"","peerURLs":["http://127.0.0.1:22380"],"clientURLs":[]}]}
"#;
    let list: MemberList = json(&reply(200, &[], body)).unwrap();
    assert_eq!(list.members.len(), 2);
    assert_eq!(list.members[0].client_urls, vec!["http://127.0.0.1:2379"]);
    assert!(list.members[1].client_urls.is_empty());
}
