//! The raft step logic of one member, free of threads, clocks and sockets.
//!
//! `RaftCore` owns raft-rs's `RawNode`, the pending proposals and the pending quorum reads.
//! The production thread (`thread.rs`) and the deterministic simulator both drive it through
//! the same three calls: `handle(input)`, `tick(now)` and `on_ready()`. Time arrives as a
//! parameter; storage and network are the `LogStorage` and `Transport` it was built with.
//!
//! Invariants (asserted in release builds): applied ≤ committed ≤ last index after each ready;
//! the term never decreases.

use crate::command::{Command, CommandBody, MemberAttributes};
use crate::handle::Progress;
use crate::ids::{NodeId, RaftIndex, RequestId, Term};
use crate::limits;
use crate::state::{ApplyOutcome, StateMachine};
use crate::storage::{LogStorage, StorageError};
use crate::transport::Transport;
use raft::eraftpb::{Message, MessageType};
use raft::{RawNode, StateRole};
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Arc, RwLock};
use thiserror::Error;
use tokio::sync::oneshot;
use v2store::Time;

/// Settings of one member's raft loop. Durations are counted in ticks; only the thread that
/// drives the core knows how long a tick is.
#[derive(Debug, Clone)]
pub struct NodeConfig {
    /// This member's raft id.
    pub id: NodeId,
    /// `--name`, published to the cluster.
    pub name: String,
    /// `--advertise-client-urls`, published to the cluster.
    pub client_urls: Vec<String>,
    /// Ticks without a leader before a follower campaigns, at the least.
    pub election_ticks: usize,
    /// Exclusive upper bound of the randomized election timeout (raft-rs draws it in
    /// `election_ticks..election_ticks_max` after every term change; thesis §3.4). Production
    /// uses twice `election_ticks`; the simulator uses `election_ticks + 1`, which makes the
    /// draw deterministic, and varies `election_ticks` per member from its seed instead.
    pub election_ticks_max: usize,
    /// Ticks between leader heartbeats.
    pub heartbeat_ticks: usize,
    /// Ticks a proposal or quorum read may wait before it is answered `Timeout`.
    pub request_timeout_ticks: u64,
    /// Ticks between the leader's expiry proposals (etcd's SYNC interval, 500 ms).
    pub expire_interval_ticks: u64,
    /// Ticks between attempts to publish this member's attributes, and between re-issues of a
    /// quorum read whose ReadIndex request may have been lost.
    pub retry_ticks: u64,
    /// Applied entries between two snapshots of the state machine (etcd's `--snapshot-count`);
    /// 0 turns snapshots off.
    pub snapshot_entries: u64,
    /// Entries kept in the log behind a snapshot, so slow followers can catch up from the log
    /// rather than by snapshot (etcd keeps 5000).
    pub catch_up_entries: u64,
    /// First proposal counter of this process lifetime. It must exceed every counter used by
    /// an earlier lifetime of this member, since replayed entries carry those: the thread uses
    /// the wall clock in nanoseconds at start, the simulator a restart count shifted high.
    pub first_seq: u64,
}

/// A completed proposal.
#[derive(Debug)]
pub struct Applied {
    /// What apply produced.
    pub reply: ApplyReply,
    /// The raft index of the entry.
    pub raft_index: RaftIndex,
    /// The term of the entry.
    pub raft_term: Term,
}

/// What apply produced for a proposal.
pub type ApplyReply = ApplyOutcome;

/// Why a proposal has no result.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum ProposeError {
    /// Too many requests are queued; not applied, retry later.
    #[error("too many requests in flight")]
    Busy,
    /// No leader is known; not applied, retry after an election.
    #[error("no leader")]
    NoLeader,
    /// The raft loop is not running; not applied.
    #[error("member is not running")]
    NotRunning,
    /// The deadline passed; the entry may still commit. Outcome unknown.
    #[error("request timed out")]
    Timeout,
    /// The raft loop stopped while the proposal was in flight. Outcome unknown.
    #[error("member stopped")]
    Stopped,
}

impl ProposeError {
    /// True when the command may have been applied.
    #[must_use]
    pub fn is_indeterminate(self) -> bool {
        matches!(self, ProposeError::Timeout | ProposeError::Stopped)
    }
}

/// Why a quorum read has no read point.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum ReadError {
    /// Too many requests queued.
    #[error("too many requests in flight")]
    Busy,
    /// No read index in time (no leader, or no quorum).
    #[error("request timed out")]
    Timeout,
    /// The raft loop stopped.
    #[error("member stopped")]
    Stopped,
}

/// What the raft loop takes in.
pub enum Input {
    /// Replicate a command and answer when it is applied here.
    Propose {
        /// The command.
        body: CommandBody,
        /// The proposer's clock.
        now: Time,
        /// Where the outcome goes.
        reply: oneshot::Sender<Result<Applied, ProposeError>>,
    },
    /// Find a linearizable read point.
    ReadIndex {
        /// Where the applied read index goes.
        reply: oneshot::Sender<Result<RaftIndex, ReadError>>,
    },
    /// A message from a peer.
    Step(Box<Message>),
    /// A peer could not be reached.
    ReportUnreachable(NodeId),
    /// A snapshot message to this peer was not delivered (raft-rs then sends a new one).
    ReportSnapshotFailure(NodeId),
    /// Add a member to the cluster through a raft configuration change (one at a time); the
    /// reply comes when the change is applied here.
    AddMember {
        /// The new member's id.
        id: NodeId,
        /// Its peer URLs.
        peer_urls: Vec<String>,
        /// Where the outcome goes.
        reply: oneshot::Sender<Result<(), ProposeError>>,
    },
    /// Remove a member from the cluster through a raft configuration change (one at a time);
    /// the reply comes when the change is applied here.
    RemoveMember {
        /// The member to remove.
        id: NodeId,
        /// Where the outcome goes.
        reply: oneshot::Sender<Result<(), ProposeError>>,
    },
    /// If leader, hand leadership to the most up-to-date follower (raft thesis §3.10); the
    /// reply is the new leader, or `None` when this member was not leader or the transfer did
    /// not finish within an election timeout.
    TransferLeadership {
        /// Where the outcome goes.
        reply: oneshot::Sender<Option<NodeId>>,
    },
    /// Stop the loop; pending requests get `Stopped`.
    Shutdown,
}

/// A fatal condition: the loop must stop and the process abort.
#[derive(Debug, Error)]
pub enum FatalError {
    /// Storage failed.
    #[error(transparent)]
    Storage(#[from] StorageError),
    /// A committed entry does not decode.
    #[error("committed entry {index} cannot be decoded: {source}")]
    Command {
        /// Raft index of the entry.
        index: u64,
        /// Why.
        source: crate::command::CommandDecodeError,
    },
    /// A received snapshot does not decode.
    #[error("snapshot cannot be recovered: {source}")]
    Snapshot {
        /// Why.
        source: v2store::StoreError,
    },
    /// A committed configuration change does not decode.
    #[error("committed configuration change {index} cannot be decoded")]
    ConfChange {
        /// Raft index of the entry.
        index: u64,
    },
    /// raft-rs refused something that must not fail.
    #[error("raft: {0}")]
    Raft(#[from] raft::Error),
}

/// A proposal of this member awaiting apply.
pub(crate) struct PendingProposal {
    pub(crate) reply: oneshot::Sender<Result<Applied, ProposeError>>,
    /// The encoded command, proposed again when a new leader appears (its first copy may have
    /// gone to a leader that died); the state machine applies only the first copy to commit.
    pub(crate) entry: Vec<u8>,
}

pub(crate) struct PendingRead {
    pub(crate) reply: oneshot::Sender<Result<RaftIndex, ReadError>>,
    deadline_tick: u64,
    issued_tick: u64,
}

/// One member's raft state machine driver.
pub struct RaftCore<S: LogStorage, T: Transport> {
    pub(crate) config: NodeConfig,
    pub(crate) raw: RawNode<S>,
    pub(crate) transport: T,
    pub(crate) state: Arc<RwLock<StateMachine>>,
    pub(crate) progress: Arc<Progress>,
    pub(crate) proposals: HashMap<u64, PendingProposal>,
    proposal_deadlines: VecDeque<(u64, u64)>,
    pub(crate) reads: HashMap<u64, PendingRead>,
    pub(crate) reads_ready: BTreeMap<u64, Vec<oneshot::Sender<Result<RaftIndex, ReadError>>>>,
    next_seq: u64,
    ticks: u64,
    last_expire_tick: u64,
    last_publish_tick: Option<u64>,
    /// Set when a new leader is seen; pending proposals are proposed again after the ready.
    pub(crate) repropose: bool,
    /// Raft index of the latest snapshot stored (made here or received).
    pub(crate) snapshot_index: u64,
    /// As leader: the tick at which each follower was first seen waiting for a snapshot.
    snapshot_waits: HashMap<u64, u64>,
    /// As leader, with an observer: when the oldest unanswered heartbeat to each peer left.
    pub(crate) heartbeats_out: HashMap<u64, std::time::Instant>,
    /// Voters in the stored snapshot's membership (empty: not known since start).
    pub(crate) snapshot_voters: Vec<u64>,
    /// Take a snapshot at the next ready even if `snapshot_entries` have not passed.
    pub(crate) force_snapshot: bool,
    /// Configuration changes proposed here, by context sequence number: deadline tick, reply.
    pub(crate) conf_changes: HashMap<u64, (u64, oneshot::Sender<Result<(), ProposeError>>)>,
    /// A leadership transfer in progress: the target, the deadline tick, the reply.
    pub(crate) transfer: Option<(u64, u64, oneshot::Sender<Option<NodeId>>)>,
    pub(crate) now: Time,
}

/// A heartbeat answered later than this is not counted as a round trip (see
/// `heartbeat_answered`).
const HEARTBEAT_ROUND_TRIP_MAX: std::time::Duration = std::time::Duration::from_secs(5);

/// Most deadline records kept before completed ones are swept out.
const PROPOSAL_DEADLINES_MAX: usize = 2 * limits::PENDING_PROPOSALS_MAX;

impl<S: LogStorage, T: Transport> RaftCore<S, T> {
    /// Build the core over storage that already holds this member's log. `applied` is the
    /// raft index that `state` reflects (the snapshot's index, or 0).
    ///
    /// # Errors
    /// raft-rs refuses the configuration or the storage's initial state.
    pub fn new(
        config: NodeConfig,
        storage: S,
        transport: T,
        state: Arc<RwLock<StateMachine>>,
        progress: Arc<Progress>,
        applied: u64,
    ) -> Result<Self, raft::Error> {
        let raft_config = raft::Config {
            id: config.id.0,
            election_tick: config.election_ticks,
            min_election_tick: config.election_ticks,
            max_election_tick: config.election_ticks_max,
            heartbeat_tick: config.heartbeat_ticks,
            applied,
            max_size_per_msg: limits::APPEND_BYTES_MAX,
            max_inflight_msgs: limits::INFLIGHT_APPENDS_MAX,
            // An isolated leader steps down after an election timeout without a quorum, so a
            // partitioned old leader stops accepting writes (thesis §6.2).
            check_quorum: true,
            // Pre-vote keeps a rejoining member from disrupting a healthy leader (thesis §9.6).
            pre_vote: true,
            read_only_option: raft::ReadOnlyOption::Safe,
            max_committed_size_per_ready: limits::COMMITTED_BYTES_PER_READY_MAX,
            ..raft::Config::default()
        };
        raft_config.validate()?;
        let hard_state = storage.hard_state();
        let mut raw = RawNode::new(&raft_config, storage, &crate::logging::raft_logger())?;
        // A one-member cluster need not wait an election timeout to lead itself.
        let voters = raw.raft.prs().conf().voters().ids();
        if voters.len() == 1 && voters.contains(config.id.0) {
            raw.campaign()?;
        }
        progress.set_term(hard_state.term);
        progress.set_commit(hard_state.commit);
        progress.set_applied(applied);
        let next_seq = config.first_seq;
        let core = RaftCore {
            config,
            raw,
            transport,
            state,
            progress,
            proposals: HashMap::new(),
            proposal_deadlines: VecDeque::new(),
            reads: HashMap::new(),
            reads_ready: BTreeMap::new(),
            next_seq,
            ticks: 0,
            last_expire_tick: 0,
            last_publish_tick: None,
            repropose: false,
            snapshot_index: applied,
            snapshot_waits: HashMap::new(),
            heartbeats_out: HashMap::new(),
            snapshot_voters: Vec::new(),
            force_snapshot: false,
            transfer: None,
            conf_changes: HashMap::new(),
            now: Time::default(),
        };
        core.publish_log_bounds();
        Ok(core)
    }

    /// A heartbeat response from `peer`: the round trip of its oldest unanswered heartbeat,
    /// to the observer (etcd's peer round-trip time).
    fn heartbeat_answered(&mut self, peer: u64) {
        if let Some(sent) = self.heartbeats_out.remove(&peer) {
            let took = sent.elapsed();
            // Longer than any round trip a member can still be led through: the answer is
            // to a later heartbeat after an outage, not a measurement.
            if took > HEARTBEAT_ROUND_TRIP_MAX {
                return;
            }
            if let Some(observer) = self.progress.observer.get() {
                observer.heartbeat_round_trip(NodeId(peer), took);
            }
        }
    }

    /// Publishes how many proposals wait (etcd's `proposals_pending`).
    pub(crate) fn publish_pending(&self) {
        self.progress.proposals_pending.store(
            self.proposals.len() as u64,
            std::sync::atomic::Ordering::Relaxed,
        );
    }

    /// raft-rs's node, for inspection (the simulator checks invariants through it).
    pub fn raw(&self) -> &RawNode<S> {
        &self.raw
    }

    /// Take one input. Returns false when the loop must stop.
    pub fn handle(&mut self, input: Input) -> bool {
        match input {
            Input::Propose { body, now, reply } => self.propose(body, now, reply),
            Input::ReadIndex { reply } => self.start_read(reply),
            Input::Step(message) => {
                match message.get_msg_type() {
                    MessageType::MsgAppend => {
                        self.progress
                            .append_received
                            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    }
                    MessageType::MsgHeartbeatResponse => self.heartbeat_answered(message.from),
                    _ => {}
                }
                if let Err(error) = self.raw.step(*message) {
                    tracing::debug!(%error, "raft message ignored");
                }
            }
            Input::ReportUnreachable(peer) => {
                // Its heartbeats went nowhere: no round trip to measure from them.
                self.heartbeats_out.remove(&peer.0);
                self.raw.report_unreachable(peer.0);
            }
            Input::ReportSnapshotFailure(peer) => {
                self.raw
                    .report_snapshot(peer.0, raft::SnapshotStatus::Failure);
            }
            Input::TransferLeadership { reply } => self.start_transfer(reply),
            Input::RemoveMember { id, reply } => {
                self.propose_conf_change(raft::eraftpb::ConfChangeType::RemoveNode, id, &[], reply);
            }
            Input::AddMember {
                id,
                peer_urls,
                reply,
            } => self.propose_conf_change(
                raft::eraftpb::ConfChangeType::AddNode,
                id,
                &peer_urls,
                reply,
            ),
            Input::Shutdown => {
                self.fail_all();
                return false;
            }
        }
        true
    }

    /// Advance logical time by one tick; `now` is the wall time to stamp leader proposals.
    pub fn tick(&mut self, now: Time) {
        self.now = now;
        self.ticks += 1;
        self.raw.tick();
        while let Some(&(deadline, seq)) = self.proposal_deadlines.front() {
            if deadline > self.ticks {
                break;
            }
            self.proposal_deadlines.pop_front();
            if let Some(pending) = self.proposals.remove(&seq) {
                // The entry may still commit later: the outcome is unknown, not failed.
                self.progress.proposal_failed();
                let _ = pending.reply.send(Err(ProposeError::Timeout));
                self.publish_pending();
            }
        }
        self.tick_reads();
        let now_tick = self.ticks;
        self.conf_changes
            .retain(|_, (deadline, _)| *deadline > now_tick);
        self.retry_stuck_snapshots();
        self.check_transfer();
        self.maybe_propose_expire();
        self.maybe_publish();
    }

    /// Propose adding or removing `id` as a `ConfChangeV2`. The entry's context names this
    /// member and a sequence number, so the apply can answer the proposer, followed by the
    /// new member's peer URLs (one per line) for an addition. raft-rs refuses a second change
    /// while one is uncommitted; that is answered `Busy`.
    fn propose_conf_change(
        &mut self,
        change_type: raft::eraftpb::ConfChangeType,
        id: NodeId,
        peer_urls: &[String],
        reply: oneshot::Sender<Result<(), ProposeError>>,
    ) {
        use raft::eraftpb::{ConfChangeSingle, ConfChangeV2};
        if self.raw.raft.leader_id == raft::INVALID_ID {
            self.progress.proposal_failed();
            let _ = reply.send(Err(ProposeError::NoLeader));
            return;
        }
        let seq = self.next_seq;
        self.next_seq += 1;
        let mut context = self.config.id.0.to_be_bytes().to_vec();
        context.extend_from_slice(&seq.to_be_bytes());
        context.extend_from_slice(peer_urls.join("\n").as_bytes());
        let mut single = ConfChangeSingle::default();
        single.set_change_type(change_type);
        single.node_id = id.0;
        let mut change = ConfChangeV2::default();
        change.set_changes(vec![single].into());
        match self.raw.propose_conf_change(context, change) {
            Ok(()) => {
                let deadline = self.ticks + self.config.request_timeout_ticks;
                self.conf_changes.insert(seq, (deadline, reply));
            }
            Err(error) => {
                tracing::info!(%error, "configuration change refused");
                self.progress.proposal_failed();
                let _ = reply.send(Err(ProposeError::Busy));
            }
        }
    }

    fn start_transfer(&mut self, reply: oneshot::Sender<Option<NodeId>>) {
        if self.raw.raft.state != StateRole::Leader {
            let _ = reply.send(None);
            return;
        }
        let own = self.config.id.0;
        let voters = self.raw.raft.prs().conf().voters().ids();
        // The most up-to-date voter that has been heard from recently takes over first.
        let target = self
            .raw
            .raft
            .prs()
            .iter()
            .filter(|(id, progress)| **id != own && voters.contains(**id) && progress.recent_active)
            .max_by_key(|(_, progress)| progress.matched)
            .map(|(id, _)| *id);
        let Some(target) = target else {
            let _ = reply.send(None);
            return;
        };
        tracing::info!(
            target = format_args!("{target:x}"),
            "transferring leadership"
        );
        self.raw.transfer_leader(target);
        let deadline = self.ticks + self.config.election_ticks as u64;
        self.transfer = Some((target, deadline, reply));
    }

    /// Answers a transfer once another member leads, or gives up at its deadline.
    pub(crate) fn check_transfer(&mut self) {
        let Some((target, deadline, _)) = &self.transfer else {
            return;
        };
        let leader = self.raw.raft.leader_id;
        let moved = self.raw.raft.state != StateRole::Leader
            && leader != raft::INVALID_ID
            && leader != self.config.id.0;
        if moved || self.ticks > *deadline {
            let target = *target;
            if let Some((_, _, reply)) = self.transfer.take() {
                if moved {
                    tracing::info!(
                        leader = format_args!("{leader:x}"),
                        "transferred leadership"
                    );
                    let _ = reply.send(Some(NodeId(leader)));
                } else {
                    tracing::warn!(
                        target = format_args!("{target:x}"),
                        "leadership transfer did not finish"
                    );
                    let _ = reply.send(None);
                }
            }
        }
    }

    /// A follower in raft-rs's snapshot state gets nothing until the snapshot is acknowledged
    /// or reported failed; a snapshot message lost on the way (a dropped connection, a full
    /// queue) would leave it there for good. After `request_timeout_ticks` without progress
    /// the transfer is reported failed, so the leader probes and sends a fresh snapshot.
    fn retry_stuck_snapshots(&mut self) {
        if self.raw.raft.state != StateRole::Leader {
            self.snapshot_waits.clear();
            return;
        }
        let waiting: Vec<(u64, u64)> = self
            .raw
            .raft
            .prs()
            .iter()
            .filter(|(_, progress)| progress.state == raft::ProgressState::Snapshot)
            .map(|(id, progress)| (*id, progress.pending_snapshot))
            .collect();
        self.snapshot_waits
            .retain(|id, _| waiting.iter().any(|(waiting, _)| waiting == id));
        for (id, sent) in waiting {
            if !self.snapshot_waits.contains_key(&id) {
                if !self.snapshot_voters.contains(&id) {
                    // A member added after the stored snapshot would refuse it (it is not in
                    // that snapshot's membership): take a fresh one and send that instead.
                    tracing::info!(
                        follower = format_args!("{id:x}"),
                        "new snapshot for a member the stored one predates"
                    );
                    self.force_snapshot = true;
                    self.raw.report_snapshot(id, raft::SnapshotStatus::Failure);
                    continue;
                }
                if sent < self.snapshot_index {
                    // A newer snapshot exists than the one on its way: send that one.
                    self.raw.report_snapshot(id, raft::SnapshotStatus::Failure);
                    continue;
                }
            }
            let since = *self.snapshot_waits.entry(id).or_insert(self.ticks);
            if self.ticks - since >= self.config.request_timeout_ticks {
                tracing::info!(
                    follower = format_args!("{id:x}"),
                    "snapshot not acknowledged; sending again"
                );
                self.raw.report_snapshot(id, raft::SnapshotStatus::Failure);
                self.snapshot_waits.remove(&id);
            }
        }
    }

    fn propose(
        &mut self,
        body: CommandBody,
        now: Time,
        reply: oneshot::Sender<Result<Applied, ProposeError>>,
    ) {
        if self.proposals.len() >= limits::PENDING_PROPOSALS_MAX {
            self.progress.proposal_failed();
            let _ = reply.send(Err(ProposeError::Busy));
            return;
        }
        let Some((seq, entry)) = self.propose_command(body, now) else {
            self.progress.proposal_failed();
            let _ = reply.send(Err(ProposeError::NoLeader));
            return;
        };
        let deadline = self.ticks + self.config.request_timeout_ticks;
        self.proposals.insert(seq, PendingProposal { reply, entry });
        self.publish_pending();
        if self.proposal_deadlines.len() >= PROPOSAL_DEADLINES_MAX {
            let proposals = &self.proposals;
            self.proposal_deadlines
                .retain(|(_, seq)| proposals.contains_key(seq));
        }
        self.proposal_deadlines.push_back((deadline, seq));
    }

    /// Hand a command to raft; its counter and bytes, or `None` when raft dropped it (no
    /// leader, or a transfer).
    fn propose_command(&mut self, body: CommandBody, now: Time) -> Option<(u64, Vec<u8>)> {
        let seq = self.next_seq;
        self.next_seq += 1;
        let command = Command {
            request_id: RequestId {
                node: self.config.id,
                seq,
            },
            now,
            body,
        };
        let entry = command.encode();
        match self.raw.propose(Vec::new(), entry.clone()) {
            Ok(()) => Some((seq, entry)),
            Err(error) => {
                tracing::debug!(%error, "proposal dropped");
                None
            }
        }
    }

    fn start_read(&mut self, reply: oneshot::Sender<Result<RaftIndex, ReadError>>) {
        if self.reads.len() >= limits::PENDING_READS_MAX {
            let _ = reply.send(Err(ReadError::Busy));
            return;
        }
        let id = self.next_seq;
        self.next_seq += 1;
        self.raw.read_index(id.to_be_bytes().to_vec());
        let deadline_tick = self.ticks + self.config.request_timeout_ticks;
        self.reads.insert(
            id,
            PendingRead {
                reply,
                deadline_tick,
                issued_tick: self.ticks,
            },
        );
    }

    /// Time out old reads, and re-issue reads whose ReadIndex request may have been dropped:
    /// raft-rs silently drops one that reaches a leader that has not yet committed an entry
    /// in its term, or a follower with no leader.
    fn tick_reads(&mut self) {
        let ticks = self.ticks;
        let retry = self.config.retry_ticks;
        let mut reissue = Vec::new();
        let mut expired = Vec::new();
        for (id, read) in &mut self.reads {
            if read.deadline_tick <= ticks {
                expired.push(*id);
            } else if ticks - read.issued_tick >= retry {
                read.issued_tick = ticks;
                reissue.push(*id);
            }
        }
        for id in expired {
            if let Some(read) = self.reads.remove(&id) {
                let _ = read.reply.send(Err(ReadError::Timeout));
            }
        }
        for id in reissue {
            self.raw.read_index(id.to_be_bytes().to_vec());
        }
    }

    fn maybe_propose_expire(&mut self) {
        if self.raw.raft.state != StateRole::Leader
            || self.ticks - self.last_expire_tick < self.config.expire_interval_ticks
        {
            return;
        }
        let due = self
            .read_state()
            .store
            .next_expiry()
            .is_some_and(|expiry| expiry <= self.now);
        if due {
            self.last_expire_tick = self.ticks;
            let _ = self.propose_command(CommandBody::Expire, self.now);
        }
    }

    /// Announce this member's name and client URLs until the cluster has them (etcd's
    /// publish), retrying every `retry_ticks` while a leader is known.
    fn maybe_publish(&mut self) {
        if self.raw.raft.leader_id == raft::INVALID_ID {
            return;
        }
        if let Some(last) = self.last_publish_tick {
            if self.ticks - last < self.config.retry_ticks {
                return;
            }
        }
        let published = self
            .read_state()
            .members
            .get(self.config.id)
            .is_none_or(|member| {
                member.name == self.config.name && member.client_urls == self.config.client_urls
            });
        if published {
            return;
        }
        self.last_publish_tick = Some(self.ticks);
        let attributes = MemberAttributes {
            id: self.config.id,
            name: self.config.name.clone(),
            client_urls: self.config.client_urls.clone(),
        };
        let _ = self.propose_command(CommandBody::Publish(attributes), self.now);
    }

    /// Propose every pending command again, after a new leader appeared. Copies that commit
    /// twice are skipped by the state machine (`applied_requests`), so this is safe; it turns
    /// writes forwarded to a leader that died into successes instead of timeouts.
    pub(crate) fn repropose_pending(&mut self) {
        let mut entries: Vec<(u64, Vec<u8>)> = self
            .proposals
            .iter()
            .map(|(seq, p)| (*seq, p.entry.clone()))
            .collect();
        // Proposal order, not hash order: keeps the log order of one member's writes.
        entries.sort_unstable_by_key(|(seq, _)| *seq);
        for (_, entry) in entries {
            if let Err(error) = self.raw.propose(Vec::new(), entry) {
                tracing::debug!(%error, "re-proposal dropped; the deadline still applies");
                break;
            }
        }
    }

    fn read_state(&self) -> std::sync::RwLockReadGuard<'_, StateMachine> {
        self.state
            .read()
            .expect("state lock poisoned: apply panicked and the member is broken")
    }

    fn fail_all(&mut self) {
        for (_, pending) in self.proposals.drain() {
            self.progress.proposal_failed();
            let _ = pending.reply.send(Err(ProposeError::Stopped));
        }
        self.publish_pending();
        for (_, read) in self.reads.drain() {
            let _ = read.reply.send(Err(ReadError::Stopped));
        }
        for (_, replies) in std::mem::take(&mut self.reads_ready) {
            for reply in replies {
                let _ = reply.send(Err(ReadError::Stopped));
            }
        }
        self.progress.set_stopped();
    }
}
