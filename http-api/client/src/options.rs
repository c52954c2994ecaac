//! Per-call options. Each struct is plain data with `Default`; how it becomes etcd parameters
//! is decided in `request.rs`, in one place.

use crate::types::StoreIndex;
use std::time::Duration;

/// Options of [`crate::Client::get`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct GetOptions {
    /// List a directory's whole subtree, not only its immediate children.
    pub recursive: bool,
    /// Order children by key at every level (etcd's order is otherwise unspecified).
    pub sorted: bool,
    /// Read through consensus (linearizable). Without it the answering member serves its own
    /// replica, which may lag.
    pub quorum: bool,
}

/// Options of the writes that store a value or a directory: `set`, `create`, `update`,
/// `compare_and_swap`, `mkdir`, `set_dir`, `update_dir` and `create_in_order`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SetOptions {
    /// Time to live. etcd counts in whole seconds, so this is sent rounded **up** (a key never
    /// lives shorter than asked). `None` makes the node permanent, removing any earlier TTL.
    pub ttl: Option<Duration>,
}

/// Options of [`crate::Client::delete`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DeleteOptions {
    /// Allow deleting a directory (it must be empty unless `recursive`).
    pub dir: bool,
    /// Delete a directory with everything under it (implies `dir`).
    pub recursive: bool,
}

/// The `prevValue` / `prevIndex` conditions of compare-and-swap, compare-and-delete and
/// refresh. When both are set, both must hold.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PrevConditions {
    /// The current value must equal this.
    pub value: Option<String>,
    /// The current `modifiedIndex` must equal this.
    pub index: Option<StoreIndex>,
}

impl PrevConditions {
    /// The current value must equal `value`.
    #[must_use]
    pub fn value(value: impl Into<String>) -> PrevConditions {
        PrevConditions {
            value: Some(value.into()),
            index: None,
        }
    }

    /// The current `modifiedIndex` must equal `index`.
    #[must_use]
    pub fn index(index: StoreIndex) -> PrevConditions {
        PrevConditions {
            value: None,
            index: Some(index),
        }
    }

    /// True when no condition is set.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.value.is_none() && self.index.is_none()
    }
}

/// Options of [`crate::Client::watch`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct WatchOptions {
    /// Also deliver changes below the key (it is then usually a directory).
    pub recursive: bool,
    /// The first index to deliver (etcd's `waitIndex`): events from this index on are
    /// delivered, replayed from the server's history when they are in the past. `None` starts
    /// with the first change after the watch is registered.
    pub wait_index: Option<StoreIndex>,
}

impl WatchOptions {
    /// Deliver every change after `index`, e.g. after a GET's `etcd_index`, so that a read
    /// followed by a watch misses nothing.
    #[must_use]
    pub fn after(index: StoreIndex) -> WatchOptions {
        WatchOptions {
            recursive: false,
            wait_index: Some(index.next()),
        }
    }

    /// The same, also for changes below the key.
    #[must_use]
    pub fn recursive(self) -> WatchOptions {
        WatchOptions {
            recursive: true,
            ..self
        }
    }
}
