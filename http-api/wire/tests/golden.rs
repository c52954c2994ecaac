//! Golden tests: every wire type, serialised compactly, must equal bytes etcd 3.4.23 sent.
//!
//! Fixtures come from the spec (§3, §4, §9, §11) or were captured from a single-member etcd
//! 3.4.23 (`--enable-v2`, loopback) with curl; captures are marked "captured".

use kv_wire::{
    code, error_message, error_status, format_go_duration, Action, Body, CountsStats, Envelope,
    ErrorBody, FollowerStats, Health, LatencyStats, LeaderInfo, LeaderStats, Member, MemberList,
    MemberState, MessageBody, Node, SelfStats, StoreStats, Version,
};
use std::borrow::Cow;
use std::collections::BTreeMap;
use std::time::Duration;

fn json<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string(value).expect("wire types always serialise")
}

fn file<'a>(key: &'a str, value: &'a str, modified: u64, created: u64) -> Node<'a> {
    Node {
        key: Some(Cow::Borrowed(key)),
        value: Some(Cow::Borrowed(value)),
        modified_index: modified,
        created_index: created,
        ..Node::default()
    }
}

fn dir<'a>(key: &'a str, modified: u64, created: u64, nodes: Option<Vec<Node<'a>>>) -> Node<'a> {
    Node {
        key: Some(Cow::Borrowed(key)),
        dir: true,
        nodes,
        modified_index: modified,
        created_index: created,
        ..Node::default()
    }
}

fn envelope<'a>(action: Action, node: Node<'a>, prev_node: Option<Node<'a>>) -> Envelope<'a> {
    Envelope {
        action,
        node: Some(node),
        prev_node,
    }
}

#[test]
fn root_of_an_empty_store() {
    // Goal: the root node has no key and no indexes (spec §3). Method: hand-built root.
    let root = Node {
        dir: true,
        ..Node::default()
    };
    let body = envelope(Action::Get, root, None);
    assert_eq!(json(&body), r#"{"action":"get","node":{"dir":true}}"#);
}

#[test]
fn set_of_a_new_key_and_of_an_existing_key() {
    // Goal: field order key,value,modifiedIndex,createdIndex and prevNode last (spec §11).
    let created = envelope(Action::Set, file("/foo", "bar", 4, 4), None);
    assert_eq!(
        json(&created),
        r#"{"action":"set","node":{"key":"/foo","value":"bar","modifiedIndex":4,"createdIndex":4}}"#
    );
    let replaced = envelope(
        Action::Set,
        file("/foo", "baz", 5, 5),
        Some(file("/foo", "bar", 4, 4)),
    );
    assert_eq!(
        json(&replaced),
        concat!(
            r#"{"action":"set","node":{"key":"/foo","value":"baz","modifiedIndex":5,"createdIndex":5},"#,
            r#""prevNode":{"key":"/foo","value":"bar","modifiedIndex":4,"createdIndex":4}}"#
        )
    );
}

#[test]
fn update_with_a_ttl_as_captured() {
    // Goal: expiration and ttl sit between value and the indexes. Method: captured from
    // `PUT /v2/keys/foo?refresh=true&value=&ttl=5&prevExist=true`.
    let mut node = file("/foo", "up case", 12, 11);
    node.expiration = Some(Cow::Borrowed("2026-11-22T04:42:29.911414414Z"));
    node.ttl = Some(5);
    let body = envelope(Action::Update, node, Some(file("/foo", "up case", 11, 11)));
    assert_eq!(
        json(&body),
        concat!(
            r#"{"action":"update","node":{"key":"/foo","value":"up case","#,
            r#""expiration":"2026-11-22T04:42:29.911414414Z","ttl":5,"modifiedIndex":12,"createdIndex":11},"#,
            r#""prevNode":{"key":"/foo","value":"up case","modifiedIndex":11,"createdIndex":11}}"#
        )
    );
}

#[test]
fn empty_value_is_written_and_zero_ttl_is_not() {
    // Goal: `"value":""` stays (spec §3: files, even when empty); ttl 0 is left out.
    let mut node = file("/t", "", 19, 19);
    node.ttl = Some(0);
    let body = envelope(Action::Get, node, None);
    assert_eq!(
        json(&body),
        r#"{"action":"get","node":{"key":"/t","value":"","modifiedIndex":19,"createdIndex":19}}"#
    );
}

#[test]
fn delete_like_events_have_no_value_in_node() {
    // Goal: compareAndDelete shape of spec §11 (node without value, prevNode with it).
    let node = Node {
        key: Some(Cow::Borrowed("/c1")),
        modified_index: 11,
        created_index: 10,
        ..Node::default()
    };
    let body = envelope(
        Action::CompareAndDelete,
        node,
        Some(file("/c1", "one", 10, 10)),
    );
    assert_eq!(
        json(&body),
        concat!(
            r#"{"action":"compareAndDelete","node":{"key":"/c1","modifiedIndex":11,"createdIndex":10},"#,
            r#""prevNode":{"key":"/c1","value":"one","modifiedIndex":10,"createdIndex":10}}"#
        )
    );
}

#[test]
fn directory_listing_as_captured() {
    // Goal: nested `nodes`, `dir` before indexes, empty listings left out. Method: captured
    // `GET /v2/keys/?sorted=true&recursive=true` (other children trimmed), plus an empty dir.
    let queue = dir(
        "/q",
        20,
        20,
        Some(vec![file("/q/00000000000000000020", "j", 20, 20)]),
    );
    let root = Node {
        dir: true,
        nodes: Some(vec![
            queue,
            dir("/empty", 21, 21, Some(Vec::new())),
            file("/t", "", 19, 19),
        ]),
        ..Node::default()
    };
    assert_eq!(
        json(&envelope(Action::Get, root, None)),
        concat!(
            r#"{"action":"get","node":{"dir":true,"nodes":[{"key":"/q","dir":true,"nodes":["#,
            r#"{"key":"/q/00000000000000000020","value":"j","modifiedIndex":20,"createdIndex":20}],"#,
            r#""modifiedIndex":20,"createdIndex":20},"#,
            r#"{"key":"/empty","dir":true,"modifiedIndex":21,"createdIndex":21},"#,
            r#"{"key":"/t","value":"","modifiedIndex":19,"createdIndex":19}]}}"#
        )
    );
}

#[test]
fn no_value_on_success_and_every_action_name() {
    // Goal: `{"action":"set"}` (spec §11) and the eight action spellings (spec §4).
    let short = Envelope {
        action: Action::Set,
        node: None,
        prev_node: None,
    };
    assert_eq!(json(&short), r#"{"action":"set"}"#);
    let names = [
        (Action::Get, "get"),
        (Action::Set, "set"),
        (Action::Create, "create"),
        (Action::Update, "update"),
        (Action::CompareAndSwap, "compareAndSwap"),
        (Action::Delete, "delete"),
        (Action::CompareAndDelete, "compareAndDelete"),
        (Action::Expire, "expire"),
    ];
    for (action, name) in names {
        assert_eq!(json(&action), format!("\"{name}\""));
        assert_eq!(action.as_str(), name);
    }
}

#[test]
fn envelope_round_trips_through_json() {
    // Goal: a client can read what the server writes, escapes included.
    let text = r#"{"action":"create","node":{"key":"/a\"b","value":"x\ny","dir":false,"ttl":3,"modifiedIndex":7,"createdIndex":7}}"#;
    let parsed: Envelope<'_> = serde_json::from_str(text).expect("valid envelope");
    assert_eq!(parsed.action, Action::Create);
    let node = parsed.node.expect("node present");
    assert_eq!(node.key.as_deref(), Some("/a\"b"));
    assert_eq!(node.value.as_deref(), Some("x\ny"));
    assert_eq!(node.ttl, Some(3));
    assert!(parsed.prev_node.is_none());
}

#[test]
fn error_bodies() {
    // Goal: errorCode,message,cause,index order; cause omitted when empty (spec §10, §11).
    let compare = ErrorBody {
        error_code: code::TEST_FAILED,
        message: Cow::Borrowed("Compare failed"),
        cause: Cow::Borrowed("[wrong != z]"),
        index: 8,
    };
    assert_eq!(
        json(&compare),
        r#"{"errorCode":101,"message":"Compare failed","cause":"[wrong != z]","index":8}"#
    );
    // Captured: an 11 MB form body on etcd 3.4.23 (`--max-request-bytes` does not apply).
    let too_large = ErrorBody {
        error_code: code::INVALID_FORM,
        message: Cow::Borrowed("Invalid POST form"),
        cause: Cow::Borrowed("http: POST too large"),
        index: 0,
    };
    assert_eq!(
        json(&too_large),
        r#"{"errorCode":210,"message":"Invalid POST form","cause":"http: POST too large","index":0}"#
    );
    let no_cause = ErrorBody {
        cause: Cow::Borrowed(""),
        ..compare
    };
    assert_eq!(
        json(&no_cause),
        r#"{"errorCode":101,"message":"Compare failed","index":8}"#
    );
    let short = MessageBody {
        message: Cow::Borrowed("not current leader"),
    };
    assert_eq!(json(&short), r#"{"message":"not current leader"}"#);
}

#[test]
fn error_table_matches_the_spec() {
    // Goal: every code of spec §10 maps to its exact message and status; unknown codes have
    // no message and answer 400 (Go's `StatusCode` default).
    let table: [(u16, &str, u16); 32] = [
        (100, "Key not found", 404),
        (101, "Compare failed", 412),
        (102, "Not a file", 403),
        (103, "Reached the max number of peers in the cluster", 400),
        (104, "Not a directory", 400),
        (105, "Key already exists", 412),
        (106, "The prefix of given key is a keyword in etcd", 400),
        (107, "Root is read only", 400),
        (108, "Directory not empty", 403),
        (109, "Peer address has existed", 400),
        (110, "The request requires user authentication", 401),
        (200, "Value is Required in POST form", 400),
        (201, "PrevValue is Required in POST form", 400),
        (202, "The given TTL in POST form is not a number", 400),
        (203, "The given index in POST form is not a number", 400),
        (204, "Value or TTL is required in POST form", 400),
        (205, "The given timeout in POST form is not a number", 400),
        (206, "Name is required in POST form", 400),
        (207, "Index or value is required", 400),
        (208, "Index and value cannot both be specified", 400),
        (209, "Invalid field", 400),
        (210, "Invalid POST form", 400),
        (211, "Value provided on refresh", 400),
        (212, "A TTL must be provided on refresh", 400),
        (300, "Raft Internal Error", 500),
        (301, "During Leader Election", 500),
        (400, "watcher is cleared due to etcd recovery", 400),
        (
            401,
            "The event in requested index is outdated and cleared",
            400,
        ),
        (402, "Standby Internal Error", 400),
        (403, "Invalid active size", 400),
        (404, "Standby remove delay", 400),
        (500, "Client Internal Error", 400),
    ];
    for (error_code, message, status) in table {
        assert_eq!(
            error_message(error_code),
            Some(message),
            "code {error_code}"
        );
        assert_eq!(error_status(error_code), status, "code {error_code}");
    }
    let defined = (0..=u16::MAX)
        .filter(|c| error_message(*c).is_some())
        .count();
    assert_eq!(defined, table.len());
    assert_eq!(error_message(111), None);
    assert_eq!(error_status(111), 400);
}

fn member() -> Member {
    Member {
        id: "4e95e8bf5c055843".to_owned(),
        name: "t".to_owned(),
        peer_urls: vec!["http://127.0.0.1:43380".to_owned()],
        client_urls: vec!["http://127.0.0.1:43379".to_owned()],
    }
}

#[test]
fn members_as_captured() {
    // Goal: id,name,peerURLs,clientURLs and the list wrapper. Method: captured
    // `GET /v2/members`; an unstarted member has `"clientURLs":[]`, never null (spec §9.1).
    let list = MemberList {
        members: vec![member()],
    };
    assert_eq!(
        json(&list),
        concat!(
            r#"{"members":[{"id":"4e95e8bf5c055843","name":"t","#,
            r#""peerURLs":["http://127.0.0.1:43380"],"clientURLs":["http://127.0.0.1:43379"]}]}"#
        )
    );
    let unstarted = Member {
        name: String::new(),
        client_urls: Vec::new(),
        ..member()
    };
    assert_eq!(
        json(&unstarted),
        r#"{"id":"4e95e8bf5c055843","name":"","peerURLs":["http://127.0.0.1:43380"],"clientURLs":[]}"#
    );
}

fn self_stats() -> SelfStats {
    SelfStats {
        name: "t".to_owned(),
        id: "4e95e8bf5c055843".to_owned(),
        state: MemberState::Leader,
        start_time: "2026-11-22T04:30:48.845072081Z".to_owned(),
        leader_info: LeaderInfo {
            leader: "4e95e8bf5c055843".to_owned(),
            uptime: "11m48.671904974s".to_owned(),
            start_time: "2026-11-22T04:30:49.545755197Z".to_owned(),
        },
        received_append_request_count: 0,
        received_package_rate: 0.0,
        received_bandwidth_rate: 0.0,
        sent_append_request_count: 0,
        sent_package_rate: 0.0,
        sent_bandwidth_rate: 0.0,
    }
}

#[test]
fn self_stats_as_captured_and_with_rates() {
    // Goal: field order of etcd's serverStats; zero rates left out. Method: captured
    // `GET /v2/stats/self` on a single member; rates set by hand for the second case.
    assert_eq!(
        json(&self_stats()),
        concat!(
            r#"{"name":"t","id":"4e95e8bf5c055843","state":"StateLeader","#,
            r#""startTime":"2026-11-22T04:30:48.845072081Z","leaderInfo":{"leader":"4e95e8bf5c055843","#,
            r#""uptime":"11m48.671904974s","startTime":"2026-11-22T04:30:49.545755197Z"},"#,
            r#""recvAppendRequestCnt":0,"sendAppendRequestCnt":0}"#
        )
    );
    let busy = SelfStats {
        state: MemberState::Follower,
        received_append_request_count: 9,
        received_package_rate: 2.5,
        received_bandwidth_rate: 300.0,
        sent_append_request_count: 1,
        sent_package_rate: 0.25,
        ..self_stats()
    };
    let text = json(&busy);
    assert!(text.contains(r#""state":"StateFollower""#));
    assert!(text.ends_with(concat!(
        r#""recvAppendRequestCnt":9,"recvPkgRate":2.5,"recvBandwidthRate":300,"#,
        r#""sendAppendRequestCnt":1,"sendPkgRate":0.25}"#
    )));
}

#[test]
fn leader_and_store_stats() {
    // Goal: leader stats (captured with no followers; one follower built by hand with the
    // spec §9.4 shape) and store counters in captured order.
    let alone = LeaderStats {
        leader: "4e95e8bf5c055843".to_owned(),
        followers: BTreeMap::new(),
    };
    assert_eq!(
        json(&alone),
        r#"{"leader":"4e95e8bf5c055843","followers":{}}"#
    );
    let follower = FollowerStats {
        latency: LatencyStats {
            current: 0.5,
            average: 1.25,
            standard_deviation: 0.0,
            minimum: 0.125,
            maximum: 3.0,
        },
        counts: CountsStats {
            fail: 0,
            success: 42,
        },
    };
    let with_one = LeaderStats {
        followers: BTreeMap::from([("a1".to_owned(), follower)]),
        ..alone
    };
    assert_eq!(
        json(&with_one),
        concat!(
            r#"{"leader":"4e95e8bf5c055843","followers":{"a1":{"latency":{"current":0.5,"#,
            r#""average":1.25,"standardDeviation":0,"minimum":0.125,"maximum":3},"#,
            r#""counts":{"fail":0,"success":42}}}}"#
        )
    );
    let store = StoreStats {
        gets_success: 3,
        gets_fail: 31,
        sets_success: 18,
        delete_success: 3,
        delete_fail: 1,
        update_success: 1,
        create_success: 2,
        ..StoreStats::default()
    };
    assert_eq!(
        json(&store),
        concat!(
            r#"{"getsSuccess":3,"getsFail":31,"setsSuccess":18,"setsFail":0,"deleteSuccess":3,"#,
            r#""deleteFail":1,"updateSuccess":1,"updateFail":0,"createSuccess":2,"createFail":0,"#,
            r#""compareAndSwapSuccess":0,"compareAndSwapFail":0,"compareAndDeleteSuccess":0,"#,
            r#""compareAndDeleteFail":0,"expireCount":0,"watchers":0}"#
        )
    );
}

#[test]
fn version_and_health() {
    // Goal: captured `/version` and `/health` bodies (spec §9.6, §9.7).
    let version = Version {
        etcdserver: "3.4.23".to_owned(),
        etcdcluster: "3.4.0".to_owned(),
    };
    assert_eq!(
        json(&version),
        r#"{"etcdserver":"3.4.23","etcdcluster":"3.4.0"}"#
    );
    assert_eq!(json(&Health::new(true)), r#"{"health":"true"}"#);
    assert_eq!(json(&Health::new(false)), r#"{"health":"false"}"#);
}

#[test]
fn trailing_newlines_follow_etcd() {
    // Goal: which bodies end in `\n`, as captured with `curl | tail -c 3 | od -c`.
    const fn newline<T: Body>() -> bool {
        T::TRAILING_NEWLINE
    }
    assert!(newline::<Envelope<'_>>());
    assert!(newline::<ErrorBody<'_>>());
    assert!(newline::<Member>());
    assert!(newline::<MemberList>());
    assert!(!newline::<MessageBody<'_>>());
    assert!(!newline::<SelfStats>());
    assert!(!newline::<LeaderStats>());
    assert!(!newline::<StoreStats>());
    assert!(!newline::<Version>());
    assert!(!newline::<Health>());
}

#[test]
fn go_duration_format() {
    // Goal: Go's `Duration.String` (captured uptime `11m48.671904974s`; the rest from Go's
    // documented examples).
    let cases = [
        (Duration::ZERO, "0s"),
        (Duration::from_nanos(999), "999ns"),
        (Duration::from_nanos(2_000), "2µs"),
        (Duration::from_nanos(1_500_000), "1.5ms"),
        (Duration::from_secs(1), "1s"),
        (Duration::from_millis(2_500), "2.5s"),
        (Duration::from_nanos(708_671_904_974), "11m48.671904974s"),
        (Duration::from_secs(3600), "1h0m0s"),
        (Duration::from_millis(259_380_500), "72h3m0.5s"),
    ];
    for (duration, text) in cases {
        assert_eq!(format_go_duration(duration), text);
    }
}
