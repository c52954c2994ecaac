//! Keel's drain routes: `PUT /keel/v1/machines/{id}/cordon` drains a present machine (the
//! engine places nothing there and moves its units away, global units excepted), `DELETE`
//! undrains it. Both answer 204; an unknown or absent machine is 404 for `PUT`, while
//! `DELETE` of a machine that is not drained is a no-op.

use crate::api::error::ApiError;
use crate::api::request::{logged, ItemName};
use crate::api::ApiState;
use axum::extract::State;
use axum::http::StatusCode;
use fleet_core::model::MachineId;

const MACHINE_MISSING: &str = "machine does not exist";

fn machine_id(item: &ItemName) -> Result<MachineId, ApiError> {
    MachineId::parse(&item.0).map_err(|_| ApiError::not_found(MACHINE_MISSING))
}

/// `PUT /keel/v1/machines/{id}/cordon`.
pub(crate) async fn put(
    State(state): State<ApiState>,
    item: ItemName,
) -> Result<StatusCode, ApiError> {
    let machine = machine_id(&item)?;
    let registry = state.registry();
    let machines = logged(registry.machines().await?, "machine record");
    if !machines.contains_key(&machine) {
        return Err(ApiError::not_found(MACHINE_MISSING));
    }
    registry.set_cordon(&machine, true).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `DELETE /keel/v1/machines/{id}/cordon`.
pub(crate) async fn delete(
    State(state): State<ApiState>,
    item: ItemName,
) -> Result<StatusCode, ApiError> {
    let machine = machine_id(&item)?;
    state.registry().set_cordon(&machine, false).await?;
    Ok(StatusCode::NO_CONTENT)
}
