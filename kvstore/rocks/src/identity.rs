//! Who this data directory belongs to.

use serde::{Deserialize, Serialize};

/// First byte of the encoded identity.
const IDENTITY_FORMAT_VERSION: u8 = 1;

/// The member and cluster a data directory was created for. Written once, on first start;
/// every later start compares it with the flags and refuses a mismatch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemberIdentity {
    /// Raft id of the member.
    pub node_id: u64,
    /// Cluster id.
    pub cluster_id: u64,
    /// `--name` at creation.
    pub name: String,
    /// `--initial-cluster-token` at creation.
    pub cluster_token: String,
    /// The initial members: id and peer URLs.
    pub initial_members: Vec<(u64, Vec<String>)>,
}

impl MemberIdentity {
    pub(crate) fn encode(&self) -> Vec<u8> {
        let mut bytes = vec![IDENTITY_FORMAT_VERSION];
        postcard::to_io(self, &mut bytes).expect("identity is plain data that postcard encodes");
        bytes
    }

    pub(crate) fn decode(bytes: &[u8]) -> Option<MemberIdentity> {
        let (version, body) = bytes.split_first()?;
        if *version != IDENTITY_FORMAT_VERSION {
            return None;
        }
        postcard::from_bytes(body).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Goal: the identity encoding is fixed (a format change fails here) and round-trips.
    #[test]
    fn identity_encoding_is_stable() {
        let identity = MemberIdentity {
            node_id: 2,
            cluster_id: 3,
            name: "a".to_string(),
            cluster_token: "t".to_string(),
            initial_members: vec![(2, vec!["u".to_string()])],
        };
        let bytes = identity.encode();
        assert_eq!(bytes, vec![1, 2, 3, 1, b'a', 1, b't', 1, 2, 1, 1, b'u']);
        assert_eq!(MemberIdentity::decode(&bytes), Some(identity));
        assert_eq!(MemberIdentity::decode(&[2]), None);
        assert_eq!(MemberIdentity::decode(&[1, 200]), None);
    }
}
