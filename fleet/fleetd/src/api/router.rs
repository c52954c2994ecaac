//! The routing table: fleet's resources under `/fleet/v1` and `/v1-alpha`, Keel's under
//! `/keel/v1`, and what every response gets on its way out.
//!
//! As fleet's server:
//! - another method on a resource is 405 with fleet's text naming the methods it takes,
//!   except the discovery document, where fleet answers 400;
//! - `/` and the bare prefixes are 405; unknown paths, item paths with more segments and
//!   collection paths with a trailing `/` are 404 (with an empty message);
//! - every response carries `Server: fleetd/<version>`;
//! - before readiness every request, known path or not, is 503.
//!
//! A `HEAD` on a GET resource is answered like the GET without its body (axum's rule; fleet
//! answered 405).
//!
//! Invariant: every 4xx and 5xx leaving the router carries the JSON envelope: an answer made
//! by the framework (an extractor's rejection) is rewritten into one.

use crate::api::error::ApiError;
use crate::api::{
    allocation, completions, cordon, discovery, keel, machines, put, replicas, rollout, states,
    units, why, ApiState,
};
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, put};
use axum::Router;

/// The `Server` header of every response.
pub const SERVER_HEADER: &str = concat!("fleetd/", env!("CARGO_PKG_VERSION"));

/// fleet's two prefixes of the v1 API.
const PREFIXES: [&str; 2] = ["/fleet/v1", "/v1-alpha"];

async fn only_get() -> ApiError {
    ApiError::method_not_allowed("only GET supported against this resource")
}

async fn only_get_put_delete() -> ApiError {
    ApiError::method_not_allowed("only GET, PUT and DELETE supported against this resource")
}

async fn only_get_put() -> ApiError {
    ApiError::method_not_allowed("only GET and PUT supported against this resource")
}

async fn only_put() -> ApiError {
    ApiError::method_not_allowed("only PUT supported against this resource")
}

async fn only_put_delete() -> ApiError {
    ApiError::method_not_allowed("only PUT and DELETE supported against this resource")
}

async fn only_get_patch() -> ApiError {
    ApiError::method_not_allowed("only GET and PATCH supported against this resource")
}

async fn method_not_allowed() -> ApiError {
    ApiError::method_not_allowed("")
}

async fn not_found() -> ApiError {
    ApiError::not_found("")
}

fn fleet_routes(router: Router<ApiState>, prefix: &str) -> Router<ApiState> {
    router
        .route(prefix, any(method_not_allowed))
        .route(
            &format!("{prefix}/discovery"),
            get(discovery::get).fallback(discovery::other_method),
        )
        .route(
            &format!("{prefix}/units"),
            get(units::list).fallback(only_get),
        )
        .route(
            &format!("{prefix}/units/{{name}}"),
            get(units::get)
                .put(put::put)
                .delete(units::delete)
                .fallback(only_get_put_delete),
        )
        .route(
            &format!("{prefix}/state"),
            get(states::list).fallback(only_get),
        )
        .route(
            &format!("{prefix}/state/{{name}}"),
            get(states::get).fallback(only_get),
        )
        .route(
            &format!("{prefix}/machines"),
            get(machines::list)
                .patch(machines::patch)
                .fallback(only_get_patch),
        )
}

fn keel_routes(router: Router<ApiState>) -> Router<ApiState> {
    router
        .route(
            "/keel/v1/units/{name}/pending",
            get(keel::pending).fallback(only_get),
        )
        .route(
            "/keel/v1/units/{name}/status",
            get(keel::status).fallback(only_get),
        )
        .route(
            "/keel/v1/units/{name}/journal",
            get(keel::journal).fallback(only_get),
        )
        .route(
            "/keel/v1/units/{name}/why",
            get(why::why).fallback(only_get),
        )
        .route(
            "/keel/v1/units/{name}/replicas",
            put(replicas::put).fallback(only_put),
        )
        .route("/keel/v1/replicas", get(replicas::list).fallback(only_get))
        .route(
            "/keel/v1/units/{name}/rollout",
            get(rollout::get).put(rollout::put).fallback(only_get_put),
        )
        .route("/keel/v1/rollouts", get(rollout::list).fallback(only_get))
        .route(
            "/keel/v1/completions",
            get(completions::list).fallback(only_get),
        )
        .route(
            "/keel/v1/allocation",
            get(allocation::list).fallback(only_get),
        )
        .route(
            "/keel/v1/machines/{name}/cordon",
            put(cordon::put)
                .delete(cordon::delete)
                .fallback(only_put_delete),
        )
        .route("/metrics", get(metrics).fallback(only_get))
}

/// `GET /metrics`: the daemon's Prometheus metrics (`crate::metrics`).
async fn metrics(State(state): State<ApiState>) -> Response {
    let text = state.status().metrics().encode();
    ([(header::CONTENT_TYPE, crate::metrics::CONTENT_TYPE)], text).into_response()
}

/// Answers 503 until the machine is registered; counts every answer in the metrics.
async fn readiness_gate(State(state): State<ApiState>, request: Request, next: Next) -> Response {
    let method = request.method().clone();
    let response = if state.is_ready() {
        next.run(request).await
    } else {
        ApiError::unavailable().into_response()
    };
    state
        .status()
        .metrics()
        .answered(&method, response.status().as_u16());
    response
}

fn is_json(response: &Response) -> bool {
    response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.starts_with("application/json"))
}

/// Adds `Server` and puts any error answer without the envelope into one.
async fn finish(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let status = response.status();
    if (status.is_client_error() || status.is_server_error()) && !is_json(&response) {
        let message = if status.is_client_error() {
            status.canonical_reason().unwrap_or_default()
        } else {
            ""
        };
        response = ApiError::new(status, message).into_response();
    }
    response
        .headers_mut()
        .insert(header::SERVER, HeaderValue::from_static(SERVER_HEADER));
    response
}

/// The API's router, ready to serve.
pub fn router(state: ApiState) -> Router {
    let mut router = Router::new().route("/", any(method_not_allowed));
    for prefix in PREFIXES {
        router = fleet_routes(router, prefix);
    }
    keel_routes(router)
        .fallback(not_found)
        .layer(middleware::from_fn_with_state(
            state.clone(),
            readiness_gate,
        ))
        .layer(middleware::from_fn(finish))
        .with_state(state)
}
