//! `POST /v1/light/sequence`: the light sequence the core draws from a nonce under this
//! server's policy, for the recording page (`www/light.html`) and for integrators who draw
//! their own UI. It reveals nothing a session's answer does not already carry: the sequence is
//! a public function of the nonce, and a session's nonce is spent once.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, State};
use axum::routing::post;
use axum::{Json, Router};
use liveproof::light::{LightSegment, LightSequence};
use serde::{Deserialize, Serialize};

use crate::error::AppError;
use crate::state::AppState;

pub const PATH: &str = "/v1/light/sequence";
const BODY_BYTES: usize = 4 * 1024;

pub fn router() -> Router<AppState> {
    Router::new().route(
        PATH,
        post(sequence).layer(DefaultBodyLimit::max(BODY_BYTES)),
    )
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SequenceRequest {
    nonce: String,
}

/// The 200 body.
#[derive(Debug, Serialize)]
pub struct LightSequenceAnswer {
    pub nonce: String,
    pub segments: Vec<LightSegment>,
    pub total_ms: f64,
}

async fn sequence(
    State(state): State<AppState>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<LightSequenceAnswer>, AppError> {
    let request: SequenceRequest = serde_json::from_slice(&body?)
        .map_err(|e| AppError::bad_request("bad_json", e.to_string()))?;
    if request.nonce.is_empty() || request.nonce.len() > liveproof::evidence::MAX_ID_LEN {
        return Err(AppError::invalid_field(
            "nonce",
            format!("must be 1 to {} bytes", liveproof::evidence::MAX_ID_LEN),
        ));
    }
    let seq = LightSequence::from_nonce(&request.nonce, &state.config.verification.light_sequence)
        .map_err(|e| AppError::Internal(format!("light policy: {e}")))?;
    Ok(Json(LightSequenceAnswer {
        total_ms: seq.total_ms(),
        segments: seq.segments,
        nonce: request.nonce,
    }))
}
