//! The listeners: one UDP socket and one TCP listener on the same address. UDP is served by
//! [`crate::udp`]'s workers, TCP by hickory's server; both with the same [`Handler`], until
//! the shutdown token is cancelled.
//!
//! Invariants: the sockets are bound by the caller (a test binds port 0), so a bound address
//! is known before the first query; shutdown stops accepting and waits for every task of
//! both listeners.

use crate::handler::Handler;
use hickory_server::net::runtime::Time;
use hickory_server::server::{Request, RequestHandler, ResponseHandler, ResponseInfo};
use std::sync::Arc;
use std::time::Duration;
use tokio::net::{TcpListener, UdpSocket};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// A TCP connection that sends no query for this long is closed (hickory's guard against
/// idle connections holding the server's slots).
pub const TCP_IDLE_TIMEOUT: Duration = Duration::from_secs(10);

/// Replies queued per TCP connection.
const TCP_RESPONSE_BUFFER_MAX: usize = 32;

/// The handler shared with hickory's TCP server.
struct Shared(Arc<Handler>);

#[async_trait::async_trait]
impl RequestHandler for Shared {
    async fn handle_request<R: ResponseHandler, T: Time>(
        &self,
        request: &Request,
        response_handle: R,
    ) -> ResponseInfo {
        self.0
            .handle_request::<R, T>(request, response_handle)
            .await
    }
}

/// Serves DNS on `udp` and `tcp` until `shutdown`.
///
/// # Errors
/// The server's error when one of its tasks failed.
pub async fn serve(
    udp: UdpSocket,
    tcp: TcpListener,
    handler: Handler,
    shutdown: CancellationToken,
) -> Result<(), hickory_server::net::NetError> {
    let handler = Arc::new(handler);
    let udp_tasks = TaskTracker::new();
    let workers = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
    crate::udp::serve(udp, &handler, workers, &udp_tasks, &shutdown)?;
    let mut server = hickory_server::Server::new(Shared(handler));
    server.register_listener(tcp, TCP_IDLE_TIMEOUT, TCP_RESPONSE_BUFFER_MAX);
    let stopped = server.shutdown_token().clone();
    tokio::select! {
        () = shutdown.cancelled() => {}
        () = stopped.cancelled() => {}
    }
    let served = server.shutdown_gracefully().await;
    shutdown.cancel();
    udp_tasks.close();
    udp_tasks.wait().await;
    served
}
