//! Serving the API: binding the configured addresses (`api_listen`: unix sockets and TCP),
//! adopting sockets systemd passed in (socket activation, `LISTEN_FDS`, through `listenfd`
//! because the workspace forbids the `unsafe` that adopting a descriptor takes), and running
//! the router on all of them until shutdown.
//!
//! Invariants: a unix socket's stale file is removed before binding (fleet does the same), but
//! nothing that is not a socket is ever removed; shutdown stops accepting at once on every
//! listener, lets open requests finish for at most the drain deadline (a followed journal
//! never finishes by itself), then drops what is left, which kills the commands behind it.
//! Every connection is a task in its listener's `JoinSet`, and [`serve`] returns only after
//! each has ended or been aborted: nothing it started outlives it.

use crate::api::limits::API_CONNECTIONS_MAX;
use crate::config::ListenAddress;
use axum::serve::Listener;
use axum::Router;
use futures_util::future::{self, FutureExt};
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use listenfd::ListenFd;
use std::io;
use std::net::SocketAddr;
use std::os::unix::fs::FileTypeExt;
use std::path::{Path, PathBuf};
use std::time::Duration;
use tokio::net::{TcpListener, UnixListener};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

/// A listener the API is served on.
#[derive(Debug)]
pub enum ApiListener {
    /// A TCP listener.
    Tcp(TcpListener),
    /// A unix stream socket; the path when known.
    Unix(UnixListener, Option<PathBuf>),
}

/// Why the API could not be served.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// An address could not be bound.
    #[error("cannot listen on {address}: {source}")]
    Bind {
        /// The address.
        address: String,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// A unix socket's path holds something that is not a socket.
    #[error("cannot listen on {}: it exists and is not a socket", path.display())]
    NotASocket {
        /// The path.
        path: PathBuf,
    },
    /// A socket passed in by systemd could not be adopted.
    #[error("cannot adopt socket {index} passed by systemd: {source}")]
    Inherited {
        /// Its position among the passed sockets.
        index: usize,
        /// Why.
        #[source]
        source: io::Error,
    },
}

impl ApiListener {
    /// The local TCP address (what another host connects to), or `None` for a unix socket.
    #[must_use]
    pub fn tcp_address(&self) -> Option<SocketAddr> {
        match self {
            ApiListener::Tcp(listener) => listener.local_addr().ok(),
            ApiListener::Unix(..) => None,
        }
    }

    /// How logs name it.
    #[must_use]
    pub fn describe(&self) -> String {
        match self {
            ApiListener::Tcp(listener) => match listener.local_addr() {
                Ok(address) => format!("http://{address}"),
                Err(_) => "a TCP socket".to_owned(),
            },
            ApiListener::Unix(_, Some(path)) => format!("unix://{}", path.display()),
            ApiListener::Unix(_, None) => "a unix socket".to_owned(),
        }
    }
}

/// Removes a stale socket file at `path` and creates its directory.
fn prepare_socket_path(path: &Path) -> Result<(), ServeError> {
    let bind_error = |source| ServeError::Bind {
        address: format!("unix://{}", path.display()),
        source,
    };
    match std::fs::symlink_metadata(path) {
        Ok(metadata) if metadata.file_type().is_socket() => {
            std::fs::remove_file(path).map_err(bind_error)?;
        }
        Ok(_) => {
            return Err(ServeError::NotASocket {
                path: path.to_owned(),
            })
        }
        Err(error) if error.kind() == io::ErrorKind::NotFound => {}
        Err(error) => return Err(bind_error(error)),
    }
    if let Some(parent) = path
        .parent()
        .filter(|parent| !parent.as_os_str().is_empty())
    {
        std::fs::create_dir_all(parent).map_err(bind_error)?;
    }
    Ok(())
}

/// Binds every configured address, in order.
///
/// # Errors
/// [`ServeError`] for the first address that cannot be bound.
pub async fn bind(addresses: &[ListenAddress]) -> Result<Vec<ApiListener>, ServeError> {
    let mut listeners = Vec::with_capacity(addresses.len());
    for address in addresses {
        let listener = match address {
            ListenAddress::Unix(path) => {
                prepare_socket_path(path)?;
                let listener = UnixListener::bind(path).map_err(|source| ServeError::Bind {
                    address: format!("unix://{}", path.display()),
                    source,
                })?;
                ApiListener::Unix(listener, Some(path.clone()))
            }
            ListenAddress::Tcp(authority) => {
                let listener =
                    TcpListener::bind(authority)
                        .await
                        .map_err(|source| ServeError::Bind {
                            address: format!("http://{authority}"),
                            source,
                        })?;
                ApiListener::Tcp(listener)
            }
        };
        tracing::info!(listener = %listener.describe(), "API listening");
        listeners.push(listener);
    }
    Ok(listeners)
}

/// The sockets systemd passed in (TCP or unix stream), in order; none without socket
/// activation.
///
/// # Errors
/// [`ServeError::Inherited`] for a passed descriptor that is neither.
pub fn inherited() -> Result<Vec<ApiListener>, ServeError> {
    let mut passed = ListenFd::from_env();
    let mut listeners = Vec::with_capacity(passed.len());
    for index in 0..passed.len() {
        let adopt = |source| ServeError::Inherited { index, source };
        let listener = if let Ok(Some(tcp)) = passed.take_tcp_listener(index) {
            tcp.set_nonblocking(true).map_err(adopt)?;
            ApiListener::Tcp(TcpListener::from_std(tcp).map_err(adopt)?)
        } else {
            let unix = passed
                .take_unix_listener(index)
                .map_err(adopt)?
                .ok_or_else(|| adopt(io::Error::other("descriptor already taken")))?;
            unix.set_nonblocking(true).map_err(adopt)?;
            let path = unix
                .local_addr()
                .ok()
                .and_then(|address| address.as_pathname().map(Path::to_owned));
            ApiListener::Unix(UnixListener::from_std(unix).map_err(adopt)?, path)
        };
        tracing::info!(listener = %listener.describe(), "API listening on a socket from systemd");
        listeners.push(listener);
    }
    Ok(listeners)
}

/// The configured addresses that no socket from systemd already serves: a unix path is
/// skipped when it names the same file as an inherited socket (`/var/run/fleet.sock` and
/// `fleet.socket`'s `/run/fleet.sock` through the `/var/run` link), since binding it would
/// replace the socket systemd listens on.
pub fn not_inherited(addresses: &[ListenAddress], inherited: &[ApiListener]) -> Vec<ListenAddress> {
    let inherited_paths: Vec<PathBuf> = inherited
        .iter()
        .filter_map(|listener| match listener {
            ApiListener::Unix(_, Some(path)) => Some(same_file_name(path)),
            _ => None,
        })
        .collect();
    addresses
        .iter()
        .filter(|address| match address {
            ListenAddress::Unix(path) => !inherited_paths.contains(&same_file_name(path)),
            ListenAddress::Tcp(_) => true,
        })
        .cloned()
        .collect()
}

/// `path` with its links resolved when it exists, else as given.
fn same_file_name(path: &Path) -> PathBuf {
    std::fs::canonicalize(path).unwrap_or_else(|_| path.to_owned())
}

/// Serves `router` on one listener: accepts until `shutdown`, each connection driven in a
/// tracked task (at most [`API_CONNECTIONS_MAX`] at once); then asks every connection to close
/// after its current response, waits up to `drain_timeout`, and aborts those still open.
async fn serve_one<L>(
    mut listener: L,
    name: String,
    router: Router,
    shutdown: CancellationToken,
    drain_timeout: Duration,
) where
    L: Listener,
{
    let mut connections = JoinSet::new();
    loop {
        let room = connections.len() < API_CONNECTIONS_MAX;
        tokio::select! {
            () = shutdown.cancelled() => break,
            (io, _) = listener.accept(), if room => {
                connections.spawn(serve_connection(io, router.clone(), shutdown.clone()));
            }
            Some(ended) = connections.join_next(), if !connections.is_empty() => {
                if let Err(error) = ended {
                    tracing::warn!(%error, "an API connection task failed");
                }
            }
        }
    }
    drop(listener);
    let drained = tokio::time::timeout(drain_timeout, async {
        while connections.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        tracing::warn!(
            listener = %name,
            open = connections.len(),
            ?drain_timeout,
            "closing API connections still open after the drain deadline"
        );
        connections.shutdown().await;
    }
}

/// One HTTP/1 connection, closed gracefully (after the response in flight) on shutdown.
async fn serve_connection<I>(io: I, router: Router, shutdown: CancellationToken)
where
    I: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let service = TowerToHyperService::new(router);
    let mut builder = http1::Builder::new();
    builder.timer(TokioTimer::new());
    let connection = builder.serve_connection(TokioIo::new(io), service);
    tokio::pin!(connection);
    let result = tokio::select! {
        result = connection.as_mut() => result,
        () = shutdown.cancelled() => {
            connection.as_mut().graceful_shutdown();
            connection.await
        }
    };
    if let Err(error) = result {
        tracing::debug!(%error, "API connection ended with an error");
    }
}

/// Serves `router` on every listener until `shutdown` fires, then drains open requests for at
/// most `drain_timeout` and closes what is left.
///
/// # Errors
/// None so far: a failed accept is retried by the listener (axum's rule: a pause, then on),
/// and a failed connection ends only itself. The `Result` leaves room for listener failures
/// that should stop the daemon.
pub async fn serve(
    router: Router,
    listeners: Vec<ApiListener>,
    shutdown: CancellationToken,
    drain_timeout: Duration,
) -> Result<(), ServeError> {
    let servers = listeners.into_iter().map(|listener| {
        let name = listener.describe();
        let (router, shutdown) = (router.clone(), shutdown.clone());
        match listener {
            ApiListener::Tcp(listener) => {
                serve_one(listener, name, router, shutdown, drain_timeout).boxed()
            }
            ApiListener::Unix(listener, _) => {
                serve_one(listener, name, router, shutdown, drain_timeout).boxed()
            }
        }
    });
    future::join_all(servers).await;
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    // Goal: a configured unix path that names the socket systemd passed in, directly or
    // through a link (as /var/run is to /run), is not bound again, so fleetd never replaces
    // fleet.socket's socket; other addresses are still bound.
    // Method: an inherited-like listener on dir/run/fleet.sock, a link dir/var-run -> run,
    // and three configured addresses.
    #[tokio::test]
    async fn paths_systemd_serves_are_not_bound_again() {
        let dir = tempfile::tempdir().unwrap();
        let run = dir.path().join("run");
        std::fs::create_dir(&run).unwrap();
        std::os::unix::fs::symlink(&run, dir.path().join("var-run")).unwrap();
        let path = run.join("fleet.sock");
        let listener = UnixListener::bind(&path).unwrap();
        let inherited = [ApiListener::Unix(listener, Some(path.clone()))];
        let configured = [
            ListenAddress::Unix(dir.path().join("var-run/fleet.sock")),
            ListenAddress::Unix(run.join("other.sock")),
            ListenAddress::Tcp("127.0.0.1:49153".into()),
        ];
        let left = not_inherited(&configured, &inherited);
        assert_eq!(left, configured[1..].to_vec());
    }
}
