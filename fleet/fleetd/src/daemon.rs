//! The daemon wired together: the API listeners (opened once), then generations of
//! identity, store client, systemd, presence, agent, engine candidate and the API's state, as
//! tracked tasks under one token per generation. SIGHUP ends a generation and starts the next
//! with the configuration read again, on the same sockets (the API serves the router of the
//! current generation); SIGUSR1 prints the agent's and the engine's state as JSON.
//!
//! Shutdown (SIGTERM, SIGINT) stops the loops and the API and leaves every unit running and
//! the machine's presence to expire by its TTL, so `systemctl restart fleet` restarts no unit
//! (CoreOS fleet unloaded them all, coreos/fleet#1086). Draining a host is a separate,
//! explicit step (`docs/fleet.md`, "Draining a host").

use crate::agent::{self, presence, AgentSettings};
use crate::api::{self, ApiSettings, LocalInspector, Readiness};
use crate::config::Config;
use crate::engine::{self, EngineSettings};
use crate::status::Status;
use axum::extract::Request;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::IntoResponse as _;
use axum::Router;
use fleet_core::model::{MachineId, MachineIdError};
use fleet_registry::wire::MachineObject;
use fleet_registry::{Keys, Registry};
use fleet_systemd::{Bus, DbusSystemd};
use kv_client::{Client, ClientConfig};
use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;
use tokio::sync::{watch, Notify};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tower::ServiceExt as _;

/// Where the machine ID is read from when the configuration does not set one.
pub const MACHINE_ID_FILE: &str = "/etc/machine-id";

/// How long open API requests may finish after shutdown.
const API_DRAIN: Duration = Duration::from_secs(5);

/// How long tasks may take to stop after shutdown.
const STOP_DEADLINE: Duration = Duration::from_secs(10);

/// Why the daemon could not start.
#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    /// The machine ID file.
    #[error("cannot read the machine ID from {path}: {source}")]
    MachineIdFile {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// A machine ID that is not one.
    #[error("invalid machine ID: {0}")]
    MachineId(#[from] MachineIdError),
    /// The store client's configuration.
    #[error("invalid etcd_servers: {0}")]
    Client(#[from] kv_client::ClientError),
    /// systemd.
    #[error("cannot connect to systemd: {0}")]
    Systemd(#[from] fleet_core::ports::SystemdError),
    /// The API listeners.
    #[error("cannot listen for the API: {0}")]
    Listen(#[from] api::ServeError),
    /// The agent.
    #[error(transparent)]
    Agent(#[from] agent::AgentError),
}

/// What the daemon is asked to do, by signal.
#[derive(Debug, Clone, Default)]
pub struct Signals {
    /// Stop, leaving every unit running (SIGTERM, SIGINT).
    pub shutdown: CancellationToken,
    /// Drain, then stop (SIGUSR2): withdraw this machine and unload its units first.
    pub drain: CancellationToken,
    /// Re-read the configuration and restart the loops, keeping the API sockets (SIGHUP).
    pub reload: Arc<Notify>,
    /// Print the agent's and the engine's state as JSON on stdout (SIGUSR1).
    pub dump: Arc<Notify>,
}

/// What one generation of the loops (from start or the last reload) opened.
struct Opened {
    registry: Registry,
    systemd: DbusSystemd,
    object: MachineObject,
}

/// Runs fleetd with `config` until `signals` stop it; on a reload, `reload_config` gives the
/// configuration for the next generation (kept as it was when it fails).
///
/// # Errors
/// [`DaemonError`] when something a generation needs at its start is missing; after that,
/// failures are logged and retried.
pub async fn run(
    mut config: Config,
    reload_config: impl Fn() -> Result<Config, String>,
    signals: Signals,
) -> Result<(), DaemonError> {
    let mut listeners = api::inherited()?;
    let unserved = api::not_inherited(&config.api_listen, &listeners);
    listeners.extend(api::bind(&unserved).await?);
    let tcp: Option<SocketAddr> = listeners.iter().find_map(api::ApiListener::tcp_address);
    let slot = Arc::new(RwLock::new(unavailable_router()));
    let status = Status::default();
    let root = TaskTracker::new();
    let shutdown = signals.shutdown.clone();
    root.spawn(forward_signals(signals.clone(), status.clone()));
    let served = serve_swappable(Arc::clone(&slot), listeners, shutdown.clone());
    root.spawn(served);
    let result = loop {
        let opened = match open(&config, tcp).await {
            Ok(opened) => opened,
            Err(error) => break Err(error),
        };
        let outcome = run_generation(&config, opened, &slot, &status, &signals).await;
        match outcome {
            Ok(true) => {}
            Ok(false) => break Ok(()),
            Err(error) => break Err(error),
        }
        match reload_config() {
            Ok(new) => {
                if new.api_listen != config.api_listen {
                    tracing::warn!("api_listen changed: it applies after a restart, not a reload");
                }
                tracing::info!("configuration reloaded");
                config = new;
            }
            Err(error) => tracing::warn!(%error, "configuration not reloaded; keeping the old one"),
        }
    };
    shutdown.cancel();
    root.close();
    if tokio::time::timeout(STOP_DEADLINE, root.wait())
        .await
        .is_err()
    {
        tracing::warn!(deadline = ?STOP_DEADLINE, "the API did not stop in time");
    }
    result
}

/// One generation: presence, engine, the API's state and the agent, until a reload (`true`)
/// or a stop (`false`; drained first when asked).
async fn run_generation(
    config: &Config,
    opened: Opened,
    slot: &Arc<RwLock<Router>>,
    status: &Status,
    signals: &Signals,
) -> Result<bool, DaemonError> {
    let Opened {
        registry,
        systemd,
        object,
    } = opened;
    tracing::info!(machine = %object.id, ip = %object.public_ip, "fleetd starting");
    let machine = object.id.clone();
    let generation = signals.shutdown.child_token();
    let tasks = TaskTracker::new();
    let reloaded = Arc::new(AtomicBool::new(false));
    tasks.spawn(end_generation(
        signals.clone(),
        generation.clone(),
        Arc::clone(&reloaded),
    ));
    let public_ip = object.public_ip.clone();
    let (router, fresh) = spawn_services(config, &registry, object, status, &tasks, &generation);
    *slot.write().unwrap_or_else(PoisonError::into_inner) = router;
    let settings = AgentSettings {
        machine,
        interval: Duration::from_secs(5),
        task_deadline: Duration::from_secs(30),
        agent_ttl: config.agent_ttl,
        status: status.clone(),
        dns: dns_settings(config, public_ip),
    };
    let result = agent::run(
        registry.clone(),
        &systemd,
        settings.clone(),
        fresh,
        &tasks,
        generation.clone(),
    )
    .await;
    generation.cancel();
    tasks.close();
    if tokio::time::timeout(STOP_DEADLINE, tasks.wait())
        .await
        .is_err()
    {
        tracing::warn!(deadline = ?STOP_DEADLINE, "some tasks did not stop in time");
    }
    result?;
    if signals.drain.is_cancelled() {
        let deadline = settings.task_deadline;
        agent::drain(&registry, &systemd, &settings.machine, deadline).await;
    }
    Ok(reloaded.load(Ordering::Acquire) && !signals.shutdown.is_cancelled())
}

/// Ends a generation on SIGHUP (marking it reloaded), on drain, or with the daemon.
async fn end_generation(
    signals: Signals,
    generation: CancellationToken,
    reloaded: Arc<AtomicBool>,
) {
    tokio::select! {
        () = signals.reload.notified() => {
            reloaded.store(true, Ordering::Release);
            generation.cancel();
        }
        () = signals.drain.cancelled() => generation.cancel(),
        () = generation.cancelled() => {}
    }
}

/// Prints the status on SIGUSR1, until the daemon stops.
async fn forward_signals(signals: Signals, status: Status) {
    loop {
        tokio::select! {
            () = signals.shutdown.cancelled() => break,
            () = signals.dump.notified() => println!("{}", status.to_json()),
        }
    }
}

/// What the API answers before the first generation's router is in place: 503, as fleet
/// answers until the machine is registered.
fn unavailable_router() -> Router {
    Router::new().fallback(|| async {
        let mut response =
            api::ApiError::new(StatusCode::SERVICE_UNAVAILABLE, api::UNAVAILABLE_MESSAGE)
                .into_response();
        response
            .headers_mut()
            .insert(header::SERVER, HeaderValue::from_static(api::SERVER_HEADER));
        response
    })
}

/// Serves the router in `slot` (replaced at each reload) on `listeners` until `shutdown`.
async fn serve_swappable(
    slot: Arc<RwLock<Router>>,
    listeners: Vec<api::ApiListener>,
    shutdown: CancellationToken,
) {
    let outer = Router::new().fallback(move |request: Request| {
        let router = slot.read().unwrap_or_else(PoisonError::into_inner).clone();
        async move {
            match router.oneshot(request).await {
                Ok(response) => response,
                Err(never) => match never {},
            }
        }
    });
    if let Err(error) = api::serve(outer, listeners, shutdown, API_DRAIN).await {
        tracing::error!(%error, "API server failed");
    }
}

/// Identity, store client and systemd: everything that must work before a generation starts.
async fn open(config: &Config, tcp: Option<SocketAddr>) -> Result<Opened, DaemonError> {
    let machine = machine_id(config)?;
    let mut client_config = ClientConfig::new(config.etcd_servers.clone());
    client_config.request_timeout = config.etcd_request_timeout;
    client_config.watch_poll_timeout = watch_poll_timeout(config.agent_ttl);
    let keys = Keys::new(&config.etcd_key_prefix);
    let registry = Registry::new(Client::new(client_config)?, keys);
    let bus = if config.systemd_user {
        Bus::Address(session_bus_address())
    } else {
        Bus::System
    };
    let systemd = DbusSystemd::connect(&bus, config.units_directory.clone()).await?;
    let public_ip = config
        .public_ip
        .clone()
        .or_else(|| detect_public_ip(&config.etcd_servers))
        .unwrap_or_default();
    let object = MachineObject {
        id: machine,
        api_url: tcp.map(|address| api_url(address, &public_ip)),
        public_ip,
        metadata: config.metadata.clone(),
        engine_disabled: config.disable_engine,
        version: env!("CARGO_PKG_VERSION").to_owned(),
        capacity: Some(crate::host::capacity(config)),
        cordoned: false,
    };
    Ok(Opened {
        registry,
        systemd,
        object,
    })
}

/// Presence (and the API's readiness with it) and the engine candidate, as tasks of `tasks`
/// that end with `shutdown`; returns the API's router for this generation and when each
/// successful presence write was sent.
fn spawn_services(
    config: &Config,
    registry: &Registry,
    object: MachineObject,
    status: &Status,
    tasks: &TaskTracker,
    shutdown: &CancellationToken,
) -> (Router, watch::Receiver<Option<tokio::time::Instant>>) {
    let machine = object.id.clone();
    let readiness = Readiness::new();
    let (registered, mut registered_rx) = watch::channel(false);
    let (fresh, fresh_rx) = watch::channel(None);
    let ttl = config.agent_ttl;
    tasks.spawn(presence::run(
        registry.clone(),
        object,
        ttl,
        registered,
        fresh,
        shutdown.clone(),
    ));
    let (ready, ready_until) = (readiness.clone(), shutdown.clone());
    tasks.spawn(async move {
        loop {
            ready.set(*registered_rx.borrow_and_update());
            tokio::select! {
                () = ready_until.cancelled() => break,
                changed = registered_rx.changed() => if changed.is_err() { break },
            }
        }
        ready.set(false);
    });
    if !config.disable_engine {
        let settings = EngineSettings {
            machine: machine.clone(),
            interval: config.engine_reconcile_interval,
            agent_ttl: config.agent_ttl,
            reschedule_grace: config.engine_reschedule_grace,
            rebalance_moves: config.engine_rebalance_moves,
            rebalance_interval: config.engine_rebalance_interval,
            status: status.clone(),
        };
        let engine = engine::run(registry.clone(), settings, tasks.clone(), shutdown.clone());
        tasks.spawn(engine);
    }
    let router = api::router(api::ApiState::new(ApiSettings {
        registry: registry.clone(),
        token_limit: config.token_limit,
        machine,
        readiness,
        inspector: Arc::new(LocalInspector::new(config.systemd_user)),
        status: status.clone(),
    }));
    (router, fresh_rx)
}

/// How long an idle watch waits before it polls again: a quarter of the agent TTL, between
/// 1 s and 10 s. A watch whose member was cut off from this host is only noticed when its
/// poll ends, so this bounds how long an agent or the engine follows a frozen cache, well
/// within the time the engine gives a silent machine; the price is one idle request per
/// watch per interval.
fn watch_poll_timeout(agent_ttl: Duration) -> Duration {
    (agent_ttl / 4).clamp(Duration::from_secs(1), Duration::from_secs(10))
}

fn machine_id(config: &Config) -> Result<MachineId, DaemonError> {
    if let Some(id) = &config.machine_id {
        return Ok(id.clone());
    }
    let text =
        std::fs::read_to_string(MACHINE_ID_FILE).map_err(|source| DaemonError::MachineIdFile {
            path: MACHINE_ID_FILE.to_owned(),
            source,
        })?;
    Ok(MachineId::parse(text.trim())?)
}

/// The session bus of the user manager (`systemd_user`): `$DBUS_SESSION_BUS_ADDRESS`, else
/// the socket under `$XDG_RUNTIME_DIR`.
fn session_bus_address() -> String {
    if let Ok(address) = std::env::var("DBUS_SESSION_BUS_ADDRESS") {
        return address;
    }
    let runtime = std::env::var("XDG_RUNTIME_DIR").unwrap_or_else(|_| "/run/user/0".to_owned());
    format!("unix:path={runtime}/bus")
}

/// The local address this host uses to reach the first store endpoint: the address the rest
/// of the cluster sees it by. Connecting a UDP socket sends nothing. `None` for loopback.
fn detect_public_ip(servers: &[String]) -> Option<String> {
    let first = kv_client::Endpoint::parse(servers.first()?).ok()?;
    let target: SocketAddr = std::net::ToSocketAddrs::to_socket_addrs(first.authority())
        .ok()?
        .next()?;
    let bind = if target.is_ipv4() {
        "0.0.0.0:0"
    } else {
        "[::]:0"
    };
    let socket = UdpSocket::bind(bind).ok()?;
    socket.connect(target).ok()?;
    let local = socket.local_addr().ok()?.ip();
    (!local.is_loopback() && !local.is_unspecified()).then(|| local.to_string())
}

/// The URL other fleetds reach this one's API by.
fn api_url(address: SocketAddr, public_ip: &str) -> String {
    let host = match address.ip() {
        ip if ip.is_unspecified() && !public_ip.is_empty() => public_ip.to_owned(),
        IpAddr::V6(ip) => format!("[{ip}]"),
        ip => ip.to_string(),
    };
    format!("http://{host}:{}", address.port())
}

/// Where this machine's units are published in DNS: the configured zone, with the public IP
/// as the records' address; `None` (with a warning) when there is no zone or no address.
fn dns_settings(config: &Config, public_ip: String) -> Option<agent::dns::DnsSettings> {
    let zone = config.dns_zone.clone()?;
    if public_ip.parse::<std::net::IpAddr>().is_err() {
        tracing::warn!(%public_ip, "no public IP: units are not published in DNS (set public_ip)");
        return None;
    }
    Some(agent::dns::DnsSettings {
        zone,
        host: public_ip,
    })
}
