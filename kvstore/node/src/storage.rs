//! The log storage contract: raft-rs's read-only `Storage` plus the writes the raft loop makes.
//!
//! Every implementation (memory, RocksDB) must pass the same conformance suite
//! (`storage::conformance`), including reopening after a drop for durable ones.

use raft::eraftpb::{ConfState, Entry, HardState, Snapshot};
use thiserror::Error;

/// A storage failure. Inside the raft loop every one is fatal: the member stops rather than
/// act on a disk state it does not know.
#[derive(Debug, Error)]
pub enum StorageError {
    /// The underlying engine failed.
    #[error("storage engine failed while {operation}: {detail}")]
    Engine {
        /// What was being done.
        operation: &'static str,
        /// The engine's own message.
        detail: String,
    },
    /// Stored bytes do not decode.
    #[error("stored {what} is damaged")]
    Damaged {
        /// Which record.
        what: &'static str,
    },
    /// An append would leave a hole in the log.
    #[error("append at index {first} leaves a gap after last index {last}")]
    Gap {
        /// First index of the append.
        first: u64,
        /// Current last index.
        last: u64,
    },
}

/// What a raft member persists, on top of raft-rs's read interface.
pub trait LogStorage: raft::Storage + Send + 'static {
    /// Append `entries` (dropping any existing suffix from the first one's index on) and store
    /// `hard_state` if given, atomically. With `sync`, durable before returning.
    ///
    /// # Errors
    /// `StorageError` when the write fails; the caller must stop.
    fn persist(
        &mut self,
        entries: &[Entry],
        hard_state: Option<&HardState>,
        sync: bool,
    ) -> Result<(), StorageError>;

    /// Store the membership that a configuration change produced.
    ///
    /// # Errors
    /// `StorageError` when the write fails.
    fn persist_conf_state(&mut self, conf_state: &ConfState) -> Result<(), StorageError>;

    /// Replace the log with a received snapshot: entries up to its index are dropped, the
    /// hard state's commit and the conf state follow the snapshot's metadata.
    ///
    /// # Errors
    /// `StorageError` when the write fails.
    fn install_snapshot(&mut self, snapshot: &Snapshot) -> Result<(), StorageError>;

    /// Store a snapshot of this member's own applied state (its index is applied here, so at
    /// most the last index) as the one `snapshot()` returns, and discard the log up to and
    /// including `compact_to` (at most the snapshot's index; at or below the current start it
    /// discards nothing). Entries after `compact_to` stay so that slow followers can still
    /// catch up from the log. Durable before returning.
    ///
    /// # Errors
    /// `StorageError` when the write fails, or `Gap` when the indexes break the rules above.
    fn save_snapshot(&mut self, snapshot: &Snapshot, compact_to: u64) -> Result<(), StorageError>;

    /// The hard state as last persisted.
    fn hard_state(&self) -> HardState;
}

/// The conformance suite every `LogStorage` runs (from its own tests; feature `testing`).
#[cfg(any(test, feature = "testing"))]
#[allow(clippy::unwrap_used)] // a test suite: a failed unwrap is a failed check
pub mod conformance {
    use super::LogStorage;
    use raft::eraftpb::{Entry, HardState, Snapshot};
    use raft::GetEntriesContext;

    fn entry(index: u64, term: u64) -> Entry {
        Entry {
            index,
            term,
            data: vec![u8::try_from(index % 256).unwrap_or(0); 3].into(),
            ..Entry::default()
        }
    }

    fn hard_state(term: u64, commit: u64) -> HardState {
        HardState {
            term,
            commit,
            vote: 1,
            ..HardState::default()
        }
    }

    /// Appends, reads, overwrites a suffix and checks every read method.
    ///
    /// # Panics
    /// When the storage breaks the contract (this is a test helper).
    pub fn append_and_read(storage: &mut impl LogStorage) {
        assert_eq!(storage.first_index().unwrap(), 1);
        assert_eq!(storage.last_index().unwrap(), 0);
        let entries: Vec<Entry> = (1..=5).map(|i| entry(i, 1)).collect();
        storage
            .persist(&entries, Some(&hard_state(1, 3)), true)
            .unwrap();
        assert_eq!(storage.last_index().unwrap(), 5);
        assert_eq!(storage.term(3).unwrap(), 1);
        assert_eq!(storage.term(0).unwrap(), 0);
        let got = storage
            .entries(2, 5, None, GetEntriesContext::empty(false))
            .unwrap();
        assert_eq!(got, entries[1..4].to_vec());
        // A size limit still returns at least one entry.
        let one = storage
            .entries(2, 5, Some(1), GetEntriesContext::empty(false))
            .unwrap();
        assert_eq!(one, entries[1..2].to_vec());
        // Overwrite from index 4 with a higher term: 5 must be gone.
        storage
            .persist(&[entry(4, 2)], Some(&hard_state(2, 3)), true)
            .unwrap();
        assert_eq!(storage.last_index().unwrap(), 4);
        assert_eq!(storage.term(4).unwrap(), 2);
        assert_eq!(storage.hard_state(), hard_state(2, 3));
        let state = storage.initial_state().unwrap();
        assert_eq!(state.hard_state, hard_state(2, 3));
        assert!(storage
            .entries(5, 6, None, GetEntriesContext::empty(false))
            .is_err());
    }

    /// Checks that what `persist` wrote comes back after `reopen` (durable storages only).
    ///
    /// # Panics
    /// When the storage breaks the contract.
    /// Snapshots of the own state and compaction: the log keeps the entries after the
    /// compaction point, terms stay answerable at its edge, older entries answer `Compacted`;
    /// then a received snapshot replaces the whole log.
    pub fn snapshot_and_compact(storage: &mut impl LogStorage) {
        let entries: Vec<Entry> = (1..=10).map(|i| entry(i, 1 + i / 6)).collect();
        storage
            .persist(&entries, Some(&hard_state(2, 10)), true)
            .unwrap();
        let mut own = Snapshot::default();
        own.mut_metadata().index = 8;
        own.mut_metadata().term = 2;
        own.mut_metadata().mut_conf_state().voters = vec![1, 2];
        own.data = b"state at 8".to_vec().into();
        storage.save_snapshot(&own, 5).unwrap();
        assert_eq!(storage.first_index().unwrap(), 6);
        assert_eq!(storage.last_index().unwrap(), 10);
        assert_eq!(
            storage.term(5).unwrap(),
            1,
            "the term at the compaction point is kept"
        );
        assert_eq!(storage.term(8).unwrap(), 2);
        assert!(matches!(
            storage.term(4),
            Err(raft::Error::Store(raft::StorageError::Compacted))
        ));
        assert!(matches!(
            storage.entries(5, 7, None, GetEntriesContext::empty(false)),
            Err(raft::Error::Store(raft::StorageError::Compacted))
        ));
        let kept = storage
            .entries(6, 11, None, GetEntriesContext::empty(false))
            .unwrap();
        assert_eq!(kept, entries[5..].to_vec());
        let snapshot = storage.snapshot(0, 0).unwrap();
        assert_eq!(snapshot.get_metadata().index, 8);
        assert_eq!(&snapshot.data[..], b"state at 8");
        // Compacting again below the start changes nothing but the snapshot.
        storage.save_snapshot(&own, 3).unwrap();
        assert_eq!(storage.first_index().unwrap(), 6);
        // Appending after compaction continues the log.
        storage.persist(&[entry(11, 2)], None, true).unwrap();
        assert_eq!(storage.last_index().unwrap(), 11);
        // A received snapshot past the log replaces it.
        let mut received = Snapshot::default();
        received.mut_metadata().index = 20;
        received.mut_metadata().term = 3;
        received.data = b"state at 20".to_vec().into();
        storage.install_snapshot(&received).unwrap();
        assert_eq!(storage.first_index().unwrap(), 21);
        assert_eq!(storage.last_index().unwrap(), 20);
        assert_eq!(storage.term(20).unwrap(), 3);
        assert_eq!(storage.hard_state().commit, 20);
        storage.persist(&[entry(21, 3)], None, true).unwrap();
        assert_eq!(storage.term(21).unwrap(), 3);
    }

    pub fn survives_reopen<S: LogStorage>(mut storage: S, reopen: impl FnOnce(S) -> S) {
        let entries: Vec<Entry> = (1..=3).map(|i| entry(i, 1)).collect();
        storage
            .persist(&entries, Some(&hard_state(1, 2)), true)
            .unwrap();
        let storage = reopen(storage);
        assert_eq!(storage.last_index().unwrap(), 3);
        assert_eq!(storage.hard_state(), hard_state(1, 2));
        let got = storage
            .entries(1, 4, None, GetEntriesContext::empty(false))
            .unwrap();
        assert_eq!(got, entries);
    }

    /// A compacted log and its snapshot are what a reopened storage starts from.
    pub fn compaction_survives_reopen<S: LogStorage>(mut storage: S, reopen: impl FnOnce(S) -> S) {
        let entries: Vec<Entry> = (1..=6).map(|i| entry(i, 2)).collect();
        storage
            .persist(&entries, Some(&hard_state(2, 6)), true)
            .unwrap();
        let mut own = Snapshot::default();
        own.mut_metadata().index = 5;
        own.mut_metadata().term = 2;
        own.data = b"state at 5".to_vec().into();
        storage.save_snapshot(&own, 4).unwrap();
        let storage = reopen(storage);
        assert_eq!(storage.first_index().unwrap(), 5);
        assert_eq!(storage.last_index().unwrap(), 6);
        assert_eq!(storage.term(4).unwrap(), 2);
        assert_eq!(storage.snapshot(0, 0).unwrap().get_metadata().index, 5);
        assert_eq!(&storage.snapshot(0, 0).unwrap().data[..], b"state at 5");
        let got = storage
            .entries(5, 7, None, GetEntriesContext::empty(false))
            .unwrap();
        assert_eq!(got, entries[4..].to_vec());
    }
}
