//! [`Client`]: the shared state (configuration, connection pool, endpoint list, jitter) and the
//! one retry loop every call goes through, with its classification of failures.
//!
//! Retry policy (STYLE §2.5): a read moves to the next endpoint after a connection failure, a
//! timeout, error 300/301 or an HTTP 5xx/429. A write moves on **only** when its connection
//! could not be opened; once it may have been sent, a timeout, a reset, error 300/301, a
//! 5xx/408, or a success reply that cannot be read is returned as
//! [`ClientError::Indeterminate`] and never retried. Every loop is
//! bounded by `attempts_max` and `operation_timeout`; a pause with full jitter separates
//! rounds over the endpoint list.

use crate::backoff::Backoff;
use crate::config::{ClientConfig, Endpoint};
use crate::decode::{self, RawReply, ReplyError};
use crate::endpoints::EndpointSet;
use crate::error::{is_transient_code, is_transient_status, ClientError, IndeterminateReason};
use crate::request::{RequestKind, RequestSpec};
use crate::transport::{AttemptError, Transport};
use kv_wire::MemberList;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use tokio::time::Instant;
use tracing::{debug, instrument, warn};

/// A handle on a Keel (or etcd v2) cluster. Cheap to clone (one `Arc`); clones share the
/// connection pool and the endpoint list. `Send + Sync`.
#[derive(Debug, Clone)]
pub struct Client {
    pub(crate) inner: Arc<Inner>,
}

#[derive(Debug)]
pub(crate) struct Inner {
    pub(crate) config: ClientConfig,
    pub(crate) transport: Transport,
    /// A std mutex: every critical section is a few field updates and none awaits.
    endpoints: Mutex<EndpointSet>,
    pub(crate) backoff: Backoff,
}

/// What the retry loop does after one attempt.
pub(crate) enum Step<T> {
    /// Return this to the caller.
    Done(Result<T, ClientError>),
    /// Try the next endpoint; this is the error if no attempt is left.
    Retry(ClientError),
}

impl Client {
    /// Builds a client. Nothing is sent until the first call; with `discover_endpoints` the
    /// first call fetches `/v2/members` first.
    ///
    /// # Errors
    /// [`ClientError::InvalidConfig`] when [`ClientConfig::validate`] refuses the config.
    pub fn new(config: ClientConfig) -> Result<Client, ClientError> {
        let endpoints = config.validate()?;
        let inner = Inner {
            transport: Transport::new(&config),
            endpoints: Mutex::new(EndpointSet::new(endpoints)),
            backoff: Backoff::new(config.backoff_min, config.backoff_max, config.jitter_seed),
            config,
        };
        Ok(Client {
            inner: Arc::new(inner),
        })
    }

    /// The endpoints in failover order, discovered ones first.
    #[must_use]
    pub fn endpoints(&self) -> Vec<Endpoint> {
        self.inner.endpoints().list()
    }

    /// Fetches `/v2/members` now (whatever `discover_endpoints` says) and makes the members'
    /// client URLs the endpoint list, the configured endpoints kept as fallback.
    ///
    /// # Errors
    /// As for a read ([`Client::members`]); the list is then unchanged.
    #[instrument(level = "debug", skip(self))]
    pub async fn sync_endpoints(&self) -> Result<Vec<Endpoint>, ClientError> {
        let spec = RequestSpec::read("/v2/members");
        let members: MemberList = self.attempts(&spec, decode::json).await?;
        let mut endpoints = self.inner.endpoints();
        let skipped = endpoints.install_members(&members.members);
        if !skipped.is_empty() {
            warn!(?skipped, "member client URLs ignored: not http://host:port");
        }
        Ok(endpoints.list())
    }

    /// Sends `spec` under the retry policy, discovering endpoints first when due.
    pub(crate) async fn execute<T>(
        &self,
        spec: &RequestSpec,
        decode: fn(&RawReply) -> Result<T, ReplyError>,
    ) -> Result<T, ClientError> {
        self.discover_if_due().await;
        self.attempts(spec, decode).await
    }

    /// Discovery is best effort: a failure leaves the list as it was.
    pub(crate) async fn discover_if_due(&self) {
        if !self.inner.config.discover_endpoints {
            return;
        }
        if !self.inner.endpoints().claim_discovery(Instant::now()) {
            return;
        }
        match self.sync_endpoints().await {
            Ok(endpoints) => debug!(?endpoints, "endpoints discovered"),
            Err(error) => debug!(%error, "endpoint discovery failed; keeping the current list"),
        }
    }

    /// The retry loop: at most `attempts_max` attempts, none started after
    /// `operation_timeout`.
    async fn attempts<T>(
        &self,
        spec: &RequestSpec,
        decode: fn(&RawReply) -> Result<T, ReplyError>,
    ) -> Result<T, ClientError> {
        let deadline = Instant::now() + self.inner.config.operation_timeout;
        let mut endpoint = self.inner.endpoints().preferred();
        let mut attempt: u32 = 1;
        loop {
            let outcome = self.inner.transport.exchange(&endpoint, spec).await;
            let answered = outcome.is_ok();
            let error = match classify(spec.kind, &endpoint, attempt, outcome, decode) {
                Step::Done(result) => {
                    if answered {
                        self.inner.endpoints().answered(&endpoint);
                    }
                    return result;
                }
                Step::Retry(error) => error,
            };
            debug!(%endpoint, attempt, %error, "attempt failed");
            if attempt >= self.inner.config.attempts_max {
                return Err(error);
            }
            match self.next_endpoint(&endpoint, attempt, deadline).await {
                Some(next) => endpoint = next,
                None => return Err(error),
            }
            attempt += 1;
        }
    }

    /// The endpoint for attempt `attempt + 1`, after a jittered pause when a whole round over
    /// the list failed; `None` when the operation's deadline leaves no room.
    pub(crate) async fn next_endpoint(
        &self,
        current: &Endpoint,
        attempt: u32,
        deadline: Instant,
    ) -> Option<Endpoint> {
        let (next, count) = {
            let mut endpoints = self.inner.endpoints();
            endpoints.failed_over();
            (endpoints.after(current), endpoints.len())
        };
        let count = u32::try_from(count).unwrap_or(u32::MAX).max(1);
        if attempt.is_multiple_of(count) {
            let pause = self.inner.backoff.pause(attempt / count);
            if Instant::now() + pause >= deadline {
                return None;
            }
            tokio::time::sleep(pause).await;
        }
        (Instant::now() < deadline).then_some(next)
    }
}

impl Inner {
    /// The endpoint list. A poisoned lock is taken over: every update leaves the set valid
    /// between statements, so a panic elsewhere cannot leave it half-changed.
    pub(crate) fn endpoints(&self) -> MutexGuard<'_, EndpointSet> {
        self.endpoints
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

/// Classifies one attempt's outcome for a request of `kind` (the policy in the module docs).
pub(crate) fn classify<T>(
    kind: RequestKind,
    endpoint: &Endpoint,
    attempt: u32,
    outcome: Result<RawReply, AttemptError>,
    decode: fn(&RawReply) -> Result<T, ReplyError>,
) -> Step<T> {
    let endpoint = endpoint.clone();
    let reply = match (outcome, kind) {
        (Ok(reply), _) => reply,
        (Err(AttemptError::NotSent(source)), _)
        | (Err(AttemptError::Lost(source)), RequestKind::Read) => {
            return Step::Retry(ClientError::Unavailable {
                endpoint,
                attempts: attempt,
                source,
            });
        }
        (Err(AttemptError::TimedOut(timeout)), RequestKind::Read) => {
            return Step::Retry(ClientError::Timeout { endpoint, timeout });
        }
        (Err(AttemptError::Lost(source)), RequestKind::Write) => {
            let reason = IndeterminateReason::ConnectionLost { source };
            return Step::Done(Err(ClientError::Indeterminate { endpoint, reason }));
        }
        (Err(AttemptError::TimedOut(timeout)), RequestKind::Write) => {
            let reason = IndeterminateReason::TimedOut { timeout };
            return Step::Done(Err(ClientError::Indeterminate { endpoint, reason }));
        }
        (Err(AttemptError::TooLarge(max_bytes)), RequestKind::Read) => {
            return Step::Done(Err(ClientError::ReplyTooLarge {
                endpoint,
                max_bytes,
            }));
        }
        (Err(AttemptError::TooLarge(max_bytes)), RequestKind::Write) => {
            let reason = IndeterminateReason::ReplyTooLarge { max_bytes };
            return Step::Done(Err(ClientError::Indeterminate { endpoint, reason }));
        }
        (Err(AttemptError::Invalid(error)), _) => {
            return Step::Done(Err(ClientError::InvalidRequest(error)));
        }
    };
    match decode(&reply) {
        Ok(value) => Step::Done(Ok(value)),
        Err(ReplyError::Decode(source)) if kind == RequestKind::Write => {
            let status = reply.status;
            let reason = IndeterminateReason::UndecodableReply { status, source };
            Step::Done(Err(ClientError::Indeterminate { endpoint, reason }))
        }
        Err(error) => reply_error(kind, endpoint, error),
    }
}

/// Classifies a reply that is not the wanted success.
fn reply_error<T>(kind: RequestKind, endpoint: Endpoint, error: ReplyError) -> Step<T> {
    let write = kind == RequestKind::Write;
    match error {
        ReplyError::Etcd {
            code,
            message,
            cause,
            index,
        } if is_transient_code(code) => {
            if write {
                let reason = IndeterminateReason::ServerTimeout {
                    code,
                    message,
                    cause,
                    index,
                };
                Step::Done(Err(ClientError::Indeterminate { endpoint, reason }))
            } else {
                Step::Retry(ClientError::Etcd {
                    code,
                    message,
                    cause,
                    index,
                })
            }
        }
        ReplyError::Etcd {
            code,
            message,
            cause,
            index,
        } => Step::Done(Err(ClientError::Etcd {
            code,
            message,
            cause,
            index,
        })),
        ReplyError::Http { status, body } if write && (status >= 500 || status == 408) => {
            let reason = IndeterminateReason::ServerFailure { status, body };
            Step::Done(Err(ClientError::Indeterminate { endpoint, reason }))
        }
        ReplyError::Http { status, body } => {
            let error = ClientError::Http {
                endpoint,
                status,
                body,
            };
            if !write && is_transient_status(status) {
                Step::Retry(error)
            } else {
                Step::Done(Err(error))
            }
        }
        ReplyError::Decode(source) => Step::Done(Err(ClientError::Decode { endpoint, source })),
    }
}

#[cfg(test)]
#[path = "client_tests.rs"]
mod tests;
