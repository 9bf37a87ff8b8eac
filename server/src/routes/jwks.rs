//! `GET /.well-known/jwks.json`: the public key that verifies the server's evidence verdicts
//! (RFC 7517 key set, one OKP Ed25519 key, `alg` EdDSA, `use` sig, with its `kid`). Relying
//! parties fetch and cache it; a short `max-age` lets a key rotation reach them within minutes.

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::json;

use crate::state::AppState;

pub const PATH: &str = "/.well-known/jwks.json";

pub fn router() -> Router<AppState> {
    Router::new().route(PATH, get(jwks))
}

async fn jwks(State(state): State<AppState>) -> impl IntoResponse {
    (
        [(header::CACHE_CONTROL, "public, max-age=300")],
        Json(json!({"keys": [state.signer.jwk()]})),
    )
}
