//! `keel-dashboard`: the stack's web page (see `keel_stack::dashboard`).

use anyhow::Context as _;
use clap::Parser;
use keel_stack::dashboard::{server, source::Sources};
use kv_client::{Client, ClientConfig};
use std::net::SocketAddr;
use tokio::signal::unix::{signal, SignalKind};
use tokio_util::sync::CancellationToken;

/// A live web page of the Keel stack: members, machines, units, locks, DNS records.
#[derive(Parser)]
#[command(name = "keel-dashboard", version)]
struct Args {
    /// Where the page is served.
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// Keel's client URLs (comma-separated).
    #[arg(long, default_value = "http://127.0.0.1:2379", value_delimiter = ',')]
    keel: Vec<String>,
    /// fleet's API over TCP.
    #[arg(long, default_value = "http://127.0.0.1:49153")]
    fleet: String,
    /// The discovery records' key prefix.
    #[arg(long, default_value = "skydns")]
    record_prefix: String,
    /// A daemon's metrics page, as NAME=URL (NAME: keel, fleet or dns), for the page's
    /// request-rate plot; repeatable.
    #[arg(long = "metrics", value_name = "NAME=URL", value_parser = metrics_source)]
    metrics: Vec<(String, String)>,
    /// Log format: text or json (one object per line).
    #[arg(long, env = "KEEL_DASHBOARD_LOG_FORMAT", value_enum, default_value_t)]
    log_format: keel_cli::LogFormat,
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell) and exit.
    #[arg(long, value_name = "SHELL")]
    completion: Option<keel_cli::Shell>,
}

/// `NAME=URL` with a daemon name the dashboard knows the request counter of.
fn metrics_source(text: &str) -> Result<(String, String), String> {
    let (name, url) = text
        .split_once('=')
        .ok_or_else(|| format!("{text:?}: expected NAME=URL"))?;
    if keel_stack::dashboard::requests::counter_of(name).is_none() {
        let names: Vec<&str> = keel_stack::dashboard::requests::COUNTERS
            .iter()
            .map(|(daemon, _)| *daemon)
            .collect();
        return Err(format!("{name:?}: not one of {}", names.join(", ")));
    }
    if !url.starts_with("http://") {
        return Err(format!("{url:?}: expected an http:// URL"));
    }
    Ok((name.to_owned(), url.to_owned()))
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    if let Some(shell) = args.completion {
        keel_cli::write_completion::<Args>(shell, "keel-dashboard", &mut std::io::stdout());
        return Ok(());
    }
    keel_cli::init_logs(args.log_format, "info");
    let keel = Client::new(ClientConfig::new(args.keel)).context("Keel's client URLs")?;
    let sources = Sources {
        keel,
        fleet: args.fleet.trim_end_matches('/').to_owned(),
        record_prefix: args.record_prefix,
        metrics: args.metrics,
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the runtime")?;
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind(args.listen)
            .await
            .with_context(|| format!("cannot listen on {}", args.listen))?;
        tracing::info!(address = %args.listen, "serving the dashboard");
        let shutdown = CancellationToken::new();
        let stop = shutdown.clone();
        let mut interrupt = signal(SignalKind::interrupt()).context("SIGINT handler")?;
        let mut terminate = signal(SignalKind::terminate()).context("SIGTERM handler")?;
        tokio::spawn(async move {
            tokio::select! {
                _ = interrupt.recv() => {}
                _ = terminate.recv() => {}
            }
            stop.cancel();
        });
        server::serve(listener, sources, shutdown)
            .await
            .context("the dashboard stopped")
    })
}
