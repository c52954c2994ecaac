//! The reflector's task: list, watch, feed the core, publish, and retry; the thin shell around
//! `state.rs` (the openraft engine/runtime split, at small scale).
//!
//! A round: a quorum recursive GET of the prefix → publish (synced) → a recursive watch from
//! the list's index + 1 → apply every event already received, then publish once → … until the
//! watch ends. Error 401 starts the next round at once; any other end of the watch, or a failed
//! list, marks the cache stale and starts the next round after a jittered pause that doubles
//! per consecutive failed round (`retry_pause_min` up to `retry_pause_max`), forever.
//!
//! Why a re-list, not a resumed watch, ends an outage: only an answer proves that a quiet
//! store is reachable again (a resumed watch says nothing until the next change), and the list
//! makes the cache exact as of that answer. Its cost, one recursive read, is paid only after
//! the client's whole failover budget failed.
//!
//! Every retry is bounded and jittered: a round counts as failed unless its watch delivered an
//! event or ran for `retry_pause_max`, so a 401 right after each list (a store whose history
//! turns over faster than the prefix can be listed) backs off instead of looping.
//!
//! Every wait selects on the shutdown token and on the last receiver going away, so the task
//! stops within one poll of either; its last publish says `Health::Stopped`.
//!
//! Logs: warn when the cache turns stale (error when it refuses a list or event beyond
//! `keys_max`: an operator must act), info when it is synced after an outage and on re-lists
//! after 401, debug per event and per further failure. Keys are logged; values never are.

use super::cache::Cache;
use super::state::{ApplyError, Core, Listing};
use crate::backoff::Backoff;
use crate::client::Client;
use crate::error::ClientError;
use crate::limits::REFLECTOR_EVENTS_PER_PUBLISH_MAX;
use crate::options::{GetOptions, WatchOptions};
use crate::types::Event;
use futures_util::StreamExt;
use kv_wire::code;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tracing::{debug, error, info, instrument, warn};

/// Why the cache stopped being fed.
#[derive(Debug, thiserror::Error)]
enum Failure {
    #[error(transparent)]
    Client(#[from] ClientError),
    #[error(transparent)]
    Refused(#[from] ApplyError),
    #[error("the watch ended without an error")]
    WatchEnded,
    #[error("the watch history was cleared within {window:?} of the list")]
    HistoryOutrun { window: Duration },
}

/// How following the watch ended.
enum WatchEnd {
    Stopped,
    /// Error 401: re-list now.
    HistoryCleared,
    Failed(Failure),
}

pub(crate) struct Task {
    pub(crate) client: Client,
    pub(crate) core: Core,
    pub(crate) sender: watch::Sender<Arc<Cache>>,
    pub(crate) backoff: Backoff,
    pub(crate) shutdown: CancellationToken,
    /// Consecutive failed rounds; the pause before the next list grows with it.
    pub(crate) failures: u32,
    /// A watch that ran this long, or delivered an event, ends a failure streak; a 401 sooner
    /// after a list is a failure. It is `retry_pause_max`, the longest pause: rounds at least
    /// that long come no faster than a capped backoff would let them.
    pub(crate) relist_interval_min: Duration,
}

impl Task {
    /// Runs until the shutdown token is cancelled or every receiver is dropped.
    #[instrument(name = "reflector", skip_all, fields(prefix = %self.core.prefix()))]
    pub(crate) async fn run(mut self) {
        debug!("reflector started");
        while self.round().await {}
        self.core.mark_stopped();
        self.publish();
        debug!("reflector stopped");
    }

    /// One list and the watch after it. Returns false when the reflector must stop.
    async fn round(&mut self) -> bool {
        let Some(listed) = self.or_stop(self.list()).await else {
            return false;
        };
        let relisted = match listed {
            Ok(listing) => self.core.relist(listing).map_err(Failure::from),
            Err(error) => Err(Failure::from(error)),
        };
        if let Err(failure) = relisted {
            return self.retry_after(&failure).await;
        }
        self.synced();
        self.publish();
        let listed_index = self.core.index();
        let watch_started = Instant::now();
        let end = self.follow().await;
        // A watch that delivered an event, or ran for a while, proves that the store and the
        // watch work: the failure streak, and with it the backoff, ends.
        let healthy =
            self.core.index() > listed_index || watch_started.elapsed() >= self.relist_interval_min;
        if healthy {
            self.failures = 0;
        }
        match end {
            WatchEnd::Stopped => false,
            WatchEnd::HistoryCleared if healthy => {
                info!(index = %self.core.index(), "watch history cleared: re-listing");
                true
            }
            // A 401 right after a list: the store turns its history over faster than the
            // prefix is listed. Re-listing at once would loop; back off like any failure.
            WatchEnd::HistoryCleared => {
                let window = self.relist_interval_min;
                self.retry_after(&Failure::HistoryOutrun { window }).await
            }
            WatchEnd::Failed(failure) => self.retry_after(&failure).await,
        }
    }

    /// A quorum recursive GET of the prefix; a missing prefix is an empty listing at the
    /// error's index.
    async fn list(&self) -> Result<Listing, ClientError> {
        let options = GetOptions {
            recursive: true,
            sorted: false,
            quorum: true,
        };
        match self.client.get(self.core.prefix(), options).await {
            Ok(response) => Ok(Listing {
                node: Some(response.node),
                index: response.etcd_index,
            }),
            Err(ClientError::Etcd {
                code: code::KEY_NOT_FOUND,
                index,
                ..
            }) => Ok(Listing { node: None, index }),
            Err(error) => Err(error),
        }
    }

    /// Watches from the cache's index + 1, applying and publishing, until the watch ends.
    async fn follow(&mut self) -> WatchEnd {
        let options = WatchOptions::after(self.core.index()).recursive();
        let watch = self.client.watch(self.core.prefix(), options);
        // Items the stream already holds come in one chunk: a burst is applied, then
        // published once.
        let mut chunks = watch.ready_chunks(REFLECTOR_EVENTS_PER_PUBLISH_MAX);
        loop {
            let Some(chunk) = self.or_stop(chunks.next()).await else {
                return WatchEnd::Stopped;
            };
            let Some(items) = chunk else {
                return WatchEnd::Failed(Failure::WatchEnded);
            };
            let end = self.apply_all(items);
            self.publish();
            if let Some(end) = end {
                return end;
            }
        }
    }

    /// Applies events in order up to the first error, which ends the watch (events after it
    /// are covered by the re-list).
    fn apply_all(&mut self, items: Vec<Result<Event, ClientError>>) -> Option<WatchEnd> {
        for item in items {
            let event = match item {
                Ok(event) => event,
                Err(error) if error.code() == Some(code::EVENT_INDEX_CLEARED) => {
                    return Some(WatchEnd::HistoryCleared);
                }
                Err(error) => return Some(WatchEnd::Failed(Failure::Client(error))),
            };
            match self.core.apply(&event) {
                Ok(applied) => debug!(
                    key = %event.node.key,
                    action = event.action.as_str(),
                    index = %event.index(),
                    ?applied,
                    "event"
                ),
                Err(refused) => return Some(WatchEnd::Failed(Failure::Refused(refused))),
            }
        }
        None
    }

    /// After a successful list: logged when it ends an outage (or is the first).
    fn synced(&mut self) {
        if self.failures > 0 || self.core.list_count() == 1 {
            info!(
                keys = self.core.len(),
                index = %self.core.index(),
                "cache synced"
            );
        }
    }

    /// Marks the cache stale, logs the first failure of a streak above debug, and pauses.
    /// Returns false when the reflector must stop instead.
    async fn retry_after(&mut self, failure: &Failure) -> bool {
        self.failures = self.failures.saturating_add(1);
        let now = Instant::now().into_std();
        self.core.mark_stale(now);
        self.publish();
        let pause = self.backoff.pause(self.failures);
        let failures = self.failures;
        match failure {
            _ if failures > 1 => debug!(%failure, failures, ?pause, "reflector retry failed"),
            Failure::Refused(_) => error!(%failure, ?pause, "cache stale: raise keys_max"),
            _ => warn!(%failure, ?pause, "cache stale: re-listing after a pause"),
        }
        self.or_stop(tokio::time::sleep(pause)).await.is_some()
    }

    fn publish(&mut self) {
        if let Some(cache) = self.core.publish() {
            self.sender.send_replace(Arc::new(cache));
        }
    }

    /// `future`'s output, or `None` when shutdown is requested or every receiver is dropped
    /// first.
    async fn or_stop<T>(&self, future: impl Future<Output = T>) -> Option<T> {
        tokio::select! {
            biased;
            () = self.shutdown.cancelled() => None,
            () = self.sender.closed() => None,
            output = future => Some(output),
        }
    }
}
