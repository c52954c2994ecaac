//! Wiring one server: the Keel client, the index feed, the handler and the listeners, all
//! stopped by one shutdown token and joined on one task tracker; and the reload: the stored
//! document at `/<prefix>/config` put over the flags each time it changes.
//!
//! Invariants: the listeners are bound before anything else starts, so a bind error is
//! reported at once; a stored document that cannot be used changes nothing; no task outlives
//! [`run`].

use crate::cache::ResponseCache;
use crate::config::{Args, MetricsSettings, Settings, SettingsError};
use crate::dnssec::Signer;
use crate::feed::{self, OnConfig, Records};
use crate::forward::Forwarder;
use crate::handler::{Handler, Live, LiveHandle, Recursion};
use crate::metrics::Metrics;
use discovery_core::config::StoredConfig;
use kv_client::{Client, ClientConfig};
use std::net::SocketAddr;
use std::sync::Arc;
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
    /// The flags cannot be used.
    #[error(transparent)]
    Settings(#[from] SettingsError),
    /// The DNS server failed.
    #[error("the DNS server: {0}")]
    Server(#[from] hickory_server::net::NetError),
    /// The DNSSEC key pair cannot be used.
    #[error("-dnssec: {0}")]
    Dnssec(#[from] crate::dnssec::DnssecError),
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

/// The flags and the resolver list the settings are made from, again at every reload.
#[derive(Debug, Clone)]
pub struct Base {
    /// The flags (and environment).
    pub args: Args,
    /// `/etc/resolv.conf`'s text, for the default upstreams.
    pub resolv_conf: String,
}

/// The live part of `settings`, with the DNSSEC key pair read when one is named.
///
/// # Errors
/// [`RunError::Dnssec`] when the key pair cannot be used.
pub fn live(settings: &Settings) -> Result<Live, RunError> {
    let forwarder = (!settings.no_rec).then(|| Forwarder {
        upstreams: settings.nameservers.clone(),
        timeout: settings.rtimeout,
        rotate: settings.ns_rotate,
    });
    let signer = match &settings.dnssec {
        Some(base) => Some(Arc::new(Signer::load(
            base,
            &settings.zone,
            settings.scache,
        )?)),
        None => None,
    };
    Ok(Live {
        zone: settings.zone.clone(),
        recursion: Recursion {
            forwarder,
            ndots: settings.ndots,
            upstream_ttl: settings.rcache_ttl,
        },
        round_robin: settings.round_robin,
        stub_zones: settings.stubzones.then_some(settings.rtimeout),
        cache: (settings.rcache > 0 && !settings.no_rec)
            .then(|| Arc::new(ResponseCache::new(settings.rcache, settings.rcache_ttl))),
        signer,
    })
}

/// The settings of `base` with the stored document `stored` (`None`: no document) over them.
///
/// # Errors
/// [`SettingsError`] when the document or a value in it cannot be used.
pub fn settings_with(base: &Base, stored: Option<&str>) -> Result<Settings, SettingsError> {
    let stored = match stored {
        Some(text) => StoredConfig::parse(text)?,
        None => StoredConfig::default(),
    };
    base.args.settings_with(&base.resolv_conf, &stored)
}

/// The reload callback: each new stored document applied over the flags, or, when it cannot
/// be used, logged and the current settings kept.
fn reloader(base: Base, first: Settings, live: LiveHandle) -> OnConfig {
    let config_key = format!("/{}/config", first.zone.prefix);
    Box::new(move |stored: Option<&str>| {
        match settings_with(&base, stored)
            .map_err(RunError::from)
            .and_then(|settings| Ok((self::live(&settings)?, settings)))
        {
            Ok((next, settings)) => {
                if settings.addr != first.addr {
                    tracing::warn!(
                        addr = %settings.addr,
                        serving = %first.addr,
                        "dns_addr takes effect at the next start"
                    );
                }
                if settings.zone.prefix != first.zone.prefix {
                    tracing::warn!(
                        "the path prefix is a flag only; keeping {}",
                        first.zone.prefix
                    );
                }
                live.replace(next);
                tracing::info!(key = %config_key, present = stored.is_some(), "configuration applied");
            }
            Err(error) => {
                tracing::warn!(key = %config_key, %error, "configuration not applied; keeping the current one");
            }
        }
    })
}

/// Serves on the bound sockets until `shutdown`, with the settings of `base` and, once read,
/// the stored configuration over them (reloaded whenever it changes); then stops every task.
///
/// # Errors
/// [`RunError`] when the flags, the client or the server fail.
pub async fn run(
    base: Base,
    udp: UdpSocket,
    tcp: TcpListener,
    shutdown: CancellationToken,
) -> Result<(), RunError> {
    let settings = base.args.settings(&base.resolv_conf)?;
    let client = Client::new(ClientConfig::new(settings.machines.clone()))?;
    let tasks = TaskTracker::new();
    let records = Records::default();
    let live = LiveHandle::new(live(&settings)?);
    let on_config = reloader(base, settings.clone(), live.clone());
    feed::start(
        &client,
        &settings.zone.prefix,
        records.clone(),
        on_config,
        &tasks,
        shutdown.clone(),
    )?;
    let metrics = match &settings.metrics {
        Some(wanted) => Some(start_metrics(wanted, &records, &tasks, &shutdown).await?),
        None => None,
    };
    let handler = Handler::new(live, records, metrics);
    let served = crate::server::serve(udp, tcp, handler, shutdown.clone()).await;
    shutdown.cancel();
    tasks.close();
    tasks.wait().await;
    Ok(served?)
}

/// Binds the metrics endpoint and serves it on `tasks` until `shutdown`.
async fn start_metrics(
    wanted: &MetricsSettings,
    records: &Records,
    tasks: &TaskTracker,
    shutdown: &CancellationToken,
) -> Result<Arc<Metrics>, RunError> {
    let listener = TcpListener::bind(wanted.addr)
        .await
        .map_err(|source| RunError::Bind {
            addr: wanted.addr,
            source,
        })?;
    let metrics = Arc::new(Metrics::new(&wanted.namespace, &wanted.subsystem));
    let served = crate::metrics::serve(
        listener,
        wanted.path.clone(),
        Arc::clone(&metrics),
        records.clone(),
        shutdown.clone(),
    );
    tasks.spawn(async move {
        if let Err(error) = served.await {
            tracing::warn!(%error, "the metrics endpoint stopped");
        }
    });
    tracing::info!(addr = %wanted.addr, path = %wanted.path, "serving metrics, /ready and /health");
    Ok(metrics)
}

/// `dns_addr` from the stored configuration, read once before binding (SkyDNS reads its
/// configuration before it listens); `None` when there is none or Keel does not answer within
/// `wait` (the flags' address is used, and the reload applies the rest later).
pub async fn stored_addr(base: &Base, wait: std::time::Duration) -> Option<SocketAddr> {
    let settings = base.args.settings(&base.resolv_conf).ok()?;
    let client = Client::new(ClientConfig::new(settings.machines.clone())).ok()?;
    let key = format!("/{}/config", settings.zone.prefix);
    let read = client.get(&key, kv_client::GetOptions::default());
    let response = match tokio::time::timeout(wait, read).await {
        Ok(Ok(response)) => response,
        Ok(Err(error)) if error.code() == Some(kv_client::code::KEY_NOT_FOUND) => return None,
        Ok(Err(error)) => {
            tracing::warn!(%error, "cannot read {key}; listening on the flags' address");
            return None;
        }
        Err(_) => {
            tracing::warn!("Keel did not answer within {wait:?}; listening on the flags' address");
            return None;
        }
    };
    let stored = response.node.value?;
    match settings_with(base, Some(&stored)) {
        Ok(settings) => Some(settings.addr),
        Err(error) => {
            tracing::warn!(%error, "{key} not applied");
            None
        }
    }
}
