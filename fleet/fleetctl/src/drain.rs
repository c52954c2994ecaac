//! `drain MACHINE` and `uncordon MACHINE`: take a machine out of scheduling and move its
//! units away (coreos/fleet#1232), and let it take units again
//! (`PUT`/`DELETE /keel/v1/machines/{id}/cordon`).
//!
//! The machine is named by its ID or a unique prefix of it, as `list-machines` shows it.
//! `drain` waits (unless `--no-block`, bounded by `--block-attempts`) until no unit but
//! global ones is placed there.

use crate::cli::DrainArgs;
use crate::session::{machine_id_legend, Blocking, Session};
use crate::units::is_global;
use crate::wait::poll_until;

/// `drain` (`cordoned`) or `uncordon`.
pub async fn drain(session: &mut Session<'_>, args: &DrainArgs, cordoned: bool) -> i32 {
    let machine = match resolve(session, &args.machine).await {
        Ok(machine) => machine,
        Err(error) => {
            session.console.err_line(&error);
            return 1;
        }
    };
    let legend = machine_id_legend(&machine, false);
    if let Err(error) = session.client.cordon(&machine, cordoned).await {
        let verb = if cordoned { "draining" } else { "uncordoning" };
        session
            .console
            .err_line(&format!("Error {verb} machine {legend}: {error}"));
        return 1;
    }
    if !cordoned {
        session
            .console
            .out_line(&format!("Machine {legend} uncordoned"));
        return 0;
    }
    let blocking = Blocking::from_flags(args.no_block, args.block_attempts);
    if blocking == Blocking::NoBlock {
        session
            .console
            .out_line(&format!("Triggered machine {legend} drain"));
        return 0;
    }
    wait_until_empty(session, &machine, &legend, blocking).await
}

/// The full ID of the machine `argument` names: itself, or the one machine it prefixes.
async fn resolve(session: &mut Session<'_>, argument: &str) -> Result<String, String> {
    let machines = session
        .client
        .machines()
        .await
        .map_err(|error| format!("Error retrieving list of active machines: {error}"))?;
    if machines.iter().any(|machine| machine.id == argument) {
        return Ok(argument.to_owned());
    }
    let matching: Vec<&str> = machines
        .iter()
        .map(|machine| machine.id.as_str())
        .filter(|id| !argument.is_empty() && id.starts_with(argument))
        .collect();
    match matching.as_slice() {
        [one] => Ok((*one).to_owned()),
        [] => Err(format!("Machine {argument} not found")),
        _ => Err(format!(
            "Machine {argument} is ambiguous: it prefixes {} machines",
            matching.len()
        )),
    }
}

/// Polls the units until none but global ones is placed on `machine`.
async fn wait_until_empty(
    session: &mut Session<'_>,
    machine: &str,
    legend: &str,
    blocking: Blocking,
) -> i32 {
    let mut left: Vec<String> = Vec::new();
    let waited = poll_until(session, blocking, async |session: &mut Session<'_>| {
        let units = session.client.units().await.map_err(|error| {
            tracing::debug!(%error, "units not readable while draining");
        })?;
        left = units
            .iter()
            .filter(|unit| unit.machine_id == machine && !is_global(unit))
            .map(|unit| unit.name.clone())
            .collect();
        if left.is_empty() {
            Ok(())
        } else {
            Err(())
        }
    })
    .await;
    if waited.is_ok() {
        session
            .console
            .out_line(&format!("Machine {legend} drained"));
        return 0;
    }
    session.console.err_line(&format!(
        "Error waiting for machine {legend} to drain: timed out with {} unit(s) left: {}",
        left.len(),
        left.join(", ")
    ));
    1
}
