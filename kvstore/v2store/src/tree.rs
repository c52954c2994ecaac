//! The key tree: nodes, directories and the expiry index.
//!
//! Owns: the nodes (children in a `BTreeMap`, so every listing and every traversal runs in
//! byte order of the names) and `expiries`, an ordered set of `(expiry, path)` that always holds
//! exactly the nodes with an expiration. The root is a directory with indexes 0 and no expiry.
//!
//! Validation and mutation are separate: `find` and `check_parents` report etcd errors and
//! change nothing; `insert`, `remove` and `rewrite` assume a validated path and treat a
//! failure as a broken invariant. That split is what makes a failed mutation change nothing.
//!
//! Must not depend on: the store index counter, history or watchers.

use crate::path::{child_path, components, is_hidden_name, split_last, ROOT};
use crate::{NodeView, StoreError, StoreIndex, Time};
use std::collections::{btree_map, BTreeMap, BTreeSet};

/// One file or directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Node {
    pub(crate) created_index: StoreIndex,
    pub(crate) modified_index: StoreIndex,
    pub(crate) expiration: Option<Time>,
    pub(crate) content: Content,
}

/// What a node holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Content {
    File(String),
    Dir(BTreeMap<String, Node>),
}

impl Node {
    /// A fresh file or empty directory created at `index`.
    pub(crate) fn new(
        dir: bool,
        value: String,
        index: StoreIndex,
        expiration: Option<Time>,
    ) -> Node {
        let content = if dir {
            Content::Dir(BTreeMap::new())
        } else {
            Content::File(value)
        };
        Node {
            created_index: index,
            modified_index: index,
            expiration,
            content,
        }
    }

    pub(crate) fn is_dir(&self) -> bool {
        matches!(self.content, Content::Dir(_))
    }

    /// The value of a file; `None` for a directory.
    pub(crate) fn value(&self) -> Option<&str> {
        match &self.content {
            Content::File(value) => Some(value),
            Content::Dir(_) => None,
        }
    }

    pub(crate) fn has_children(&self) -> bool {
        matches!(&self.content, Content::Dir(children) if !children.is_empty())
    }

    fn children_mut(&mut self) -> Option<&mut BTreeMap<String, Node>> {
        match &mut self.content {
            Content::Dir(children) => Some(children),
            Content::File(_) => None,
        }
    }
}

/// How much of a directory a view shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Listing {
    /// No `nodes`: event nodes, `prevNode`, children of a non-recursive listing.
    Bare,
    /// Immediate visible children, each `Bare`.
    Children,
    /// The whole visible subtree.
    Subtree,
}

/// The `ttl` etcd reports: remaining seconds rounded up, left out when it computes to 0.
pub(crate) fn ttl_at(expiration: Option<Time>, now: Time) -> Option<i64> {
    expiration
        .map(|expiry| expiry.seconds_remaining_from(now))
        .filter(|ttl| *ttl != 0)
}

/// etcd's `node.Repr`: the node as a client sees it. Hidden children are left out at every
/// depth, and `nodes` is `None` when no child is visible (etcd's `omitempty`).
pub(crate) fn view(node: &Node, key: Option<String>, listing: Listing, now: Time) -> NodeView {
    let nodes = match (&node.content, listing) {
        (Content::Dir(children), Listing::Children | Listing::Subtree) => {
            let child_listing = if listing == Listing::Subtree {
                Listing::Subtree
            } else {
                Listing::Bare
            };
            let parent = key.as_deref().unwrap_or(ROOT);
            let visible: Vec<NodeView> = children
                .iter()
                .filter(|(name, _)| !is_hidden_name(name))
                .map(|(name, child)| {
                    view(child, Some(child_path(parent, name)), child_listing, now)
                })
                .collect();
            (!visible.is_empty()).then_some(visible)
        }
        _ => None,
    };
    NodeView {
        key,
        value: node.value().map(str::to_owned),
        dir: node.is_dir(),
        expiration: node.expiration,
        ttl: ttl_at(node.expiration, now),
        nodes,
        modified_index: node.modified_index,
        created_index: node.created_index,
    }
}

/// The `node` of a delete, compareAndDelete or expire event: etcd's `newEvent` fills in only
/// key, dir and the indexes, so there is no value and no expiration.
pub(crate) fn removed_view(key: &str, node: &Node, index: StoreIndex) -> NodeView {
    NodeView {
        key: Some(key.to_owned()),
        value: None,
        dir: node.is_dir(),
        expiration: None,
        ttl: None,
        nodes: None,
        modified_index: index,
        created_index: node.created_index,
    }
}

/// The tree plus its expiry index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Tree {
    root: Node,
    expiries: BTreeSet<(Time, String)>,
}

impl Tree {
    pub(crate) fn new() -> Tree {
        Tree {
            root: Node::new(true, String::new(), StoreIndex(0), None),
            expiries: BTreeSet::new(),
        }
    }

    /// etcd's `internalGet`: the node at a clean path.
    ///
    /// Errors: `NotADirectory` with the path of the file the walk ran into; `KeyNotFound`
    /// with the first missing prefix. `index` is the store index to report.
    pub(crate) fn find(&self, path: &str, index: StoreIndex) -> Result<&Node, StoreError> {
        let mut node = &self.root;
        let mut walked = ROOT;
        for (prefix, name) in components(path) {
            let Content::Dir(children) = &node.content else {
                return Err(StoreError::NotADirectory {
                    cause: walked.to_owned(),
                    index,
                });
            };
            node = children.get(name).ok_or_else(|| StoreError::KeyNotFound {
                cause: prefix.to_owned(),
                index,
            })?;
            walked = prefix;
        }
        Ok(node)
    }

    /// etcd's `checkDir` walk before a create: every existing proper ancestor of `path` must be
    /// a directory (missing ones will be created). Error: `NotADirectory` with the file's path.
    pub(crate) fn check_parents(&self, path: &str, index: StoreIndex) -> Result<(), StoreError> {
        let (parent, _) = split_last(path);
        let Content::Dir(top) = &self.root.content else {
            unreachable!("the root is a directory");
        };
        let mut children = top;
        for (prefix, name) in components(parent) {
            match children.get(name).map(|child| &child.content) {
                None => return Ok(()),
                Some(Content::Dir(grandchildren)) => children = grandchildren,
                Some(Content::File(_)) => {
                    return Err(StoreError::NotADirectory {
                        cause: prefix.to_owned(),
                        index,
                    })
                }
            }
        }
        Ok(())
    }

    /// Insert a node at a path validated by `check_parents` and known to be free. Missing
    /// parents are created as permanent directories at the node's `created_index`, with no
    /// event of their own (etcd's `checkDir`).
    pub(crate) fn insert(&mut self, path: &str, node: Node) {
        let (parent, name) = split_last(path);
        let index = node.created_index;
        if let Some(expiry) = node.expiration {
            self.expiries.insert((expiry, path.to_owned()));
        }
        let mut dir = &mut self.root;
        for (_, segment) in components(parent) {
            let children = dir
                .children_mut()
                .expect("check_parents validated every existing ancestor as a directory");
            dir = children
                .entry(segment.to_owned())
                .or_insert_with(|| Node::new(true, String::new(), index, None));
        }
        let children = dir
            .children_mut()
            .expect("check_parents validated the parent as a directory");
        let replaced = children.insert(name.to_owned(), node);
        assert!(replaced.is_none(), "insert target was checked to be free");
    }

    /// Detach the node at a validated, non-root path, with its subtree, dropping every expiry
    /// entry inside it.
    pub(crate) fn remove(&mut self, path: &str) -> Node {
        let (parent, name) = split_last(path);
        let removed = node_mut(&mut self.root, parent)
            .and_then(Node::children_mut)
            .and_then(|children| children.remove(name))
            .expect("remove target was validated by find");
        if !self.expiries.is_empty() {
            forget_expiries(&mut self.expiries, path, &removed);
        }
        removed
    }

    /// Write a validated node in place: a file gets `value` and `modified_index = index`; a
    /// directory keeps both, because etcd's `node.Write` refuses directories and `Update`
    /// ignores that error, so a directory's stored `modifiedIndex` never advances [Q]. The
    /// expiration is replaced either way (`None` makes the node permanent).
    pub(crate) fn rewrite(
        &mut self,
        path: &str,
        value: String,
        index: StoreIndex,
        expiration: Option<Time>,
    ) -> &Node {
        let node = node_mut(&mut self.root, path).expect("rewrite target was validated by find");
        if let Content::File(stored) = &mut node.content {
            *stored = value;
            node.modified_index = index;
        }
        let previous = std::mem::replace(&mut node.expiration, expiration);
        if let Some(expiry) = previous {
            let known = self.expiries.remove(&(expiry, path.to_owned()));
            assert!(known, "every expiring node is in the expiry index");
        }
        if let Some(expiry) = expiration {
            self.expiries.insert((expiry, path.to_owned()));
        }
        node
    }

    /// The earliest expiry in the tree.
    pub(crate) fn next_expiry(&self) -> Option<Time> {
        self.expiries.first().map(|(expiry, _)| *expiry)
    }

    /// The path with the earliest expiry, if that expiry is at or before `now` (etcd's
    /// `DeleteExpiredKeys` stops at the first node whose expiry is after the cutoff).
    pub(crate) fn first_expired(&self, now: Time) -> Option<String> {
        self.expiries
            .first()
            .filter(|(expiry, _)| *expiry <= now)
            .map(|(_, path)| path.clone())
    }

    pub(crate) fn expiry_count(&self) -> usize {
        self.expiries.len()
    }

    /// Every node except the root in pre-order (parents before children, siblings in byte
    /// order), with its path. Iterative, so a deep tree cannot exhaust the stack.
    pub(crate) fn for_each(&self, mut visit: impl FnMut(&str, &Node)) {
        let Content::Dir(top) = &self.root.content else {
            unreachable!("the root is a directory");
        };
        let mut path = String::new();
        let mut stack: Vec<(usize, btree_map::Iter<'_, String, Node>)> = vec![(0, top.iter())];
        while let Some((base, children)) = stack.last_mut() {
            let base = *base;
            let Some((name, node)) = children.next() else {
                stack.pop();
                continue;
            };
            path.truncate(base);
            path.push('/');
            path.push_str(name);
            visit(&path, node);
            if let Content::Dir(grandchildren) = &node.content {
                stack.push((path.len(), grandchildren.iter()));
            }
        }
    }

    /// Rebuild a node from saved data, in pre-order: the parent must already be present as a
    /// directory and the path free. Returns a reason when the data breaks that.
    pub(crate) fn restore(&mut self, path: &str, node: Node) -> Result<(), String> {
        let (parent, name) = split_last(path);
        let Some(children) = node_mut(&mut self.root, parent).and_then(Node::children_mut) else {
            return Err(format!("node {path} has no parent directory before it"));
        };
        if children.contains_key(name) {
            return Err(format!("node {path} appears twice"));
        }
        if let Some(expiry) = node.expiration {
            self.expiries.insert((expiry, path.to_owned()));
        }
        children.insert(name.to_owned(), node);
        Ok(())
    }
}

/// The node at a clean path, if it exists.
fn node_mut<'a>(root: &'a mut Node, path: &str) -> Option<&'a mut Node> {
    let mut node = root;
    for (_, name) in components(path) {
        node = node.children_mut()?.get_mut(name)?;
    }
    Some(node)
}

/// Drop the expiry entries of a detached subtree rooted at `path`.
fn forget_expiries(expiries: &mut BTreeSet<(Time, String)>, path: &str, node: &Node) {
    if let Some(expiry) = node.expiration {
        let known = expiries.remove(&(expiry, path.to_owned()));
        assert!(known, "every expiring node is in the expiry index");
    }
    if let Content::Dir(children) = &node.content {
        for (name, child) in children {
            forget_expiries(expiries, &child_path(path, name), child);
        }
    }
}
