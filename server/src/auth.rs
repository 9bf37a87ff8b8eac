//! Authentication as extractors, so a handler that takes [`BearerClaims`] or [`AppKey`]
//! cannot run for an unauthenticated request.
//!
//! - Bearer tokens say what they may do: their `scope` claim must name the route's scope
//!   ([`Scope`]: `liveness`, `sessions`, `devices:admin`, `metrics`; 403 otherwise), and
//!   their lifetime is capped (`[jwt] max_lifetime_s`).
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
    /// Longest accepted lifetime, seconds.
    max_lifetime_s: u64,
}

impl std::fmt::Debug for JwtVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JwtVerifier")
            .field("configured", &self.inner.is_some())
            .field("max_lifetime_s", &self.max_lifetime_s)
            .finish()
    }
}

impl JwtVerifier {
    /// Builds the verifier from configuration.
    pub fn new(c: &JwtConfig) -> Result<Self, ConfigError> {
        let Some(alg) = c.algorithm.as_deref() else {
            return Ok(Self {
                inner: None,
                max_lifetime_s: c.max_lifetime(),
            });
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
        // A configured audience or issuer is required, not only checked when present
        // (jsonwebtoken skips an absent claim unless it is listed as required).
        let mut required = vec!["exp"];
        match &c.audience {
            Some(aud) => {
                v.set_audience(&[aud]);
                required.push("aud");
            }
            None => v.validate_aud = false,
        }
        if let Some(iss) = &c.issuer {
            v.set_issuer(&[iss]);
            required.push("iss");
        }
        v.set_required_spec_claims(&required);
        Ok(Self {
            inner: Some((key, v)),
            max_lifetime_s: c.max_lifetime(),
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
        let claims = jsonwebtoken::decode::<serde_json::Map<String, serde_json::Value>>(
            token, key, validation,
        )
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
        })?;
        // exp is required and valid here; the lifetime runs from iat when given, else now.
        let exp = claims
            .get("exp")
            .and_then(serde_json::Value::as_u64)
            .unwrap_or(0);
        let now = crate::clock::now_ms() / 1000;
        let start = claims
            .get("iat")
            .and_then(serde_json::Value::as_u64)
            .map_or(now, |iat| iat.min(now));
        if exp.saturating_sub(start) > self.max_lifetime_s {
            return Err(AppError::Unauthorized(format!(
                "token lifetime exceeds the maximum of {} s",
                self.max_lifetime_s
            )));
        }
        Ok(claims)
    }
}

/// What a bearer token may do: its `scope` claim (space-separated, RFC 8693 §4.2) must name
/// the route's scope. A token without the scope gets 403 `insufficient_scope`.
pub trait Scope {
    const NAME: &'static str;
}

/// The seed liveness APIs: `/liveness`, `/v2/liveness`, their batch routes, `/ws/liveness`
/// (and minting its tickets).
pub struct Liveness;
/// Creating SDK sessions (`POST /v1/sessions`).
pub struct Sessions;
/// Registering and revoking kiosk devices.
pub struct DevicesAdmin;
/// Reading `/metrics`.
pub struct MetricsRead;

impl Scope for Liveness {
    const NAME: &'static str = "liveness";
}
impl Scope for Sessions {
    const NAME: &'static str = "sessions";
}
impl Scope for DevicesAdmin {
    const NAME: &'static str = "devices:admin";
}
impl Scope for MetricsRead {
    const NAME: &'static str = "metrics";
}

/// A verified bearer token that carries the scope `S`.
#[derive(Debug, Clone)]
pub struct Authorized<S: Scope> {
    pub claims: BearerClaims,
    scope: std::marker::PhantomData<S>,
}

impl<S: Scope> std::ops::Deref for Authorized<S> {
    type Target = BearerClaims;
    fn deref(&self) -> &BearerClaims {
        &self.claims
    }
}

impl<S: Scope + Send + Sync> FromRequestParts<AppState> for Authorized<S> {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AppError> {
        let value = header(parts, "authorization")
            .ok_or_else(|| AppError::Unauthorized("missing Authorization header".into()))?;
        let claims = BearerClaims::from_header(state, value)?;
        claims.require_scope(S::NAME)?;
        Ok(Self {
            claims,
            scope: std::marker::PhantomData,
        })
    }
}

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

/// JWS `typ` of a WebSocket ticket.
pub const WS_TICKET_TYPE: &str = "liveproof-ws-ticket+jws";
/// How long a ticket may wait before it opens its socket, seconds.
pub const WS_TICKET_TTL_S: u64 = 60;

/// Who opens `/ws/liveness`: a relying party's backend with its bearer token (scope
/// `liveness`) in the `Authorization` header, or a browser with a ticket in `?ticket=`: a
/// single-use, 60-second token the relying party minted for it (`POST /v1/ws-tickets`), so the
/// relying party's API token never sits in a page or a URL. API tokens in the URL are refused.
#[derive(Debug, Clone)]
pub struct WsCaller {
    /// The relying party (`sub` of its token, or of the token that minted the ticket).
    pub subject: String,
}

#[derive(serde::Serialize, serde::Deserialize)]
struct WsTicket {
    sub: String,
    exp: u64,
    jti: String,
}

/// Mints a ticket for `subject` (the body of `POST /v1/ws-tickets`).
pub fn mint_ws_ticket(state: &AppState, subject: &str) -> Result<String, AppError> {
    let ticket = WsTicket {
        sub: subject.to_owned(),
        exp: crate::clock::now_ms() / 1000 + WS_TICKET_TTL_S,
        jti: crate::random::token(16)?,
    };
    let payload = serde_json::to_vec(&ticket)
        .map_err(|e| AppError::Internal(format!("ticket serialisation: {e}")))?;
    state
        .signer
        .sign_typed(&payload, WS_TICKET_TYPE)
        .map_err(|e| AppError::Internal(format!("ticket signature: {e}")))
}

impl FromRequestParts<AppState> for WsCaller {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AppError> {
        if let Some(value) = header(parts, "authorization") {
            let claims = BearerClaims::from_header(state, value)?;
            claims.require_scope(Liveness::NAME)?;
            return Ok(WsCaller {
                subject: claims.subject,
            });
        }
        let query = parts.uri.query().unwrap_or_default();
        let param = |name: &str| {
            query
                .split('&')
                .find_map(|kv| kv.strip_prefix(name))
                .filter(|t| !t.is_empty())
        };
        if param("token=").is_some() {
            return Err(AppError::Unauthorized(
                "API tokens are not accepted in URLs: open the socket with a ticket \
                 (POST /v1/ws-tickets, then ?ticket=...) or an Authorization header"
                    .into(),
            ));
        }
        let Some(ticket) = param("ticket=") else {
            return Err(AppError::Unauthorized(
                "missing Authorization header or `ticket` query parameter".into(),
            ));
        };
        let bad = || AppError::Unauthorized("invalid or expired ticket".into());
        // Tickets are base64url and dots: nothing to percent-decode in a valid one.
        let payload = state
            .signer
            .verify_typed(ticket, WS_TICKET_TYPE)
            .map_err(|_| bad())?;
        let t: WsTicket = serde_json::from_slice(&payload).map_err(|_| bad())?;
        let now_s = crate::clock::now_ms() / 1000;
        if t.exp < now_s {
            return Err(bad());
        }
        // Single use, across replicas.
        let keep_ms = (t.exp - now_s + 1) * 1000;
        if !state.store.use_nonce("ws-ticket", &t.jti, keep_ms).await? {
            return Err(AppError::Unauthorized(
                "this ticket was already used".into(),
            ));
        }
        Ok(WsCaller { subject: t.sub })
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

/// Key check, rate limit, then quota. The configuration is the source of truth for which keys
/// exist and what they hash to (a key removed from it stops working at the next start, even
/// though the store still counts its usage); the store keeps the usage, shared by replicas.
async fn authorize(state: &AppState, app_id: &str, key: &str) -> Result<AppKey, AppError> {
    const DUMMY: [u8; 32] = [0xA5; 32];
    let configured = state
        .config
        .api_keys
        .iter()
        .find(|k| k.app_id == app_id)
        .and_then(|k| k.key_hash().ok().map(|h| (k, h)));
    let presented = hash_key(key);
    let expected = configured.as_ref().map_or(&DUMMY, |(_, h)| h);
    let matches: bool = presented.ct_eq(expected).into();
    let Some((record, _)) = configured.filter(|_| matches) else {
        return Err(AppError::Unauthorized("invalid app id or key".into()));
    };
    if let Some(rate) = record.rate_per_minute {
        rate_limit(state, &format!("key:{}", record.app_id), rate).await?;
    }
    match state.store.charge(&record.app_id).await? {
        Charge::Accepted { .. } => Ok(AppKey {
            app_id: record.app_id.clone(),
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
            let claims = BearerClaims::from_header(state, value)?;
            claims.require_scope(Sessions::NAME)?;
            return Ok(SessionCreator::Bearer(claims));
        }
        let sessions = &state.config.sessions;
        if !sessions.public {
            return Err(AppError::Unauthorized(
                "missing Authorization header".into(),
            ));
        }
        let ip = client_ip(parts, &state.trusted_proxies);
        rate_limit(state, &format!("ip:{ip}"), sessions.public_rate_per_minute).await?;
        Ok(SessionCreator::Public { ip })
    }
}

/// The client's rate-limit identity: its address, an IPv6 client's /64 (one subscriber gets a
/// whole /64 and can rotate within it), `unknown` without a peer address (one shared bucket).
/// `X-Forwarded-For` is read only from a trusted proxy, right to left: the first address that
/// is not a trusted proxy is the client (the ones left of it are the client's to forge).
fn client_ip(parts: &Parts, trusted: &[ipnet::IpNet]) -> String {
    let Some(peer) = parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip())
    else {
        return "unknown".to_owned();
    };
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|n| n.contains(ip));
    let mut client = peer;
    if is_trusted(&peer) {
        if let Some(forwarded) = header(parts, "x-forwarded-for") {
            for entry in forwarded.rsplit(',') {
                let Ok(ip) = entry.trim().parse::<IpAddr>() else {
                    break;
                };
                client = ip;
                if !is_trusted(&ip) {
                    break;
                }
            }
        }
    }
    rate_key(client)
}

/// An address's bucket: IPv4 as is, IPv6 by its /64 network.
fn rate_key(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => ipnet::Ipv6Net::new(v6, 64)
                .map(|n| n.trunc().to_string())
                .unwrap_or_else(|_| v6.to_string()),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(peer: &str, forwarded: Option<&str>) -> Parts {
        let mut req = axum::http::Request::builder().uri("/v1/sessions");
        if let Some(f) = forwarded {
            req = req.header("x-forwarded-for", f);
        }
        let (mut parts, ()) = req.body(()).unwrap().into_parts();
        let addr = SocketAddr::new(peer.parse().unwrap(), 4000);
        parts.extensions.insert(ConnectInfo(addr));
        parts
    }

    #[test]
    fn the_client_is_the_right_most_untrusted_address_and_ipv6_counts_per_64() {
        let proxies: Vec<ipnet::IpNet> = vec!["10.0.0.0/8".parse().unwrap()];
        // Not through a trusted proxy: the header is the client's own to forge.
        assert_eq!(
            client_ip(&parts("203.0.113.9", Some("1.2.3.4")), &proxies),
            "203.0.113.9"
        );
        // Through two proxies: the forged left-most entry is ignored.
        let p = parts("10.0.0.2", Some("1.2.3.4, 198.51.100.7, 10.0.0.1"));
        assert_eq!(client_ip(&p, &proxies), "198.51.100.7");
        // Garbage stops the walk at the last good address.
        let p = parts("10.0.0.2", Some("not-an-ip, 10.0.0.1"));
        assert_eq!(client_ip(&p, &proxies), "10.0.0.1");
        // IPv6: one bucket per /64.
        let a = client_ip(&parts("2001:db8:1:2::1", None), &proxies);
        let b = client_ip(&parts("2001:db8:1:2:ffff::9", None), &proxies);
        let c = client_ip(&parts("2001:db8:1:3::1", None), &proxies);
        assert_eq!(a, "2001:db8:1:2::/64");
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert_eq!(
            client_ip(&parts("::ffff:192.0.2.1", None), &proxies),
            "192.0.2.1"
        );
    }
}
