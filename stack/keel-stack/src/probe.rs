//! One HTTP exchange (hyper's client) over TCP or over fleet's unix socket, bounded by
//! [`PROBE_TIMEOUT`]: the stack's readiness checks and the dashboard's reads and writes.

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use std::path::Path;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpStream, UnixStream};

/// How long one check may take.
pub const PROBE_TIMEOUT: Duration = Duration::from_secs(2);

/// Why a check got no answer.
#[derive(Debug, thiserror::Error)]
pub enum ProbeError {
    #[error("not an http://host:port/path URL: {0}")]
    Url(String),
    #[error("cannot connect: {0}")]
    Connect(#[from] std::io::Error),
    #[error("HTTP: {0}")]
    Http(#[from] hyper::Error),
    #[error("request: {0}")]
    Request(#[from] hyper::http::Error),
    #[error("no answer within {PROBE_TIMEOUT:?}")]
    Timeout,
}

/// An answer: its status, headers and body.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: hyper::HeaderMap,
    pub body: Bytes,
}

/// `GET url` over TCP (`http://host:port/path`).
///
/// # Errors
/// A URL of another shape, or no HTTP answer in time.
pub async fn get(url: &str) -> Result<Reply, ProbeError> {
    send(hyper::Method::GET, url, None).await
}

/// `method url` over TCP with a JSON `body`, when given.
///
/// # Errors
/// A URL of another shape, or no HTTP answer in time.
pub async fn send(
    method: hyper::Method,
    url: &str,
    body: Option<String>,
) -> Result<Reply, ProbeError> {
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| ProbeError::Url(url.to_owned()))?;
    let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
    let path = format!("/{path}");
    let exchange = async {
        let stream = TcpStream::connect(authority).await?;
        request(stream, authority, method, &path, body).await
    };
    tokio::time::timeout(PROBE_TIMEOUT, exchange)
        .await
        .map_err(|_| ProbeError::Timeout)?
}

/// `GET path` over the unix socket `socket`.
///
/// # Errors
/// No HTTP answer in time.
pub async fn get_unix(socket: &Path, path: &str) -> Result<Reply, ProbeError> {
    let exchange = async {
        let stream = UnixStream::connect(socket).await?;
        request(stream, "localhost", hyper::Method::GET, path, None).await
    };
    tokio::time::timeout(PROBE_TIMEOUT, exchange)
        .await
        .map_err(|_| ProbeError::Timeout)?
}

/// The machines fleet's API at `socket` lists (`GET /fleet/v1/machines`), or `None` when it
/// does not answer 200 with fleet's JSON.
pub async fn fleet_machines(socket: &Path) -> Option<usize> {
    let reply = get_unix(socket, "/fleet/v1/machines").await.ok()?;
    if reply.status != 200 {
        return None;
    }
    let page: serde_json::Value = serde_json::from_slice(&reply.body).ok()?;
    Some(
        page.get("machines")
            .and_then(serde_json::Value::as_array)
            .map_or(0, Vec::len),
    )
}

async fn request<S>(
    stream: S,
    host: &str,
    method: hyper::Method,
    path: &str,
    body: Option<String>,
) -> Result<Reply, ProbeError>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (mut sender, connection) =
        hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    // Ends when the exchange below drops the sender, or with the probe's timeout.
    tokio::spawn(connection);
    let mut request = hyper::Request::builder()
        .method(method)
        .uri(path)
        .header(hyper::header::HOST, host);
    if body.is_some() {
        request = request.header(hyper::header::CONTENT_TYPE, "application/json");
    }
    let request = request.body(Full::new(Bytes::from(body.unwrap_or_default())))?;
    let response = sender.send_request(request).await?;
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let body = response.into_body().collect().await?.to_bytes();
    Ok(Reply {
        status,
        headers,
        body,
    })
}
