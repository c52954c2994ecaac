//! Turning a reply into what must be equal between etcd and Keel.
//!
//! What is rewritten, and why (everything else is compared as sent):
//! * **Indexes.** etcd's first user write gets index 4 or more (its bootstrap entries share the
//!   counter), Keel's gets 1 (a deliberate difference, `docs/compat.md`). Each server's index of
//!   the test's first write is its `base`; every etcd index in a reply (`modifiedIndex`,
//!   `createdIndex`, an error's `index`, `X-Etcd-Index`, in-order key names, the indexes in a
//!   401 cause and in a `prevIndex` compare cause) becomes `@<index - base>`, so relative
//!   counting is compared exactly. A literal 0 (the index of a request-parsing error) stays 0.
//! * **Time.** `expiration` becomes `<expiration>` once it is checked to be RFC 3339 UTC; `ttl`
//!   may differ by one second between the two servers (see [`reconcile_ttl`]).
//! * **Identities.** `X-Raft-Index` and `X-Raft-Term` are compared by presence, and the cluster
//!   id by presence and form (lower-case hex, no leading zero). Member ids and URLs (ports) are
//!   replaced in the members and machines replies.
//! * **Shape only** for `/v2/stats/store`: its counters count different histories.
//! * **Order.** Without `sorted=true` etcd lists children in Go map order, so `nodes` arrays are
//!   sorted by key before comparing; field order inside every object is still compared.
//! * **Ignored headers.** `Date`, `Connection`, the CORS headers (spec §1: optional, no client
//!   depends on them) and the `Content-Length` value (index widths differ; only zero/non-zero is
//!   kept, which is what shows a HEAD reply's length).

use super::raw::Reply;
use serde_json::Value;
use std::collections::BTreeSet;

/// A server's view of the index: `base` is the index of the test's first write.
#[derive(Debug, Clone, Copy)]
pub struct Indexes {
    pub base: u64,
}

impl Indexes {
    /// `@<index - base>`, or 0 for the literal 0 of a parse error.
    pub fn relative(&self, index: u64) -> Value {
        if index == 0 {
            return Value::from(0);
        }
        let offset = i128::from(index) - i128::from(self.base);
        Value::String(format!("@{offset}"))
    }

    fn relative_text(&self, text: &str) -> String {
        match text.parse::<u64>() {
            Ok(index) => match self.relative(index) {
                Value::String(marker) => marker,
                other => other.to_string(),
            },
            Err(_) => format!("<not a number: {text}>"),
        }
    }
}

/// What a case asks the normaliser to do beyond the defaults.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Shape {
    /// Keys API and everything compared exactly.
    #[default]
    Exact,
    /// `/v2/members`: ids and URLs replaced.
    Members,
    /// `/v2/stats/store`: every number replaced by `<number>`.
    Counters,
}

/// A reply after normalisation.
#[derive(Debug, Clone, PartialEq)]
pub struct Normalised {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Body,
}

/// The body after normalisation.
#[derive(Debug, Clone, PartialEq)]
pub enum Body {
    Empty,
    Text(String),
    /// The document, the field order of every object (as a set: sibling order is separate),
    /// and whether a trailing `\n` followed it.
    Json {
        value: Value,
        field_orders: BTreeSet<String>,
        newline: bool,
    },
}

/// Normalise one reply to `target` (the expanded request target).
pub fn normalise(reply: &Reply, target: &str, shape: Shape, indexes: Indexes) -> Normalised {
    Normalised {
        status: reply.status,
        headers: headers(reply, indexes),
        body: body(reply, target, shape, indexes),
    }
}

fn headers(reply: &Reply, indexes: Indexes) -> Vec<(String, String)> {
    let mut kept = Vec::new();
    for (name, value) in &reply.headers {
        let value = match name.as_str() {
            "content-type" | "location" | "allow" | "x-content-type-options" => value.clone(),
            "x-etcd-index" => indexes.relative_text(value),
            "x-raft-index" | "x-raft-term" => "<present>".into(),
            "x-etcd-cluster-id" if is_go_hex(value) => "<hex id>".into(),
            "x-etcd-cluster-id" => format!("<malformed id {value}>"),
            "content-length" if value == "0" => "0".into(),
            "content-length" => "<non-zero>".into(),
            _ => continue,
        };
        kept.push((name.clone(), value));
    }
    kept.push((
        "<framing>".into(),
        if reply.chunked { "chunked" } else { "length" }.into(),
    ));
    kept.sort();
    kept
}

/// Go's `strconv.FormatUint(id, 16)`: lower-case hex without leading zeros.
fn is_go_hex(text: &str) -> bool {
    !text.is_empty()
        && !text.starts_with('0')
        && text
            .bytes()
            .all(|byte| byte.is_ascii_digit() || (b'a'..=b'f').contains(&byte))
}

fn body(reply: &Reply, target: &str, shape: Shape, indexes: Indexes) -> Body {
    if reply.body.is_empty() {
        return Body::Empty;
    }
    let text = reply.text();
    let Ok(mut value) = serde_json::from_str::<Value>(&text) else {
        return Body::Text(replace_ports(&text));
    };
    let field_orders = field_orders(&text);
    let prev_index = target.contains("prevIndex=");
    rewrite(&mut value, indexes, prev_index);
    match shape {
        Shape::Exact => {}
        Shape::Members => members(&mut value),
        Shape::Counters => counters(&mut value),
    }
    if !target.contains("sorted=true") {
        sort_nodes(&mut value);
    }
    Body::Json {
        value,
        field_orders,
        newline: text.ends_with('\n'),
    }
}

/// Rewrite indexes, in-order names, expirations and index-bearing causes, at every depth.
fn rewrite(value: &mut Value, indexes: Indexes, prev_index: bool) {
    match value {
        Value::Array(items) => {
            for item in items {
                rewrite(item, indexes, prev_index);
            }
        }
        Value::Object(object) => {
            let error_code = object.get("errorCode").and_then(Value::as_u64);
            for (name, field) in object.iter_mut() {
                let is_index = match name.as_str() {
                    "modifiedIndex" | "createdIndex" => true,
                    "index" => error_code.is_some(),
                    _ => false,
                };
                match (name.as_str(), &*field) {
                    (_, Value::Number(number)) if is_index => {
                        let index = number.as_u64().unwrap_or(u64::MAX);
                        *field = indexes.relative(index);
                    }
                    ("key", Value::String(key)) => *field = Value::String(in_order(key, indexes)),
                    ("expiration", Value::String(time)) => *field = expiration(time),
                    ("cause", Value::String(cause)) => {
                        let cause = match error_code {
                            Some(401) => cleared_cause(cause, indexes),
                            Some(101) if prev_index => compare_cause(cause, indexes),
                            _ => cause.clone(),
                        };
                        *field = Value::String(cause);
                    }
                    _ => rewrite(field, indexes, prev_index),
                }
            }
        }
        _ => {}
    }
}

/// In-order keys are named by their index as 20 digits: `/q/00000000000000000017`.
fn in_order(key: &str, indexes: Indexes) -> String {
    key.split('/')
        .map(|segment| {
            if segment.len() == 20 && segment.bytes().all(|byte| byte.is_ascii_digit()) {
                format!("<in-order {}>", indexes.relative_text(segment))
            } else {
                segment.to_owned()
            }
        })
        .collect::<Vec<_>>()
        .join("/")
}

/// RFC 3339 in UTC with up to nine fraction digits, e.g. `2026-11-22T02:59:00.23399129Z`.
fn expiration(time: &str) -> Value {
    let bytes = time.as_bytes();
    let shaped = bytes.len() >= 20
        && bytes[4] == b'-'
        && bytes[10] == b'T'
        && time.ends_with('Z')
        && !time.contains('+');
    // Go's RFC3339Nano trims trailing zeros of the fraction, and the dot with them.
    let fraction_ok = time
        .split_once('.')
        .is_none_or(|(_, fraction)| fraction.len() <= 10 && !fraction.ends_with("0Z"));
    if shaped && fraction_ok {
        Value::String("<expiration>".into())
    } else {
        Value::String(format!("<malformed expiration {time}>"))
    }
}

/// `the requested history has been cleared [<oldest>/<waitIndex>]`.
fn cleared_cause(cause: &str, indexes: Indexes) -> String {
    let Some((text, rest)) = cause.split_once('[') else {
        return cause.to_owned();
    };
    let Some((oldest, wait)) = rest.trim_end_matches(']').split_once('/') else {
        return cause.to_owned();
    };
    format!(
        "{text}[{}/{}]",
        indexes.relative_text(oldest),
        indexes.relative_text(wait)
    )
}

/// `[<prevIndex> != <modifiedIndex>]`, possibly after a value part; only brackets whose two
/// sides are both numbers are index parts (the cases use non-numeric values).
fn compare_cause(cause: &str, indexes: Indexes) -> String {
    cause
        .split("] [")
        .map(|part| {
            let inner = part.trim_start_matches('[').trim_end_matches(']');
            match inner.split_once(" != ") {
                Some((want, have))
                    if want.bytes().all(|b| b.is_ascii_digit())
                        && have.bytes().all(|b| b.is_ascii_digit()) =>
                {
                    let want = indexes.relative_text(want);
                    format!("[{want} != {}]", indexes.relative_text(have))
                }
                _ => format!("[{inner}]"),
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// `/v2/members`: the id is random per cluster, URLs carry the ports of this run.
fn members(value: &mut Value) {
    if value.get("peerURLs").is_some() {
        // `/v2/members/leader`: one member object.
        member(value);
    }
    let Some(list) = value.get_mut("members").and_then(Value::as_array_mut) else {
        return;
    };
    list.iter_mut().for_each(member);
}

fn member(member: &mut Value) {
    if let Some(id) = member.get_mut("id") {
        let valid = id.as_str().is_some_and(is_go_hex);
        *id = Value::String(if valid { "<hex id>" } else { "<bad id>" }.into());
    }
    for name in ["peerURLs", "clientURLs"] {
        if let Some(Value::Array(urls)) = member.get_mut(name) {
            for url in urls {
                let text = url.as_str().map(replace_ports).unwrap_or_default();
                *url = Value::String(text);
            }
        }
    }
}

/// Replace every number by `<number>`, keeping field names and types.
fn counters(value: &mut Value) {
    match value {
        Value::Number(_) => *value = Value::String("<number>".into()),
        Value::Array(items) => items.iter_mut().for_each(counters),
        Value::Object(object) => object.values_mut().for_each(counters),
        _ => {}
    }
}

/// `127.0.0.1:<port>` for every loopback URL.
fn replace_ports(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(position) = rest.find("127.0.0.1:") {
        let after = position + "127.0.0.1:".len();
        out.push_str(&rest[..after]);
        let digits = rest[after..].bytes().take_while(u8::is_ascii_digit).count();
        out.push_str("<port>");
        rest = &rest[after + digits..];
    }
    out.push_str(rest);
    out
}

/// Sort every `nodes` array by `key`, at every depth.
fn sort_nodes(value: &mut Value) {
    match value {
        Value::Array(items) => items.iter_mut().for_each(sort_nodes),
        Value::Object(object) => {
            if let Some(Value::Array(nodes)) = object.get_mut("nodes") {
                nodes.sort_by(|a, b| a["key"].to_string().cmp(&b["key"].to_string()));
            }
            object.values_mut().for_each(sort_nodes);
        }
        _ => {}
    }
}

/// The field names of every object in raw JSON text, in order, one entry per distinct order.
fn field_orders(text: &str) -> BTreeSet<String> {
    let mut orders = BTreeSet::new();
    let mut stack: Vec<Vec<String>> = Vec::new();
    let mut chars = text.char_indices().peekable();
    while let Some((_, character)) = chars.next() {
        match character {
            '{' => stack.push(Vec::new()),
            '}' => {
                if let Some(fields) = stack.pop() {
                    orders.insert(fields.join(","));
                }
            }
            '"' => {
                let mut string = String::new();
                let mut escaped = false;
                for (_, inner) in chars.by_ref() {
                    match (escaped, inner) {
                        (false, '\\') => escaped = true,
                        (false, '"') => break,
                        _ => {
                            escaped = false;
                            string.push(inner);
                        }
                    }
                }
                while chars.peek().is_some_and(|(_, c)| c.is_whitespace()) {
                    chars.next();
                }
                if chars.peek().is_some_and(|(_, c)| *c == ':') {
                    if let Some(fields) = stack.last_mut() {
                        fields.push(string);
                    }
                }
            }
            _ => {}
        }
    }
    orders
}

/// Where both replies carry a `ttl` at the same place and the two differ by at most one
/// second, take etcd's: the servers computed "now" a moment apart and round up.
pub fn reconcile_ttl(etcd: &Value, keel: &mut Value) {
    match (etcd, keel) {
        (Value::Object(reference), Value::Object(object)) => {
            for (name, field) in object.iter_mut() {
                let Some(expected) = reference.get(name) else {
                    continue;
                };
                if name == "ttl" {
                    if let (Some(want), Some(have)) = (expected.as_i64(), field.as_i64()) {
                        if (want - have).abs() <= 1 {
                            *field = expected.clone();
                        }
                    }
                } else {
                    reconcile_ttl(expected, field);
                }
            }
        }
        (Value::Array(reference), Value::Array(items)) => {
            for (expected, item) in reference.iter().zip(items.iter_mut()) {
                reconcile_ttl(expected, item);
            }
        }
        _ => {}
    }
}

/// A reply as comparable text, one fact per line.
pub fn render(normalised: &Normalised) -> String {
    let mut lines = vec![format!("status {}", normalised.status)];
    for (name, value) in &normalised.headers {
        lines.push(format!("{name}: {value}"));
    }
    match &normalised.body {
        Body::Empty => lines.push("body: <empty>".into()),
        Body::Text(text) => lines.push(format!("body text: {text:?}")),
        Body::Json {
            value,
            field_orders,
            newline,
        } => {
            lines.push(format!("body json: {value}"));
            lines.push(format!("trailing newline: {newline}"));
            for order in field_orders {
                lines.push(format!("field order: {order}"));
            }
        }
    }
    lines.join("\n")
}
