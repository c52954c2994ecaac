//! The cluster's members as the state machine knows them.

use crate::command::MemberAttributes;
use crate::ids::NodeId;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// One member: its raft id, and what it announced of itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Member {
    /// Raft id.
    pub id: NodeId,
    /// `--name`; empty until the member has published itself (etcd shows `""` too).
    pub name: String,
    /// Peer URLs, from the initial cluster or a membership change.
    pub peer_urls: Vec<String>,
    /// Client URLs; empty until published.
    pub client_urls: Vec<String>,
}

/// All members, ordered by id (etcd lists members sorted by numeric id), and the ids removed
/// from the cluster, which are never accepted again.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Members {
    by_id: BTreeMap<NodeId, Member>,
    removed: BTreeSet<NodeId>,
}

impl Members {
    /// Members known from the initial cluster: ids and peer URLs only.
    #[must_use]
    pub fn from_initial(members: impl IntoIterator<Item = (NodeId, Vec<String>)>) -> Members {
        let by_id = members
            .into_iter()
            .map(|(id, peer_urls)| {
                let member = Member {
                    id,
                    name: String::new(),
                    peer_urls,
                    client_urls: Vec::new(),
                };
                (id, member)
            })
            .collect();
        Members {
            by_id,
            removed: BTreeSet::new(),
        }
    }

    /// Members as a state saved before removals were recorded (state format 1).
    #[must_use]
    pub fn from_saved(by_id: BTreeMap<NodeId, Member>) -> Members {
        Members {
            by_id,
            removed: BTreeSet::new(),
        }
    }

    /// Add a member (a committed configuration change): id and peer URLs; name and client
    /// URLs come when it publishes itself. A removed id is never added back.
    pub fn add(&mut self, id: NodeId, peer_urls: Vec<String>) {
        if self.removed.contains(&id) {
            return;
        }
        let member = self.by_id.entry(id).or_insert_with(|| Member {
            id,
            name: String::new(),
            peer_urls: Vec::new(),
            client_urls: Vec::new(),
        });
        member.peer_urls = peer_urls;
    }

    /// Change a member's peer URLs; unknown ids are ignored.
    pub fn update_peer_urls(&mut self, id: NodeId, peer_urls: &[String]) {
        if let Some(member) = self.by_id.get_mut(&id) {
            member.peer_urls = peer_urls.to_vec();
        }
    }

    /// The member already using one of `peer_urls`, if any.
    #[must_use]
    pub fn peer_url_owner(&self, peer_urls: &[String]) -> Option<NodeId> {
        self.by_id
            .values()
            .find(|m| m.peer_urls.iter().any(|u| peer_urls.contains(u)))
            .map(|m| m.id)
    }

    /// Remove a member for good (a committed configuration change). Returns whether it was a
    /// member.
    pub fn remove(&mut self, id: NodeId) -> bool {
        self.removed.insert(id);
        self.by_id.remove(&id).is_some()
    }

    /// True when `id` was removed from the cluster.
    #[must_use]
    pub fn is_removed(&self, id: NodeId) -> bool {
        self.removed.contains(&id)
    }

    /// Record what a member published. Unknown ids are ignored: a removed member's late
    /// publish must not bring it back.
    pub fn publish(&mut self, attributes: &MemberAttributes) {
        if let Some(member) = self.by_id.get_mut(&attributes.id) {
            member.name.clone_from(&attributes.name);
            member.client_urls.clone_from(&attributes.client_urls);
        }
    }

    /// One member.
    #[must_use]
    pub fn get(&self, id: NodeId) -> Option<&Member> {
        self.by_id.get(&id)
    }

    /// All members, by id.
    pub fn iter(&self) -> impl Iterator<Item = &Member> {
        self.by_id.values()
    }

    /// Number of members.
    #[must_use]
    pub fn len(&self) -> usize {
        self.by_id.len()
    }

    /// True when there are none.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.by_id.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Goal: publish fills in name and client URLs of known members only.
    #[test]
    fn publish_updates_known_members_only() {
        let mut members = Members::from_initial([(NodeId(2), vec!["http://p:2".to_string()])]);
        let attributes = |id| MemberAttributes {
            id: NodeId(id),
            name: "n".to_string(),
            client_urls: vec!["http://c:1".to_string()],
        };
        members.publish(&attributes(2));
        members.publish(&attributes(9));
        assert_eq!(members.len(), 1);
        let member = members.get(NodeId(2)).unwrap();
        assert_eq!(member.name, "n");
        assert_eq!(member.client_urls, vec!["http://c:1".to_string()]);
        assert!(members.get(NodeId(9)).is_none());
    }

    // Goal: a removed member is gone for good: listed nowhere, its publish ignored, its id
    // remembered as removed.
    #[test]
    fn removed_members_stay_removed() {
        let mut members = Members::from_initial([
            (NodeId(1), vec!["http://p:1".to_string()]),
            (NodeId(2), vec!["http://p:2".to_string()]),
        ]);
        assert!(members.remove(NodeId(2)));
        assert!(!members.remove(NodeId(2)), "a second removal finds nothing");
        assert!(members.is_removed(NodeId(2)));
        assert!(!members.is_removed(NodeId(1)));
        members.publish(&MemberAttributes {
            id: NodeId(2),
            name: "late".to_string(),
            client_urls: vec![],
        });
        assert_eq!(members.len(), 1);
        assert!(members.get(NodeId(2)).is_none());
    }
}
