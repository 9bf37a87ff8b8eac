//! The SDK's online session flow.
//!
//! `POST /v1/sessions` (Bearer JWT, or nobody when `[sessions] public = true`, then
//! rate-limited per client IP) issues a session: an id, a server nonce, a per-session HMAC key
//! the SDK signs its evidence with (HS256, `kid` = session id), and the challenge script.
//!
//! The script comes from server policy only (`[sessions.script]`: actions, count ≥ 2, time
//! per challenge), drawn by the core from the nonce ([`ScriptPolicy::draw`]), so the browser
//! SDK given the same nonce draws the identical script; `challenges` in the answer is
//! authoritative. A public (unauthenticated) creator sends no options (403
//! `options_not_allowed` otherwise): whoever is being checked must not choose the check. A
//! relying party (Bearer token) may narrow the policy with an optional JSON body:
//!
//! - `challenges`: draw from these actions only (a subset of the policy's; either spelling);
//! - `count`: more challenges than the policy's count (at most the actions available, 10);
//! - `timeout_ms`: less time per challenge than the policy's.
//!
//! Unknown fields are refused (422), so a misspelt option is not silently ignored. The answer
//! (201) carries a secret key, so it is sent with `Cache-Control: no-store`.
//!
//! `POST /v1/sessions/{id}/evidence` takes the bundle (see [`crate::evidence`]): 404 unknown
//! session, 410 expired, then the signature with the session's key, then the session must
//! still be pending (409), then the core binds the manifest to this session, its nonce and
//! its script (422) and verifies it.

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection};
use axum::extract::{DefaultBodyLimit, Multipart, Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::post;
use axum::{Extension, Json, Router};
use liveproof::challenge::ChallengeConfig;
use liveproof::challenge::{ChallengeAction, PolicyError, ScriptPolicy, ScriptRequest};
use liveproof::evidence::{jws, verify_bundle, Alg, VerifyKey};
use liveproof::light::LightSegment;
use liveproof::verify::{bind, Issued, IssuedLight};
use serde::Serialize;
use serde_json::{Map, Value};

use crate::auth::SessionCreator;
use crate::clock::{now_ms, rfc3339};
use crate::error::AppError;
use crate::evidence::verdict::EvidenceKind;
use crate::evidence::{answer_submission, judge, read_items, read_token, Context, EvidenceAnswer};
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

/// What a creator asks for.
#[derive(Debug, Default, PartialEq)]
struct CreateRequest {
    /// A relying party's narrowing of the script policy.
    script: ScriptRequest,
    /// `"light": false`: no flashing (accessibility). Anyone may ask, the person being
    /// checked included: the script gets extra challenges instead, never fewer checks.
    no_flash: bool,
}

/// Parses a creator's options (every field optional; an empty body asks for nothing).
fn parse_request(body: &[u8]) -> Result<CreateRequest, AppError> {
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
    let mut request = ScriptRequest::default();
    let mut no_flash = false;
    for (k, v) in &object {
        match k.as_str() {
            "light" => {
                no_flash = !v
                    .as_bool()
                    .ok_or_else(|| AppError::invalid_field("light", "must be true or false"))?;
            }
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
                request.challenges = Some(actions);
            }
            "count" => {
                let n = v
                    .as_u64()
                    .ok_or_else(|| AppError::invalid_field("count", "must be a whole number"))?;
                request.count = Some(usize::try_from(n).unwrap_or(usize::MAX));
            }
            "timeout_ms" => {
                request.timeout_ms =
                    Some(v.as_f64().ok_or_else(|| {
                        AppError::invalid_field("timeout_ms", "must be a number")
                    })?);
            }
            other => {
                return Err(AppError::invalid_field(
                    other,
                    "unknown field (accepted: challenges, count, timeout_ms, light)",
                ))
            }
        }
    }
    Ok(CreateRequest {
        script: request,
        no_flash,
    })
}

/// A policy error, put on the field it is about.
pub fn policy_field_error(e: PolicyError) -> AppError {
    AppError::invalid_field(e.field, e.message)
}

/// The policy a creator gets: the server's, narrowed by a relying party's request, with
/// `extra` more challenges (the no-flash path; as many as the actions allow).
fn policy_for(
    creator: &SessionCreator,
    policy: &ScriptPolicy,
    request: &ScriptRequest,
    extra: usize,
) -> Result<ScriptPolicy, AppError> {
    Ok(policy_within(creator, policy, request)?.with_extra_challenges(extra))
}

fn policy_within(
    creator: &SessionCreator,
    policy: &ScriptPolicy,
    request: &ScriptRequest,
) -> Result<ScriptPolicy, AppError> {
    match creator {
        SessionCreator::Public { .. } if !request.is_empty() => Err(AppError::coded(
            StatusCode::FORBIDDEN,
            "options_not_allowed",
            "a public session follows the server's policy; only a relying party (Bearer token) \
             may narrow its challenges, count or timeout",
        )),
        _ => policy.narrow(request).map_err(policy_field_error),
    }
}

/// The 201 body of `POST /v1/sessions`.
#[derive(Debug, Serialize)]
pub struct SessionCreated {
    pub session_id: String,
    pub nonce: String,
    /// The HS256 key the SDK signs this session's evidence with, base64url.
    pub session_key: String,
    pub alg: &'static str,
    /// The script, authoritative (drawn by the core from the nonce).
    pub challenges: Vec<ChallengeAction>,
    pub timeout_ms: f64,
    pub expires_at: String,
    pub expires_in: u64,
    pub evidence_url: String,
    /// The screen-light sequence the SDK plays (drawn by the core from the nonce; the server
    /// derives it again to verify), or null: light off by policy, or `"light": false` asked.
    pub light: Option<SessionLight>,
}

/// A session's light sequence, as the SDK plays it.
#[derive(Debug, Serialize)]
pub struct SessionLight {
    pub segments: Vec<LightSegment>,
    /// The passive phase the session's challenge config uses (ms), as the server's run.
    pub passive_ms: f64,
}

impl SessionLight {
    pub fn of(light: &IssuedLight) -> Option<Self> {
        match light {
            IssuedLight::Sequence(seq) => Some(Self {
                segments: seq.segments.clone(),
                passive_ms: ChallengeConfig::default().passive_ms,
            }),
            IssuedLight::NoFlash | IssuedLight::Off => None,
        }
    }
}

async fn create(
    State(state): State<AppState>,
    creator: SessionCreator,
    body: Result<Bytes, BytesRejection>,
) -> Result<impl IntoResponse, AppError> {
    let request = parse_request(&body?)?;
    let verification = &state.config.verification;
    let nonce = token(32)?;
    let light = verification
        .light_for(&nonce, request.no_flash)
        .map_err(AppError::from)?;
    let extra = if light == IssuedLight::NoFlash {
        verification.no_flash_extra_challenges
    } else {
        0
    };
    let policy = policy_for(
        &creator,
        &state.config.sessions.script,
        &request.script,
        extra,
    )?;
    let script = policy.draw(nonce.as_bytes()).map_err(policy_field_error)?;
    let mut key = [0u8; 32];
    crate::random::fill(&mut key)?;
    let created_ms = now_ms();
    let ttl_ms = state.config.sessions.ttl_s * 1000;
    let audience = match &creator {
        SessionCreator::Bearer(c) => c.subject.clone(),
        SessionCreator::Public { .. } => state.config.signing.public_audience.clone(),
    };
    let session = SessionRecord {
        id: uuid::Uuid::new_v4().to_string(),
        nonce,
        key,
        script,
        timeout_ms: policy.timeout_ms,
        principal: creator.principal(),
        audience,
        created_ms,
        expires_ms: created_ms + ttl_ms,
        status: SessionStatus::Pending,
        light: light.path(),
    };
    state.store.create_session(&session).await?;
    tracing::info!(session = %session.id, principal = %session.principal, script = ?session.script, "session created");
    let body = SessionCreated {
        session_key: jws::b64(&session.key),
        alg: "HS256",
        timeout_ms: session.timeout_ms,
        expires_at: rfc3339(session.expires_ms),
        expires_in: state.config.sessions.ttl_s,
        evidence_url: EVIDENCE_PATH.replace("{id}", &session.id),
        session_id: session.id,
        nonce: session.nonce,
        challenges: session.script,
        light: SessionLight::of(&light),
    };
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
    headers: HeaderMap,
    form: Multipart,
) -> Result<Json<EvidenceAnswer>, AppError> {
    answer_submission(&headers, form, async |form| {
        check_and_judge(&state, &request_id, path, form).await
    })
    .await
}

async fn check_and_judge(
    state: &AppState,
    request_id: &str,
    path: Result<Path<String>, PathRejection>,
    form: &mut Multipart,
) -> Result<Json<EvidenceAnswer>, AppError> {
    let Path(id) = path?;
    // The signed manifest first; no item is read before it is checked against the session.
    let token = read_token(form).await?;
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
    let verified = verify_bundle(&token, |alg, kid| {
        (alg == Alg::HS256 && kid == session.id).then(|| VerifyKey::Hmac(session.key.to_vec()))
    })?;
    if session.status != SessionStatus::Pending {
        return Err(AppError::coded(
            StatusCode::CONFLICT,
            "session_already_verified",
            "evidence for this session was already submitted; start a new session",
        ));
    }
    let issued = Issued {
        session_id: session.id.clone(),
        nonce: session.nonce.clone(),
        script: session.script.clone(),
        timeout_ms: session.timeout_ms,
        issued_ms: Some(session.created_ms),
        light: state
            .config
            .verification
            .issued_light(&session.nonce, session.light)?,
    };
    bind(&issued, &state.config.verification, &verified.manifest)?;
    let items = read_items(form, &verified.manifest).await?;
    let ctx = Context {
        kind: EvidenceKind::Session,
        device_id: None,
        session_id: Some(session.id.clone()),
        issued,
        subject: session.id.clone(),
        audience: session.audience.clone(),
        nonce_scope: "session".into(),
        nonce_keep_ms: session.keep_until_ms().saturating_sub(now_ms()),
        principal: session.principal.clone(),
        route: EVIDENCE_PATH,
    };
    judge(state, request_id, &ctx, &token, verified, items).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::BearerClaims;

    fn field_of(e: AppError) -> String {
        match e {
            AppError::Unprocessable { field, .. } => field,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn requests_parse_and_only_a_relying_party_may_narrow_the_policy() {
        assert_eq!(parse_request(b"").unwrap(), CreateRequest::default());
        assert!(parse_request(br#"{"light":false}"#).unwrap().no_flash);
        assert!(!parse_request(br#"{"light":true}"#).unwrap().no_flash);
        assert_eq!(
            field_of(parse_request(br#"{"light":0}"#).unwrap_err()),
            "light"
        );
        let r = parse_request(br#"{"challenges":["blink","LOOK_LEFT"],"count":2}"#)
            .unwrap()
            .script;
        assert_eq!(
            r.challenges,
            Some(vec![ChallengeAction::Blink, ChallengeAction::LookLeft])
        );
        assert_eq!(
            field_of(parse_request(br#"{"challenges":["WINK"]}"#).unwrap_err()),
            "challenges"
        );
        assert_eq!(
            field_of(parse_request(br#"{"count":-1}"#).unwrap_err()),
            "count"
        );
        assert_eq!(
            field_of(parse_request(br#"{"challenge":[]}"#).unwrap_err()),
            "challenge"
        );
        assert!(matches!(
            parse_request(b"[1]").unwrap_err(),
            AppError::BadRequest { .. }
        ));

        let policy = ScriptPolicy::default();
        let public = SessionCreator::Public {
            ip: "1.2.3.4".into(),
        };
        let rp = SessionCreator::Bearer(BearerClaims {
            subject: "bank".into(),
            ..BearerClaims::default()
        });
        assert_eq!(policy_for(&public, &policy, &r0(), 0).unwrap(), policy);
        let asked = parse_request(br#"{"challenges":["BLINK"],"count":1,"timeout_ms":120000}"#)
            .unwrap()
            .script;
        assert!(matches!(
            policy_for(&public, &policy, &asked, 0).unwrap_err(),
            AppError::Coded {
                code: "options_not_allowed",
                ..
            }
        ));
        // Even a relying party cannot loosen the policy.
        assert_eq!(
            field_of(policy_for(&rp, &policy, &asked, 0).unwrap_err()),
            "count"
        );
        let fine = parse_request(br#"{"challenges":["BLINK","SMILE"],"timeout_ms":5000}"#)
            .unwrap()
            .script;
        let narrowed = policy_for(&rp, &policy, &fine, 0).unwrap();
        assert_eq!(narrowed.count, 2);
        assert_eq!(narrowed.timeout_ms, 5000.0);
        // The no-flash path adds challenges, as many as the actions allow.
        assert_eq!(
            policy_for(&public, &policy, &r0(), 1).unwrap().count,
            policy.count + 1
        );
        assert_eq!(policy_for(&rp, &policy, &fine, 1).unwrap().count, 2);
    }

    fn r0() -> ScriptRequest {
        ScriptRequest::default()
    }
}
