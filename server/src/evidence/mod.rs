//! Evidence verification, shared by the online session route and the kiosk route: read the
//! multipart submission, check the items against the signed manifest, use the nonce once,
//! re-run the pipeline, decide, sign the verdict, audit it.
//!
//! The submission is multipart: part `evidence` is the compact JWS of the manifest
//! ([`liveproof::evidence`]); every other part is one manifest item, its part name being the
//! item name (so no item may be called `evidence`). Checks, in order, each with its status:
//!
//! | check | status, `detail.code` |
//! |---|---|
//! | body over `limits.evidence_body_bytes` | 413 `payload_too_large` |
//! | no `evidence` part, unnamed or duplicate part | 400 `missing_evidence`, `bad_multipart`, `duplicate_field` |
//! | (route) unknown session / expired session | 404 `unknown_session` / 410 `session_expired` |
//! | JWS malformed, `alg` not HS256/EdDSA (`none`), `kid` not the session or a registered device, `alg` not the key's kind, bad signature, revoked device | 401 `malformed_signature`, `unsupported_algorithm`, `unknown_key`, `bad_signature`, `device_revoked` |
//! | manifest invalid (version, ids, item list) | 422 `invalid_manifest` |
//! | (route) manifest bound to another session / nonce / script; kiosk `created_ms` outside the window | 422 `session_mismatch`, `nonce_mismatch`, `script_mismatch`, `evidence_too_old`, `evidence_from_future` |
//! | session already verified | 409 `session_already_verified` |
//! | an item missing, unlisted, or not matching its SHA-256 and size | 422 `missing_item`, `unexpected_item`, `digest_mismatch` |
//! | no frame, more than one clip or records item, records not JSON | 422 `no_frames`, `too_many_clips`, `invalid_records` |
//! | models still loading | 503 |
//! | nonce already used (any replica) | 409 `nonce_used` |
//! | a frame or the clip does not decode | 400 (the core's code); the nonce stays spent |
//! | CPU pool saturated | 503 + `Retry-After`; the nonce is given back |
//!
//! Every check that an attacker without the signing key could trigger runs before the nonce
//! is used, so a forged request cannot burn a legitimate client's nonce.

pub mod claim;
pub mod rerun;
pub mod verdict;

use axum::extract::Multipart;
use axum::http::StatusCode;
use axum::Json;
use liveproof::challenge::ChallengeAction;
use liveproof::evidence::{check_items, jws, ItemKind, VerifiedManifest, MAX_ITEMS};
use liveproof::FrameSummary;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::error::AppError;
use crate::routes::read_bytes;
use crate::state::store::{AuditEntry, SessionStatus};
use crate::state::AppState;
use claim::{check_claim, disagreement};
use rerun::{rerun, FrameItem, RerunInput};
use verdict::{decide, ClientSummary, EvidenceKind, ServerSummary, VerdictPayload};

/// Name of the multipart part that carries the signed manifest.
pub const EVIDENCE_PART: &str = "evidence";

/// A read submission.
#[derive(Debug)]
pub struct Submission {
    /// The compact JWS.
    pub token: String,
    /// Every other part: (part name, bytes).
    pub items: Vec<(String, Vec<u8>)>,
}

impl Submission {
    /// Reads the multipart body (bounded by the route's body limit).
    pub async fn read(mut form: Multipart) -> Result<Self, AppError> {
        let mut token = None;
        let mut items = Vec::new();
        while let Some(field) = form.next_field().await? {
            let Some(name) = field.name().filter(|n| !n.is_empty()).map(str::to_owned) else {
                return Err(AppError::bad_request(
                    "bad_multipart",
                    "every part needs a name (`evidence` or an item name)",
                ));
            };
            if name == EVIDENCE_PART {
                if token.is_some() {
                    return Err(AppError::bad_request(
                        "duplicate_field",
                        "part `evidence` was sent more than once",
                    ));
                }
                let bytes = read_bytes(field).await?;
                let text = String::from_utf8(bytes).map_err(|_| {
                    AppError::coded(
                        StatusCode::UNAUTHORIZED,
                        "malformed_signature",
                        "part `evidence` is not a compact JWS (not UTF-8)",
                    )
                })?;
                token = Some(text.trim().to_owned());
            } else {
                if items.len() >= MAX_ITEMS {
                    return Err(AppError::coded(
                        StatusCode::UNPROCESSABLE_ENTITY,
                        "unexpected_item",
                        format!("a bundle has at most {MAX_ITEMS} items"),
                    ));
                }
                let bytes = read_bytes(field).await?;
                items.push((name, bytes));
            }
        }
        let token = token.ok_or_else(|| {
            AppError::bad_request(
                "missing_evidence",
                "part `evidence` (the signed manifest, a compact JWS) is required",
            )
        })?;
        Ok(Self { token, items })
    }
}

/// 422 with a code (binding and content checks).
pub fn unprocessable(code: &'static str, message: impl Into<String>) -> AppError {
    AppError::coded(StatusCode::UNPROCESSABLE_ENTITY, code, message)
}

/// Which submission is judged, and how its nonce is kept.
#[derive(Debug, Clone)]
pub struct Context {
    pub kind: EvidenceKind,
    /// The device, for kiosk evidence.
    pub device_id: Option<String>,
    /// The online session whose status follows the verdict.
    pub session_id: Option<String>,
    /// The script the evidence must satisfy.
    pub script: Vec<ChallengeAction>,
    /// Per-challenge timeout for the clip re-run and the claim check, ms.
    pub timeout_ms: f64,
    /// Nonce namespace (`session`, `device:<id>`) and how long a used nonce is remembered.
    pub nonce_scope: String,
    pub nonce_keep_ms: u64,
    pub principal: String,
    pub route: &'static str,
}

/// Checks the items, uses the nonce, re-runs, decides and signs. Returns the response body
/// `{verdict, result}`.
pub async fn judge(
    state: &AppState,
    request_id: &str,
    ctx: &Context,
    token: &str,
    verified: VerifiedManifest,
    items: Vec<(String, Vec<u8>)>,
) -> Result<Json<Value>, AppError> {
    let manifest = verified.manifest;
    check_items(
        &manifest,
        items.iter().map(|(n, d)| (n.as_str(), d.as_slice())),
    )?;
    let mut input = RerunInput {
        frames: Vec::new(),
        clip: None,
        script: ctx.script.clone(),
        timeout_ms: ctx.timeout_ms,
    };
    let mut records = None;
    for (name, bytes) in items {
        // check_items proved every part is listed exactly once.
        let Some(item) = manifest.items.iter().find(|i| i.name == name) else {
            continue;
        };
        match item.kind {
            ItemKind::Frame => input.frames.push(FrameItem {
                name,
                t_ms: item.t_ms,
                bytes,
            }),
            ItemKind::Clip if input.clip.is_some() => {
                return Err(unprocessable(
                    "too_many_clips",
                    "a bundle carries at most one clip",
                ))
            }
            ItemKind::Clip => input.clip = Some(bytes),
            ItemKind::Records => {
                let parsed: Vec<FrameSummary> = serde_json::from_slice(&bytes).map_err(|e| {
                    unprocessable(
                        "invalid_records",
                        format!("records item `{name}` is not a JSON array of frame records: {e}"),
                    )
                })?;
                records = Some(parsed);
            }
        }
    }
    if input.frames.is_empty() {
        return Err(unprocessable(
            "no_frames",
            "a bundle needs at least one frame item for the server to analyse",
        ));
    }
    let engine = state.engine()?;

    if !state
        .store
        .use_nonce(&ctx.nonce_scope, &manifest.nonce, ctx.nonce_keep_ms)
        .await?
    {
        return Err(AppError::coded(
            StatusCode::CONFLICT,
            "nonce_used",
            "this nonce has already been used; evidence is accepted once",
        ));
    }
    let limits = state.media_limits.clone();
    let job = state
        .pool
        .run(move || rerun(&engine, &input, &limits))
        .await;
    let rerun = match job {
        Ok(Ok(r)) => r,
        Ok(Err(e)) => {
            // Signed by the key holder but not analysable: the nonce stays spent.
            set_status(state, ctx, SessionStatus::Rejected).await;
            return Err(e.into());
        }
        Err(e) => {
            if matches!(e, AppError::Unavailable { .. }) {
                // No verdict was produced: let the client retry the same bundle.
                state
                    .store
                    .release_nonce(&ctx.nonce_scope, &manifest.nonce)
                    .await?;
            } else {
                set_status(state, ctx, SessionStatus::Rejected).await;
            }
            return Err(e);
        }
    };

    let challenges_verified = rerun.clip.is_some();
    let claim = check_claim(&manifest, records.as_deref(), ctx.timeout_ms);
    let decision = decide(&rerun, &ctx.script, &claim, &manifest.result);
    let disagreement = disagreement(
        manifest.result.label != decision.label,
        records.as_deref(),
        &rerun.frames,
    );
    let payload = VerdictPayload {
        iss: state.signer.issuer().to_owned(),
        sub: manifest.session_id.clone(),
        iat: crate::clock::now_ms() / 1000,
        jti: request_id.to_owned(),
        nonce: manifest.nonce.clone(),
        kind: ctx.kind,
        device_id: ctx.device_id.clone(),
        label: decision.label,
        confidence: decision.confidence,
        passed: decision.passed,
        script: ctx.script.clone(),
        pad_score: rerun.pad_score,
        challenges_verified,
        failure: decision.failure,
        server: ServerSummary {
            pad_score: rerun.pad_score,
            pad_threshold: rerun.pad_threshold,
            frames_analysed: rerun.frames.len(),
            frames_usable: rerun.frames.iter().filter(|f| f.usable).count(),
            clip: rerun.clip,
        },
        client: ClientSummary {
            label: manifest.result.label,
            passed: manifest.result.passed.clone(),
            confidence: manifest.result.confidence,
            pad_score: manifest.result.pad_score,
            claim: (!challenges_verified).then_some(claim),
        },
        disagreement,
        manifest_sha256: manifest_sha256(token),
    };
    let body = serde_json::to_vec(&payload)
        .map_err(|e| AppError::Internal(format!("verdict serialisation: {e}")))?;
    let signed = state
        .signer
        .sign(&body)
        .map_err(|e| AppError::Internal(format!("verdict signature: {e}")))?;
    set_status(state, ctx, SessionStatus::Verified).await;

    // The body's `result` is parsed from the signed bytes, so it is the payload exactly
    // (serialising the struct again would widen f32 scores into different decimals).
    let result: Value = serde_json::from_slice(&body)
        .map_err(|e| AppError::Internal(format!("verdict serialisation: {e}")))?;
    if payload.disagreement.any {
        tracing::warn!(
            session = %payload.sub,
            client = ?payload.client.label,
            server = ?payload.label,
            frames = payload.disagreement.frames.len(),
            "client and server disagree"
        );
    }
    state
        .store
        .audit(&AuditEntry {
            request_id: request_id.to_owned(),
            route: ctx.route.into(),
            principal: ctx.principal.clone(),
            verdict: match payload.label {
                liveproof::events::Label::Real => "REAL".into(),
                liveproof::events::Label::Fake => "FAKE".into(),
            },
            score: Some(f64::from(payload.confidence)),
            correlation_id: Some(payload.sub.clone()),
            detail: Some(
                json!({
                    "kind": payload.kind,
                    "device_id": payload.device_id,
                    "challenges_verified": payload.challenges_verified,
                    "failure": result["failure"],
                    "client_label": payload.client.label,
                    "disagreement": result["disagreement"],
                    "manifest_sha256": payload.manifest_sha256,
                })
                .to_string(),
            ),
        })
        .await?;
    Ok(Json(json!({"verdict": signed, "result": result})))
}

/// Records the session's new status (online sessions only). A store failure here is logged,
/// not returned: the nonce already guards against a second submission.
async fn set_status(state: &AppState, ctx: &Context, status: SessionStatus) {
    let Some(id) = &ctx.session_id else { return };
    if let Err(e) = state.store.set_session_status(id, status).await {
        tracing::error!(error = %e, session = %id, "session status update failed");
    }
}

/// SHA-256 of the exact signed manifest bytes (the JWS payload), hex.
fn manifest_sha256(token: &str) -> String {
    let payload = token
        .split('.')
        .nth(1)
        .and_then(|p| jws::unb64(p).ok())
        .unwrap_or_default();
    hex::encode(Sha256::digest(payload))
}
