//! The commands that change desired states: `submit`, `load`, `start`, `stop`, `unload`,
//! `destroy` and `restart`, with fleet's messages and exit codes.
//!
//! Owns the verb-to-state mapping. Invariants: no arguments is `No units given`, exit 0; for
//! `stop`, `unload`, `destroy` and `restart`, arguments that match no stored unit print
//! `Units not found in registry`, exit 0 (fleet's quirk, kept for scripts); a unit already
//! in the requested desired state is not sent again; global units never block.
//!
//! Departures from fleet: `destroy` waits for the unit to disappear unless `--no-block`
//! (fleet waited only *with* `--no-block`); `restart` of a global unit says it cannot
//! restart it and exits 1 (fleet silently did nothing).

use crate::cli::{BlockArgs, RestartArgs, ScheduleArgs, SubmitArgs};
use crate::create::{lazy_create, Verb};
use crate::session::{Blocking, Session};
use crate::units::{find_units, go_list, is_global};
use crate::wait::{wait, Goal};
use fleet_api::entities::Unit;
use fleet_core::name::mangle;

/// `submit`.
pub async fn submit(session: &mut Session<'_>, args: &SubmitArgs) -> i32 {
    if args.units.is_empty() {
        session.console.err_line("No units given");
        return 0;
    }
    match lazy_create(
        session,
        &args.units,
        Verb::Submit,
        args.replace,
        Blocking::Forever,
    )
    .await
    {
        Ok(()) => 0,
        Err(error) => {
            session
                .console
                .err_line(&format!("Error creating units: {error}"));
            1
        }
    }
}

/// `load` ([`Verb::Load`]) and `start` ([`Verb::Start`]).
pub async fn schedule(session: &mut Session<'_>, args: &ScheduleArgs, verb: Verb) -> i32 {
    if args.units.is_empty() {
        session.console.err_line("No units given");
        return 0;
    }
    let blocking = Blocking::from_flags(args.no_block, args.block_attempts);
    if let Err(error) = lazy_create(session, &args.units, verb, args.replace, blocking).await {
        session
            .console
            .err_line(&format!("Error creating units: {error}"));
        return 1;
    }
    let (word, state) = match verb {
        Verb::Start => ("start", "launched"),
        _ => ("load", "loaded"),
    };
    let names: Vec<String> = args.units.iter().map(|unit| mangle(unit)).collect();
    let triggered = match set_desired_states(session, &names, state).await {
        Ok(triggered) => triggered,
        Err(error) => {
            let action = if verb == Verb::Start {
                "starting"
            } else {
                "loading"
            };
            session
                .console
                .err_line(&format!("Error {action} units: {error}"));
            return 1;
        }
    };
    let waiting = announce_globals(session, &triggered, word);
    let goal = Goal::State {
        state,
        explain_pending: true,
    };
    let errors = wait(session, &waiting, goal, word, blocking).await;
    if !report(session, errors, "unit states") {
        return 1;
    }
    if verb == Verb::Start {
        let errors = wait(session, &waiting, Goal::SystemdActive, word, blocking).await;
        if !report(session, errors, "systemd unit states") {
            return 1;
        }
    }
    0
}

/// Prints `Triggered global unit <name> <verb>` for the global units and returns the others.
fn announce_globals(session: &mut Session<'_>, units: &[Unit], verb: &str) -> Vec<String> {
    let mut others = Vec::new();
    for unit in units {
        if is_global(unit) {
            session
                .console
                .out_line(&format!("Triggered global unit {} {verb}", unit.name));
        } else {
            others.push(unit.name.clone());
        }
    }
    others
}

/// Prints a wait's errors as fleet does; `true` when there were none.
fn report(session: &mut Session<'_>, errors: Vec<String>, what: &str) -> bool {
    for error in &errors {
        session
            .console
            .err_line(&format!("Error waiting for units: {error}"));
    }
    if !errors.is_empty() {
        session
            .console
            .err_line(&format!("Error waiting for {what}, exit status: 1"));
    }
    errors.is_empty()
}

/// fleet's `setTargetStateOfUnits`: sets `state` on each unit not already in it and returns
/// those it was set on.
async fn set_desired_states(
    session: &mut Session<'_>,
    names: &[String],
    state: &str,
) -> Result<Vec<Unit>, String> {
    let mut triggered = Vec::new();
    for name in names {
        let unit = match session.client.unit(name).await {
            Ok(Some(unit)) => unit,
            Ok(None) => return Err(format!("unable to find unit {name}")),
            Err(error) => {
                return Err(format!(
                    "error retrieving unit {name} from registry: {error}"
                ))
            }
        };
        if unit.desired_state == state {
            tracing::debug!(name, state, "unit already in desired state");
            continue;
        }
        session
            .client
            .set_desired_state(name, state)
            .await
            .map_err(|error| error.to_string())?;
        triggered.push(unit);
    }
    Ok(triggered)
}

/// The stored units named by `arguments`, or the exit code after fleet's message.
async fn named_units(session: &mut Session<'_>, arguments: &[String]) -> Result<Vec<Unit>, i32> {
    if arguments.is_empty() {
        session.console.err_line("No units given");
        return Err(0);
    }
    match find_units(&session.client, arguments).await {
        Ok(units) if units.is_empty() => {
            session.console.err_line("Units not found in registry");
            Err(0)
        }
        Ok(units) => Ok(units),
        Err(error) => {
            session.console.err_line(&format!(
                "Error retrieving list of units from repository: {error}"
            ));
            Err(1)
        }
    }
}

/// `stop` (desired `loaded`) and `unload` (desired `inactive`).
pub async fn stop_or_unload(session: &mut Session<'_>, args: &BlockArgs, unload: bool) -> i32 {
    let units = match named_units(session, &args.units).await {
        Ok(units) => units,
        Err(code) => return code,
    };
    let (verb, state, done) = if unload {
        ("unload", "inactive", "unloaded")
    } else {
        ("stop", "loaded", "stopped")
    };
    let mut waiting = Vec::new();
    let mut exit = 0;
    for unit in &units {
        let global = is_global(unit);
        if !global && !unload && unit.current_state == "inactive" {
            session.console.err_line(&format!(
                "Unable to stop unit {} in state inactive",
                unit.name
            ));
            return 1;
        }
        if !global && unit.current_state == state {
            tracing::debug!(name = unit.name, state, "unit already there, skipping");
            continue;
        }
        if let Err(error) = session.client.set_desired_state(&unit.name, state).await {
            session.console.err_line(&format!(
                "Error setting target state of unit {}: {error}",
                unit.name
            ));
            exit = 1;
            continue;
        }
        if global {
            session
                .console
                .out_line(&format!("Triggered global unit {} {verb}", unit.name));
        } else {
            waiting.push(unit.name.clone());
        }
    }
    let blocking = Blocking::from_flags(args.no_block, args.block_attempts);
    let goal = Goal::State {
        state,
        explain_pending: false,
    };
    let errors = wait(session, &waiting, goal, verb, blocking).await;
    for error in &errors {
        session
            .console
            .err_line(&format!("Error waiting for units: {error}"));
    }
    if errors.is_empty() && exit == 0 {
        session
            .console
            .err_line(&format!("Successfully {done} units {}.", go_list(&waiting)));
        0
    } else {
        session.console.err_line(&format!(
            "Failed to {verb} units {}. exit status 1",
            go_list(&waiting)
        ));
        1
    }
}

/// `destroy`: deletes each unit, waits until it is gone (unless `--no-block`) and prints
/// `Destroyed <name>`. A unit deleted meanwhile by someone else counts as destroyed.
pub async fn destroy(session: &mut Session<'_>, args: &BlockArgs) -> i32 {
    let units = match named_units(session, &args.units).await {
        Ok(units) => units,
        Err(code) => return code,
    };
    let blocking = Blocking::from_flags(args.no_block, args.block_attempts);
    let mut exit = 0;
    for unit in &units {
        match session.client.destroy_unit(&unit.name).await {
            Ok(()) => {}
            Err(error) if error.is_not_found() => continue,
            Err(error) => {
                session
                    .console
                    .err_line(&format!("Error destroying units: {error}"));
                exit = 1;
                continue;
            }
        }
        let names = [unit.name.clone()];
        let errors = wait(session, &names, Goal::Gone, "destroy", blocking).await;
        if let Some(error) = errors.first() {
            session
                .console
                .err_line(&format!("Error destroying units: {error}"));
            exit = 1;
            continue;
        }
        session
            .console
            .out_line(&format!("Destroyed {}", unit.name));
    }
    exit
}

/// `restart`: launched units go to `loaded` and back to `launched`, loaded ones to
/// `launched`; each step waits as `stop` and `start` do.
pub async fn restart(session: &mut Session<'_>, args: &RestartArgs) -> i32 {
    let units = match named_units(session, &args.units).await {
        Ok(units) => units,
        Err(code) => return code,
    };
    let mut exit = 0;
    let mut restarting = Vec::new();
    for unit in &units {
        if is_global(unit) {
            session.console.err_line(&format!(
                "Unable to restart global unit {}: stop and start it instead",
                unit.name
            ));
            exit = 1;
        } else if unit.current_state == "inactive" || unit.current_state.is_empty() {
            session.console.err_line(&format!(
                "Unable to restart unit {} in state inactive",
                unit.name
            ));
            return 1;
        } else {
            restarting.push(unit);
        }
    }
    let blocking = Blocking::from_flags(false, args.block_attempts);
    let launched: Vec<String> = restarting
        .iter()
        .filter(|unit| unit.current_state == "launched")
        .map(|unit| unit.name.clone())
        .collect();
    let names: Vec<String> = restarting.iter().map(|unit| unit.name.clone()).collect();
    let steps: [(&[String], &'static str, &'static str); 2] =
        [(&launched, "loaded", "stop"), (&names, "launched", "start")];
    for (step_names, state, verb) in steps {
        if let Err(error) = set_desired_states(session, step_names, state).await {
            session
                .console
                .err_line(&format!("Error restarting units: {error}"));
            return 1;
        }
        let goal = Goal::State {
            state,
            explain_pending: true,
        };
        let errors = wait(session, step_names, goal, verb, blocking).await;
        if !report(session, errors, "unit states") {
            return 1;
        }
    }
    let errors = wait(session, &names, Goal::SystemdActive, "start", blocking).await;
    if !report(session, errors, "systemd unit states") {
        return 1;
    }
    exit
}
