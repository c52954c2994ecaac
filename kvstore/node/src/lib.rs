//! The raft-rs driver of a Keel member.
//!
//! Owns: the replicated `Command` encoding, the state machine wrapper (v2 store plus member
//! attributes), the raft loop (`core` is the step logic, `thread` the OS thread that runs it),
//! proposal and ReadIndex tracking, and the `LogStorage` and `Transport` traits with in-memory
//! implementations for tests and the simulator.
//!
//! Invariants: applied ≤ committed ≤ last index; the term never decreases; apply is
//! deterministic (time arrives in commands).
//!
//! Must not depend on: HTTP, axum, JSON, wire types, RocksDB.

pub mod applied_requests;
pub mod backup;
pub mod command;
pub mod core;
mod core_ready;
pub mod handle;
pub mod ids;
pub mod limits;
mod logging;
pub mod members;
pub mod memory;
pub mod observe;
pub mod state;
pub mod storage;
pub mod thread;
pub mod transport;

pub use command::{Command, CommandBody, MemberAttributes};
pub use core::{Applied, ApplyReply, Input, NodeConfig, ProposeError, RaftCore, ReadError};
pub use handle::{NodeHandle, Progress, Role};
pub use ids::{ClusterId, NodeId, RaftIndex, RequestId, Term};
pub use members::{Member, Members};
pub use observe::Observer;
pub use state::StateMachine;
pub use storage::{LogStorage, StorageError};
pub use transport::Transport;

/// Re-exported raft-rs message types, so other crates need not depend on raft-rs directly.
pub use raft::eraftpb;
