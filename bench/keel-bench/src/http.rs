//! A lean HTTP/1.1 client for load generation: one keep-alive connection per handle, one
//! request in flight on it at a time (no pipelining, as etcd's v2 clients), reconnecting
//! after a failure. Bodies are read whole and only their status is judged, so the client
//! spends little CPU next to the server on a small machine.

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper::{Method, Request};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

/// Why a request produced no answer.
#[derive(Debug, thiserror::Error)]
pub enum RequestError {
    /// Connecting, sending or reading failed.
    #[error("{0}")]
    Transport(String),
}

/// One keep-alive connection to one endpoint.
pub struct Connection {
    authority: String,
    sender: Option<SendRequest<Full<Bytes>>>,
}

/// An answer: status and body.
#[derive(Debug)]
pub struct Answer {
    /// HTTP status.
    pub status: u16,
    /// `X-Etcd-Index`, when sent.
    pub etcd_index: Option<u64>,
    /// The body.
    pub body: Bytes,
}

impl Connection {
    /// A connection to `endpoint` (`http://host:port`), opened on first use.
    ///
    /// # Errors
    /// When the endpoint is not an `http://host:port` URL.
    pub fn new(endpoint: &str) -> Result<Connection, String> {
        let authority = endpoint
            .strip_prefix("http://")
            .map(|rest| rest.trim_end_matches('/'))
            .filter(|rest| !rest.is_empty() && !rest.contains('/'))
            .ok_or_else(|| format!("endpoint {endpoint:?} is not http://host:port"))?;
        Ok(Connection {
            authority: authority.to_owned(),
            sender: None,
        })
    }

    /// Drops the connection; the next request opens a new one.
    pub fn reset(&mut self) {
        self.sender = None;
    }

    async fn connect(&mut self) -> Result<&mut SendRequest<Full<Bytes>>, RequestError> {
        if self.sender.as_ref().is_none_or(SendRequest::is_closed) {
            let stream = TcpStream::connect(&self.authority)
                .await
                .map_err(|e| RequestError::Transport(format!("connect {}: {e}", self.authority)))?;
            let _ = stream.set_nodelay(true);
            let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
                .await
                .map_err(|e| RequestError::Transport(e.to_string()))?;
            tokio::spawn(async move {
                let _ = connection.await;
            });
            self.sender = Some(sender);
        }
        self.sender
            .as_mut()
            .ok_or_else(|| RequestError::Transport("no connection".into()))
    }

    /// Sends one request and reads the whole answer. After a failure the connection is
    /// dropped and the next request opens a new one.
    ///
    /// # Errors
    /// `RequestError::Transport` when no answer came.
    pub async fn send(
        &mut self,
        method: Method,
        path_and_query: &str,
        form: Option<Bytes>,
    ) -> Result<Answer, RequestError> {
        let authority = self.authority.clone();
        let result = async {
            let sender = self.connect().await?;
            sender
                .ready()
                .await
                .map_err(|e| RequestError::Transport(e.to_string()))?;
            let mut builder = Request::builder()
                .method(method)
                .uri(path_and_query)
                .header(hyper::header::HOST, authority);
            if form.is_some() {
                builder = builder.header(
                    hyper::header::CONTENT_TYPE,
                    "application/x-www-form-urlencoded",
                );
            }
            let request = builder
                .body(Full::new(form.unwrap_or_default()))
                .map_err(|e| RequestError::Transport(e.to_string()))?;
            let response = sender
                .send_request(request)
                .await
                .map_err(|e| RequestError::Transport(e.to_string()))?;
            let status = response.status().as_u16();
            let etcd_index = response
                .headers()
                .get("x-etcd-index")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse().ok());
            let body = response
                .into_body()
                .collect()
                .await
                .map_err(|e| RequestError::Transport(e.to_string()))?
                .to_bytes();
            Ok(Answer {
                status,
                etcd_index,
                body,
            })
        }
        .await;
        if result.is_err() {
            self.sender = None;
        }
        result
    }
}
