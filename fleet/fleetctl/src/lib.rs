//! `fleetctl` for Keel: fleet's command set, flags, tables, messages and exit codes, over
//! fleetd's HTTP API only.
//!
//! Every command is a function of a [`session::Session`] (the client, the polling pace and
//! the output sinks) returning the exit code: 0 ok, 1 error, 2 for the deprecated `verify`.
//! [`parse`] reads the command line, [`execute`] runs it, [`run`] does both; `main.rs` only
//! wires them to the process.
//!
//! Modules: [`cli`] (flags and commands), [`endpoint`] (`--endpoint`), [`client`] (the HTTP
//! client), [`session`] (sinks, polling, legends), [`table`] (fleet's tabwriter layout),
//! [`listing`] (the three tables), [`units`] (reading units), [`create`] (lazy creation from
//! local files and templates), [`wait`] (blocking and the pending explanation),
//! [`lifecycle`] (submit, load, start, stop, unload, destroy, restart) and [`inspect`] (cat,
//! status, journal, verify, version).
//!
//! What fleetd must serve:
//! - fleet's v1 API under `/fleet/v1/`: `GET /units` (paged), `GET|PUT|DELETE
//!   /units/{name}`, `GET /state` (paged), `GET /state/{name}`, `GET /machines` (paged),
//!   errors as fleet's envelope `{"error":{"code","message"}}`;
//! - Keel's extensions under `/keel/v1/units/{name}/`: `pending` (200
//!   `{"reason","refusals":[{"machine","rule"}]}` while the engine cannot place the unit, 404
//!   otherwise), `status` (200 `text/plain`: `systemctl status -l` on the unit's host) and
//!   `journal?lines=N&output=MODE&follow=true|false` (200 `text/plain`, streamed while
//!   following); errors as fleet's envelope.
//!
//! Not supported: `--driver=etcd`, `--tunnel` and the SSH commands (`ssh`, `fd-forward`),
//! TLS (`https://` endpoints and the key files); each is refused with a message, exit 1.
//! Environment variables are read only by [`cli`], through clap.

#![warn(missing_docs)]

pub mod cli;
pub mod client;
pub mod create;
pub mod drain;
pub mod endpoint;
pub mod inspect;
pub mod lifecycle;
pub mod listing;
pub mod replace;
pub mod run;
pub mod scale;
pub mod session;
pub mod table;
pub mod units;
pub mod wait;
pub mod why;

use crate::cli::{Cli, Command};
use crate::client::Client;
use crate::create::Verb;
use crate::endpoint::Endpoint;
use crate::session::{Console, Poll, Session};
use clap::{CommandFactory, Parser};
use std::ffi::OsString;
use std::io::Write;
use std::time::Duration;

/// Parses a command line (the program name first). Help and parse errors are printed here:
/// help on `out` (exit 0), errors on `err` (exit 1, fleet's status for bad usage).
///
/// # Errors
/// The exit code when there is nothing to run.
pub fn parse<I, T>(args: I, out: &mut dyn Write, err: &mut dyn Write) -> Result<Cli, i32>
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    use clap::error::ErrorKind;
    match Cli::try_parse_from(args) {
        Ok(cli) => Ok(cli),
        Err(error) => {
            let text = error.render().to_string();
            match error.kind() {
                ErrorKind::DisplayHelp
                | ErrorKind::DisplayVersion
                | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
                    let _ = out.write_all(text.as_bytes());
                    Err(0)
                }
                _ => {
                    let _ = err.write_all(text.as_bytes());
                    Err(1)
                }
            }
        }
    }
}

/// Runs a parsed command line, polling at `poll` while blocking; returns the exit code.
pub async fn execute(cli: Cli, poll: Poll, out: &mut dyn Write, err: &mut dyn Write) -> i32 {
    dispatch(cli, poll, Console::new(out, err)).await
}

/// [`parse`] then [`execute`].
pub async fn run<I, T>(args: I, poll: Poll, out: &mut dyn Write, err: &mut dyn Write) -> i32
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    match parse(args, out, err) {
        Ok(cli) => execute(cli, poll, out, err).await,
        Err(code) => code,
    }
}

async fn dispatch(cli: Cli, poll: Poll, mut console: Console<'_>) -> i32 {
    if cli.version {
        return inspect::version(&mut console);
    }
    let command = match &cli.command {
        None => {
            console.out_text(&Cli::command().render_help().to_string());
            return 0;
        }
        Some(Command::Version) => return inspect::version(&mut console),
        Some(Command::Completion(args)) => {
            let mut script = Vec::new();
            keel_cli::write_completion::<Cli>(args.shell, "fleetctl", &mut script);
            console.out_text(&String::from_utf8_lossy(&script));
            return 0;
        }
        Some(Command::Verify(_)) => return inspect::verify(&mut console),
        Some(Command::Ssh(_)) => return unsupported(&mut console, "fleetctl ssh"),
        Some(Command::FdForward(_)) => return unsupported(&mut console, "fleetctl fd-forward"),
        Some(command) => command,
    };
    let client = match client(&cli, &mut console) {
        Ok(client) => client,
        Err(code) => return code,
    };
    let mut session = Session::new(client, poll, console);
    let code = run_command(&mut session, command).await;
    session.console.flush();
    code
}

async fn run_command(session: &mut Session<'_>, command: &Command) -> i32 {
    match command {
        Command::Cat(args) => inspect::cat(session, args).await,
        Command::Destroy(args) => lifecycle::destroy(session, args).await,
        Command::Journal(args) => inspect::journal(session, args).await,
        Command::ListMachines(args) => listing::list_machines(session, args).await,
        Command::ListUnitFiles(args) => listing::list_unit_files(session, args).await,
        Command::ListUnits(args) => listing::list_units(session, args).await,
        Command::Load(args) => lifecycle::schedule(session, args, Verb::Load).await,
        Command::Restart(args) => lifecycle::restart(session, args).await,
        Command::Start(args) => lifecycle::schedule(session, args, Verb::Start).await,
        Command::Status(args) => inspect::status(session, args).await,
        Command::Stop(args) => lifecycle::stop_or_unload(session, args, false).await,
        Command::Submit(args) => lifecycle::submit(session, args).await,
        Command::Unload(args) => lifecycle::stop_or_unload(session, args, true).await,
        Command::Why(args) => why::why(session, args).await,
        Command::Scale(args) => scale::scale(session, args).await,
        Command::Replace(args) => replace::replace(session, args).await,
        Command::Run(args) => run::run(session, args).await,
        Command::Drain(args) => drain::drain(session, args, true).await,
        Command::Uncordon(args) => drain::drain(session, args, false).await,
        Command::Version
        | Command::Completion(_)
        | Command::Verify(_)
        | Command::Ssh(_)
        | Command::FdForward(_) => {
            // Answered in `dispatch` before a client exists.
            1
        }
    }
}

fn unsupported(console: &mut Console<'_>, what: &str) -> i32 {
    console.err_line(&format!(
        "{what} is not supported by this fleetctl: it talks to fleetd's HTTP API only (status and journal work without SSH)"
    ));
    1
}

/// The client the global flags ask for, or the exit code after the refusal.
fn client(cli: &Cli, console: &mut Console<'_>) -> Result<Client, i32> {
    if !cli.driver.eq_ignore_ascii_case("api") {
        console.err_line(&format!(
            "--driver={} is not supported by this fleetctl: it talks to fleetd's HTTP API only (--driver=API)",
            cli.driver
        ));
        return Err(1);
    }
    if !cli.tunnel.is_empty() {
        console.err_line(
            "--tunnel is not supported by this fleetctl: reach fleetd directly with --endpoint=http://host:port",
        );
        return Err(1);
    }
    if [&cli.ca_file, &cli.cert_file, &cli.key_file]
        .iter()
        .any(|file| !file.is_empty())
    {
        console.err_line(
            "--ca-file, --cert-file and --key-file are not supported by this fleetctl: it has no TLS",
        );
        return Err(1);
    }
    let endpoint = Endpoint::parse(&cli.endpoint).map_err(|error| {
        console.err_line(&format!("Unable to initialize client: {error}"));
        1
    })?;
    let timeout = Duration::try_from_secs_f64(cli.request_timeout)
        .ok()
        .filter(|timeout| !timeout.is_zero())
        .ok_or_else(|| {
            console.err_line(&format!(
                "Unable to initialize client: --request-timeout must be a positive number of seconds, not {}",
                cli.request_timeout
            ));
            1
        })?;
    Ok(Client::new(endpoint, timeout))
}
