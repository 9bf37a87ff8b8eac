//! `POST /v1/kiosk/evidence`: bundles from offline kiosks, queued and posted later.
//!
//! No bearer token: the credential is the bundle's signature, EdDSA with the key of a device
//! registered through `/v1/devices` (`kid` = device id). A kiosk has no server session, so it
//! makes its own session id and nonce and draws its own script; the server then requires:
//!
//! - the `kid` names a registered, unrevoked device (401 `unknown_key` / `device_revoked`),
//!   and the token is EdDSA signed by its key (an HS256 or `none` token is 401 whatever its
//!   `kid`);
//! - `created_ms` (the kiosk's clock) is at most `kiosk.max_age_s` old (7 days) and at most
//!   `kiosk.max_future_s` ahead (5 minutes) (422 `evidence_too_old` / `evidence_from_future`);
//! - the nonce is new for that device: used nonces are remembered for the whole acceptance
//!   window, after which the age rule refuses the bundle anyway (409 `nonce_used`);
//! - a script of 1–10 challenges (422 `invalid_manifest`), re-run with the core's default
//!   per-challenge timeout.
//!
//! Then the same checks, re-run and signed verdict as an online session ([`crate::evidence`]);
//! the verdict's `sub` is the kiosk's session id and `device_id` names the device.

use axum::extract::{DefaultBodyLimit, Multipart, State};
use axum::http::StatusCode;
use axum::routing::post;
use axum::{Extension, Json, Router};
use liveproof::evidence::{jws, verify_bundle, Alg, EvidenceError, VerifyKey, MAX_ID_LEN};
use serde_json::Value;

use crate::clock::{now_ms, rfc3339};
use crate::error::AppError;
use crate::evidence::verdict::EvidenceKind;
use crate::evidence::{judge, unprocessable, Context, Submission};
use crate::middleware::RequestId;
use crate::state::AppState;

pub const PATH: &str = "/v1/kiosk/evidence";

pub fn router(body_limit: usize) -> Router<AppState> {
    Router::new().route(PATH, post(submit).layer(DefaultBodyLimit::max(body_limit)))
}

async fn submit(
    State(state): State<AppState>,
    Extension(RequestId(request_id)): Extension<RequestId>,
    form: Multipart,
) -> Result<Json<Value>, AppError> {
    let submission = Submission::read(form).await?;
    let header = jws::peek_header(&submission.token).map_err(EvidenceError::from)?;
    let unknown = || {
        AppError::from(EvidenceError::Jws(jws::JwsError::UnknownKey {
            alg: header.alg.clone(),
            kid: header.kid.chars().take(MAX_ID_LEN).collect(),
        }))
    };
    if header.kid.is_empty() || header.kid.len() > MAX_ID_LEN {
        return Err(unknown());
    }
    let device = state.store.device(&header.kid).await?.ok_or_else(unknown)?;
    if let Some(at) = device.revoked_ms {
        return Err(AppError::coded(
            StatusCode::UNAUTHORIZED,
            "device_revoked",
            format!("device {} was revoked at {}", device.id, rfc3339(at)),
        ));
    }
    let verified = verify_bundle(&submission.token, |alg, kid| {
        if alg != Alg::EdDSA || kid != device.id {
            return None;
        }
        VerifyKey::ed25519(&device.public_key).ok()
    })?;
    let m = &verified.manifest;
    let kiosk = &state.config.kiosk;
    let now = now_ms() as f64;
    if !m.created_ms.is_finite() || m.created_ms < now - (kiosk.max_age_s * 1000) as f64 {
        return Err(unprocessable(
            "evidence_too_old",
            format!(
                "the bundle was made more than {} s ago (or has no valid created_ms)",
                kiosk.max_age_s
            ),
        ));
    }
    if m.created_ms > now + (kiosk.max_future_s * 1000) as f64 {
        return Err(unprocessable(
            "evidence_from_future",
            format!(
                "created_ms is more than {} s ahead of the server clock; check the kiosk's clock",
                kiosk.max_future_s
            ),
        ));
    }
    if m.script.is_empty() || m.script.len() > 10 {
        return Err(unprocessable(
            "invalid_manifest",
            "a kiosk bundle's script has 1..=10 challenges",
        ));
    }
    let ctx = Context {
        kind: EvidenceKind::Kiosk,
        device_id: Some(device.id.clone()),
        session_id: None,
        script: m.script.clone(),
        // The kiosk's own window, signed in the manifest (validated to (0, 120000] ms).
        timeout_ms: m.timeout_ms,
        nonce_scope: format!("device:{}", device.id),
        nonce_keep_ms: (kiosk.max_age_s + kiosk.max_future_s) * 1000,
        principal: format!("device:{}", device.id),
        route: PATH,
    };
    judge(
        &state,
        &request_id,
        &ctx,
        &submission.token,
        verified,
        submission.items,
    )
    .await
}
