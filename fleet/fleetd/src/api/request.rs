//! What handlers read from a request besides its body: the item name in the path, the query
//! parameters, the page token, and the registry listings with their problems logged.
//!
//! As fleet's server: names arrive percent-encoded and are decoded, a decoded name holding
//! `/` is no item (404, fleet sees one more path segment), unknown query parameters are
//! ignored, and a list without `nextPageToken` is its first page.

use crate::api::error::ApiError;
use crate::api::limits::REQUEST_BODY_BYTES_MAX;
use axum::body::{to_bytes, Body, Bytes};
use axum::extract::{FromRequestParts, Path};
use axum::http::request::Parts;
use axum::http::StatusCode;
use fleet_api::page::PageToken;
use fleet_core::name::UnitName;
use fleet_registry::view::Decoded;
use http_body_util::LengthLimitError;

/// The `{name}` segment of an item path, percent-decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ItemName(pub String);

impl<S: Send + Sync> FromRequestParts<S> for ItemName {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<ItemName, ApiError> {
        let Path(name) = Path::<String>::from_request_parts(parts, state)
            .await
            .map_err(|_| ApiError::not_found(""))?;
        if name.contains('/') {
            return Err(ApiError::not_found(""));
        }
        Ok(ItemName(name))
    }
}

impl ItemName {
    /// The name as a unit name; one that is not valid names no unit, so the lookup's own
    /// 404 (`missing`) is the answer. Also keeps names such as `..` out of registry keys.
    pub(crate) fn unit(&self, missing: &str) -> Result<UnitName, ApiError> {
        UnitName::parse(&self.0).map_err(|_| ApiError::not_found(missing))
    }
}

/// The query parameters, decoded, in order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct QueryParams(Vec<(String, String)>);

impl<S: Send + Sync> FromRequestParts<S> for QueryParams {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<QueryParams, ApiError> {
        Ok(QueryParams::parse(parts.uri.query().unwrap_or_default()))
    }
}

impl QueryParams {
    pub(crate) fn parse(query: &str) -> QueryParams {
        QueryParams(
            form_urlencoded::parse(query.as_bytes())
                .map(|(key, value)| (key.into_owned(), value.into_owned()))
                .collect(),
        )
    }

    /// Every value of `key`.
    pub(crate) fn all<'a>(&'a self, key: &str) -> impl Iterator<Item = &'a str> + 'a {
        let key = key.to_owned();
        self.0
            .iter()
            .filter(move |(name, _)| *name == key)
            .map(|(_, value)| value.as_str())
    }

    /// The first value of `key` (fleet reads the first of repeated filters).
    pub(crate) fn first(&self, key: &str) -> Option<&str> {
        self.all(key).next()
    }

    /// The page asked for: `None` for the first page.
    ///
    /// # Errors
    /// 400 with fleet's texts for a repeated, undecodable or foreign token.
    pub(crate) fn page_token(&self, limit: u16) -> Result<Option<PageToken>, ApiError> {
        let values: Vec<&str> = self.all("nextPageToken").collect();
        match values.as_slice() {
            [] => Ok(None),
            [text] => PageToken::decode(text, limit)
                .map(Some)
                .map_err(|error| ApiError::bad_request(error.to_string())),
            _ => Err(ApiError::bad_request("too many values for page token")),
        }
    }
}

/// A PUT or PATCH body, whole, up to [`REQUEST_BODY_BYTES_MAX`].
///
/// # Errors
/// 413 for a longer body, 400 for one that breaks off.
pub(crate) async fn read_body(body: Body) -> Result<Bytes, ApiError> {
    to_bytes(body, REQUEST_BODY_BYTES_MAX)
        .await
        .map_err(|error| {
            let error = error.into_inner();
            if error.downcast_ref::<LengthLimitError>().is_some() {
                ApiError::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    format!("request body exceeds {REQUEST_BODY_BYTES_MAX} bytes"),
                )
            } else {
                ApiError::bad_request(format!("unable to read body: {error}"))
            }
        })
}

/// The items of a listing; what could not be read is logged and left out.
pub(crate) fn logged<T>(decoded: Decoded<T>, what: &str) -> T {
    for problem in &decoded.problems {
        tracing::warn!(key = %problem.key, error = %problem.error, "skipping unreadable {what}");
    }
    decoded.items
}
