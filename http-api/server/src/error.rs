//! Every error reply of the client API, and how each becomes an HTTP response.
//!
//! Owns: the mapping from domain errors ([`StoreError`]) and request-parsing failures to
//! etcd's `errorCode`/`message`/`cause`/`index` object and HTTP status (table in `kv-wire`),
//! plus the non-JSON replies etcd's Go router sends (301, 404, 405, 400).
//!
//! Invariants: a v2 error sets `X-Etcd-Index` to the error's `index` and no `X-Raft-*`
//! headers; `X-Etcd-Cluster-Id` is added by a layer, never here.
//!
//! Must not depend on: the raft driver or any handler state; this is pure mapping.

use crate::keys::render::encode;
use axum::body::Body;
use axum::http::header::{HeaderName, HeaderValue, ALLOW, CONNECTION, CONTENT_TYPE, LOCATION};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use kv_wire::{code, content_type, error_message, error_status, ErrorBody, MessageBody};
use std::borrow::Cow;
use v2store::{StoreError, StoreIndex};

/// Go's `http.Error` adds this to its plain-text replies.
const NOSNIFF: (&str, &str) = ("x-content-type-options", "nosniff");

/// Why a client API request failed, in the form etcd 3.4 answers it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApiError {
    /// An etcd v2 error object; the status comes from [`error_status`].
    #[error("etcd error {code}: {cause}")]
    Etcd {
        /// The etcd error code (`kv_wire::code`).
        code: u16,
        /// The detail; left out of the body when empty.
        cause: String,
        /// The store index when it happened; 0 for errors found while parsing the request.
        index: StoreIndex,
    },
    /// 301 to the cleaned path, as Go's `ServeMux` does for paths with `//`, `.` or `..`
    /// segments. `html` (GET and HEAD) adds Go's `text/html` body.
    #[error("path is not clean, redirect to {location}")]
    Redirect {
        /// The `Location` header: escaped clean path plus the original query.
        location: String,
        /// True for GET and HEAD, which get Go's HTML body and content type.
        html: bool,
    },
    /// No route: 404 `text/plain` `404 page not found`.
    #[error("no route for this path")]
    RouteNotFound,
    /// 405 `text/plain` `Method Not Allowed` with an `Allow` header.
    #[error("method not allowed (allowed: {allow})")]
    MethodNotAllowed {
        /// The `Allow` header, e.g. `HEAD,GET,PUT,POST,DELETE`.
        allow: &'static str,
    },
    /// The request target has a bad percent-escape: Go's server answers a bare
    /// `400 Bad Request` (text/plain, connection closed) before any handler runs.
    #[error("malformed request uri")]
    MalformedUri,
    /// The short `{"message":"…"}` form used by the members and stats endpoints.
    #[error("{message} (status {status})")]
    Short {
        /// HTTP status code.
        status: u16,
        /// The message.
        message: String,
    },
}

impl ApiError {
    /// A v2 error found while parsing the request (index 0, as etcd reports it).
    #[must_use]
    pub fn request(code: u16, cause: impl Into<String>) -> ApiError {
        ApiError::Etcd {
            code,
            cause: cause.into(),
            index: StoreIndex(0),
        }
    }

    /// Code 300 `Raft Internal Error`: a proposal timed out or failed. etcd reports these with
    /// index 0 (`writeKeyError` wraps non-v2 errors as `NewError(EcodeRaftInternal, err, 0)`).
    #[must_use]
    pub fn raft_internal(cause: impl Into<String>) -> ApiError {
        ApiError::request(code::RAFT_INTERNAL, cause)
    }

    /// A form body above the limit. etcd 3.4 has no 413 here: Go's `ParseForm` refuses a
    /// form over 10 MiB and etcd answers 400 with code 210 and cause `http: POST too large`
    /// (seen on etcd 3.4.23; `--max-request-bytes` does not apply to the v2 API).
    #[must_use]
    pub fn form_too_large() -> ApiError {
        ApiError::request(code::INVALID_FORM, "http: POST too large")
    }

    /// The short `{"message":"…"}` form with a status.
    #[must_use]
    pub fn short(status: u16, message: impl Into<String>) -> ApiError {
        ApiError::Short {
            status,
            message: message.into(),
        }
    }
}

impl From<StoreError> for ApiError {
    /// Store errors with an etcd code keep their code, cause and index. The ones etcd has no
    /// code for (watcher limit, damaged save data) become 300 with their `Display` text.
    fn from(error: StoreError) -> ApiError {
        match error.code() {
            Some(code) => ApiError::Etcd {
                code,
                cause: error.cause().to_owned(),
                index: error.index(),
            },
            None => ApiError::raft_internal(error.to_string()),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        match self {
            ApiError::Etcd { code, cause, index } => etcd_response(code, &cause, index),
            ApiError::Redirect { location, html } => redirect_response(&location, html),
            ApiError::RouteNotFound => {
                plain_response(StatusCode::NOT_FOUND, "404 page not found\n")
            }
            ApiError::MethodNotAllowed { allow } => {
                let mut response =
                    plain_response(StatusCode::METHOD_NOT_ALLOWED, "Method Not Allowed\n");
                response
                    .headers_mut()
                    .insert(ALLOW, HeaderValue::from_static(allow));
                response
            }
            ApiError::MalformedUri => malformed_uri_response(),
            ApiError::Short { status, message } => short_response(status, &message),
        }
    }
}

/// `{"errorCode":…,"message":…,"cause":…,"index":…}\n` with `X-Etcd-Index: <index>`.
fn etcd_response(error_code: u16, cause: &str, index: StoreIndex) -> Response {
    let (status, body) = etcd_error_body(error_code, cause, index);
    let mut response = bytes_response(status_code(status), content_type::JSON, body);
    response.headers_mut().insert(
        HeaderName::from_static(kv_wire::header::ETCD_INDEX),
        HeaderValue::from(index.0),
    );
    response
}

/// The HTTP status and JSON body of a v2 error object, as a keys request would get them.
pub(crate) fn etcd_error_body(error_code: u16, cause: &str, index: StoreIndex) -> (u16, Vec<u8>) {
    let body = ErrorBody {
        error_code,
        message: Cow::Borrowed(error_message(error_code).unwrap_or("")),
        cause: Cow::Borrowed(cause),
        index: index.0,
    };
    (error_status(error_code), encode(&body))
}

/// Go's `http.Redirect` with 301: `Location`, and for GET/HEAD a tiny HTML body.
fn redirect_response(location: &str, html: bool) -> Response {
    let Ok(location_value) = HeaderValue::from_str(location) else {
        // The location is built from an escaped path and the request's own query, so this
        // needs a query a valid URI cannot carry; refuse it as Go's server would.
        return malformed_uri_response();
    };
    let mut response = if html {
        let body = format!(
            "<a href=\"{}\">Moved Permanently</a>.\n\n",
            html_escape(location)
        );
        bytes_response(
            StatusCode::MOVED_PERMANENTLY,
            "text/html; charset=utf-8",
            body.into_bytes(),
        )
    } else {
        let mut response = Response::new(Body::empty());
        *response.status_mut() = StatusCode::MOVED_PERMANENTLY;
        response
    };
    response.headers_mut().insert(LOCATION, location_value);
    response
}

/// Go's `http.Error`: text/plain with `X-Content-Type-Options: nosniff`.
fn plain_response(status: StatusCode, text: &'static str) -> Response {
    let mut response = bytes_response(status, content_type::TEXT_PLAIN, text.as_bytes().to_vec());
    response.headers_mut().insert(
        HeaderName::from_static(NOSNIFF.0),
        HeaderValue::from_static(NOSNIFF.1),
    );
    response
}

/// What Go's server sends for an unparsable request target (seen for `/v2/keys/a%zz`).
fn malformed_uri_response() -> Response {
    let mut response = bytes_response(
        StatusCode::BAD_REQUEST,
        content_type::TEXT_PLAIN,
        b"400 Bad Request".to_vec(),
    );
    response
        .headers_mut()
        .insert(CONNECTION, HeaderValue::from_static("close"));
    response
}

/// `{"message":"…"}` without a trailing newline (seen on etcd 3.4.23).
fn short_response(status: u16, message: &str) -> Response {
    let body = MessageBody {
        message: Cow::Borrowed(message),
    };
    bytes_response(status_code(status), content_type::JSON, encode(&body))
}

fn bytes_response(status: StatusCode, content_type: &'static str, body: Vec<u8>) -> Response {
    let mut response = Response::new(Body::from(body));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}

/// Every status in the etcd table is valid; anything else is a programming error reported
/// as 500 rather than a panic.
fn status_code(status: u16) -> StatusCode {
    StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
}

/// Go's `htmlEscape` (`html.EscapeString` set) used by `http.Redirect`.
fn html_escape(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for character in text.chars() {
        match character {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&#34;"),
            '\'' => escaped.push_str("&#39;"),
            other => escaped.push(other),
        }
    }
    escaped
}

#[cfg(test)]
mod tests;
