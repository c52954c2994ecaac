//! `fleetd`: fleet's daemon for Keel, one per host: the agent, an engine candidate and the
//! fleet v1 HTTP API, keeping all state in Keel through `kv-client`.
//!
//! Parts: the configuration ([`config`]), exactly as fleet reads it; the engine ([`engine`]:
//! lease, scheduling passes, the per-machine index); the agent ([`agent`]: this machine's
//! index → systemd tasks, state reports, presence); the v1 HTTP API ([`api`]); the SIGUSR1
//! state dump ([`status`]); and [`daemon`], which wires them together for the `fleetd`
//! binary.
//!
//! Must not depend on the store's crates (`kvstore*`, `v2store`, `kv-http`): it sees the
//! cluster only through `kv-client` (`scripts/check_crate_graph.py`).

#![warn(missing_docs)]

pub mod agent;
pub mod api;
pub mod config;
pub mod daemon;
pub mod engine;
pub mod host;
pub mod metrics;
pub mod status;
