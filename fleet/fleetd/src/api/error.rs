//! The API's error answers: a status and a message, sent as fleet's JSON envelope
//! `{"error":{"code":N,"message":"…"}}` with `Content-Type: application/json`.
//!
//! Invariants: the envelope's code is the response's status; internal errors (a value in
//! the registry that cannot be read) carry an empty message, as fleet's, and are logged
//! here, once; an unreachable store is always 503 with fleet's text.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use fleet_api::entities::ErrorEnvelope;
use fleet_registry::RegistryError;

/// fleet's text for 503: before registration and while the store cannot be reached.
pub const UNAVAILABLE_MESSAGE: &str = "fleet server unable to communicate with etcd";

/// An error answer of the API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    status: StatusCode,
    message: String,
}

impl ApiError {
    /// An answer with `status` and `message`.
    #[must_use]
    pub fn new(status: StatusCode, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            message: message.into(),
        }
    }

    pub(crate) fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, message)
    }

    pub(crate) fn not_found(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, message)
    }

    pub(crate) fn conflict(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::CONFLICT, message)
    }

    pub(crate) fn method_not_allowed(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::METHOD_NOT_ALLOWED, message)
    }

    pub(crate) fn unavailable() -> ApiError {
        ApiError::new(StatusCode::SERVICE_UNAVAILABLE, UNAVAILABLE_MESSAGE)
    }

    /// fleet's internal error: 500 with an empty message. The caller has logged the cause.
    pub(crate) fn internal() -> ApiError {
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "")
    }

    /// The status.
    #[must_use]
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The message.
    #[must_use]
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl From<RegistryError> for ApiError {
    fn from(error: RegistryError) -> ApiError {
        if error.is_unavailable() {
            tracing::debug!(%error, "registry unreachable");
            ApiError::unavailable()
        } else {
            tracing::warn!(%error, "registry operation failed");
            ApiError::internal()
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let envelope = ErrorEnvelope::new(self.status.as_u16(), self.message);
        let body = match serde_json::to_vec(&envelope) {
            Ok(body) => body,
            Err(error) => {
                tracing::warn!(%error, "error envelope did not encode");
                Vec::new()
            }
        };
        let content_type = HeaderValue::from_static("application/json");
        (self.status, [(header::CONTENT_TYPE, content_type)], body).into_response()
    }
}
