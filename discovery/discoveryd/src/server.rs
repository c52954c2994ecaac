//! The listeners: one UDP socket and one TCP listener on the same address, served by
//! hickory's server with the [`Handler`], until the shutdown token is cancelled.
//!
//! Invariants: the sockets are bound by the caller (a test binds port 0), so a bound address
//! is known before the first query; shutdown stops accepting and waits for hickory's tasks.

use crate::handler::Handler;
use std::time::Duration;
use tokio::net::{TcpListener, UdpSocket};
use tokio_util::sync::CancellationToken;

/// A TCP connection that sends no query for this long is closed (hickory's guard against
/// idle connections holding the server's slots).
pub const TCP_IDLE_TIMEOUT: Duration = Duration::from_secs(10);

/// Replies queued per TCP connection.
const TCP_RESPONSE_BUFFER_MAX: usize = 32;

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
    let mut server = hickory_server::Server::new(handler);
    server.register_socket(udp);
    server.register_listener(tcp, TCP_IDLE_TIMEOUT, TCP_RESPONSE_BUFFER_MAX);
    let stopped = server.shutdown_token().clone();
    tokio::select! {
        () = shutdown.cancelled() => {}
        () = stopped.cancelled() => {}
    }
    server.shutdown_gracefully().await
}
