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
/// Key of the snapshot metadata in `snapshot`.
pub const KEY_SNAPSHOT_METADATA: &[u8] = b"metadata";
/// Key of the snapshot data in `snapshot`.
pub const KEY_SNAPSHOT_DATA: &[u8] = b"data";
/// Key of the schema version (u32, big-endian) in `meta`.
pub const KEY_SCHEMA_VERSION: &[u8] = b"schema_version";
/// Key of the member identity in `meta`.
pub const KEY_IDENTITY: &[u8] = b"identity";

/// The layout version this code writes and reads. Opening refuses any other.
pub const SCHEMA_VERSION: u32 = 1;

/// The `raft_log` key of an index.
#[must_use]
pub fn log_key(index: u64) -> [u8; 8] {
    index.to_be_bytes()
}
