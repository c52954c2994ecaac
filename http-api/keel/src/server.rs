//! Wiring a member together: storage, raft thread, peer transport, client API; and shutdown.

use crate::bootstrap;
use crate::config::{host_port, Config};
use anyhow::Context;
use axum::serve::ListenerExt;
use kv_http::{peer, Api, ApiConfig};
use kvstore::core::NodeConfig;
use kvstore::NodeId;
use std::collections::HashMap;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// How long in-flight requests may finish after a shutdown signal.
const SHUTDOWN_DRAIN: Duration = Duration::from_secs(5);
/// etcd's request timeout is 5 s plus twice the election timeout.
const REQUEST_TIMEOUT_BASE: Duration = Duration::from_secs(5);
/// etcd proposes its TTL sweep (SYNC) every 500 ms.
const EXPIRE_INTERVAL: Duration = Duration::from_millis(500);

/// Run the member until SIGINT or SIGTERM.
///
/// # Errors
/// Any startup step that fails, with its context.
pub async fn run(config: Config) -> anyhow::Result<()> {
    let opened = bootstrap::open(&config)?;
    let (id, cluster_id) = (opened.node_id(), opened.cluster_id());
    tracing::info!(name = %config.name, id = %id, cluster = %cluster_id, data_dir = %config.data_dir.display(), "starting member");
    let (peers, addresses) = known_peers(&opened)?;
    let client_listeners = bind_all(&config.listen_client, "client").await?;
    let peer_listeners = bind_all(&config.listen_peer, "peer").await?;
    let (transport, queues, peer_stats) = peer::transport(&peers);
    let request_timeout = REQUEST_TIMEOUT_BASE
        + 2 * config.tick_interval * u32::try_from(config.election_ticks).unwrap_or(u32::MAX);
    let durations = std::sync::Arc::new(kv_http::metrics::RaftDurations::default());
    let (node, raft_thread) = spawn_raft(
        &config,
        opened,
        transport,
        request_timeout,
        durations.clone(),
    )?;

    let tracker = TaskTracker::new();
    let shutdown = CancellationToken::new();
    let sender_config = peer::SenderConfig {
        from: id,
        cluster_id,
        addresses,
    };
    peer::run_senders(
        queues,
        &sender_config,
        &node,
        &peer_stats,
        &tracker,
        &shutdown,
    );
    for listener in peer_listeners {
        tracker.spawn(peer::serve_peers(
            listener,
            node.clone(),
            cluster_id,
            tracker.clone(),
            shutdown.clone(),
        ));
    }
    let api_config = ApiConfig {
        name: config.name.clone(),
        cluster_id,
        max_request_bytes: config.max_request_bytes,
        request_timeout,
        start_time: kvstore::thread::wall_now(),
    };
    let router = kv_http::client_router(Api::new(node.clone(), api_config, peer_stats, &durations));
    serve_clients(client_listeners, &router, &tracker, &shutdown);
    tracing::info!(urls = %config.advertise_client_urls.join(","), "ready to serve client requests");
    tracker.spawn(crate::notify::ready_once_led(
        node.clone(),
        shutdown.clone(),
    ));
    let removed = tokio::select! {
        () = wait_for_signal() => false,
        () = wait_removed(&node) => true,
    };
    stop(&node, raft_thread, &tracker, &shutdown, removed).await
}

/// Stops the member: tells systemd, hands leadership over, stops serving (waiting up to
/// [`SHUTDOWN_DRAIN`] for requests in flight), then the raft loop.
///
/// # Errors
/// The raft loop could not be stopped, or the member was `removed` from the cluster.
async fn stop(
    node: &kvstore::NodeHandle,
    raft_thread: kvstore::thread::RaftThread,
    tracker: &TaskTracker,
    shutdown: &CancellationToken,
    removed: bool,
) -> anyhow::Result<()> {
    if removed {
        tracing::error!("this member was removed from the cluster; stopping");
    }
    tracing::info!("shutting down");
    crate::notify::stopping();
    hand_over(node).await;
    shutdown.cancel();
    tracker.close();
    if tokio::time::timeout(SHUTDOWN_DRAIN, tracker.wait())
        .await
        .is_err()
    {
        tracing::warn!("some requests did not finish before the shutdown deadline");
    }
    tokio::task::spawn_blocking(move || raft_thread.stop())
        .await
        .context("stopping the raft loop")?;
    if removed {
        anyhow::bail!(
            "this member ({}) was removed from the cluster and stopped; its data directory cannot \
             rejoin: remove the directory and add the machine back as a new member",
            node.id()
        );
    }
    Ok(())
}

/// Starts the raft loop on the opened storage and state.
///
/// # Errors
/// The raft loop did not start.
fn spawn_raft(
    config: &Config,
    opened: bootstrap::Opened,
    transport: peer::PeerTransport,
    request_timeout: Duration,
    observer: std::sync::Arc<dyn kvstore::Observer>,
) -> anyhow::Result<(kvstore::NodeHandle, kvstore::thread::RaftThread)> {
    let node_config = node_config(config, opened.node_id(), request_timeout);
    kvstore::thread::spawn(
        node_config,
        config.tick_interval,
        opened.storage,
        transport,
        opened.state,
        opened.applied,
        Some(observer),
    )
    .context("starting the raft loop")
}

/// The raft loop's settings from the flags, its durations in ticks.
fn node_config(config: &Config, id: NodeId, request_timeout: Duration) -> NodeConfig {
    let ticks = |duration: Duration| {
        (duration.as_millis() / config.tick_interval.as_millis().max(1)).max(1) as u64
    };
    NodeConfig {
        id,
        name: config.name.clone(),
        client_urls: config.advertise_client_urls.clone(),
        election_ticks: config.election_ticks,
        election_ticks_max: 2 * config.election_ticks,
        heartbeat_ticks: 1,
        request_timeout_ticks: ticks(request_timeout),
        expire_interval_ticks: ticks(EXPIRE_INTERVAL),
        retry_ticks: ticks(Duration::from_secs(1)),
        snapshot_entries: config.snapshot_count,
        catch_up_entries: config.snapshot_catch_up_entries,
        first_seq: 0,
    }
}

/// Serves the client API on every listener until `shutdown`.
fn serve_clients(
    listeners: Vec<tokio::net::TcpListener>,
    router: &axum::Router,
    tracker: &TaskTracker,
    shutdown: &CancellationToken,
) {
    for listener in listeners {
        let router = router.clone();
        let shutdown = shutdown.clone();
        tracker.spawn(async move {
            // Small replies and watch events go out at once, as Go's net package does for
            // etcd: without TCP_NODELAY a watch event waits for the client's delayed ACK.
            let listener = listener.tap_io(|stream| {
                if let Err(error) = stream.set_nodelay(true) {
                    tracing::debug!(%error, "cannot set TCP_NODELAY on a client connection");
                }
            });
            let served = axum::serve(listener, router)
                .with_graceful_shutdown(async move { shutdown.cancelled().await })
                .await;
            if let Err(error) = served {
                tracing::error!(%error, "client listener failed");
            }
        });
    }
}

/// A leader hands over first, while it still serves, so the cluster needs no election
/// timeout to go on (a rolling restart costs one quick leader change per member). A member
/// alone has nobody to hand over to.
async fn hand_over(node: &kvstore::NodeHandle) {
    let others = node.state().members.len() > 1;
    if others && node.progress().role() == kvstore::Role::Leader {
        match node.transfer_leadership().await {
            Some(leader) => {
                tracing::info!(leader = %leader, "handed leadership over before stopping")
            }
            None => tracing::warn!(
                "could not hand leadership over; the cluster will elect a new leader"
            ),
        }
    }
}

/// Resolves once this member knows it was removed from the cluster.
async fn wait_removed(node: &kvstore::NodeHandle) {
    let mut interval = tokio::time::interval(Duration::from_millis(100));
    loop {
        interval.tick().await;
        if node.progress().removed() {
            return;
        }
    }
}

/// The other members as the recovered state knows them (members added since the cluster
/// began are in its snapshot; those added by entries replayed later join the transport on
/// apply), and every member's peer address.
///
/// # Errors
/// A member without a usable peer URL.
fn known_peers(
    opened: &bootstrap::Opened,
) -> anyhow::Result<(Vec<NodeId>, HashMap<NodeId, String>)> {
    let id = opened.node_id();
    let known: Vec<(u64, Vec<String>)> = opened
        .state
        .members
        .iter()
        .map(|m| (m.id.0, m.peer_urls.clone()))
        .collect();
    let peers = known
        .iter()
        .map(|(p, _)| NodeId(*p))
        .filter(|p| *p != id)
        .collect();
    Ok((peers, peer_addresses(&known)?))
}

fn peer_addresses(members: &[(u64, Vec<String>)]) -> anyhow::Result<HashMap<NodeId, String>> {
    let mut addresses = HashMap::new();
    for (id, urls) in members {
        let url = urls.first().context("a member without peer URLs")?;
        addresses.insert(NodeId(*id), host_port(url)?);
    }
    Ok(addresses)
}

async fn bind_all(
    addresses: &[std::net::SocketAddr],
    what: &str,
) -> anyhow::Result<Vec<TcpListener>> {
    let mut listeners = Vec::new();
    for address in addresses {
        let listener = TcpListener::bind(address)
            .await
            .with_context(|| format!("cannot listen for {what} traffic on {address}"))?;
        listeners.push(listener);
    }
    Ok(listeners)
}

async fn wait_for_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let Ok(mut terminate) = signal(SignalKind::terminate()) else {
        let _ = tokio::signal::ctrl_c().await;
        return;
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = terminate.recv() => {}
    }
}
