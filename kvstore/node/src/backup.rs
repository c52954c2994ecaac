//! The backup file: one member's v2 store as of a linearizable read point, to restore into a
//! new cluster (`keel --restore FILE`). Membership, raft state and request ids are not in it:
//! the restored cluster has its own members and an empty log.
//!
//! Format (all integers big-endian): the 8 magic bytes `KEELBKUP`, a `u32` format version, the
//! `u64` raft index the store reflects, the `u64` store-index (`X-Etcd-Index`), the `u64`
//! length of the store bytes, the store bytes (`v2store::Store::save`), and a `u64` FNV-1a
//! checksum of everything before it.

use thiserror::Error;
use v2store::Store;

const MAGIC: &[u8; 8] = b"KEELBKUP";
const VERSION: u32 = 1;
const HEADER_LEN: usize = 8 + 4 + 8 + 8 + 8;

/// Why a backup file cannot be restored.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum BackupError {
    /// Not a Keel backup (wrong magic bytes or too short).
    #[error("not a Keel backup file")]
    NotABackup,
    /// Written by a format this version cannot read.
    #[error("backup format version {found} is not supported (this keel reads version {VERSION})")]
    Version {
        /// The version in the file.
        found: u32,
    },
    /// Truncated or altered.
    #[error("the backup file is damaged ({0})")]
    Damaged(&'static str),
}

/// A decoded backup.
#[derive(Debug)]
pub struct Backup {
    /// The raft index the store reflects on the member it came from.
    pub raft_index: u64,
    /// The store's own index.
    pub store_index: u64,
    /// `Store::save` bytes.
    pub store: Vec<u8>,
}

fn fnv1a(bytes: &[u8]) -> u64 {
    let mut hash = v2store::Fnv1a::new();
    hash.write_bytes(bytes);
    hash.finish()
}

/// Encodes a backup of `store` taken at `raft_index`.
#[must_use]
pub fn encode(store: &Store, raft_index: u64) -> Vec<u8> {
    let saved = store.save();
    let mut bytes = Vec::with_capacity(HEADER_LEN + saved.len() + 8);
    bytes.extend_from_slice(MAGIC);
    bytes.extend_from_slice(&VERSION.to_be_bytes());
    bytes.extend_from_slice(&raft_index.to_be_bytes());
    bytes.extend_from_slice(&store.index().0.to_be_bytes());
    bytes.extend_from_slice(&(saved.len() as u64).to_be_bytes());
    bytes.extend_from_slice(&saved);
    let checksum = fnv1a(&bytes);
    bytes.extend_from_slice(&checksum.to_be_bytes());
    bytes
}

fn u64_at(bytes: &[u8], at: usize) -> Result<u64, BackupError> {
    let slice = bytes
        .get(at..at + 8)
        .ok_or(BackupError::Damaged("truncated"))?;
    let array: [u8; 8] = slice
        .try_into()
        .map_err(|_| BackupError::Damaged("truncated"))?;
    Ok(u64::from_be_bytes(array))
}

/// Decodes and verifies a backup, including that its store loads.
///
/// # Errors
/// `BackupError` naming what is wrong.
pub fn decode(bytes: &[u8]) -> Result<Backup, BackupError> {
    if bytes.len() < HEADER_LEN + 8 || &bytes[..8] != MAGIC {
        return Err(BackupError::NotABackup);
    }
    let version = u32::from_be_bytes(
        bytes[8..12]
            .try_into()
            .map_err(|_| BackupError::NotABackup)?,
    );
    if version != VERSION {
        return Err(BackupError::Version { found: version });
    }
    let raft_index = u64_at(bytes, 12)?;
    let store_index = u64_at(bytes, 20)?;
    let length = usize::try_from(u64_at(bytes, 28)?).map_err(|_| BackupError::Damaged("length"))?;
    let end = HEADER_LEN
        .checked_add(length)
        .ok_or(BackupError::Damaged("length"))?;
    if bytes.len() != end + 8 {
        return Err(BackupError::Damaged("length does not match the file"));
    }
    if fnv1a(&bytes[..end]) != u64_at(bytes, end)? {
        return Err(BackupError::Damaged("checksum mismatch"));
    }
    let store = bytes[HEADER_LEN..end].to_vec();
    Store::recover(&store).map_err(|_| BackupError::Damaged("the store does not load"))?;
    Ok(Backup {
        raft_index,
        store_index,
        store,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use v2store::{Mutation, Time};

    // Goal: a backup round-trips, and every kind of damage is named rather than loaded.
    #[test]
    fn round_trip_and_damage() {
        let mut store = Store::new();
        let put = Mutation::Set {
            path: "/a".into(),
            value: "1".into(),
            dir: false,
            expire_at: None,
            refresh: false,
        };
        let _ = store.apply(&put, Time(0));
        let bytes = encode(&store, 42);
        let backup = decode(&bytes).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(backup.raft_index, 42);
        assert_eq!(backup.store_index, store.index().0);
        let restored = Store::recover(&backup.store).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(restored.content_hash(), store.content_hash());

        assert_eq!(decode(b"hello").unwrap_err(), BackupError::NotABackup);
        let mut flipped = bytes.clone();
        let middle = flipped.len() / 2;
        flipped[middle] ^= 1;
        assert_eq!(
            decode(&flipped).unwrap_err(),
            BackupError::Damaged("checksum mismatch")
        );
        assert!(matches!(
            decode(&bytes[..bytes.len() - 3]).unwrap_err(),
            BackupError::Damaged(_)
        ));
        let mut newer = bytes;
        newer[11] = 9;
        assert_eq!(
            decode(&newer).unwrap_err(),
            BackupError::Version { found: 9 }
        );
    }
}
