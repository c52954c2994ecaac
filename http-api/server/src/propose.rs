//! Proposing commands and waiting for read points on behalf of HTTP requests, with the waiting
//! and error mapping etcd v2 clients expect.

use crate::error::ApiError;
use crate::Api;
use kvstore::{Applied, CommandBody, ProposeError, RaftIndex, ReadError};
use std::time::Duration;
use tokio::time::Instant;
use v2store::Time;

/// First and largest pause between attempts while no leader is known.
const NO_LEADER_BACKOFF_MIN: Duration = Duration::from_millis(5);
const NO_LEADER_BACKOFF_MAX: Duration = Duration::from_millis(100);

/// etcd's cause text for a request that ran out of time.
const CAUSE_TIMED_OUT: &str = "etcdserver: request timed out";

impl Api {
    /// Propose and wait for apply. Retries only while the failure is definite (no leader, not
    /// yet applied), up to the request timeout; an unknown outcome is never retried.
    pub(crate) async fn propose(&self, body: CommandBody, now: Time) -> Result<Applied, ApiError> {
        let deadline = Instant::now() + self.config.request_timeout;
        let mut backoff = NO_LEADER_BACKOFF_MIN;
        loop {
            match self.node.propose(body.clone(), now).await {
                Ok(applied) => return Ok(applied),
                Err(ProposeError::NoLeader) if Instant::now() + backoff < deadline => {
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(NO_LEADER_BACKOFF_MAX);
                }
                Err(error) => return Err(propose_error(error)),
            }
        }
    }

    /// A linearizable read point, applied locally (thesis §6.4), within the request timeout.
    pub(crate) async fn read_index(&self) -> Result<RaftIndex, ApiError> {
        let deadline = self.config.request_timeout;
        match tokio::time::timeout(deadline, self.node.read_index()).await {
            Ok(Ok(index)) => Ok(index),
            Ok(Err(ReadError::Busy)) => {
                Err(ApiError::raft_internal("etcdserver: too many requests"))
            }
            Ok(Err(ReadError::Stopped)) => {
                Err(ApiError::raft_internal("etcdserver: server stopped"))
            }
            Ok(Err(ReadError::Timeout)) | Err(_) => Err(ApiError::raft_internal(CAUSE_TIMED_OUT)),
        }
    }
}

fn propose_error(error: ProposeError) -> ApiError {
    match error {
        ProposeError::Busy => ApiError::raft_internal("etcdserver: too many requests"),
        ProposeError::NotRunning | ProposeError::Stopped => {
            ApiError::raft_internal("etcdserver: server stopped")
        }
        ProposeError::NoLeader | ProposeError::Timeout => ApiError::raft_internal(CAUSE_TIMED_OUT),
    }
}
