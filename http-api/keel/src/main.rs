//! `keel`: the Keel key-value server. The composition root only: flags, logging, run.

mod argv;
mod bootstrap;
mod config;
mod server;

use anyhow::Context;
use clap::Parser;
use config::{Flags, ETCD_COMPATIBLE_VERSION};

/// mimalloc instead of the system allocator: request handling allocates many small,
/// short-lived buffers from several threads, where glibc malloc costs the most.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> anyhow::Result<()> {
    let (args, ignored) = argv::normalise(std::env::args().skip(1).collect());
    let flags = Flags::parse_from(std::iter::once("keel".to_string()).chain(args));
    if flags.version {
        // Harnesses written for etcd read the first line (spec §12).
        println!("etcd Version: {ETCD_COMPATIBLE_VERSION}");
        println!("Keel Version: {}", env!("CARGO_PKG_VERSION"));
        return Ok(());
    }
    let config = flags.validate()?;
    install_tracing(config.json_logs);
    if !ignored.is_empty() {
        tracing::info!(flags = %ignored.join(" "), "ignoring etcd flags that have no meaning for keel");
    }
    tracing::info!(?config, "effective configuration");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(server::run(config))
}

fn install_tracing(json: bool) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,raft=warn"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if json {
        builder.json().init();
    } else {
        builder.init();
    }
}
