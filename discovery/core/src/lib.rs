//! `discovery-core`: the pure, I/O-free core of Keel's SkyDNS-style DNS discovery.
//!
//! Owns:
//! - names and keys: a DNS name's key in SkyDNS's layout (labels reversed under the prefix,
//!   lower case), the way back, and the keys of reverse (PTR) records ([`path`]);
//! - the service JSON SkyDNS stores at those keys, its defaults, and the TTL rule
//!   ([`service`]);
//! - the in-memory index of every record, rebuilt or updated from the store's state and
//!   swapped whole ([`index`]);
//! - the zone's settings ([`zone`]) and the answer to every query from the index
//!   ([`answer`], built from [`lookup`]'s records), as plain records ([`record`]) that the
//!   server encodes with hickory;
//! - the configuration stored at `/<prefix>/config` ([`config`]), the sidekick's
//!   announcement ([`announce`]), the response cache's bookkeeping ([`cache`]) and the stub
//!   zones declared in the records ([`stub`]);
//! - BIND's DNSSEC key pair files ([`keyfile`]) and the names that prove a denial ([`denial`]).
//!
//! Invariants: nothing here reads a clock, a socket or the store, and no DNS wire format is
//! written here (the server crate uses hickory's). Must not depend on any workspace crate
//! (`scripts/check_crate_graph.py`).

#![warn(missing_docs)]

pub mod announce;
pub mod answer;
pub mod cache;
pub mod config;
pub mod denial;
pub mod index;
pub mod keyfile;
pub mod lookup;
pub mod path;
pub mod record;
pub mod service;
pub mod stub;
pub mod zone;

#[cfg(test)]
mod answer_tests;
