//! `fleetd`: reads fleet's configuration (`--config` INI file, `FLEET_<KEY>` environment,
//! defaults), sets up logging, and runs the daemon until SIGTERM or SIGINT (units keep
//! running) or SIGUSR2 (drain: the machine leaves and its units stop, then fleetd exits).

use anyhow::Context;
use clap::Parser;
use fleetd::config::Config;
use fleetd::daemon::Stop;
use std::collections::BTreeMap;
use std::path::PathBuf;
use tokio::signal::unix::{signal, SignalKind};

/// fleet's daemon for Keel: the agent, an engine candidate and the fleet v1 API.
#[derive(Parser)]
#[command(name = "fleetd", version, disable_version_flag = true)]
struct Args {
    /// The configuration file (fleet's `fleet.conf`: `key = value` lines).
    #[arg(long)]
    config: Option<PathBuf>,
    /// Print the version and exit.
    #[arg(long)]
    version: bool,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    if args.version {
        println!("fleetd version {}", env!("CARGO_PKG_VERSION"));
        return Ok(());
    }
    let file = match &args.config {
        Some(path) => Some(
            std::fs::read_to_string(path)
                .with_context(|| format!("cannot read config file {}", path.display()))?,
        ),
        None => None,
    };
    let environment: BTreeMap<String, String> = std::env::vars()
        .filter(|(key, _)| key.starts_with("FLEET_"))
        .collect();
    let config = Config::from_sources(file.as_deref(), &environment)?;
    let level = if config.verbosity > 0 {
        "debug"
    } else {
        "info"
    };
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level)),
        )
        .with_writer(std::io::stderr)
        .init();
    for key in &config.ignored_keys {
        tracing::warn!(%key, "unknown configuration key ignored");
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the runtime")?;
    runtime.block_on(async {
        let stop = Stop::default();
        let signals = stop.clone();
        let mut terminate = signal(SignalKind::terminate())?;
        let mut drain = signal(SignalKind::user_defined2())?;
        // Ends with the process: it only turns signals into the two tokens.
        tokio::spawn(async move {
            tokio::select! {
                _ = terminate.recv() => {
                    tracing::info!("SIGTERM: stopping; units keep running");
                    signals.shutdown.cancel();
                }
                _ = tokio::signal::ctrl_c() => {
                    tracing::info!("SIGINT: stopping; units keep running");
                    signals.shutdown.cancel();
                }
                _ = drain.recv() => {
                    tracing::info!("SIGUSR2: draining this machine, then stopping");
                    signals.drain.cancel();
                }
            }
        });
        fleetd::daemon::run(config, stop)
            .await
            .context("fleetd failed")
    })
}
