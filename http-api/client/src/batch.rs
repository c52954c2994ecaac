//! Batched writes: several keys writes sent as one request (`POST /keel/v1/batch`, Keel's
//! extension; `docs/adr/0004-batched-writes.md`), which Keel commits as one raft entry and
//! applies in order, each write with its own index and outcome.
//!
//! A [`Batch`] is built from the same operations as the single-key methods and encoded as
//! their requests would be. Against a server without the endpoint (etcd answers 404) the
//! writes are sent one after another instead, so the caller gets the same answers from
//! either. Like every write, a batch is resent only when it was never sent.
//!
//! Owns [`Batch`] and [`Client::batch`]. Depends on the request builders and the keys reply
//! decoder.

use crate::client::Client;
use crate::decode::{self, RawReply, ReplyError};
use crate::error::{ClientError, DecodeError, RequestError};
use crate::options::{DeleteOptions, PrevConditions, SetOptions};
use crate::request::{self, PutBody, PutMode, RequestKind, RequestSpec};
use crate::types::Response;
use hyper::header::{HeaderName, HeaderValue};
use hyper::Method;
use kv_wire::header;
use serde::Deserialize;

/// The path of Keel's batch endpoint.
const BATCH_PATH: &str = "/keel/v1/batch";

/// The most writes one batch may carry (Keel refuses more).
pub const BATCH_WRITES_MAX: usize = 1000;

/// Writes to send together, in order.
#[derive(Debug, Clone, Default)]
pub struct Batch {
    writes: Vec<Result<RequestSpec, RequestError>>,
}

impl Batch {
    /// An empty batch.
    #[must_use]
    pub fn new() -> Batch {
        Batch::default()
    }

    /// How many writes it holds.
    #[must_use]
    pub fn len(&self) -> usize {
        self.writes.len()
    }

    /// Whether it holds none.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.writes.is_empty()
    }

    /// [`Client::set`] of `key`.
    pub fn set(&mut self, key: &str, value: &str, options: SetOptions) -> &mut Batch {
        self.put(key, PutBody::Value(value), &PutMode::Set, options)
    }

    /// [`Client::create`] of `key`.
    pub fn create(&mut self, key: &str, value: &str, options: SetOptions) -> &mut Batch {
        self.put(key, PutBody::Value(value), &PutMode::Create, options)
    }

    /// [`Client::compare_and_swap`] of `key`.
    pub fn compare_and_swap(
        &mut self,
        key: &str,
        value: &str,
        prev: &PrevConditions,
        options: SetOptions,
    ) -> &mut Batch {
        self.put(key, PutBody::Value(value), &PutMode::Compare(prev), options)
    }

    /// [`Client::delete`] of `key`.
    pub fn delete(&mut self, key: &str, options: DeleteOptions) -> &mut Batch {
        self.writes.push(Ok(request::delete(key, options)));
        self
    }

    /// [`Client::compare_and_delete`] of `key`.
    pub fn compare_and_delete(&mut self, key: &str, prev: &PrevConditions) -> &mut Batch {
        self.writes.push(request::compare_and_delete(key, prev));
        self
    }

    fn put(
        &mut self,
        key: &str,
        body: PutBody<'_>,
        mode: &PutMode<'_>,
        options: SetOptions,
    ) -> &mut Batch {
        self.writes.push(request::put(key, body, mode, options));
        self
    }

    /// The writes as requests; the first that could not be built refuses the batch.
    fn specs(&self) -> Result<Vec<&RequestSpec>, RequestError> {
        self.writes
            .iter()
            .map(|write| write.as_ref().map_err(Clone::clone))
            .collect()
    }
}

/// One write as the endpoint takes it: the v2 request's method, key path and parameters.
fn encode(specs: &[&RequestSpec]) -> String {
    let writes: Vec<serde_json::Value> = specs
        .iter()
        .map(|spec| {
            let path = spec.path_and_query.strip_prefix("/v2/keys").unwrap_or("");
            let (key, query) = path.split_once('?').unwrap_or((path, ""));
            let form = spec.form.as_deref().unwrap_or(query);
            serde_json::json!({"method": spec.method.as_str(), "key": key, "form": form})
        })
        .collect();
    serde_json::Value::Array(writes).to_string()
}

/// The endpoint's answer, before each write's reply is decoded.
#[derive(Deserialize)]
struct Answer {
    results: Vec<WriteAnswer>,
}

#[derive(Deserialize)]
struct WriteAnswer {
    status: u16,
    index: u64,
    response: serde_json::Value,
}

/// Each write's reply, decoded as the single request's reply would be: its status, its
/// index as `X-Etcd-Index`, the batch's raft headers.
fn replies(reply: &RawReply) -> Result<Vec<Result<Response, ReplyError>>, ReplyError> {
    if !(200..300).contains(&reply.status) {
        return Err(decode::failure(reply));
    }
    let answer: Answer = serde_json::from_slice(&reply.body).map_err(DecodeError::from)?;
    Ok(answer
        .results
        .into_iter()
        .map(|write| {
            let mut headers = reply.headers.clone();
            headers.insert(
                HeaderName::from_static(header::ETCD_INDEX),
                HeaderValue::from(write.index),
            );
            let single = RawReply {
                status: write.status,
                headers,
                body: write.response.to_string().into(),
            };
            decode::keys_response(&single)
        })
        .collect())
}

impl Client {
    /// Sends `batch` as one request; each write's result, in order. Against a server without
    /// the batch endpoint (404), sends the writes one after another.
    ///
    /// # Errors
    /// [`ClientError::InvalidRequest`] for a write that cannot be built (nothing is sent),
    /// and as any write for the batch request itself ([`ClientError::Indeterminate`] when
    /// its outcome is unknown: some, all or none of the writes may have applied). A write
    /// that fails on its own (a failed compare) is an `Err` in the list.
    pub async fn batch(
        &self,
        batch: &Batch,
    ) -> Result<Vec<Result<Response, ClientError>>, ClientError> {
        let specs = batch.specs()?;
        if specs.is_empty() {
            return Ok(Vec::new());
        }
        let spec = RequestSpec {
            method: Method::POST,
            path_and_query: BATCH_PATH.to_owned(),
            form: Some(encode(&specs)),
            kind: RequestKind::Write,
        };
        match self.execute(&spec, replies).await {
            Ok(results) => Ok(results
                .into_iter()
                .map(|result| result.map_err(single_error))
                .collect()),
            Err(ClientError::Http { status: 404, .. }) => Ok(self.one_by_one(&specs).await),
            Err(error) => Err(error),
        }
    }

    async fn one_by_one(&self, specs: &[&RequestSpec]) -> Vec<Result<Response, ClientError>> {
        let mut results = Vec::with_capacity(specs.len());
        for spec in specs {
            results.push(self.execute(spec, decode::keys_response).await);
        }
        results
    }
}

/// A write's own failure inside an answered batch.
fn single_error(error: ReplyError) -> ClientError {
    match error {
        ReplyError::Etcd {
            code,
            message,
            cause,
            index,
        } => ClientError::Etcd {
            code,
            message,
            cause,
            index,
        },
        ReplyError::Http { status, body } => ClientError::BatchWrite {
            status,
            detail: body,
        },
        ReplyError::Decode(source) => ClientError::BatchWrite {
            status: 200,
            detail: source.to_string(),
        },
    }
}
