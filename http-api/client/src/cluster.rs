//! Cluster endpoints: members, leader, version and per-member health. All are reads.

use crate::client::{classify, Client, Step};
use crate::config::Endpoint;
use crate::decode::{self, RawReply, ReplyError};
use crate::error::{ClientError, DecodeError, RequestError};
use crate::request::{RequestKind, RequestSpec};
use kv_wire::{Member, MemberList, Version};
use tracing::instrument;

impl Client {
    /// The cluster's members (`GET /v2/members`), sorted by id. A member added but not started
    /// has an empty name and no client URLs.
    ///
    /// # Errors
    /// [`ClientError::Unavailable`] or [`ClientError::Timeout`] when no endpoint answered;
    /// `Http`, `Decode`.
    #[instrument(level = "debug", skip(self))]
    pub async fn members(&self) -> Result<Vec<Member>, ClientError> {
        let spec = RequestSpec::read("/v2/members");
        let list: MemberList = self.execute(&spec, decode::json).await?;
        Ok(list.members)
    }

    /// The current leader (`GET /v2/members/leader`).
    ///
    /// # Errors
    /// [`ClientError::Http`] 503 (`During election`) when no endpoint knows a leader, after
    /// trying the others; otherwise as [`Client::members`].
    #[instrument(level = "debug", skip(self))]
    pub async fn leader(&self) -> Result<Member, ClientError> {
        let spec = RequestSpec::read("/v2/members/leader");
        self.execute(&spec, decode::json).await
    }

    /// Server and cluster versions (`GET /version`).
    ///
    /// # Errors
    /// As [`Client::members`].
    #[instrument(level = "debug", skip(self))]
    pub async fn version(&self) -> Result<Version, ClientError> {
        let spec = RequestSpec::read("/version");
        self.execute(&spec, decode::json).await
    }

    /// Whether one member reports itself healthy (`GET /health` on `endpoint` only, no
    /// failover): `true` for 200 `{"health":"true"}`, `false` for 503 or `"false"`. This is
    /// what `etcdctl cluster-health` asks each member's client URL.
    ///
    /// # Errors
    /// [`ClientError::InvalidRequest`] when `endpoint` is not `http://host:port`;
    /// [`ClientError::Unavailable`] or [`ClientError::Timeout`] when it did not answer;
    /// `Http` for another status, `Decode`.
    #[instrument(level = "debug", skip(self))]
    pub async fn health(&self, endpoint: &str) -> Result<bool, ClientError> {
        let endpoint = Endpoint::parse(endpoint).map_err(RequestError::Endpoint)?;
        let spec = RequestSpec::read("/health");
        let outcome = self.inner.transport.exchange(&endpoint, &spec).await;
        match classify(RequestKind::Read, &endpoint, 1, outcome, health_reply) {
            Step::Done(result) => result,
            Step::Retry(error) => Err(error),
        }
    }
}

/// `/health`: 503 means unhealthy whatever the body; on 200 the body decides. etcdctl accepts
/// `"true"` (what etcd sends) and a JSON `true`.
fn health_reply(reply: &RawReply) -> Result<bool, ReplyError> {
    match reply.status {
        503 => Ok(false),
        200 => {
            let body: serde_json::Value =
                serde_json::from_slice(&reply.body).map_err(DecodeError::from)?;
            let health = &body["health"];
            Ok(health.as_str() == Some("true") || health.as_bool() == Some(true))
        }
        _ => Err(decode::failure(reply)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::test_reply as reply;

    // Goal: /health bodies as etcd 3.4 sends them (spec §9.7) map to true/false.
    #[test]
    fn health_bodies() {
        assert!(health_reply(&reply(200, r#"{"health":"true"}"#)).unwrap());
        assert!(health_reply(&reply(200, r#"{"health":true}"#)).unwrap());
        assert!(!health_reply(&reply(200, r#"{"health":"false"}"#)).unwrap());
        assert!(!health_reply(&reply(503, r#"{"health":"false"}"#)).unwrap());
        assert!(matches!(
            health_reply(&reply(404, "404 page not found")),
            Err(ReplyError::Http { status: 404, .. })
        ));
    }
}
