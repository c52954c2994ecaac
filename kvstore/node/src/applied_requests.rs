//! Which requests the state machine has applied, so that a command committed twice is applied
//! once.
//!
//! A follower forwards a proposal to the leader it knows; if that leader dies or is deposed,
//! the entry may be lost or may still commit under the next leader. The proposer therefore
//! proposes its pending commands again when a new leader appears (`core_ready.rs`), and this
//! table makes the second copy a no-op. It is part of the replicated state (saved with it), so
//! every member skips the same copies.
//!
//! Bound: per proposer, the most recent `REQUESTS_PER_MEMBER_MAX` request counters. A member
//! has at most `PENDING_PROPOSALS_MAX` proposals in flight, and a copy is only proposed while
//! its original is pending, so a duplicate commits within that many of its own member's
//! commands; twice that is kept. Eviction drops the smallest counter: deterministic.

use crate::ids::{NodeId, RequestId};
use crate::limits;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// Counters kept per proposing member.
const REQUESTS_PER_MEMBER_MAX: usize = 2 * limits::PENDING_PROPOSALS_MAX;

/// Recently applied request ids, per proposing member.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppliedRequests {
    by_member: BTreeMap<NodeId, BTreeSet<u64>>,
}

impl AppliedRequests {
    /// Record `id`; false when it was applied before (the command must then be skipped).
    pub fn first_time(&mut self, id: RequestId) -> bool {
        let seen = self.by_member.entry(id.node).or_default();
        if !seen.insert(id.seq) {
            return false;
        }
        if seen.len() > REQUESTS_PER_MEMBER_MAX {
            seen.pop_first();
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Goal: a request id is accepted once, per member, and the table stays bounded.
    #[test]
    fn second_copy_is_refused_and_table_is_bounded() {
        let mut applied = AppliedRequests::default();
        let id = |node, seq| RequestId {
            node: NodeId(node),
            seq,
        };
        assert!(applied.first_time(id(1, 5)));
        assert!(!applied.first_time(id(1, 5)));
        assert!(applied.first_time(id(2, 5)));
        for seq in 100..(100 + REQUESTS_PER_MEMBER_MAX as u64) {
            assert!(applied.first_time(id(3, seq)));
        }
        assert_eq!(applied.by_member[&NodeId(3)].len(), REQUESTS_PER_MEMBER_MAX);
        assert!(applied.first_time(id(3, 1_000_000)));
        assert_eq!(applied.by_member[&NodeId(3)].len(), REQUESTS_PER_MEMBER_MAX);
    }
}
