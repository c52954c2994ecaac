//! The `/v2/keys` handler: parse, then read, watch or propose, then render.

use crate::error::ApiError;
use crate::keys::request::{self, KeysRequest};
use crate::keys::{render, watch};
use crate::Api;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use kvstore::state::ApplyOutcome;
use kvstore::{CommandBody, RaftIndex, Term};
use v2store::{Mutation, StoreIndex};

/// Every method on `/v2/keys/...`.
pub async fn keys(
    State(api): State<Api>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Response {
    match serve(&api, &method, &uri, &headers, body).await {
        Ok(response) => response,
        Err(error) => error.into_response(),
    }
}

async fn serve(
    api: &Api,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let raw_path = uri.path().strip_prefix("/v2/keys").unwrap_or("");
    let bytes = read_body(api, method, body).await?;
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok());
    let now = kvstore::thread::wall_now();
    match request::parse(method, raw_path, uri.query(), content_type, &bytes, now)? {
        KeysRequest::Get {
            path,
            recursive,
            sorted,
            quorum,
            // A HEAD is answered as the GET, body included: hyper sends the body's length as
            // `Content-Length` and never the bytes, as Go's server does for etcd (a HEAD of a
            // key got `Content-Length: 88` and no body on etcd 3.4.23).
            head: _,
        } => get(api, &path, recursive, sorted, quorum).await,
        KeysRequest::Watch(request) => watch::watch(api, request),
        KeysRequest::Write {
            mutation,
            no_value_on_success,
        } => write(api, mutation, no_value_on_success, now).await,
    }
}

/// The form body of PUT and POST, refused beyond `--max-request-bytes`; other methods' bodies
/// are ignored, as etcd ignores them.
async fn read_body(api: &Api, method: &Method, body: Body) -> Result<Bytes, ApiError> {
    if method != Method::PUT && method != Method::POST {
        return Ok(Bytes::new());
    }
    axum::body::to_bytes(body, api.config.max_request_bytes)
        .await
        .map_err(|_| ApiError::form_too_large())
}

async fn get(
    api: &Api,
    path: &str,
    recursive: bool,
    sorted: bool,
    quorum: bool,
) -> Result<Response, ApiError> {
    if quorum {
        api.read_index().await?;
    }
    let now = kvstore::thread::wall_now();
    let (result, index) = {
        let state = api.node.state();
        (
            state.store.get(path, recursive, sorted, now),
            state.store.index(),
        )
    };
    let event = result?;
    let progress = api.node.progress();
    let body = render::event_body(&event, false);
    Ok(json_response(
        StatusCode::OK,
        index,
        progress.commit(),
        progress.term(),
        body,
    ))
}

async fn write(
    api: &Api,
    mutation: Mutation,
    no_value_on_success: bool,
    now: v2store::Time,
) -> Result<Response, ApiError> {
    let applied = api.propose(CommandBody::Mutation(mutation), now).await?;
    let event = match applied.reply {
        ApplyOutcome::Store(result) => (*result)?,
        ApplyOutcome::Done | ApplyOutcome::Duplicate | ApplyOutcome::Batch(_) => {
            return Err(ApiError::raft_internal(
                "etcdserver: unexpected apply result",
            ));
        }
    };
    let status = StatusCode::from_u16(render::event_status(&event)).unwrap_or(StatusCode::OK);
    let body = render::event_body(&event, no_value_on_success);
    Ok(json_response(
        status,
        event.index(),
        applied.raft_index,
        applied.raft_term,
        body,
    ))
}

/// A JSON response with the v2 index headers, set in this one place for every keys success.
pub(crate) fn json_response(
    status: StatusCode,
    index: StoreIndex,
    raft_index: RaftIndex,
    raft_term: Term,
    body: Vec<u8>,
) -> Response {
    let mut response = (status, body).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    headers.insert("x-etcd-index", HeaderValue::from(index.0));
    headers.insert("x-raft-index", HeaderValue::from(raft_index.0));
    headers.insert("x-raft-term", HeaderValue::from(raft_term.0));
    response
}
