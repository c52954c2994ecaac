//! `discoveryctl`: announce a service instance (the sidekick pattern), list and remove the
//! SkyDNS-style records in Keel that `discoveryd` answers from.
//!
//! Exit codes: 0 done, 1 an error (printed as `discoveryctl: <reason>`), 2 a usage error.

mod announce;
mod cli;
mod health;
mod records;

use anyhow::Context as _;
use clap::Parser;
use cli::{Cli, Command};
use discovery_core::zone::Zone;
use kv_client::{Client, ClientConfig};
use tokio_util::sync::CancellationToken;

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    if let Command::Completion { shell } = cli.command {
        keel_cli::write_completion::<Cli>(shell, "discoveryctl", &mut std::io::stdout());
        return std::process::ExitCode::SUCCESS;
    }
    keel_cli::init_logs(cli.log_format, "info");
    match run(&cli) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("discoveryctl: {error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn run(cli: &Cli) -> anyhow::Result<()> {
    let zone = Zone::new(&cli.domain, &cli.path_prefix)
        .with_context(|| format!("--domain {:?}", cli.domain))?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the runtime")?;
    runtime.block_on(async {
        let client = Client::new(ClientConfig::new(cli.machines.clone())).context("--machines")?;
        match &cli.command {
            Command::Announce(args) => {
                let stop = CancellationToken::new();
                let stopping = stop.clone();
                tokio::spawn(async move {
                    stopped().await;
                    stopping.cancel();
                });
                announce::run(&client, &zone, args, stop).await
            }
            Command::Ls(args) => records::ls(&client, &zone, args).await,
            Command::Rm(args) => records::rm(&client, &zone, args).await,
            Command::Completion { .. } => Ok(()),
        }
    })
}

/// SIGINT or SIGTERM.
async fn stopped() {
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        () = terminate => {}
    }
}
