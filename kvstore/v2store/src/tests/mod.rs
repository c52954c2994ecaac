//! Unit tests of the store, one file per concern, with shared builders and a recording sink.
//! No I/O, no clock: every time is an explicit `Time` derived from `NOW`.

mod depth;
mod listing;
mod model;
mod ops;
mod save;
mod ttl;
mod watch;

use crate::{Event, Mutation, NodeView, Store, StoreIndex, Time, WatchSink};
use std::sync::{Arc, Mutex};

/// The proposer's time in most tests.
pub(crate) const NOW: Time = Time(1_700_000_000_000_000_000);

/// `NOW` plus a number of milliseconds.
pub(crate) fn after_ms(ms: i64) -> Time {
    Time(NOW.0 + ms * 1_000_000)
}

pub(crate) fn set(path: &str, value: &str) -> Mutation {
    Mutation::Set {
        path: path.into(),
        value: value.into(),
        dir: false,
        expire_at: None,
        refresh: false,
    }
}

pub(crate) fn set_until(path: &str, value: &str, expire_at: Time) -> Mutation {
    Mutation::Set {
        path: path.into(),
        value: value.into(),
        dir: false,
        expire_at: Some(expire_at),
        refresh: false,
    }
}

pub(crate) fn mkdir(path: &str) -> Mutation {
    Mutation::Set {
        path: path.into(),
        value: String::new(),
        dir: true,
        expire_at: None,
        refresh: false,
    }
}

pub(crate) fn mkdir_until(path: &str, expire_at: Time) -> Mutation {
    Mutation::Set {
        path: path.into(),
        value: String::new(),
        dir: true,
        expire_at: Some(expire_at),
        refresh: false,
    }
}

pub(crate) fn create(path: &str, value: &str) -> Mutation {
    Mutation::Create {
        path: path.into(),
        value: value.into(),
        dir: false,
        expire_at: None,
        in_order: false,
    }
}

pub(crate) fn post(path: &str, value: &str) -> Mutation {
    Mutation::Create {
        path: path.into(),
        value: value.into(),
        dir: false,
        expire_at: None,
        in_order: true,
    }
}

pub(crate) fn update(path: &str, value: &str) -> Mutation {
    Mutation::Update {
        path: path.into(),
        value: value.into(),
        expire_at: None,
        refresh: false,
    }
}

pub(crate) fn cas(
    path: &str,
    value: &str,
    prev_value: Option<&str>,
    prev_index: Option<u64>,
) -> Mutation {
    Mutation::CompareAndSwap {
        path: path.into(),
        value: value.into(),
        prev_value: prev_value.map(str::to_owned),
        prev_index: prev_index.map(StoreIndex),
        expire_at: None,
        refresh: false,
    }
}

pub(crate) fn delete(path: &str, dir: bool, recursive: bool) -> Mutation {
    Mutation::Delete {
        path: path.into(),
        dir,
        recursive,
    }
}

pub(crate) fn cad(path: &str, prev_value: Option<&str>, prev_index: Option<u64>) -> Mutation {
    Mutation::CompareAndDelete {
        path: path.into(),
        prev_value: prev_value.map(str::to_owned),
        prev_index: prev_index.map(StoreIndex),
    }
}

/// A store after applying `mutations` at `NOW`, each of which must succeed.
pub(crate) fn store_with(mutations: &[Mutation]) -> Store {
    let mut store = Store::new();
    for mutation in mutations {
        store.apply(mutation, NOW).expect("setup mutation succeeds");
    }
    store
}

/// Apply at `NOW`, expecting success.
pub(crate) fn apply_ok(store: &mut Store, mutation: &Mutation) -> Event {
    store.apply(mutation, NOW).expect("mutation succeeds")
}

/// Apply at `NOW`, expecting the etcd error `code` with `cause`, reported at the current
/// index, and check the failure changed nothing: same saved bytes (tree, index, history) and
/// same content hash.
pub(crate) fn expect_failure(store: &mut Store, mutation: &Mutation, code: u16, cause: &str) {
    let saved = store.save();
    let hash = store.content_hash();
    let index = store.index();
    let error = store.apply(mutation, NOW).expect_err("mutation fails");
    assert_eq!(error.code(), Some(code), "code of {mutation:?}: {error}");
    assert_eq!(error.cause(), cause, "cause of {mutation:?}");
    assert_eq!(error.index(), index, "index of {mutation:?}");
    assert_eq!(store.index(), index, "{mutation:?} left the index");
    assert_eq!(store.content_hash(), hash, "{mutation:?} left the tree");
    assert_eq!(store.save(), saved, "{mutation:?} left tree and history");
}

/// The node at `path`, non-recursive, at `NOW`.
pub(crate) fn get_node(store: &Store, path: &str) -> NodeView {
    store
        .get(path, false, false, NOW)
        .expect("get succeeds")
        .node
}

/// A sink that records what it accepts and refuses once it holds `capacity` events.
#[derive(Clone)]
pub(crate) struct Recorder {
    events: Arc<Mutex<Vec<Arc<Event>>>>,
    capacity: usize,
}

impl Recorder {
    pub(crate) fn new() -> Recorder {
        Recorder::with_capacity(usize::MAX)
    }

    pub(crate) fn with_capacity(capacity: usize) -> Recorder {
        Recorder {
            events: Arc::new(Mutex::new(Vec::new())),
            capacity,
        }
    }

    pub(crate) fn boxed(&self) -> Box<dyn WatchSink> {
        Box::new(self.clone())
    }

    /// `(key, modifiedIndex)` of every accepted event, in order.
    pub(crate) fn seen(&self) -> Vec<(String, u64)> {
        self.events
            .lock()
            .unwrap()
            .iter()
            .map(|event| (event.node.key.clone().unwrap_or_default(), event.index().0))
            .collect()
    }

    pub(crate) fn events(&self) -> Vec<Arc<Event>> {
        self.events.lock().unwrap().clone()
    }
}

impl WatchSink for Recorder {
    fn deliver(&self, event: Arc<Event>) -> bool {
        let mut events = self.events.lock().unwrap();
        if events.len() >= self.capacity {
            return false;
        }
        events.push(event);
        true
    }
}

/// `(key, index)` pairs, for comparing with `Recorder::seen`.
pub(crate) fn seen(pairs: &[(&str, u64)]) -> Vec<(String, u64)> {
    pairs
        .iter()
        .map(|(key, index)| ((*key).to_owned(), *index))
        .collect()
}
