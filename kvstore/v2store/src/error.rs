//! Domain outcomes of store operations, each with its etcd error code.
//!
//! Owns: `StoreError` and its mapping to etcd's `errorCode`, `cause` and `index`. The message
//! texts and HTTP statuses belong to the HTTP layer, not here.

use crate::StoreIndex;
use thiserror::Error;

/// Why a store operation did not happen. Every variant carries the etcd `cause` text and the
/// store index at the time of the failure, which etcd reports as the error's `index`.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum StoreError {
    /// 100: the key, or a prefix of it, does not exist (`cause`: the first missing path).
    #[error("key not found ({cause})")]
    KeyNotFound {
        /// The first missing prefix of the requested path.
        cause: String,
        /// The store index when the operation failed.
        index: StoreIndex,
    },
    /// 101: a compare-and-swap or compare-and-delete condition did not hold.
    #[error("compare failed ({cause})")]
    CompareFailed {
        /// `[<prevValue> != <value>]`, `[<prevIndex> != <modifiedIndex>]`, or both.
        cause: String,
        /// The store index when the operation failed.
        index: StoreIndex,
    },
    /// 102: a file operation on a directory.
    #[error("not a file ({cause})")]
    NotAFile {
        /// The directory's path (empty for the root, as etcd reports it).
        cause: String,
        /// The store index when the operation failed.
        index: StoreIndex,
    },
    /// 104: the path goes through a file.
    #[error("not a directory ({cause})")]
    NotADirectory {
        /// The path of the file in the way.
        cause: String,
        /// The store index when the operation failed.
        index: StoreIndex,
    },
    /// 105: create of a node that exists.
    #[error("key already exists ({cause})")]
    KeyAlreadyExists {
        /// The path that exists.
        cause: String,
        /// The store index when the operation failed.
        index: StoreIndex,
    },
    /// 107: write or delete of `/`.
    #[error("root is read only ({cause})")]
    RootReadOnly {
        /// Always `/`.
        cause: String,
        /// The store index when the operation failed.
        index: StoreIndex,
    },
    /// 108: non-recursive delete of a non-empty directory.
    #[error("directory not empty ({cause})")]
    DirectoryNotEmpty {
        /// The directory's path.
        cause: String,
        /// The store index when the operation failed.
        index: StoreIndex,
    },
    /// 401: the requested `waitIndex` is older than the kept history.
    #[error("event index cleared ({cause})")]
    EventIndexCleared {
        /// `the requested history has been cleared [<oldest>/<waitIndex>]`.
        cause: String,
        /// The store index when the watch was made.
        index: StoreIndex,
    },
    /// Too many watchers are registered (the hub's bound); the caller may retry later.
    #[error("watcher limit reached")]
    WatcherLimitReached {
        /// The store index when the watch was refused.
        index: StoreIndex,
    },
    /// Save bytes that cannot be recovered (unknown version or damaged data).
    #[error("snapshot data is invalid: {reason}")]
    InvalidSaveData {
        /// What was wrong with the bytes.
        reason: String,
    },
}

impl StoreError {
    /// The etcd v2 `errorCode`; `None` for errors etcd has no code for.
    #[must_use]
    pub fn code(&self) -> Option<u16> {
        match self {
            StoreError::KeyNotFound { .. } => Some(100),
            StoreError::CompareFailed { .. } => Some(101),
            StoreError::NotAFile { .. } => Some(102),
            StoreError::NotADirectory { .. } => Some(104),
            StoreError::KeyAlreadyExists { .. } => Some(105),
            StoreError::RootReadOnly { .. } => Some(107),
            StoreError::DirectoryNotEmpty { .. } => Some(108),
            StoreError::EventIndexCleared { .. } => Some(401),
            StoreError::WatcherLimitReached { .. } | StoreError::InvalidSaveData { .. } => None,
        }
    }

    /// The etcd `cause` text; empty for errors etcd has no code for.
    #[must_use]
    pub fn cause(&self) -> &str {
        match self {
            StoreError::KeyNotFound { cause, .. }
            | StoreError::CompareFailed { cause, .. }
            | StoreError::NotAFile { cause, .. }
            | StoreError::NotADirectory { cause, .. }
            | StoreError::KeyAlreadyExists { cause, .. }
            | StoreError::RootReadOnly { cause, .. }
            | StoreError::DirectoryNotEmpty { cause, .. }
            | StoreError::EventIndexCleared { cause, .. } => cause,
            StoreError::WatcherLimitReached { .. } | StoreError::InvalidSaveData { .. } => "",
        }
    }

    /// The store index when the error happened; 0 for `InvalidSaveData`, which has no store.
    #[must_use]
    pub fn index(&self) -> StoreIndex {
        match self {
            StoreError::KeyNotFound { index, .. }
            | StoreError::CompareFailed { index, .. }
            | StoreError::NotAFile { index, .. }
            | StoreError::NotADirectory { index, .. }
            | StoreError::KeyAlreadyExists { index, .. }
            | StoreError::RootReadOnly { index, .. }
            | StoreError::DirectoryNotEmpty { index, .. }
            | StoreError::EventIndexCleared { index, .. }
            | StoreError::WatcherLimitReached { index } => *index,
            StoreError::InvalidSaveData { .. } => StoreIndex(0),
        }
    }
}
