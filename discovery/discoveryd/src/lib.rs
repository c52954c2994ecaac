//! `discoveryd`: SkyDNS-style DNS discovery over Keel. It answers one domain from the records
//! services write into Keel (SkyDNS's layout and JSON), from an in-memory index that a watch
//! keeps current, and forwards every other name to upstream resolvers.
//!
//! Layout: [`feed`] (the index, fed by kv-client's reflector), [`handler`] (hickory's request
//! handler over discovery-core's answers), [`forward`] (the upstreams), [`cache`] (forwarded
//! answers), [`memo`] (answers from the index, kept while they hold), [`encode`] (core records ↔ hickory's), [`server`] (the UDP and TCP listeners), [`udp`] (the UDP workers),
//! [`metrics`] (Prometheus metrics with SkyDNS's names, `/ready`, `/health`).

pub mod cache;
pub mod config;
pub mod dnssec;
pub mod encode;
pub mod feed;
pub mod forward;
pub mod handler;
pub mod memo;
pub mod metrics;
pub mod run;
pub mod server;
pub mod udp;
