//! The HTTP client of fleetd: fleet's v1 API (`/fleet/v1/...`) plus the Keel extensions
//! (`/keel/v1/units/{name}/pending|status|journal`), over TCP or a unix socket, with hyper's
//! client connection API.
//!
//! Owns [`Client`], [`ClientError`] and the extension's wire types ([`Pending`],
//! [`Refusal`]). Invariants: every list is read to its last page (the page without a
//! `nextPageToken`), with a bound on the number of pages; unit names are percent-encoded as
//! one path segment (`@` becomes `%40`); every exchange but a followed journal is bounded by
//! the request timeout (fleet's fleetctl only applied `--request-timeout` to its etcd driver;
//! here it bounds every API request). One connection per request: fleetctl makes few.

use crate::endpoint::Endpoint;
use bytes::Bytes;
use fleet_api::entities::{
    ErrorEnvelope, Machine, MachinePage, Unit, UnitPage, UnitState, UnitStatePage,
};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::client::conn::http1::{self, SendRequest};
use hyper::{header, Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use serde::{Deserialize, Serialize};
use std::io::Write;
use std::time::Duration;

/// Characters kept as they are in a path segment: RFC 3986's unreserved set.
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// A list longer than this many pages is refused rather than read forever (at fleet's page
/// size of 100 that is a million items).
const PAGES_MAX: usize = 10_000;

/// Why an exchange with fleetd failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The socket or TCP connection could not be opened.
    #[error("cannot reach fleetd at {endpoint}: {source}")]
    Unreachable {
        /// The endpoint.
        endpoint: String,
        /// The connect error.
        source: std::io::Error,
    },
    /// The HTTP exchange broke (connection closed, malformed response).
    #[error("HTTP exchange with fleetd at {endpoint} failed: {source}")]
    Exchange {
        /// The endpoint.
        endpoint: String,
        /// hyper's error.
        source: hyper::Error,
    },
    /// No complete answer within the request timeout.
    #[error("fleetd at {endpoint} did not answer within {timeout:?}")]
    Timeout {
        /// The endpoint.
        endpoint: String,
        /// The request timeout.
        timeout: Duration,
    },
    /// The request could not be built (a base path that is not a valid URI path).
    #[error("invalid request to fleetd: {0}")]
    Request(#[from] hyper::http::Error),
    /// fleetd answered with an error status; the message is its error envelope's.
    #[error("{}", api_text(*.status, .message))]
    Api {
        /// The HTTP status.
        status: u16,
        /// The envelope's message (or the body's text when it is no envelope).
        message: String,
    },
    /// A success body that is not the expected JSON.
    #[error("fleetd sent an unreadable {what}: {source}")]
    Decode {
        /// What was expected.
        what: &'static str,
        /// serde's error.
        source: serde_json::Error,
    },
    /// A list that kept announcing a next page.
    #[error("fleetd kept sending next page tokens after {} pages", PAGES_MAX)]
    TooManyPages,
    /// Writing a streamed body to the output failed.
    #[error("writing the output failed: {0}")]
    Output(std::io::Error),
}

fn api_text(status: u16, message: &str) -> String {
    if message.is_empty() {
        format!("fleetd answered HTTP {status}")
    } else {
        format!("{message} (HTTP {status})")
    }
}

impl ClientError {
    /// Whether fleetd answered 404 (the unit, state or pending record does not exist).
    #[must_use]
    pub fn is_not_found(&self) -> bool {
        matches!(self, ClientError::Api { status: 404, .. })
    }
}

/// Why the engine could not place a unit (`GET /keel/v1/units/{name}/pending`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Pending {
    /// The engine's summary.
    #[serde(default)]
    pub reason: String,
    /// Per machine, the rule that refused it.
    #[serde(default)]
    pub refusals: Vec<Refusal>,
}

/// One machine's refusal of a unit.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Refusal {
    /// The machine's ID.
    #[serde(default)]
    pub machine: String,
    /// The rule that refused the unit there.
    #[serde(default)]
    pub rule: String,
}

/// What `journal` asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JournalQuery {
    /// `journalctl -n`.
    pub lines: u32,
    /// `journalctl --output`.
    pub output: String,
    /// `journalctl -f`: the body streams until the server or the user ends it.
    pub follow: bool,
}

/// A client of one fleetd.
#[derive(Debug, Clone)]
pub struct Client {
    endpoint: Endpoint,
    request_timeout: Duration,
}

/// Aborts the task driving a connection when the exchange is over.
struct Driver(tokio::task::JoinHandle<()>);

impl Drop for Driver {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl Client {
    /// A client of fleetd at `endpoint`; every exchange but a followed journal must complete
    /// within `request_timeout`.
    #[must_use]
    pub fn new(endpoint: Endpoint, request_timeout: Duration) -> Client {
        Client {
            endpoint,
            request_timeout,
        }
    }

    /// The endpoint, for messages.
    #[must_use]
    pub fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }

    async fn connect(&self) -> Result<(SendRequest<Full<Bytes>>, Driver), ClientError> {
        let unreachable = |source| ClientError::Unreachable {
            endpoint: self.endpoint.to_string(),
            source,
        };
        let exchange = |source| ClientError::Exchange {
            endpoint: self.endpoint.to_string(),
            source,
        };
        match &self.endpoint {
            Endpoint::Tcp { authority, .. } => {
                let stream = tokio::net::TcpStream::connect(authority.as_str())
                    .await
                    .map_err(unreachable)?;
                let (sender, connection) = http1::handshake(TokioIo::new(stream))
                    .await
                    .map_err(exchange)?;
                let task = tokio::spawn(async move {
                    // A broken connection surfaces as the request's error.
                    let _ = connection.await;
                });
                Ok((sender, Driver(task)))
            }
            Endpoint::Unix { path } => {
                let stream = tokio::net::UnixStream::connect(path)
                    .await
                    .map_err(unreachable)?;
                let (sender, connection) = http1::handshake(TokioIo::new(stream))
                    .await
                    .map_err(exchange)?;
                let task = tokio::spawn(async move {
                    let _ = connection.await;
                });
                Ok((sender, Driver(task)))
            }
        }
    }

    /// Sends one request and returns the response with its body unread, plus the task that
    /// must stay alive while the body is read.
    async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<Vec<u8>>,
    ) -> Result<(Response<Incoming>, Driver), ClientError> {
        let (mut sender, driver) = self.connect().await?;
        let uri = format!("{}{path}", self.endpoint.base_path());
        let mut request = Request::builder()
            .method(method.clone())
            .uri(uri)
            .header(header::HOST, self.endpoint.host())
            .header(
                header::USER_AGENT,
                concat!("fleetctl/", env!("CARGO_PKG_VERSION")),
            );
        if body.is_some() {
            request = request.header(header::CONTENT_TYPE, "application/json");
        }
        let request = request.body(Full::new(Bytes::from(body.unwrap_or_default())))?;
        let response =
            sender
                .send_request(request)
                .await
                .map_err(|source| ClientError::Exchange {
                    endpoint: self.endpoint.to_string(),
                    source,
                })?;
        tracing::debug!(%method, path, status = response.status().as_u16(), "fleetd answered");
        Ok((response, driver))
    }

    /// One complete exchange within the request timeout: the status and the whole body.
    async fn exchange(
        &self,
        method: Method,
        path: &str,
        body: Option<Vec<u8>>,
    ) -> Result<(StatusCode, Bytes), ClientError> {
        let work = async {
            let (response, _driver) = self.send(method, path, body).await?;
            let status = response.status();
            let bytes = response
                .into_body()
                .collect()
                .await
                .map_err(|source| ClientError::Exchange {
                    endpoint: self.endpoint.to_string(),
                    source,
                })?
                .to_bytes();
            Ok((status, bytes))
        };
        tokio::time::timeout(self.request_timeout, work)
            .await
            .map_err(|_| ClientError::Timeout {
                endpoint: self.endpoint.to_string(),
                timeout: self.request_timeout,
            })?
    }

    /// An exchange whose success is a 2xx; anything else becomes [`ClientError::Api`].
    async fn expect_success(
        &self,
        method: Method,
        path: &str,
        body: Option<Vec<u8>>,
    ) -> Result<Bytes, ClientError> {
        let (status, bytes) = self.exchange(method, path, body).await?;
        if status.is_success() {
            Ok(bytes)
        } else {
            Err(api_error(status, &bytes))
        }
    }

    async fn get_json<T: serde::de::DeserializeOwned>(
        &self,
        path: &str,
        what: &'static str,
    ) -> Result<T, ClientError> {
        let bytes = self.expect_success(Method::GET, path, None).await?;
        serde_json::from_slice(&bytes).map_err(|source| ClientError::Decode { what, source })
    }

    /// Reads every page of a list: `page` maps a page to its items and next token.
    async fn all_pages<P, T>(
        &self,
        path: &str,
        what: &'static str,
        page: impl Fn(P) -> (Vec<T>, String),
    ) -> Result<Vec<T>, ClientError>
    where
        P: serde::de::DeserializeOwned,
    {
        let mut items = Vec::new();
        let mut token = String::new();
        for _ in 0..PAGES_MAX {
            let url = if token.is_empty() {
                path.to_owned()
            } else {
                let separator = if path.contains('?') { '&' } else { '?' };
                format!("{path}{separator}nextPageToken={}", query(&token))
            };
            let (mut page_items, next) = page(self.get_json::<P>(&url, what).await?);
            items.append(&mut page_items);
            if next.is_empty() {
                return Ok(items);
            }
            token = next;
        }
        Err(ClientError::TooManyPages)
    }

    /// Every unit (`GET /fleet/v1/units`, all pages), by name.
    ///
    /// # Errors
    /// [`ClientError`] for transport failures, error statuses and undecodable pages.
    pub async fn units(&self) -> Result<Vec<Unit>, ClientError> {
        self.all_pages("/fleet/v1/units", "unit page", |page: UnitPage| {
            (page.units, page.next_page_token)
        })
        .await
    }

    /// One unit, `None` when fleetd answers 404.
    ///
    /// # Errors
    /// [`ClientError`] for anything but success and 404.
    pub async fn unit(&self, name: &str) -> Result<Option<Unit>, ClientError> {
        let path = format!("/fleet/v1/units/{}", segment(name));
        none_if_not_found(self.get_json(&path, "unit").await)
    }

    /// Creates (or, with other options, replaces) a unit: `PUT` with its name and options.
    ///
    /// # Errors
    /// [`ClientError`] for anything but a 2xx.
    pub async fn create_unit(&self, unit: &Unit) -> Result<(), ClientError> {
        let path = format!("/fleet/v1/units/{}", segment(&unit.name));
        let body = serde_json::to_vec(unit).map_err(|source| ClientError::Decode {
            what: "unit to send",
            source,
        })?;
        self.expect_success(Method::PUT, &path, Some(body))
            .await
            .map(drop)
    }

    /// Sets a unit's desired state: `PUT {"name", "desiredState"}`.
    ///
    /// # Errors
    /// [`ClientError`] for anything but a 2xx.
    pub async fn set_desired_state(&self, name: &str, state: &str) -> Result<(), ClientError> {
        let change = Unit {
            name: name.to_owned(),
            desired_state: state.to_owned(),
            ..Unit::default()
        };
        self.create_unit(&change).await
    }

    /// Deletes a unit.
    ///
    /// # Errors
    /// [`ClientError`] for anything but a 2xx (404 included: see
    /// [`ClientError::is_not_found`]).
    pub async fn destroy_unit(&self, name: &str) -> Result<(), ClientError> {
        let path = format!("/fleet/v1/units/{}", segment(name));
        self.expect_success(Method::DELETE, &path, None)
            .await
            .map(drop)
    }

    /// Every systemd state report (`GET /fleet/v1/state`, all pages), by (unit, machine).
    ///
    /// # Errors
    /// [`ClientError`] for transport failures, error statuses and undecodable pages.
    pub async fn unit_states(&self) -> Result<Vec<UnitState>, ClientError> {
        self.all_pages("/fleet/v1/state", "state page", |page: UnitStatePage| {
            (page.states, page.next_page_token)
        })
        .await
    }

    /// The first state report of a unit, `None` when there is none (404).
    ///
    /// # Errors
    /// [`ClientError`] for anything but success and 404.
    pub async fn unit_state(&self, name: &str) -> Result<Option<UnitState>, ClientError> {
        let path = format!("/fleet/v1/state/{}", segment(name));
        none_if_not_found(self.get_json(&path, "unit state").await)
    }

    /// Every live machine (`GET /fleet/v1/machines`, all pages), by ID.
    ///
    /// # Errors
    /// [`ClientError`] for transport failures, error statuses and undecodable pages.
    pub async fn machines(&self) -> Result<Vec<Machine>, ClientError> {
        self.all_pages("/fleet/v1/machines", "machine page", |page: MachinePage| {
            (page.machines, page.next_page_token)
        })
        .await
    }

    /// Why the engine could not place a unit; `None` when it is not pending (404).
    ///
    /// # Errors
    /// [`ClientError`] for anything but success and 404.
    pub async fn pending(&self, name: &str) -> Result<Option<Pending>, ClientError> {
        let path = format!("/keel/v1/units/{}/pending", segment(name));
        none_if_not_found(self.get_json(&path, "pending record").await)
    }

    /// Every live machine's verdict on a unit (`GET /keel/v1/units/{name}/why`).
    ///
    /// # Errors
    /// [`ClientError`] for transport failures and error statuses (404: no such unit, 409:
    /// the engine cannot schedule it at all).
    pub async fn why(&self, name: &str) -> Result<fleet_api::keel::Why, ClientError> {
        let path = format!("/keel/v1/units/{}/why", segment(name));
        self.get_json(&path, "placement explanation").await
    }

    /// Sets how many numbered instances of `template` the engine keeps
    /// (`PUT /keel/v1/units/{template}/replicas`).
    ///
    /// # Errors
    /// [`ClientError`] for anything but a 2xx (404: no such template; 400: not a template, or
    /// above the limit).
    pub async fn scale(&self, template: &str, count: u32) -> Result<(), ClientError> {
        let path = format!("/keel/v1/units/{}/replicas", segment(template));
        let body =
            serde_json::to_vec(&fleet_api::keel::ScaleRequest { count }).map_err(|source| {
                ClientError::Decode {
                    what: "replica count to send",
                    source,
                }
            })?;
        self.expect_success(Method::PUT, &path, Some(body))
            .await
            .map(drop)
    }

    /// Drains (`true`) or undrains a machine (`PUT`/`DELETE /keel/v1/machines/{id}/cordon`).
    ///
    /// # Errors
    /// [`ClientError`] for anything but a 2xx (404: no such machine).
    pub async fn cordon(&self, machine: &str, cordoned: bool) -> Result<(), ClientError> {
        let path = format!("/keel/v1/machines/{}/cordon", segment(machine));
        let method = if cordoned {
            Method::PUT
        } else {
            Method::DELETE
        };
        self.expect_success(method, &path, None).await.map(drop)
    }

    /// Asks for a rolling replacement of `name` (`PUT /keel/v1/units/{name}/rollout`); the
    /// record as stored.
    ///
    /// # Errors
    /// [`ClientError`] for anything but a 2xx (404: no such unit; 400: a bad file or
    /// strategy) and an undecodable answer.
    pub async fn replace(
        &self,
        name: &str,
        request: &fleet_api::keel::ReplaceRequest,
    ) -> Result<fleet_api::keel::Rollout, ClientError> {
        let path = format!("/keel/v1/units/{}/rollout", segment(name));
        let body = serde_json::to_vec(request).map_err(|source| ClientError::Decode {
            what: "rollout to send",
            source,
        })?;
        let bytes = self.expect_success(Method::PUT, &path, Some(body)).await?;
        serde_json::from_slice(&bytes).map_err(|source| ClientError::Decode {
            what: "rollout",
            source,
        })
    }

    /// Every rollout record (`GET /keel/v1/rollouts`).
    ///
    /// # Errors
    /// [`ClientError`] for transport failures, error statuses and an undecodable body.
    pub async fn rollouts(&self) -> Result<Vec<fleet_api::keel::Rollout>, ClientError> {
        let list: fleet_api::keel::RolloutList =
            self.get_json("/keel/v1/rollouts", "rollout list").await?;
        Ok(list.rollouts)
    }

    /// One unit's rollout (`GET /keel/v1/units/{name}/rollout`); `None` on 404.
    ///
    /// # Errors
    /// [`ClientError`] for anything but success and 404.
    pub async fn rollout(
        &self,
        name: &str,
    ) -> Result<Option<fleet_api::keel::Rollout>, ClientError> {
        let path = format!("/keel/v1/units/{}/rollout", segment(name));
        none_if_not_found(self.get_json(&path, "rollout").await)
    }

    /// Every template with a replica count (`GET /keel/v1/replicas`).
    ///
    /// # Errors
    /// [`ClientError`] for transport failures, error statuses and an undecodable body.
    pub async fn replicas(&self) -> Result<Vec<fleet_api::keel::ReplicaSet>, ClientError> {
        let list: fleet_api::keel::ReplicaList =
            self.get_json("/keel/v1/replicas", "replica list").await?;
        Ok(list.replicas)
    }

    /// Every batch job finished on its current file (`GET /keel/v1/completions`).
    ///
    /// # Errors
    /// [`ClientError`] for transport failures, error statuses and an undecodable body.
    pub async fn completions(&self) -> Result<Vec<fleet_api::keel::Completion>, ClientError> {
        let list: fleet_api::keel::CompletionList = self
            .get_json("/keel/v1/completions", "completion list")
            .await?;
        Ok(list.completions)
    }

    /// `systemctl status -l <unit>` on the unit's host, as text.
    ///
    /// # Errors
    /// [`ClientError`] for transport failures and error statuses (404: no such unit, 409: not
    /// running anywhere).
    pub async fn status(&self, name: &str) -> Result<String, ClientError> {
        let path = format!("/keel/v1/units/{}/status", segment(name));
        let bytes = self.expect_success(Method::GET, &path, None).await?;
        Ok(String::from_utf8_lossy(&bytes).into_owned())
    }

    /// The unit's journal on its host, copied to `sink` as it arrives. Without `follow` the
    /// whole exchange is bounded by the request timeout; with it, only the wait for the
    /// response headers is.
    ///
    /// # Errors
    /// [`ClientError`] for transport failures, error statuses and a failing `sink`.
    pub async fn journal(
        &self,
        name: &str,
        journal: &JournalQuery,
        sink: &mut dyn Write,
    ) -> Result<(), ClientError> {
        let path = format!(
            "/keel/v1/units/{}/journal?lines={}&output={}&follow={}",
            segment(name),
            journal.lines,
            query(&journal.output),
            journal.follow
        );
        let timeout = |_| ClientError::Timeout {
            endpoint: self.endpoint.to_string(),
            timeout: self.request_timeout,
        };
        let (response, _driver) =
            tokio::time::timeout(self.request_timeout, self.send(Method::GET, &path, None))
                .await
                .map_err(timeout)??;
        let status = response.status();
        let mut body = response.into_body();
        let copy = async {
            if !status.is_success() {
                let bytes = body.collect().await.map_err(|source| self.broken(source))?;
                return Err(api_error(status, &bytes.to_bytes()));
            }
            while let Some(frame) = body.frame().await {
                let frame = frame.map_err(|source| self.broken(source))?;
                if let Some(data) = frame.data_ref() {
                    sink.write_all(data).map_err(ClientError::Output)?;
                    sink.flush().map_err(ClientError::Output)?;
                }
            }
            Ok(())
        };
        if journal.follow && status.is_success() {
            copy.await
        } else {
            tokio::time::timeout(self.request_timeout, copy)
                .await
                .map_err(timeout)?
        }
    }

    fn broken(&self, source: hyper::Error) -> ClientError {
        ClientError::Exchange {
            endpoint: self.endpoint.to_string(),
            source,
        }
    }
}

fn none_if_not_found<T>(result: Result<T, ClientError>) -> Result<Option<T>, ClientError> {
    match result {
        Ok(value) => Ok(Some(value)),
        Err(error) if error.is_not_found() => Ok(None),
        Err(error) => Err(error),
    }
}

/// An error status's body: fleet's envelope, or else its text (bounded) as the message.
fn api_error(status: StatusCode, body: &[u8]) -> ClientError {
    const TEXT_MAX: usize = 200;
    let message = match serde_json::from_slice::<ErrorEnvelope>(body) {
        Ok(envelope) => envelope.error.message,
        Err(_) => String::from_utf8_lossy(body)
            .trim()
            .chars()
            .take(TEXT_MAX)
            .collect(),
    };
    ClientError::Api {
        status: status.as_u16(),
        message,
    }
}

/// A unit name as one path segment.
fn segment(name: &str) -> String {
    utf8_percent_encode(name, SEGMENT).to_string()
}

/// A query parameter value.
fn query(value: &str) -> String {
    utf8_percent_encode(value, SEGMENT).to_string()
}

#[cfg(test)]
mod tests {
    //! Encoding and error texts. Method: pure functions on literal inputs (the exchanges
    //! themselves are tested end to end in `tests/`).

    use super::*;

    #[test]
    fn names_are_one_encoded_segment() {
        // Goal: `@` and anything outside the unreserved set are percent-encoded, fleet's `%40`.
        assert_eq!(segment("web@1.service"), "web%401.service");
        assert_eq!(segment("a/b c"), "a%2Fb%20c");
        assert_eq!(query("short-iso"), "short-iso");
    }

    #[test]
    fn error_bodies_become_messages() {
        // Goal: the envelope's message, a plain body's text, and an empty message.
        let envelope =
            br#"{"error":{"code":409,"message":"unit does not exist and options field empty"}}"#;
        assert_eq!(
            api_error(StatusCode::CONFLICT, envelope).to_string(),
            "unit does not exist and options field empty (HTTP 409)"
        );
        assert_eq!(
            api_error(StatusCode::NOT_FOUND, b" no route\n").to_string(),
            "no route (HTTP 404)"
        );
        assert_eq!(
            api_error(
                StatusCode::INTERNAL_SERVER_ERROR,
                br#"{"error":{"code":500,"message":""}}"#
            )
            .to_string(),
            "fleetd answered HTTP 500"
        );
        assert!(api_error(StatusCode::NOT_FOUND, b"").is_not_found());
    }
}
