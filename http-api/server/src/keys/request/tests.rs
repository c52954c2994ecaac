//! Tests of keys request parsing. Expected outcomes were checked against a single-member
//! etcd 3.4.23 (`--enable-v2`, loopback) with curl; each test says what was sent.

use super::{parse, KeysRequest, ALLOWED_METHODS, FORM_BODY_MAX_BYTES};
use crate::error::ApiError;
use axum::http::Method;
use v2store::limits::KEY_SEGMENTS_MAX;
use v2store::{Mutation, StoreIndex, Time, WatchRequest};

const FORM: Option<&str> = Some("application/x-www-form-urlencoded");
const NOW: Time = Time(1_795_316_340_000_000_000);

fn request(method: &str, path: &str, query: &str, body: &str) -> Result<KeysRequest, ApiError> {
    let method = Method::from_bytes(method.as_bytes()).expect("test methods are valid");
    let query = (!query.is_empty()).then_some(query);
    parse(&method, path, query, FORM, body.as_bytes(), NOW)
}

fn write(method: &str, path: &str, query: &str, body: &str) -> Mutation {
    match request(method, path, query, body) {
        Ok(KeysRequest::Write { mutation, .. }) => mutation,
        other => panic!("expected a write, got {other:?}"),
    }
}

fn etcd_error(code: u16, cause: &str) -> Result<KeysRequest, ApiError> {
    Err(ApiError::request(code, cause))
}

fn set_with(
    path: &str,
    value: &str,
    dir: bool,
    expire_at: Option<Time>,
    refresh: bool,
) -> Mutation {
    Mutation::Set {
        path: path.to_owned(),
        value: value.to_owned(),
        dir,
        expire_at,
        refresh,
    }
}

fn set(path: &str, value: &str) -> Mutation {
    set_with(path, value, false, None, false)
}

fn read(path: &str, recursive: bool, head: bool) -> KeysRequest {
    KeysRequest::Get {
        path: path.to_owned(),
        recursive,
        sorted: false,
        quorum: false,
        head,
    }
}

fn get(path: &str) -> KeysRequest {
    read(path, false, false)
}

#[test]
fn key_paths_are_decoded_and_trimmed() {
    // Goal: spec §1 key path rules. Method: GETs whose keys etcd reported as shown
    // (`a%2Fb` missing gave cause `/a`, i.e. the key `/a/b`; `+` stays literal).
    let cases = [
        ("", "/"),
        ("/", "/"),
        ("/a/", "/a"),
        ("/a%2Fb", "/a/b"),
        ("/sp%20ace%3Fq", "/sp ace?q"),
        ("/a+b", "/a+b"),
        ("/x%FFy", "/x\u{fffd}y"),
        ("/dir/_hidden", "/dir/_hidden"),
    ];
    for (raw, key) in cases {
        assert_eq!(
            request("GET", raw, "", ""),
            Ok(get(key)),
            "raw path {raw:?}"
        );
    }
}

#[test]
fn unclean_paths_redirect_like_go_serve_mux() {
    // Goal: 301 Location as etcd sent it. Method: curl --path-as-is GET of each path; cleaning
    // runs on the decoded path, keeps the query, and re-escapes the path.
    let cases = [
        ("/a//b", "", "/v2/keys/a/b"),
        ("/a%2F%2Fb", "", "/v2/keys/a/b"),
        ("/a/./b", "", "/v2/keys/a/b"),
        ("/a/%2E/b", "", "/v2/keys/a/b"),
        ("/a/../b", "", "/v2/keys/b"),
        ("/a%2F..%2Fb", "", "/v2/keys/b"),
        ("/a/..", "", "/v2/keys"),
        ("/a/.", "", "/v2/keys/a"),
        ("//", "", "/v2/keys/"),
        ("/%2F", "", "/v2/keys/"),
        ("/..", "", "/v2"),
        ("/.", "", "/v2/keys"),
        ("/a//b", "x=1&wait=true", "/v2/keys/a/b?x=1&wait=true"),
        ("/a%20b//c", "", "/v2/keys/a%20b/c"),
        (
            "/x%C3%A9//%FF%20($&+,:;=@!*')~",
            "q=%20a",
            "/v2/keys/x%C3%A9/%FF%20%28$&+,:;=@%21%2A%27%29~?q=%20a",
        ),
    ];
    for (raw, query, location) in cases {
        let expected = ApiError::Redirect {
            location: location.to_owned(),
            html: true,
        };
        assert_eq!(
            request("GET", raw, query, ""),
            Err(expected),
            "raw path {raw:?}"
        );
    }
}

#[test]
fn redirect_comes_before_the_method_check_and_html_only_for_get_and_head() {
    // Goal: PUT/DELETE/POST/PATCH to `/v2/keys/a//b` got 301 with no body; GET and HEAD got
    // `Content-Type: text/html`. Method: the same requests through `parse`.
    for (method, html) in [
        ("GET", true),
        ("HEAD", true),
        ("PUT", false),
        ("PATCH", false),
    ] {
        let expected = ApiError::Redirect {
            location: "/v2/keys/a/b?v=1".to_owned(),
            html,
        };
        assert_eq!(
            request(method, "/a//b", "v=1", ""),
            Err(expected),
            "{method}"
        );
    }
}

#[test]
fn bad_path_escapes_and_other_methods() {
    // Goal: `/v2/keys/a%zz` (even with `//`) got Go's bare 400; PATCH, TRACE and FOO got 405
    // with `Allow: HEAD,GET,PUT,POST,DELETE`. (OPTIONS got 200 from etcd's CORS wrapper, which
    // is the router's business, not this parser's.)
    assert_eq!(request("GET", "/a%zz", "", ""), Err(ApiError::MalformedUri));
    assert_eq!(
        request("GET", "/a%zz//b", "", ""),
        Err(ApiError::MalformedUri)
    );
    assert_eq!(request("GET", "/a%2", "", ""), Err(ApiError::MalformedUri));
    assert_eq!(ALLOWED_METHODS, "HEAD,GET,PUT,POST,DELETE");
    for method in ["PATCH", "TRACE", "FOO", "OPTIONS"] {
        let expected = ApiError::MethodNotAllowed {
            allow: ALLOWED_METHODS,
        };
        assert_eq!(request(method, "/foo", "", ""), Err(expected), "{method}");
    }
}

#[test]
fn unparsable_forms_give_210_with_go_error_text() {
    // Goal: the 210 causes etcd sent. Method: `?a=1;b=2`, `?a=%zz`, body `value=%zz`,
    // body `value=a;b=c`, `Content-Type: ;;`, and an over-long body.
    let semicolon = "invalid semicolon separator in query";
    assert_eq!(
        request("GET", "/foo", "a=1;b=2", ""),
        etcd_error(210, semicolon)
    );
    let escape = "invalid URL escape \"%zz\"";
    assert_eq!(request("GET", "/foo", "a=%zz", ""), etcd_error(210, escape));
    assert_eq!(
        request("PUT", "/foo", "", "value=%zz"),
        etcd_error(210, escape)
    );
    assert_eq!(
        request("PUT", "/foo", "", "value=a;b=c"),
        etcd_error(210, semicolon)
    );
    assert_eq!(
        request("GET", "/foo", "a=%4", ""),
        etcd_error(210, "invalid URL escape \"%4\"")
    );
    let no_media = parse(&Method::PUT, "/foo", None, Some(";;"), b"value=x", NOW);
    assert_eq!(no_media, etcd_error(210, "mime: no media type"));
    let slash = parse(&Method::PUT, "/foo", None, Some("text plain"), b"", NOW);
    assert_eq!(
        slash,
        etcd_error(210, "mime: expected slash after first token")
    );
}

#[test]
fn form_body_limit_is_go_parse_form_limit() {
    // Goal: 10485760 body bytes were accepted, 10485761 gave 210 `http: POST too large`
    // (etcd started with `--max-request-bytes 1024`, which the v2 API ignores).
    let mut body = b"value=".to_vec();
    body.resize(FORM_BODY_MAX_BYTES, b'a');
    let accepted = parse(&Method::PUT, "/big", None, FORM, &body, NOW);
    assert!(matches!(accepted, Ok(KeysRequest::Write { .. })));
    body.push(b'a');
    let refused = parse(&Method::PUT, "/big", None, FORM, &body, NOW);
    assert_eq!(refused, Err(ApiError::form_too_large()));
    // A JSON body of the same size is never read, so it is not refused.
    let json = parse(
        &Method::PUT,
        "/big",
        Some("value=x"),
        Some("application/json"),
        &body,
        NOW,
    );
    assert_eq!(json.map(|_| ()), Ok(()));
}

#[test]
fn only_form_bodies_of_put_and_post_are_read() {
    // Goal: multipart and JSON bodies ignored, no Content-Type ignored, DELETE bodies ignored,
    // media type matched case-insensitively with parameters. Method: the same curl requests.
    let multipart = parse(
        &Method::PUT,
        "/foo",
        Some("value=q"),
        Some("multipart/form-data; boundary=x"),
        b"junk",
        NOW,
    );
    assert_eq!(multipart, Ok(write_request(set("/foo", "q"))));
    let no_type = parse(&Method::PUT, "/t", None, None, b"value=nobody", NOW);
    assert_eq!(no_type, Ok(write_request(set("/t", ""))));
    let json = parse(
        &Method::PUT,
        "/t",
        None,
        Some("application/json"),
        br#"{"value":"x"}"#,
        NOW,
    );
    assert_eq!(json, Ok(write_request(set("/t", ""))));
    let upper = parse(
        &Method::PUT,
        "/foo",
        None,
        Some("APPLICATION/X-WWW-FORM-URLENCODED; charset=utf-8"),
        b"value=up+case",
        NOW,
    );
    assert_eq!(upper, Ok(write_request(set("/foo", "up case"))));
    let delete = Mutation::Delete {
        path: "/foo".to_owned(),
        dir: false,
        recursive: false,
    };
    assert_eq!(write("DELETE", "/foo", "", "prevValue=x"), delete);
}

fn write_request(mutation: Mutation) -> KeysRequest {
    KeysRequest::Write {
        mutation,
        no_value_on_success: false,
    }
}

#[test]
fn body_wins_and_first_occurrence_wins() {
    // Goal: `PUT ?ttl=5 -d 'value=a&value=b&ttl='` stored `a` with no TTL; `?wait=1 -d wait=0`
    // was a plain set (the body's wait=0 won over the query's wait=1).
    assert_eq!(
        write("PUT", "/t", "ttl=5", "value=a&value=b&ttl="),
        set("/t", "a")
    );
    assert_eq!(write("PUT", "/foo", "wait=1", "wait=0"), set("/foo", ""));
    assert_eq!(
        write("PUT", "/foo", "value=first&value=second", ""),
        set("/foo", "first")
    );
}

#[test]
fn validation_follows_etcd_order() {
    // Goal: the first failure of spec §10's order wins. Method: each pair sent to etcd; the
    // comment-free expectations are what it answered.
    let cases = [
        (
            "ttl=abc&prevIndex=x",
            203,
            "invalid value for \"prevIndex\"",
        ),
        ("prevIndex=", 203, "invalid value for \"prevIndex\""),
        ("prevIndex=%2B5", 203, "invalid value for \"prevIndex\""),
        (
            "prevIndex=18446744073709551616",
            203,
            "invalid value for \"prevIndex\"",
        ),
        (
            "waitIndex=&recursive=x",
            203,
            "invalid value for \"waitIndex\"",
        ),
        ("recursive=", 209, "invalid value for \"recursive\""),
        ("ttl=abc&sorted=x", 209, "invalid value for \"sorted\""),
        (
            "wait=true&prevValue=",
            209,
            "\"wait\" can only be used with GET requests",
        ),
        (
            "prevValue=&noValueOnSuccess=x",
            201,
            "\"prevValue\" cannot be empty",
        ),
        (
            "noValueOnSuccess=x&ttl=x",
            209,
            "invalid value for \"noValueOnSuccess\"",
        ),
        ("ttl=x&prevExist=x", 202, "invalid value for \"ttl\""),
        ("ttl=-1", 202, "invalid value for \"ttl\""),
        ("prevExist=x&refresh=x", 209, "invalid value for prevExist"),
        ("prevExist=", 209, "invalid value for prevExist"),
        ("refresh=maybe", 209, "invalid value for refresh"),
        (
            "refresh=true&value=v",
            211,
            "A value was provided on a refresh",
        ),
        ("refresh=true&ttl=", 212, "No TTL value set"),
        ("refresh=true", 212, "No TTL value set"),
    ];
    for (query, code, cause) in cases {
        assert_eq!(
            request("PUT", "/foo", query, ""),
            etcd_error(code, cause),
            "query {query}"
        );
    }
}

#[test]
fn wait_is_for_get_only() {
    // Goal: DELETE and HEAD with `wait=true` got 209 (etcd checks `r.Method != "GET"`).
    let cause = "\"wait\" can only be used with GET requests";
    assert_eq!(
        request("DELETE", "/foo", "wait=true", ""),
        etcd_error(209, cause)
    );
    assert_eq!(
        request("HEAD", "/foo", "wait=true", ""),
        etcd_error(209, cause)
    );
    assert_eq!(
        request("POST", "/foo", "wait=true", ""),
        etcd_error(209, cause)
    );
}

#[test]
fn go_booleans() {
    // Goal: `strconv.ParseBool` spellings (spec §1); anything else is 209.
    for text in ["1", "t", "T", "true", "TRUE", "True"] {
        let query = format!("recursive={text}");
        let expected = read("/d", true, false);
        assert_eq!(request("GET", "/d", &query, ""), Ok(expected), "{text}");
    }
    for text in ["0", "f", "F", "false", "FALSE", "False"] {
        let query = format!("recursive={text}");
        assert_eq!(request("GET", "/d", &query, ""), Ok(get("/d")), "{text}");
    }
    for text in ["yes", "maybe", "tRuE", " true"] {
        let query = format!("recursive={text}");
        let expected = etcd_error(209, "invalid value for \"recursive\"");
        assert_eq!(request("GET", "/d", &query, ""), expected, "{text}");
    }
}

#[test]
fn put_chooses_the_operation_by_the_spec_table() {
    // Goal: spec §5.2 table (etcd's `applierV2store.Put`), prevIndex=0 as absent. Method: the
    // same queries on etcd gave the actions named in each case.
    let path = || "/foo".to_owned();
    let update = Mutation::Update {
        path: path(),
        value: "y".to_owned(),
        expire_at: None,
        refresh: false,
    };
    assert_eq!(write("PUT", "/foo", "prevExist=true&value=y", ""), update);
    let compare = |prev_value: Option<&str>, prev_index: Option<u64>| Mutation::CompareAndSwap {
        path: path(),
        value: "y".to_owned(),
        prev_value: prev_value.map(str::to_owned),
        prev_index: prev_index.map(StoreIndex),
        expire_at: None,
        refresh: false,
    };
    let with_value = "prevExist=true&prevValue=x&value=y";
    assert_eq!(
        write("PUT", "/foo", with_value, ""),
        compare(Some("x"), None)
    );
    assert_eq!(
        write("PUT", "/foo", "prevIndex=7&value=y", ""),
        compare(None, Some(7))
    );
    let both = "prevValue=x&prevIndex=7&value=y";
    assert_eq!(write("PUT", "/foo", both, ""), compare(Some("x"), Some(7)));
    let create = Mutation::Create {
        path: path(),
        value: "y".to_owned(),
        dir: true,
        expire_at: None,
        in_order: false,
    };
    let ignored = "prevExist=false&prevValue=x&prevIndex=7&value=y&dir=true";
    assert_eq!(write("PUT", "/foo", ignored, ""), create);
    assert_eq!(
        write("PUT", "/foo", "prevIndex=0&value=y", ""),
        set("/foo", "y")
    );
    assert_eq!(
        write("PUT", "/foo", "prevExist=true&prevIndex=0&value=y", ""),
        update
    );
    let directory = set_with("/dir1", "ignored", true, None, false);
    assert_eq!(
        write("PUT", "/dir1", "dir=true&value=ignored", ""),
        directory
    );
}

#[test]
fn ttl_becomes_an_absolute_expiry() {
    // Goal: `ttl=N` → now + N s (spec §6); `ttl=007` read back as 7 on etcd; `ttl=` is none.
    let expected = set_with("/t", "", false, Some(NOW.plus_seconds(7)), false);
    assert_eq!(write("PUT", "/t", "ttl=007", ""), expected);
    assert_eq!(write("PUT", "/t", "ttl=", ""), set("/t", ""));
    let huge = write("PUT", "/t", "ttl=18446744073709551615", "");
    let saturated = set_with("/t", "", false, Some(Time(i64::MAX)), false);
    assert_eq!(huge, saturated);
}

#[test]
fn refresh_keeps_the_operation_of_the_table() {
    // Goal: `refresh=true&value=&ttl=5&prevExist=true` was an `update` on etcd; refresh
    // without prevExist is a set; `refresh=false&value=v` is a plain set.
    let update = Mutation::Update {
        path: "/foo".to_owned(),
        value: String::new(),
        expire_at: Some(NOW.plus_seconds(5)),
        refresh: true,
    };
    let query = "refresh=true&value=&ttl=5&prevExist=true";
    assert_eq!(write("PUT", "/foo", query, ""), update);
    let refresh_set = set_with("/foo", "", false, Some(NOW.plus_seconds(5)), true);
    assert_eq!(write("PUT", "/foo", "refresh=true&ttl=5", ""), refresh_set);
    assert_eq!(
        write("PUT", "/foo", "refresh=false&value=v", ""),
        set("/foo", "v")
    );
}

#[test]
fn post_is_an_in_order_create() {
    // Goal: `POST /v2/keys/q?prevExist=false&prevValue=zz -d value=j` made `/q/000…20`; the
    // compare parameters are ignored (spec §5.3).
    let expected = Mutation::Create {
        path: "/q".to_owned(),
        value: "j".to_owned(),
        dir: false,
        expire_at: Some(NOW.plus_seconds(9)),
        in_order: true,
    };
    let query = "prevExist=false&prevValue=zz&prevIndex=3";
    assert_eq!(write("POST", "/q", query, "value=j&ttl=9"), expected);
    let root = write("POST", "", "", "value=j");
    assert!(matches!(root, Mutation::Create { ref path, in_order: true, .. } if path == "/"));
}

#[test]
fn delete_or_compare_and_delete() {
    // Goal: spec §5.4: conditions from the query make compareAndDelete; dir/recursive pass.
    let delete = Mutation::Delete {
        path: "/d".to_owned(),
        dir: true,
        recursive: true,
    };
    assert_eq!(write("DELETE", "/d", "dir=true&recursive=true", ""), delete);
    let by_value = Mutation::CompareAndDelete {
        path: "/c1".to_owned(),
        prev_value: Some("one".to_owned()),
        prev_index: None,
    };
    assert_eq!(write("DELETE", "/c1", "prevValue=one", ""), by_value);
    let by_index = Mutation::CompareAndDelete {
        path: "/c1".to_owned(),
        prev_value: None,
        prev_index: Some(StoreIndex(10)),
    };
    assert_eq!(
        write("DELETE", "/c1", "prevIndex=10&dir=true", ""),
        by_index
    );
    let plain = Mutation::Delete {
        path: "/c1".to_owned(),
        dir: false,
        recursive: false,
    };
    assert_eq!(write("DELETE", "/c1", "prevIndex=0", ""), plain);
}

#[test]
fn reads_and_watches() {
    // Goal: GET flags, HEAD as a body-less GET (spec §4), and `wait=true` as a watch with
    // waitIndex 0 meaning "next event" (spec §7).
    let flags = KeysRequest::Get {
        path: "/".to_owned(),
        recursive: true,
        sorted: true,
        quorum: true,
        head: false,
    };
    assert_eq!(
        request("GET", "/", "sorted=true&recursive=true&quorum=1", ""),
        Ok(flags)
    );
    let head = read("/foo", false, true);
    assert_eq!(request("HEAD", "/foo", "", ""), Ok(head));
    let watch = |since: Option<u64>, recursive: bool, stream: bool| {
        Ok(KeysRequest::Watch(WatchRequest {
            path: "/t3".to_owned(),
            recursive,
            stream,
            since: since.map(StoreIndex),
        }))
    };
    assert_eq!(
        request("GET", "/t3", "wait=true&waitIndex=35", ""),
        watch(Some(35), false, false)
    );
    assert_eq!(
        request("GET", "/t3", "wait=true&waitIndex=0", ""),
        watch(None, false, false)
    );
    let stream = "wait=true&recursive=true&stream=true&sorted=true";
    assert_eq!(request("GET", "/t3", stream, ""), watch(None, true, true));
}

#[test]
fn quorum_makes_a_watch_a_quorum_read() {
    // Goal: etcd 3.4.23 answered `GET /v2/keys/foo?wait=true&waitIndex=5&quorum=true` at once
    // with `{"action":"get",…}`: a GET with quorum becomes a QGET before `wait` is looked at.
    // Method: the same query parses as a quorum read; parameter errors are still reported.
    let quorum_read = KeysRequest::Get {
        path: "/foo".to_owned(),
        recursive: true,
        sorted: false,
        quorum: true,
        head: false,
    };
    let query = "wait=true&waitIndex=5&quorum=true&recursive=true";
    assert_eq!(request("GET", "/foo", query, ""), Ok(quorum_read));
    assert_eq!(
        request("GET", "/foo", "wait=true&waitIndex=x&quorum=true", ""),
        etcd_error(203, "invalid value for \"waitIndex\"")
    );
    assert_eq!(
        request("PUT", "/foo", "wait=true&quorum=true", ""),
        etcd_error(209, "\"wait\" can only be used with GET requests")
    );
}

#[test]
fn key_depth_is_bounded() {
    // Goal: a key path of more than KEY_SEGMENTS_MAX segments is refused with 209 (index 0)
    // before it reaches the store, whose walks recurse once per level; the limit itself and
    // the root are accepted. Method: GET, PUT, POST and DELETE at the limit and one past it,
    // with the extra segment given as `%2F` too (decoding makes it a real segment).
    let deep = |segments: usize| "/d".repeat(segments);
    let cause = format!("key path has more than {KEY_SEGMENTS_MAX} segments");
    for method in ["GET", "PUT", "POST", "DELETE"] {
        let at_limit = request(method, &deep(KEY_SEGMENTS_MAX), "", "");
        assert!(at_limit.is_ok(), "{method} at the limit: {at_limit:?}");
        assert_eq!(
            request(method, &deep(KEY_SEGMENTS_MAX + 1), "", ""),
            etcd_error(209, &cause),
            "{method} one past the limit"
        );
    }
    let encoded = format!("{}%2Fd", deep(KEY_SEGMENTS_MAX));
    assert_eq!(request("GET", &encoded, "", ""), etcd_error(209, &cause));
    assert_eq!(request("GET", "/", "", ""), Ok(get("/")));
    // etcd's own checks come first: a bad parameter on a too-deep path is etcd's error.
    assert_eq!(
        request("PUT", &deep(KEY_SEGMENTS_MAX + 1), "ttl=x", ""),
        etcd_error(202, "invalid value for \"ttl\"")
    );
}

#[test]
fn no_value_on_success_is_passed_through() {
    // Goal: `PUT /v2/keys/nv?noValueOnSuccess=true value=1` (spec §11) keeps the flag.
    let expected = KeysRequest::Write {
        mutation: set("/nv", "1"),
        no_value_on_success: true,
    };
    assert_eq!(
        request("PUT", "/nv", "noValueOnSuccess=true", "value=1"),
        Ok(expected)
    );
}

#[test]
fn bad_escape_causes_are_quoted_like_go() {
    // Goal: Go's `strconv.Quote` in the 210 cause. Method: PUT form bodies `value=%\nx`,
    // `value=%\xff`, `value=%é`, `value=%\x07` and `value=%\u{85}` on etcd gave these causes.
    let cases: [(&[u8], &str); 5] = [
        (b"value=%\nx", "invalid URL escape \"%\\nx\""),
        (b"value=%\xff", "invalid URL escape \"%\\xff\""),
        ("value=%é".as_bytes(), "invalid URL escape \"%é\""),
        (b"value=%\x07", "invalid URL escape \"%\\a\""),
        (
            "value=%\u{85}".as_bytes(),
            "invalid URL escape \"%\\u0085\"",
        ),
    ];
    for (body, cause) in cases {
        let got = parse(&Method::PUT, "/q1", None, FORM, body, NOW);
        assert_eq!(got, etcd_error(210, cause), "body {body:?}");
    }
}
