//! `fleet-api`: the fleet v1 HTTP API's wire types, shared by the server (`fleetd`) and the
//! client (`fleetctl`), so both speak exactly the same JSON.
//!
//! Owns the entities and the error envelope ([`entities`]), the page tokens ([`page`]) and
//! the JSON of Keel's extension routes that fleetctl reads ([`keel`]).
//! Invariants: depends on serde and base64 only, no workspace crate and no I/O
//! (`scripts/check_crate_graph.py`); field names and omission rules are fleet's.

#![warn(missing_docs)]

pub mod entities;
pub mod keel;
pub mod page;
