//! `GET /keel/v1/allocation`: each live machine's capacity and the CPU and memory its units
//! ask of it, for dashboards and `fleetctl`-style tools. Any fleetd answers: it reads the
//! units, machines and unit files (three reads), builds the engine's snapshot as the engine
//! does and sums the requests as the scheduler counts them (`fleet_core::schedule::allocation`).

use crate::api::error::ApiError;
use crate::api::request::logged;
use crate::api::ApiState;
use crate::engine::reconcile::{snapshot, UnitFiles};
use axum::extract::State;
use axum::Json;
use fleet_api::keel::{AllocationList, Amount, MachineAllocation};
use fleet_core::resources::Resources;

/// `GET /keel/v1/allocation`.
pub(crate) async fn list(State(state): State<ApiState>) -> Result<Json<AllocationList>, ApiError> {
    let registry = state.registry();
    let jobs = logged(registry.units().await?, "unit");
    let machines = logged(registry.machines().await?, "machine record");
    let files = logged(registry.unit_files().await?, "unit file");
    let mut files = UnitFiles::with_files(files.into_iter().collect());
    let (cluster, _skipped) = snapshot(&jobs, &machines, &mut files);
    let allocation = fleet_core::schedule::allocation(&cluster);
    let machines = cluster
        .machines
        .values()
        .map(|machine| MachineAllocation {
            machine: machine.id.to_string(),
            primary_ip: machines
                .get(&machine.id)
                .map(|object| object.public_ip.clone())
                .unwrap_or_default(),
            capacity: machine.capacity.map(amount),
            allocated: allocation
                .get(&machine.id)
                .copied()
                .map(amount)
                .unwrap_or_default(),
        })
        .collect();
    Ok(Json(AllocationList { machines }))
}

fn amount(resources: Resources) -> Amount {
    Amount {
        cpu_millis: resources.cpu_millis,
        memory_bytes: resources.memory_bytes,
    }
}
