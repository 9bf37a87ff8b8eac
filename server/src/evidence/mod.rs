//! Evidence verification, shared by the online session route and the kiosk route: read the
//! multipart submission, bind it to the issued session, use the nonce once, let the core
//! verify it ([`liveproof::verify`]: the server's own run of the recording), sign the verdict,
//! audit it. The server holds transport, keys, storage and signing; every rule is the core's.
//!
//! The submission is multipart: part `evidence` is the compact JWS of the manifest
//! ([`liveproof::evidence`]); every other part is one manifest item, its part name being the
//! item name (so no item may be called `evidence`). Checks, in order, each with its status:
//!
//! | check | status, `detail.code` |
//! |---|---|
//! | body over `limits.evidence_body_bytes` | 413 `payload_too_large` |
//! | no `evidence` part first (nothing else is read before it is checked), unnamed or duplicate part | 400 `missing_evidence`, `evidence_first`, `bad_multipart`, `duplicate_field` |
//! | (route) unknown session / expired session | 404 `unknown_session` / 410 `session_expired` |
//! | JWS malformed, `alg` not HS256/EdDSA (`none`), `kid` not the session or a registered device, `alg` not the key's kind, bad signature, revoked device | 401 `malformed_signature`, `unsupported_algorithm`, `unknown_key`, `bad_signature`, `device_revoked` |
//! | manifest invalid (version, ids, item list) | 422 `invalid_manifest` |
//! | (route) kiosk `created_ms` outside the window, kiosk script not its policy's draw | 422 `evidence_too_old`, `evidence_from_future`, `script_mismatch` |
//! | session already verified | 409 `session_already_verified` |
//! | (reading the items, each only up to its signed size) an item not listed, twice, or larger than signed | 422 `unexpected_item`, `digest_mismatch` |
//! | (core `admit`) manifest bound to another session / nonce / script; an item missing, unlisted, or not matching its SHA-256 and size; more than one clip; records not JSON; no media; no recording when the policy requires one | 422 `session_mismatch`, `nonce_mismatch`, `script_mismatch`, `missing_item`, `unexpected_item`, `digest_mismatch`, `too_many_clips`, `invalid_records`, `no_frames`, `recording_required` |
//! | models still loading | 503 |
//! | nonce already used (any replica) | 409 `nonce_used` |
//! | a frame or the recording does not decode | 400 (the core's code); the nonce stays spent |
//! | CPU pool saturated | 503 + `Retry-After`; the nonce is given back |
//!
//! Every check that an attacker without the signing key could trigger runs before the nonce
//! is used, so a forged request cannot burn a legitimate client's nonce. Everything after is
//! a signed verdict: REAL, FAKE with the rule that failed, or PASSIVE_ONLY.

pub mod verdict;

use axum::extract::Multipart;
use axum::http::StatusCode;
use axum::Json;
use liveproof::evidence::{jws, EvidenceError, Manifest, VerifiedManifest, MAX_ITEMS};
use liveproof::verify::{admit, Issued, Refusal};
use serde::Serialize;
use serde_json::value::RawValue;
use sha2::{Digest, Sha256};

use crate::clock::now_ms;
use crate::error::AppError;
use crate::routes::read_at_most;
use crate::state::store::{AuditEntry, SessionStatus};
use crate::state::AppState;
use verdict::{AuditDetail, ClientSummary, EvidenceKind, ServerSummary, VerdictPayload};

/// Name of the multipart part that carries the signed manifest.
pub const EVIDENCE_PART: &str = "evidence";

/// Largest `evidence` part (the signed manifest: 64 items list in about 20 KiB).
pub const MAX_TOKEN_BYTES: usize = 256 * 1024;

/// Reads the submission's first part, which must be `evidence` (the signed manifest): the
/// routes check the signature, the session or device and the binding from it before reading a
/// single item byte, so an anonymous upload costs a few hundred bytes of reading.
pub async fn read_token(form: &mut Multipart) -> Result<String, AppError> {
    let field = form.next_field().await?.ok_or_else(|| {
        AppError::bad_request(
            "missing_evidence",
            "part `evidence` (the signed manifest, a compact JWS) is required",
        )
    })?;
    if field.name() != Some(EVIDENCE_PART) {
        return Err(AppError::bad_request(
            "evidence_first",
            "part `evidence` (the signed manifest) must be the first part",
        ));
    }
    let bytes = read_at_most(field, MAX_TOKEN_BYTES, 0)
        .await?
        .ok_or_else(|| {
            AppError::PayloadTooLarge(format!("part `evidence` is over {MAX_TOKEN_BYTES} bytes"))
        })?;
    let text = String::from_utf8(bytes).map_err(|_| {
        AppError::coded(
            StatusCode::UNAUTHORIZED,
            "malformed_signature",
            "part `evidence` is not a compact JWS (not UTF-8)",
        )
    })?;
    Ok(text.trim().to_owned())
}

/// Reads the item parts of an authenticated manifest: each must be listed, once, and is read
/// only up to its signed size (a larger one is refused at that point, unread further). The
/// digests are checked afterwards by the core (`liveproof::verify::admit`).
pub async fn read_items(
    form: &mut Multipart,
    manifest: &Manifest,
) -> Result<Vec<(String, Vec<u8>)>, AppError> {
    let mut items: Vec<(String, Vec<u8>)> = Vec::with_capacity(manifest.items.len());
    while let Some(field) = form.next_field().await? {
        let Some(name) = field.name().filter(|n| !n.is_empty()).map(str::to_owned) else {
            return Err(AppError::bad_request(
                "bad_multipart",
                "every part needs a name (`evidence` or an item name)",
            ));
        };
        if name == EVIDENCE_PART {
            return Err(AppError::bad_request(
                "duplicate_field",
                "part `evidence` was sent more than once",
            ));
        }
        let Some(item) = manifest.items.iter().find(|i| i.name == name) else {
            return Err(EvidenceError::UnexpectedItem(name).into());
        };
        if items.iter().any(|(n, _)| *n == name) {
            return Err(EvidenceError::UnexpectedItem(format!("{name} (twice)")).into());
        }
        let declared = usize::try_from(item.bytes).unwrap_or(usize::MAX);
        let bytes = read_at_most(field, declared, declared)
            .await?
            .ok_or_else(|| AppError::from(EvidenceError::DigestMismatch(name.clone())))?;
        items.push((name, bytes));
    }
    if items.len() > MAX_ITEMS {
        return Err(EvidenceError::UnexpectedItem(format!("more than {MAX_ITEMS} items")).into());
    }
    Ok(items)
}

/// At most this much of a refused submission's remaining body is read (and dropped) before
/// the answer, within [`DISCARD_MAX_TIME`]. A server that answers early and closes with
/// unread bytes makes its kernel reset the connection, and most HTTP clients (browsers'
/// fetch, Node's undici) then report a network error instead of the 4xx they were sent: an
/// honest SDK re-submitting a bundle would see "could not reach" instead of
/// `session_already_verified`. Bounded, so an anonymous upload still cannot hold the server.
pub const DISCARD_MAX_BYTES: usize = 16 << 20;
/// Time bound of [`discard_rest`].
pub const DISCARD_MAX_TIME: std::time::Duration = std::time::Duration::from_secs(5);
/// Refused submissions drained at once. Draining is a courtesy to the occasional honest client
/// whose bundle is refused; a flood of refused uploads gets its answers with a reset instead of
/// making the server read for it (measured: 12 clients posting 30 MiB anonymous bodies back to
/// back cost the server 0.87 of a core with unbounded draining).
pub const DISCARD_SLOTS: usize = 2;

static DISCARDING: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(DISCARD_SLOTS);

/// Reads and drops what is left of a refused submission, within [`DISCARD_MAX_BYTES`] and
/// [`DISCARD_MAX_TIME`]; past either the connection is closed with the answer. Nothing is read
/// when the request declares a body over [`DISCARD_MAX_BYTES`] (it would be cut off anyway) or
/// when [`DISCARD_SLOTS`] other refusals are being drained.
pub async fn discard_rest(form: &mut Multipart, declared_len: Option<u64>) {
    if declared_len.is_some_and(|n| n > DISCARD_MAX_BYTES as u64) {
        return;
    }
    let Ok(_slot) = DISCARDING.try_acquire() else {
        return;
    };
    let _ = tokio::time::timeout(DISCARD_MAX_TIME, async {
        let mut seen = 0usize;
        while let Ok(Some(mut field)) = form.next_field().await {
            while let Ok(Some(chunk)) = field.chunk().await {
                seen += chunk.len();
                if seen > DISCARD_MAX_BYTES {
                    return;
                }
            }
        }
    })
    .await;
}

/// Answers one submission with `check_and_judge`; when that refuses it, the rest of the body
/// is drained first ([`discard_rest`]) so the client reads the answer instead of a reset.
pub async fn answer_submission(
    headers: &axum::http::HeaderMap,
    mut form: Multipart,
    check_and_judge: impl AsyncFnOnce(&mut Multipart) -> Result<Json<EvidenceAnswer>, AppError>,
) -> Result<Json<EvidenceAnswer>, AppError> {
    let answer = check_and_judge(&mut form).await;
    if answer.is_err() {
        discard_rest(&mut form, declared_len(headers)).await;
    }
    answer
}

/// The request's declared body length (`Content-Length`), if it has a valid one.
fn declared_len(headers: &axum::http::HeaderMap) -> Option<u64> {
    headers
        .get(axum::http::header::CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .parse()
        .ok()
}

/// 422 with a code (binding and content checks).
pub fn unprocessable(code: &'static str, message: impl Into<String>) -> AppError {
    AppError::coded(StatusCode::UNPROCESSABLE_ENTITY, code, message)
}

impl From<Refusal> for AppError {
    fn from(r: Refusal) -> Self {
        match r {
            Refusal::Evidence(e) => e.into(),
            other => unprocessable(other.code(), other.to_string()),
        }
    }
}

/// Which submission is judged, for whom, and how its nonce is kept.
#[derive(Debug, Clone)]
pub struct Context {
    pub kind: EvidenceKind,
    /// The device, for kiosk evidence.
    pub device_id: Option<String>,
    /// The online session whose status follows the verdict.
    pub session_id: Option<String>,
    /// The session as the server issued (or, for a kiosk, admitted) it.
    pub issued: Issued,
    /// The verdict's `sub`.
    pub subject: String,
    /// The verdict's `aud`.
    pub audience: String,
    /// Nonce namespace (`session`, `device:<id>`) and how long a used nonce is remembered.
    pub nonce_scope: String,
    pub nonce_keep_ms: u64,
    /// Who created the session (the verdict's `creator`, the audit's principal).
    pub principal: String,
    pub route: &'static str,
}

/// The 200 body of an evidence submission.
#[derive(Debug, Serialize)]
pub struct EvidenceAnswer {
    /// The signed verdict: a compact JWS (EdDSA) whose payload is `result`.
    pub verdict: String,
    /// The verdict's payload ([`VerdictPayload`]), as the exact bytes that were signed.
    pub result: Box<RawValue>,
}

/// Binds the bundle to the session, uses the nonce, has the core verify it, signs and audits
/// the verdict.
pub async fn judge(
    state: &AppState,
    request_id: &str,
    ctx: &Context,
    token: &str,
    verified: VerifiedManifest,
    items: Vec<(String, Vec<u8>)>,
) -> Result<Json<EvidenceAnswer>, AppError> {
    let received_ms = now_ms();
    // Shared with the pool job without copying the media.
    let admitted = std::sync::Arc::new(admit(
        &ctx.issued,
        &state.config.verification,
        verified.manifest,
        items,
    )?);
    let engine = state.engine()?;
    let pad_threshold = engine.config().pad_threshold;
    let nonce = &ctx.issued.nonce;
    if !state
        .store
        .use_nonce(&ctx.nonce_scope, nonce, ctx.nonce_keep_ms)
        .await?
    {
        return Err(AppError::coded(
            StatusCode::CONFLICT,
            "nonce_used",
            "this nonce has already been used; evidence is accepted once",
        ));
    }
    let limits = state.media_limits.clone();
    let job = {
        let admitted = admitted.clone();
        let run = move || admitted.run(&engine, &limits, received_ms);
        // A public session's key is anyone's: its work gets the pool's public share only.
        if ctx.principal.starts_with("public:") {
            state.pool.run_public(run).await
        } else {
            state.pool.run(run).await
        }
    };
    let verdict = match job {
        Ok(Ok(v)) => v,
        Ok(Err(e)) => {
            // Signed by the key holder but not analysable: the nonce stays spent.
            set_status(state, ctx, SessionStatus::Rejected).await;
            return Err(e.into());
        }
        Err(e) => {
            if matches!(e, AppError::Unavailable { .. }) {
                // No verdict was produced: let the client retry the same bundle.
                state.store.release_nonce(&ctx.nonce_scope, nonce).await?;
            } else {
                set_status(state, ctx, SessionStatus::Rejected).await;
            }
            return Err(e);
        }
    };

    let manifest = admitted.manifest();
    let iat = now_ms() / 1000;
    let payload = VerdictPayload {
        iss: state.signer.issuer().to_owned(),
        sub: ctx.subject.clone(),
        aud: ctx.audience.clone(),
        iat,
        exp: iat + state.config.signing.verdict_ttl_s,
        jti: request_id.to_owned(),
        creator: ctx.principal.clone(),
        nonce: nonce.clone(),
        kind: ctx.kind,
        device_id: ctx.device_id.clone(),
        script: ctx.issued.script.clone(),
        decision: verdict.decision,
        server: ServerSummary {
            recording: verdict.recording,
            frames: verdict.frames,
            pad_threshold,
        },
        client: ClientSummary {
            label: manifest.result.label,
            passed: manifest.result.passed.clone(),
            confidence: manifest.result.confidence,
            pad_score: manifest.result.pad_score,
        },
        disagreement: verdict.disagreement,
        manifest_sha256: manifest_sha256(token),
    };
    let body = serde_json::to_vec(&payload)
        .map_err(|e| AppError::Internal(format!("verdict serialisation: {e}")))?;
    let signed = state
        .signer
        .sign(&body)
        .map_err(|e| AppError::Internal(format!("verdict signature: {e}")))?;
    set_status(state, ctx, SessionStatus::Verified).await;

    if payload.disagreement.any {
        tracing::warn!(
            session = %payload.sub,
            client = ?payload.client.label,
            server = payload.decision.label.as_str(),
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
            verdict: payload.decision.label.as_str().into(),
            score: Some(f64::from(payload.decision.confidence)),
            correlation_id: Some(payload.sub.clone()),
            detail: Some(
                serde_json::to_string(&AuditDetail::of(&payload))
                    .map_err(|e| AppError::Internal(format!("audit serialisation: {e}")))?,
            ),
        })
        .await?;
    // The body's `result` is the signed bytes themselves, so it is the payload exactly.
    let result = String::from_utf8(body)
        .ok()
        .and_then(|json| RawValue::from_string(json).ok())
        .ok_or_else(|| AppError::Internal("verdict payload is not JSON text".into()))?;
    Ok(Json(EvidenceAnswer {
        verdict: signed,
        result,
    }))
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
