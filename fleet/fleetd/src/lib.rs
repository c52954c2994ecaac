//! `fleetd`: fleet's daemon for Keel, one per host: the agent, an engine candidate and the
//! fleet v1 HTTP API, keeping all state in Keel through `kv-client`.
//!
//! Built so far: the configuration ([`config`]), exactly as fleet reads it. The engine and
//! agent loops, the API and the binary follow (`docs/fleet.md`, "Status").
//!
//! Must not depend on the store's crates (`kvstore*`, `v2store`, `kv-http`): it sees the
//! cluster only through `kv-client` (`scripts/check_crate_graph.py`).

#![warn(missing_docs)]

pub mod api;
pub mod config;
