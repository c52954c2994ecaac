//! An in-process fake etcd v2 server (axum on 127.0.0.1:0) whose every reply is scripted by
//! the test, including failures a real server only shows under faults: hanging after reading
//! a request, dropping the connection after the response head, or a head with no body.

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::response::Response;
use axum::Router;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// One request as the server saw it.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: String,
    /// The raw (still percent-encoded) path.
    pub path: String,
    /// The raw query, `""` when absent.
    pub query: String,
    /// The body as text.
    pub body: String,
    pub content_type: Option<String>,
}

impl Recorded {
    /// The decoded value of a query parameter.
    pub fn query_param(&self, name: &str) -> Option<String> {
        pairs(&self.query)
            .find(|(key, _)| key == name)
            .map(|(_, value)| value)
    }

    /// The decoded form body as pairs.
    pub fn form(&self) -> Vec<(String, String)> {
        pairs(&self.body).collect()
    }

    /// The decoded key path.
    pub fn decoded_path(&self) -> String {
        percent_encoding::percent_decode_str(&self.path)
            .decode_utf8()
            .unwrap()
            .into_owned()
    }
}

fn pairs(text: &str) -> impl Iterator<Item = (String, String)> + '_ {
    form_urlencoded::parse(text.as_bytes()).into_owned()
}

/// What the server does with one request.
pub enum Reply {
    /// A complete reply.
    Respond {
        status: u16,
        headers: Vec<(&'static str, String)>,
        body: String,
    },
    /// Read the whole request, then never answer (a frozen member, or a lost reply).
    Hang,
    /// Send a 200 head with `X-Etcd-Index`, then break the connection.
    DropAfterHead { etcd_index: u64 },
    /// Send a 200 head with `X-Etcd-Index`, then no body ever (a watch with no event).
    HeadThenHang { etcd_index: u64 },
}

impl Reply {
    /// A keys-API reply with `X-Etcd-Index` and the raft headers.
    pub fn keys(status: u16, etcd_index: u64, body: &str) -> Reply {
        Reply::Respond {
            status,
            headers: vec![
                ("x-etcd-index", etcd_index.to_string()),
                ("x-raft-index", (etcd_index + 10).to_string()),
                ("x-raft-term", "2".to_owned()),
                ("x-etcd-cluster-id", "cdf818194e3a8c32".to_owned()),
                ("content-type", "application/json".to_owned()),
            ],
            body: body.to_owned(),
        }
    }

    /// A plain JSON or text reply without keys headers.
    pub fn plain(status: u16, body: &str) -> Reply {
        Reply::Respond {
            status,
            headers: vec![],
            body: body.to_owned(),
        }
    }

    /// A successful event on `key` at `index` (a set), as one watch line.
    pub fn event(key: &str, index: u64) -> Reply {
        let body = format!(
            "{{\"action\":\"set\",\"node\":{{\"key\":\"{key}\",\"value\":\"v{index}\",\"modifiedIndex\":{index},\"createdIndex\":{index}}}}}\n"
        );
        Reply::keys(200, index, &body)
    }
}

type Script = dyn Fn(&Recorded, usize) -> Reply + Send + Sync;

struct ServerState {
    script: Box<Script>,
    requests: Mutex<Vec<Recorded>>,
    count: watch::Sender<usize>,
}

/// A running fake server; stopped when dropped.
pub struct FakeServer {
    pub endpoint: String,
    state: Arc<ServerState>,
    task: JoinHandle<()>,
}

impl FakeServer {
    /// Starts a server that answers request number `n` (from 0) with `script(request, n)`.
    /// The listener is bound before this returns, so connections are accepted at once.
    pub async fn start(
        script: impl Fn(&Recorded, usize) -> Reply + Send + Sync + 'static,
    ) -> FakeServer {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let endpoint = format!("http://{}", listener.local_addr().unwrap());
        let state = Arc::new(ServerState {
            script: Box::new(script),
            requests: Mutex::new(Vec::new()),
            count: watch::channel(0).0,
        });
        let router = Router::new()
            .fallback(handle)
            .with_state(Arc::clone(&state));
        let task = tokio::spawn(async move {
            axum::serve(listener, router).await.unwrap();
        });
        FakeServer {
            endpoint,
            state,
            task,
        }
    }

    /// Every request so far.
    pub fn requests(&self) -> Vec<Recorded> {
        self.state.requests.lock().unwrap().clone()
    }

    /// Waits until at least `count` requests arrived, failing the test after 5 s.
    pub async fn wait_for_requests(&self, count: usize) {
        let mut receiver = self.state.count.subscribe();
        let arrived = receiver.wait_for(|seen| *seen >= count);
        tokio::time::timeout(Duration::from_secs(5), arrived)
            .await
            .expect("requests did not arrive in time")
            .unwrap();
    }
}

impl Drop for FakeServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// An endpoint nobody listens on: bind a port, then free it.
pub fn closed_endpoint() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    drop(listener);
    format!("http://{address}")
}

async fn handle(State(state): State<Arc<ServerState>>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let body = axum::body::to_bytes(body, 1 << 20).await.unwrap();
    let recorded = Recorded {
        method: parts.method.to_string(),
        path: parts.uri.path().to_owned(),
        query: parts.uri.query().unwrap_or("").to_owned(),
        body: String::from_utf8_lossy(&body).into_owned(),
        content_type: parts
            .headers
            .get("content-type")
            .map(|value| value.to_str().unwrap().to_owned()),
    };
    let number = {
        let mut requests = state.requests.lock().unwrap();
        requests.push(recorded.clone());
        requests.len() - 1
    };
    state.count.send_replace(number + 1);
    match (state.script)(&recorded, number) {
        Reply::Respond {
            status,
            headers,
            body,
        } => respond(status, &headers, Body::from(body)),
        Reply::Hang => std::future::pending().await,
        Reply::DropAfterHead { etcd_index } => {
            let broken = futures_util::stream::once(async {
                Err::<Bytes, std::io::Error>(std::io::Error::other("connection dropped"))
            });
            respond(
                200,
                &[("x-etcd-index", etcd_index.to_string())],
                Body::from_stream(broken),
            )
        }
        Reply::HeadThenHang { etcd_index } => {
            let silent = futures_util::stream::pending::<Result<Bytes, std::io::Error>>();
            respond(
                200,
                &[("x-etcd-index", etcd_index.to_string())],
                Body::from_stream(silent),
            )
        }
    }
}

fn respond(status: u16, headers: &[(&'static str, String)], body: Body) -> Response {
    let mut response = Response::new(body);
    *response.status_mut() = StatusCode::from_u16(status).unwrap();
    for (name, value) in headers {
        response.headers_mut().insert(
            HeaderName::from_static(name),
            HeaderValue::from_str(value).unwrap(),
        );
    }
    response
}
