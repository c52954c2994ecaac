//! Watches as a [`Stream`] of events, built on etcd's long-poll (`GET ?wait=true&waitIndex=N`).
//!
//! Why long-poll and not `stream=true`: each request returns exactly one event and is then
//! re-issued from `modifiedIndex + 1`, so the position is always one number the client owns.
//! Resuming on any member after a failure is the same request as the next poll, no event is
//! lost or repeated, and the behaviour is identical on Keel and etcd (whose `stream=true`
//! differs in history replay and duplicates, see `docs/compat.md`). The cost is one round trip
//! per event; history replay lets a slow consumer catch up without losing anything until it
//! falls 1000 events behind, which surfaces as [`ClientError::HistoryCleared`].
//!
//! Invariants:
//! - `wait_index` only grows, and only past indexes the server has shown to hold no matching
//!   event: after an event it is the event's index + 1; after a poll the server *completed*
//!   without an event it is at least that poll's `X-Etcd-Index + 1` (the server scanned its
//!   history up to there and registered); for a watch started "from now" (no `waitIndex`) the
//!   first poll's `X-Etcd-Index + 1`, since such a poll only ever delivers later events.
//! - A poll that merely timed out is re-issued with the same `waitIndex`: a history hit is sent
//!   right after the head, so its body may still have been in flight, and skipping to
//!   `X-Etcd-Index + 1` could lose it. The price: a watch from a fixed index that stays idle
//!   while 1000 other changes happen gets 401 and must resynchronise.
//! - Nothing runs unless the stream is polled, and at most one event is held: buffering is
//!   bounded by construction (no task, no channel).
//! - Each `poll_next` makes at most `attempts_max` failed attempts in a row, within
//!   `operation_timeout` of the first failure (an answered poll restores the budget); then it
//!   yields the transient error (`is_retriable()`), and polling again resumes from the
//!   same index. Any other error ends the stream after it is yielded. Waiting for an event has
//!   no bound: that is the purpose of a watch. Each long-poll is re-issued after
//!   `watch_poll_timeout`, and its response head must arrive within `request_timeout`, which
//!   is how a frozen member is noticed and left.

use crate::client::Client;
use crate::config::Endpoint;
use crate::decode::{self, RawReply, ReplyError};
use crate::error::{is_transient_code, is_transient_status, ClientError, TransportError};
use crate::options::WatchOptions;
use crate::request;
use crate::transport::AttemptError;
use crate::types::{Event, StoreIndex};
use futures_util::Stream;
use kv_wire::{code, header};
use std::fmt;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use tokio::time::Instant;
use tracing::{debug, Instrument, Span};

/// The events of one watch, in index order. Created by [`Client::watch`]; see there.
pub struct Watch {
    stream: Pin<Box<dyn Stream<Item = Result<Event, ClientError>> + Send>>,
    /// `wait_index` of the next poll, 0 while unknown; written by the watcher only.
    next_index: Arc<AtomicU64>,
}

impl Watch {
    /// The `waitIndex` the next poll will ask for: one past the last event delivered, or past
    /// the last index the server confirmed had nothing. `None` before the first poll of a
    /// watch started without `wait_index`.
    #[must_use]
    pub fn next_wait_index(&self) -> Option<StoreIndex> {
        let index = self.next_index.load(Ordering::Acquire);
        (index > 0).then_some(StoreIndex(index))
    }
}

impl Stream for Watch {
    type Item = Result<Event, ClientError>;

    fn poll_next(mut self: Pin<&mut Self>, context: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.stream.as_mut().poll_next(context)
    }
}

impl fmt::Debug for Watch {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter
            .debug_struct("Watch")
            .field("next_wait_index", &self.next_wait_index())
            .finish_non_exhaustive()
    }
}

impl Client {
    /// Watches `key` (and everything below it with `recursive`) from `options.wait_index`, or
    /// from the next change when it is `None`. Nothing is sent until the stream is polled.
    ///
    /// A dropped connection, a timeout or a failing member is survived: the watch resumes on
    /// the next endpoint from the last delivered index + 1, so no event is lost or repeated.
    ///
    /// # Errors
    /// Yielded as stream items:
    /// - [`ClientError::HistoryCleared`] (code 401): the wanted index left the server's
    ///   1000-event history. The stream ends; resynchronise with [`Client::get`] and a new
    ///   watch from [`WatchOptions::after`] its `etcd_index`.
    /// - [`ClientError::Unavailable`] / [`ClientError::Timeout`] / transient `Etcd` or `Http`
    ///   (`is_retriable()`): every endpoint failed `attempts_max` times in a row. The stream
    ///   stays usable; polling again resumes from [`Watch::next_wait_index`].
    /// - Any other error (`Etcd`, `Http`, `Decode`, `ReplyTooLarge`) ends the stream.
    pub fn watch(&self, key: &str, options: WatchOptions) -> Watch {
        let wait_index = options.wait_index.filter(|index| index.0 > 0);
        let next_index = Arc::new(AtomicU64::new(wait_index.map_or(0, |index| index.0)));
        let watcher = Watcher {
            client: self.clone(),
            key: key.to_owned(),
            recursive: options.recursive,
            wait_index,
            next_index: Arc::clone(&next_index),
            endpoint: self.inner.endpoints().preferred(),
            finished: false,
            span: tracing::debug_span!("watch", key, recursive = options.recursive),
        };
        let stream = futures_util::stream::unfold(watcher, |mut watcher| async move {
            if watcher.finished {
                return None;
            }
            let span = watcher.span.clone();
            let item = watcher.next_item().instrument(span).await;
            Some((item, watcher))
        });
        Watch {
            stream: Box::pin(stream),
            next_index,
        }
    }
}

/// The state the stream carries between events.
struct Watcher {
    client: Client,
    key: String,
    recursive: bool,
    wait_index: Option<StoreIndex>,
    next_index: Arc<AtomicU64>,
    /// The endpoint polls go to until one fails.
    endpoint: Endpoint,
    /// Set after a terminal error has been yielded.
    finished: bool,
    span: Span,
}

/// The result of one long-poll.
enum PollOutcome {
    /// An event: deliver it.
    Event(Event),
    /// No event within `watch_poll_timeout`: re-issue on the same endpoint. `registered` is the
    /// poll's `X-Etcd-Index`.
    Idle { registered: Option<StoreIndex> },
    /// Try the next endpoint; yielded if the budget is spent.
    Transient(ClientError),
    /// Yield and end the stream.
    Terminal(ClientError),
}

impl Watcher {
    /// Polls until an event or an error to yield (bounds in the module docs).
    async fn next_item(&mut self) -> Result<Event, ClientError> {
        // The failure budget starts at the first failure and is restored whenever a poll is
        // answered, so a watch that idled for hours still fails over in full.
        let mut failures: u32 = 0;
        let mut deadline: Option<Instant> = None;
        loop {
            self.client.discover_if_due().await;
            match self.poll_once(failures + 1).await {
                PollOutcome::Event(event) => {
                    self.advance(event.index().next());
                    return Ok(event);
                }
                PollOutcome::Idle { registered } => {
                    if self.wait_index.is_none() {
                        self.advance_past(registered);
                    }
                    failures = 0;
                    deadline = None;
                }
                PollOutcome::Terminal(error) => {
                    self.finished = true;
                    return Err(error);
                }
                PollOutcome::Transient(error) => {
                    failures += 1;
                    debug!(endpoint = %self.endpoint, failures, %error, "watch poll failed");
                    if failures >= self.client.inner.config.attempts_max {
                        return Err(error);
                    }
                    let operation_timeout = self.client.inner.config.operation_timeout;
                    let deadline =
                        *deadline.get_or_insert_with(|| Instant::now() + operation_timeout);
                    let next = self
                        .client
                        .next_endpoint(&self.endpoint, failures, deadline);
                    match next.await {
                        Some(endpoint) => self.endpoint = endpoint,
                        None => return Err(error),
                    }
                }
            }
        }
    }

    /// One long-poll on the current endpoint: the head within `request_timeout`, the event
    /// within `watch_poll_timeout`.
    async fn poll_once(&mut self, attempt: u32) -> PollOutcome {
        let spec = request::watch(&self.key, self.recursive, self.wait_index);
        let transport = &self.client.inner.transport;
        let response = match transport.head(&self.endpoint, &spec).await {
            Ok(response) => response,
            Err(error) => return self.attempt_failure(error, attempt),
        };
        let (head, body) = response.into_parts();
        let status = head.status.as_u16();
        let registered = decode::index_header(&head.headers, header::ETCD_INDEX)
            .ok()
            .flatten()
            .map(StoreIndex);
        let limit = if head.status.is_success() {
            self.client.inner.config.watch_poll_timeout
        } else {
            transport.request_timeout
        };
        let body = match tokio::time::timeout(limit, transport.read_body(body)).await {
            Err(_) if head.status.is_success() => return PollOutcome::Idle { registered },
            Err(_) => return self.attempt_failure(AttemptError::TimedOut(limit), attempt),
            Ok(Err(error)) => return self.attempt_failure(error, attempt),
            Ok(Ok(body)) => body,
        };
        if !head.status.is_success() {
            let reply = RawReply {
                status,
                headers: head.headers,
                body,
            };
            return self.error_reply(decode::failure(&reply));
        }
        match decode::watch_event(&body) {
            Ok(Some(event)) => PollOutcome::Event(event),
            Ok(None) => {
                // The server ended the poll without an event (evicted, shutting down): move
                // on, past what it confirmed had nothing.
                self.advance_past(registered);
                PollOutcome::Transient(ClientError::Unavailable {
                    endpoint: self.endpoint.clone(),
                    attempts: attempt,
                    source: TransportError::watch_ended(),
                })
            }
            Err(source) => PollOutcome::Terminal(ClientError::Decode {
                endpoint: self.endpoint.clone(),
                source,
            }),
        }
    }

    fn attempt_failure(&self, error: AttemptError, attempt: u32) -> PollOutcome {
        let endpoint = self.endpoint.clone();
        match error {
            AttemptError::NotSent(source) | AttemptError::Lost(source) => {
                PollOutcome::Transient(ClientError::Unavailable {
                    endpoint,
                    attempts: attempt,
                    source,
                })
            }
            AttemptError::TimedOut(timeout) => {
                PollOutcome::Transient(ClientError::Timeout { endpoint, timeout })
            }
            AttemptError::TooLarge(max_bytes) => {
                PollOutcome::Terminal(ClientError::ReplyTooLarge {
                    endpoint,
                    max_bytes,
                })
            }
            AttemptError::Invalid(error) => {
                PollOutcome::Terminal(ClientError::InvalidRequest(error))
            }
        }
    }

    fn error_reply(&self, error: ReplyError) -> PollOutcome {
        let endpoint = self.endpoint.clone();
        match error {
            ReplyError::Etcd {
                code, cause, index, ..
            } if code == code::EVENT_INDEX_CLEARED => {
                PollOutcome::Terminal(ClientError::HistoryCleared {
                    wait_index: self.wait_index.unwrap_or_default(),
                    cause,
                    index,
                })
            }
            ReplyError::Etcd {
                code,
                message,
                cause,
                index,
            } => {
                let error = ClientError::Etcd {
                    code,
                    message,
                    cause,
                    index,
                };
                if is_transient_code(code) {
                    PollOutcome::Transient(error)
                } else {
                    PollOutcome::Terminal(error)
                }
            }
            ReplyError::Http { status, body } => {
                let error = ClientError::Http {
                    endpoint,
                    status,
                    body,
                };
                if is_transient_status(status) {
                    PollOutcome::Transient(error)
                } else {
                    PollOutcome::Terminal(error)
                }
            }
            ReplyError::Decode(source) => {
                PollOutcome::Terminal(ClientError::Decode { endpoint, source })
            }
        }
    }

    /// After a poll with no event: continue at least past the index the server registered at.
    fn advance_past(&mut self, registered: Option<StoreIndex>) {
        if let Some(index) = registered {
            self.advance(index.next());
        }
    }

    /// Moves `wait_index` forward to `index`; never back.
    fn advance(&mut self, index: StoreIndex) {
        let next = self.wait_index.map_or(index, |current| current.max(index));
        self.wait_index = Some(next);
        self.next_index.store(next.0, Ordering::Release);
    }
}
