//! `POST /keel/v1/batch`: several v2 writes proposed as one raft entry (ADR 0004), for Keel's
//! own clients that write many keys at once.
//!
//! The body is a JSON list of writes, each `{"method": "PUT"|"POST"|"DELETE", "key":
//! "/path", "form": "value=x&prevExist=false"}`: the method, the key and the parameters
//! (form-encoded, as the v2 request's query would carry them) of the `/v2/keys` request it
//! stands for, parsed by the same rules ([`crate::keys::request::parse`]). A list that is not
//! JSON, empty, longer than [`BATCH_WRITES_MAX`], or holding a write that the v2 API would
//! refuse before proposing it, is refused whole (etcd's 209, or the write's own code, with
//! `write N:` in the cause) and nothing is proposed.
//!
//! Otherwise the writes are applied in order with nothing between them, each with its own
//! index and watch event, and each succeeds or fails on its own. The answer (200) is
//! `{"results": [{"status": S, "index": I, "response": R}, …]}`, one per write in order,
//! where `S`, `I` and `R` are the status, the `X-Etcd-Index` and the body the v2 request
//! would have got; the batch's own `X-Etcd-Index` is the store's index after it.
//!
//! Must not depend on: anything but the keys parser and renderer and the proposer.

use crate::error::{etcd_error_body, ApiError};
use crate::keys::handler::json_response;
use crate::keys::render;
use crate::keys::request::{self, KeysRequest};
use crate::Api;
use axum::body::Body;
use axum::extract::State;
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};
use kv_wire::code;
use kvstore::state::ApplyOutcome;
use kvstore::CommandBody;
use serde::Deserialize;
use v2store::{Event, Mutation, StoreError, Time};

/// The most writes one batch may carry.
pub const BATCH_WRITES_MAX: usize = 1000;

/// One write of a batch, as sent.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Write {
    method: String,
    key: String,
    #[serde(default)]
    form: String,
}

/// `POST /keel/v1/batch`.
pub async fn batch(State(api): State<Api>, body: Body) -> Response {
    match serve(&api, body).await {
        Ok(response) => response,
        Err(error) => error.into_response(),
    }
}

async fn serve(api: &Api, body: Body) -> Result<Response, ApiError> {
    let bytes = axum::body::to_bytes(body, api.config.max_request_bytes)
        .await
        .map_err(|_| ApiError::form_too_large())?;
    let now = kvstore::thread::wall_now();
    let writes = parse(&bytes, now)?;
    let (mutations, quiet): (Vec<Mutation>, Vec<bool>) = writes.into_iter().unzip();
    let applied = api.propose(CommandBody::Batch(mutations), now).await?;
    let ApplyOutcome::Batch(results) = applied.reply else {
        return Err(ApiError::raft_internal(
            "etcdserver: unexpected apply result",
        ));
    };
    let index = api.node.state().store.index();
    let body = render_results(&results, &quiet);
    Ok(json_response(
        StatusCode::OK,
        index,
        applied.raft_index,
        applied.raft_term,
        body,
    ))
}

/// The batch's writes as mutations, each with its `noValueOnSuccess`.
fn parse(bytes: &[u8], now: Time) -> Result<Vec<(Mutation, bool)>, ApiError> {
    let writes: Vec<Write> = serde_json::from_slice(bytes).map_err(|error| {
        ApiError::request(
            code::INVALID_FIELD,
            format!("batch is not a list of writes: {error}"),
        )
    })?;
    if writes.is_empty() || writes.len() > BATCH_WRITES_MAX {
        return Err(ApiError::request(
            code::INVALID_FIELD,
            format!(
                "batch holds {} writes; from 1 to {BATCH_WRITES_MAX} are accepted",
                writes.len()
            ),
        ));
    }
    writes
        .iter()
        .enumerate()
        .map(|(number, write)| parse_write(write, now).map_err(|error| refusal(number, error)))
        .collect()
}

fn parse_write(write: &Write, now: Time) -> Result<(Mutation, bool), ApiError> {
    let method = match write.method.as_str() {
        "PUT" => Method::PUT,
        "POST" => Method::POST,
        "DELETE" => Method::DELETE,
        other => {
            return Err(ApiError::request(
                code::INVALID_FIELD,
                format!("method {other:?} is not a write (PUT, POST or DELETE)"),
            ))
        }
    };
    match request::parse(&method, &write.key, Some(&write.form), None, &[], now)? {
        KeysRequest::Write {
            mutation,
            no_value_on_success,
        } => Ok((mutation, no_value_on_success)),
        KeysRequest::Get { .. } | KeysRequest::Watch(_) => {
            Err(ApiError::request(code::INVALID_FIELD, "not a write"))
        }
    }
}

/// The refusal of the whole batch for its write `number` (from 0), naming it.
fn refusal(number: usize, error: ApiError) -> ApiError {
    match error {
        ApiError::Etcd { code, cause, .. } => {
            ApiError::request(code, format!("write {number}: {cause}"))
        }
        other => ApiError::request(code::INVALID_FIELD, format!("write {number}: {other}")),
    }
}

/// `{"results":[…]}`: each write's status, index and v2 body, which the renderer made as JSON.
fn render_results(results: &[Result<Event, StoreError>], quiet: &[bool]) -> Vec<u8> {
    let mut body = b"{\"results\":[".to_vec();
    for (number, (result, quiet)) in results.iter().zip(quiet).enumerate() {
        if number > 0 {
            body.push(b',');
        }
        let (status, index, response) = match result {
            Ok(event) => (
                render::event_status(event),
                event.index(),
                render::event_body(event, *quiet),
            ),
            Err(error) => {
                let (status, response) = match ApiError::from(error.clone()) {
                    ApiError::Etcd { code, cause, index } => etcd_error_body(code, &cause, index),
                    other => {
                        etcd_error_body(code::RAFT_INTERNAL, &other.to_string(), error.index())
                    }
                };
                (status, error.index(), response)
            }
        };
        let head = format!("{{\"status\":{status},\"index\":{},\"response\":", index.0);
        body.extend_from_slice(head.as_bytes());
        // The v2 bodies end with the newline of Go's JSON encoder; inside the list it goes.
        body.extend_from_slice(response.strip_suffix(b"\n").unwrap_or(&response));
        body.push(b'}');
    }
    body.extend_from_slice(b"]}");
    body
}

#[cfg(test)]
mod tests {
    //! Parsing and refusing batches, without a member.

    use super::*;

    fn refused(body: &str) -> String {
        match parse(body.as_bytes(), Time(0)) {
            Err(ApiError::Etcd { code, cause, .. }) => format!("{code} {cause}"),
            other => panic!("{body}: refused with an etcd error, got {other:?}"),
        }
    }

    #[test]
    fn writes_parse_by_the_keys_rules() {
        // Goal: each write becomes the mutation its v2 request would, in order, with
        // `noValueOnSuccess` kept per write.
        // Method: a create, a compare-and-swap and a recursive delete.
        let body = r#"[
            {"method":"PUT","key":"/a","form":"value=1&prevExist=false"},
            {"method":"PUT","key":"/b","form":"value=2&prevIndex=7&noValueOnSuccess=true"},
            {"method":"DELETE","key":"/c","form":"recursive=true"}
        ]"#;
        let writes = parse(body.as_bytes(), Time(0)).expect("a valid batch");
        assert!(matches!(&writes[0], (Mutation::Create { path, .. }, false) if path == "/a"));
        assert!(matches!(
            &writes[1],
            (Mutation::CompareAndSwap { path, prev_index: Some(v2store::StoreIndex(7)), .. }, true)
                if path == "/b"
        ));
        assert!(matches!(
            &writes[2],
            (
                Mutation::Delete {
                    recursive: true,
                    ..
                },
                false
            )
        ));
    }

    #[test]
    fn a_bad_batch_is_refused_whole_naming_the_write() {
        // Goal: nothing is proposed for a malformed batch, and the error says which write.
        assert!(refused("{}").starts_with("209 batch is not a list of writes"));
        assert!(refused("[]").starts_with("209 batch holds 0 writes"));
        let many = format!(
            "[{}]",
            vec![r#"{"method":"DELETE","key":"/a"}"#; 1001].join(",")
        );
        assert!(refused(&many).starts_with("209 batch holds 1001 writes"));
        let get = r#"[{"method":"DELETE","key":"/a"},{"method":"GET","key":"/a"}]"#;
        assert!(
            refused(get).starts_with("209 write 1: method \"GET\""),
            "{}",
            refused(get)
        );
        let ttl = r#"[{"method":"PUT","key":"/a","form":"value=1&ttl=x"}]"#;
        assert!(refused(ttl).starts_with("202 write 0:"), "{}", refused(ttl));
        let unclean = r#"[{"method":"PUT","key":"/a/../b","form":"value=1"}]"#;
        assert!(
            refused(unclean).starts_with("209 write 0:"),
            "{}",
            refused(unclean)
        );
        let unknown = r#"[{"method":"PUT","key":"/a","value":"1"}]"#;
        assert!(refused(unknown).starts_with("209 batch is not a list of writes"));
    }
}
