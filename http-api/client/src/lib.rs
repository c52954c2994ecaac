//! `kv-client`: the one client of Keel's etcd v2 API, used by every service, the Jepsen
//! harness, the benchmark and `keelctl`.
//!
//! Owns: typed keys operations, watches as a stream, failover across endpoints (optionally
//! discovered from `/v2/members`), timeouts, and typed errors classified as domain outcome,
//! transient or indeterminate. It also works against etcd 3.4 with `--enable-v2`.
//!
//! ```no_run
//! use kv_client::{Client, ClientConfig, GetOptions, PrevConditions, SetOptions, WatchOptions};
//! use futures_util::StreamExt;
//!
//! # async fn example() -> Result<(), kv_client::ClientError> {
//! let client = Client::new(ClientConfig::new(vec!["http://127.0.0.1:2379".into()]))?;
//! let written = client.set("/config/mode", "fast", SetOptions::default()).await?;
//! let current = client.get("/config/mode", GetOptions::default()).await?;
//! // Change it only if nobody else did in between.
//! let prev = PrevConditions::index(current.node.modified_index);
//! match client.compare_and_swap("/config/mode", "safe", &prev, SetOptions::default()).await {
//!     Ok(_) => {}
//!     Err(error) if error.is_compare_failed() => { /* someone else won: re-read */ }
//!     Err(error) if error.is_indeterminate() => { /* unknown: re-read to settle */ }
//!     Err(error) => return Err(error),
//! }
//! // Every change after the read, in order, surviving member failures.
//! let mut watch = client.watch("/config", WatchOptions::after(written.etcd_index).recursive());
//! while let Some(event) = watch.next().await {
//!     match event {
//!         Ok(event) => println!("{} {}", event.action.as_str(), event.node.key),
//!         // 401: re-read with `get`, then watch from `WatchOptions::after(etcd_index)`.
//!         Err(error) if error.is_history_cleared() => break,
//!         // Every endpoint failed for now; polling again resumes where the watch stands.
//!         Err(error) if error.is_retriable() => continue,
//!         Err(error) => return Err(error),
//!     }
//! }
//! # Ok(())
//! # }
//! ```
//!
//! Invariants: a write that may have reached a server is never sent again by the client; it
//! is reported as [`ClientError::Indeterminate`]. Reads fail over freely. Every retry loop is
//! bounded in attempts and time, and every buffer in size.
//!
//! Must not depend on any workspace crate but `kv-wire` (checked by
//! `scripts/check_crate_graph.py`): services see the cluster only through this crate.

#![warn(missing_docs)]

mod backoff;
mod client;
mod cluster;
mod config;
mod decode;
mod endpoints;
mod error;
mod keys;
pub mod limits;
mod members;
mod options;
mod request;
mod transport;
mod types;
mod watch;

pub use client::Client;
pub use config::{ClientConfig, ConfigError, Endpoint, EndpointProblem};
pub use error::{ClientError, DecodeError, IndeterminateReason, RequestError, TransportError};
pub use kv_wire::{code, Action, Member, Version};
pub use options::{DeleteOptions, GetOptions, PrevConditions, SetOptions, WatchOptions};
pub use types::{ClusterId, Event, Node, RaftIndex, Response, StoreIndex, Term};
pub use watch::Watch;

// What the API promises callers (a client shared across tasks, errors sent between them, a
// watch moved into a task); a change that breaks it fails the build.
const _: () = {
    const fn shared<T: Send + Sync + Clone>() {}
    const fn sendable<T: Send + Sync + 'static>() {}
    const fn movable<T: Send + Unpin>() {}
    shared::<Client>();
    sendable::<ClientError>();
    movable::<Watch>();
};
