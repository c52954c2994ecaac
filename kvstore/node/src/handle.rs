//! The async face of a member's raft loop: propose, quorum-read, and observe progress.

use crate::command::CommandBody;
use crate::core::{Applied, Input, ProposeError, ReadError};
use crate::ids::{NodeId, RaftIndex, Term};
use crate::state::StateMachine;
use raft::eraftpb::Message;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, AtomicU8, Ordering};
use std::sync::mpsc::{SyncSender, TrySendError};
use std::sync::{Arc, RwLock, RwLockReadGuard};
use tokio::sync::oneshot;
use v2store::Time;

/// A member's role in its current term.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Follows a leader (or waits for one).
    Follower,
    /// Campaigning (including pre-vote).
    Candidate,
    /// Leads the current term.
    Leader,
}

/// Progress the raft thread publishes for readers on other threads: lock-free, each value
/// individually current (not a consistent snapshot across fields).
#[derive(Debug, Default)]
pub struct Progress {
    leader: AtomicU64,
    term: AtomicU64,
    commit: AtomicU64,
    applied: AtomicU64,
    role: AtomicU8,
    leader_since: AtomicI64,
    stopped: AtomicBool,
    /// Append messages received from a leader (`recvAppendRequestCnt`).
    pub append_received: AtomicU64,
    /// Append messages sent to followers (`sendAppendRequestCnt`).
    pub append_sent: AtomicU64,
    /// Snapshots of the own state saved (and the log compacted behind them).
    pub snapshots_saved: AtomicU64,
    /// Snapshots received from a leader and installed.
    pub snapshots_installed: AtomicU64,
    /// Set when this member learns it was removed from the cluster.
    removed: AtomicBool,
    /// Raft index of the latest stored snapshot (0: none).
    pub snapshot_index: AtomicU64,
    /// First index still in the stored log (after compaction).
    pub first_index: AtomicU64,
    /// Last index in the log.
    pub last_index: AtomicU64,
    /// Leader changes seen: a leader became known that is not the last one known (etcd's
    /// `etcd_server_leader_changes_seen_total`; the first leader counts).
    pub leader_changes: AtomicU64,
    /// Proposals (and membership changes) answered with an error: no leader, busy, timed
    /// out, stopped (etcd's `etcd_server_proposals_failed_total`).
    pub proposals_failed: AtomicU64,
    /// Proposals waiting for their entry to be applied.
    pub proposals_pending: AtomicU64,
    /// Durations for metrics, when the member's owner set an observer.
    pub observer: crate::observe::ObserverSlot,
}

impl Progress {
    /// The known leader.
    pub fn leader(&self) -> Option<NodeId> {
        match self.leader.load(Ordering::Acquire) {
            0 => None,
            id => Some(NodeId(id)),
        }
    }
    /// The current term.
    pub fn term(&self) -> Term {
        Term(self.term.load(Ordering::Acquire))
    }
    /// The commit index.
    pub fn commit(&self) -> RaftIndex {
        RaftIndex(self.commit.load(Ordering::Acquire))
    }
    /// The applied index.
    pub fn applied(&self) -> RaftIndex {
        RaftIndex(self.applied.load(Ordering::Acquire))
    }
    /// This member's role.
    pub fn role(&self) -> Role {
        match self.role.load(Ordering::Acquire) {
            2 => Role::Leader,
            1 => Role::Candidate,
            _ => Role::Follower,
        }
    }
    /// When the current leader was first seen by this member.
    pub fn leader_since(&self) -> Time {
        Time(self.leader_since.load(Ordering::Acquire))
    }
    /// True once the raft loop has stopped.
    pub fn stopped(&self) -> bool {
        self.stopped.load(Ordering::Acquire)
    }

    pub(crate) fn set_soft(&self, leader: u64, role: Role, now: Time) {
        let previous = self.leader.swap(leader, Ordering::AcqRel);
        if previous != leader {
            self.leader_since.store(now.0, Ordering::Release);
            if leader != 0 {
                self.leader_changes.fetch_add(1, Ordering::Relaxed);
            }
        }
        let role = match role {
            Role::Follower => 0,
            Role::Candidate => 1,
            Role::Leader => 2,
        };
        self.role.store(role, Ordering::Release);
    }
    pub(crate) fn set_term(&self, term: u64) {
        let previous = self.term.swap(term, Ordering::AcqRel);
        assert!(previous <= term, "the term never decreases");
    }
    pub(crate) fn set_commit(&self, commit: u64) {
        self.commit.fetch_max(commit, Ordering::AcqRel);
    }
    pub(crate) fn set_applied(&self, applied: u64) {
        self.applied.store(applied, Ordering::Release);
    }
    pub(crate) fn proposal_failed(&self) {
        self.proposals_failed.fetch_add(1, Ordering::Relaxed);
    }
    pub(crate) fn set_stopped(&self) {
        self.stopped.store(true, Ordering::Release);
    }
    pub(crate) fn set_removed(&self) {
        self.removed.store(true, Ordering::Release);
    }
    /// True once this member knows it was removed from the cluster (it applied its own
    /// removal, or a peer refused it as removed); it must stop.
    pub fn removed(&self) -> bool {
        self.removed.load(Ordering::Acquire)
    }
}

/// A cheap, cloneable handle on a running member.
#[derive(Clone)]
pub struct NodeHandle {
    id: NodeId,
    inbox: SyncSender<Input>,
    state: Arc<RwLock<StateMachine>>,
    progress: Arc<Progress>,
}

impl NodeHandle {
    pub(crate) fn new(
        id: NodeId,
        inbox: SyncSender<Input>,
        state: Arc<RwLock<StateMachine>>,
        progress: Arc<Progress>,
    ) -> NodeHandle {
        NodeHandle {
            id,
            inbox,
            state,
            progress,
        }
    }

    /// This member's id.
    pub fn id(&self) -> NodeId {
        self.id
    }

    /// Published progress (leader, term, indexes).
    pub fn progress(&self) -> &Progress {
        &self.progress
    }

    /// Read access to the applied state. Hold the guard briefly and never across an await.
    ///
    /// # Panics
    /// If the raft thread panicked while applying (the member is then broken anyway).
    pub fn state(&self) -> RwLockReadGuard<'_, StateMachine> {
        self.state
            .read()
            .expect("state lock poisoned: apply panicked and the member is broken")
    }

    /// Propose a command and wait until it is applied here.
    ///
    /// # Errors
    /// `Busy`/`NoLeader`/`NotRunning` mean it was not applied; `Timeout`/`Stopped` mean the
    /// outcome is unknown.
    pub async fn propose(&self, body: CommandBody, now: Time) -> Result<Applied, ProposeError> {
        let (reply, receiver) = oneshot::channel();
        self.inbox
            .try_send(Input::Propose { body, now, reply })
            .map_err(|e| match e {
                TrySendError::Full(_) => ProposeError::Busy,
                TrySendError::Disconnected(_) => ProposeError::NotRunning,
            })?;
        receiver.await.unwrap_or(Err(ProposeError::Stopped))
    }

    /// Remove member `id` from the cluster (a raft configuration change) and wait until the
    /// change is applied here.
    ///
    /// # Errors
    /// `Busy` when another change is in flight or the inbox is full, `NoLeader`, or
    /// `Timeout`/`Stopped` when the outcome is unknown.
    pub async fn remove_member(&self, id: NodeId) -> Result<(), ProposeError> {
        let (reply, receiver) = oneshot::channel();
        self.inbox
            .try_send(Input::RemoveMember { id, reply })
            .map_err(|e| match e {
                TrySendError::Full(_) => ProposeError::Busy,
                TrySendError::Disconnected(_) => ProposeError::NotRunning,
            })?;
        receiver.await.unwrap_or(Err(ProposeError::Timeout))
    }

    /// Add member `id` with `peer_urls` to the cluster (a raft configuration change) and wait
    /// until the change is applied here.
    ///
    /// # Errors
    /// As `remove_member`.
    pub async fn add_member(&self, id: NodeId, peer_urls: Vec<String>) -> Result<(), ProposeError> {
        let (reply, receiver) = oneshot::channel();
        self.inbox
            .try_send(Input::AddMember {
                id,
                peer_urls,
                reply,
            })
            .map_err(|e| match e {
                TrySendError::Full(_) => ProposeError::Busy,
                TrySendError::Disconnected(_) => ProposeError::NotRunning,
            })?;
        receiver.await.unwrap_or(Err(ProposeError::Timeout))
    }

    /// Record that a peer refused this member as removed from the cluster.
    pub fn mark_removed(&self) {
        self.progress.set_removed();
    }

    /// If this member leads, hand leadership to the most up-to-date follower and wait until
    /// another member leads (at most an election timeout). Returns the new leader, or `None`
    /// when this member was not leader, the transfer did not finish, or the loop stopped.
    pub async fn transfer_leadership(&self) -> Option<NodeId> {
        let (reply, receiver) = oneshot::channel();
        self.inbox
            .try_send(Input::TransferLeadership { reply })
            .ok()?;
        receiver.await.ok().flatten()
    }

    /// Wait for a linearizable read point (raft ReadIndex, thesis §6.4) and for this member to
    /// have applied up to it; a read of local state after this is linearizable.
    ///
    /// # Errors
    /// `ReadError` when no read index could be had before the deadline.
    pub async fn read_index(&self) -> Result<RaftIndex, ReadError> {
        let (reply, receiver) = oneshot::channel();
        self.inbox
            .try_send(Input::ReadIndex { reply })
            .map_err(|e| match e {
                TrySendError::Full(_) => ReadError::Busy,
                TrySendError::Disconnected(_) => ReadError::Stopped,
            })?;
        receiver.await.unwrap_or(Err(ReadError::Stopped))
    }

    /// Hand a message from a peer to the raft loop. Returns false when the inbox is full or
    /// the loop stopped; the message is then dropped, which raft tolerates.
    pub fn step(&self, message: Message) -> bool {
        self.inbox.try_send(Input::Step(Box::new(message))).is_ok()
    }

    /// Tell raft that a peer could not be reached, so it slows appends to it.
    pub fn report_unreachable(&self, peer: NodeId) {
        // Best effort: a full inbox only delays raft's probe state.
        let _ = self.inbox.try_send(Input::ReportUnreachable(peer));
    }

    /// Tell raft a snapshot message to `peer` was not delivered, so it sends a new one now
    /// rather than after the snapshot timeout.
    pub fn report_snapshot_failure(&self, peer: NodeId) {
        // Best effort (never block a transport task): a lost report only delays the resend
        // until the leader's snapshot timeout.
        let _ = self.inbox.try_send(Input::ReportSnapshotFailure(peer));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Goal: leader changes count every newly known leader (the first included, and a
    /// leader known again after none), never the loss of one. Method: the soft states of
    /// none, 1, 1, none, 1, 2 in turn.
    #[test]
    fn leader_changes_count_each_new_leader() {
        let progress = Progress::default();
        let seen = |progress: &Progress| progress.leader_changes.load(Ordering::Relaxed);
        progress.set_soft(0, Role::Follower, Time(1));
        assert_eq!(seen(&progress), 0);
        progress.set_soft(1, Role::Follower, Time(2));
        progress.set_soft(1, Role::Follower, Time(3));
        assert_eq!(seen(&progress), 1);
        progress.set_soft(0, Role::Candidate, Time(4));
        assert_eq!(seen(&progress), 1);
        progress.set_soft(1, Role::Follower, Time(5));
        progress.set_soft(2, Role::Leader, Time(6));
        assert_eq!(seen(&progress), 3);
        assert_eq!(progress.leader(), Some(NodeId(2)));
    }
}
