//! `locksmithd`: CoreOS locksmith's daemon for Keel. Reads its settings from `update.conf`
//! files and the environment (as locksmith's unit does), exits at once under strategy `off`,
//! and otherwise runs until SIGTERM or SIGINT.

use anyhow::Context as _;
use clap::Parser;
use locksmith_core::config::{DaemonConfig, Strategy};
use std::path::PathBuf;
use tokio::signal::unix::{signal, SignalKind};
use tokio_util::sync::CancellationToken;

/// locksmith's reboot coordinator for Keel; configured by `update.conf` and `LOCKSMITHD_*`.
#[derive(Parser)]
#[command(name = "locksmithd", disable_version_flag = true)]
struct Args {
    /// `update.conf`-style files read in order, later ones winning, the environment over
    /// all (the defaults are CoreOS's and Flatcar's).
    #[arg(
        long = "update-conf",
        env = "LOCKSMITHD_UPDATE_CONF",
        value_delimiter = ',',
        default_value = "/usr/share/coreos/update.conf,/etc/coreos/update.conf,/etc/flatcar/update.conf"
    )]
    update_conf: Vec<PathBuf>,
    /// Log format: text or json (one object per line).
    #[arg(long, env = "LOCKSMITHD_LOG_FORMAT", value_enum, default_value_t)]
    log_format: keel_cli::LogFormat,
    /// Print the version and exit.
    #[arg(long)]
    version: bool,
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell) and exit.
    #[arg(long, value_name = "SHELL")]
    completion: Option<keel_cli::Shell>,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    if args.version {
        println!("locksmithd version {}", env!("CARGO_PKG_VERSION"));
        return Ok(());
    }
    if let Some(shell) = args.completion {
        keel_cli::write_completion::<Args>(shell, "locksmithd", &mut std::io::stdout());
        return Ok(());
    }
    keel_cli::init_logs(args.log_format, "info");
    let vars = locksmithd::setup::variables(&args.update_conf)?;
    let unsupported = DaemonConfig::unsupported(&vars);
    anyhow::ensure!(
        unsupported.is_empty(),
        "TLS and basic authentication towards Keel are not supported yet: {}",
        unsupported.join(", ")
    );
    let config = DaemonConfig::from_vars(&vars)?;
    if config.best_effort_mapped {
        tracing::warn!("REBOOT_STRATEGY=best-effort is obsolete; using reboot");
    }
    if config.strategy == Strategy::Off {
        tracing::info!("reboot strategy is off; exiting");
        return Ok(());
    }
    tracing::info!(?config, "effective configuration");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the runtime")?;
    runtime.block_on(async {
        let shutdown = CancellationToken::new();
        let mut terminate = signal(SignalKind::terminate()).context("SIGTERM handler")?;
        let mut interrupt = signal(SignalKind::interrupt()).context("SIGINT handler")?;
        let daemon = locksmithd::setup::run(config, shutdown.clone());
        tokio::pin!(daemon);
        tokio::select! {
            result = &mut daemon => result,
            _ = terminate.recv() => { shutdown.cancel(); daemon.await }
            _ = interrupt.recv() => { shutdown.cancel(); daemon.await }
        }
    })
}
