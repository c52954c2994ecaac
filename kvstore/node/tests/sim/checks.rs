//! Raft safety properties, checked after every simulated step (Raft paper, Figure 3).

use super::Outbox;
use kvstore::core::RaftCore;
use kvstore::memory::MemoryStorage;
use kvstore::StateMachine;
use raft::{GetEntriesContext, StateRole};
use std::collections::HashMap;
use std::sync::{Arc, RwLock};

pub struct Checks {
    /// Election safety (§5.2): the one leader of each term.
    leaders: HashMap<u64, u64>,
    /// Term of every entry known to be committed, and its bytes (§5.3, §5.4).
    committed: HashMap<u64, (u64, Vec<u8>)>,
    committed_max: u64,
    /// Per member: highest committed index already compared, and last term seen.
    checked: Vec<u64>,
    terms: Vec<u64>,
    /// Same applied index ⇒ same store hash.
    applied_hashes: HashMap<u64, u64>,
}

type Core = RaftCore<MemoryStorage, Outbox>;

impl Checks {
    pub fn new(members: u64) -> Checks {
        let count = usize::try_from(members).unwrap();
        Checks {
            leaders: HashMap::new(),
            committed: HashMap::new(),
            committed_max: 0,
            checked: vec![0; count],
            terms: vec![0; count],
            applied_hashes: HashMap::new(),
        }
    }

    pub fn after_step(
        &mut self,
        cores: &[Option<&Core>],
        states: &[&Arc<RwLock<StateMachine>>],
    ) -> Result<(), String> {
        for (index, core) in cores.iter().enumerate() {
            let Some(core) = core else { continue };
            self.election_safety(core)?;
            self.monotonic_term(index, core)?;
            self.committed_entries_agree(index, core)?;
            self.leader_completeness(core)?;
            self.same_applied_same_state(core, states[index])?;
        }
        Ok(())
    }

    fn election_safety(&mut self, core: &Core) -> Result<(), String> {
        let raft = &core.raw().raft;
        if raft.state != StateRole::Leader {
            return Ok(());
        }
        let leader = *self.leaders.entry(raft.term).or_insert(raft.id);
        if leader != raft.id {
            return Err(format!(
                "election safety: term {} has leaders {leader} and {}",
                raft.term, raft.id
            ));
        }
        Ok(())
    }

    fn monotonic_term(&mut self, index: usize, core: &Core) -> Result<(), String> {
        let term = core.raw().raft.term;
        if term < self.terms[index] {
            return Err(format!(
                "member {} term went back from {} to {term}",
                index + 1,
                self.terms[index]
            ));
        }
        self.terms[index] = term;
        Ok(())
    }

    fn committed_entries_agree(&mut self, index: usize, core: &Core) -> Result<(), String> {
        let log = &core.raw().raft.raft_log;
        // Entries before the first index were compacted into a snapshot, or replaced by one
        // from the leader; the applied-state hash check covers them.
        let from = (self.checked[index] + 1).max(log.first_index());
        if log.committed < from {
            return Ok(());
        }
        let entries = log
            .slice(
                from,
                log.committed + 1,
                None,
                GetEntriesContext::empty(false),
            )
            .map_err(|e| format!("member {} cannot read its committed log: {e}", index + 1))?;
        for entry in entries {
            let known = self
                .committed
                .entry(entry.index)
                .or_insert_with(|| (entry.term, entry.data.to_vec()));
            if known.0 != entry.term || known.1 != entry.data.to_vec() {
                return Err(format!(
                    "state machine safety: member {} committed a different entry at index {} (term {} vs {})",
                    index + 1, entry.index, entry.term, known.0
                ));
            }
            self.committed_max = self.committed_max.max(entry.index);
        }
        self.checked[index] = log.committed;
        Ok(())
    }

    fn leader_completeness(&self, core: &Core) -> Result<(), String> {
        let raft = &core.raw().raft;
        if raft.state != StateRole::Leader {
            return Ok(());
        }
        // Compacted entries were applied (compaction never passes the applied index), so they
        // are in the leader's state; the rest must be in its log with the committed term.
        let first = raft.raft_log.first_index();
        if first > 1 && raft.raft_log.applied < first - 1 {
            return Err(format!(
                "leader {} compacted its log to {} past its applied index {}",
                raft.id,
                first - 1,
                raft.raft_log.applied
            ));
        }
        for index in first.max(1)..=self.committed_max {
            let Some((term, _)) = self.committed.get(&index) else {
                continue;
            };
            if raft.raft_log.term(index).ok() != Some(*term) {
                return Err(format!(
                    "leader completeness: leader {} of term {} lacks committed entry {index}",
                    raft.id, raft.term
                ));
            }
        }
        Ok(())
    }

    fn same_applied_same_state(
        &mut self,
        core: &Core,
        state: &Arc<RwLock<StateMachine>>,
    ) -> Result<(), String> {
        let applied = core.raw().raft.raft_log.applied;
        let hash = state.read().unwrap().store.content_hash();
        let known = *self.applied_hashes.entry(applied).or_insert(hash);
        if known != hash {
            return Err(format!(
                "members applied to index {applied} but their stores differ"
            ));
        }
        Ok(())
    }
}
