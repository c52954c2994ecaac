//! `fleetd`: reads fleet's configuration (`--config` INI file, `FLEET_<KEY>` environment,
//! defaults), sets up logging, and runs the daemon until SIGTERM or SIGINT (units keep
//! running) or SIGUSR2 (drain: the machine leaves and its units stop, then fleetd exits);
//! SIGHUP reloads the configuration, SIGUSR1 prints the state as JSON on stdout.

use anyhow::Context;
use clap::Parser;
use fleetd::config::Config;
use fleetd::daemon::Signals;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use tokio::signal::unix::{signal, Signal, SignalKind};

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
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell) and exit.
    #[arg(long, value_name = "SHELL")]
    completion: Option<keel_cli::Shell>,
}

/// The configuration from `--config` and the `FLEET_*` environment.
fn load_config(path: Option<&Path>) -> anyhow::Result<Config> {
    let file = match path {
        Some(path) => Some(
            std::fs::read_to_string(path)
                .with_context(|| format!("cannot read config file {}", path.display()))?,
        ),
        None => None,
    };
    let environment: BTreeMap<String, String> = std::env::vars()
        .filter(|(key, _)| key.starts_with("FLEET_"))
        .collect();
    Ok(Config::from_sources(file.as_deref(), &environment)?)
}

/// Logs each configuration key fleetd does not know (once logging is set up).
fn warn_ignored(config: &Config) {
    for key in &config.ignored_keys {
        tracing::warn!(%key, "unknown configuration key ignored");
    }
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    if args.version {
        println!("fleetd version {}", env!("CARGO_PKG_VERSION"));
        return Ok(());
    }
    if let Some(shell) = args.completion {
        keel_cli::write_completion::<Args>(shell, "fleetd", &mut std::io::stdout());
        return Ok(());
    }
    let config = load_config(args.config.as_deref())?;
    let level = if config.verbosity > 0 {
        "debug"
    } else {
        "info"
    };
    keel_cli::init_logs(config.log_format, level);
    warn_ignored(&config);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the runtime")?;
    runtime.block_on(async {
        let signals = Signals::default();
        // Ends with the process: it only turns signals into the daemon's tokens.
        tokio::spawn(handle_signals(signals.clone(), SignalStreams::new()?));
        let path = args.config.clone();
        let reload = move || {
            let config = load_config(path.as_deref()).map_err(|error| format!("{error:#}"))?;
            warn_ignored(&config);
            Ok(config)
        };
        fleetd::daemon::run(config, reload, signals)
            .await
            .context("fleetd failed")
    })
}

struct SignalStreams {
    terminate: Signal,
    hangup: Signal,
    dump: Signal,
    drain: Signal,
}

impl SignalStreams {
    fn new() -> std::io::Result<SignalStreams> {
        Ok(SignalStreams {
            terminate: signal(SignalKind::terminate())?,
            hangup: signal(SignalKind::hangup())?,
            dump: signal(SignalKind::user_defined1())?,
            drain: signal(SignalKind::user_defined2())?,
        })
    }
}

async fn handle_signals(signals: Signals, mut streams: SignalStreams) {
    loop {
        tokio::select! {
            _ = streams.terminate.recv() => {
                tracing::info!("SIGTERM: stopping; units keep running");
                signals.shutdown.cancel();
            }
            _ = tokio::signal::ctrl_c() => {
                tracing::info!("SIGINT: stopping; units keep running");
                signals.shutdown.cancel();
            }
            _ = streams.drain.recv() => {
                tracing::info!("SIGUSR2: draining this machine, then stopping");
                signals.drain.cancel();
            }
            _ = streams.hangup.recv() => {
                tracing::info!("SIGHUP: reloading the configuration");
                signals.reload.notify_one();
            }
            _ = streams.dump.recv() => signals.dump.notify_one(),
        }
    }
}
