//! Identity and position newtypes, and how member and cluster ids are derived.

use serde::{Deserialize, Serialize};

/// A member's raft id, printed as lowercase hex without leading zeros as etcd does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct NodeId(pub u64);

/// The cluster id (`X-Etcd-Cluster-Id`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct ClusterId(pub u64);

/// A raft log position (`X-Raft-Index`).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
pub struct RaftIndex(pub u64);

/// A raft term (`X-Raft-Term`).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
pub struct Term(pub u64);

/// Identifies one proposal: the proposing member and its counter. The proposer completes the
/// client's reply when it applies an entry carrying its own id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct RequestId {
    /// The member that proposed.
    pub node: NodeId,
    /// Per-member counter; unique within one process lifetime of that member.
    pub seq: u64,
}

impl std::fmt::Display for NodeId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:x}", self.0)
    }
}

impl std::fmt::Display for ClusterId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:x}", self.0)
    }
}

/// FNV-1a, 64 bit: a stable hash (unlike std's `RandomState`) so that every member derives the
/// same ids from the same flags, as etcd derives member ids from peer URLs and the token.
fn fnv1a(parts: &[&[u8]]) -> u64 {
    let mut hash = v2store::Fnv1a::new();
    for part in parts {
        hash.write_bytes(part);
        // A separator so that ("ab","c") and ("a","bc") differ.
        hash.write_bytes(&[0xff]);
    }
    hash.finish()
}

/// The id of a member, derived from its sorted peer URLs and the cluster token (etcd derives
/// it the same way, with SHA-1). Never 0, which raft-rs reserves for "none".
#[must_use]
pub fn member_id(peer_urls: &[String], token: &str) -> NodeId {
    let mut urls: Vec<&str> = peer_urls.iter().map(String::as_str).collect();
    urls.sort_unstable();
    let mut parts: Vec<&[u8]> = urls.iter().map(|u| u.as_bytes()).collect();
    parts.push(token.as_bytes());
    NodeId(fnv1a(&parts).max(1))
}

/// The id of a member added to a running cluster: like `member_id`, with the time of the
/// request mixed in (as etcd does), so that adding the same peer URLs again after a removal
/// gives a new id; a removed id is never reused.
#[must_use]
pub fn added_member_id(peer_urls: &[String], token: &str, now_nanos: u64) -> NodeId {
    let mut urls: Vec<&str> = peer_urls.iter().map(String::as_str).collect();
    urls.sort_unstable();
    let now = now_nanos.to_be_bytes();
    let mut parts: Vec<&[u8]> = urls.iter().map(|u| u.as_bytes()).collect();
    parts.push(token.as_bytes());
    parts.push(&now);
    NodeId(fnv1a(&parts).max(1))
}

/// The cluster id, derived from the sorted member ids and the token.
#[must_use]
pub fn cluster_id(members: &[NodeId], token: &str) -> ClusterId {
    let mut ids: Vec<u64> = members.iter().map(|m| m.0).collect();
    ids.sort_unstable();
    let bytes: Vec<[u8; 8]> = ids.iter().map(|id| id.to_be_bytes()).collect();
    let mut parts: Vec<&[u8]> = bytes.iter().map(<[u8; 8]>::as_slice).collect();
    parts.push(token.as_bytes());
    ClusterId(fnv1a(&parts).max(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    // Goal: ids are stable across processes and independent of URL order.
    #[test]
    fn member_id_is_order_independent_and_token_dependent() {
        let a = vec!["http://a:1".to_string(), "http://b:2".to_string()];
        let b = vec!["http://b:2".to_string(), "http://a:1".to_string()];
        assert_eq!(member_id(&a, "t"), member_id(&b, "t"));
        assert_ne!(member_id(&a, "t"), member_id(&a, "u"));
        assert_eq!(
            member_id(&a, "t"),
            NodeId(fnv1a(&[b"http://a:1", b"http://b:2", b"t"]))
        );
    }

    // Goal: member IDs stay what earlier versions derived (they are in every data directory
    // and every peer's configuration). Method: one ID computed by hand with FNV-1a 64 and a
    // 0xff byte after each part.
    #[test]
    fn member_ids_keep_their_values() {
        let urls = vec!["http://a:1".to_string(), "http://b:2".to_string()];
        assert_eq!(member_id(&urls, "t"), NodeId(0x9b25_b02e_40ce_3486));
    }

    // Goal: the cluster id depends on the member set and token only.
    #[test]
    fn cluster_id_depends_on_members_and_token() {
        let x = cluster_id(&[NodeId(3), NodeId(1)], "t");
        assert_eq!(x, cluster_id(&[NodeId(1), NodeId(3)], "t"));
        assert_ne!(x, cluster_id(&[NodeId(1)], "t"));
        assert_ne!(x, cluster_id(&[NodeId(1), NodeId(3)], "u"));
    }
}
