//! `GET /units`, `GET /units/{name}` and `DELETE /units/{name}` (the PUT is in `put.rs`):
//! units as fleet's API shows them, with their options, desired state, derived current state
//! and placement.
//!
//! Invariants: lists are ordered by name and paged after everything unreadable is left out
//! (and logged); a unit whose unit file is missing is left out of lists and is a 500 on its
//! own, since its options cannot be shown.

use crate::api::current::{current_state, is_global, Current};
use crate::api::error::ApiError;
use crate::api::request::{logged, ItemName, QueryParams};
use crate::api::ApiState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use fleet_api::entities::{Unit, UnitOption, UnitPage};
use fleet_api::page;
use fleet_core::model::MachineId;
use fleet_core::name::UnitName;
use fleet_core::unit_file::UnitFile;
use fleet_registry::view::{self, JobView};
use fleet_registry::wire::{MachineObject, StateReport};
use fleet_registry::Registry;
use std::collections::BTreeMap;

/// fleet's 404 text for a unit.
pub(crate) const UNIT_MISSING: &str = "unit does not exist";

/// The options of `file` as the API shows them.
pub(crate) fn options(file: &UnitFile) -> Vec<UnitOption> {
    file.options()
        .iter()
        .map(|option| UnitOption {
            section: option.section.clone(),
            name: option.name.clone(),
            value: option.value.clone(),
        })
        .collect()
}

fn entity(job: &JobView, file: &UnitFile, current: &str) -> Unit {
    Unit {
        name: job.name.clone(),
        options: options(file),
        desired_state: job.desired.as_str().to_owned(),
        current_state: current.to_owned(),
        machine_id: job
            .target
            .as_ref()
            .map(|machine| machine.as_str().to_owned())
            .unwrap_or_default(),
    }
}

/// `GET /units`: one page of every unit, by name.
pub(crate) async fn list(
    State(state): State<ApiState>,
    query: QueryParams,
) -> Result<Json<UnitPage>, ApiError> {
    let token = query.page_token(state.token_limit())?;
    let registry = state.registry();
    let (jobs, files, reports, machines) = tokio::try_join!(
        registry.units(),
        registry.unit_files(),
        registry.states(),
        registry.machines(),
    )?;
    let jobs = logged(jobs, "unit record");
    let files = logged(files, "unit file");
    let reports = logged(reports, "state report");
    let machines = logged(machines, "machine record");
    let units: Vec<Unit> = jobs
        .values()
        .filter_map(|job| {
            let Some(file) = files.get(&job.hash) else {
                tracing::warn!(unit = %job.name, hash = %job.hash, "unit file missing; unit left out");
                return None;
            };
            let global = is_global(&job.name, file);
            let current = current_state(
                &job.name,
                global,
                job.target.as_ref(),
                &reports,
                &machines,
            );
            Some(entity(job, file, current.in_list()))
        })
        .collect();
    let page = page::slice(units, token, state.token_limit());
    Ok(Json(UnitPage {
        units: page.items,
        next_page_token: page.next.map(|next| next.encode()).unwrap_or_default(),
    }))
}

/// `GET /units/{name}`.
pub(crate) async fn get(
    State(state): State<ApiState>,
    item: ItemName,
) -> Result<Json<Unit>, ApiError> {
    let name = item.unit(UNIT_MISSING)?;
    let registry = state.registry();
    let job = existing_unit(registry, &name).await?;
    let file = stored_file(registry, &job).await?;
    let current = if is_global(&job.name, &file) {
        Current::Global
    } else {
        match &job.target {
            None => Current::State(fleet_core::model::DesiredState::Inactive),
            Some(target) => target_state(registry, &job.name, target).await?,
        }
    };
    Ok(Json(entity(&job, &file, current.in_item())))
}

/// The record of unit `name`; 404 with fleet's text when there is none.
pub(crate) async fn existing_unit(
    registry: &Registry,
    name: &UnitName,
) -> Result<JobView, ApiError> {
    registry
        .unit(name.as_str())
        .await?
        .ok_or_else(|| ApiError::not_found(UNIT_MISSING))
}

/// The unit file of `job`; a missing one is an internal error.
pub(crate) async fn stored_file(registry: &Registry, job: &JobView) -> Result<UnitFile, ApiError> {
    match registry.unit_file(&job.hash).await? {
        Some(file) => Ok(file),
        None => {
            tracing::warn!(unit = %job.name, hash = %job.hash, "unit file missing");
            Err(ApiError::internal())
        }
    }
}

/// The current state of non-global unit `name` placed on `target`: reads only the target's
/// report and presence.
async fn target_state(
    registry: &Registry,
    name: &str,
    target: &MachineId,
) -> Result<Current, ApiError> {
    let keys = registry.keys();
    let report_key = keys.state(name, target);
    let machine_key = keys.machine_object(target);
    let (report_pairs, machine_pairs) =
        tokio::try_join!(registry.list(&report_key), registry.list(&machine_key))?;
    let reports: BTreeMap<(String, String), StateReport> = logged(
        view::states(
            keys,
            report_pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())),
        ),
        "state report",
    );
    let present: BTreeMap<MachineId, MachineObject> = logged(
        view::machines(
            keys,
            machine_pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())),
        ),
        "machine record",
    );
    Ok(current_state(name, false, Some(target), &reports, &present))
}

/// `DELETE /units/{name}`: removes the record with its placement and pending reason.
pub(crate) async fn delete(
    State(state): State<ApiState>,
    item: ItemName,
) -> Result<StatusCode, ApiError> {
    let name = item.unit(UNIT_MISSING)?;
    if state.registry().destroy_unit(name.as_str()).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found(UNIT_MISSING))
    }
}
