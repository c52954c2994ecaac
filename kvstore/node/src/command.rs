//! The replicated command: what one raft entry carries, and its versioned byte encoding.

use crate::ids::{NodeId, RequestId};
use serde::{Deserialize, Serialize};
use thiserror::Error;
use v2store::{Mutation, Time};

/// First byte of every encoded command. A new layout gets a new version, and decoding keeps
/// reading the old ones, because entries outlive the binary that wrote them.
pub const COMMAND_FORMAT_VERSION: u8 = 1;

/// One replicated command.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Command {
    /// Who proposed it, so the proposer can answer its client on apply.
    pub request_id: RequestId,
    /// The proposer's clock when it proposed: the only time apply ever sees.
    pub now: Time,
    /// What to do.
    pub body: CommandBody,
}

/// What a command does.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum CommandBody {
    /// A write to the v2 store.
    Mutation(Mutation),
    /// Expire every node whose expiry is at or before the command's `now` (proposed by the
    /// leader, as etcd's SYNC request).
    Expire,
    /// A member announces its name and client URLs (etcd's "publish").
    Publish(MemberAttributes),
    /// A member's peer URLs change (`PUT /v2/members/<id>`; not a raft configuration change:
    /// the voters stay the same).
    UpdatePeerUrls {
        /// The member.
        id: NodeId,
        /// Its new peer URLs.
        peer_urls: Vec<String>,
    },
    /// Several writes to the v2 store, applied in order with nothing between them, each
    /// with its own index, event and outcome (`POST /keel/v1/batch`). Appended last, so the
    /// encodings of the other variants stay as they were.
    Batch(Vec<Mutation>),
}

/// The part of a member that the member itself announces after start.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemberAttributes {
    /// The member announcing itself.
    pub id: NodeId,
    /// Its `--name`.
    pub name: String,
    /// Its `--advertise-client-urls`.
    pub client_urls: Vec<String>,
}

/// A committed entry that cannot be decoded: the log is damaged or was written by a newer
/// version. Fatal for the member that meets it.
#[derive(Debug, Error)]
pub enum CommandDecodeError {
    /// The entry is empty.
    #[error("command entry is empty")]
    Empty,
    /// The version byte is unknown.
    #[error("command format version {version} is not supported")]
    UnknownVersion {
        /// The version found.
        version: u8,
    },
    /// The body does not decode.
    #[error("command body is damaged")]
    Damaged(#[source] postcard::Error),
}

impl Command {
    /// The entry bytes: version byte, then postcard.
    ///
    /// # Panics
    /// Never in practice: postcard serialisation into a `Vec` fails only on types serde cannot
    /// represent, and every field here is plain data.
    #[must_use]
    pub fn encode(&self) -> Vec<u8> {
        let mut bytes = vec![COMMAND_FORMAT_VERSION];
        postcard::to_io(self, &mut bytes)
            .expect("command fields are plain data that postcard always encodes");
        bytes
    }

    /// Decode entry bytes.
    ///
    /// # Errors
    /// `CommandDecodeError` when the bytes are not a command of a known version.
    pub fn decode(bytes: &[u8]) -> Result<Command, CommandDecodeError> {
        let (version, body) = bytes.split_first().ok_or(CommandDecodeError::Empty)?;
        if *version != COMMAND_FORMAT_VERSION {
            return Err(CommandDecodeError::UnknownVersion { version: *version });
        }
        postcard::from_bytes(body).map_err(CommandDecodeError::Damaged)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Command {
        Command {
            request_id: RequestId {
                node: NodeId(7),
                seq: 3,
            },
            now: Time(5),
            body: CommandBody::Mutation(Mutation::Delete {
                path: "/a".to_string(),
                dir: false,
                recursive: false,
            }),
        }
    }

    // Goal: the encoding round-trips, and its bytes are fixed (a format change fails here).
    #[test]
    fn command_encoding_is_stable() {
        let bytes = sample().encode();
        assert_eq!(bytes, vec![1, 7, 3, 10, 0, 4, 2, b'/', b'a', 0, 0]);
        assert_eq!(Command::decode(&bytes).unwrap(), sample());
    }

    // Goal: a batch encodes after the existing variants (index 4) with its writes in order,
    // and round-trips; the older variants' bytes above do not move.
    #[test]
    fn batch_encoding_is_stable() {
        let delete = |path: &str| Mutation::Delete {
            path: path.to_string(),
            dir: false,
            recursive: false,
        };
        let command = Command {
            body: CommandBody::Batch(vec![delete("/a"), delete("/b")]),
            ..sample()
        };
        let bytes = command.encode();
        let expected = [
            1, 7, 3, 10, 4, 2, 4, 2, b'/', b'a', 0, 0, 4, 2, b'/', b'b', 0, 0,
        ];
        assert_eq!(bytes, expected);
        assert_eq!(Command::decode(&bytes).unwrap(), command);
    }

    // Goal: damaged or foreign entries are refused with a typed error, never a panic.
    #[test]
    fn bad_entries_are_refused() {
        assert!(matches!(
            Command::decode(&[]),
            Err(CommandDecodeError::Empty)
        ));
        assert!(matches!(
            Command::decode(&[9, 1]),
            Err(CommandDecodeError::UnknownVersion { version: 9 })
        ));
        assert!(matches!(
            Command::decode(&[1, 7]),
            Err(CommandDecodeError::Damaged(_))
        ));
    }
}
