//! `locksmithctl`: CoreOS locksmith's CLI for Keel's reboot semaphores. Parses the command
//! line (Go's flag spellings accepted), runs one command on a current-thread runtime, and
//! exits as locksmith does: 0, 1 on an error, 2 on a usage error.

mod app;
mod cli;
mod status;

use anyhow::Context;
use clap::error::ErrorKind;
use clap::{CommandFactory, Parser};
use std::io::Write as _;

fn main() -> anyhow::Result<()> {
    let cli = match cli::Cli::try_parse_from(locksmith_core::flags::go_style(std::env::args_os())) {
        Ok(cli) => cli,
        Err(error) if error.kind() == ErrorKind::InvalidSubcommand => {
            let name = error
                .get(clap::error::ContextKind::InvalidSubcommand)
                .map(ToString::to_string)
                .unwrap_or_default();
            println!("locksmithctl: unknown subcommand: {name:?}");
            println!("Run 'locksmithctl help' for usage.");
            std::process::exit(2);
        }
        Err(error) => error.exit(),
    };
    if cli.version {
        println!("locksmithctl version {}", env!("CARGO_PKG_VERSION"));
        return Ok(());
    }
    let Some(command) = cli.command.as_ref() else {
        cli::Cli::command().print_help().context("printing help")?;
        return Ok(());
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the tokio runtime")?;
    match runtime.block_on(app::run(&cli, command)) {
        Ok(out) => {
            std::io::stdout()
                .write_all(out.as_bytes())
                .context("writing the output")?;
            Ok(())
        }
        Err(failure) => {
            eprintln!("{}", failure.message);
            std::process::exit(failure.code);
        }
    }
}
