//! Keel's routes under `/keel/v1/units/{name}/`: `pending` (why the engine could not place
//! the unit, coreos/fleet#1348), `status` (`systemctl status` on the unit's host) and
//! `journal` (its journal there, streamed while following).
//!
//! `status` and `journal` run on the unit's host: here when the unit is placed on this
//! machine or the request was forwarded by another fleetd, else forwarded to the host's
//! `APIURL`. A unit with no placement, a global unit, or one placed on a machine that is no
//! longer present is loaded on no machine: 409. A host that publishes no `APIURL` cannot be
//! reached: 502.

use crate::api::current::is_global;
use crate::api::error::ApiError;
use crate::api::forward::{forward, FORWARDED_HEADER};
use crate::api::inspect::{InspectError, JournalRequest};
use crate::api::request::{logged, ItemName, QueryParams};
use crate::api::units::{existing_unit, stored_file, UNIT_MISSING};
use crate::api::ApiState;
use axum::body::Body;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use fleet_core::model::MachineId;
use fleet_core::name::UnitName;
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use serde::Serialize;

/// The body of `GET /keel/v1/units/{name}/pending`.
#[derive(Debug, Serialize)]
pub(crate) struct PendingBody {
    reason: String,
    refusals: Vec<RefusalBody>,
}

#[derive(Debug, Serialize)]
struct RefusalBody {
    machine: String,
    rule: String,
}

/// `GET /keel/v1/units/{name}/pending`.
pub(crate) async fn pending(
    State(state): State<ApiState>,
    item: ItemName,
) -> Result<Json<PendingBody>, ApiError> {
    let name = item.unit(UNIT_MISSING)?;
    let job = existing_unit(state.registry(), &name).await?;
    let pending = job
        .pending
        .ok_or_else(|| ApiError::not_found("unit is not pending"))?;
    Ok(Json(PendingBody {
        reason: pending.reason,
        refusals: pending
            .refusals
            .into_iter()
            .map(|(machine, rule)| RefusalBody { machine, rule })
            .collect(),
    }))
}

/// Where a unit is inspected.
enum Host {
    Here,
    Remote { machine: MachineId, api_url: String },
}

fn not_loaded(name: &UnitName) -> ApiError {
    ApiError::conflict(format!("unit {name} is not loaded on any machine"))
}

/// Finds the unit's host; `forwarded` requests are answered here whatever the placement.
async fn locate(state: &ApiState, name: &UnitName, forwarded: bool) -> Result<Host, ApiError> {
    let registry = state.registry();
    let job = existing_unit(registry, name).await?;
    let file = stored_file(registry, &job).await?;
    let target = match job.target {
        Some(target) if !is_global(&job.name, &file) => target,
        _ => return Err(not_loaded(name)),
    };
    if forwarded || &target == state.machine() {
        return Ok(Host::Here);
    }
    let machines = logged(registry.machines().await?, "machine record");
    let object = machines.get(&target).ok_or_else(|| not_loaded(name))?;
    match &object.api_url {
        Some(api_url) => Ok(Host::Remote {
            machine: target,
            api_url: api_url.clone(),
        }),
        None => Err(ApiError::new(
            StatusCode::BAD_GATEWAY,
            format!("machine {target} hosting unit {name} publishes no API URL"),
        )),
    }
}

fn is_forwarded(headers: &HeaderMap) -> bool {
    headers.contains_key(FORWARDED_HEADER)
}

/// Characters escaped in a forwarded path segment: all but unreserved ones.
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

fn keel_path(name: &UnitName, leaf: &str) -> String {
    format!(
        "/keel/v1/units/{}/{leaf}",
        utf8_percent_encode(name.as_str(), SEGMENT)
    )
}

fn inspect_failed(error: &InspectError) -> ApiError {
    tracing::warn!(%error, "inspecting a unit failed");
    ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, error.to_string())
}

fn text(body: Body) -> Response {
    let content_type = HeaderValue::from_static("text/plain; charset=utf-8");
    ([(header::CONTENT_TYPE, content_type)], body).into_response()
}

/// `GET /keel/v1/units/{name}/status`.
pub(crate) async fn status(
    State(state): State<ApiState>,
    item: ItemName,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let name = item.unit(UNIT_MISSING)?;
    match locate(&state, &name, is_forwarded(&headers)).await? {
        Host::Here => {
            let output = state
                .inspector()
                .status(&name)
                .await
                .map_err(|error| inspect_failed(&error))?;
            Ok(text(Body::from(output)))
        }
        Host::Remote { machine, api_url } => {
            let path = keel_path(&name, "status");
            forward(&api_url, &path, &machine, state.machine()).await
        }
    }
}

/// `GET /keel/v1/units/{name}/journal?lines=N&output=MODE&follow=BOOL`.
pub(crate) async fn journal(
    State(state): State<ApiState>,
    item: ItemName,
    query: QueryParams,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let name = item.unit(UNIT_MISSING)?;
    let request = JournalRequest::from_query(
        query.first("lines"),
        query.first("output"),
        query.first("follow"),
    )
    .map_err(|error| ApiError::bad_request(error.to_string()))?;
    match locate(&state, &name, is_forwarded(&headers)).await? {
        Host::Here => {
            let stream = state
                .inspector()
                .journal(&name, &request)
                .map_err(|error| inspect_failed(&error))?;
            Ok(text(Body::from_stream(stream)))
        }
        Host::Remote { machine, api_url } => {
            let path = format!("{}?{}", keel_path(&name, "journal"), request.to_query());
            forward(&api_url, &path, &machine, state.machine()).await
        }
    }
}
