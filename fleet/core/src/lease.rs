//! The engine's leadership decision, as a pure function: from
//! what this engine read of the cluster's engine version and the lease, the one step it takes
//! this round. The engine loop performs the step with compare-and-swap writes and re-reads on
//! any conflict, so two engines never both believe they lead for longer than a lease TTL.
//!
//! The steps, in fleet's order:
//! 1. the version gate: a cluster engine version below this engine's is raised (CAS); one
//!    above it means this engine sits out;
//! 2. a lease this engine holds is renewed by CAS on the lease's revision;
//! 3. no lease: take it (create, must not exist);
//! 4. a lease held by an engine of this version or newer: follow it;
//! 5. a lease held by an older engine: steal it by CAS on its revision, with a TTL extended by
//!    what was left of it, and wait out that remainder before acting, so the old leader has
//!    stopped by the time the new one starts.
//!
//! Invariants: the decision depends only on its inputs; an engine never acts as leader on a
//! step other than `Renew` or `Acquire` succeeding (or `Steal`, after its wait).

use crate::model::MachineId;
use std::time::Duration;

/// The store's revision of the lease key (its `modifiedIndex`), the CAS condition of every
/// write to it. Opaque here.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct LeaseRevision(pub u64);

/// The lease as read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaseView {
    /// Its holder.
    pub holder: MachineId,
    /// The holder's engine version.
    pub version: u32,
    /// The key's revision.
    pub revision: LeaseRevision,
    /// Time left before it expires.
    pub remaining: Duration,
}

/// What this engine does this round.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LeaseStep {
    /// Raise the cluster engine version from `from` (absent: `None`) to this engine's, by
    /// CAS, then decide again.
    RaiseVersion {
        /// The version read.
        from: Option<u32>,
    },
    /// A newer engine runs the cluster: do nothing.
    SitOut {
        /// The cluster's engine version.
        cluster_version: u32,
    },
    /// Renew our lease by CAS on `revision` with a fresh TTL; on failure we no longer lead.
    Renew {
        /// The revision read.
        revision: LeaseRevision,
    },
    /// Create the lease (must not exist).
    Acquire,
    /// Another engine leads.
    Follow {
        /// The leader.
        holder: MachineId,
    },
    /// Take an older engine's lease by CAS on `revision`, TTL extended by `wait`, and act
    /// only after `wait` has passed.
    Steal {
        /// The revision read.
        revision: LeaseRevision,
        /// What was left of the old lease.
        wait: Duration,
    },
}

/// The step for engine `own` of version `own_version`, given the cluster's engine version and
/// the lease as read this round.
#[must_use]
pub fn decide(
    own: &MachineId,
    own_version: u32,
    cluster_version: Option<u32>,
    lease: Option<&LeaseView>,
) -> LeaseStep {
    match cluster_version {
        Some(version) if version > own_version => {
            return LeaseStep::SitOut {
                cluster_version: version,
            }
        }
        Some(version) if version == own_version => {}
        from => return LeaseStep::RaiseVersion { from },
    }
    let Some(lease) = lease else {
        return LeaseStep::Acquire;
    };
    if &lease.holder == own {
        return LeaseStep::Renew {
            revision: lease.revision,
        };
    }
    if lease.version >= own_version {
        return LeaseStep::Follow {
            holder: lease.holder.clone(),
        };
    }
    LeaseStep::Steal {
        revision: lease.revision,
        wait: lease.remaining,
    }
}

#[cfg(test)]
mod tests {
    //! Every branch of fleet's leadership steps, table style.

    use super::*;

    fn id(text: &str) -> MachineId {
        MachineId::parse(text).expect("test IDs are valid")
    }

    fn lease(holder: &str, version: u32) -> LeaseView {
        LeaseView {
            holder: id(holder),
            version,
            revision: LeaseRevision(42),
            remaining: Duration::from_secs(3),
        }
    }

    #[test]
    fn every_branch_of_the_leadership_decision() {
        // Goal: the version gate, renew, acquire, follow and steal, each from its inputs.
        let me = id("me");
        let cases = [
            (None, None, LeaseStep::RaiseVersion { from: None }),
            (Some(0), None, LeaseStep::RaiseVersion { from: Some(0) }),
            (
                Some(2),
                Some(lease("other", 2)),
                LeaseStep::SitOut { cluster_version: 2 },
            ),
            (Some(1), None, LeaseStep::Acquire),
            (
                Some(1),
                Some(lease("me", 1)),
                LeaseStep::Renew {
                    revision: LeaseRevision(42),
                },
            ),
            (
                Some(1),
                Some(lease("other", 1)),
                LeaseStep::Follow {
                    holder: id("other"),
                },
            ),
            (
                Some(1),
                Some(lease("other", 2)),
                LeaseStep::Follow {
                    holder: id("other"),
                },
            ),
            (
                Some(1),
                Some(lease("old", 0)),
                LeaseStep::Steal {
                    revision: LeaseRevision(42),
                    wait: Duration::from_secs(3),
                },
            ),
        ];
        for (cluster_version, lease, expected) in cases {
            assert_eq!(
                decide(&me, 1, cluster_version, lease.as_ref()),
                expected,
                "cluster {cluster_version:?}, lease {lease:?}"
            );
        }
    }
}
