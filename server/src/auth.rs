//! Authentication as extractors, so a handler that takes [`BearerClaims`] or [`AppKey`]
//! cannot run for an unauthenticated request.
//!
//! - v1/v2 liveness: `Authorization: Bearer <JWT>`. Exactly one algorithm is configured
//!   (HS256, RS256 or EdDSA); a token whose header names any other (including `none`,
//!   which jsonwebtoken cannot even parse) is refused, as are expired, not-yet-valid
//!   (`nbf` is checked: jsonwebtoken does not by default) and badly signed tokens.
//! - selfie API: `AppId` + `Authorization: <key>` (no `Bearer`); verification API:
//!   `app-id` + `app-key`. Keys are stored as SHA-256 and compared in constant time
//!   (`subtle`); an unknown app id is compared against a dummy hash so both failures cost
//!   the same. Then the per-key rate limit (429) and the quota (403) are applied, both kept
//!   in the store so that replicas sharing a Redis share them.
//! - `POST /v1/sessions`: the bearer JWT, or nobody when `[sessions] public = true` (the demo
//!   page), then rate-limited per client IP ([`SessionCreator`]).
//! - evidence routes: the evidence's own signature is the credential (per-session HMAC key,
//!   or a registered device's Ed25519 key); see `crate::evidence`.

use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::config::{ConfigError, JwtConfig};
use crate::error::AppError;
use crate::state::store::{Charge, RateDecision};
use crate::state::AppState;

/// SHA-256 of an API key.
pub fn hash_key(key: &str) -> [u8; 32] {
    Sha256::digest(key.as_bytes()).into()
}

/// Verifies bearer tokens; `None` inside means no JWT is configured (every token → 401).
pub struct JwtVerifier {
    inner: Option<(DecodingKey, Validation)>,
}

impl std::fmt::Debug for JwtVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JwtVerifier")
            .field("configured", &self.inner.is_some())
            .finish()
    }
}

impl JwtVerifier {
    /// Builds the verifier from configuration.
    pub fn new(c: &JwtConfig) -> Result<Self, ConfigError> {
        let Some(alg) = c.algorithm.as_deref() else {
            return Ok(Self { inner: None });
        };
        let invalid = |m: &str| ConfigError::Invalid(format!("jwt: {m}"));
        let pem = || -> Result<Vec<u8>, ConfigError> {
            match (&c.public_key_pem, &c.public_key_path) {
                (Some(p), None) => Ok(p.as_bytes().to_vec()),
                (None, Some(path)) => std::fs::read(path).map_err(|source| ConfigError::Read {
                    path: path.clone(),
                    source,
                }),
                _ => Err(invalid(
                    "give exactly one of public_key_pem, public_key_path",
                )),
            }
        };
        let (algorithm, key) = match alg {
            "HS256" => {
                let secret = c
                    .secret
                    .as_deref()
                    .ok_or_else(|| invalid("HS256 needs secret"))?;
                if secret.len() < 32 {
                    return Err(invalid("HS256 secret must be at least 32 bytes"));
                }
                (
                    Algorithm::HS256,
                    DecodingKey::from_secret(secret.as_bytes()),
                )
            }
            "RS256" => (
                Algorithm::RS256,
                DecodingKey::from_rsa_pem(&pem()?).map_err(|e| invalid(&e.to_string()))?,
            ),
            "EdDSA" => (
                Algorithm::EdDSA,
                DecodingKey::from_ed_pem(&pem()?).map_err(|e| invalid(&e.to_string()))?,
            ),
            other => return Err(invalid(&format!("unsupported algorithm {other:?}"))),
        };
        let mut v = Validation::new(algorithm);
        v.validate_nbf = true;
        v.leeway = c.leeway_s.unwrap_or(30);
        match &c.audience {
            Some(aud) => v.set_audience(&[aud]),
            None => v.validate_aud = false,
        }
        if let Some(iss) = &c.issuer {
            v.set_issuer(&[iss]);
        }
        Ok(Self {
            inner: Some((key, v)),
        })
    }

    /// The token's claims, or a 401 naming what is wrong.
    pub fn verify(
        &self,
        token: &str,
    ) -> Result<serde_json::Map<String, serde_json::Value>, AppError> {
        let (key, validation) = self
            .inner
            .as_ref()
            .ok_or_else(|| AppError::Unauthorized("bearer tokens are not configured".into()))?;
        jsonwebtoken::decode::<serde_json::Map<String, serde_json::Value>>(token, key, validation)
            .map(|d| d.claims)
            .map_err(|e| {
                AppError::Unauthorized(
                    match e.kind() {
                        ErrorKind::ExpiredSignature => "token expired",
                        ErrorKind::ImmatureSignature => "token not yet valid",
                        ErrorKind::InvalidSignature => "invalid token signature",
                        ErrorKind::InvalidAlgorithm | ErrorKind::InvalidAlgorithmName => {
                            "token algorithm not accepted"
                        }
                        ErrorKind::InvalidAudience => "token audience not accepted",
                        ErrorKind::InvalidIssuer => "token issuer not accepted",
                        ErrorKind::MissingRequiredClaim(_) => "token lacks a required claim",
                        _ => "invalid token",
                    }
                    .into(),
                )
            })
    }
}

/// The scope a token needs to register and revoke kiosk devices.
pub const DEVICES_ADMIN_SCOPE: &str = "devices:admin";

/// A verified bearer token (v1/v2 liveness).
#[derive(Debug, Clone, Default)]
pub struct BearerClaims {
    /// `sub`, or `"unknown"`.
    pub subject: String,
    /// The token's `scope` claim (space-separated, RFC 8693 §4.2), split.
    pub scopes: Vec<String>,
}

impl BearerClaims {
    /// 403 `insufficient_scope` unless the token carries `scope`.
    pub fn require_scope(&self, scope: &str) -> Result<(), AppError> {
        if self.scopes.iter().any(|s| s == scope) {
            Ok(())
        } else {
            Err(AppError::coded(
                axum::http::StatusCode::FORBIDDEN,
                "insufficient_scope",
                format!("this route needs a token with scope `{scope}`"),
            ))
        }
    }
}

impl FromRequestParts<AppState> for BearerClaims {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AppError> {
        let value = header(parts, "authorization")
            .ok_or_else(|| AppError::Unauthorized("missing Authorization header".into()))?;
        BearerClaims::from_header(state, value)
    }
}

impl BearerClaims {
    /// Checks an `Authorization: Bearer <token>` value.
    fn from_header(state: &AppState, value: &str) -> Result<Self, AppError> {
        let token = value
            .strip_prefix("Bearer ")
            .or_else(|| value.strip_prefix("bearer "))
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| AppError::Unauthorized("Authorization must be Bearer <token>".into()))?;
        Self::from_token(state, token)
    }

    fn from_token(state: &AppState, token: &str) -> Result<Self, AppError> {
        let claims = state.jwt.verify(token)?;
        Ok(Self {
            subject: claims
                .get("sub")
                .and_then(|s| s.as_str())
                .unwrap_or("unknown")
                .to_owned(),
            scopes: claims
                .get("scope")
                .and_then(|s| s.as_str())
                .map(|s| s.split_whitespace().map(str::to_owned).collect())
                .unwrap_or_default(),
        })
    }
}

/// The same bearer JWT for a WebSocket upgrade, which browsers cannot give headers: the
/// `Authorization` header when present, else the `token` query parameter. (The access log
/// records the matched route, never the query, so the token is not logged.)
#[derive(Debug, Clone)]
pub struct WsBearerClaims(pub BearerClaims);

impl FromRequestParts<AppState> for WsBearerClaims {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AppError> {
        if let Some(value) = header(parts, "authorization") {
            return BearerClaims::from_header(state, value).map(WsBearerClaims);
        }
        let token = parts
            .uri
            .query()
            .unwrap_or_default()
            .split('&')
            .find_map(|kv| kv.strip_prefix("token="))
            .filter(|t| !t.is_empty())
            .ok_or_else(|| {
                AppError::Unauthorized(
                    "missing Authorization header or `token` query parameter".into(),
                )
            })?;
        // JWTs are base64url and dots: nothing to percent-decode in a valid one.
        BearerClaims::from_token(state, token).map(WsBearerClaims)
    }
}

/// An authenticated, charged API key.
#[derive(Debug, Clone)]
pub struct AppKey {
    pub app_id: String,
}

/// Selfie API credentials: `AppId` + `Authorization: <key>`.
#[derive(Debug, Clone)]
pub struct SelfieKey(pub AppKey);

/// Verification API credentials: `app-id` + `app-key`.
#[derive(Debug, Clone)]
pub struct VerificationKey(pub AppKey);

impl FromRequestParts<AppState> for SelfieKey {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AppError> {
        let app_id = header(parts, "appid")
            .ok_or_else(|| AppError::Unauthorized("missing AppId header".into()))?;
        let key = header(parts, "authorization")
            .ok_or_else(|| AppError::Unauthorized("missing Authorization header".into()))?;
        authorize(state, app_id, key.trim()).await.map(SelfieKey)
    }
}

impl FromRequestParts<AppState> for VerificationKey {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AppError> {
        let app_id = header(parts, "app-id")
            .ok_or_else(|| AppError::Unauthorized("missing app-id header".into()))?;
        let key = header(parts, "app-key")
            .ok_or_else(|| AppError::Unauthorized("missing app-key header".into()))?;
        authorize(state, app_id, key.trim())
            .await
            .map(VerificationKey)
    }
}

fn header<'a>(parts: &'a Parts, name: &str) -> Option<&'a str> {
    parts
        .headers
        .get(name)?
        .to_str()
        .ok()
        .filter(|v| !v.is_empty())
}

/// Key check, rate limit, then quota.
async fn authorize(state: &AppState, app_id: &str, key: &str) -> Result<AppKey, AppError> {
    const DUMMY: [u8; 32] = [0xA5; 32];
    let record = state.store.key(app_id).await?;
    let presented = hash_key(key);
    let stored = record.as_ref().map_or(&DUMMY, |r| &r.key_hash);
    let matches: bool = presented.ct_eq(stored).into();
    let Some(record) = record.filter(|_| matches) else {
        return Err(AppError::Unauthorized("invalid app id or key".into()));
    };
    if let Some(rate) = record.rate_per_minute {
        rate_limit(state, &format!("key:{}", record.app_id), rate).await?;
    }
    match state.store.charge(&record.app_id).await? {
        Charge::Accepted { .. } => Ok(AppKey {
            app_id: record.app_id,
        }),
        Charge::Exhausted => Err(AppError::Forbidden(
            "usage limit exceeded for this app; check your account limits".into(),
        )),
    }
}

/// Takes one token from a store-kept bucket (shared by replicas on Redis); 429 when empty.
pub async fn rate_limit(state: &AppState, bucket: &str, per_minute: u32) -> Result<(), AppError> {
    match state.store.take_token(bucket, per_minute).await? {
        RateDecision::Allowed => Ok(()),
        RateDecision::Limited { retry_after_s } => Err(AppError::RateLimited { retry_after_s }),
    }
}

/// Who creates a liveness session.
#[derive(Debug, Clone)]
pub enum SessionCreator {
    /// A verified bearer token (always accepted when sent).
    Bearer(BearerClaims),
    /// Anyone, in public mode (`[sessions] public = true`), rate-limited per client IP.
    Public { ip: String },
}

impl SessionCreator {
    /// The principal recorded with the session.
    pub fn principal(&self) -> String {
        match self {
            SessionCreator::Bearer(c) => c.subject.clone(),
            SessionCreator::Public { ip } => format!("public:{ip}"),
        }
    }
}

impl FromRequestParts<AppState> for SessionCreator {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AppError> {
        if let Some(value) = header(parts, "authorization") {
            return BearerClaims::from_header(state, value).map(SessionCreator::Bearer);
        }
        let sessions = &state.config.sessions;
        if !sessions.public {
            return Err(AppError::Unauthorized(
                "missing Authorization header".into(),
            ));
        }
        let ip = client_ip(parts, sessions.trust_forwarded_for);
        rate_limit(state, &format!("ip:{ip}"), sessions.public_rate_per_minute).await?;
        Ok(SessionCreator::Public { ip })
    }
}

/// The client's address: the first `X-Forwarded-For` entry when trusted (behind a proxy that
/// sets it), else the peer address of the connection, else `unknown` (one shared bucket).
fn client_ip(parts: &Parts, trust_forwarded_for: bool) -> String {
    if trust_forwarded_for {
        let forwarded = header(parts, "x-forwarded-for")
            .and_then(|v| v.split(',').next())
            .and_then(|v| v.trim().parse::<IpAddr>().ok());
        if let Some(ip) = forwarded {
            return ip.to_string();
        }
    }
    parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map_or_else(|| "unknown".to_owned(), |c| c.0.ip().to_string())
}
