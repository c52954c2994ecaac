//! `replace UNIT...`: a rolling replacement of units already in the cluster with their local
//! files (coreos/fleet#760): a unit, a template's instances (`replace web@.service`) or a
//! global unit's machines, `--max-parallel` at a time, each behind a health gate (active in
//! systemd for `--min-healthy-time`, within `--healthy-deadline`), stopping at the first
//! failure. `replace --status [UNIT...]` shows where rollouts stand.
//!
//! fleetd's engine drives the rollout (`PUT /keel/v1/units/{name}/rollout`), so it goes on
//! when fleetctl exits; fleetctl only asks and, unless `--no-block`, follows it, printing a
//! line whenever the counts change. Exit status: 0 when every rollout is done, 1 when one
//! failed (saying which target, on which machine, and why) or could not be asked for.

use crate::cli::ReplaceArgs;
use crate::create::local_unit;
use crate::session::{machine_id_legend, Blocking, Session};
use crate::table::render;
use crate::units::api_options;
use crate::wait::poll_until;
use fleet_api::keel::{ReplaceRequest, Rollout};
use fleet_core::rollout::whole_millis;
use std::collections::BTreeMap;
use std::time::Duration;

/// `replace UNIT...` and `replace --status [UNIT...]`.
pub async fn replace(session: &mut Session<'_>, args: &ReplaceArgs) -> i32 {
    if args.status {
        return status(session, args).await;
    }
    if args.units.is_empty() {
        session.console.err_line("No units given");
        return 1;
    }
    let request = match strategy(args) {
        Ok(request) => request,
        Err(error) => {
            session.console.err_line(&error);
            return 1;
        }
    };
    let mut names = Vec::new();
    for argument in &args.units {
        match ask(session, argument, &request).await {
            Ok(name) => names.push(name),
            Err(error) => {
                session.console.err_line(&error);
                return 1;
            }
        }
    }
    let blocking = Blocking::from_flags(args.no_block, args.block_attempts);
    if blocking == Blocking::NoBlock {
        for name in &names {
            session
                .console
                .out_line(&format!("Triggered rolling replace of {name}"));
        }
        return 0;
    }
    follow(session, &names, blocking).await
}

/// The strategy of the flags, with the request's options still empty.
fn strategy(args: &ReplaceArgs) -> Result<ReplaceRequest, String> {
    if args.max_parallel == 0 {
        return Err("--max-parallel must be at least 1".to_owned());
    }
    let millis = |flag: &str, text: &str| -> Result<u64, String> {
        let duration: Duration = humantime::parse_duration(text)
            .map_err(|error| format!("invalid {flag} {text:?}: {error}"))?;
        Ok(whole_millis(duration))
    };
    Ok(ReplaceRequest {
        options: Vec::new(),
        max_parallel: Some(args.max_parallel),
        min_healthy_time_ms: Some(millis("--min-healthy-time", &args.min_healthy_time)?),
        healthy_deadline_ms: Some(millis("--healthy-deadline", &args.healthy_deadline)?),
    })
}

/// Reads the argument's local file and asks for its rollout; the unit's name.
async fn ask(
    session: &mut Session<'_>,
    argument: &str,
    request: &ReplaceRequest,
) -> Result<String, String> {
    let (name, file) = local_unit(argument)?;
    let request = ReplaceRequest {
        options: api_options(&file),
        ..request.clone()
    };
    match session.client.replace(name.as_str(), &request).await {
        Ok(_) => Ok(name.to_string()),
        Err(error) if error.is_not_found() => Err(format!(
            "Unit {name} does not exist in the cluster: start it first; replace updates units that exist"
        )),
        Err(error) => Err(format!("Error replacing {name}: {error}")),
    }
}

/// Follows the rollouts of `names` until each is done or failed.
async fn follow(session: &mut Session<'_>, names: &[String], blocking: Blocking) -> i32 {
    let mut shown: BTreeMap<String, (u32, u32, u32)> = BTreeMap::new();
    let finished = poll_until(session, blocking, async |session: &mut Session<'_>| {
        let rollouts = session.client.rollouts().await.map_err(|error| {
            tracing::debug!(%error, "rollouts not readable while waiting");
        })?;
        let mine: Vec<Rollout> = rollouts
            .into_iter()
            .filter(|rollout| names.contains(&rollout.unit))
            .collect();
        for rollout in &mine {
            let counts = (rollout.total, rollout.updated, rollout.healthy);
            // A record the engine has not counted yet (total 0) says nothing worth a line.
            let counted = rollout.total > 0;
            if rollout.state == "running" && counted && shown.get(&rollout.unit) != Some(&counts) {
                shown.insert(rollout.unit.clone(), counts);
                session.console.out_line(&format!(
                    "{}: {} of {} on the new file, {} healthy",
                    rollout.unit, rollout.updated, rollout.total, rollout.healthy
                ));
            }
        }
        let settled = mine.len() == names.len() && mine.iter().all(|r| r.state != "running");
        if settled {
            Ok(mine)
        } else {
            Err(())
        }
    })
    .await;
    let Ok(rollouts) = finished else {
        session.console.err_line(
            "Error waiting for the rolling replace: timed out (it goes on; see replace --status)",
        );
        return 1;
    };
    let mut status = 0;
    for rollout in &rollouts {
        if rollout.state == "done" {
            session.console.out_line(&format!(
                "Replaced {}: {} of {} healthy on the new file",
                rollout.unit, rollout.healthy, rollout.total
            ));
        } else {
            session.console.err_line(&format!(
                "Rolling replace of {} stopped: {}",
                rollout.unit,
                failure(rollout, true)
            ));
            status = 1;
        }
    }
    status
}

/// `<target> on <machine>: <reason>`.
fn failure(rollout: &Rollout, full: bool) -> String {
    let target = rollout.failed_target.as_deref().unwrap_or("a target");
    let reason = rollout.reason.as_deref().unwrap_or("failed");
    match &rollout.failed_machine {
        Some(machine) if machine != target => {
            format!("{target} on {}: {reason}", machine_id_legend(machine, full))
        }
        _ => format!("{target}: {reason}"),
    }
}

/// `replace --status [UNIT...]`: UNIT, STATE, HEALTHY (of total), STRATEGY, DETAIL.
async fn status(session: &mut Session<'_>, args: &ReplaceArgs) -> i32 {
    let rollouts = match session.client.rollouts().await {
        Ok(rollouts) => rollouts,
        Err(error) => {
            session
                .console
                .err_line(&format!("Error retrieving rollouts: {error}"));
            return 1;
        }
    };
    let wanted: Vec<String> = args
        .units
        .iter()
        .map(|unit| fleet_core::name::mangle(unit))
        .collect();
    let mut rows = vec![vec![
        "UNIT".to_owned(),
        "STATE".to_owned(),
        "HEALTHY".to_owned(),
        "STRATEGY".to_owned(),
        "DETAIL".to_owned(),
    ]];
    for rollout in rollouts
        .iter()
        .filter(|rollout| wanted.is_empty() || wanted.contains(&rollout.unit))
    {
        let detail = match rollout.state.as_str() {
            "failed" => failure(rollout, false),
            "running" => format!("{} on the new file", rollout.updated),
            _ => "-".to_owned(),
        };
        rows.push(vec![
            rollout.unit.clone(),
            rollout.state.clone(),
            format!("{}/{}", rollout.healthy, rollout.total),
            format!(
                "max-parallel {}, min-healthy {}",
                rollout.max_parallel,
                humantime::format_duration(Duration::from_millis(rollout.min_healthy_time_ms))
            ),
            detail,
        ]);
    }
    if rows.len() == 1 {
        session.console.out_line("No rollouts");
        return 0;
    }
    session.console.out_text(&render(&rows));
    0
}
