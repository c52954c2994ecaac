//! In-memory `LogStorage`, for tests and the simulator. Never durable.

use crate::storage::{LogStorage, StorageError};
use raft::eraftpb::{ConfState, Entry, HardState, Snapshot, SnapshotMetadata};
use raft::{GetEntriesContext, RaftState, Storage};

/// Entries in a `Vec` after the compaction point; the latest snapshot beside them.
#[derive(Default, Clone)]
pub struct MemoryStorage {
    hard_state: HardState,
    conf_state: ConfState,
    snapshot_metadata: SnapshotMetadata,
    snapshot_data: Vec<u8>,
    /// Index and term of the entry just before the first stored one (the compaction point).
    log_start: (u64, u64),
    // entries[i] has index log_start.0 + 1 + i
    entries: Vec<Entry>,
}

impl MemoryStorage {
    /// An empty log whose membership is `voters` (a new cluster's bootstrap).
    #[must_use]
    pub fn new(voters: &[u64]) -> MemoryStorage {
        let mut storage = MemoryStorage::default();
        storage.conf_state.voters = voters.to_vec();
        storage
    }

    fn offset(&self) -> u64 {
        self.log_start.0 + 1
    }
}

fn unavailable() -> raft::Error {
    raft::Error::Store(raft::StorageError::Unavailable)
}

impl Storage for MemoryStorage {
    fn initial_state(&self) -> raft::Result<RaftState> {
        Ok(RaftState::new(
            self.hard_state.clone(),
            self.conf_state.clone(),
        ))
    }

    fn entries(
        &self,
        low: u64,
        high: u64,
        max_size: impl Into<Option<u64>>,
        _context: GetEntriesContext,
    ) -> raft::Result<Vec<Entry>> {
        if low < self.offset() {
            return Err(raft::Error::Store(raft::StorageError::Compacted));
        }
        if high > self.last_index()? + 1 || low > high {
            return Err(unavailable());
        }
        let start = usize::try_from(low - self.offset()).map_err(|_| unavailable())?;
        let end = usize::try_from(high - self.offset()).map_err(|_| unavailable())?;
        let mut entries = self.entries[start..end].to_vec();
        raft::util::limit_size(&mut entries, max_size.into());
        Ok(entries)
    }

    fn term(&self, index: u64) -> raft::Result<u64> {
        if index == self.log_start.0 {
            return Ok(self.log_start.1);
        }
        if index < self.offset() {
            return Err(raft::Error::Store(raft::StorageError::Compacted));
        }
        let position = usize::try_from(index - self.offset()).map_err(|_| unavailable())?;
        self.entries
            .get(position)
            .map(|e| e.term)
            .ok_or_else(unavailable)
    }

    fn first_index(&self) -> raft::Result<u64> {
        Ok(self.offset())
    }

    fn last_index(&self) -> raft::Result<u64> {
        Ok(self.log_start.0 + self.entries.len() as u64)
    }

    fn snapshot(&self, _request_index: u64, _to: u64) -> raft::Result<Snapshot> {
        let mut snapshot = Snapshot::default();
        snapshot.set_metadata(self.snapshot_metadata.clone());
        snapshot.data = self.snapshot_data.clone().into();
        Ok(snapshot)
    }
}

impl LogStorage for MemoryStorage {
    fn persist(
        &mut self,
        entries: &[Entry],
        hard_state: Option<&HardState>,
        _sync: bool,
    ) -> Result<(), StorageError> {
        if let Some(first) = entries.first() {
            let last = self.log_start.0 + self.entries.len() as u64;
            if first.index > last + 1 || first.index < self.offset() {
                return Err(StorageError::Gap {
                    first: first.index,
                    last,
                });
            }
            let keep =
                usize::try_from(first.index - self.offset()).map_err(|_| StorageError::Gap {
                    first: first.index,
                    last,
                })?;
            self.entries.truncate(keep);
            self.entries.extend_from_slice(entries);
        }
        if let Some(hard_state) = hard_state {
            self.hard_state = hard_state.clone();
        }
        Ok(())
    }

    fn persist_conf_state(&mut self, conf_state: &ConfState) -> Result<(), StorageError> {
        self.conf_state = conf_state.clone();
        Ok(())
    }

    fn install_snapshot(&mut self, snapshot: &Snapshot) -> Result<(), StorageError> {
        let metadata = snapshot.get_metadata();
        self.entries.clear();
        self.snapshot_metadata = metadata.clone();
        self.snapshot_data = snapshot.data.to_vec();
        self.conf_state = metadata.get_conf_state().clone();
        self.hard_state.commit = self.hard_state.commit.max(metadata.index);
        self.hard_state.term = self.hard_state.term.max(metadata.term);
        self.log_start = (metadata.index, metadata.term);
        Ok(())
    }

    fn save_snapshot(&mut self, snapshot: &Snapshot, compact_to: u64) -> Result<(), StorageError> {
        let last = self.log_start.0 + self.entries.len() as u64;
        let index = snapshot.get_metadata().index;
        if index > last || compact_to > index {
            return Err(StorageError::Gap { first: index, last });
        }
        if compact_to > self.log_start.0 {
            let term = self.term(compact_to).map_err(|_| StorageError::Gap {
                first: compact_to,
                last,
            })?;
            let drop_count =
                usize::try_from(compact_to - self.log_start.0).map_err(|_| StorageError::Gap {
                    first: compact_to,
                    last,
                })?;
            self.entries.drain(..drop_count);
            self.log_start = (compact_to, term);
        }
        self.snapshot_metadata = snapshot.get_metadata().clone();
        self.snapshot_data = snapshot.data.to_vec();
        Ok(())
    }

    fn hard_state(&self) -> HardState {
        self.hard_state.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Goal: the in-memory storage meets the same contract as the durable one.
    #[test]
    fn memory_storage_conforms() {
        crate::storage::conformance::append_and_read(&mut MemoryStorage::new(&[1]));
        crate::storage::conformance::snapshot_and_compact(&mut MemoryStorage::new(&[1]));
        crate::storage::conformance::compaction_survives_reopen(MemoryStorage::new(&[1]), |s| s);
    }
}
