//! `discoveryd`: SkyDNS-style DNS discovery over Keel. SkyDNS's flags in Go's spellings
//! (`-addr`, `-domain`, `-machines`, `-nameservers`, ...) and environment variables.

use anyhow::Context as _;
use clap::Parser;
use discoveryd::config::{go_style, Args};
use tokio_util::sync::CancellationToken;

/// How long the stored configuration's `dns_addr` is waited for before listening on the
/// flags' address.
const STORED_ADDR_WAIT: std::time::Duration = std::time::Duration::from_secs(2);

fn main() -> anyhow::Result<()> {
    let args = Args::parse_from(go_style(std::env::args_os()));
    if args.version {
        println!("discoveryd version {}", env!("CARGO_PKG_VERSION"));
        return Ok(());
    }
    if let Some(shell) = args.completion {
        keel_cli::write_completion::<Args>(shell, "discoveryd", &mut std::io::stdout());
        return Ok(());
    }
    // hickory's server logs every request at INFO; SkyDNS logs queries only with -verbose.
    let level = if args.verbose {
        "debug"
    } else {
        "info,hickory_server=warn"
    };
    keel_cli::init_logs(args.log_format, level);
    let resolv_conf = std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default();
    let settings = args.settings(&resolv_conf).context("bad flags")?;
    let base = discoveryd::run::Base { args, resolv_conf };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the runtime")?;
    runtime.block_on(async {
        let stored = discoveryd::run::stored_addr(&base, STORED_ADDR_WAIT).await;
        let (udp, tcp) = discoveryd::run::bind(stored.unwrap_or(settings.addr)).await?;
        let address = tcp.local_addr().context("the listening address")?;
        tracing::info!(
            %address,
            domain = %settings.zone.domain,
            machines = ?settings.machines,
            nameservers = ?settings.nameservers,
            "discoveryd listening"
        );
        let shutdown = CancellationToken::new();
        let stop = shutdown.clone();
        let mut server = tokio::spawn(discoveryd::run::run(base, udp, tcp, shutdown));
        let ended = tokio::select! {
            _ = tokio::signal::ctrl_c() => None,
            () = terminated() => None,
            ended = &mut server => Some(ended),
        };
        stop.cancel();
        let ended = match ended {
            Some(ended) => ended,
            None => server.await,
        };
        ended.context("the server task")??;
        tracing::info!("discoveryd stopped");
        anyhow::Ok(())
    })
}

async fn terminated() {
    match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(mut signal) => {
            signal.recv().await;
        }
        Err(_) => std::future::pending().await,
    }
}
