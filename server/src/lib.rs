//! # liveproof-server
//!
//! The verification server: the seed liveness APIs (v1/v2 liveness, selfie liveness,
//! liveness verification) served over the same Rust pipeline the browser SDK runs, so a
//! server re-check reproduces the client's scores.
//!
//! `main.rs` is bootstrap only (config, logs, model loading, graceful shutdown); everything
//! else is here, and [`app`] builds the whole router from a state so tests drive it with
//! `tower::ServiceExt::oneshot` and no socket.
//!
//! | module | job |
//! |---|---|
//! | [`config`] | env + TOML configuration |
//! | [`error`] | the one [`AppError`](error::AppError) and its response shapes |
//! | [`auth`] | JWT bearer and API-key extractors, rate limit |
//! | [`state`] | shared state and the [`Store`](state::store::Store) (SQLite, or Redis for several replicas) |
//! | [`pool`] | bounded CPU pool for pipeline runs (503 when saturated) |
//! | [`evidence`] | evidence bundles: item checks, nonce, the server's re-run, decision, verdict |
//! | [`signing`] | the server's Ed25519 verdict key (JWKS) |
//! | [`clock`], [`random`] | Unix time and RFC 3339; OS randomness for nonces and keys |
//! | [`middleware`] | request id, security headers, access log, metrics |
//! | [`metrics`] | Prometheus text |
//! | [`routes`] | one module per API |
//!
//! `/ws/liveness` ([`routes::ws`]) streams frames over a WebSocket; its message contract is
//! `server/asyncapi.json` (served at `/asyncapi.json`).
//!
//! The SDK flow ([`routes::sessions`], [`routes::kiosk`], [`routes::devices`],
//! [`routes::jwks`]): a session issues a nonce, a per-session key and a challenge script; the
//! browser (or an offline kiosk with a registered device key) signs an evidence bundle; the
//! server checks it, re-runs the pipeline on it ([`evidence`]) and answers with a verdict
//! signed by its own key.
//!
//! Media is never written to disk: uploads are read into memory (bounded by per-route body
//! limits), decoded there and dropped; the audit log keeps verdicts only.

pub mod auth;
pub mod clock;
pub mod config;
pub mod error;
pub mod evidence;
pub mod metrics;
pub mod middleware;
pub mod pool;
pub mod random;
pub mod routes;
pub mod serve;
pub mod signing;
pub mod state;

use axum::Router;

pub use config::Config;
pub use state::AppState;

/// Every route served (method, path), without the optional prefix; the OpenAPI test checks
/// each is documented.
pub const ROUTES: &[(&str, &str)] = &[
    ("post", "/liveness"),
    ("post", "/v2/liveness"),
    ("post", routes::batch::V1_PATH),
    ("post", routes::batch::V2_PATH),
    ("post", routes::selfie::PATH),
    ("post", routes::verification::PATH),
    ("get", routes::ws::PATH),
    ("post", routes::ws::TICKETS_PATH),
    ("post", routes::sessions::CREATE_PATH),
    ("post", routes::sessions::EVIDENCE_PATH),
    ("post", routes::devices::PATH),
    ("delete", routes::devices::ITEM_PATH),
    ("post", routes::kiosk::PATH),
    ("get", routes::kiosk::POLICY_PATH),
    ("get", routes::jwks::PATH),
    ("post", routes::light::PATH),
    ("get", "/healthz"),
    ("get", "/readyz"),
    ("get", "/metrics"),
    ("get", "/openapi.json"),
    ("get", "/asyncapi.json"),
];

/// The whole application. The seed APIs are served at their documented paths and, when
/// `route_prefix` is set (e.g. `/sumi`), under it as well; the SDK flow (sessions, evidence,
/// devices, JWKS) and ops routes are unprefixed.
pub fn app(state: AppState) -> Router {
    let l = &state.config.limits;
    let seed = || {
        Router::new()
            .merge(routes::liveness::router(l.liveness_body_bytes))
            .merge(routes::selfie::router(l.selfie_body_bytes))
            .merge(routes::verification::router(l.verification_body_bytes))
            .merge(routes::ws::router())
            .merge(routes::batch::router(l.batch_body_bytes))
    };
    let mut router = Router::new()
        .merge(seed())
        .merge(routes::sessions::router(l.evidence_body_bytes))
        .merge(routes::kiosk::router(l.evidence_body_bytes))
        .merge(routes::devices::router())
        .merge(routes::ws::tickets_router())
        .merge(routes::jwks::router())
        .merge(routes::light::router())
        .merge(routes::ops::router());
    if !state.config.route_prefix.is_empty() {
        router = router.nest(&state.config.route_prefix, seed());
    }
    let body_deadline = std::time::Duration::from_secs(state.config.limits.body_read_timeout_s);
    routes::static_files::mount(router, &state.config.static_files)
        // A body that trickles in is cut off (its read fails: 400), wherever it is read.
        .layer(tower_http::timeout::RequestBodyTimeoutLayer::new(
            body_deadline,
        ))
        // Router::layer wraps every route and the fallback, so 404s get the headers too.
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            middleware::envelope,
        ))
        .with_state(state)
}
