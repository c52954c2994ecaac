//! The mutations of etcd's `v2store/store.go`, one function each, with etcd's order of checks
//! so that the same bad request gets the same error code and cause.
//!
//! Owns: validation and the event each mutation produces. Every function validates first and
//! changes nothing until validation is over, so a failed mutation leaves the store untouched.
//! Recording and notification happen in `Store::apply`, not here.

use super::Store;
use crate::path::{child_path, clean, ROOT};
use crate::stats::Counter;
use crate::tree::{removed_view, view, Listing, Node};
use crate::{Action, Event, Mutation, NodeView, StoreError, StoreIndex, Time};

/// A write's payload: what set, create, update and compareAndSwap store.
struct Write<'a> {
    value: &'a str,
    dir: bool,
    expire_at: Option<Time>,
    refresh: bool,
}

/// The conditions of compareAndSwap and compareAndDelete. An empty value and index 0 mean
/// "no condition", as in etcd's `node.Compare`.
struct Condition<'a> {
    value: Option<&'a str>,
    index: Option<StoreIndex>,
}

impl<'a> Write<'a> {
    fn new(value: &'a str, dir: bool, expire_at: Option<Time>, refresh: bool) -> Write<'a> {
        Write {
            value,
            dir,
            expire_at,
            refresh,
        }
    }
}

impl<'a> Condition<'a> {
    fn new(value: Option<&'a str>, index: Option<StoreIndex>) -> Condition<'a> {
        Condition { value, index }
    }
}

impl Store {
    /// Run one mutation and count its outcome (etcd's `Stats.Inc` per operation).
    pub(super) fn apply_mutation(
        &mut self,
        mutation: &Mutation,
        now: Time,
    ) -> Result<Event, StoreError> {
        let result = self.dispatch(mutation, now);
        let (success, fail) = outcome_counters(mutation);
        self.counters.outcome(result.is_ok(), success, fail);
        result
    }

    fn dispatch(&mut self, mutation: &Mutation, now: Time) -> Result<Event, StoreError> {
        match mutation {
            Mutation::Set {
                path,
                value,
                dir,
                expire_at,
                refresh,
            } => {
                let write = Write::new(value, *dir, *expire_at, *refresh);
                self.set(&clean(path), &write, now)
            }
            Mutation::Create {
                path,
                value,
                dir,
                expire_at,
                in_order,
            } => {
                let write = Write::new(value, *dir, *expire_at, false);
                self.create(&clean(path), &write, *in_order, now)
            }
            Mutation::Update {
                path,
                value,
                expire_at,
                refresh,
            } => {
                let write = Write::new(value, false, *expire_at, *refresh);
                self.update(&clean(path), &write, now)
            }
            Mutation::CompareAndSwap {
                path,
                value,
                prev_value,
                prev_index,
                expire_at,
                refresh,
            } => {
                let write = Write::new(value, false, *expire_at, *refresh);
                let condition = Condition::new(prev_value.as_deref(), *prev_index);
                self.compare_and_swap(&clean(path), &write, &condition, now)
            }
            Mutation::Delete {
                path,
                dir,
                recursive,
            } => self.delete(&clean(path), *dir, *recursive, now),
            Mutation::CompareAndDelete {
                path,
                prev_value,
                prev_index,
            } => {
                let condition = Condition::new(prev_value.as_deref(), *prev_index);
                self.compare_and_delete(&clean(path), &condition, now)
            }
        }
    }

    /// etcd `Set`: look the node up first (a path through a file is 104; a missing key is fine
    /// unless refreshing), then `internalCreate` with replace. A replaced file is recreated, so
    /// it gets a new `createdIndex`, refresh included [Q, kept per spec §13].
    fn set(&mut self, path: &str, write: &Write<'_>, now: Time) -> Result<Event, StoreError> {
        let current = self.index;
        let existing = match self.tree.find(path, current) {
            Ok(node) => Some(node),
            Err(StoreError::KeyNotFound { .. }) if !write.refresh => None,
            Err(error) => return Err(error),
        };
        // A refresh keeps the stored value (etcd: `value = n.Value`).
        let value = match existing {
            Some(node) if write.refresh => node.value().unwrap_or_default().to_owned(),
            _ => write.value.to_owned(),
        };
        if path == ROOT {
            return Err(root_read_only(current));
        }
        self.tree.check_parents(path, current)?;
        if existing.is_some_and(Node::is_dir) {
            return Err(StoreError::NotAFile {
                cause: path.to_owned(),
                index: current,
            });
        }
        let prev_node = existing.map(|node| view(node, Some(path.to_owned()), Listing::Bare, now));
        let next = self.next_index();
        if prev_node.is_some() {
            self.tree.remove(path);
        }
        let node = Node::new(write.dir, value, next, write.expire_at);
        let node_view = view(&node, Some(path.to_owned()), Listing::Bare, now);
        self.tree.insert(path, node);
        self.advance(next);
        Ok(event(Action::Set, node_view, prev_node, write.refresh))
    }

    /// etcd `Create` (`internalCreate` without replace). An in-order create names the child
    /// with the new index as 20 zero-padded digits (`fmt.Sprintf("%020s", …)`); its parent is
    /// created implicitly with that same index.
    fn create(
        &mut self,
        path: &str,
        write: &Write<'_>,
        in_order: bool,
        now: Time,
    ) -> Result<Event, StoreError> {
        let current = self.index;
        let next = self.next_index();
        let ordered;
        let path = if in_order {
            ordered = child_path(path, &format!("{:020}", next.0));
            ordered.as_str()
        } else {
            path
        };
        if path == ROOT {
            return Err(root_read_only(current));
        }
        self.tree.check_parents(path, current)?;
        if self.tree.find(path, current).is_ok() {
            return Err(StoreError::KeyAlreadyExists {
                cause: path.to_owned(),
                index: current,
            });
        }
        let node = Node::new(write.dir, write.value.to_owned(), next, write.expire_at);
        let node_view = view(&node, Some(path.to_owned()), Listing::Bare, now);
        self.tree.insert(path, node);
        self.advance(next);
        Ok(event(Action::Create, node_view, None, false))
    }

    /// etcd `Update`: keeps `createdIndex`; on a directory only the TTL changes, and the
    /// directory's stored `modifiedIndex` stays while the event reports the new index [Q].
    fn update(&mut self, path: &str, write: &Write<'_>, now: Time) -> Result<Event, StoreError> {
        let current = self.index;
        if path == ROOT {
            return Err(root_read_only(current));
        }
        let node = self.tree.find(path, current)?;
        if node.is_dir() && !write.value.is_empty() {
            return Err(StoreError::NotAFile {
                cause: path.to_owned(),
                index: current,
            });
        }
        let value = if write.refresh {
            node.value().unwrap_or_default().to_owned()
        } else {
            write.value.to_owned()
        };
        let prev_node = view(node, Some(path.to_owned()), Listing::Bare, now);
        let next = self.next_index();
        let node = self.tree.rewrite(path, value, next, write.expire_at);
        let mut node_view = view(node, Some(path.to_owned()), Listing::Bare, now);
        node_view.modified_index = next;
        self.advance(next);
        Ok(event(
            Action::Update,
            node_view,
            Some(prev_node),
            write.refresh,
        ))
    }

    /// etcd `CompareAndSwap`: files only; both conditions must hold; keeps `createdIndex`.
    fn compare_and_swap(
        &mut self,
        path: &str,
        write: &Write<'_>,
        condition: &Condition<'_>,
        now: Time,
    ) -> Result<Event, StoreError> {
        let current = self.index;
        if path == ROOT {
            return Err(root_read_only(current));
        }
        let node = self.tree.find(path, current)?;
        if node.is_dir() {
            return Err(StoreError::NotAFile {
                cause: path.to_owned(),
                index: current,
            });
        }
        if let Some(cause) = compare_failure(node, condition) {
            return Err(StoreError::CompareFailed {
                cause,
                index: current,
            });
        }
        let value = if write.refresh {
            node.value().unwrap_or_default().to_owned()
        } else {
            write.value.to_owned()
        };
        let prev_node = view(node, Some(path.to_owned()), Listing::Bare, now);
        let next = self.next_index();
        let node = self.tree.rewrite(path, value, next, write.expire_at);
        let node_view = view(node, Some(path.to_owned()), Listing::Bare, now);
        self.advance(next);
        Ok(event(
            Action::CompareAndSwap,
            node_view,
            Some(prev_node),
            write.refresh,
        ))
    }

    /// etcd `Delete`: `recursive` implies `dir`; a file goes whatever `dir` says; a directory
    /// needs `dir` (102) and, when not empty, `recursive` (108).
    fn delete(
        &mut self,
        path: &str,
        dir: bool,
        recursive: bool,
        now: Time,
    ) -> Result<Event, StoreError> {
        let current = self.index;
        if path == ROOT {
            return Err(root_read_only(current));
        }
        let dir = dir || recursive;
        let node = self.tree.find(path, current)?;
        if node.is_dir() && !dir {
            return Err(StoreError::NotAFile {
                cause: path.to_owned(),
                index: current,
            });
        }
        if node.has_children() && !recursive {
            return Err(StoreError::DirectoryNotEmpty {
                cause: path.to_owned(),
                index: current,
            });
        }
        self.remove_with_event(path, Action::Delete, now)
    }

    /// etcd `CompareAndDelete`: files only. etcd has no root check here, so the root is a
    /// directory like any other (102); etcd keeps user keys under `/1` and trims that prefix
    /// from causes, so the root's cause comes out empty [V].
    fn compare_and_delete(
        &mut self,
        path: &str,
        condition: &Condition<'_>,
        now: Time,
    ) -> Result<Event, StoreError> {
        let current = self.index;
        let node = self.tree.find(path, current)?;
        if node.is_dir() {
            let cause = if path == ROOT {
                String::new()
            } else {
                path.to_owned()
            };
            return Err(StoreError::NotAFile {
                cause,
                index: current,
            });
        }
        if let Some(cause) = compare_failure(node, condition) {
            return Err(StoreError::CompareFailed {
                cause,
                index: current,
            });
        }
        self.remove_with_event(path, Action::CompareAndDelete, now)
    }

    /// Remove a validated node with its subtree: `node` has key, dir and indexes but no value,
    /// `prevNode` is the old node without children.
    fn remove_with_event(
        &mut self,
        path: &str,
        action: Action,
        now: Time,
    ) -> Result<Event, StoreError> {
        let next = self.next_index();
        let node = self.tree.find(path, self.index)?;
        let prev_node = view(node, Some(path.to_owned()), Listing::Bare, now);
        let node_view = removed_view(path, node, next);
        self.tree.remove(path);
        self.advance(next);
        Ok(event(action, node_view, Some(prev_node), false))
    }
}

/// etcd's `node.Compare` and `getCompareFailCause`: `None` when every given condition holds,
/// otherwise the cause text, value part first.
fn compare_failure(node: &Node, condition: &Condition<'_>) -> Option<String> {
    let current_value = node.value().unwrap_or_default();
    let current_index = node.modified_index;
    let value_failure = condition
        .value
        .filter(|expected| !expected.is_empty() && *expected != current_value)
        .map(|expected| format!("[{expected} != {current_value}]"));
    let index_failure = condition
        .index
        .filter(|expected| expected.0 != 0 && *expected != current_index)
        .map(|expected| format!("[{} != {}]", expected.0, current_index.0));
    match (value_failure, index_failure) {
        (None, None) => None,
        (Some(value), None) => Some(value),
        (None, Some(index)) => Some(index),
        (Some(value), Some(index)) => Some(format!("{value} {index}")),
    }
}

/// Error 107, whose cause etcd hard-codes as `/`.
fn root_read_only(index: StoreIndex) -> StoreError {
    StoreError::RootReadOnly {
        cause: ROOT.to_owned(),
        index,
    }
}

/// An event of a successful mutation.
fn event(action: Action, node: NodeView, prev_node: Option<NodeView>, refresh: bool) -> Event {
    Event {
        action,
        node,
        prev_node,
        refresh,
    }
}

/// The counters an operation's success and failure land in.
fn outcome_counters(mutation: &Mutation) -> (Counter, Counter) {
    match mutation {
        Mutation::Set { .. } => (Counter::SetsSuccess, Counter::SetsFail),
        Mutation::Create { .. } => (Counter::CreateSuccess, Counter::CreateFail),
        Mutation::Update { .. } => (Counter::UpdateSuccess, Counter::UpdateFail),
        Mutation::CompareAndSwap { .. } => {
            (Counter::CompareAndSwapSuccess, Counter::CompareAndSwapFail)
        }
        Mutation::Delete { .. } => (Counter::DeleteSuccess, Counter::DeleteFail),
        Mutation::CompareAndDelete { .. } => (
            Counter::CompareAndDeleteSuccess,
            Counter::CompareAndDeleteFail,
        ),
    }
}
