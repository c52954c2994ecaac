//! Printing responses and errors byte for byte as etcdctl v2 does (etcd 3.4
//! `etcdctl/ctlv2/command/format.go` and `error.go`): `simple`, `extended`, and `json`, which
//! is Go's `json.Marshal` of `client.Response` (field order, `"nodes":null`, HTML-safe escapes).
//!
//! Pure: builds strings, no I/O.

use crate::cli::Format;
use kv_client::{Action, ClientError, Node, Response};
use std::fmt::Write as _;

/// The text etcdctl's `printResponseKey` prints for `response`, newline included.
#[must_use]
pub fn response_text(response: &Response, format: Format) -> String {
    let node = &response.node;
    let deleted = response.action == Action::Delete;
    let value = node.value.as_deref().unwrap_or("");
    let prev_value = response
        .prev_node
        .as_ref()
        .and_then(|prev| prev.value.as_deref())
        .unwrap_or("");
    match format {
        Format::Simple if deleted => format!("PrevNode.Value: {prev_value}\n"),
        Format::Simple => format!("{value}\n"),
        Format::Extended => {
            let mut text = format!(
                "Key: {}\nCreated-Index: {}\nModified-Index: {}\n",
                go_key(&node.key),
                node.created_index,
                node.modified_index
            );
            if response.prev_node.is_some() {
                let _ = writeln!(text, "PrevNode.Value: {prev_value}");
            }
            let _ = writeln!(
                text,
                "TTL: {}\nIndex: {}",
                node.ttl.unwrap_or(0),
                response.etcd_index
            );
            if !deleted {
                let _ = writeln!(text, "\n{value}");
            }
            text
        }
        Format::Json => format!("{}\n", response_json(response)),
    }
}

/// etcd leaves the root's key out, so Go's client sees `""`; kv-client says `/`.
fn go_key(key: &str) -> &str {
    if key == "/" {
        ""
    } else {
        key
    }
}

/// `json.Marshal(client.Response)`: action, node, prevNode (index and cluster id are `-`).
#[must_use]
pub fn response_json(response: &Response) -> String {
    let mut out = format!(
        "{{\"action\":{},\"node\":",
        go_string(response.action.as_str())
    );
    node_json(&mut out, &response.node);
    out.push_str(",\"prevNode\":");
    match &response.prev_node {
        Some(prev) => node_json(&mut out, prev),
        None => out.push_str("null"),
    }
    out.push('}');
    out
}

/// `client.Node`: key, dir (omitempty), value, nodes (null when none), createdIndex,
/// modifiedIndex, expiration and ttl (both omitempty).
fn node_json(out: &mut String, node: &Node) {
    let _ = write!(out, "{{\"key\":{}", go_string(go_key(&node.key)));
    if node.dir {
        out.push_str(",\"dir\":true");
    }
    let _ = write!(
        out,
        ",\"value\":{},\"nodes\":",
        go_string(node.value.as_deref().unwrap_or(""))
    );
    if node.nodes.is_empty() {
        out.push_str("null");
    } else {
        out.push('[');
        for (position, child) in node.nodes.iter().enumerate() {
            if position > 0 {
                out.push(',');
            }
            node_json(out, child);
        }
        out.push(']');
    }
    let _ = write!(
        out,
        ",\"createdIndex\":{},\"modifiedIndex\":{}",
        node.created_index, node.modified_index
    );
    if let Some(expiration) = &node.expiration {
        let _ = write!(out, ",\"expiration\":{}", go_string(expiration));
    }
    match node.ttl {
        Some(ttl) if ttl != 0 => {
            let _ = write!(out, ",\"ttl\":{ttl}");
        }
        _ => {}
    }
    out.push('}');
}

/// A JSON string as Go's encoder writes it: `\"`, `\\`, `\n`, `\r`, `\t`, other control
/// characters and `<`, `>`, `&`, U+2028, U+2029 as `\u00XX`.
#[must_use]
pub fn go_string(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for character in text.chars() {
        match character {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '<' | '>' | '&' | '\u{2028}' | '\u{2029}' => {
                let _ = write!(out, "\\u{:04x}", u32::from(character));
            }
            c if u32::from(c) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// What etcdctl's `handleError` prints for a failed keys call (without the `Error:  ` prefix
/// and final newline): the etcd error as `code: message (cause) [index]`, a connection
/// failure as the Go client's `ClusterError` with its detail lines.
#[must_use]
pub fn error_text(error: &ClientError) -> String {
    match error {
        ClientError::Unavailable {
            endpoint, source, ..
        } => {
            // Go's net error text, which scripts grep for.
            let cause = if source.to_string().contains("refused") {
                "connect: connection refused"
            } else {
                "i/o timeout"
            };
            let detail = format!("error #0: dial tcp {}: {cause}\n", endpoint.authority());
            format!("client: etcd cluster is unavailable or misconfigured; {detail}\n{detail}")
        }
        ClientError::Timeout { .. } => {
            let detail = format!("error #0: {error}\n");
            format!("client: etcd cluster is unavailable or misconfigured; {detail}\n{detail}")
        }
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // tests: a panic is the failure report
    use super::*;
    use kv_client::StoreIndex;

    fn node(key: &str, value: Option<&str>, index: u64) -> Node {
        Node {
            key: key.into(),
            value: value.map(Into::into),
            modified_index: StoreIndex(index),
            created_index: StoreIndex(index),
            ..Node::default()
        }
    }

    fn response(action: Action, node: Node, prev_node: Option<Node>) -> Response {
        Response {
            action,
            node,
            prev_node,
            etcd_index: StoreIndex(9),
            raft_index: kv_client::RaftIndex(0),
            raft_term: kv_client::Term(0),
            cluster_id: None,
        }
    }

    // Goal: the three formats match etcdctl 3.4's bytes (captured from `etcdctl -o ... set`).
    #[test]
    fn formats_like_etcdctl() {
        let set = response(
            Action::Set,
            node("/a", Some("x<&>"), 8),
            Some(node("/a", Some("w"), 7)),
        );
        assert_eq!(response_text(&set, Format::Simple), "x<&>\n");
        assert_eq!(
            response_text(&set, Format::Extended),
            "Key: /a\nCreated-Index: 8\nModified-Index: 8\nPrevNode.Value: w\nTTL: 0\nIndex: 9\n\nx<&>\n"
        );
        assert_eq!(
            response_text(&set, Format::Json),
            "{\"action\":\"set\",\"node\":{\"key\":\"/a\",\"value\":\"x\\u003c\\u0026\\u003e\",\"nodes\":null,\"createdIndex\":8,\"modifiedIndex\":8},\"prevNode\":{\"key\":\"/a\",\"value\":\"w\",\"nodes\":null,\"createdIndex\":7,\"modifiedIndex\":7}}\n"
        );
        let delete = response(
            Action::Delete,
            node("/a", None, 10),
            Some(node("/a", Some("w"), 7)),
        );
        assert_eq!(
            response_text(&delete, Format::Simple),
            "PrevNode.Value: w\n"
        );
        let mut root = node("/", None, 0);
        root.dir = true;
        let get = response(Action::Get, root, None);
        assert_eq!(
            response_text(&get, Format::Json),
            "{\"action\":\"get\",\"node\":{\"key\":\"\",\"dir\":true,\"value\":\"\",\"nodes\":null,\"createdIndex\":0,\"modifiedIndex\":0},\"prevNode\":null}\n"
        );
        assert_eq!(
            response_text(&get, Format::Extended),
            "Key: \nCreated-Index: 0\nModified-Index: 0\nTTL: 0\nIndex: 9\n\n\n"
        );
    }

    // Goal: etcd errors print as the Go client's `Error()`.
    #[test]
    fn etcd_error_text() {
        let error = ClientError::Etcd {
            code: 100,
            message: "Key not found".into(),
            cause: "/foo".into(),
            index: StoreIndex(12),
        };
        assert_eq!(error_text(&error), "100: Key not found (/foo) [12]");
        assert_eq!(go_string("a\u{1}\u{2028}"), "\"a\\u0001\\u2028\"");
    }
}
