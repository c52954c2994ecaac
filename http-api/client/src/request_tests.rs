//! Request building: key encoding and cleaning, options → parameters, which operation each
//! PUT asks etcd for (spec §5.2 table), and where parameters go (spec §1).

use super::*;
use crate::types::StoreIndex;
use hyper::Method;

fn form_pairs(spec: &RequestSpec) -> Vec<(String, String)> {
    let form = spec.form.as_deref().expect("a PUT or POST carries a form");
    form_urlencoded::parse(form.as_bytes())
        .into_owned()
        .collect()
}

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(name, value)| ((*name).to_owned(), (*value).to_owned()))
        .collect()
}

// Goal: keys reach the server byte for byte. Method: encode awkward keys and compare with the
// exact expected path; the server percent-decodes the path (spec §1 "key path").
#[test]
fn keys_are_percent_encoded() {
    let cases = [
        ("/foo", "/v2/keys/foo"),
        ("foo", "/v2/keys/foo"),
        ("/a b", "/v2/keys/a%20b"),
        ("/what?x=1", "/v2/keys/what%3Fx%3D1"),
        ("/hash#tag", "/v2/keys/hash%23tag"),
        ("/100%", "/v2/keys/100%25"),
        ("/plus+sign", "/v2/keys/plus%2Bsign"),
        ("/dir/sub/key", "/v2/keys/dir/sub/key"),
        ("/ünï/日本", "/v2/keys/%C3%BCn%C3%AF/%E6%97%A5%E6%9C%AC"),
        ("/keep-._~", "/v2/keys/keep-._~"),
        ("/", "/v2/keys"),
        ("", "/v2/keys"),
    ];
    for (key, path) in cases {
        assert_eq!(keys_path(key), path, "key {key:?}");
    }
}

// Goal: paths are cleaned as Go's path.Join does in the etcd v2 client, so the server never
// answers a 301 redirect (spec §1).
#[test]
fn keys_are_cleaned_like_go_path_clean() {
    let cases = [
        ("/a//b", "/a/b"),
        ("/a/./b", "/a/b"),
        ("/a/../b", "/b"),
        ("/../../a", "/a"),
        ("/a/b/", "/a/b"),
        ("a", "/a"),
        ("//", "/"),
        ("/..", "/"),
    ];
    for (key, clean) in cases {
        assert_eq!(clean_key(key), clean, "key {key:?}");
    }
}

// Goal: GET flags go in the query, only when set.
#[test]
fn get_options_become_query_flags() {
    let plain = get("/k", GetOptions::default());
    assert_eq!(plain.method, Method::GET);
    assert_eq!(plain.path_and_query, "/v2/keys/k");
    assert_eq!(plain.form, None);
    assert_eq!(plain.kind, RequestKind::Read);
    let all = GetOptions {
        recursive: true,
        sorted: true,
        quorum: true,
    };
    assert_eq!(
        get("/d", all).path_and_query,
        "/v2/keys/d?recursive=true&sorted=true&quorum=true"
    );
}

// Goal: each PUT mode sends exactly the parameters that make etcd pick that operation
// (spec §5.2: prevExist=false → create, prevExist=true → update, prevValue/prevIndex without
// prevExist → compareAndSwap, nothing → set).
#[test]
fn put_modes_select_the_etcd_operation() {
    let ttl = SetOptions::default();
    let set = put("/k", PutBody::Value("v"), &PutMode::Set, ttl).unwrap();
    assert_eq!(set.method, Method::PUT);
    assert_eq!(set.path_and_query, "/v2/keys/k");
    assert_eq!(set.kind, RequestKind::Write);
    assert_eq!(form_pairs(&set), pairs(&[("value", "v")]));

    let create = put("/k", PutBody::Value("v"), &PutMode::Create, ttl).unwrap();
    assert_eq!(
        form_pairs(&create),
        pairs(&[("value", "v"), ("prevExist", "false")])
    );

    let update = put("/k", PutBody::Value("v"), &PutMode::Update, ttl).unwrap();
    assert_eq!(
        form_pairs(&update),
        pairs(&[("value", "v"), ("prevExist", "true")])
    );

    let prev = PrevConditions {
        value: Some("old value".to_owned()),
        index: Some(StoreIndex(7)),
    };
    let cas = put("/k", PutBody::Value("new"), &PutMode::Compare(&prev), ttl).unwrap();
    assert_eq!(
        form_pairs(&cas),
        pairs(&[
            ("value", "new"),
            ("prevValue", "old value"),
            ("prevIndex", "7")
        ])
    );
}

// Goal: values with form-special characters survive the form encoding.
#[test]
fn form_values_are_encoded() {
    let value = "a b&c=d+e%f\nü";
    let spec = put(
        "/k",
        PutBody::Value(value),
        &PutMode::Set,
        SetOptions::default(),
    )
    .unwrap();
    assert_eq!(form_pairs(&spec), pairs(&[("value", value)]));
    assert_eq!(
        spec.form.as_deref(),
        Some("value=a+b%26c%3Dd%2Be%25f%0A%C3%BC")
    );
}

// Goal: TTLs are whole seconds rounded up; directories and refresh send their flags.
#[test]
fn ttl_dir_and_refresh_parameters() {
    assert_eq!(ttl_seconds(Duration::from_secs(5)), 5);
    assert_eq!(ttl_seconds(Duration::from_millis(1200)), 2);
    assert_eq!(ttl_seconds(Duration::ZERO), 0);
    let ttl = SetOptions {
        ttl: Some(Duration::from_millis(1500)),
    };
    let dir = put("/d", PutBody::Dir, &PutMode::Create, ttl).unwrap();
    assert_eq!(
        form_pairs(&dir),
        pairs(&[("dir", "true"), ("ttl", "2"), ("prevExist", "false")])
    );
    let refresh = put("/k", PutBody::Refresh, &PutMode::Update, ttl).unwrap();
    assert_eq!(
        form_pairs(&refresh),
        pairs(&[("refresh", "true"), ("ttl", "2"), ("prevExist", "true")])
    );
}

// Goal: a compare that etcd would silently run as a plain write is refused before sending.
#[test]
fn compares_without_a_real_condition_are_refused() {
    let empty = PrevConditions::default();
    let options = SetOptions::default();
    assert_eq!(
        put(
            "/k",
            PutBody::Value("v"),
            &PutMode::Compare(&empty),
            options
        ),
        Err(RequestError::NoCondition)
    );
    assert_eq!(
        compare_and_delete("/k", &empty),
        Err(RequestError::NoCondition)
    );
    let zero = PrevConditions::index(StoreIndex(0));
    assert_eq!(
        put("/k", PutBody::Value("v"), &PutMode::Compare(&zero), options),
        Err(RequestError::ZeroPrevIndex)
    );
    assert_eq!(
        compare_and_delete("/k", &zero),
        Err(RequestError::ZeroPrevIndex)
    );
}

// Goal: DELETE parameters go in the query, since etcd ignores a DELETE body (spec §1).
#[test]
fn delete_parameters_go_in_the_query() {
    let plain = delete("/k", DeleteOptions::default());
    assert_eq!(plain.method, Method::DELETE);
    assert_eq!(plain.path_and_query, "/v2/keys/k");
    assert_eq!(plain.form, None);
    assert_eq!(plain.kind, RequestKind::Write);
    let recursive = DeleteOptions {
        dir: false,
        recursive: true,
    };
    assert_eq!(
        delete("/d", recursive).path_and_query,
        "/v2/keys/d?dir=true&recursive=true"
    );
    let cad = compare_and_delete("/k", &PrevConditions::value("a b")).unwrap();
    assert_eq!(cad.path_and_query, "/v2/keys/k?prevValue=a+b");
    assert_eq!(cad.form, None);
    let by_index = compare_and_delete("/k", &PrevConditions::index(StoreIndex(12))).unwrap();
    assert_eq!(by_index.path_and_query, "/v2/keys/k?prevIndex=12");
}

// Goal: POST sends value and ttl in the form; the watch long-poll sends wait, recursive and
// waitIndex in the query (never waitIndex=0, which etcd reads as "from now").
#[test]
fn post_and_watch_parameters() {
    let ttl = SetOptions {
        ttl: Some(Duration::from_secs(30)),
    };
    let post = post("/queue", "job 1", ttl);
    assert_eq!(post.method, Method::POST);
    assert_eq!(post.path_and_query, "/v2/keys/queue");
    assert_eq!(
        form_pairs(&post),
        pairs(&[("value", "job 1"), ("ttl", "30")])
    );
    assert_eq!(post.kind, RequestKind::Write);

    assert_eq!(
        watch("/k", false, None).path_and_query,
        "/v2/keys/k?wait=true"
    );
    assert_eq!(
        watch("/d", true, Some(StoreIndex(42))).path_and_query,
        "/v2/keys/d?wait=true&recursive=true&waitIndex=42"
    );
    assert_eq!(
        watch("/k", false, Some(StoreIndex(0))).path_and_query,
        "/v2/keys/k?wait=true"
    );
    assert_eq!(watch("/k", false, None).kind, RequestKind::Read);
}
