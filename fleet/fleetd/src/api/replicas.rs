//! Keel's replica routes: `PUT /keel/v1/units/{template}/replicas` (`fleetctl scale`) stores
//! how many numbered instances of a template the engine keeps; `GET /keel/v1/replicas` lists
//! every such template with its instances and how many run.
//!
//! The count goes to `job/<template>/replicas`; the engine does the rest (creates and
//! destroys instances, `fleet_core::replicas`). Refused: a unit that does not exist (404),
//! one that is not a template or a count above `REPLICAS_MAX` (400), a body that is not
//! `{"count": N}` (400, or 415 for another content type).

use crate::api::error::ApiError;
use crate::api::put::check_content_type;
use crate::api::request::{logged, read_body, ItemName};
use crate::api::units::UNIT_MISSING;
use crate::api::ApiState;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::Json;
use fleet_api::keel::{ReplicaList, ReplicaSet, ScaleRequest};
use fleet_core::name::UnitName;
use fleet_core::replicas::{instance_number, REPLICAS_MAX};
use std::collections::BTreeSet;

/// `PUT /keel/v1/units/{template}/replicas`.
pub(crate) async fn put(
    State(state): State<ApiState>,
    item: ItemName,
    request: Request,
) -> Result<StatusCode, ApiError> {
    check_content_type(request.headers())?;
    let body = read_body(request.into_body()).await?;
    let name = item.unit(UNIT_MISSING)?;
    let wanted: ScaleRequest = serde_json::from_slice(&body)
        .map_err(|error| ApiError::bad_request(format!("unable to decode body: {error}")))?;
    if !name.is_template() {
        return Err(ApiError::bad_request(format!(
            "{name} is not a template: only a template (NAME@.service) has replicas"
        )));
    }
    if wanted.count > REPLICAS_MAX {
        return Err(ApiError::bad_request(format!(
            "replica count {} is above the limit of {REPLICAS_MAX}",
            wanted.count
        )));
    }
    let registry = state.registry();
    if registry.unit(name.as_str()).await?.is_none() {
        return Err(ApiError::not_found(UNIT_MISSING));
    }
    registry.set_replicas(name.as_str(), wanted.count).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /keel/v1/replicas`.
pub(crate) async fn list(State(state): State<ApiState>) -> Result<Json<ReplicaList>, ApiError> {
    let registry = state.registry();
    let jobs = logged(registry.units().await?, "unit");
    let reports = logged(registry.states().await?, "state report");
    let running: BTreeSet<&str> = reports
        .iter()
        .filter(|(_, report)| report.active_state == "active")
        .map(|((unit, _), _)| unit.as_str())
        .collect();
    let replicas = jobs
        .values()
        .filter_map(|job| {
            let template = UnitName::parse(&job.name)
                .ok()
                .filter(UnitName::is_template)?;
            let count = job.replicas?;
            let instances: Vec<&str> = jobs
                .keys()
                .map(String::as_str)
                .filter(|unit| instance_number(&template, unit).is_some())
                .collect();
            Some(ReplicaSet {
                template: job.name.clone(),
                count,
                instances: u32::try_from(instances.len()).unwrap_or(u32::MAX),
                running: u32::try_from(instances.iter().filter(|u| running.contains(*u)).count())
                    .unwrap_or(u32::MAX),
            })
        })
        .collect();
    Ok(Json(ReplicaList { replicas }))
}
