//! Watches (`GET ?wait=true`): register with the store's hub, send headers at once, then stream
//! events as they are applied.

use crate::error::ApiError;
use crate::keys::handler::json_response;
use crate::keys::render;
use crate::Api;
use axum::body::{Body, Bytes};
use axum::http::StatusCode;
use axum::response::Response;
use kvstore::NodeHandle;
use std::convert::Infallible;
use std::sync::Arc;
use tokio::sync::mpsc;
use v2store::{Event, WatchRequest, WatchSink, WatchStart, WatcherId};

/// Events buffered per watcher before it is evicted (etcd keeps 100, then drops the watcher);
/// the client then re-watches from its last index.
const WATCH_BUFFER_MAX: usize = 100;

/// The hub's side of a watcher: a bounded channel that never blocks apply.
struct ChannelSink(mpsc::Sender<Arc<Event>>);

impl WatchSink for ChannelSink {
    fn deliver(&self, event: Arc<Event>) -> bool {
        self.0.try_send(event).is_ok()
    }
}

/// Removes the watcher from the hub when the response body is dropped (client gone, or done).
struct Registration {
    node: NodeHandle,
    id: WatcherId,
}

impl Drop for Registration {
    fn drop(&mut self) {
        self.node.state().store.unwatch(self.id);
    }
}

/// Start a watch and answer with a streaming body.
pub(crate) fn watch(api: &Api, request: WatchRequest) -> Result<Response, ApiError> {
    let (sender, receiver) = mpsc::channel(WATCH_BUFFER_MAX);
    let stream = request.stream;
    let start = api
        .node
        .state()
        .store
        .watch(&request, Box::new(ChannelSink(sender)))?;
    let progress = api.node.progress();
    let (raft_index, raft_term) = (progress.commit(), progress.term());
    let (index, body) = match start {
        WatchStart::Done { event, index } => {
            // Streamed like a live event, so it goes out chunked as etcd's does: etcd flushes
            // a watch's headers before it looks for an event, history replay included.
            let line = Bytes::from(render::watch_line(&event));
            let once = futures_util::stream::once(async move { Ok::<_, Infallible>(line) });
            (index, Body::from_stream(once))
        }
        WatchStart::Registered { id, index } => {
            let registration = Registration {
                node: api.node.clone(),
                id,
            };
            (
                index,
                Body::from_stream(events(receiver, registration, stream)),
            )
        }
    };
    let mut response = json_response(StatusCode::OK, index, raft_index, raft_term, Vec::new());
    *response.body_mut() = body;
    Ok(response)
}

/// The body: one line per event; a non-stream watch ends after its first event. The stream ends
/// when the hub drops the watcher (evicted), which tells the client to re-watch.
fn events(
    receiver: mpsc::Receiver<Arc<Event>>,
    registration: Registration,
    stream: bool,
) -> impl futures_util::Stream<Item = Result<Bytes, Infallible>> {
    futures_util::stream::unfold(
        (receiver, Some(registration), false),
        move |(mut receiver, registration, finished)| async move {
            if finished {
                return None;
            }
            let event = receiver.recv().await?;
            let line = Bytes::from(render::watch_line(&event));
            Some((Ok(line), (receiver, registration, !stream)))
        },
    )
}
