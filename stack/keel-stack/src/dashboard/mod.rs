//! The dashboard (binary `keel-dashboard`, started by the stack on 127.0.0.1:8080): one page
//! with Keel's members, leader and raft positions, fleet's machines and units (start and stop
//! from the page), the reboot semaphores and the DNS records, updated live over server-sent
//! events, with plots of the commit rate, of each daemon's request rate (from its
//! `/metrics`), of unit states and of failures and restarts over time, and the templates'
//! replica counts (scaled from the page). It reads only public
//! APIs: Keel's v2 keys and members through `kv-client`, fleet's v1 API over HTTP.
//!
//! [`view`] builds the document without I/O, with the counts of [`history`] and the request
//! totals [`requests`] reads from metrics text (both without I/O); [`source`] reads a round
//! of it; [`server`] serves the page, the document and the events, and passes unit actions
//! to fleet.

pub mod history;
pub mod requests;
pub mod server;
pub mod source;
pub mod view;
