//! `fleet-registry`: fleet's registry in Keel.
//!
//! Owns the key schema ([`keys`], one file, the layout of `docs/fleet.md`) and the values
//! stored under each key ([`wire`]: fleet's shapes where fleet had the key, versioned JSON
//! where Keel adds one; golden-tested). The reads and writes over `kv-client` that the
//! engine, the agents and the API make will build on these (not written yet:
//! `docs/fleet.md`, "Status").
//!
//! Invariants: no other crate formats a registry key or a stored value; decoding validates
//! into `fleet-core`'s types. Must depend on no workspace crate but `fleet-core` and
//! `kv-client` (`scripts/check_crate_graph.py`), and never on the store's crates.

#![warn(missing_docs)]

pub mod keys;
pub mod store;
pub mod view;
pub mod wire;

pub use keys::{Keys, RegistryKey, DEFAULT_PREFIX};
pub use store::{EngineWrite, Held, Registry, RegistryError, ReportAt, WriteOutcome, Written};
