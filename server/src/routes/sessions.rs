//! The SDK's online session flow.
//!
//! `POST /v1/sessions` (Bearer JWT, or nobody when `[sessions] public = true`, then
//! rate-limited per client IP) issues a session: an id, a server nonce, a per-session HMAC key
//! the SDK signs its evidence with (HS256, `kid` = session id), and the challenge script.
//! The script is drawn by the core from the nonce (`ChallengeSession::new(config,
//! seed_from_nonce(nonce))`), so the browser SDK given the same nonce, actions and count draws
//! the identical script; `challenges` in the answer is authoritative. Optional JSON body:
//!
//! - `challenges`: the actions to draw from (default: all six; either spelling, any case);
//! - `count`: how many to draw (default: all of `challenges` when given, else 2; at most the
//!   number of distinct actions; the core allows 1–10);
//! - `timeout_ms`: time per challenge (default 8000; the core allows (0, 120000]).
//!
//! Unknown fields are refused (422), so a misspelt option is not silently ignored. The answer
//! (201) carries a secret key, so it is sent with `Cache-Control: no-store`.
//!
//! `POST /v1/sessions/{id}/evidence` takes the bundle (see [`crate::evidence`]): 404 unknown
//! session, 410 expired, then the signature with the session's key, then the manifest must
//! name this session, its nonce and its script (422), and the session must still be pending
//! (409).

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection};
use axum::extract::{DefaultBodyLimit, Multipart, Path, State};
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::routing::post;
use axum::{Extension, Json, Router};
use liveproof::challenge::{seed_from_nonce, ChallengeAction, ChallengeConfig, ChallengeSession};
use liveproof::evidence::{jws, verify_bundle, Alg, VerifyKey};
use serde_json::{json, Map, Value};

use crate::auth::SessionCreator;
use crate::clock::{now_ms, rfc3339};
use crate::error::AppError;
use crate::evidence::verdict::EvidenceKind;
use crate::evidence::{judge, unprocessable, Context, Submission};
use crate::middleware::RequestId;
use crate::random::token;
use crate::state::store::{SessionRecord, SessionStatus};
use crate::state::AppState;

pub const CREATE_PATH: &str = "/v1/sessions";
pub const EVIDENCE_PATH: &str = "/v1/sessions/{id}/evidence";
/// Body limit of `POST /v1/sessions` (a few options).
pub const CREATE_BODY_BYTES: usize = 16 * 1024;

pub fn router(evidence_body_bytes: usize) -> Router<AppState> {
    Router::new()
        .route(
            CREATE_PATH,
            post(create).layer(DefaultBodyLimit::max(CREATE_BODY_BYTES)),
        )
        .route(
            EVIDENCE_PATH,
            post(submit).layer(DefaultBodyLimit::max(evidence_body_bytes)),
        )
}

/// The parsed options of a new session.
#[derive(Debug, Clone, PartialEq)]
struct Options {
    actions: Vec<ChallengeAction>,
    count: usize,
    timeout_ms: f64,
}

fn parse_options(body: &[u8]) -> Result<Options, AppError> {
    let defaults = ChallengeConfig::default();
    let object = if body.iter().all(u8::is_ascii_whitespace) {
        Map::new()
    } else {
        match serde_json::from_slice::<Value>(body) {
            Ok(Value::Object(m)) => m,
            Ok(_) => {
                return Err(AppError::bad_request(
                    "bad_json",
                    "the body must be a JSON object",
                ))
            }
            Err(e) => return Err(AppError::bad_request("bad_json", e.to_string())),
        }
    };
    let mut given = None;
    let mut count = None;
    let mut timeout_ms = defaults.timeout_ms;
    for (k, v) in &object {
        match k.as_str() {
            "challenges" => {
                let list = v.as_array().ok_or_else(|| {
                    AppError::invalid_field("challenges", "must be an array of action names")
                })?;
                let actions = list
                    .iter()
                    .map(|a| {
                        a.as_str()
                            .ok_or_else(|| {
                                AppError::invalid_field("challenges", "must be action names")
                            })?
                            .parse::<ChallengeAction>()
                            .map_err(|e| AppError::invalid_field("challenges", e.to_string()))
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                given = Some(actions);
            }
            "count" => {
                let n = v
                    .as_u64()
                    .ok_or_else(|| AppError::invalid_field("count", "must be a whole number"))?;
                count = Some(usize::try_from(n).unwrap_or(usize::MAX));
            }
            "timeout_ms" => {
                timeout_ms = v
                    .as_f64()
                    .ok_or_else(|| AppError::invalid_field("timeout_ms", "must be a number"))?;
            }
            other => {
                return Err(AppError::invalid_field(
                    other,
                    "unknown field (accepted: challenges, count, timeout_ms)",
                ))
            }
        }
    }
    let actions = given.clone().unwrap_or_else(|| defaults.actions.clone());
    let mut distinct = actions.clone();
    distinct.sort();
    distinct.dedup();
    let count = count.unwrap_or(if given.is_some() {
        distinct.len()
    } else {
        defaults.count
    });
    if count > distinct.len() && !distinct.is_empty() {
        return Err(AppError::invalid_field(
            "count",
            format!(
                "cannot draw {count} challenges from {} distinct actions",
                distinct.len()
            ),
        ));
    }
    Ok(Options {
        actions,
        count,
        timeout_ms,
    })
}

/// The core's validation message, put on the field it is about.
fn core_field_error(e: liveproof::Error) -> AppError {
    let message = match e {
        liveproof::Error::InvalidArgument(m) => m,
        other => other.to_string(),
    };
    let field = if message.contains("timeout") {
        "timeout_ms"
    } else if message.contains("count") {
        "count"
    } else {
        "challenges"
    };
    AppError::invalid_field(field, message)
}

async fn create(
    State(state): State<AppState>,
    creator: SessionCreator,
    body: Result<Bytes, BytesRejection>,
) -> Result<impl IntoResponse, AppError> {
    let options = parse_options(&body?)?;
    let nonce = token(32)?;
    let config = ChallengeConfig {
        actions: options.actions,
        count: options.count,
        timeout_ms: options.timeout_ms,
        ..ChallengeConfig::default()
    };
    let drawn = ChallengeSession::new(config, seed_from_nonce(nonce.as_bytes()))
        .map_err(core_field_error)?;
    let mut key = [0u8; 32];
    crate::random::fill(&mut key)?;
    let created_ms = now_ms();
    let ttl_ms = state.config.sessions.ttl_s * 1000;
    let session = SessionRecord {
        id: uuid::Uuid::new_v4().to_string(),
        nonce,
        key,
        script: drawn.script().to_vec(),
        timeout_ms: options.timeout_ms,
        principal: creator.principal(),
        created_ms,
        expires_ms: created_ms + ttl_ms,
        status: SessionStatus::Pending,
    };
    state.store.create_session(&session).await?;
    tracing::info!(session = %session.id, principal = %session.principal, script = ?session.script, "session created");
    let body = json!({
        "session_id": session.id,
        "nonce": session.nonce,
        "session_key": jws::b64(&session.key),
        "alg": "HS256",
        "challenges": session.script,
        "timeout_ms": session.timeout_ms,
        "expires_at": rfc3339(session.expires_ms),
        "expires_in": state.config.sessions.ttl_s,
        "evidence_url": EVIDENCE_PATH.replace("{id}", &session.id),
    });
    Ok((
        StatusCode::CREATED,
        [(header::CACHE_CONTROL, "no-store")],
        Json(body),
    ))
}

async fn submit(
    State(state): State<AppState>,
    Extension(RequestId(request_id)): Extension<RequestId>,
    path: Result<Path<String>, PathRejection>,
    form: Multipart,
) -> Result<Json<Value>, AppError> {
    let Path(id) = path?;
    let submission = Submission::read(form).await?;
    let unknown = || {
        AppError::coded(
            StatusCode::NOT_FOUND,
            "unknown_session",
            "no such session (never issued, or expired long ago)",
        )
    };
    if id.is_empty() || id.len() > liveproof::evidence::MAX_ID_LEN {
        return Err(unknown());
    }
    let session = state.store.session(&id).await?.ok_or_else(unknown)?;
    if now_ms() > session.expires_ms {
        return Err(AppError::coded(
            StatusCode::GONE,
            "session_expired",
            format!(
                "the session expired at {}; start a new one",
                rfc3339(session.expires_ms)
            ),
        ));
    }
    let verified = verify_bundle(&submission.token, |alg, kid| {
        (alg == Alg::HS256 && kid == session.id).then(|| VerifyKey::Hmac(session.key.to_vec()))
    })?;
    let m = &verified.manifest;
    if m.session_id != session.id {
        return Err(unprocessable(
            "session_mismatch",
            "the manifest names another session",
        ));
    }
    if m.nonce != session.nonce {
        return Err(unprocessable(
            "nonce_mismatch",
            "the manifest's nonce is not this session's",
        ));
    }
    if m.script != session.script {
        return Err(unprocessable(
            "script_mismatch",
            "the manifest's challenge script is not the one issued with the session",
        ));
    }
    if session.status != SessionStatus::Pending {
        return Err(AppError::coded(
            StatusCode::CONFLICT,
            "session_already_verified",
            "evidence for this session was already submitted; start a new session",
        ));
    }
    let ctx = Context {
        kind: EvidenceKind::Session,
        device_id: None,
        session_id: Some(session.id.clone()),
        script: session.script.clone(),
        timeout_ms: session.timeout_ms,
        nonce_scope: "session".into(),
        nonce_keep_ms: session.keep_until_ms().saturating_sub(now_ms()),
        principal: session.principal.clone(),
        route: EVIDENCE_PATH,
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

#[cfg(test)]
mod tests {
    use super::*;

    fn field_of(e: AppError) -> String {
        match e {
            AppError::Unprocessable { field, .. } => field,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn options_default_and_validate() {
        let o = parse_options(b"").unwrap();
        assert_eq!(o.count, 2);
        assert_eq!(o.actions.len(), 6);
        let o = parse_options(br#"{"challenges":["blink","LOOK_LEFT"]}"#).unwrap();
        assert_eq!(o.count, 2);
        assert_eq!(
            o.actions,
            vec![ChallengeAction::Blink, ChallengeAction::LookLeft]
        );
        let e = parse_options(br#"{"challenges":["BLINK"],"count":2}"#).unwrap_err();
        assert_eq!(field_of(e), "count");
        assert_eq!(
            field_of(parse_options(br#"{"challenges":["WINK"]}"#).unwrap_err()),
            "challenges"
        );
        assert_eq!(
            field_of(parse_options(br#"{"count":-1}"#).unwrap_err()),
            "count"
        );
        assert_eq!(
            field_of(parse_options(br#"{"challenge":[]}"#).unwrap_err()),
            "challenge"
        );
        assert!(matches!(
            parse_options(b"[1]").unwrap_err(),
            AppError::BadRequest { .. }
        ));
        let bad_timeout = ChallengeSession::new(
            ChallengeConfig {
                timeout_ms: -1.0,
                ..ChallengeConfig::default()
            },
            [0; 32],
        )
        .unwrap_err();
        assert_eq!(field_of(core_field_error(bad_timeout)), "timeout_ms");
    }
}
