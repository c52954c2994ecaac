//! `why UNIT`: every live machine's verdict on a unit, as fleetd's engine rules judge it
//! (`GET /keel/v1/units/{name}/why`), so a unit that waits is never a silent wait.
//!
//! Output: one line saying where the unit stands (placed, pending with the engine's reason,
//! inactive, global, a batch job finished), then (except for a finished job) a table with
//! MACHINE, IP and VERDICT: `filtered: <rule>` or the score, the chosen machine marked. Exit
//! status 0 when the unit exists, 1 otherwise.

use crate::cli::WhyArgs;
use crate::session::{machine_id_legend, Session};
use crate::table::render;
use fleet_api::keel::{MachineVerdict, Why};
use fleet_core::name::mangle;

/// `why UNIT`.
pub async fn why(session: &mut Session<'_>, args: &WhyArgs) -> i32 {
    let [argument] = args.units.as_slice() else {
        session.console.err_line("One unit must be provided");
        return 1;
    };
    let name = mangle(argument);
    let why = match session.client.why(&name).await {
        Ok(why) => why,
        Err(error) if error.is_not_found() => {
            session.console.err_line(&format!("Unit {name} not found"));
            return 1;
        }
        Err(error) => {
            session
                .console
                .err_line(&format!("Error explaining unit {name}: {error}"));
            return 1;
        }
    };
    session.console.out_line(&standing(&why, args.full));
    if why.completion.is_some() {
        session.console.out_line(
            "It does not run again until its file changes or it is unloaded and started again",
        );
        return 0;
    }
    if why.machines.is_empty() {
        session.console.out_line("No machines in the cluster");
        return 0;
    }
    let mut rows = Vec::new();
    if !args.no_legend {
        rows.push(vec!["MACHINE".into(), "IP".into(), "VERDICT".into()]);
    }
    for machine in &why.machines {
        rows.push(vec![
            machine_id_legend(&machine.machine, args.full),
            if machine.primary_ip.is_empty() {
                "-".to_owned()
            } else {
                machine.primary_ip.clone()
            },
            verdict(&why, machine),
        ]);
    }
    session.console.out_text(&render(&rows));
    0
}

/// The first line: where the unit stands.
fn standing(why: &Why, full: bool) -> String {
    let unit = &why.unit;
    if let Some(completion) = &why.completion {
        let machine = machine_id_legend(&completion.machine, full);
        return format!("{unit} finished on {machine}: {}", completion.summary);
    }
    if why.global {
        return format!("{unit} is global: it runs on every machine no rule filters out");
    }
    if let Some(machine) = &why.placed {
        return format!("{unit} is placed on {}", machine_id_legend(machine, full));
    }
    if why.desired_state == "inactive" {
        return format!("{unit} is inactive: it is not scheduled anywhere");
    }
    match (&why.pending, &why.best) {
        (Some(reason), _) => format!("{unit} is pending: {reason}"),
        (None, Some(_)) => format!("{unit} is waiting for the engine's next pass"),
        (None, None) => format!("{unit} is pending: no machine accepts it"),
    }
}

fn verdict(why: &Why, machine: &MachineVerdict) -> String {
    let mut text = match (&machine.filtered, &machine.score) {
        (Some(rule), _) => format!("filtered: {rule}"),
        (None, Some(score)) => score.to_string(),
        (None, None) => "eligible".to_owned(),
    };
    if why.placed.as_ref() == Some(&machine.machine) {
        text.push_str(" (placed here)");
    } else if why.best.as_ref() == Some(&machine.machine) {
        text.push_str(" (best)");
    }
    text
}
