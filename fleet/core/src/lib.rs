//! `fleet-core`: the pure, I/O-free core of Keel's fleet: what a unit is and where it may run.
//!
//! Owns:
//! - unit names, templates and instances, and fleetctl's name mangling ([`name`]);
//! - unit files: systemd-style parsing, fleet's canonical text and its SHA-1 hash
//!   ([`unit_file`]);
//! - the `[X-Fleet]` section: value splitting, specifiers, deprecated aliases, Go-style globs
//!   and the refused combinations ([`options`], [`glob`]);
//! - the model shared by the registry, the engine and the agent ([`model`]), resource
//!   quantities ([`resources`]) and metadata expressions ([`selector`]);
//! - the engine's scheduling decision, a function from a cluster snapshot to placements
//!   ([`schedule`]), its controllers' decisions (replica counts, [`replicas`]; the next step
//!   of a rolling replacement, [`rollout`]), and the agent's plan, a function from desired and current local state to
//!   systemd tasks ([`agent_plan`]).
//!
//! Invariants: nothing here reads a clock, a file, the network or an environment variable,
//! and no hash-map order reaches an output (every collection that is iterated is a
//! `BTreeMap`/`BTreeSet` or a sorted `Vec`). Must not depend on any workspace crate
//! (`scripts/check_crate_graph.py`), on tokio or on zbus.

#![warn(missing_docs)]

pub mod agent_plan;
pub mod glob;
pub mod lease;
pub mod model;
pub mod name;
pub mod options;
pub mod ports;
pub mod replicas;
pub mod resources;
pub mod rollout;
pub mod schedule;
pub mod selector;
pub mod unit_file;
