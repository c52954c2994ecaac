//! `GET /keel/v1/units/{name}/why`: every live machine's verdict on a unit, the answer to
//! "why is my unit not running (there)" (coreos/fleet#1348, #559).
//!
//! Any fleetd answers, leading the engine or not: it reads the units, the machines and the
//! unit files from Keel (three reads), builds the engine's snapshot the way the engine does
//! (`engine::reconcile::snapshot`) and asks `fleet_core::schedule::explain`, so the verdicts
//! are the rules and scores the engine applies. A unit the engine cannot schedule at all (an
//! unreadable file, bad `[X-Fleet]` options) is answered 409 with the reason. A batch job
//! that finished on its current file is answered with how it ended and no verdicts: the
//! engine does not place it again.

use crate::api::completions;
use crate::api::error::ApiError;
use crate::api::request::{logged, ItemName};
use crate::api::units::UNIT_MISSING;
use crate::api::ApiState;
use crate::engine::reconcile::{snapshot, UnitFiles};
use axum::extract::State;
use axum::Json;
use fleet_api::keel::{MachineVerdict, Score, Why};
use fleet_core::schedule::{explain, Verdict};

/// `GET /keel/v1/units/{name}/why`.
pub(crate) async fn why(
    State(state): State<ApiState>,
    item: ItemName,
) -> Result<Json<Why>, ApiError> {
    let name = item.unit(UNIT_MISSING)?;
    let registry = state.registry();
    let jobs = logged(registry.units().await?, "unit");
    let job = jobs
        .get(name.as_str())
        .cloned()
        .ok_or_else(|| ApiError::not_found(UNIT_MISSING))?;
    if let Some(completion) = completions::finished(&job) {
        return Ok(Json(Why {
            unit: job.name,
            placed: Some(completion.machine.clone()),
            desired_state: job.desired.as_str().to_owned(),
            completion: Some(completion),
            ..Why::default()
        }));
    }
    let machines = logged(registry.machines().await?, "machine record");
    let files = logged(registry.unit_files().await?, "unit file");
    let mut files = UnitFiles::with_files(files.into_iter().collect());
    let (cluster, skipped) = snapshot(&jobs, &machines, &mut files);
    if let Some(skipped) = skipped.iter().find(|skipped| skipped.unit == job.name) {
        return Err(ApiError::conflict(format!(
            "unit {} cannot be scheduled: {}",
            job.name, skipped.why
        )));
    }
    let global = cluster
        .units
        .get(name.as_str())
        .is_some_and(|unit| unit.requirements.global);
    let explanation =
        explain(&cluster, name.as_str()).ok_or_else(|| ApiError::not_found(UNIT_MISSING))?;
    let verdicts = explanation
        .machines
        .into_iter()
        .map(|(machine, verdict)| {
            let primary_ip = machines
                .get(&machine)
                .map(|object| object.public_ip.clone())
                .unwrap_or_default();
            let (filtered, score) = match verdict {
                Verdict::Filtered(refusal) => (Some(refusal.to_string()), None),
                Verdict::Eligible(score) => (None, score.map(score_body)),
            };
            MachineVerdict {
                machine: machine.to_string(),
                primary_ip,
                filtered,
                score,
            }
        })
        .collect();
    Ok(Json(Why {
        unit: job.name,
        global,
        placed: explanation.placed.map(|machine| machine.to_string()),
        best: explanation.best.map(|machine| machine.to_string()),
        pending: job.pending.map(|pending| pending.reason),
        desired_state: job.desired.as_str().to_owned(),
        completion: None,
        machines: verdicts,
    }))
}

fn score_body(score: fleet_core::schedule::Score) -> Score {
    Score {
        total: score.total,
        spread: score.spread,
        zone: score.zone,
        free: score.free,
        load: score.load,
    }
}
