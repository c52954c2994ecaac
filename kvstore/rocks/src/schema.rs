//! Every column family and key encoding, in one place (STYLE §2.4).

/// Raft log entries: big-endian raft index → protobuf `Entry`. Big-endian so that byte order is
/// log order and range deletes cut a suffix.
pub const CF_RAFT_LOG: &str = "raft_log";
/// `HardState` and `ConfState`, protobuf-encoded.
pub const CF_RAFT_STATE: &str = "raft_state";
/// The latest raft snapshot: metadata and data.
pub const CF_SNAPSHOT: &str = "snapshot";
/// Schema version and member identity.
pub const CF_META: &str = "meta";

/// All column families, for opening.
pub const COLUMN_FAMILIES: [&str; 4] = [CF_RAFT_LOG, CF_RAFT_STATE, CF_SNAPSHOT, CF_META];

/// Key of the hard state in `raft_state`.
pub const KEY_HARD_STATE: &[u8] = b"hard_state";
/// Key of the conf state in `raft_state`.
pub const KEY_CONF_STATE: &[u8] = b"conf_state";
/// Key of the log start in `raft_state`: index and term (big-endian u64 each) of the entry
/// just before the first stored one, i.e. the compaction point. Missing means the snapshot's.
pub const KEY_LOG_START: &[u8] = b"log_start";
/// Key of the snapshot metadata in `snapshot`.
pub const KEY_SNAPSHOT_METADATA: &[u8] = b"metadata";
/// Key of the snapshot data in `snapshot`.
pub const KEY_SNAPSHOT_DATA: &[u8] = b"data";
/// Key of the schema version (u32, big-endian) in `meta`.
pub const KEY_SCHEMA_VERSION: &[u8] = b"schema_version";
/// Key of the restored store in `meta` (`keel --restore`): the state a new member starts from
/// before any raft snapshot exists. Missing means an empty store.
pub const KEY_INITIAL_STORE: &[u8] = b"initial_store";
/// Key of the member identity in `meta`.
pub const KEY_IDENTITY: &[u8] = b"identity";

/// The layout version this code writes and reads. Opening refuses any other.
pub const SCHEMA_VERSION: u32 = 1;

/// The `raft_state` value of a log start.
#[must_use]
pub fn log_start_value(index: u64, term: u64) -> [u8; 16] {
    let mut value = [0u8; 16];
    value[..8].copy_from_slice(&index.to_be_bytes());
    value[8..].copy_from_slice(&term.to_be_bytes());
    value
}

/// Decodes a `log_start_value`.
#[must_use]
pub fn parse_log_start(bytes: &[u8]) -> Option<(u64, u64)> {
    let index = u64::from_be_bytes(bytes.get(..8)?.try_into().ok()?);
    let term = u64::from_be_bytes(bytes.get(8..16)?.try_into().ok()?);
    (bytes.len() == 16).then_some((index, term))
}

/// The `raft_log` key of an index.
#[must_use]
pub fn log_key(index: u64) -> [u8; 8] {
    index.to_be_bytes()
}
