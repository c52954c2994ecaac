//! `fleetctl`: parses the command line, turns on request tracing for `--debug`, runs the
//! command on a current-thread runtime and exits with its code.

use anyhow::Context;
use std::io::Write;

fn main() -> anyhow::Result<()> {
    let mut stdout = std::io::stdout();
    let mut stderr = std::io::stderr();
    let code = match fleetctl::parse(std::env::args_os(), &mut stdout, &mut stderr) {
        Err(code) => code,
        Ok(cli) => {
            if cli.debug {
                keel_cli::init_logs(keel_cli::LogFormat::Text, "fleetctl=debug");
            }
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .context("starting the tokio runtime")?;
            let poll = fleetctl::session::Poll::default();
            runtime.block_on(fleetctl::execute(cli, poll, &mut stdout, &mut stderr))
        }
    };
    stdout.flush().context("flushing stdout")?;
    std::process::exit(code);
}
