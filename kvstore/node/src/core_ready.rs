//! The `Ready` handling of `RaftCore`, in raft-rs's documented order.

use crate::command::{Command, CommandBody};
use crate::core::{Applied, FatalError, RaftCore};
use crate::handle::Role;
use crate::ids::{NodeId, RaftIndex, Term};
use crate::storage::LogStorage;
use crate::transport::Transport;
use protobuf::Message as _;
use raft::eraftpb::{
    ConfChange, ConfChangeType, ConfChangeV2, Entry, EntryType, Message, MessageType,
};
use raft::{ReadState, StateRole};
use std::sync::atomic::Ordering;
use std::sync::Arc;

impl<S: LogStorage, T: Transport> RaftCore<S, T> {
    /// Handle raft-rs's pending `Ready`, if any. Every step follows the order of raft-rs's
    /// crate documentation; the numbers match STYLE §2.3.
    ///
    /// # Errors
    /// `FatalError`: the member must stop (storage failure, undecodable entry).
    pub fn on_ready(&mut self) -> Result<(), FatalError> {
        if !self.raw.has_ready() {
            return Ok(());
        }
        let mut ready = self.raw.ready();
        // 1. Publish soft-state changes (leader, role) and the term.
        if let Some(soft) = ready.ss() {
            self.publish_soft_state(soft.leader_id, soft.raft_state);
        }
        if let Some(hard) = ready.hs() {
            self.progress.set_term(hard.term);
            self.progress.set_commit(hard.commit);
        }
        // 2. Send messages. A leader may send before its own disk write (thesis §10.2.1).
        self.send(ready.take_messages());
        // 3. Install a received snapshot.
        if !ready.snapshot().is_empty() {
            self.install_snapshot(ready.snapshot().clone())?;
        }
        self.take_read_states(ready.take_read_states());
        // 4. Apply committed entries.
        self.apply(ready.take_committed_entries())?;
        // 5. Persist entries and hard state in one atomic write, synced when raft requires.
        let sync = ready.must_sync();
        let started = std::time::Instant::now();
        self.raw
            .mut_store()
            .persist(ready.entries(), ready.hs(), sync)?;
        if sync {
            if let Some(observer) = self.progress.observer.get() {
                observer.synced_write(started.elapsed());
            }
        }
        // 6. Messages that may only leave after the write above (votes, append responses).
        self.send(ready.take_persisted_messages());
        // 7. Advance; persist the new commit index before applying what it commits.
        let mut light = self.raw.advance(ready);
        if let Some(commit) = light.commit_index() {
            let mut hard = self.raw.store().hard_state();
            hard.commit = commit;
            self.raw.mut_store().persist(&[], Some(&hard), false)?;
            self.progress.set_commit(commit);
        }
        self.send(light.take_messages());
        self.apply(light.take_committed_entries())?;
        // 8. Tell raft-rs everything handed out has been applied.
        self.raw.advance_apply();
        self.assert_log_invariants();
        self.check_transfer();
        self.maybe_snapshot()?;
        self.publish_log_bounds();
        self.publish_pending();
        self.complete_reads();
        // Outside the ready cycle: raft-rs takes new proposals only between readies.
        if std::mem::take(&mut self.repropose) {
            self.repropose_pending();
        }
        Ok(())
    }

    fn publish_soft_state(&mut self, leader: u64, role: StateRole) {
        let role = match role {
            StateRole::Leader => Role::Leader,
            StateRole::Candidate | StateRole::PreCandidate => Role::Candidate,
            StateRole::Follower => Role::Follower,
        };
        if self.progress.leader().map_or(0, |id| id.0) != leader {
            tracing::info!(
                leader = format_args!("{leader:x}"),
                term = self.raw.raft.term,
                "leader changed"
            );
            // Proposals forwarded to the previous leader may be lost with it.
            self.repropose = leader != raft::INVALID_ID && !self.proposals.is_empty();
        }
        if role != Role::Leader {
            // Heartbeats of a former term are never answered as such.
            self.heartbeats_out.clear();
        }
        self.progress.set_soft(leader, role, self.now);
    }

    fn send(&mut self, messages: Vec<Message>) {
        if messages.is_empty() {
            return;
        }
        let appends = messages
            .iter()
            .filter(|m| m.get_msg_type() == MessageType::MsgAppend)
            .count();
        if self.progress.observer.get().is_some() {
            let now = std::time::Instant::now();
            for message in &messages {
                if message.get_msg_type() == MessageType::MsgHeartbeat {
                    self.heartbeats_out.entry(message.to).or_insert(now);
                }
            }
        }
        self.progress
            .append_sent
            .fetch_add(appends as u64, Ordering::Relaxed);
        self.transport.send(messages);
    }

    fn install_snapshot(&mut self, snapshot: raft::eraftpb::Snapshot) -> Result<(), FatalError> {
        let recovered = crate::state::StateMachine::recover(&snapshot.data)
            .map_err(|source| FatalError::Snapshot { source })?;
        self.raw.mut_store().install_snapshot(&snapshot)?;
        let index = snapshot.get_metadata().index;
        *self
            .state
            .write()
            .expect("state lock poisoned: apply panicked") = recovered;
        self.progress.set_applied(index);
        self.snapshot_index = index;
        self.snapshot_voters = snapshot.get_metadata().get_conf_state().voters.clone();
        self.progress
            .snapshots_installed
            .fetch_add(1, Ordering::Relaxed);
        tracing::info!(index, "installed a snapshot from the leader");
        Ok(())
    }

    /// Every `snapshot_entries` applied entries: save the state machine as the snapshot at the
    /// applied index (with the membership as of that index) and compact the log up to
    /// `catch_up_entries` behind it. Restart then replays at most the entries after the
    /// snapshot, and the log stays bounded.
    fn maybe_snapshot(&mut self) -> Result<(), FatalError> {
        let every = self.config.snapshot_entries;
        let applied = self.raw.raft.raft_log.applied;
        let due = every > 0 && applied >= self.snapshot_index + every;
        let forced = std::mem::take(&mut self.force_snapshot) && applied > 0;
        if !due && !forced {
            return Ok(());
        }
        let started = std::time::Instant::now();
        let term = self.raw.raft.raft_log.term(applied)?;
        let mut snapshot = raft::eraftpb::Snapshot::default();
        {
            let metadata = snapshot.mut_metadata();
            metadata.index = applied;
            metadata.term = term;
            metadata.set_conf_state(self.raw.raft.prs().conf().to_conf_state());
        }
        snapshot.data = self
            .state
            .read()
            .expect("state lock poisoned: apply panicked")
            .save()
            .into();
        let encoded = started.elapsed();
        // A forced snapshot (for a new member) compacts nothing beyond the regular schedule.
        let compact_to = if due {
            applied.saturating_sub(self.config.catch_up_entries)
        } else {
            0
        };
        self.raw.mut_store().save_snapshot(&snapshot, compact_to)?;
        self.snapshot_voters = snapshot.get_metadata().get_conf_state().voters.clone();
        self.snapshot_index = applied;
        self.progress
            .snapshots_saved
            .fetch_add(1, Ordering::Relaxed);
        tracing::info!(
            index = applied,
            compact_to,
            bytes = snapshot.data.len(),
            encode_millis = encoded.as_millis(),
            millis = started.elapsed().as_millis(),
            "saved a snapshot"
        );
        Ok(())
    }

    fn take_read_states(&mut self, states: Vec<ReadState>) {
        for state in states {
            let Ok(bytes) = <[u8; 8]>::try_from(state.request_ctx.as_slice()) else {
                continue;
            };
            if let Some(read) = self.reads.remove(&u64::from_be_bytes(bytes)) {
                self.reads_ready
                    .entry(state.index)
                    .or_default()
                    .push(read.reply);
            }
        }
    }

    fn complete_reads(&mut self) {
        let applied = self.progress.applied().0;
        let waiting = self.reads_ready.split_off(&(applied + 1));
        let ready = std::mem::replace(&mut self.reads_ready, waiting);
        for (index, replies) in ready {
            for reply in replies {
                let _ = reply.send(Ok(RaftIndex(index)));
            }
        }
    }

    /// Apply a batch of committed entries under one write lock, then answer local proposers.
    fn apply(&mut self, entries: Vec<Entry>) -> Result<(), FatalError> {
        let Some(last_index) = entries.last().map(|e| e.index) else {
            return Ok(());
        };
        let mut replies = Vec::new();
        let mut conf_replies: Vec<Vec<u8>> = Vec::new();
        let state = Arc::clone(&self.state);
        {
            let mut state = state.write().expect("state lock poisoned: apply panicked");
            for entry in &entries {
                match entry.get_entry_type() {
                    EntryType::EntryNormal if entry.data.is_empty() => {}
                    EntryType::EntryNormal => {
                        let command =
                            Command::decode(&entry.data).map_err(|source| FatalError::Command {
                                index: entry.index,
                                source,
                            })?;
                        let outcome = state.apply(&command);
                        if let CommandBody::UpdatePeerUrls { id, peer_urls } = &command.body {
                            if *id != self.config.id {
                                if let Some(url) = peer_urls.first() {
                                    self.transport.update_peer(id.0, url);
                                }
                            }
                        }
                        if command.request_id.node == self.config.id {
                            let position = (RaftIndex(entry.index), Term(entry.term));
                            replies.push((command.request_id.seq, outcome, position));
                        }
                    }
                    EntryType::EntryConfChange => {
                        let mut change = ConfChange::default();
                        change
                            .merge_from_bytes(&entry.data)
                            .map_err(|_| FatalError::ConfChange { index: entry.index })?;
                        let conf_state = self.raw.apply_conf_change(&change)?;
                        self.raw.mut_store().persist_conf_state(&conf_state)?;
                    }
                    EntryType::EntryConfChangeV2 => {
                        let mut change = ConfChangeV2::default();
                        change
                            .merge_from_bytes(&entry.data)
                            .map_err(|_| FatalError::ConfChange { index: entry.index })?;
                        let conf_state = self.raw.apply_conf_change(&change)?;
                        self.raw.mut_store().persist_conf_state(&conf_state)?;
                        for single in change.get_changes() {
                            if single.get_change_type() == ConfChangeType::AddNode {
                                let urls: Vec<String> = entry
                                    .context
                                    .get(16..)
                                    .and_then(|b| std::str::from_utf8(b).ok())
                                    .map(|text| {
                                        text.lines()
                                            .filter(|l| !l.is_empty())
                                            .map(str::to_owned)
                                            .collect()
                                    })
                                    .unwrap_or_default();
                                if single.node_id != self.config.id.0 {
                                    if let Some(url) = urls.first() {
                                        self.transport.add_peer(single.node_id, url);
                                    }
                                }
                                state.members.add(NodeId(single.node_id), urls);
                                tracing::info!(
                                    member = format_args!("{:x}", single.node_id),
                                    "member added to the cluster"
                                );
                            }
                            if single.get_change_type() == ConfChangeType::RemoveNode {
                                state.members.remove(NodeId(single.node_id));
                                tracing::info!(
                                    member = format_args!("{:x}", single.node_id),
                                    "member removed from the cluster"
                                );
                                if single.node_id == self.config.id.0 {
                                    self.progress.set_removed();
                                }
                            }
                        }
                        // raft-rs keeps the proposal context on the entry, not in the change.
                        conf_replies.push(entry.context.to_vec());
                    }
                }
            }
        }
        self.progress.set_applied(last_index);
        for context in conf_replies {
            let field = |at: usize| {
                context
                    .get(at..at + 8)
                    .and_then(|b| <[u8; 8]>::try_from(b).ok())
                    .map(u64::from_be_bytes)
            };
            if field(0) == Some(self.config.id.0) {
                if let Some((_, reply)) = field(8).and_then(|seq| self.conf_changes.remove(&seq)) {
                    let _ = reply.send(Ok(()));
                }
            }
        }
        for (seq, reply, (raft_index, raft_term)) in replies {
            if let Some(pending) = self.proposals.remove(&seq) {
                let _ = pending.reply.send(Ok(Applied {
                    reply,
                    raft_index,
                    raft_term,
                }));
            }
        }
        Ok(())
    }

    /// Publishes the log's extent and the snapshot index (for `/debug/raft` and tests).
    pub(crate) fn publish_log_bounds(&self) {
        let log = &self.raw.raft.raft_log;
        self.progress
            .first_index
            .store(log.first_index(), Ordering::Release);
        self.progress
            .last_index
            .store(log.last_index(), Ordering::Release);
        self.progress
            .snapshot_index
            .store(self.snapshot_index, Ordering::Release);
    }

    fn assert_log_invariants(&self) {
        let log = &self.raw.raft.raft_log;
        assert!(
            log.applied <= log.committed,
            "applied index must not pass the commit index"
        );
        assert!(
            log.committed <= log.last_index(),
            "commit index must not pass the last index"
        );
    }
}
