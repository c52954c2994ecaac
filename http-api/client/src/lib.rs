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
//! # Reflector: a cached prefix, kept current
//!
//! [`Client::reflect`] keeps an in-memory cache of a key prefix for fleet, locksmith and
//! discovery ("list, then watch, once"): a recursive quorum GET, then a recursive
//! watch from `X-Etcd-Index + 1` applied in order, a re-list on error 401 or any other end of
//! the watch, and retries with jittered backoff forever. It publishes immutable
//! `Arc<`[`Cache`]`>` generations on a `tokio::sync::watch` channel, each with the keys changed
//! since the previous one ([`Changes`]) and whether it is fed ([`Health`]). The [`reflector`]
//! module docs give the guarantees, the costs and the limits.
//!
//! ```no_run
//! use kv_client::{Changes, Client, ConfigError, ReflectorOptions};
//! use tokio_util::{sync::CancellationToken, task::TaskTracker};
//!
//! # async fn example(client: Client) -> Result<(), ConfigError> {
//! let tasks = TaskTracker::new();
//! let shutdown = CancellationToken::new();
//! let jobs = client.reflect("/_coreos.com/fleet/job", ReflectorOptions::default(), &tasks,
//!     shutdown.clone())?;
//! let mut updates = jobs.subscribe();
//! let mut handled = 0;
//! while updates.changed().await.is_ok() {
//!     // An `Arc`: the channel's lock is released at once, the cache never changes.
//!     let cache = updates.borrow_and_update().clone();
//!     if !cache.is_synced() {
//!         continue; // Stale (store unreachable) or stopped: act on nothing.
//!     }
//!     match cache.changes_since(handled) {
//!         Changes::All => { /* a full pass over cache.entries() */ }
//!         Changes::Keys(keys) => { /* only these; cache.get(key) is None if removed */ }
//!     }
//!     handled = cache.generation();
//! }
//! shutdown.cancel();
//! tasks.close();
//! tasks.wait().await;
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
mod batch;
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
pub mod reflector;
mod request;
mod transport;
mod types;
mod watch;

pub use backoff::Backoff;
pub use batch::{Batch, BATCH_WRITES_MAX};
pub use client::Client;
pub use config::{ClientConfig, ConfigError, Endpoint, EndpointProblem};
pub use error::{ClientError, DecodeError, IndeterminateReason, RequestError, TransportError};
pub use kv_wire::{code, Action, Member, Version};
pub use options::{DeleteOptions, GetOptions, PrevConditions, SetOptions, WatchOptions};
pub use reflector::{Cache, Changes, Entry, Health, Reflector, ReflectorOptions, WaitSyncedError};
pub use types::{ClusterId, Event, Node, RaftIndex, Response, StoreIndex, Term};
pub use watch::Watch;

// What the API promises callers (a client shared across tasks, errors sent between them, a
// watch moved into a task, a reflector and its caches shared across tasks); a change that
// breaks it fails the build.
const _: () = {
    const fn shared<T: Send + Sync + Clone>() {}
    const fn sendable<T: Send + Sync + 'static>() {}
    const fn movable<T: Send + Unpin>() {}
    shared::<Client>();
    sendable::<ClientError>();
    movable::<Watch>();
    shared::<Reflector>();
    sendable::<Cache>();
};
