//! `keelctl`: etcdctl v2 for Keel. Parses the command line, runs the command on a
//! current-thread runtime, prints a failure as etcdctl does and exits with its code.

mod app;
mod cli;
mod failure;
mod keys;
mod member;
mod output;
mod watch;

use anyhow::Context;
use clap::Parser;

fn main() -> anyhow::Result<()> {
    let cli = cli::Cli::parse();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the tokio runtime")?;
    if let Err(failure) = runtime.block_on(app::run(cli)) {
        eprint!("{}", failure.stderr);
        std::process::exit(failure.code);
    }
    Ok(())
}
