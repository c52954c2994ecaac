//! `RocksStorage`: the raft log, hard state, conf state and snapshot in RocksDB.
//!
//! Reads of recent entries come from an in-memory tail (`tail`), because raft-rs reads every
//! entry back from storage right after persisting it (to apply it); the tail is bounded and
//! always equals the last entries on disk.

use crate::identity::MemberIdentity;
use crate::schema::{self, log_key};
use kvstore::{LogStorage, StorageError};
use protobuf::Message as _;
use raft::eraftpb::{ConfState, Entry, HardState, Snapshot, SnapshotMetadata};
use raft::{GetEntriesContext, RaftState, Storage};
use rocksdb::{ColumnFamilyDescriptor, Options, WriteBatch, WriteOptions, DB};
use std::collections::VecDeque;
use std::path::Path;
use thiserror::Error;

/// Bound on the write-ahead logs' total size before RocksDB flushes the oldest ones' families.
pub const WAL_TOTAL_MAX: u64 = 64 << 20;

/// Entries kept in memory behind the last index.
const TAIL_ENTRIES_MAX: usize = 16_384;

/// Why a data directory cannot be opened.
#[derive(Debug, Error)]
pub enum OpenError {
    /// RocksDB refused to open it (damaged files, or locked by another process).
    #[error("cannot open the data directory {path}: {detail}")]
    Engine {
        /// The directory.
        path: String,
        /// RocksDB's message.
        detail: String,
    },
    /// It was written by a different on-disk layout version.
    #[error(
        "data directory {path} has schema version {found}, this keel reads version {expected}"
    )]
    SchemaVersion {
        /// The directory.
        path: String,
        /// Version found.
        found: u32,
        /// Version understood.
        expected: u32,
    },
    /// A record does not decode.
    #[error("data directory {path} is damaged: {what} does not decode")]
    Damaged {
        /// The directory.
        path: String,
        /// Which record.
        what: &'static str,
    },
}

/// Raft storage in RocksDB.
pub struct RocksStorage {
    db: DB,
    hard_state: HardState,
    conf_state: ConfState,
    snapshot_metadata: SnapshotMetadata,
    /// Index and term of the entry just before the first stored one (the compaction point).
    log_start: (u64, u64),
    last_index: u64,
    tail: VecDeque<Entry>,
}

fn engine(operation: &'static str) -> impl Fn(rocksdb::Error) -> StorageError {
    move |error| StorageError::Engine {
        operation,
        detail: error.into_string(),
    }
}

impl RocksStorage {
    /// Open (or create) the storage in `path`.
    ///
    /// # Errors
    /// `OpenError` when RocksDB refuses the directory, its schema version is not ours, or a
    /// stored record is damaged.
    pub fn open(path: &Path) -> Result<RocksStorage, OpenError> {
        let shown = path.display().to_string();
        let mut options = Options::default();
        options.create_if_missing(true);
        options.create_missing_column_families(true);
        options.set_paranoid_checks(true);
        // Several column families share the write-ahead log, and a log file is deleted only
        // when every family with data in it has flushed. The small families (hard state,
        // snapshot metadata) rarely fill a memtable, so without this bound the logs grew by
        // every entry and snapshot ever written (1.5 GB after 1M writes) and a restart
        // replayed all of them. Past the bound RocksDB flushes the families that hold the
        // oldest log.
        options.set_max_total_wal_size(WAL_TOTAL_MAX);
        let families = schema::COLUMN_FAMILIES
            .iter()
            .map(|name| ColumnFamilyDescriptor::new(*name, Options::default()));
        let db =
            DB::open_cf_descriptors(&options, path, families).map_err(|e| OpenError::Engine {
                path: shown.clone(),
                detail: e.into_string(),
            })?;
        let damaged = |what| OpenError::Damaged {
            path: shown.clone(),
            what,
        };
        let get = |cf: &str, key: &[u8]| -> Result<Option<Vec<u8>>, OpenError> {
            let handle = db.cf_handle(cf).ok_or_else(|| damaged("column family"))?;
            db.get_cf(handle, key).map_err(|e| OpenError::Engine {
                path: shown.clone(),
                detail: e.into_string(),
            })
        };
        check_schema_version(&db, &shown)?;
        let hard_state =
            decode_or_default::<HardState>(get(schema::CF_RAFT_STATE, schema::KEY_HARD_STATE)?)
                .ok_or_else(|| damaged("hard state"))?;
        let conf_state =
            decode_or_default::<ConfState>(get(schema::CF_RAFT_STATE, schema::KEY_CONF_STATE)?)
                .ok_or_else(|| damaged("conf state"))?;
        let snapshot_metadata = decode_or_default::<SnapshotMetadata>(get(
            schema::CF_SNAPSHOT,
            schema::KEY_SNAPSHOT_METADATA,
        )?)
        .ok_or_else(|| damaged("snapshot metadata"))?;
        let log_start = match get(schema::CF_RAFT_STATE, schema::KEY_LOG_START)? {
            None => (snapshot_metadata.index, snapshot_metadata.term),
            Some(bytes) => schema::parse_log_start(&bytes).ok_or_else(|| damaged("log start"))?,
        };
        let mut storage = RocksStorage {
            db,
            hard_state,
            conf_state,
            snapshot_metadata,
            log_start,
            last_index: 0,
            tail: VecDeque::new(),
        };
        storage.load_tail().map_err(|_| damaged("raft log"))?;
        Ok(storage)
    }

    /// The identity stored at first start, if any.
    ///
    /// # Errors
    /// `StorageError` when it cannot be read or does not decode.
    pub fn identity(&self) -> Result<Option<MemberIdentity>, StorageError> {
        let handle = self.cf(schema::CF_META)?;
        let Some(bytes) = self
            .db
            .get_cf(handle, schema::KEY_IDENTITY)
            .map_err(engine("reading identity"))?
        else {
            return Ok(None);
        };
        MemberIdentity::decode(&bytes)
            .map(Some)
            .ok_or(StorageError::Damaged { what: "identity" })
    }

    /// The store a restored member starts from (see `schema::KEY_INITIAL_STORE`).
    ///
    /// # Errors
    /// `StorageError` when it cannot be read.
    pub fn initial_store(&self) -> Result<Option<Vec<u8>>, StorageError> {
        self.db
            .get_cf(self.cf(schema::CF_META)?, schema::KEY_INITIAL_STORE)
            .map_err(engine("reading the initial store"))
    }

    /// Write the identity and the initial membership of a new member, and the store it starts
    /// from when restored from a backup, durably and atomically.
    ///
    /// # Errors
    /// `StorageError` when the write fails.
    pub fn initialize(
        &mut self,
        identity: &MemberIdentity,
        conf_state: &ConfState,
        initial_store: Option<&[u8]>,
    ) -> Result<(), StorageError> {
        let mut batch = WriteBatch::default();
        if let Some(store) = initial_store {
            batch.put_cf(self.cf(schema::CF_META)?, schema::KEY_INITIAL_STORE, store);
        }
        batch.put_cf(
            self.cf(schema::CF_META)?,
            schema::KEY_IDENTITY,
            identity.encode(),
        );
        batch.put_cf(
            self.cf(schema::CF_RAFT_STATE)?,
            schema::KEY_CONF_STATE,
            encode(conf_state),
        );
        self.write(batch, true, "initializing")?;
        self.conf_state = conf_state.clone();
        Ok(())
    }

    /// The number of entries stored in the log (for tests of compaction and bounds).
    #[must_use]
    pub fn log_len(&self) -> u64 {
        self.last_index.saturating_sub(self.log_start.0)
    }

    /// Entries actually present in the `raft_log` column family, counted on disk (for tests
    /// that check compaction really deletes).
    ///
    /// # Errors
    /// `StorageError` when RocksDB cannot be read.
    pub fn log_entries_on_disk(&self) -> Result<u64, StorageError> {
        let handle = self.cf(schema::CF_RAFT_LOG)?;
        let mut iterator = self.db.raw_iterator_cf(handle);
        iterator.seek_to_first();
        let mut count = 0;
        while iterator.valid() {
            count += 1;
            iterator.next();
        }
        iterator.status().map_err(engine("counting the raft log"))?;
        Ok(count)
    }

    fn cf(&self, name: &'static str) -> Result<&rocksdb::ColumnFamily, StorageError> {
        self.db.cf_handle(name).ok_or(StorageError::Damaged {
            what: "column family",
        })
    }

    fn write(
        &self,
        batch: WriteBatch,
        sync: bool,
        operation: &'static str,
    ) -> Result<(), StorageError> {
        let mut options = WriteOptions::default();
        options.set_sync(sync);
        self.db
            .write_opt(batch, &options)
            .map_err(engine(operation))
    }

    /// Find the last index and load the tail from disk.
    fn load_tail(&mut self) -> Result<(), StorageError> {
        let handle = self.cf(schema::CF_RAFT_LOG)?;
        let mut tail = VecDeque::new();
        let mut iterator = self.db.raw_iterator_cf(handle);
        iterator.seek_to_last();
        while iterator.valid() && tail.len() < TAIL_ENTRIES_MAX {
            let bytes = iterator
                .value()
                .ok_or(StorageError::Damaged { what: "raft log" })?;
            let entry = Entry::parse_from_bytes(bytes).map_err(|_| StorageError::Damaged {
                what: "raft log entry",
            })?;
            tail.push_front(entry);
            iterator.prev();
        }
        iterator.status().map_err(engine("reading the raft log"))?;
        drop(iterator);
        self.last_index = tail.back().map_or(self.log_start.0, |e| e.index);
        self.tail = tail;
        Ok(())
    }

    fn first(&self) -> u64 {
        self.log_start.0 + 1
    }

    fn tail_get(&self, index: u64) -> Option<&Entry> {
        let first = self.tail.front()?.index;
        let position = usize::try_from(index.checked_sub(first)?).ok()?;
        self.tail.get(position)
    }

    fn read_disk(&self, low: u64, high: u64, max_size: Option<u64>) -> raft::Result<Vec<Entry>> {
        let handle = self.cf(schema::CF_RAFT_LOG).map_err(|_| unavailable())?;
        let mut entries = Vec::new();
        let mut iterator = self.db.raw_iterator_cf(handle);
        iterator.seek(log_key(low));
        let mut size = 0u64;
        while iterator.valid() && (entries.len() as u64) < high - low {
            let bytes = iterator.value().ok_or_else(unavailable)?;
            let entry = Entry::parse_from_bytes(bytes).map_err(|_| unavailable())?;
            size += u64::from(entry.compute_size());
            if !entries.is_empty() && max_size.is_some_and(|max| size > max) {
                break;
            }
            entries.push(entry);
            iterator.next();
        }
        if entries.first().map(|e| e.index) != Some(low) {
            return Err(unavailable());
        }
        Ok(entries)
    }
}

fn unavailable() -> raft::Error {
    raft::Error::Store(raft::StorageError::Unavailable)
}

fn encode(message: &impl protobuf::Message) -> Vec<u8> {
    message
        .write_to_bytes()
        .expect("raft protobuf messages always encode")
}

fn decode_or_default<M: protobuf::Message + Default>(bytes: Option<Vec<u8>>) -> Option<M> {
    match bytes {
        None => Some(M::default()),
        Some(bytes) => M::parse_from_bytes(&bytes).ok(),
    }
}

fn check_schema_version(db: &DB, shown: &str) -> Result<(), OpenError> {
    let engine_error = |e: rocksdb::Error| OpenError::Engine {
        path: shown.to_string(),
        detail: e.into_string(),
    };
    let damaged = OpenError::Damaged {
        path: shown.to_string(),
        what: "schema version",
    };
    let handle = db.cf_handle(schema::CF_META).ok_or(OpenError::Damaged {
        path: shown.to_string(),
        what: "column family",
    })?;
    match db
        .get_cf(handle, schema::KEY_SCHEMA_VERSION)
        .map_err(engine_error)?
    {
        None => {
            let mut options = WriteOptions::default();
            options.set_sync(true);
            db.put_cf_opt(
                &handle,
                schema::KEY_SCHEMA_VERSION,
                schema::SCHEMA_VERSION.to_be_bytes(),
                &options,
            )
            .map_err(|e| OpenError::Engine {
                path: shown.to_string(),
                detail: e.into_string(),
            })
        }
        Some(bytes) => {
            let found =
                u32::from_be_bytes(<[u8; 4]>::try_from(bytes.as_slice()).map_err(|_| damaged)?);
            if found == schema::SCHEMA_VERSION {
                Ok(())
            } else {
                Err(OpenError::SchemaVersion {
                    path: shown.to_string(),
                    found,
                    expected: schema::SCHEMA_VERSION,
                })
            }
        }
    }
}

impl Storage for RocksStorage {
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
        if low < self.first() {
            return Err(raft::Error::Store(raft::StorageError::Compacted));
        }
        if high > self.last_index + 1 || low >= high {
            return Err(unavailable());
        }
        let max_size = max_size.into();
        if self.tail_get(low).is_some() {
            let mut entries: Vec<Entry> = (low..high)
                .filter_map(|i| self.tail_get(i).cloned())
                .collect();
            raft::util::limit_size(&mut entries, max_size);
            return Ok(entries);
        }
        self.read_disk(low, high, max_size)
    }

    fn term(&self, index: u64) -> raft::Result<u64> {
        if index == self.log_start.0 {
            return Ok(self.log_start.1);
        }
        if index < self.first() {
            return Err(raft::Error::Store(raft::StorageError::Compacted));
        }
        if index > self.last_index {
            return Err(unavailable());
        }
        if let Some(entry) = self.tail_get(index) {
            return Ok(entry.term);
        }
        Ok(self
            .read_disk(index, index + 1, None)?
            .first()
            .map_or(0, |e| e.term))
    }

    fn first_index(&self) -> raft::Result<u64> {
        Ok(self.first())
    }

    fn last_index(&self) -> raft::Result<u64> {
        Ok(self.last_index)
    }

    fn snapshot(&self, _request_index: u64, _to: u64) -> raft::Result<Snapshot> {
        let handle = self.cf(schema::CF_SNAPSHOT).map_err(|_| unavailable())?;
        let data = self
            .db
            .get_cf(handle, schema::KEY_SNAPSHOT_DATA)
            .map_err(|_| unavailable())?;
        let mut snapshot = Snapshot::default();
        snapshot.set_metadata(self.snapshot_metadata.clone());
        snapshot.data = data.unwrap_or_default().into();
        Ok(snapshot)
    }
}

impl LogStorage for RocksStorage {
    fn persist(
        &mut self,
        entries: &[Entry],
        hard_state: Option<&HardState>,
        sync: bool,
    ) -> Result<(), StorageError> {
        let mut batch = WriteBatch::default();
        if let Some(first) = entries.first() {
            if first.index > self.last_index + 1 || first.index < self.first() {
                return Err(StorageError::Gap {
                    first: first.index,
                    last: self.last_index,
                });
            }
            let log = self.cf(schema::CF_RAFT_LOG)?;
            // Entries from `first` on replace any conflicting suffix (raft-rs guarantees they
            // are uncommitted).
            if first.index <= self.last_index {
                batch.delete_range_cf(log, log_key(first.index), log_key(self.last_index + 1));
            }
            for entry in entries {
                batch.put_cf(log, log_key(entry.index), encode(entry));
            }
        }
        if let Some(hard_state) = hard_state {
            batch.put_cf(
                self.cf(schema::CF_RAFT_STATE)?,
                schema::KEY_HARD_STATE,
                encode(hard_state),
            );
        }
        if batch.is_empty() {
            return Ok(());
        }
        self.write(batch, sync, "persisting raft entries")?;
        if let Some(hard_state) = hard_state {
            self.hard_state = hard_state.clone();
        }
        if let Some(first) = entries.first() {
            self.append_tail(first.index, entries);
        }
        Ok(())
    }

    fn persist_conf_state(&mut self, conf_state: &ConfState) -> Result<(), StorageError> {
        let mut batch = WriteBatch::default();
        batch.put_cf(
            self.cf(schema::CF_RAFT_STATE)?,
            schema::KEY_CONF_STATE,
            encode(conf_state),
        );
        self.write(batch, true, "persisting the conf state")?;
        self.conf_state = conf_state.clone();
        Ok(())
    }

    fn install_snapshot(&mut self, snapshot: &Snapshot) -> Result<(), StorageError> {
        let metadata = snapshot.get_metadata();
        let mut hard_state = self.hard_state.clone();
        hard_state.commit = hard_state.commit.max(metadata.index);
        hard_state.term = hard_state.term.max(metadata.term);
        let mut batch = WriteBatch::default();
        let snapshots = self.cf(schema::CF_SNAPSHOT)?;
        batch.put_cf(snapshots, schema::KEY_SNAPSHOT_METADATA, encode(metadata));
        batch.put_cf(snapshots, schema::KEY_SNAPSHOT_DATA, &snapshot.data);
        let state = self.cf(schema::CF_RAFT_STATE)?;
        batch.put_cf(state, schema::KEY_HARD_STATE, encode(&hard_state));
        batch.put_cf(
            state,
            schema::KEY_LOG_START,
            schema::log_start_value(metadata.index, metadata.term),
        );
        batch.put_cf(
            &state,
            schema::KEY_CONF_STATE,
            encode(metadata.get_conf_state()),
        );
        batch.delete_range_cf(
            self.cf(schema::CF_RAFT_LOG)?,
            log_key(0),
            log_key(self.last_index.max(metadata.index) + 1),
        );
        self.write(batch, true, "installing a snapshot")?;
        self.hard_state = hard_state;
        self.conf_state = metadata.get_conf_state().clone();
        self.snapshot_metadata = metadata.clone();
        self.log_start = (metadata.index, metadata.term);
        self.last_index = metadata.index;
        self.tail.clear();
        Ok(())
    }

    fn save_snapshot(&mut self, snapshot: &Snapshot, compact_to: u64) -> Result<(), StorageError> {
        let metadata = snapshot.get_metadata();
        if metadata.index > self.last_index || compact_to > metadata.index {
            return Err(StorageError::Gap {
                first: metadata.index,
                last: self.last_index,
            });
        }
        let mut batch = WriteBatch::default();
        let snapshots = self.cf(schema::CF_SNAPSHOT)?;
        batch.put_cf(snapshots, schema::KEY_SNAPSHOT_METADATA, encode(metadata));
        batch.put_cf(snapshots, schema::KEY_SNAPSHOT_DATA, &snapshot.data);
        let mut log_start = self.log_start;
        if compact_to > self.log_start.0 {
            let term = self.term(compact_to).map_err(|_| StorageError::Gap {
                first: compact_to,
                last: self.last_index,
            })?;
            log_start = (compact_to, term);
            batch.delete_range_cf(
                self.cf(schema::CF_RAFT_LOG)?,
                log_key(0),
                log_key(compact_to + 1),
            );
            batch.put_cf(
                self.cf(schema::CF_RAFT_STATE)?,
                schema::KEY_LOG_START,
                schema::log_start_value(compact_to, term),
            );
        }
        self.write(batch, true, "saving a snapshot")?;
        self.snapshot_metadata = metadata.clone();
        self.log_start = log_start;
        while self.tail.front().is_some_and(|e| e.index <= log_start.0) {
            self.tail.pop_front();
        }
        Ok(())
    }

    fn hard_state(&self) -> HardState {
        self.hard_state.clone()
    }
}

impl RocksStorage {
    fn append_tail(&mut self, first: u64, entries: &[Entry]) {
        let keep = self
            .tail
            .front()
            .map_or(0, |front| first.saturating_sub(front.index));
        let keep = usize::try_from(keep).unwrap_or(usize::MAX);
        if keep <= self.tail.len() {
            self.tail.truncate(keep);
        } else {
            // The tail does not reach `first` (only possible after a reopen): restart it.
            self.tail.clear();
        }
        self.tail.extend(entries.iter().cloned());
        while self.tail.len() > TAIL_ENTRIES_MAX {
            self.tail.pop_front();
        }
        self.last_index = entries.last().map_or(self.last_index, |e| e.index);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kvstore::storage::conformance;

    // Goal: RocksDB storage meets the same contract as the in-memory one.
    #[test]
    fn rocks_storage_conforms() {
        let dir = tempfile::tempdir().unwrap();
        conformance::append_and_read(&mut RocksStorage::open(dir.path()).unwrap());
        let dir = tempfile::tempdir().unwrap();
        conformance::snapshot_and_compact(&mut RocksStorage::open(dir.path()).unwrap());
    }

    // Goal: compaction deletes entries on disk, and a compacted log reopens as it was.
    #[test]
    fn compaction_survives_reopen_and_frees_the_log() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().to_path_buf();
        conformance::compaction_survives_reopen(RocksStorage::open(&path).unwrap(), |storage| {
            drop(storage);
            RocksStorage::open(&path).unwrap()
        });
        let storage = RocksStorage::open(&path).unwrap();
        assert_eq!(storage.log_entries_on_disk().unwrap(), 2);
        assert_eq!(storage.log_len(), 2);
    }

    // Goal: the write-ahead logs stay bounded while entries and snapshots keep coming, so a
    // restart replays little (they once kept every write since the data directory was made).
    #[test]
    fn write_ahead_logs_stay_bounded() {
        let dir = tempfile::tempdir().unwrap();
        let mut storage = RocksStorage::open(dir.path()).unwrap();
        let value = vec![7_u8; 4096];
        let mut index = 0;
        let mut written = 0_u64;
        for round in 1..=24_u64 {
            let entries: Vec<Entry> = (0..2000)
                .map(|_| {
                    index += 1;
                    Entry {
                        index,
                        term: 1,
                        data: value.clone().into(),
                        ..Entry::default()
                    }
                })
                .collect();
            storage.persist(&entries, None, false).unwrap();
            let mut snapshot = Snapshot::default();
            snapshot.mut_metadata().index = index;
            snapshot.mut_metadata().term = 1;
            snapshot.data = vec![round as u8; 2 << 20].into();
            storage.save_snapshot(&snapshot, index - 100).unwrap();
            written += 2000 * 4096 + (2 << 20);
        }
        let wal_bytes = || -> u64 {
            std::fs::read_dir(dir.path())
                .unwrap()
                .filter_map(Result::ok)
                .filter(|f| f.file_name().to_string_lossy().ends_with(".log"))
                .filter_map(|f| f.metadata().ok())
                .map(|m| m.len())
                .sum()
        };
        assert!(
            written > 3 * WAL_TOTAL_MAX,
            "the test must write past the bound"
        );
        // Flushes run in the background: wait for them, with a deadline.
        let bound = 2 * WAL_TOTAL_MAX;
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        while wal_bytes() > bound && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        assert!(
            wal_bytes() <= bound,
            "{} bytes of write-ahead log after {written} bytes written",
            wal_bytes()
        );
        drop(storage);
        let reopened = RocksStorage::open(dir.path()).unwrap();
        assert_eq!(reopened.last_index().unwrap(), index);
    }

    // Goal: what persist wrote is there after the database is closed and reopened.
    #[test]
    fn rocks_storage_survives_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().to_path_buf();
        conformance::survives_reopen(RocksStorage::open(&path).unwrap(), |storage| {
            drop(storage);
            RocksStorage::open(&path).unwrap()
        });
    }

    // Goal: a reopened log reads old entries from disk beyond the in-memory tail.
    #[test]
    fn reads_beyond_the_tail_come_from_disk() {
        let dir = tempfile::tempdir().unwrap();
        let mut storage = RocksStorage::open(dir.path()).unwrap();
        let count = TAIL_ENTRIES_MAX as u64 + 10;
        let entries: Vec<Entry> = (1..=count)
            .map(|index| Entry {
                index,
                term: 1,
                ..Entry::default()
            })
            .collect();
        storage.persist(&entries, None, true).unwrap();
        let got = storage
            .entries(1, 4, None, GetEntriesContext::empty(false))
            .unwrap();
        assert_eq!(got, entries[0..3].to_vec());
        assert_eq!(storage.term(count).unwrap(), 1);
        assert_eq!(storage.log_len(), count);
    }

    // Goal: a data directory of an unknown schema version is refused with a clear error.
    #[test]
    fn unknown_schema_version_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        {
            let storage = RocksStorage::open(dir.path()).unwrap();
            let meta = storage.db.cf_handle(schema::CF_META).unwrap();
            storage
                .db
                .put_cf(&meta, schema::KEY_SCHEMA_VERSION, 99u32.to_be_bytes())
                .unwrap();
        }
        let error = RocksStorage::open(dir.path()).err().unwrap();
        assert!(
            matches!(
                error,
                OpenError::SchemaVersion {
                    found: 99,
                    expected: 1,
                    ..
                }
            ),
            "{error}"
        );
    }

    // Goal: a second process (here: a second open) on the same directory is refused.
    #[test]
    fn locked_directory_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let _first = RocksStorage::open(dir.path()).unwrap();
        assert!(matches!(
            RocksStorage::open(dir.path()),
            Err(OpenError::Engine { .. })
        ));
    }
}
