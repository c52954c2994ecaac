//! `GET /state` and `GET /state/{name}`: the systemd state of units on their machines, from
//! the agents' reports.
//!
//! Invariants: only reports from present machines are shown (Keel's reports have no TTL; a
//! machine that left keeps its reports until the engine removes them); lists are ordered by
//! (unit, machine), filtered by `machineID` and `unitName` (exact, first value) before
//! paging; the single state is the first present machine's report in that order.

use crate::api::error::ApiError;
use crate::api::request::{logged, ItemName, QueryParams};
use crate::api::ApiState;
use axum::extract::State;
use axum::Json;
use fleet_api::entities::{UnitState, UnitStatePage};
use fleet_api::page;

const STATE_MISSING: &str = "unit state does not exist";

/// Every report from a present machine, by (unit, machine).
async fn present_states(state: &ApiState) -> Result<Vec<UnitState>, ApiError> {
    let registry = state.registry();
    let (reports, machines) = tokio::try_join!(registry.states(), registry.machines())?;
    let reports = logged(reports, "state report");
    let machines = logged(machines, "machine record");
    Ok(reports
        .into_iter()
        .filter(|(_, report)| machines.contains_key(&report.machine))
        .map(|((unit, _), report)| UnitState {
            name: unit,
            hash: report.hash.to_hex(),
            machine_id: report.machine.as_str().to_owned(),
            load_state: report.load_state,
            active_state: report.active_state,
            sub_state: report.sub_state,
        })
        .collect())
}

/// `GET /state`.
pub(crate) async fn list(
    State(state): State<ApiState>,
    query: QueryParams,
) -> Result<Json<UnitStatePage>, ApiError> {
    let token = query.page_token(state.token_limit())?;
    let machine = query.first("machineID").unwrap_or_default();
    let unit = query.first("unitName").unwrap_or_default();
    let states: Vec<UnitState> = present_states(&state)
        .await?
        .into_iter()
        .filter(|report| machine.is_empty() || report.machine_id == machine)
        .filter(|report| unit.is_empty() || report.name == unit)
        .collect();
    let page = page::slice(states, token, state.token_limit());
    Ok(Json(UnitStatePage {
        states: page.items,
        next_page_token: page.next.map(|next| next.encode()).unwrap_or_default(),
    }))
}

/// `GET /state/{name}`.
pub(crate) async fn get(
    State(state): State<ApiState>,
    item: ItemName,
) -> Result<Json<UnitState>, ApiError> {
    let name = item.unit(STATE_MISSING)?;
    present_states(&state)
        .await?
        .into_iter()
        .find(|report| report.name == name.as_str())
        .map(Json)
        .ok_or_else(|| ApiError::not_found(STATE_MISSING))
}
