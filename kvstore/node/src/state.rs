//! The replicated state machine: the v2 store plus the members' published attributes.

use crate::applied_requests::AppliedRequests;
use crate::command::{Command, CommandBody};
use crate::members::Members;
use v2store::{Event, Store, StoreError};

/// Everything a committed entry can change. Applying the same commands in the same order gives
/// the same state on every member.
pub struct StateMachine {
    /// The etcd v2 tree.
    pub store: Store,
    /// Members and what they published.
    pub members: Members,
    /// Requests already applied, so a command committed twice applies once.
    applied_requests: AppliedRequests,
}

/// What applying one command produced for its proposer.
#[derive(Debug)]
pub enum ApplyOutcome {
    /// A store mutation: its event or its domain error (boxed: events are large and this
    /// travels through channels).
    Store(Box<Result<Event, StoreError>>),
    /// A batch: each write's event or error, in the batch's order.
    Batch(Vec<Result<Event, StoreError>>),
    /// A command with no client-visible result (expire, publish).
    Done,
    /// A second committed copy of a command already applied: skipped.
    Duplicate,
}

impl StateMachine {
    /// A fresh state with the initial members.
    #[must_use]
    pub fn new(members: Members) -> StateMachine {
        StateMachine {
            store: Store::new(),
            members,
            applied_requests: AppliedRequests::default(),
        }
    }

    /// A state starting from a restored store (`keel --restore`) with the new cluster's members.
    #[must_use]
    pub fn with_store(store: Store, members: Members) -> StateMachine {
        StateMachine {
            store,
            members,
            applied_requests: AppliedRequests::default(),
        }
    }

    /// Apply one command. Pure: the only time used is the one the command carries.
    pub fn apply(&mut self, command: &Command) -> ApplyOutcome {
        if !self.applied_requests.first_time(command.request_id) {
            return ApplyOutcome::Duplicate;
        }
        match &command.body {
            CommandBody::Mutation(mutation) => {
                ApplyOutcome::Store(Box::new(self.store.apply(mutation, command.now)))
            }
            CommandBody::Batch(mutations) => ApplyOutcome::Batch(
                mutations
                    .iter()
                    .map(|mutation| self.store.apply(mutation, command.now))
                    .collect(),
            ),
            CommandBody::Expire => {
                self.store.expire(command.now);
                ApplyOutcome::Done
            }
            CommandBody::Publish(attributes) => {
                self.members.publish(attributes);
                ApplyOutcome::Done
            }
            CommandBody::UpdatePeerUrls { id, peer_urls } => {
                self.members.update_peer_urls(*id, peer_urls);
                ApplyOutcome::Done
            }
        }
    }
}

/// First byte of saved state machine bytes. Version 2 added the removed member ids; version 1
/// is still read.
const STATE_FORMAT_VERSION: u8 = 2;

#[derive(serde::Deserialize)]
#[cfg_attr(test, derive(serde::Serialize))]
struct SavedState {
    store: Vec<u8>,
    members: Members,
    applied_requests: AppliedRequests,
}

/// Version 1: members without the removed ids.
#[derive(serde::Deserialize)]
struct SavedStateV1 {
    store: Vec<u8>,
    members: std::collections::BTreeMap<crate::ids::NodeId, crate::members::Member>,
    applied_requests: AppliedRequests,
}

impl StateMachine {
    /// Serialise the whole state (for raft snapshots): version byte, then postcard.
    ///
    /// # Panics
    /// Never in practice: every field is plain data that postcard encodes.
    #[must_use]
    pub fn save(&self) -> Vec<u8> {
        // The bytes postcard gives `SavedState`, built around the store's own buffer: the
        // derived encoding writes a byte sequence one element at a time (the slowest part of
        // a snapshot), and a copy would hold the store's bytes twice. The header goes in
        // front in place, since `Store::save` leaves room in its buffer.
        let mut bytes = self.store.save();
        let mut header = vec![STATE_FORMAT_VERSION];
        postcard::to_io(&bytes.len(), &mut header)
            .expect("a length is plain data that postcard encodes");
        bytes.splice(0..0, header);
        postcard::to_io(&self.members, &mut bytes)
            .expect("saved state is plain data that postcard encodes");
        postcard::to_io(&self.applied_requests, &mut bytes)
            .expect("saved state is plain data that postcard encodes");
        bytes
    }

    /// Rebuild from `save` output.
    ///
    /// # Errors
    /// `StoreError::InvalidSaveData` for unknown versions or damaged bytes.
    pub fn recover(bytes: &[u8]) -> Result<StateMachine, StoreError> {
        let invalid = |reason: &str| StoreError::InvalidSaveData {
            reason: reason.to_string(),
        };
        let (version, body) = bytes.split_first().ok_or_else(|| invalid("empty"))?;
        let saved = match *version {
            STATE_FORMAT_VERSION => {
                postcard::from_bytes::<SavedState>(body).map_err(|_| invalid("damaged state"))?
            }
            1 => {
                let old: SavedStateV1 =
                    postcard::from_bytes(body).map_err(|_| invalid("damaged state"))?;
                SavedState {
                    store: old.store,
                    members: Members::from_saved(old.members),
                    applied_requests: old.applied_requests,
                }
            }
            _ => return Err(invalid("unknown state format version")),
        };
        Ok(StateMachine {
            store: Store::recover(&saved.store)?,
            members: saved.members,
            applied_requests: saved.applied_requests,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::NodeId;
    use v2store::StoreIndex;

    // Goal: the hand-assembled snapshot bytes are exactly postcard's encoding of
    // `SavedState`, so snapshots written before and after read alike, and they recover.
    #[test]
    fn save_matches_the_derived_encoding() {
        let mut state = StateMachine::new(Members::from_initial([(
            NodeId(7),
            vec!["http://127.0.0.1:2380".to_owned()],
        )]));
        for n in 0..300_u64 {
            let path = format!("/k/{n}");
            let set = v2store::Mutation::Set {
                path,
                value: "v".repeat(300),
                dir: false,
                expire_at: None,
                refresh: false,
            };
            state
                .store
                .apply(&set, v2store::Time(0))
                .expect("set applies");
        }
        let saved = state.save();
        let mut expected = vec![STATE_FORMAT_VERSION];
        postcard::to_io(
            &SavedState {
                store: state.store.save(),
                members: state.members.clone(),
                applied_requests: state.applied_requests.clone(),
            },
            &mut expected,
        )
        .expect("encodes");
        assert_eq!(saved, expected);
        let recovered = StateMachine::recover(&saved).expect("recovers");
        assert_eq!(recovered.store.save(), state.store.save());
    }

    // Goal: a batch applies its writes in order, each with the next index and its own
    // outcome; a failed write (a create of an existing key) fails alone, the next still
    // applies, and a second committed copy applies nothing.
    // Method: a batch of create, create of the same key, set, applied twice.
    #[test]
    fn a_batch_applies_in_order_and_each_write_fails_alone() {
        let mut state = StateMachine::new(Members::from_initial([(
            NodeId(7),
            vec!["http://127.0.0.1:2380".to_owned()],
        )]));
        let create = |path: &str| v2store::Mutation::Create {
            path: path.to_owned(),
            value: "v".to_owned(),
            dir: false,
            expire_at: None,
            in_order: false,
        };
        let set = v2store::Mutation::Set {
            path: "/b".to_owned(),
            value: "w".to_owned(),
            dir: false,
            expire_at: None,
            refresh: false,
        };
        let command = Command {
            request_id: crate::ids::RequestId {
                node: NodeId(7),
                seq: 1,
            },
            now: v2store::Time(0),
            body: CommandBody::Batch(vec![create("/a"), create("/a"), set]),
        };
        let before = state.store.index();
        let ApplyOutcome::Batch(results) = state.apply(&command) else {
            panic!("a batch gives a batch outcome");
        };
        assert_eq!(results.len(), 3);
        let first = results[0].as_ref().expect("the first create applies");
        assert_eq!(first.index(), StoreIndex(before.0 + 1));
        assert!(results[1].is_err(), "the second create of /a fails");
        let last = results[2]
            .as_ref()
            .expect("the set after the failure applies");
        assert_eq!(last.index(), StoreIndex(before.0 + 2));
        assert_eq!(state.store.index(), StoreIndex(before.0 + 2));
        assert!(matches!(state.apply(&command), ApplyOutcome::Duplicate));
        assert_eq!(state.store.index(), StoreIndex(before.0 + 2));
    }
}
