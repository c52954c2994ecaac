//! How the raft loop hands messages to peers.

use raft::eraftpb::Message;

/// Sends raft messages to other members. Called on the raft thread, so `send` must never
/// block: an implementation queues with a bound and drops what does not fit (raft retries).
pub trait Transport: Send + 'static {
    /// Queue messages for delivery, each to its `to` member.
    fn send(&mut self, messages: Vec<Message>);

    /// A member joined the cluster (a committed configuration change): start delivering to
    /// it at `peer_url`. Must not block.
    fn add_peer(&mut self, _id: u64, _peer_url: &str) {}

    /// A member's peer URLs changed: deliver to it at `peer_url` from now on.
    fn update_peer(&mut self, _id: u64, _peer_url: &str) {}
}
