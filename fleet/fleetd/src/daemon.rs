//! The daemon wired together: identity, the store client, systemd, the API listeners, then
//! presence, agent, engine candidate and API server as tracked tasks under one shutdown token.
//!
//! Shutdown (SIGTERM, SIGINT) stops the loops and the API and leaves every unit running and
//! the machine's presence to expire by its TTL, so `systemctl restart fleet` restarts no unit
//! (CoreOS fleet unloaded them all, coreos/fleet#1086). Draining a host is a separate,
//! explicit step (`docs/fleet.md`, "Draining a host").

use crate::agent::{self, presence, AgentSettings};
use crate::api::{self, ApiSettings, LocalInspector, Readiness};
use crate::config::Config;
use crate::engine::{self, EngineSettings};
use fleet_core::model::{MachineId, MachineIdError};
use fleet_registry::wire::MachineObject;
use fleet_registry::{Keys, Registry};
use fleet_systemd::{Bus, DbusSystemd};
use kv_client::{Client, ClientConfig};
use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

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

/// How the daemon is asked to stop.
#[derive(Debug, Clone, Default)]
pub struct Stop {
    /// Stop, leaving every unit running (SIGTERM, SIGINT).
    pub shutdown: CancellationToken,
    /// Drain, then stop (SIGUSR2): withdraw this machine and unload its units first.
    pub drain: CancellationToken,
}

/// What the daemon opened at start.
struct Opened {
    machine: MachineId,
    registry: Registry,
    systemd: DbusSystemd,
    listeners: Vec<api::ApiListener>,
    object: MachineObject,
}

/// Runs fleetd with `config` until `stop` says so.
///
/// # Errors
/// [`DaemonError`] when something it needs at start is missing; after start, failures are
/// logged and retried.
pub async fn run(config: Config, stop: Stop) -> Result<(), DaemonError> {
    let opened = open(&config).await?;
    tracing::info!(machine = %opened.machine, ip = %opened.object.public_ip, "fleetd starting");
    let tasks = TaskTracker::new();
    let shutdown = stop.shutdown.clone();
    let (drain, drain_watch) = (stop.drain.clone(), shutdown.clone());
    tasks.spawn(async move {
        tokio::select! {
            () = drain.cancelled() => drain_watch.cancel(),
            () = drain_watch.cancelled() => {}
        }
    });
    let Opened {
        machine,
        registry,
        systemd,
        listeners,
        object,
    } = opened;
    spawn_services(&config, &registry, object, listeners, &tasks, &shutdown);
    let settings = AgentSettings {
        machine,
        interval: Duration::from_secs(5),
        task_deadline: Duration::from_secs(30),
    };
    let result = agent::run(
        registry.clone(),
        &systemd,
        settings.clone(),
        &tasks,
        shutdown.clone(),
    )
    .await;
    shutdown.cancel();
    tasks.close();
    if tokio::time::timeout(STOP_DEADLINE, tasks.wait())
        .await
        .is_err()
    {
        tracing::warn!(deadline = ?STOP_DEADLINE, "some tasks did not stop in time");
    }
    if stop.drain.is_cancelled() {
        let deadline = settings.task_deadline;
        agent::drain(&registry, &systemd, &settings.machine, deadline).await;
    }
    result.map_err(DaemonError::from)
}

/// Identity, store client, systemd and listeners: everything that must work before start.
async fn open(config: &Config) -> Result<Opened, DaemonError> {
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
    let mut listeners = api::inherited()?;
    listeners.extend(api::bind(&config.api_listen).await?);
    let public_ip = config
        .public_ip
        .clone()
        .or_else(|| detect_public_ip(&config.etcd_servers))
        .unwrap_or_default();
    let api_url = listeners
        .iter()
        .find_map(api::ApiListener::tcp_address)
        .map(|address| api_url(address, &public_ip));
    let object = MachineObject {
        id: machine.clone(),
        public_ip,
        metadata: config.metadata.clone(),
        engine_disabled: config.disable_engine,
        version: env!("CARGO_PKG_VERSION").to_owned(),
        api_url,
    };
    Ok(Opened {
        machine,
        registry,
        systemd,
        listeners,
        object,
    })
}

/// Presence (and the API's readiness with it), the engine candidate and the API server, as
/// tasks of `tasks` that end with `shutdown`.
fn spawn_services(
    config: &Config,
    registry: &Registry,
    object: MachineObject,
    listeners: Vec<api::ApiListener>,
    tasks: &TaskTracker,
    shutdown: &CancellationToken,
) {
    let machine = object.id.clone();
    let readiness = Readiness::new();
    let (registered, mut registered_rx) = watch::channel(false);
    let ttl = config.agent_ttl;
    tasks.spawn(presence::run(
        registry.clone(),
        object,
        ttl,
        registered,
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
    });
    if !config.disable_engine {
        let settings = EngineSettings {
            machine: machine.clone(),
            interval: config.engine_reconcile_interval,
            agent_ttl: config.agent_ttl,
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
    }));
    let api_shutdown = shutdown.clone();
    tasks.spawn(async move {
        if let Err(error) = api::serve(router, listeners, api_shutdown, API_DRAIN).await {
            tracing::error!(%error, "API server failed");
        }
    });
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
    let first = servers.first()?;
    let authority = first.split("://").nth(1)?.split('/').next()?;
    let target: SocketAddr = std::net::ToSocketAddrs::to_socket_addrs(authority)
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
