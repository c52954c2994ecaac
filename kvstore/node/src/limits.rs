//! Every bound of the raft loop, in one place, with the reason for each value.

/// Inputs waiting for the raft thread. When full, async callers get `Busy` (HTTP 503) at
/// once instead of queueing without bound.
pub const INBOX_MAX: usize = 16_384;

/// Inputs taken from the inbox before handling one `Ready`: this is the group commit, many
/// proposals and one sync. Bounded so ticks and peer messages are never starved.
pub const INBOX_DRAIN_MAX: usize = 4_096;

/// Proposals awaiting apply on this member. Beyond it, new proposals are refused with `Busy`.
pub const PENDING_PROPOSALS_MAX: usize = 65_536;

/// Quorum reads awaiting their read index.
pub const PENDING_READS_MAX: usize = 65_536;

/// Bytes of entries per append message (raft-rs `max_size_per_msg`).
pub const APPEND_BYTES_MAX: u64 = 1024 * 1024;

/// Append messages in flight per follower (raft-rs `max_inflight_msgs`).
pub const INFLIGHT_APPENDS_MAX: usize = 256;

/// Bytes of committed entries handed to one `Ready`, so one apply batch stays short.
pub const COMMITTED_BYTES_PER_READY_MAX: u64 = 16 * 1024 * 1024;
