//! The commands that read one unit: `cat`, `status` and `journal`, plus `verify` and
//! `version`.
//!
//! Owns their checks and messages. `status` and `journal` do not use SSH as fleet's did:
//! fleetd runs `systemctl status -l` and `journalctl` on the unit's host and serves the text
//! (`GET /keel/v1/units/{name}/status` and `.../journal`), so they work for units anywhere
//! in the cluster. Invariants: global units and units not running anywhere are refused
//! before anything else is asked (fleet's rule, since neither has one host); between two
//! units `status` prints one blank line, as fleet's (to match `systemctl status`).

use crate::cli::{JournalArgs, StatusArgs, UnitsArgs};
use crate::client::JournalQuery;
use crate::session::{Console, Session};
use crate::units::{is_global, unit_file};
use fleet_core::name::mangle;

/// `cat UNIT`: the unit's canonical text.
pub async fn cat(session: &mut Session<'_>, args: &UnitsArgs) -> i32 {
    let [argument] = args.units.as_slice() else {
        session.console.err_line("One unit file must be provided");
        return 1;
    };
    let name = mangle(argument);
    let unit = match session.client.unit(&name).await {
        Ok(Some(unit)) => unit,
        Ok(None) => {
            session.console.err_line(&format!("Unit {name} not found"));
            return 1;
        }
        Err(error) => {
            session
                .console
                .err_line(&format!("Error retrieving Unit {name}: {error}"));
            return 1;
        }
    };
    match unit_file(&unit) {
        Ok(file) => {
            session.console.out_text(&file.canonical_text());
            0
        }
        Err(error) => {
            session.console.err_line(&format!(
                "Unit {name} has options no unit file can hold: {error}"
            ));
            1
        }
    }
}

/// `status UNIT...`.
pub async fn status(session: &mut Session<'_>, args: &StatusArgs) -> i32 {
    if args.units.is_empty() {
        session.console.err_line("No units given");
        return 0;
    }
    let units = match session.client.units().await {
        Ok(units) => units,
        Err(error) => {
            session.console.err_line(&format!(
                "Error retrieving list of units from repository: {error}"
            ));
            return 1;
        }
    };
    let mut names = Vec::with_capacity(args.units.len());
    for argument in &args.units {
        let name = mangle(argument);
        let refusal = match units.iter().find(|unit| unit.name == name) {
            None => Some(format!("Unit {name} does not exist.")),
            Some(unit) if is_global(unit) => Some(format!(
                "Unable to get status of global unit {name}. Check on a host directly using systemctl."
            )),
            Some(unit) if unit.current_state.is_empty() || unit.current_state == "inactive" => {
                Some(format!("Unit {name} does not appear to be running."))
            }
            Some(_) => None,
        };
        if let Some(line) = refusal {
            session.console.err_line(&line);
            return 1;
        }
        names.push(name);
    }
    for (index, name) in names.iter().enumerate() {
        if index != 0 {
            session.console.out_text("\n");
        }
        match session.client.status(name).await {
            Ok(text) => print_block(&mut session.console, &text),
            Err(error) => {
                session
                    .console
                    .err_line(&format!("Error retrieving status of unit {name}: {error}"));
                return 1;
            }
        }
    }
    0
}

/// Prints `text`, ending it with a newline if it lacks one.
fn print_block(console: &mut Console<'_>, text: &str) {
    console.out_text(text);
    if !text.is_empty() && !text.ends_with('\n') {
        console.out_text("\n");
    }
}

/// `journal UNIT`: copies the journal to stdout as it arrives (until fleetd ends it, or the
/// user does, with `--follow`).
pub async fn journal(session: &mut Session<'_>, args: &JournalArgs) -> i32 {
    let [argument] = args.units.as_slice() else {
        session.console.err_line("One unit file must be provided.");
        return 1;
    };
    let name = mangle(argument);
    let refusal = match session.client.unit(&name).await {
        Err(error) => Some(format!("Error retrieving unit {name}: {error}")),
        Ok(None) => Some(format!("Unit {name} does not exist.")),
        Ok(Some(unit)) if is_global(&unit) => Some(format!(
            "Unable to get journal for global unit {name}. Check on a host directly using journalctl."
        )),
        Ok(Some(unit)) if unit.machine_id.is_empty() => {
            Some(format!("Unit {name} does not appear to be running."))
        }
        Ok(Some(_)) => None,
    };
    if let Some(line) = refusal {
        session.console.err_line(&line);
        return 1;
    }
    let query = JournalQuery {
        lines: args.lines,
        output: args.output.clone(),
        follow: args.follow,
    };
    let client = session.client.clone();
    match client
        .journal(&name, &query, session.console.stdout())
        .await
    {
        Ok(()) => 0,
        Err(error) => {
            session
                .console
                .err_line(&format!("Error retrieving journal of unit {name}: {error}"));
            1
        }
    }
}

/// `verify`: fleet's deprecation warning, exit 2.
pub fn verify(console: &mut Console<'_>) -> i32 {
    console
        .err_line("WARNING: The signed/verified units feature is DEPRECATED and cannot be used.");
    2
}

/// `version` and `--version`.
pub fn version(console: &mut Console<'_>) -> i32 {
    console.out_line(&format!("fleetctl version {}", env!("CARGO_PKG_VERSION")));
    0
}
