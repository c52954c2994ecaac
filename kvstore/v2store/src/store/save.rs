//! Save and recover: the store as bytes, for the raft layer's snapshots.
//!
//! Owns: the save format. Layout: one version byte (`FORMAT_VERSION`), then the postcard
//! encoding of `SavedStore`. The tree is a flat list of nodes in pre-order and events carry no
//! `nodes`, so decoding never recurses and no input can exhaust the stack. Recover checks
//! everything the store relies on (clean paths, parents before children, indexes not ahead
//! of the store index, history order and bound) and reports damage as `InvalidSaveData`
//! rather than panicking later.
//!
//! Must not depend on: the hub (watchers are not saved) or the counters (they are local).

use super::Store;
use crate::history::History;
use crate::limits::WATCH_HISTORY_MAX;
use crate::path::{is_clean, ROOT};
use crate::tree::{Content, Node, Tree};
use crate::{Action, Event, NodeView, StoreError, StoreIndex, Time};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::Arc;

/// Bumped on any change to the encoding; recover refuses versions it does not know.
const FORMAT_VERSION: u8 = 1;

#[derive(Deserialize)]
struct SavedStore {
    index: u64,
    nodes: Vec<SavedNode>,
    history: Vec<SavedEvent>,
}

/// A node without children; `value: None` is a directory.
#[derive(Deserialize)]
struct SavedNode {
    path: String,
    value: Option<String>,
    expiration: Option<i64>,
    created_index: u64,
    modified_index: u64,
}

/// `SavedNode` borrowed from the tree: postcard encodes it to the same bytes.
#[derive(Serialize)]
struct SavedNodeRef<'a> {
    path: &'a str,
    value: Option<&'a str>,
    expiration: Option<i64>,
    created_index: u64,
    modified_index: u64,
}

/// Appends one value's postcard encoding to a buffer.
fn append<T: Serialize + ?Sized>(bytes: &mut Vec<u8>, value: &T) {
    postcard::to_io(value, bytes).expect("postcard encodes plain data into a Vec without error");
}

#[derive(Serialize, Deserialize)]
struct SavedEvent {
    action: u8,
    node: SavedView,
    prev_node: Option<SavedView>,
    refresh: bool,
}

/// A `NodeView` without `nodes` (history events never list children).
#[derive(Serialize, Deserialize)]
struct SavedView {
    key: Option<String>,
    value: Option<String>,
    dir: bool,
    expiration: Option<i64>,
    ttl: Option<i64>,
    modified_index: u64,
    created_index: u64,
}

impl Store {
    /// Serialise the tree, the index and the history (not the watchers). Starts with a format
    /// version byte.
    ///
    /// # Panics
    /// Never in practice: encoding into a `Vec` cannot fail for these types.
    #[must_use]
    pub fn save(&self) -> Vec<u8> {
        // Written node by node into one buffer sized up front, in exactly the bytes postcard
        // gives `SavedStore`: no copy of the tree is built, so saving a large store costs
        // one buffer of its encoded size and no reallocation.
        let (mut count, mut estimate) = (0_u64, 64_usize);
        self.tree.for_each(|path, node| {
            count += 1;
            estimate += path.len() + node.value().map_or(0, str::len) + 48;
        });
        let history: Vec<SavedEvent> = self.history.iter().map(|e| saved_event(e)).collect();
        let mut bytes = Vec::with_capacity(estimate + 512 * history.len());
        bytes.push(FORMAT_VERSION);
        append(&mut bytes, &self.index.0);
        // A sequence is its length as a varint, then its elements.
        append(&mut bytes, &count);
        self.tree.for_each(|path, node| {
            let saved = SavedNodeRef {
                path,
                value: node.value(),
                expiration: node.expiration.map(|expiry| expiry.0),
                created_index: node.created_index.0,
                modified_index: node.modified_index.0,
            };
            append(&mut bytes, &saved);
        });
        append(&mut bytes, &history);
        bytes
    }

    /// Rebuild a store from `save` output. Registered watchers are not part of it.
    ///
    /// # Errors
    /// `InvalidSaveData` for an unknown version or damaged bytes.
    pub fn recover(bytes: &[u8]) -> Result<Store, StoreError> {
        recover_parts(bytes).map_err(|reason| StoreError::InvalidSaveData { reason })
    }
}

fn recover_parts(bytes: &[u8]) -> Result<Store, String> {
    let (version, body) = bytes.split_first().ok_or("empty input")?;
    if *version != FORMAT_VERSION {
        return Err(format!("unknown save format version {version}"));
    }
    let (saved, rest) = postcard::take_from_bytes::<SavedStore>(body)
        .map_err(|error| format!("undecodable body: {error}"))?;
    if !rest.is_empty() {
        return Err(format!("{} trailing bytes", rest.len()));
    }
    let index = StoreIndex(saved.index);
    let mut tree = Tree::new();
    for node in saved.nodes {
        let (path, node) = restored_node(node, index)?;
        tree.restore(&path, node)?;
    }
    let history = restored_history(saved.history, index)?;
    Ok(Store::from_parts(tree, index, history))
}

fn restored_node(saved: SavedNode, index: StoreIndex) -> Result<(String, Node), String> {
    let path = saved.path;
    if !is_clean(&path) || path == ROOT {
        return Err(format!("invalid node path {path:?}"));
    }
    if saved.created_index > index.0 || saved.modified_index > index.0 {
        return Err(format!("node {path} is newer than the store index"));
    }
    let content = match saved.value {
        Some(value) => Content::File(value),
        None => Content::Dir(BTreeMap::new()),
    };
    let node = Node {
        created_index: StoreIndex(saved.created_index),
        modified_index: StoreIndex(saved.modified_index),
        expiration: saved.expiration.map(Time),
        content,
    };
    Ok((path, node))
}

fn restored_history(saved: Vec<SavedEvent>, index: StoreIndex) -> Result<History, String> {
    if saved.len() > WATCH_HISTORY_MAX {
        return Err(format!("{} history events exceed the bound", saved.len()));
    }
    let mut history = History::new();
    let mut last = StoreIndex(0);
    for event in saved {
        let event = restored_event(event)?;
        if event.index() <= last || event.index() > index {
            return Err(format!("history event {} out of order", event.index().0));
        }
        last = event.index();
        history.push(Arc::new(event));
    }
    Ok(history)
}

fn saved_event(event: &Event) -> SavedEvent {
    SavedEvent {
        action: action_code(event.action),
        node: saved_view(&event.node),
        prev_node: event.prev_node.as_ref().map(saved_view),
        refresh: event.refresh,
    }
}

fn restored_event(saved: SavedEvent) -> Result<Event, String> {
    Ok(Event {
        action: action_from_code(saved.action)?,
        node: restored_view(saved.node),
        prev_node: saved.prev_node.map(restored_view),
        refresh: saved.refresh,
    })
}

fn saved_view(view: &NodeView) -> SavedView {
    SavedView {
        key: view.key.clone(),
        value: view.value.clone(),
        dir: view.dir,
        expiration: view.expiration.map(|expiry| expiry.0),
        ttl: view.ttl,
        modified_index: view.modified_index.0,
        created_index: view.created_index.0,
    }
}

fn restored_view(saved: SavedView) -> NodeView {
    NodeView {
        key: saved.key,
        value: saved.value,
        dir: saved.dir,
        expiration: saved.expiration.map(Time),
        ttl: saved.ttl,
        nodes: None,
        modified_index: StoreIndex(saved.modified_index),
        created_index: StoreIndex(saved.created_index),
    }
}

/// Fixed codes, so reordering `Action` cannot change the format.
fn action_code(action: Action) -> u8 {
    match action {
        Action::Get => 0,
        Action::Set => 1,
        Action::Create => 2,
        Action::Update => 3,
        Action::CompareAndSwap => 4,
        Action::Delete => 5,
        Action::CompareAndDelete => 6,
        Action::Expire => 7,
    }
}

fn action_from_code(code: u8) -> Result<Action, String> {
    Ok(match code {
        0 => Action::Get,
        1 => Action::Set,
        2 => Action::Create,
        3 => Action::Update,
        4 => Action::CompareAndSwap,
        5 => Action::Delete,
        6 => Action::CompareAndDelete,
        7 => Action::Expire,
        other => return Err(format!("unknown action code {other}")),
    })
}
