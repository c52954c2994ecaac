//! Parsing a `/v2/keys` request into a read, a watch or a store mutation.
//!
//! Owns: etcd 3.4's request rules, copied from Go's `net/http` (path cleaning, `ParseForm`,
//! `mime.ParseMediaType`, `url.ParseQuery`) and etcd's `parseKeyRequest`: where parameters
//! come from, how they are validated and in which order, and which operation a PUT, POST or
//! DELETE becomes. Relative TTLs become absolute expiries here, with the caller's `now`.
//!
//! Invariants: the first failure wins, in etcd's order (redirect → 405 → form 210 → 203 →
//! 209 → wait 209 → 201 → 209 → 202 → 209 → 211 → 212), then Keel's own key depth bound (209),
//! and every parse error carries index 0.
//! Paths handed to the store are clean and absolute (`/`, `/a`, `/a/b`).
//!
//! Must not depend on: the store's state, a clock, or I/O; it is a pure function of its input.

use crate::error::ApiError;
use axum::http::Method;
use kv_wire::code;
use v2store::limits::KEY_SEGMENTS_MAX;
use v2store::{Mutation, StoreIndex, Time, WatchRequest};

/// The largest form body etcd reads: Go's `ParseForm` limit (10 MiB). One byte more gives
/// 210 `http: POST too large` (seen on etcd 3.4.23: 10485760 bytes pass, 10485761 fail). A
/// handler should read at most one byte past this before calling [`parse`].
pub const FORM_BODY_MAX_BYTES: usize = 10 << 20;

/// The `Allow` header of a 405 on the keys API (seen on etcd 3.4.23).
pub const ALLOWED_METHODS: &str = "HEAD,GET,PUT,POST,DELETE";

const KEYS_PREFIX: &[u8] = b"/v2/keys";

/// What a keys request asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeysRequest {
    /// A read (GET, or HEAD: same reply without a body).
    Get {
        /// Clean absolute path.
        path: String,
        /// Include the whole subtree of a directory.
        recursive: bool,
        /// Sort children by key.
        sorted: bool,
        /// Read through consensus (linearizable).
        quorum: bool,
        /// HEAD: reply with status and headers only.
        head: bool,
    },
    /// `GET ?wait=true`.
    Watch(WatchRequest),
    /// PUT, POST or DELETE.
    Write {
        /// The replicated mutation, with absolute expiry.
        mutation: Mutation,
        /// `noValueOnSuccess=true`: shrink a successful reply to `{"action":…}`.
        no_value_on_success: bool,
    },
}

/// Parses one keys request.
///
/// `raw_path` is the URI path after `/v2/keys`, still percent-encoded (`""`, `/`, `/a%2Fb`…);
/// `query` is the raw query string; `content_type` and `body` are read only for PUT and POST.
/// `now` turns `ttl` into an absolute expiry.
///
/// # Errors
///
/// [`ApiError::MalformedUri`] for a bad escape in the path, [`ApiError::Redirect`] for an
/// unclean path, [`ApiError::MethodNotAllowed`] for other methods, and [`ApiError::Etcd`]
/// with codes 201, 202, 203, 209, 210, 211 or 212 (index 0) for bad parameters, and 209 for
/// a key path deeper than `KEY_SEGMENTS_MAX` segments.
pub fn parse(
    method: &Method,
    raw_path: &str,
    query: Option<&str>,
    content_type: Option<&str>,
    body: &[u8],
    now: Time,
) -> Result<KeysRequest, ApiError> {
    let path = key_path(method, raw_path, query)?;
    let verb = Verb::of(method).ok_or(ApiError::MethodNotAllowed {
        allow: ALLOWED_METHODS,
    })?;
    let form = Form::read(verb, query, content_type, body)?;
    let params = Params::validate(&form, verb)?;
    check_depth(&path)?;
    Ok(params.into_request(verb, path, now))
}

/// Keel's bound on key depth (`v2store::limits::KEY_SEGMENTS_MAX`), checked after every
/// check etcd makes so that any request etcd refuses is refused the same way.
///
/// etcd has no such limit, so no code is made for it. 209 `Invalid field` fits best: the
/// request itself is malformed (a 400, like every other parse error, with index 0), nothing in
/// the store is wrong, and clients already map it to a bad-input error (python-etcd's
/// `EtcdValueError` for 200-210). 104 or 107 would describe store state that does not exist,
/// and 300 (500) would tell clients to retry.
fn check_depth(path: &str) -> Result<(), ApiError> {
    let segments = path
        .split('/')
        .filter(|segment| !segment.is_empty())
        .count();
    if segments > KEY_SEGMENTS_MAX {
        let cause = format!("key path has more than {KEY_SEGMENTS_MAX} segments");
        return Err(ApiError::request(code::INVALID_FIELD, cause));
    }
    Ok(())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Verb {
    Get,
    Head,
    Put,
    Post,
    Delete,
}

impl Verb {
    fn of(method: &Method) -> Option<Verb> {
        match *method {
            Method::GET => Some(Verb::Get),
            Method::HEAD => Some(Verb::Head),
            Method::PUT => Some(Verb::Put),
            Method::POST => Some(Verb::Post),
            Method::DELETE => Some(Verb::Delete),
            _ => None,
        }
    }
}

// ---- path ----

/// The store path of a request, or the redirect Go's `ServeMux` sends for an unclean one.
///
/// Cleaning runs on the decoded path, prefix included (`/v2/keys/a%2F%2Fb` redirects to
/// `/v2/keys/a/b`, `/v2/keys/..` to `/v2`), before the method is looked at (a PATCH to an
/// unclean path also gets 301). Seen on etcd 3.4.23.
fn key_path(method: &Method, raw_path: &str, query: Option<&str>) -> Result<String, ApiError> {
    let decoded = unescape(raw_path.as_bytes(), false).map_err(|_| ApiError::MalformedUri)?;
    let mut full = KEYS_PREFIX.to_vec();
    full.extend_from_slice(&decoded);
    let clean = clean_path(&full);
    if clean != full {
        let mut location = escape_path(&clean);
        if let Some(query) = query.filter(|query| !query.is_empty()) {
            location.push('?');
            location.push_str(query);
        }
        let html = *method == Method::GET || *method == Method::HEAD;
        return Err(ApiError::Redirect { location, html });
    }
    // etcd's `path.Join("/1", rest)`: a trailing slash is dropped and "" means the root.
    let rest = &full[KEYS_PREFIX.len()..];
    let rest = rest.strip_suffix(b"/").unwrap_or(rest);
    let rest = rest.strip_prefix(b"/").unwrap_or(rest);
    Ok(format!("/{}", String::from_utf8_lossy(rest)))
}

/// Go's `cleanPath` for a rooted path: `path.Clean` (drop empty and `.` segments, resolve
/// `..` without climbing above `/`), keeping one trailing slash if the input had one.
fn clean_path(path: &[u8]) -> Vec<u8> {
    let mut segments: Vec<&[u8]> = Vec::new();
    for segment in path.split(|byte| *byte == b'/') {
        match segment {
            b"" | b"." => {}
            b".." => {
                segments.pop();
            }
            _ => segments.push(segment),
        }
    }
    let mut clean = Vec::with_capacity(path.len());
    for segment in &segments {
        clean.push(b'/');
        clean.extend_from_slice(segment);
    }
    if clean.is_empty() || path.ends_with(b"/") {
        clean.push(b'/');
    }
    clean
}

/// Go's `URL.EscapedPath` for a path without a raw form (`shouldEscape` in path mode):
/// unreserved characters and `$&+,/:;=@` stay, every other byte becomes `%XX` (upper case).
fn escape_path(path: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut escaped = String::with_capacity(path.len());
    for &byte in path {
        if byte.is_ascii_alphanumeric() || b"-_.~$&+,/:;=@".contains(&byte) {
            escaped.push(char::from(byte));
        } else {
            escaped.push('%');
            escaped.push(char::from(HEX[usize::from(byte >> 4)]));
            escaped.push(char::from(HEX[usize::from(byte & 0x0f)]));
        }
    }
    escaped
}

/// Go's `unescape`: `%XX` decoding that rejects a `%` not followed by two hex digits; with
/// `plus_is_space` (query mode) `+` is a space. The error holds Go's text for a bad escape.
fn unescape(input: &[u8], plus_is_space: bool) -> Result<Vec<u8>, String> {
    let mut output = Vec::with_capacity(input.len());
    let mut position = 0;
    while position < input.len() {
        match input[position] {
            b'%' => {
                let digits = input.get(position + 1..position + 3);
                let Some(value) = digits.and_then(hex_pair) else {
                    let end = input.len().min(position + 3);
                    let bad = go_quote(&input[position..end]);
                    return Err(format!("invalid URL escape {bad}"));
                };
                output.push(value);
                position += 3;
            }
            b'+' if plus_is_space => {
                output.push(b' ');
                position += 1;
            }
            byte => {
                output.push(byte);
                position += 1;
            }
        }
    }
    Ok(output)
}

fn hex_pair(digits: &[u8]) -> Option<u8> {
    let text = std::str::from_utf8(digits).ok()?;
    if text.len() != 2 || !text.bytes().all(|byte| byte.is_ascii_hexdigit()) {
        return None;
    }
    u8::from_str_radix(text, 16).ok()
}

/// Go's `strconv.Quote` for the few bytes of a bad escape: printable text stays; `"`, `\`
/// and the controls with a short form (`\n`, `\a`…) get it; other controls become `\xNN`
/// (ASCII) or `\uNNNN`, and bytes that are not UTF-8 `\xNN`.
fn go_quote(bytes: &[u8]) -> String {
    let mut quoted = String::from("\"");
    for chunk in bytes.utf8_chunks() {
        for character in chunk.valid().chars() {
            match character {
                '"' => quoted.push_str("\\\""),
                '\\' => quoted.push_str("\\\\"),
                '\n' => quoted.push_str("\\n"),
                '\r' => quoted.push_str("\\r"),
                '\t' => quoted.push_str("\\t"),
                '\u{7}' => quoted.push_str("\\a"),
                '\u{8}' => quoted.push_str("\\b"),
                '\u{b}' => quoted.push_str("\\v"),
                '\u{c}' => quoted.push_str("\\f"),
                c if c.is_ascii_control() => quoted.push_str(&format!("\\x{:02x}", u32::from(c))),
                c if c.is_control() => quoted.push_str(&format!("\\u{:04x}", u32::from(c))),
                c => quoted.push(c),
            }
        }
        for byte in chunk.invalid() {
            quoted.push_str(&format!("\\x{byte:02x}"));
        }
    }
    quoted.push('"');
    quoted
}

// ---- form ----

/// The request's parameters: the form body (PUT and POST only) before the query string, so
/// a body value wins, and within one source the first occurrence wins (Go's `r.Form[k][0]`).
struct Form {
    pairs: Vec<(String, String)>,
}

impl Form {
    /// Go's `ParseForm` as etcd calls it: any error gives 210 with Go's error text; a body
    /// error is reported before a query error.
    fn read(
        verb: Verb,
        query: Option<&str>,
        content_type: Option<&str>,
        body: &[u8],
    ) -> Result<Form, ApiError> {
        let (mut pairs, body_error) = if matches!(verb, Verb::Put | Verb::Post) {
            read_body(content_type, body)
        } else {
            (Vec::new(), None)
        };
        let (query_pairs, query_error) = parse_query(query.unwrap_or("").as_bytes());
        if let Some(cause) = body_error.or(query_error) {
            return Err(ApiError::request(code::INVALID_FORM, cause));
        }
        pairs.extend(query_pairs);
        Ok(Form { pairs })
    }

    fn first(&self, name: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }
}

/// Go's `parsePostForm`: only an `application/x-www-form-urlencoded` body is read (JSON and
/// multipart bodies are ignored, as etcd ignores them); an absent or empty Content-Type means
/// `application/octet-stream`.
fn read_body(content_type: Option<&str>, body: &[u8]) -> (Vec<(String, String)>, Option<String>) {
    let content_type = content_type
        .filter(|value| !value.is_empty())
        .unwrap_or("application/octet-stream");
    let media_type = match media_type(content_type) {
        Ok(media_type) => media_type,
        Err(cause) => return (Vec::new(), Some(cause.to_owned())),
    };
    if media_type != kv_wire::content_type::FORM {
        return (Vec::new(), None);
    }
    if body.len() > FORM_BODY_MAX_BYTES {
        return (Vec::new(), Some("http: POST too large".to_owned()));
    }
    parse_query(body)
}

/// The lower-cased media type of a Content-Type, with the errors of Go's
/// `checkMediaTypeDisposition`. Parameters are not validated (Go rejects a malformed
/// parameter with `mime: invalid media parameter`; clients do not send those).
fn media_type(content_type: &str) -> Result<String, &'static str> {
    let base = content_type.split(';').next().unwrap_or("");
    let media_type = base.trim().to_ascii_lowercase();
    let (kind, rest) = split_token(&media_type);
    if kind.is_empty() {
        return Err("mime: no media type");
    }
    if rest.is_empty() {
        return Ok(media_type);
    }
    let Some(after_slash) = rest.strip_prefix('/') else {
        return Err("mime: expected slash after first token");
    };
    let (subtype, rest) = split_token(after_slash);
    if subtype.is_empty() {
        return Err("mime: expected token after slash");
    }
    if !rest.is_empty() {
        return Err("mime: unexpected content after media subtype");
    }
    Ok(media_type)
}

/// Go's `consumeToken`: the leading run of RFC 1521 token characters.
fn split_token(text: &str) -> (&str, &str) {
    let end = text
        .find(|c: char| !c.is_ascii_graphic() || "()<>@,;:\\\"/[]?=".contains(c))
        .unwrap_or(text.len());
    text.split_at(end)
}

/// Go 1.19's `url.ParseQuery`: pairs split on `&`; a pair with `;` is an error (and
/// skipped); a bad escape is an error (and skipped); the first error is kept except that a
/// semicolon error always replaces it, as Go's loop does.
fn parse_query(input: &[u8]) -> (Vec<(String, String)>, Option<String>) {
    let mut pairs = Vec::new();
    let mut error = None;
    for pair in input.split(|byte| *byte == b'&') {
        if pair.contains(&b';') {
            error = Some("invalid semicolon separator in query".to_owned());
            continue;
        }
        if pair.is_empty() {
            continue;
        }
        let (key, value) = match pair.iter().position(|byte| *byte == b'=') {
            Some(equals) => (&pair[..equals], &pair[equals + 1..]),
            None => (pair, &pair[pair.len()..]),
        };
        match unescape(key, true).and_then(|key| Ok((key, unescape(value, true)?))) {
            Ok((key, value)) => pairs.push((lossy(key), lossy(value))),
            Err(cause) => {
                error.get_or_insert(cause);
            }
        }
    }
    (pairs, error)
}

/// Keys and values are Go byte strings; Rust strings must be UTF-8, so invalid bytes become
/// U+FFFD (etcd's JSON shows such bytes as `\ufffd` too).
fn lossy(bytes: Vec<u8>) -> String {
    String::from_utf8(bytes)
        .unwrap_or_else(|error| String::from_utf8_lossy(error.as_bytes()).into_owned())
}

// ---- parameters ----

/// The validated parameters of etcd's `parseKeyRequest`.
#[derive(Debug, Default)]
struct Params {
    prev_index: u64,
    wait_index: u64,
    recursive: bool,
    sorted: bool,
    wait: bool,
    dir: bool,
    quorum: bool,
    stream: bool,
    prev_value: Option<String>,
    no_value_on_success: bool,
    ttl: Option<u64>,
    prev_exist: Option<bool>,
    refresh: bool,
    value: String,
}

impl Params {
    /// Validates in `parseKeyRequest`'s order; the first failure wins.
    fn validate(form: &Form, verb: Verb) -> Result<Params, ApiError> {
        let index = |name: &str| {
            uint_param(form, name)
                .map(Option::unwrap_or_default)
                .map_err(|()| {
                    ApiError::request(code::INDEX_NAN, format!("invalid value for \"{name}\""))
                })
        };
        let mut params = Params {
            prev_index: index("prevIndex")?,
            wait_index: index("waitIndex")?,
            ..Params::default()
        };
        params.recursive = quoted_bool(form, "recursive")?;
        params.sorted = quoted_bool(form, "sorted")?;
        params.wait = quoted_bool(form, "wait")?;
        params.dir = quoted_bool(form, "dir")?;
        params.quorum = quoted_bool(form, "quorum")?;
        params.stream = quoted_bool(form, "stream")?;
        if params.wait && verb != Verb::Get {
            let cause = "\"wait\" can only be used with GET requests";
            return Err(ApiError::request(code::INVALID_FIELD, cause));
        }
        params.prev_value = form.first("prevValue").map(str::to_owned);
        if params.prev_value.as_deref() == Some("") {
            let cause = "\"prevValue\" cannot be empty";
            return Err(ApiError::request(code::PREV_VALUE_REQUIRED, cause));
        }
        params.no_value_on_success = quoted_bool(form, "noValueOnSuccess")?;
        params.validate_ttl_and_refresh(form)?;
        Ok(params)
    }

    /// `ttl` (an empty value means none), `prevExist`, `refresh` and the refresh rules.
    fn validate_ttl_and_refresh(&mut self, form: &Form) -> Result<(), ApiError> {
        if form.first("ttl").is_some_and(|ttl| !ttl.is_empty()) {
            self.ttl = uint_param(form, "ttl")
                .map_err(|()| ApiError::request(code::TTL_NAN, "invalid value for \"ttl\""))?;
        }
        // etcd quotes the other names in these causes but not these two.
        let invalid = |name: &str| {
            ApiError::request(code::INVALID_FIELD, format!("invalid value for {name}"))
        };
        self.prev_exist = form
            .first("prevExist")
            .map(|text| go_bool(text).ok_or_else(|| invalid("prevExist")))
            .transpose()?;
        let refresh = form.first("refresh");
        self.refresh = refresh
            .map_or(Some(false), go_bool)
            .ok_or_else(|| invalid("refresh"))?;
        self.value = form.first("value").unwrap_or("").to_owned();
        if self.refresh && !self.value.is_empty() {
            let cause = "A value was provided on a refresh";
            return Err(ApiError::request(code::REFRESH_VALUE, cause));
        }
        if self.refresh && self.ttl.is_none() {
            return Err(ApiError::request(
                code::REFRESH_TTL_REQUIRED,
                "No TTL value set",
            ));
        }
        Ok(())
    }

    fn into_request(self, verb: Verb, path: String, now: Time) -> KeysRequest {
        let expire_at = self.ttl.map(|ttl| now.plus_seconds(ttl));
        let prev_index = (self.prev_index > 0).then_some(StoreIndex(self.prev_index));
        let no_value_on_success = self.no_value_on_success;
        let mutation = match verb {
            // etcd's `RequestV2.Handle` turns a GET with `quorum=true` into a QGET before it
            // looks at `wait`, so a quorum "watch" is a quorum read (seen on etcd 3.4.23:
            // `?wait=true&quorum=true` answers `get` at once). HEAD never gets here with
            // `wait`: that is 209 during validation.
            Verb::Get if self.wait && !self.quorum => {
                return KeysRequest::Watch(WatchRequest {
                    path,
                    recursive: self.recursive,
                    stream: self.stream,
                    since: (self.wait_index > 0).then_some(StoreIndex(self.wait_index)),
                });
            }
            Verb::Get | Verb::Head => {
                return KeysRequest::Get {
                    path,
                    recursive: self.recursive,
                    sorted: self.sorted,
                    quorum: self.quorum,
                    head: verb == Verb::Head,
                };
            }
            Verb::Put => self.put_mutation(path, expire_at, prev_index),
            Verb::Post => Mutation::Create {
                path,
                value: self.value,
                dir: self.dir,
                expire_at,
                in_order: true,
            },
            Verb::Delete => match (self.prev_value, prev_index) {
                (None, None) => Mutation::Delete {
                    path,
                    dir: self.dir,
                    recursive: self.recursive,
                },
                (prev_value, prev_index) => Mutation::CompareAndDelete {
                    path,
                    prev_value,
                    prev_index,
                },
            },
        };
        KeysRequest::Write {
            mutation,
            no_value_on_success,
        }
    }

    /// The spec §5.2 table (etcd's `applierV2store.Put`); `prevIndex=0` counts as absent.
    fn put_mutation(
        self,
        path: String,
        expire_at: Option<Time>,
        prev_index: Option<StoreIndex>,
    ) -> Mutation {
        let compares = self.prev_value.is_some() || prev_index.is_some();
        match self.prev_exist {
            Some(true) if !compares => Mutation::Update {
                path,
                value: self.value,
                expire_at,
                refresh: self.refresh,
            },
            Some(false) => Mutation::Create {
                path,
                value: self.value,
                dir: self.dir,
                expire_at,
                in_order: false,
            },
            Some(true) | None if compares => Mutation::CompareAndSwap {
                path,
                value: self.value,
                prev_value: self.prev_value,
                prev_index,
                expire_at,
                refresh: self.refresh,
            },
            _ => Mutation::Set {
                path,
                value: self.value,
                dir: self.dir,
                expire_at,
                refresh: self.refresh,
            },
        }
    }
}

/// etcd's `getUint64`: absent is `None`; present must be Go `ParseUint(s, 10, 64)`
/// (non-empty, ASCII digits only, fits in 64 bits).
fn uint_param(form: &Form, name: &str) -> Result<Option<u64>, ()> {
    let Some(text) = form.first(name) else {
        return Ok(None);
    };
    if text.is_empty() || !text.bytes().all(|byte| byte.is_ascii_digit()) {
        return Err(());
    }
    text.parse().map(Some).map_err(|_| ())
}

/// etcd's `getBool` with the cause `invalid value for "<name>"`; absent is false.
fn quoted_bool(form: &Form, name: &str) -> Result<bool, ApiError> {
    form.first(name)
        .map_or(Some(false), go_bool)
        .ok_or_else(|| {
            ApiError::request(code::INVALID_FIELD, format!("invalid value for \"{name}\""))
        })
}

/// Go's `strconv.ParseBool`.
fn go_bool(text: &str) -> Option<bool> {
    match text {
        "1" | "t" | "T" | "true" | "TRUE" | "True" => Some(true),
        "0" | "f" | "F" | "false" | "FALSE" | "False" => Some(false),
        _ => None,
    }
}

#[cfg(test)]
mod tests;
