//! `fleetlockd`'s server: the FleetLock endpoints over locksmith's semaphores in Keel. The
//! protocol's parsing and answers are `locksmith_core::fleetlock`'s; the semaphore operations
//! are `locksmith_store`'s, so a FleetLock client and `locksmithd` hosts in one group contend
//! for the same document.
//!
//! Invariants: every answer is 200 with an empty body or the protocol's `{"kind","value"}`
//! error; nothing is written for a refused request.

#![warn(missing_docs)]

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use bytes::Bytes;
use kv_client::Client;
use locksmith_core::fleetlock::{parse_request, Refusal, PROTOCOL_HEADER};
use locksmith_core::semaphore::SemaphoreError;
use locksmith_store::{now_ms, SemaphoreStore, StoreError};

/// The router: the two endpoints, and the protocol's error for any other path.
pub fn router(client: Client) -> Router {
    Router::new()
        .route("/v1/pre-reboot", post(pre_reboot))
        .route("/v1/steady-state", post(steady_state))
        .fallback(not_found)
        .with_state(client)
}

/// Serves `router(client)` on `listener` until the process ends.
///
/// # Errors
/// When the listener fails.
pub async fn serve(listener: tokio::net::TcpListener, client: Client) -> std::io::Result<()> {
    axum::serve(listener, router(client)).await
}

async fn pre_reboot(State(client): State<Client>, headers: HeaderMap, body: Bytes) -> Response {
    answer(&client, &headers, &body, Operation::Lock).await
}

async fn steady_state(State(client): State<Client>, headers: HeaderMap, body: Bytes) -> Response {
    answer(&client, &headers, &body, Operation::Unlock).await
}

async fn not_found() -> Response {
    let body = serde_json::json!({"kind": "not_found", "value": "FleetLock serves POST /v1/pre-reboot and POST /v1/steady-state"});
    (StatusCode::NOT_FOUND, Json(body)).into_response()
}

#[derive(Debug, Clone, Copy)]
enum Operation {
    Lock,
    Unlock,
}

#[tracing::instrument(skip(client, headers, body))]
async fn answer(
    client: &Client,
    headers: &HeaderMap,
    body: &[u8],
    operation: Operation,
) -> Response {
    let header = headers
        .get(PROTOCOL_HEADER)
        .and_then(|value| value.to_str().ok());
    let result = match parse_request(header, body) {
        Ok(params) => {
            let store = SemaphoreStore::new(client.clone(), params.locksmith_group());
            let now_ms = now_ms();
            let done = match operation {
                Operation::Lock => store.lock(&params.id, now_ms).await.map(|token| {
                    tracing::info!(id = %params.id, group = %params.group, %token, "slot taken");
                }),
                Operation::Unlock => store.unlock(&params.id, now_ms).await.map(|released| {
                    if released {
                        tracing::info!(id = %params.id, group = %params.group, "slot released");
                    }
                }),
            };
            done.map_err(refusal)
        }
        Err(refusal) => Err(refusal),
    };
    match result {
        Ok(()) => StatusCode::OK.into_response(),
        Err(refusal) => {
            tracing::debug!(?refusal, "refused");
            let status = StatusCode::from_u16(refusal.status()).unwrap_or(StatusCode::BAD_REQUEST);
            (status, Json(refusal.body())).into_response()
        }
    }
}

/// A store failure as the protocol's refusal.
fn refusal(error: StoreError) -> Refusal {
    match error {
        StoreError::Refused(SemaphoreError::Full { .. }) => Refusal::NoSlot(error.to_string()),
        StoreError::Malformed { .. } | StoreError::Directory { .. } | StoreError::Refused(_) => {
            Refusal::BadSemaphore(error.to_string())
        }
        StoreError::Store { .. } | StoreError::Contended { .. } => {
            Refusal::Unavailable(error.to_string())
        }
    }
}
