//! `GET /keel/v1/completions`: every batch job that finished on its current file, with how
//! it ended, so `list-unit-files` shows `completed` or `failed (…)` with one read.
//!
//! A completion of an older file, or of a unit desired `inactive`, is not listed: that job
//! runs (again) when it is started (`fleet_registry::JobView::finished`).

use crate::api::error::ApiError;
use crate::api::request::logged;
use crate::api::ApiState;
use axum::extract::State;
use axum::Json;
use fleet_api::keel::{Completion, CompletionList};
use fleet_registry::view::JobView;
use fleet_registry::wire::CompletionRecord;

/// `GET /keel/v1/completions`.
pub(crate) async fn list(State(state): State<ApiState>) -> Result<Json<CompletionList>, ApiError> {
    let jobs = logged(state.registry().units().await?, "unit");
    let completions = jobs.values().filter_map(finished).collect();
    Ok(Json(CompletionList { completions }))
}

/// How `job` ended, if it is a batch job finished on its current file.
pub(crate) fn finished(job: &JobView) -> Option<Completion> {
    let record = job.completion.as_ref().filter(|_| job.finished())?;
    Some(body(&job.name, record))
}

fn body(unit: &str, record: &CompletionRecord) -> Completion {
    Completion {
        unit: unit.to_owned(),
        machine: record.machine.to_string(),
        result: record.result.clone(),
        exit_status: record.exit_status,
        finished: record.finished_ms,
        summary: record.summary(),
    }
}
