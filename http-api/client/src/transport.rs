//! One attempt against one endpoint over hyper-util's pooled keep-alive client, and what the
//! attempt's failure says about whether the request was sent.
//!
//! Owns: the connection pool, the connect timeout, the per-attempt timeout and the reply size
//! bound. Invariant: [`AttemptError::NotSent`] is returned only when hyper-util reports a
//! connect failure, i.e. the request never left this process; every other failure after the
//! request was handed to a connection counts as possibly sent. hyper-util itself re-sends only
//! requests it never wrote (a pooled connection found closed), which keeps that true.

use crate::config::{ClientConfig, Endpoint};
use crate::decode::RawReply;
use crate::error::{RequestError, TransportError};
use crate::request::RequestSpec;
use bytes::{Bytes, BytesMut};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::header::CONTENT_TYPE;
use hyper::{Request, Uri};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client as PooledClient;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use kv_wire::content_type;
use std::time::Duration;

/// How one attempt failed.
#[derive(Debug)]
pub(crate) enum AttemptError {
    /// The connection could not be opened: the request was not sent.
    NotSent(TransportError),
    /// The connection failed after the request was handed to it: it may have been sent.
    Lost(TransportError),
    /// No complete reply within the time allowed: it may have been sent.
    TimedOut(Duration),
    /// The reply body exceeds `response_bytes_max`.
    TooLarge(usize),
    /// The request could not be built (no I/O happened).
    Invalid(RequestError),
}

impl AttemptError {
    fn from_client(error: hyper_util::client::legacy::Error) -> AttemptError {
        let connect = error.is_connect();
        let error = TransportError::from_client(error);
        if connect {
            AttemptError::NotSent(error)
        } else {
            AttemptError::Lost(error)
        }
    }
}

#[derive(Debug, Clone)]
pub(crate) struct Transport {
    client: PooledClient<HttpConnector, Full<Bytes>>,
    pub(crate) request_timeout: Duration,
    response_bytes_max: usize,
}

impl Transport {
    pub(crate) fn new(config: &ClientConfig) -> Transport {
        let mut connector = HttpConnector::new();
        connector.set_connect_timeout(Some(config.connect_timeout));
        // Requests are small and latency-bound (CAS loops, lock renewals): no Nagle delay.
        connector.set_nodelay(true);
        connector.enforce_http(true);
        let client = PooledClient::builder(TokioExecutor::new())
            .pool_idle_timeout(config.pool_idle_timeout)
            .pool_max_idle_per_host(config.pool_idle_per_endpoint_max)
            // The idle timeout only runs with a timer.
            .pool_timer(TokioTimer::new())
            .build(connector);
        Transport {
            client,
            request_timeout: config.request_timeout,
            response_bytes_max: config.response_bytes_max,
        }
    }

    /// Sends `spec` to `endpoint` and reads the whole reply, within `request_timeout`.
    pub(crate) async fn exchange(
        &self,
        endpoint: &Endpoint,
        spec: &RequestSpec,
    ) -> Result<RawReply, AttemptError> {
        let request = build(endpoint, spec).map_err(AttemptError::Invalid)?;
        let attempt = async {
            let response = self
                .client
                .request(request)
                .await
                .map_err(AttemptError::from_client)?;
            let (head, body) = response.into_parts();
            let body = self.read_body(body).await?;
            Ok(RawReply {
                status: head.status.as_u16(),
                headers: head.headers,
                body,
            })
        };
        tokio::time::timeout(self.request_timeout, attempt)
            .await
            .map_err(|_| AttemptError::TimedOut(self.request_timeout))?
    }

    /// Sends `spec` and waits only for the response head, within `request_timeout` (a watch:
    /// etcd sends the head at once and the body when an event comes).
    pub(crate) async fn head(
        &self,
        endpoint: &Endpoint,
        spec: &RequestSpec,
    ) -> Result<hyper::Response<Incoming>, AttemptError> {
        let request = build(endpoint, spec).map_err(AttemptError::Invalid)?;
        tokio::time::timeout(self.request_timeout, self.client.request(request))
            .await
            .map_err(|_| AttemptError::TimedOut(self.request_timeout))?
            .map_err(AttemptError::from_client)
    }

    /// Reads a body to its end, refusing more than `response_bytes_max` bytes.
    pub(crate) async fn read_body(&self, mut body: Incoming) -> Result<Bytes, AttemptError> {
        let mut buffer = BytesMut::new();
        while let Some(frame) = body.frame().await {
            let frame =
                frame.map_err(|error| AttemptError::Lost(TransportError::from_body(error)))?;
            if let Ok(data) = frame.into_data() {
                if buffer.len().saturating_add(data.len()) > self.response_bytes_max {
                    return Err(AttemptError::TooLarge(self.response_bytes_max));
                }
                buffer.extend_from_slice(&data);
            }
        }
        Ok(buffer.freeze())
    }
}

/// The hyper request for `spec` on `endpoint`.
fn build(endpoint: &Endpoint, spec: &RequestSpec) -> Result<Request<Full<Bytes>>, RequestError> {
    let invalid = || RequestError::InvalidPath {
        path: spec.path_and_query.clone(),
    };
    let uri = Uri::builder()
        .scheme("http")
        .authority(endpoint.authority())
        .path_and_query(spec.path_and_query.as_str())
        .build()
        .map_err(|_| invalid())?;
    let builder = Request::builder().method(spec.method.clone()).uri(uri);
    // The members API takes a JSON body (etcd's `membersAPIAction*`), as does Keel's batch
    // endpoint; the keys API a form.
    let json = ["/v2/members", "/keel/"];
    let body_type = if json
        .iter()
        .any(|prefix| spec.path_and_query.starts_with(prefix))
    {
        content_type::JSON
    } else {
        content_type::FORM
    };
    let request = match &spec.form {
        Some(form) => builder
            .header(CONTENT_TYPE, body_type)
            .body(Full::new(Bytes::from(form.clone()))),
        None => builder.body(Full::new(Bytes::new())),
    };
    request.map_err(|_| invalid())
}
