//! Wiring one server: the Keel client, the index feed, the handler and the listeners, all
//! stopped by one shutdown token and joined on one task tracker.
//!
//! Invariants: the listeners are bound before anything else starts, so a bind error is
//! reported at once; no task outlives [`run`].

use crate::config::Settings;
use crate::feed::{self, Records};
use crate::forward::Forwarder;
use crate::handler::{Handler, Recursion};
use kv_client::{Client, ClientConfig};
use std::net::SocketAddr;
use tokio::net::{TcpListener, UdpSocket};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// Why the server could not run.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// A listener could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The failure.
        source: std::io::Error,
    },
    /// The Keel client refused its configuration.
    #[error("the Keel client: {0}")]
    Client(#[from] kv_client::ClientError),
    /// The reflector refused its options.
    #[error("the Keel watch: {0}")]
    Reflector(#[from] kv_client::ConfigError),
    /// The DNS server failed.
    #[error("the DNS server: {0}")]
    Server(#[from] hickory_server::net::NetError),
}

/// Binds UDP and TCP on `addr`.
///
/// # Errors
/// [`RunError::Bind`].
pub async fn bind(addr: SocketAddr) -> Result<(UdpSocket, TcpListener), RunError> {
    let bind_error = |source| RunError::Bind { addr, source };
    let tcp = TcpListener::bind(addr).await.map_err(bind_error)?;
    let bound = tcp.local_addr().map_err(bind_error)?;
    let udp = UdpSocket::bind(bound).await.map_err(bind_error)?;
    Ok((udp, tcp))
}

/// Serves `settings` on the bound sockets until `shutdown`, then stops every task.
///
/// # Errors
/// [`RunError`] when the client or the server fails.
pub async fn run(
    settings: Settings,
    udp: UdpSocket,
    tcp: TcpListener,
    shutdown: CancellationToken,
) -> Result<(), RunError> {
    let client = Client::new(ClientConfig::new(settings.machines.clone()))?;
    let tasks = TaskTracker::new();
    let records = Records::default();
    feed::start(
        &client,
        &settings.zone.prefix,
        records.clone(),
        &tasks,
        shutdown.clone(),
    )?;
    let forwarder = (!settings.no_rec).then(|| Forwarder {
        upstreams: settings.nameservers.clone(),
        timeout: settings.rtimeout,
    });
    let recursion = Recursion {
        forwarder,
        ndots: settings.ndots,
        upstream_ttl: settings.rcache_ttl,
    };
    let handler = Handler::new(
        settings.zone.clone(),
        records,
        recursion,
        settings.round_robin,
    );
    let served = crate::server::serve(udp, tcp, handler, shutdown.clone()).await;
    shutdown.cancel();
    tasks.close();
    tasks.wait().await;
    Ok(served?)
}
