//! `fleetlockd`: a FleetLock server for Zincati on Keel's locksmith semaphores. Flags in Go's
//! spellings (`-listen`, `-endpoint`), each also `FLEETLOCKD_<FLAG>`.

use anyhow::Context as _;
use clap::Parser;
use kv_client::{Client, ClientConfig};
use locksmith_core::config::DEFAULT_ENDPOINTS;

/// A FleetLock server (Zincati's reboot protocol) on locksmith's semaphores in Keel.
#[derive(Parser)]
#[command(name = "fleetlockd", disable_version_flag = true)]
struct Args {
    /// Where to serve FleetLock: host:port.
    #[arg(long, env = "FLEETLOCKD_LISTEN", default_value = "127.0.0.1:3333")]
    listen: String,
    /// Keel client URLs, comma-separated or repeated.
    #[arg(long, env = "FLEETLOCKD_ENDPOINT", value_delimiter = ',', default_value = DEFAULT_ENDPOINTS)]
    endpoint: Vec<String>,
    /// TLS towards Keel (not supported yet).
    #[arg(long = "etcd-cafile", env = "FLEETLOCKD_ETCD_CAFILE")]
    etcd_cafile: Option<String>,
    /// TLS towards Keel (not supported yet).
    #[arg(long = "etcd-certfile", env = "FLEETLOCKD_ETCD_CERTFILE")]
    etcd_certfile: Option<String>,
    /// TLS towards Keel (not supported yet).
    #[arg(long = "etcd-keyfile", env = "FLEETLOCKD_ETCD_KEYFILE")]
    etcd_keyfile: Option<String>,
    /// Basic authentication towards Keel (not supported yet).
    #[arg(long = "etcd-username", env = "FLEETLOCKD_ETCD_USERNAME")]
    etcd_username: Option<String>,
    /// Basic authentication towards Keel (not supported yet).
    #[arg(
        long = "etcd-password",
        env = "FLEETLOCKD_ETCD_PASSWORD",
        hide_env_values = true
    )]
    etcd_password: Option<String>,
    /// Log format: text or json (one object per line).
    #[arg(long, env = "FLEETLOCKD_LOG_FORMAT", value_enum, default_value_t)]
    log_format: keel_cli::LogFormat,
    /// Print the version and exit.
    #[arg(long)]
    version: bool,
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell) and exit.
    #[arg(long, value_name = "SHELL")]
    completion: Option<keel_cli::Shell>,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse_from(locksmith_core::flags::go_style(std::env::args_os()));
    if args.version {
        println!("fleetlockd version {}", env!("CARGO_PKG_VERSION"));
        return Ok(());
    }
    if let Some(shell) = args.completion {
        keel_cli::write_completion::<Args>(shell, "fleetlockd", &mut std::io::stdout());
        return Ok(());
    }
    keel_cli::init_logs(args.log_format, "info");
    let secrets = [
        &args.etcd_cafile,
        &args.etcd_certfile,
        &args.etcd_keyfile,
        &args.etcd_username,
        &args.etcd_password,
    ];
    anyhow::ensure!(
        secrets.iter().all(|value| value.is_none()),
        "TLS and basic authentication towards Keel are not supported yet"
    );
    let client = Client::new(ClientConfig::new(args.endpoint.clone()))
        .context("Error initializing etcd client")?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the runtime")?;
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind(&args.listen)
            .await
            .with_context(|| format!("cannot listen on {}", args.listen))?;
        let address = listener.local_addr().context("the listening address")?;
        tracing::info!(%address, endpoints = ?args.endpoint, "fleetlockd listening");
        tokio::select! {
            served = fleetlockd::serve(listener, client) => served.context("serving FleetLock"),
            _ = tokio::signal::ctrl_c() => Ok(()),
        }
    })
}
