//! `fleetctl` for Keel: fleet's command set, flags, tables, messages and exit codes
//!, over fleetd's v1 HTTP API.
//!
//! Built so far: the table layout ([`table`]), byte for byte as fleet's. The commands and the
//! binary follow (`docs/fleet.md`, "Status").

#![warn(missing_docs)]

pub mod table;
