//! `keel`: the Keel key-value server. The composition root only: flags, logging, run.

mod argv;
mod bootstrap;
mod config;
mod notify;
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
    if let Some(shell) = flags.completion {
        keel_cli::write_completion::<Flags>(shell, "keel", &mut std::io::stdout());
        return Ok(());
    }
    let config = flags.validate()?;
    keel_cli::init_logs(config.log_format, "info,raft=warn");
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
