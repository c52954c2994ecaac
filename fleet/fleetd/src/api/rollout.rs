//! Keel's rollout routes (`fleetctl replace`): `PUT /keel/v1/units/{name}/rollout` asks for a
//! rolling replacement of a unit, a template's instances or a global unit's machines with a
//! new file; `GET` on the same path and `GET /keel/v1/rollouts` show where rollouts stand.
//!
//! The PUT stores the new file (`unit/<hash>`) and the record (`job/<name>/rollout`), and for
//! a template also points the template at the new file, so instances created from now on
//! (`scale`) get it; the leading engine does the rest (`engine::rollout`). A newer PUT
//! replaces a running rollout. Refused before anything is written: a unit that does not
//! exist (404), options that do not make a valid unit file (400, as fleet's PUT), a
//! `maxParallel` of 0 or above the replica limit (400), and a global unit whose new file
//! changes its `[X-Fleet]` section (400: that section chooses the machines being rolled).

use crate::api::current::is_global;
use crate::api::error::ApiError;
use crate::api::put::{check_content_type, unit_file};
use crate::api::request::{logged, read_body, ItemName};
use crate::api::units::{existing_unit, stored_file, UNIT_MISSING};
use crate::api::ApiState;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::Json;
use fleet_api::keel::{ReplaceRequest, Rollout, RolloutList};
use fleet_core::replicas::REPLICAS_MAX;
use fleet_core::rollout::{whole_millis, Progress, Strategy};
use fleet_core::unit_file::UnitFile;
use fleet_registry::wire::{RolloutRecord, RolloutState};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// `PUT /keel/v1/units/{name}/rollout`: 202 with the record as stored.
pub(crate) async fn put(
    State(state): State<ApiState>,
    item: ItemName,
    request: Request,
) -> Result<(StatusCode, Json<Rollout>), ApiError> {
    check_content_type(request.headers())?;
    let body = read_body(request.into_body()).await?;
    let name = item.unit(UNIT_MISSING)?;
    let wanted: ReplaceRequest = serde_json::from_slice(&body)
        .map_err(|error| ApiError::bad_request(format!("unable to decode body: {error}")))?;
    let strategy = strategy(&wanted)?;
    let file = unit_file(&name, wanted.options)?;
    let registry = state.registry();
    let job = existing_unit(registry, &name).await?;
    let stored = stored_file(registry, &job).await?;
    check_global(name.as_str(), &stored, &file)?;
    let hash = registry.put_unit_file(&file).await?;
    if name.is_template() && job.hash != hash {
        registry.set_unit_hash(name.as_str(), hash).await?;
    }
    let record = RolloutRecord {
        hash,
        strategy,
        state: RolloutState::Running,
        progress: Progress::default(),
        started: SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |since| since.as_secs()),
    };
    registry.put_rollout(name.as_str(), &record).await?;
    tracing::info!(unit = %name, hash = %hash, "rollout asked for");
    Ok((StatusCode::ACCEPTED, Json(shown(name.as_str(), &record))))
}

/// `GET /keel/v1/units/{name}/rollout`.
pub(crate) async fn get(
    State(state): State<ApiState>,
    item: ItemName,
) -> Result<Json<Rollout>, ApiError> {
    let name = item.unit(UNIT_MISSING)?;
    let job = existing_unit(state.registry(), &name).await?;
    let (record, _) = job
        .rollout
        .ok_or_else(|| ApiError::not_found("unit has no rollout"))?;
    Ok(Json(shown(name.as_str(), &record)))
}

/// `GET /keel/v1/rollouts`.
pub(crate) async fn list(State(state): State<ApiState>) -> Result<Json<RolloutList>, ApiError> {
    let jobs = logged(state.registry().units().await?, "unit");
    let rollouts = jobs
        .iter()
        .filter_map(|(name, job)| Some(shown(name, &job.rollout.as_ref()?.0)))
        .collect();
    Ok(Json(RolloutList { rollouts }))
}

fn strategy(wanted: &ReplaceRequest) -> Result<Strategy, ApiError> {
    let defaults = Strategy::default();
    let max_parallel = wanted.max_parallel.unwrap_or(defaults.max_parallel);
    if max_parallel == 0 || max_parallel > REPLICAS_MAX {
        return Err(ApiError::bad_request(format!(
            "maxParallel must be between 1 and {REPLICAS_MAX}, not {max_parallel}"
        )));
    }
    Ok(Strategy {
        max_parallel,
        min_healthy: wanted
            .min_healthy_time_ms
            .map_or(defaults.min_healthy, Duration::from_millis),
        deadline: wanted
            .healthy_deadline_ms
            .map_or(defaults.deadline, Duration::from_millis),
    })
}

/// A global unit's `[X-Fleet]` section decides its machines, which a rollout walks over: it
/// must stay as it is, and a unit may not become global or stop being global.
fn check_global(name: &str, stored: &UnitFile, new: &UnitFile) -> Result<(), ApiError> {
    let (was, becomes) = (is_global(name, stored), is_global(name, new));
    if was != becomes {
        return Err(ApiError::bad_request(format!(
            "a rolling replace cannot change whether {name} is global; destroy and start it instead"
        )));
    }
    let section = |file: &UnitFile| {
        file.options()
            .iter()
            .filter(|option| option.section == "X-Fleet")
            .map(|option| (option.name.clone(), option.value.clone()))
            .collect::<Vec<_>>()
    };
    if was && section(stored) != section(new) {
        return Err(ApiError::bad_request(format!(
            "a rolling replace of global unit {name} must keep its [X-Fleet] section (it chooses the machines); destroy and start it to change them"
        )));
    }
    Ok(())
}

fn shown(unit: &str, record: &RolloutRecord) -> Rollout {
    let failure = record.state.failure();
    Rollout {
        unit: unit.to_owned(),
        hash: record.hash.to_hex(),
        state: record.state.as_str().to_owned(),
        max_parallel: record.strategy.max_parallel,
        min_healthy_time_ms: whole_millis(record.strategy.min_healthy),
        healthy_deadline_ms: whole_millis(record.strategy.deadline),
        total: record.progress.total,
        updated: record.progress.updated,
        healthy: record.progress.healthy,
        failed_target: failure.map(|f| f.target.clone()),
        failed_machine: failure.and_then(|f| f.machine.clone()),
        reason: failure.map(|f| f.reason.clone()),
        started: record.started,
    }
}
