//! Blocking: waiting until units reach a state, as fleet's fleetctl does (`checkUnitState`,
//! `tryWaitForSystemdActiveState`), plus Keel's explanation of units the engine cannot place.
//!
//! Owns [`Goal`], [`wait`] and the texts of success lines, timeouts and the pending
//! explanation. Invariants: every unit is polled once per round, in the order given, so
//! output is deterministic; with [`Blocking::Attempts`] the wait ends after attempts × polls
//! per attempt rounds; a pending explanation is printed once per unit and again only when it
//! changes; nothing here sleeps once every unit has reached its goal.
//!
//! The pending explanation reads (on stderr, the refusals indented by two spaces, machines by
//! their short ID):
//!
//! ```text
//! Unit web.service cannot be placed yet: no machine satisfies its requirements
//!   113f16a7...: MachineMetadata region=us-east not matched
//! ```
//!
//! With more than eight refusals, machines are counted per rule instead
//! (`  insufficient memory: 700 machine(s)`), followed by a pointer to `fleetctl why`.

use crate::client::Pending;
use crate::session::{machine_full_legend, machine_id_legend, Blocking, Session};
use crate::units::is_global;
use fleet_api::entities::UnitState;
use std::collections::BTreeMap;

/// What a wait is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Goal {
    /// The unit's current state (a global unit's desired state) equals `state`; a success
    /// line is printed. With `explain_pending`, units the engine cannot place are explained.
    State {
        /// `inactive`, `loaded` or `launched`.
        state: &'static str,
        /// Whether to ask fleetd why an unplaced unit is pending.
        explain_pending: bool,
    },
    /// systemd reports the unit `loaded` and `active` (`GET /fleet/v1/state/{name}`); no
    /// line is printed.
    SystemdActive,
    /// The unit no longer exists.
    Gone,
}

/// What was last shown or seen for one unit.
#[derive(Debug, Default)]
struct Notes {
    pending: Option<Pending>,
    systemd: Option<UnitState>,
    failure_shown: bool,
}

/// Waits for each of `names` to reach `goal` under `blocking`, printing success lines as
/// units arrive. With [`Blocking::NoBlock`] nothing is polled: for a state goal fleet's
/// `Triggered unit <name> <verb>` line is printed for each. Returns the error texts (one per
/// unit that timed out); the caller prefixes them.
pub async fn wait(
    session: &mut Session<'_>,
    names: &[String],
    goal: Goal,
    verb: &str,
    blocking: Blocking,
) -> Vec<String> {
    if blocking == Blocking::NoBlock {
        if matches!(goal, Goal::State { .. }) {
            for name in names {
                session
                    .console
                    .out_line(&format!("Triggered unit {name} {verb}"));
            }
        }
        return Vec::new();
    }
    let polls_max = blocking.polls_max(session.poll);
    let mut notes: BTreeMap<String, Notes> = BTreeMap::new();
    let mut waiting: Vec<String> = names.to_vec();
    let mut polls: u64 = 0;
    loop {
        let mut still = Vec::new();
        for name in waiting {
            let unit_notes = notes.entry(name.clone()).or_default();
            if !reached(session, &name, goal, unit_notes).await {
                still.push(name);
            }
        }
        waiting = still;
        if waiting.is_empty() {
            return Vec::new();
        }
        polls += 1;
        if polls_max.is_some_and(|max| polls >= max) {
            return waiting
                .iter()
                .map(|name| timeout_text(name, goal, notes.get(name)))
                .collect();
        }
        tokio::time::sleep(session.poll.interval).await;
    }
}

fn timeout_text(name: &str, goal: Goal, notes: Option<&Notes>) -> String {
    match goal {
        Goal::State { state, .. } => {
            format!("timed out waiting for unit {name} to report state {state}")
        }
        Goal::SystemdActive => match notes.and_then(|notes| notes.systemd.as_ref()) {
            Some(seen) => format!(
                "timed out waiting for unit {name} to report active state (systemd: {}/{}/{})",
                seen.load_state, seen.active_state, seen.sub_state
            ),
            None => format!("timed out waiting for unit {name} to report active state"),
        },
        Goal::Gone => format!("timed out waiting for unit {name} to be destroyed"),
    }
}

/// One poll of one unit; prints its success line when it has arrived.
async fn reached(session: &mut Session<'_>, name: &str, goal: Goal, notes: &mut Notes) -> bool {
    match goal {
        Goal::State {
            state,
            explain_pending,
        } => reached_state(session, name, state, explain_pending, notes).await,
        Goal::SystemdActive => reached_active(session, name, notes).await,
        Goal::Gone => match session.client.unit(name).await {
            Ok(unit) => unit.is_none(),
            Err(error) => {
                tracing::debug!(%error, name, "unit not readable while waiting");
                false
            }
        },
    }
}

async fn reached_state(
    session: &mut Session<'_>,
    name: &str,
    state: &str,
    explain_pending: bool,
    notes: &mut Notes,
) -> bool {
    let unit = match session.client.unit(name).await {
        Ok(Some(unit)) => unit,
        Ok(None) => return false,
        Err(error) => {
            tracing::debug!(%error, name, "unit not readable while waiting");
            return false;
        }
    };
    // A global unit has no current state of its own: fleet waits for its desired state.
    let seen = if is_global(&unit) {
        &unit.desired_state
    } else {
        &unit.current_state
    };
    if seen != state {
        if explain_pending && unit.machine_id.is_empty() && !is_global(&unit) {
            explain(session, name, notes).await;
        }
        return false;
    }
    let mut line = format!("Unit {name} {}", unit.current_state);
    if !unit.machine_id.is_empty() {
        if let Some(machine) = session.machine(&unit.machine_id).await {
            line = format!("{line} on {}", machine_full_legend(&machine, false));
        }
    }
    session.console.out_line(&line);
    true
}

/// Prints why `name` cannot be placed, once per distinct explanation.
async fn explain(session: &mut Session<'_>, name: &str, notes: &mut Notes) {
    let pending = match session.client.pending(name).await {
        Ok(Some(pending)) => pending,
        Ok(None) => return,
        Err(error) => {
            tracing::debug!(%error, name, "pending record not readable");
            return;
        }
    };
    if notes.pending.as_ref() == Some(&pending) {
        return;
    }
    for line in pending_lines(name, &pending) {
        session.console.err_line(&line);
    }
    notes.pending = Some(pending);
}

/// Polls `check` every poll interval until it returns `Ok`, within `blocking`'s bound
/// (`Forever` has none; `NoBlock` is the caller's to handle and polls once). `check` gives
/// `Err(seen)` while waiting, `seen` being what the timeout message reports; the last one
/// is returned when the bound is reached.
pub async fn poll_until<T, S>(
    session: &mut Session<'_>,
    blocking: Blocking,
    mut check: impl AsyncFnMut(&mut Session<'_>) -> Result<T, S>,
) -> Result<T, S> {
    let polls_max = blocking.polls_max(session.poll);
    let mut polls: u64 = 0;
    loop {
        let seen = match check(session).await {
            Ok(done) => return Ok(done),
            Err(seen) => seen,
        };
        polls += 1;
        if blocking == Blocking::NoBlock || polls_max.is_some_and(|max| polls >= max) {
            return Err(seen);
        }
        tokio::time::sleep(session.poll.interval).await;
    }
}

/// Above this many refusals the explanation counts machines per rule instead of listing
/// them, as Nomad's placement failures do.
const REFUSALS_LISTED_MAX: usize = 8;

/// `  <rule>: N machine(s)`, most machines first: the rule is the text before its first
/// `:` (`insufficient memory`), so refusals that differ only in amounts count together.
fn grouped_refusals(refusals: &[crate::client::Refusal]) -> Vec<String> {
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for refusal in refusals {
        let rule = refusal.rule.split(':').next().unwrap_or_default();
        *counts.entry(rule).or_insert(0) += 1;
    }
    let mut counts: Vec<(&str, usize)> = counts.into_iter().collect();
    counts.sort_by(|left, right| right.1.cmp(&left.1).then(left.0.cmp(right.0)));
    counts
        .into_iter()
        .map(|(rule, count)| format!("  {rule}: {count} machine(s)"))
        .collect()
}

/// The explanation's lines (see the module docs).
#[must_use]
pub fn pending_lines(name: &str, pending: &Pending) -> Vec<String> {
    let reason = if pending.reason.is_empty() {
        "the engine found no machine for it"
    } else {
        &pending.reason
    };
    let mut lines = vec![format!("Unit {name} cannot be placed yet: {reason}")];
    if pending.refusals.len() > REFUSALS_LISTED_MAX {
        lines.extend(grouped_refusals(&pending.refusals));
        lines.push(format!("  (fleetctl why {name} shows every machine)"));
        return lines;
    }
    for refusal in &pending.refusals {
        lines.push(format!(
            "  {}: {}",
            machine_id_legend(&refusal.machine, false),
            refusal.rule
        ));
    }
    lines
}

async fn reached_active(session: &mut Session<'_>, name: &str, notes: &mut Notes) -> bool {
    let state = match session.client.unit_state(name).await {
        Ok(Some(state)) => state,
        Ok(None) => return false,
        Err(error) => {
            tracing::debug!(%error, name, "unit state not readable while waiting");
            return false;
        }
    };
    if state.active_state == "active" && state.load_state == "loaded" {
        return true;
    }
    if state.active_state == "failed" && !notes.failure_shown {
        session.console.err_line(&format!(
            "Unit {name} has failed in systemd ({}/{}); still waiting for it to become active",
            state.active_state, state.sub_state
        ));
        notes.failure_shown = true;
    }
    notes.systemd = Some(state);
    false
}

#[cfg(test)]
mod tests {
    //! The explanation's text. Method: literal pending records.

    use super::*;
    use crate::client::Refusal;

    #[test]
    fn many_refusals_are_counted_per_rule() {
        // Goal: above the listing limit, machines are counted per rule (amounts ignored),
        // most first, with a pointer to `why`.
        let refusal = |n: usize, rule: &str| Refusal {
            machine: format!("{n:032x}"),
            rule: rule.to_owned(),
        };
        let mut refusals: Vec<Refusal> = (0..7)
            .map(|n| refusal(n, &format!("insufficient memory: requests 2G, {n}M free")))
            .collect();
        refusals.extend((7..10).map(|n| refusal(n, "MachineMetadata disk=ssd not matched")));
        let pending = Pending {
            reason: "none of 10 machine(s) accepts it".into(),
            refusals,
        };
        assert_eq!(
            pending_lines("db.service", &pending),
            vec![
                "Unit db.service cannot be placed yet: none of 10 machine(s) accepts it",
                "  insufficient memory: 7 machine(s)",
                "  MachineMetadata disk=ssd not matched: 3 machine(s)",
                "  (fleetctl why db.service shows every machine)",
            ]
        );
    }

    #[test]
    fn pending_explanation_names_each_machine() {
        // Goal: the reason line, then one indented line per refusal with the short ID.
        let pending = Pending {
            reason: "no machine satisfies its requirements".into(),
            refusals: vec![Refusal {
                machine: "113f16a7bdc54e5d8a8aa5ec2c4c5bf6".into(),
                rule: "MachineMetadata region=us-east not matched".into(),
            }],
        };
        assert_eq!(
            pending_lines("web.service", &pending),
            vec![
                "Unit web.service cannot be placed yet: no machine satisfies its requirements"
                    .to_owned(),
                "  113f16a7...: MachineMetadata region=us-east not matched".to_owned(),
            ]
        );
        assert_eq!(
            pending_lines("a.service", &Pending::default()),
            vec!["Unit a.service cannot be placed yet: the engine found no machine for it"]
        );
    }
}
