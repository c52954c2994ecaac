//! Building requests: key paths (cleaned and percent-encoded) and etcd parameters, sent as a
//! form body for PUT and POST and as the query string for GET and DELETE (etcd ignores a body
//! on GET and DELETE, so a condition sent there would be lost).
//!
//! Pure: no I/O. Invariants: a write's parameters decide the same operation etcd will run
//! (spec §5.2 table), and a compare always carries a condition etcd will see.

use crate::error::RequestError;
use crate::options::{DeleteOptions, GetOptions, PrevConditions, SetOptions};
use crate::types::StoreIndex;
use hyper::Method;
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use std::time::Duration;

/// Bytes left as they are in a key path: RFC 3986 unreserved characters and `/`. Everything
/// else, `%`, `?`, `#`, space, `+` and every non-ASCII byte included, is percent-encoded; the
/// server decodes the path, so the key arrives byte for byte.
const PATH_KEEP: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~')
    .remove(b'/');

/// Whether the request may change the store, which decides what may be retried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RequestKind {
    /// Retried on another endpoint after any transient failure.
    Read,
    /// Retried only when it was never sent.
    Write,
}

/// A request ready to send to any endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RequestSpec {
    pub(crate) method: Method,
    /// Percent-encoded path plus query, e.g. `/v2/keys/a%20b?recursive=true`.
    pub(crate) path_and_query: String,
    /// `application/x-www-form-urlencoded` body, for PUT and POST.
    pub(crate) form: Option<String>,
    pub(crate) kind: RequestKind,
}

impl RequestSpec {
    /// A GET of a fixed path (members, version, health).
    pub(crate) fn read(path: &str) -> RequestSpec {
        RequestSpec {
            method: Method::GET,
            path_and_query: path.to_owned(),
            form: None,
            kind: RequestKind::Read,
        }
    }
}

/// The parameters of one keys request, in the order they are written.
type Params = Vec<(&'static str, String)>;

/// `/v2/keys` plus the key, cleaned as Go's `path.Clean` does (the Go v2 client joins with
/// `path.Join`), so `a//b`, `./a` or `a/../b` never meet the server's 301 redirect.
pub(crate) fn keys_path(key: &str) -> String {
    let cleaned = clean_key(key);
    let encoded = utf8_percent_encode(&cleaned, PATH_KEEP);
    if cleaned == "/" {
        "/v2/keys".to_owned()
    } else {
        format!("/v2/keys{encoded}")
    }
}

/// An absolute, clean key: one leading `/`, no empty, `.` or `..` segments (`..` stops at the
/// root), no trailing `/`.
pub(crate) fn clean_key(key: &str) -> String {
    let mut segments: Vec<&str> = Vec::new();
    for segment in key.split('/') {
        match segment {
            "" | "." => {}
            ".." => {
                segments.pop();
            }
            other => segments.push(other),
        }
    }
    format!("/{}", segments.join("/"))
}

/// Seconds for etcd's `ttl`, rounded up so a key never lives shorter than asked.
pub(crate) fn ttl_seconds(ttl: Duration) -> u64 {
    let whole = ttl.as_secs();
    if ttl.subsec_nanos() > 0 {
        whole.saturating_add(1)
    } else {
        whole
    }
}

fn encode(params: &Params) -> String {
    let mut serializer = form_urlencoded::Serializer::new(String::new());
    for (name, value) in params {
        serializer.append_pair(name, value);
    }
    serializer.finish()
}

fn with_query(path: String, params: &Params) -> String {
    if params.is_empty() {
        path
    } else {
        format!("{path}?{}", encode(params))
    }
}

fn flag(params: &mut Params, name: &'static str, on: bool) {
    if on {
        params.push((name, "true".to_owned()));
    }
}

fn push_ttl(params: &mut Params, options: SetOptions) {
    if let Some(ttl) = options.ttl {
        params.push(("ttl", ttl_seconds(ttl).to_string()));
    }
}

/// Adds `prevValue` / `prevIndex`. A zero index is refused: etcd reads `prevIndex=0` as absent.
fn push_conditions(params: &mut Params, prev: &PrevConditions) -> Result<(), RequestError> {
    if let Some(value) = &prev.value {
        params.push(("prevValue", value.clone()));
    }
    if let Some(index) = prev.index {
        if index == StoreIndex(0) {
            return Err(RequestError::ZeroPrevIndex);
        }
        params.push(("prevIndex", index.0.to_string()));
    }
    Ok(())
}

/// `GET /v2/keys/<key>?recursive&sorted&quorum`.
pub(crate) fn get(key: &str, options: GetOptions) -> RequestSpec {
    let mut params = Params::new();
    flag(&mut params, "recursive", options.recursive);
    flag(&mut params, "sorted", options.sorted);
    flag(&mut params, "quorum", options.quorum);
    RequestSpec {
        method: Method::GET,
        path_and_query: with_query(keys_path(key), &params),
        form: None,
        kind: RequestKind::Read,
    }
}

/// The watch long-poll: `GET ?wait=true&recursive&waitIndex=N`.
pub(crate) fn watch(key: &str, recursive: bool, wait_index: Option<StoreIndex>) -> RequestSpec {
    let mut params = Params::new();
    flag(&mut params, "wait", true);
    flag(&mut params, "recursive", recursive);
    if let Some(index) = wait_index.filter(|index| index.0 > 0) {
        params.push(("waitIndex", index.0.to_string()));
    }
    RequestSpec {
        method: Method::GET,
        path_and_query: with_query(keys_path(key), &params),
        form: None,
        kind: RequestKind::Read,
    }
}

/// Which §5.2 operation a PUT asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum PutMode<'a> {
    /// `set`: no `prevExist`, no condition.
    Set,
    /// `create`: `prevExist=false`.
    Create,
    /// `update`: `prevExist=true`.
    Update,
    /// `compareAndSwap`: `prevValue` and/or `prevIndex`, no `prevExist`.
    Compare(&'a PrevConditions),
}

/// What a PUT stores.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PutBody<'a> {
    /// A file with this value.
    Value(&'a str),
    /// A directory (`dir=true`).
    Dir,
    /// Nothing: a TTL refresh (`refresh=true`), which must carry no value.
    Refresh,
}

/// `PUT /v2/keys/<key>` with a form body.
///
/// # Errors
/// [`RequestError::NoCondition`] for a compare without conditions (etcd would run a plain
/// set), [`RequestError::ZeroPrevIndex`].
pub(crate) fn put(
    key: &str,
    body: PutBody<'_>,
    mode: &PutMode<'_>,
    options: SetOptions,
) -> Result<RequestSpec, RequestError> {
    let mut params = Params::new();
    match body {
        PutBody::Value(value) => params.push(("value", value.to_owned())),
        PutBody::Dir => flag(&mut params, "dir", true),
        PutBody::Refresh => flag(&mut params, "refresh", true),
    }
    push_ttl(&mut params, options);
    match mode {
        PutMode::Set => {}
        PutMode::Create => params.push(("prevExist", "false".to_owned())),
        PutMode::Update => params.push(("prevExist", "true".to_owned())),
        PutMode::Compare(prev) => {
            if prev.is_empty() {
                return Err(RequestError::NoCondition);
            }
            push_conditions(&mut params, prev)?;
        }
    }
    Ok(RequestSpec {
        method: Method::PUT,
        path_and_query: keys_path(key),
        form: Some(encode(&params)),
        kind: RequestKind::Write,
    })
}

/// `POST /v2/keys/<dir>`: a new child named after the new index.
pub(crate) fn post(dir: &str, value: &str, options: SetOptions) -> RequestSpec {
    let mut params: Params = vec![("value", value.to_owned())];
    push_ttl(&mut params, options);
    RequestSpec {
        method: Method::POST,
        path_and_query: keys_path(dir),
        form: Some(encode(&params)),
        kind: RequestKind::Write,
    }
}

/// `DELETE /v2/keys/<key>?dir&recursive`, parameters in the query (etcd ignores a DELETE body).
pub(crate) fn delete(key: &str, options: DeleteOptions) -> RequestSpec {
    let mut params = Params::new();
    flag(&mut params, "dir", options.dir || options.recursive);
    flag(&mut params, "recursive", options.recursive);
    RequestSpec {
        method: Method::DELETE,
        path_and_query: with_query(keys_path(key), &params),
        form: None,
        kind: RequestKind::Write,
    }
}

/// `DELETE /v2/keys/<key>?prevValue&prevIndex`: compareAndDelete.
///
/// # Errors
/// [`RequestError::NoCondition`] (etcd would run a plain delete), [`RequestError::ZeroPrevIndex`].
pub(crate) fn compare_and_delete(
    key: &str,
    prev: &PrevConditions,
) -> Result<RequestSpec, RequestError> {
    if prev.is_empty() {
        return Err(RequestError::NoCondition);
    }
    let mut params = Params::new();
    push_conditions(&mut params, prev)?;
    Ok(RequestSpec {
        method: Method::DELETE,
        path_and_query: with_query(keys_path(key), &params),
        form: None,
        kind: RequestKind::Write,
    })
}

#[cfg(test)]
#[path = "request_tests.rs"]
mod tests;
