//! Wiring: the variables (update.conf files overlaid, the environment over them) become the
//! settings, and the settings the daemon: state file, bus, updater, rebooter, store, window.

use crate::host::{machine_id, CommandRebooter, Readiness, StateFile};
use crate::run::{Clock, Daemon};
use anyhow::Context as _;
use jiff::tz::TimeZone;
use kv_client::{Client, ClientConfig};
use locksmith_core::config::{parse_env_file, DaemonConfig, Strategy, WindowSetting};
use locksmith_core::plan::Update;
use locksmith_core::ports::{HostError, Rebooter, UpdateEngine as _};
use locksmith_core::window::Schedule;
use locksmith_dbus::{Bus, DbusLogind, DbusUpdateEngine, HostBus};
use locksmith_store::SemaphoreStore;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use tokio_util::sync::CancellationToken;

/// The variables: each existing file's pairs in order, then the process environment.
///
/// # Errors
/// When a file exists and cannot be read.
pub fn variables(files: &[PathBuf]) -> anyhow::Result<BTreeMap<String, String>> {
    let mut vars = BTreeMap::new();
    for file in files {
        match std::fs::read_to_string(file) {
            Ok(text) => vars.extend(parse_env_file(&text)),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
            Err(error) => {
                return Err(error).with_context(|| format!("cannot read {}", file.display()))
            }
        }
    }
    vars.extend(std::env::vars());
    Ok(vars)
}

/// logind, or the configured command.
pub enum AnyRebooter {
    /// logind's `Reboot`.
    Logind(DbusLogind),
    /// `LOCKSMITHD_REBOOT_COMMAND`.
    Command(CommandRebooter),
}

impl Rebooter for AnyRebooter {
    async fn reboot(&self) -> Result<(), HostError> {
        match self {
            AnyRebooter::Logind(logind) => logind.reboot().await,
            AnyRebooter::Command(command) => command.reboot().await,
        }
    }
}

/// The schedule of `config`'s window in its time zone (the host's by default).
fn schedule(config: &DaemonConfig) -> anyhow::Result<Schedule> {
    let zone = match &config.time_zone {
        Some(name) => TimeZone::get(name)
            .with_context(|| format!("LOCKSMITHD_REBOOT_WINDOW_TZ: unknown time zone {name:?}"))?,
        None => TimeZone::system(),
    };
    Ok(match &config.window {
        WindowSetting::Always => Schedule::new(Vec::new(), zone),
        WindowSetting::One(window) => Schedule::new(vec![window.clone()], zone),
        WindowSetting::Schedule(text) => Schedule::parse(text, zone)?,
    })
}

/// The daemon's metrics, served at `addr` (when set) until `shutdown`.
async fn serve_metrics(
    addr: Option<std::net::SocketAddr>,
    shutdown: &CancellationToken,
) -> anyhow::Result<std::sync::Arc<crate::metrics::Metrics>> {
    let metrics = std::sync::Arc::new(crate::metrics::Metrics::default());
    if let Some(addr) = addr {
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .with_context(|| format!("cannot serve metrics on {addr}"))?;
        tracing::info!(%addr, "serving /metrics");
        let served = crate::metrics::serve(listener, metrics.clone(), shutdown.clone());
        tokio::spawn(async move {
            if let Err(error) = served.await {
                tracing::warn!(%error, "the metrics endpoint stopped");
            }
        });
    }
    Ok(metrics)
}

/// Builds the daemon from `config` and runs it until `shutdown`.
///
/// # Errors
/// Any start-up step that fails, or the loop's failure.
pub async fn run(config: DaemonConfig, shutdown: CancellationToken) -> anyhow::Result<()> {
    let schedule = schedule(&config)?;
    let state = StateFile::take(Path::new(&config.state_file), config.strategy)?;
    let bus = match &config.bus {
        None => Bus::System,
        Some(address) => Bus::Address(address.clone()),
    };
    let host_bus = HostBus::connect(&bus)
        .await
        .context("cannot connect to the system bus")?;
    let updater = DbusUpdateEngine::connect(&host_bus, config.any_sender)
        .await
        .context("cannot subscribe to update_engine")?;
    let status = updater
        .status()
        .await
        .context("cannot read update_engine's status")?;
    let rebooter = match &config.reboot_command {
        Some(command) => AnyRebooter::Command(CommandRebooter {
            command: command.clone(),
        }),
        None => AnyRebooter::Logind(
            DbusLogind::connect(&host_bus)
                .await
                .context("cannot reach logind")?,
        ),
    };
    let store = if config.strategy == Strategy::EtcdLock {
        let client = Client::new(ClientConfig::new(config.endpoints.clone()))
            .context("Error initializing etcd client")?;
        Some(SemaphoreStore::new(client, &config.group))
    } else {
        None
    };
    let readiness = match (&config.ready_command, &config.ready_url) {
        (Some(command), _) => Readiness::Command(command.clone()),
        (None, Some(url)) => Readiness::Url(url.clone()),
        (None, None) => Readiness::Always,
    };
    for window in schedule.windows() {
        tracing::info!(%window, "reboot window");
    }
    let metrics = serve_metrics(config.metrics_addr, &shutdown).await?;
    let now = jiff::Timestamp::now();
    tracing::info!(next_window = %schedule.next_open(now), "reboot window opens");
    tracing::info!(
        current_operation = %status.current_operation,
        strategy = config.strategy.name(),
        "locksmithd starting"
    );
    let update: Update = status.update();
    let daemon = Daemon {
        strategy: config.strategy,
        schedule,
        store,
        machine: machine_id()?,
        max_hold: config.max_hold,
        updater,
        rebooter,
        readiness,
        state,
        retry: config.retry,
        clock: Clock::System,
        metrics,
    };
    daemon.run(update, shutdown).await
}
