//! Operations: `GET /healthz` (the process answers), `/readyz` (models loaded and the store
//! answering: 200, else 503), `/metrics` (Prometheus text; a Bearer token with scope `metrics`:
//! it reveals traffic), `/openapi.json` (the hand-maintained OpenAPI 3.1
//! document, `server/openapi.json`; a test checks that every route is in it) and
//! `/asyncapi.json` (the AsyncAPI 3.0 document of `/ws/liveness`, `server/asyncapi.json`).

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::json;

use crate::auth::{Authorized, MetricsRead};
use crate::state::AppState;

/// The OpenAPI document, as shipped.
pub const OPENAPI: &str = include_str!("../../openapi.json");

/// The AsyncAPI 3.0 document of `/ws/liveness`, as shipped.
pub const ASYNCAPI: &str = include_str!("../../asyncapi.json");

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .route("/openapi.json", get(openapi))
        .route("/asyncapi.json", get(asyncapi))
}

async fn healthz() -> impl IntoResponse {
    Json(json!({"status": "ok"}))
}

async fn readyz(State(state): State<AppState>) -> impl IntoResponse {
    if !state.is_ready() {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({"status": "loading models"})),
        );
    }
    // A replica whose shared store is unreachable cannot check nonces: take it out of rotation.
    if let Err(e) = state.store.ping().await {
        tracing::error!(error = %e, store = state.store.backend(), "store unavailable");
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({"status": "store unavailable"})),
        );
    }
    (StatusCode::OK, Json(json!({"status": "ready"})))
}

async fn metrics(
    State(state): State<AppState>,
    _reader: Authorized<MetricsRead>,
) -> impl IntoResponse {
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        state.metrics.render(state.pool.stats()),
    )
}

async fn openapi() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/json")], OPENAPI)
}

async fn asyncapi() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/json")], ASYNCAPI)
}
