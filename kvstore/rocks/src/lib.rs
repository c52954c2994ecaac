//! RocksDB-backed `LogStorage` for Keel members.
//!
//! Owns: the on-disk layout (declared in `schema`), atomic persistence of entries with the hard
//! state, and the member's stored identity (node id, cluster id) that guards against starting
//! on another member's or another cluster's data.
//!
//! This is the only crate that compiles RocksDB, so that everything else builds without it.

mod identity;
mod schema;
mod storage;

pub use identity::MemberIdentity;
pub use storage::{OpenError, RocksStorage};
