//! `POST /v1/kiosk/evidence`: bundles from offline kiosks, queued and posted later.
//!
//! No bearer token: the credential is the bundle's signature, EdDSA with the key of a device
//! registered through `/v1/devices` (`kid` = device id). A kiosk has no server session, so it
//! makes its own session id and nonce; everything else comes from server policy:
//!
//! - the `kid` names a registered, unrevoked device (401 `unknown_key` / `device_revoked`),
//!   and the token is EdDSA signed by its key (an HS256 or `none` token is 401 whatever its
//!   `kid`);
//! - `created_ms` (the kiosk's clock) is at most `kiosk.max_age_s` old and at most
//!   `kiosk.max_future_s` ahead (422 `evidence_too_old` / `evidence_from_future`);
//! - the script is the kiosk policy's draw from the bundle's nonce (`[kiosk.script]`; a longer
//!   draw is accepted), so a kiosk cannot pick easy challenges (422 `script_mismatch`), and the
//!   server runs it with the policy's per-challenge timeout, whatever the manifest says;
//! - the nonce is new for that device: used nonces are remembered for the whole acceptance
//!   window, after which the age rule refuses the bundle anyway (409 `nonce_used`).
//!
//! Then the same verification and signed verdict as an online session ([`crate::evidence`]).
//! The verdict's `sub` is `kiosk:<device id>:<kiosk session id>` (it cannot collide with an
//! online session's), its `aud` the device's owner, and `device_id` names the device.
//!
//! What a device key proves is that a registered kiosk made the bundle; a stolen key lets its
//! holder post bundles in the kiosk's name (revoke it), but not a REAL verdict without a
//! recording of a live person performing the drawn script.

use axum::extract::{DefaultBodyLimit, Multipart, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use liveproof::challenge::ChallengeAction;
use liveproof::evidence::{jws, verify_bundle, Alg, EvidenceError, VerifyKey, MAX_ID_LEN};
use liveproof::verify::{bind, Issued, IssuedLight};
use serde::Serialize;

use crate::clock::{now_ms, rfc3339};
use crate::error::AppError;
use crate::evidence::verdict::EvidenceKind;
use crate::evidence::{
    answer_submission, judge, read_items, read_token, unprocessable, Context, EvidenceAnswer,
};
use crate::middleware::RequestId;
use crate::state::AppState;

pub const PATH: &str = "/v1/kiosk/evidence";
/// The kiosk policy, for kiosk pages to draw their scripts with (public: nothing secret).
pub const POLICY_PATH: &str = "/v1/kiosk/policy";

pub fn router(body_limit: usize) -> Router<AppState> {
    Router::new()
        .route(PATH, post(submit).layer(DefaultBodyLimit::max(body_limit)))
        .route(POLICY_PATH, get(policy))
}

/// What a kiosk's script and bundles must follow (the body of `GET /v1/kiosk/policy`).
#[derive(Debug, Serialize)]
pub struct KioskPolicy {
    pub actions: Vec<ChallengeAction>,
    pub count: usize,
    pub timeout_ms: f64,
    pub max_age_s: u64,
}

async fn policy(State(state): State<AppState>) -> Json<KioskPolicy> {
    let k = &state.config.kiosk;
    Json(KioskPolicy {
        actions: k.script.actions.clone(),
        count: k.script.count,
        timeout_ms: k.script.timeout_ms,
        max_age_s: k.max_age_s,
    })
}

async fn submit(
    State(state): State<AppState>,
    Extension(RequestId(request_id)): Extension<RequestId>,
    headers: HeaderMap,
    form: Multipart,
) -> Result<Json<EvidenceAnswer>, AppError> {
    answer_submission(&headers, form, async |form| {
        check_and_judge(&state, &request_id, form).await
    })
    .await
}

async fn check_and_judge(
    state: &AppState,
    request_id: &str,
    form: &mut Multipart,
) -> Result<Json<EvidenceAnswer>, AppError> {
    // The signed manifest first; no item is read before the device and the window are checked.
    let token = read_token(form).await?;
    let header = jws::peek_header(&token).map_err(EvidenceError::from)?;
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
    let verified = verify_bundle(&token, |alg, kid| {
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
    if !kiosk.script.admits(m.nonce.as_bytes(), &m.script) {
        return Err(unprocessable(
            "script_mismatch",
            format!(
                "the script is not this server's kiosk policy drawn from the bundle's nonce \
                 ({} of {:?})",
                kiosk.script.count, kiosk.script.actions
            ),
        ));
    }
    let ctx = Context {
        kind: EvidenceKind::Kiosk,
        device_id: Some(device.id.clone()),
        session_id: None,
        issued: Issued {
            session_id: m.session_id.clone(),
            nonce: m.nonce.clone(),
            script: m.script.clone(),
            timeout_ms: kiosk.script.timeout_ms,
            issued_ms: None,
            // An offline kiosk makes its own nonces; its light (if any) is not the server's.
            light: IssuedLight::Off,
        },
        subject: format!("kiosk:{}:{}", device.id, m.session_id),
        audience: device.owner.clone(),
        nonce_scope: format!("device:{}", device.id),
        nonce_keep_ms: (kiosk.max_age_s + kiosk.max_future_s) * 1000,
        principal: format!("device:{}", device.id),
        route: PATH,
    };
    bind(&ctx.issued, &state.config.verification, &verified.manifest)?;
    let items = read_items(form, &verified.manifest).await?;
    judge(state, request_id, &ctx, &token, verified, items).await
}
