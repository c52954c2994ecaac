//! Membership changes: `POST /v2/members`, `DELETE` and `PUT /v2/members/<id>`, with the JSON
//! bodies etcd's Go client sends (`{"peerURLs":[...]}`). Writes: never resent once they may
//! have reached a server. A server that does not support them (Keel answers 405) yields
//! [`ClientError::Http`] with that status, which is what `etcdctl member add` reports.

use crate::client::Client;
use crate::decode::{self, RawReply, ReplyError};
use crate::error::{ClientError, DecodeError};
use crate::request::{RequestKind, RequestSpec};
use hyper::Method;
use kv_wire::Member;
use tracing::instrument;

impl Client {
    /// Adds a member with these peer URLs (`POST /v2/members`, expects 201 and the member).
    ///
    /// # Errors
    /// [`ClientError::Http`] for any other status (409 when a URL is taken, 405 on Keel);
    /// [`ClientError::Indeterminate`] when the outcome is unknown; as [`Client::members`].
    #[instrument(level = "debug", skip(self))]
    pub async fn add_member(&self, peer_urls: &[String]) -> Result<Member, ClientError> {
        let spec = member_write(Method::POST, "/v2/members", Some(peer_urls));
        self.execute(&spec, created_member).await
    }

    /// Removes the member `id` (hex) (`DELETE /v2/members/<id>`, expects 204).
    ///
    /// # Errors
    /// [`ClientError::Http`] for any other status (410 when already removed, 405 on Keel).
    #[instrument(level = "debug", skip(self))]
    pub async fn remove_member(&self, id: &str) -> Result<(), ClientError> {
        let path = format!("/v2/members/{id}");
        self.execute(&member_write(Method::DELETE, &path, None), no_content)
            .await
    }

    /// Replaces the peer URLs of member `id` (`PUT /v2/members/<id>`, expects 204).
    ///
    /// # Errors
    /// [`ClientError::Http`] for any other status (404 unknown id, 409 URL taken, 405 on
    /// Keel).
    #[instrument(level = "debug", skip(self))]
    pub async fn update_member(&self, id: &str, peer_urls: &[String]) -> Result<(), ClientError> {
        let path = format!("/v2/members/{id}");
        let spec = member_write(Method::PUT, &path, Some(peer_urls));
        self.execute(&spec, no_content).await
    }
}

fn member_write(method: Method, path: &str, peer_urls: Option<&[String]>) -> RequestSpec {
    let form = peer_urls.map(|urls| serde_json::json!({ "peerURLs": urls }).to_string());
    RequestSpec {
        method,
        path_and_query: path.to_owned(),
        form,
        kind: RequestKind::Write,
    }
}

fn created_member(reply: &RawReply) -> Result<Member, ReplyError> {
    if reply.status != 201 {
        return Err(ReplyError::Http {
            status: reply.status,
            body: decode::excerpt(&reply.body),
        });
    }
    serde_json::from_slice(&reply.body)
        .map_err(|error| ReplyError::Decode(DecodeError::from(error)))
}

fn no_content(reply: &RawReply) -> Result<(), ReplyError> {
    if reply.status == 204 {
        return Ok(());
    }
    Err(ReplyError::Http {
        status: reply.status,
        body: decode::excerpt(&reply.body),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::test_reply as reply;

    // Goal: the request is what etcd's Go membersAPI sends, and only 201/204 count as success
    // (a 405 from Keel is an Http error carrying the status).
    #[test]
    fn member_requests_and_replies() {
        let urls = vec!["http://10.0.0.1:2380".to_owned()];
        let spec = member_write(Method::POST, "/v2/members", Some(&urls));
        assert_eq!(
            spec.form.as_deref(),
            Some(r#"{"peerURLs":["http://10.0.0.1:2380"]}"#)
        );
        assert_eq!(spec.kind, RequestKind::Write);
        assert!(member_write(Method::DELETE, "/v2/members/a", None)
            .form
            .is_none());
        let member = r#"{"id":"a","name":"","peerURLs":["http://10.0.0.1:2380"],"clientURLs":[]}"#;
        assert_eq!(created_member(&reply(201, member)).unwrap().id, "a");
        assert!(matches!(
            created_member(&reply(405, "Method Not Allowed")),
            Err(ReplyError::Http { status: 405, .. })
        ));
        assert!(no_content(&reply(204, "")).is_ok());
        assert!(matches!(
            no_content(&reply(405, "")),
            Err(ReplyError::Http { status: 405, .. })
        ));
    }
}
