//! Rendering store events as etcd's keys API bodies, and JSON encoding the way Go does it.
//!
//! Owns: the conversion `v2store::Event` → `kv_wire::Envelope` (borrowing the store's strings,
//! so values are not copied before encoding), the status of a write, and the byte-level JSON
//! encoding shared by every body this crate writes.
//!
//! Invariants: output equals etcd 3.4's byte for byte for the same event: compact JSON in
//! etcd's field order, Go's string escaping (`<`, `>`, `&`, U+2028, U+2029 as `\u…`, and
//! `\b`/`\f` as `\u0008`/`\u000c`), and a trailing `\n` where etcd writes one.
//!
//! Must not depend on: handler state or the raft driver.

use crate::rfc3339;
use kv_wire::{Body, Envelope, Node};
use serde_json::ser::{CharEscape, CompactFormatter, Formatter};
use std::borrow::Cow;
use std::io;
use v2store::{Action, Event, NodeView};

/// The body of a keys API reply: the event as compact JSON plus `\n`.
///
/// With `no_value_on_success`, a set, create, update or compareAndSwap shrinks to
/// `{"action":"<name>"}` (etcd's `writeKeyEvent`); deletes and reads ignore the flag.
#[must_use]
pub fn event_body(event: &Event, no_value_on_success: bool) -> Vec<u8> {
    let shrinks = matches!(
        event.action,
        Action::Set | Action::Create | Action::Update | Action::CompareAndSwap
    );
    if no_value_on_success && shrinks {
        let envelope = Envelope {
            action: wire_action(event.action),
            node: None,
            prev_node: None,
        };
        return encode(&envelope);
    }
    encode(&envelope(event))
}

/// The HTTP status of a keys reply: 201 when the operation created a node (`create`, or
/// `set` with no `prevNode`), otherwise 200 (etcd's `Event.IsCreated`).
#[must_use]
pub fn event_status(event: &Event) -> u16 {
    let created = match event.action {
        Action::Create => true,
        Action::Set => event.prev_node.is_none(),
        _ => false,
    };
    if created {
        201
    } else {
        200
    }
}

/// One event of a watch body: the full event JSON plus `\n`. etcd encodes each watch event
/// with `json.NewEncoder(w).Encode`, both for a single watch and for each line of a stream.
#[must_use]
pub fn watch_line(event: &Event) -> Vec<u8> {
    encode(&envelope(event))
}

/// Encodes a top-level wire body as Go's `encoding/json` does, with etcd's trailing newline
/// when [`Body::TRAILING_NEWLINE`] says so.
///
/// # Panics
///
/// Never in practice: the wire types have only string map keys and finite or omitted
/// floats, and writing to a `Vec` cannot fail, so serde_json has no error to return.
#[must_use]
pub fn encode<T: Body>(body: &T) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(128);
    let mut serializer = serde_json::Serializer::with_formatter(&mut bytes, GoFormatter);
    body.serialize(&mut serializer)
        .expect("wire bodies serialise infallibly into a Vec");
    if T::TRAILING_NEWLINE {
        bytes.push(b'\n');
    }
    bytes
}

fn envelope(event: &Event) -> Envelope<'_> {
    Envelope {
        action: wire_action(event.action),
        node: Some(wire_node(&event.node)),
        prev_node: event.prev_node.as_ref().map(wire_node),
    }
}

fn wire_action(action: Action) -> kv_wire::Action {
    match action {
        Action::Get => kv_wire::Action::Get,
        Action::Set => kv_wire::Action::Set,
        Action::Create => kv_wire::Action::Create,
        Action::Update => kv_wire::Action::Update,
        Action::CompareAndSwap => kv_wire::Action::CompareAndSwap,
        Action::Delete => kv_wire::Action::Delete,
        Action::CompareAndDelete => kv_wire::Action::CompareAndDelete,
        Action::Expire => kv_wire::Action::Expire,
    }
}

/// Borrows a node view as a wire node; only the expiration text is built.
fn wire_node(view: &NodeView) -> Node<'_> {
    Node {
        key: view.key.as_deref().map(Cow::Borrowed),
        value: view.value.as_deref().map(Cow::Borrowed),
        dir: view.dir,
        expiration: view
            .expiration
            .map(|time| Cow::Owned(rfc3339::format(time))),
        ttl: view.ttl,
        nodes: view
            .nodes
            .as_ref()
            .map(|children| children.iter().map(wire_node).collect()),
        modified_index: view.modified_index.0,
        created_index: view.created_index.0,
    }
}

/// serde_json's compact output with Go's string escaping on top.
struct GoFormatter;

impl Formatter for GoFormatter {
    /// Go's encoder (with HTML escaping on, its default) writes `<`, `>`, `&`, U+2028 and
    /// U+2029 as `\u` escapes; serde_json writes them raw.
    fn write_string_fragment<W>(&mut self, writer: &mut W, fragment: &str) -> io::Result<()>
    where
        W: ?Sized + io::Write,
    {
        // A byte scan: the five characters are `<`, `>`, `&` and the three-byte sequences
        // E2 80 A8 / E2 80 A9; every other byte is copied in runs.
        let bytes = fragment.as_bytes();
        let (mut start, mut position) = (0, 0);
        while position < bytes.len() {
            let (escape, width): (&[u8], usize) = match bytes[position] {
                b'<' => (b"\\u003c", 1),
                b'>' => (b"\\u003e", 1),
                b'&' => (b"\\u0026", 1),
                0xE2 if bytes.get(position + 1) == Some(&0x80) => match bytes.get(position + 2) {
                    Some(0xA8) => (b"\\u2028", 3),
                    Some(0xA9) => (b"\\u2029", 3),
                    _ => {
                        position += 1;
                        continue;
                    }
                },
                _ => {
                    position += 1;
                    continue;
                }
            };
            writer.write_all(&bytes[start..position])?;
            writer.write_all(escape)?;
            position += width;
            start = position;
        }
        writer.write_all(&bytes[start..])
    }

    /// Go has short escapes only for `\n`, `\r`, `\t`, `\"` and `\\`; other control
    /// characters, `\b` and `\f` included, become `\u00XX`.
    fn write_char_escape<W>(&mut self, writer: &mut W, char_escape: CharEscape) -> io::Result<()>
    where
        W: ?Sized + io::Write,
    {
        match char_escape {
            CharEscape::Backspace => writer.write_all(b"\\u0008"),
            CharEscape::FormFeed => writer.write_all(b"\\u000c"),
            other => CompactFormatter.write_char_escape(writer, other),
        }
    }
}

#[cfg(test)]
mod tests;
