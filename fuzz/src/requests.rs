//! `requests`: the seed APIs' request parsing through the real router (`liveproof_server::app`),
//! authenticated, with a fuzzed body. Input: one selector byte, then the body.
//!
//! - selector `& 0x7f` (mod 6) picks the route: v1 `/liveness`, `/v2/liveness`, the selfie
//!   JSON route, the verification (Kairos) route, v1 and v2 batch;
//! - selector `& 0x80` set: the body's first line is the `Content-Type` (so boundaries and
//!   media types are fuzzed too); clear: the route's usual type with the fixed boundary.
//!
//! Every answer must be 2xx, 4xx or 503 ([`crate::fixtures::is_handled`]); a panic in a
//! handler propagates and is a crash.
//!
//! The handlers ask for the engine only after the whole request is parsed, so the fuzzed
//! router runs without models ([`requests`]): a request that parses gets 503 and no input
//! costs an inference. The replay also sends the corpus to a router with the models loaded
//! ([`requests_with_engine`]), which runs the pipeline on every request that parses.

use std::sync::OnceLock;

use axum::body::Body;
use axum::http::{header, HeaderValue, Request, StatusCode};
use axum::Router;
use http_body_util::BodyExt;
use liveproof_server::config::{ApiKeyConfig, Config};
use liveproof_server::{app, AppState};
use tower::ServiceExt;

use crate::fixtures::{block_on, engine, form_content_type, is_handled};

/// JWT secret of the bearer routes.
const JWT_SECRET: &str = "fuzz-secret-fuzz-secret-fuzz-secret-0123";
/// Selfie API key (`AppId` + `Authorization`).
pub const SELFIE_APP: (&str, &str) = ("fuzz-selfie", "fuzz-selfie-key");
/// Verification API key (`app-id` + `app-key`).
pub const VERIFY_APP: (&str, &str) = ("fuzz-verify", "fuzz-verify-key");

/// How a route authenticates.
#[derive(Debug, Clone, Copy)]
enum Auth {
    Bearer,
    Selfie,
    Verification,
}

/// A fuzzed route: path, whether its body is JSON (else multipart), credentials.
#[derive(Debug, Clone, Copy)]
pub struct Route {
    pub path: &'static str,
    pub json: bool,
    auth: Auth,
}

/// The routes, in selector order (the seeds rely on it).
pub const ROUTES: [Route; 6] = [
    Route {
        path: "/liveness",
        json: false,
        auth: Auth::Bearer,
    },
    Route {
        path: "/v2/liveness",
        json: false,
        auth: Auth::Bearer,
    },
    Route {
        path: liveproof_server::routes::selfie::PATH,
        json: true,
        auth: Auth::Selfie,
    },
    Route {
        path: liveproof_server::routes::verification::PATH,
        json: false,
        auth: Auth::Verification,
    },
    Route {
        path: liveproof_server::routes::batch::V1_PATH,
        json: false,
        auth: Auth::Bearer,
    },
    Route {
        path: liveproof_server::routes::batch::V2_PATH,
        json: false,
        auth: Auth::Bearer,
    },
];

/// The fuzzed router: no models, so parsed requests end in 503. True when the request parsed
/// (503, or a 2xx).
pub fn requests(data: &[u8]) -> bool {
    static APP: OnceLock<Router> = OnceLock::new();
    send(APP.get_or_init(|| router(false)), data)
        .is_some_and(|s| s.is_success() || s == StatusCode::SERVICE_UNAVAILABLE)
}

/// The replay's second pass: the same router with the real models loaded. True on a 2xx.
pub fn requests_with_engine(data: &[u8]) -> bool {
    static APP: OnceLock<Router> = OnceLock::new();
    send(APP.get_or_init(|| router(true)), data).is_some_and(|s| s.is_success())
}

fn config() -> Config {
    let mut c = Config::default();
    c.jwt.algorithm = Some("HS256".into());
    c.jwt.secret = Some(JWT_SECRET.into());
    // The token minted once must outlive any campaign.
    c.jwt.max_lifetime_s = Some(100 * 365 * 86_400);
    let key = |(app_id, key): (&str, &str)| ApiKeyConfig {
        app_id: app_id.into(),
        key: Some(key.into()),
        key_sha256: None,
        quota: None,
        rate_per_minute: None,
    };
    c.api_keys = vec![key(SELFIE_APP), key(VERIFY_APP)];
    c.pool.size = 1;
    c.pool.queue = 4;
    c
}

fn router(with_engine: bool) -> Router {
    block_on(async {
        let state = match AppState::new(config()).await {
            Ok(s) => s,
            Err(e) => panic!("server state: {e}"),
        };
        if with_engine {
            state.set_engine(engine());
        }
        app(state)
    })
}

/// A bearer token with the `liveness` scope, valid for the configured maximum lifetime.
fn bearer() -> &'static str {
    static BEARER: OnceLock<String> = OnceLock::new();
    BEARER.get_or_init(|| {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let claims = serde_json::json!({
            "sub": "fuzzer",
            "scope": "liveness",
            "iat": now,
            "exp": now + 99 * 365 * 86_400,
        });
        let key = jsonwebtoken::EncodingKey::from_secret(JWT_SECRET.as_bytes());
        match jsonwebtoken::encode(&jsonwebtoken::Header::default(), &claims, &key) {
            Ok(t) => format!("Bearer {t}"),
            Err(e) => panic!("minting the bearer token: {e}"),
        }
    })
}

/// The request a fuzz input stands for, or `None` when its content type is no header value.
pub fn request(data: &[u8]) -> Option<(Route, Request<Body>)> {
    let (&selector, rest) = data.split_first()?;
    let route = ROUTES[usize::from(selector & 0x7f) % ROUTES.len()];
    let (content_type, body) = if selector & 0x80 != 0 {
        let end = rest.iter().position(|&b| b == b'\n').unwrap_or(rest.len());
        let value = HeaderValue::from_bytes(&rest[..end]).ok()?;
        (value, rest.get(end + 1..).unwrap_or_default())
    } else if route.json {
        (HeaderValue::from_static("application/json"), rest)
    } else {
        (HeaderValue::from_str(&form_content_type()).ok()?, rest)
    };
    let mut builder = Request::post(route.path).header(header::CONTENT_TYPE, content_type);
    builder = match route.auth {
        Auth::Bearer => builder.header(header::AUTHORIZATION, bearer()),
        Auth::Selfie => builder
            .header("appid", SELFIE_APP.0)
            .header(header::AUTHORIZATION, SELFIE_APP.1),
        Auth::Verification => builder
            .header("app-id", VERIFY_APP.0)
            .header("app-key", VERIFY_APP.1),
    };
    builder
        .body(Body::from(body.to_vec()))
        .ok()
        .map(|r| (route, r))
}

/// Sends the request `data` stands for; its status.
fn send(app: &Router, data: &[u8]) -> Option<StatusCode> {
    let (route, request) = request(data)?;
    block_on(async {
        let response = match app.clone().oneshot(request).await {
            Ok(r) => r,
            Err(never) => match never {},
        };
        let status = response.status();
        let body = response
            .into_body()
            .collect()
            .await
            .map(|b| b.to_bytes())
            .unwrap_or_default();
        assert!(
            is_handled(status),
            "{} answered {status}: {}",
            route.path,
            String::from_utf8_lossy(&body)
        );
        Some(status)
    })
}
