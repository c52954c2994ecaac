//! Forwarding a `status` or `journal` request to the fleetd of the unit's host, at the
//! `APIURL` that host publishes in its machine record, and streaming the answer back.
//!
//! One HTTP/1 connection per forward (hyper's connection API over a tokio `TcpStream`), driven
//! inside the request that asked for it, so nothing outlives the request: when the client
//! goes away the response body is dropped, and with it the connection, which stops the
//! remote stream. The forwarded request carries [`FORWARDED_HEADER`] naming this machine; a
//! fleetd that receives it answers locally and never forwards again, so two fleetds that
//! disagree about a placement cannot bounce a request between them.
//!
//! Invariants: connecting and waiting for the response head are bounded
//! ([`FORWARD_CONNECT_TIMEOUT`], [`FORWARD_HEAD_TIMEOUT`]); a body is streamed frame by frame
//! and never gathered.

use crate::api::error::ApiError;
use crate::api::limits::{FORWARD_CONNECT_TIMEOUT, FORWARD_HEAD_TIMEOUT};
use axum::body::Body;
use axum::http::{header, Request, StatusCode, Uri};
use axum::response::Response;
use bytes::Bytes;
use fleet_core::model::MachineId;
use futures_util::stream;
use http_body_util::{BodyExt, Empty};
use hyper::body::Incoming;
use hyper::client::conn::http1::{self, Connection};
use hyper_util::rt::TokioIo;
use std::io;
use std::pin::Pin;
use tokio::net::TcpStream;

/// The header of a forwarded request: the machine ID of the fleetd that forwarded it.
pub(crate) const FORWARDED_HEADER: &str = "keel-forwarded-by";

type UpstreamConnection = Connection<TokioIo<TcpStream>, Empty<Bytes>>;

fn bad_gateway(message: String) -> ApiError {
    ApiError::new(StatusCode::BAD_GATEWAY, message)
}

/// Where to connect for `api_url` (`http://host:port`), and the `Host` header.
fn target(api_url: &str, machine: &MachineId) -> Result<(String, String), ApiError> {
    let invalid = || {
        bad_gateway(format!(
            "machine {machine} publishes an invalid API URL {api_url:?}"
        ))
    };
    let uri: Uri = api_url.parse().map_err(|_| invalid())?;
    if uri.scheme_str() != Some("http") {
        return Err(invalid());
    }
    let authority = uri.authority().ok_or_else(invalid)?;
    let address = match authority.port_u16() {
        Some(port) => format!("{}:{port}", authority.host()),
        None => format!("{}:80", authority.host()),
    };
    Ok((address, authority.as_str().to_owned()))
}

/// Sends `GET path_and_query` to the fleetd of `machine` at `api_url` on behalf of
/// `from`, and answers with its response, streamed.
///
/// # Errors
/// 502 when the URL is unusable, the host cannot be reached, or it breaks off before its
/// response head.
pub(crate) async fn forward(
    api_url: &str,
    path_and_query: &str,
    machine: &MachineId,
    from: &MachineId,
) -> Result<Response, ApiError> {
    let (address, host) = target(api_url, machine)?;
    let unreachable = |what: String| bad_gateway(format!("machine {machine} at {api_url}: {what}"));
    let stream = tokio::time::timeout(FORWARD_CONNECT_TIMEOUT, TcpStream::connect(&address))
        .await
        .map_err(|_| unreachable(format!("no connection within {FORWARD_CONNECT_TIMEOUT:?}")))?
        .map_err(|error| unreachable(error.to_string()))?;
    let (mut sender, connection) = http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|error| unreachable(error.to_string()))?;
    let request = Request::get(path_and_query)
        .header(header::HOST, host)
        .header(FORWARDED_HEADER, from.as_str())
        .body(Empty::<Bytes>::new())
        .map_err(|error| unreachable(error.to_string()))?;
    let mut connection = Box::pin(connection);
    let exchange = async {
        tokio::select! {
            response = sender.send_request(request) => {
                response.map_err(|error| unreachable(error.to_string()))
            }
            result = &mut connection => Err(unreachable(match result {
                Ok(()) => "connection closed before the response".to_owned(),
                Err(error) => error.to_string(),
            })),
        }
    };
    let response = tokio::time::timeout(FORWARD_HEAD_TIMEOUT, exchange)
        .await
        .map_err(|_| unreachable(format!("no response within {FORWARD_HEAD_TIMEOUT:?}")))??;
    drop(sender);
    let (parts, body) = response.into_parts();
    let upstream = Upstream {
        body,
        connection,
        connection_done: false,
    };
    let mut answer = Response::new(Body::from_stream(stream::unfold(
        Some(upstream),
        Upstream::next,
    )));
    *answer.status_mut() = parts.status;
    if let Some(content_type) = parts.headers.get(header::CONTENT_TYPE) {
        answer
            .headers_mut()
            .insert(header::CONTENT_TYPE, content_type.clone());
    }
    Ok(answer)
}

/// The remote response body and the connection that feeds it, polled together.
struct Upstream {
    body: Incoming,
    connection: Pin<Box<UpstreamConnection>>,
    connection_done: bool,
}

impl Upstream {
    /// The next chunk of the body; the stream ends after the body's end or first error.
    async fn next(state: Option<Upstream>) -> Option<(Result<Bytes, io::Error>, Option<Upstream>)> {
        let mut upstream = state?;
        loop {
            let pending = !upstream.connection_done;
            tokio::select! {
                frame = upstream.body.frame() => match frame? {
                    Ok(frame) => {
                        if let Ok(data) = frame.into_data() {
                            return Some((Ok(data), Some(upstream)));
                        }
                    }
                    Err(error) => return Some((Err(io::Error::other(error)), None)),
                },
                result = upstream.connection.as_mut(), if pending => {
                    upstream.connection_done = true;
                    if let Err(error) = result {
                        tracing::debug!(%error, "forwarded connection ended");
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    //! Which address a published `APIURL` names. Method: literal URLs.

    use super::*;

    #[test]
    fn api_urls_name_an_http_host_and_port() {
        // Goal: `http://host:port` with or without a trailing slash, port 80 by default; any
        // other scheme, or no authority, is a 502 naming the machine.
        let machine = MachineId::parse("m2").expect("a machine ID");
        let address = |url: &str| target(url, &machine).map(|(address, _)| address);
        assert_eq!(
            address("http://10.0.0.2:49153"),
            Ok("10.0.0.2:49153".to_owned())
        );
        assert_eq!(
            address("http://10.0.0.2:49153/"),
            Ok("10.0.0.2:49153".to_owned())
        );
        assert_eq!(
            address("http://fleet.example"),
            Ok("fleet.example:80".to_owned())
        );
        assert_eq!(address("http://[::1]:8"), Ok("[::1]:8".to_owned()));
        for bad in [
            "https://10.0.0.2:1",
            "10.0.0.2:1",
            "",
            "unix:///run/fleet.sock",
        ] {
            let error = address(bad).expect_err(bad);
            assert_eq!(error.status(), StatusCode::BAD_GATEWAY, "{bad}");
            assert!(error.message().contains("machine m2"), "{bad}");
        }
    }
}
