//! Tests of the error → HTTP mapping. Expected bytes and headers were captured from a
//! single-member etcd 3.4.23 (`--enable-v2`, loopback) with curl unless the spec is cited.

use super::ApiError;
use axum::http::header::{ALLOW, CONNECTION, CONTENT_TYPE, LOCATION};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use v2store::{StoreError, StoreIndex};

struct Reply {
    status: StatusCode,
    headers: HeaderMap,
    body: String,
}

async fn reply(error: ApiError) -> Reply {
    let response = error.into_response();
    let (parts, body) = response.into_parts();
    let bytes = axum::body::to_bytes(body, usize::MAX)
        .await
        .expect("in-memory bodies are readable");
    Reply {
        status: parts.status,
        headers: parts.headers,
        body: String::from_utf8(bytes.to_vec()).expect("bodies are UTF-8"),
    }
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get(name)
        .map(|value| value.to_str().expect("ASCII header"))
}

#[tokio::test]
async fn every_code_maps_to_its_message_and_status() {
    // Goal: every code of kv-wire's table (pinned to spec §10 by kv-wire's golden test) reaches
    // the response with its message and status; the table itself is not repeated here.
    let codes: Vec<u16> = (0..1000)
        .filter(|code| kv_wire::error_message(*code).is_some())
        .collect();
    assert_eq!(codes.len(), 32, "spec §10 lists 32 codes");
    for code in codes {
        let message = kv_wire::error_message(code).expect("filtered above");
        let error = ApiError::Etcd {
            code,
            cause: "c".to_owned(),
            index: StoreIndex(9),
        };
        let got = reply(error).await;
        assert_eq!(
            got.status.as_u16(),
            kv_wire::error_status(code),
            "code {code}"
        );
        let body = format!(
            "{{\"errorCode\":{code},\"message\":\"{message}\",\"cause\":\"c\",\"index\":9}}\n"
        );
        assert_eq!(got.body, body, "code {code}");
    }
}

#[tokio::test]
async fn etcd_error_headers_and_captured_bodies() {
    // Goal: `PUT ?prevValue=wrong` → 412 with X-Etcd-Index = index and no X-Raft-* (spec §4,
    // §11); a parse error has index 0 (captured: `?prevIndex=` → 203, `X-Etcd-Index: 0`).
    let compare = ApiError::Etcd {
        code: 101,
        cause: "[wrong != z]".to_owned(),
        index: StoreIndex(8),
    };
    let got = reply(compare).await;
    assert_eq!(got.status, StatusCode::PRECONDITION_FAILED);
    assert_eq!(
        header(&got.headers, "content-type"),
        Some("application/json")
    );
    assert_eq!(header(&got.headers, "x-etcd-index"), Some("8"));
    assert_eq!(header(&got.headers, "x-raft-index"), None);
    assert_eq!(header(&got.headers, "x-raft-term"), None);
    assert_eq!(header(&got.headers, "x-etcd-cluster-id"), None);
    assert_eq!(got.body, "{\"errorCode\":101,\"message\":\"Compare failed\",\"cause\":\"[wrong != z]\",\"index\":8}\n");
    let parse = reply(ApiError::request(203, "invalid value for \"prevIndex\"")).await;
    assert_eq!(parse.status, StatusCode::BAD_REQUEST);
    assert_eq!(header(&parse.headers, "x-etcd-index"), Some("0"));
    assert_eq!(
        parse.body,
        "{\"errorCode\":203,\"message\":\"The given index in POST form is not a number\",\"cause\":\"invalid value for \\\"prevIndex\\\"\",\"index\":0}\n"
    );
}

#[tokio::test]
async fn empty_cause_is_left_out_and_go_escaping_applies() {
    // Goal: `cause` omitted when empty (spec §10); captured `GET /v2/keys/nokey%3C%26` →
    // cause `/nokey\u003c\u0026`.
    let no_cause = reply(ApiError::request(110, "")).await;
    assert_eq!(no_cause.body, "{\"errorCode\":110,\"message\":\"The request requires user authentication\",\"index\":0}\n");
    let escaped = ApiError::Etcd {
        code: 100,
        cause: "/nokey<&".to_owned(),
        index: StoreIndex(25),
    };
    let got = reply(escaped).await;
    assert_eq!(got.status, StatusCode::NOT_FOUND);
    assert_eq!(got.body, "{\"errorCode\":100,\"message\":\"Key not found\",\"cause\":\"/nokey\\u003c\\u0026\",\"index\":25}\n");
}

#[tokio::test]
async fn oversized_form_and_raft_internal() {
    // Goal: captured reply to an 11 MB form PUT (400, not 413), and code 300 with index 0.
    let got = reply(ApiError::form_too_large()).await;
    assert_eq!(got.status, StatusCode::BAD_REQUEST);
    assert_eq!(header(&got.headers, "x-etcd-index"), Some("0"));
    assert_eq!(got.body, "{\"errorCode\":210,\"message\":\"Invalid POST form\",\"cause\":\"http: POST too large\",\"index\":0}\n");
    let raft = reply(ApiError::raft_internal("etcdserver: request timed out")).await;
    assert_eq!(raft.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(raft.body, "{\"errorCode\":300,\"message\":\"Raft Internal Error\",\"cause\":\"etcdserver: request timed out\",\"index\":0}\n");
}

#[tokio::test]
async fn store_errors_without_an_etcd_code_become_300() {
    // Goal: the watcher limit and damaged save data have no etcd code; they answer 300 with
    // their Display text and index 0 (how etcd reports non-v2 errors).
    let limit = ApiError::from(StoreError::WatcherLimitReached {
        index: StoreIndex(3),
    });
    assert_eq!(limit, ApiError::raft_internal("watcher limit reached"));
    let damaged = ApiError::from(StoreError::InvalidSaveData {
        reason: "unknown version 9".to_owned(),
    });
    assert_eq!(
        damaged,
        ApiError::raft_internal("snapshot data is invalid: unknown version 9")
    );
}

#[tokio::test]
async fn store_errors_keep_code_cause_and_index() {
    // Goal: a domain error keeps etcd's code, cause and index (spec §5.1: 100 with the first
    // missing prefix; §5.2: 105 with the path).
    let missing = ApiError::from(StoreError::KeyNotFound {
        cause: "/dir1".to_owned(),
        index: StoreIndex(12),
    });
    let expected = ApiError::Etcd {
        code: 100,
        cause: "/dir1".to_owned(),
        index: StoreIndex(12),
    };
    assert_eq!(missing, expected);
    let exists = ApiError::from(StoreError::KeyAlreadyExists {
        cause: "/foo".to_owned(),
        index: StoreIndex(4),
    });
    let got = reply(exists).await;
    assert_eq!(got.status, StatusCode::PRECONDITION_FAILED);
    assert_eq!(header(&got.headers, "x-etcd-index"), Some("4"));
}

#[tokio::test]
async fn redirect_like_go() {
    // Goal: captured `GET /v2/keys/a//b` → 301, `Location: /v2/keys/a/b`, text/html body of
    // 47 bytes; `PUT` → 301 with `Content-Length: 0` and no content type.
    let get = ApiError::Redirect {
        location: "/v2/keys/a/b".to_owned(),
        html: true,
    };
    let got = reply(get).await;
    assert_eq!(got.status, StatusCode::MOVED_PERMANENTLY);
    assert_eq!(header(&got.headers, "location"), Some("/v2/keys/a/b"));
    assert_eq!(
        header(&got.headers, "content-type"),
        Some("text/html; charset=utf-8")
    );
    assert_eq!(
        got.body,
        "<a href=\"/v2/keys/a/b\">Moved Permanently</a>.\n\n"
    );
    assert_eq!(got.body.len(), 47);
    let with_query = ApiError::Redirect {
        location: "/v2/keys/a/b?x=1&wait=true".to_owned(),
        html: true,
    };
    let got = reply(with_query).await;
    assert_eq!(
        got.body,
        "<a href=\"/v2/keys/a/b?x=1&amp;wait=true\">Moved Permanently</a>.\n\n"
    );
    let put = ApiError::Redirect {
        location: "/v2/keys/a/b?v=1".to_owned(),
        html: false,
    };
    let got = reply(put).await;
    assert_eq!(got.status, StatusCode::MOVED_PERMANENTLY);
    assert_eq!(
        got.headers.get(LOCATION).map(|v| v.as_bytes()),
        Some(&b"/v2/keys/a/b?v=1"[..])
    );
    assert_eq!(got.headers.get(CONTENT_TYPE), None);
    assert_eq!(got.body, "");
}

#[tokio::test]
async fn go_plain_text_replies() {
    // Goal: captured 404 (`/v2/nothing`), 405 (`PATCH /v2/keys/foo`) and the bare 400 for
    // `/v2/keys/a%zz`, byte for byte with their headers.
    let not_found = reply(ApiError::RouteNotFound).await;
    assert_eq!(not_found.status, StatusCode::NOT_FOUND);
    assert_eq!(
        header(&not_found.headers, "content-type"),
        Some("text/plain; charset=utf-8")
    );
    assert_eq!(
        header(&not_found.headers, "x-content-type-options"),
        Some("nosniff")
    );
    assert_eq!(not_found.body, "404 page not found\n");
    let method = ApiError::MethodNotAllowed {
        allow: "HEAD,GET,PUT,POST,DELETE",
    };
    let got = reply(method).await;
    assert_eq!(got.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(
        got.headers.get(ALLOW).map(|v| v.as_bytes()),
        Some(&b"HEAD,GET,PUT,POST,DELETE"[..])
    );
    assert_eq!(
        header(&got.headers, "content-type"),
        Some("text/plain; charset=utf-8")
    );
    assert_eq!(got.body, "Method Not Allowed\n");
    let malformed = reply(ApiError::MalformedUri).await;
    assert_eq!(malformed.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        malformed.headers.get(CONNECTION).map(|v| v.as_bytes()),
        Some(&b"close"[..])
    );
    assert_eq!(malformed.body, "400 Bad Request");
}

#[tokio::test]
async fn short_message_form() {
    // Goal: captured `DELETE /v2/members/zz` → `{"message":"No such member: zz"}` with no
    // newline; spec §9.4: 403 `not current leader`.
    let got = reply(ApiError::short(403, "not current leader")).await;
    assert_eq!(got.status, StatusCode::FORBIDDEN);
    assert_eq!(
        header(&got.headers, "content-type"),
        Some("application/json")
    );
    assert_eq!(header(&got.headers, "x-etcd-index"), None);
    assert_eq!(got.body, "{\"message\":\"not current leader\"}");
    let member = reply(ApiError::short(404, "No such member: zz")).await;
    assert_eq!(member.body, "{\"message\":\"No such member: zz\"}");
}
