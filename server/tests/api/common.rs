//! Shared helpers: one engine per test binary, states built per test, a multipart encoder,
//! token minting and response reading.

use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

use axum::body::Body;
use axum::http::{HeaderMap, Request, StatusCode};
use axum::Router;
use http_body_util::BodyExt;
use jsonwebtoken::{encode, Algorithm, EncodingKey, Header};
use liveproof::models::ModelSource;
use liveproof::{Engine, EngineConfig};
use liveproof_server::config::{ApiKeyConfig, Config};
use liveproof_server::{app, AppState};
use serde_json::Value;
use tower::ServiceExt;

pub const SECRET: &str = "test-secret-test-secret-test-secret-0123";
pub const SELFIE_APP: (&str, &str) = ("selfie-app", "selfie-key-123");
pub const VERIFY_APP: (&str, &str) = ("verify-app", "verify-key-456");
pub const QUOTA_APP: (&str, &str) = ("quota-app", "quota-key-789");
pub const RATE_APP: (&str, &str) = ("rate-app", "rate-key-000");

/// The engine, loaded once per test binary.
pub fn engine() -> Arc<Engine> {
    static ENGINE: OnceLock<Arc<Engine>> = OnceLock::new();
    ENGINE
        .get_or_init(|| {
            Arc::new(
                Engine::load(&ModelSource::from_env(), EngineConfig::default())
                    .expect("models are set up (scripts/setup-models.sh)"),
            )
        })
        .clone()
}

/// ../shared/media (or $LIVEPROOF_MEDIA).
pub fn media_root() -> String {
    std::env::var_os("LIVEPROOF_MEDIA")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/media"))
        .to_string_lossy()
        .into_owned()
}

/// A file under [`media_root`].
pub fn media(rel: &str) -> Vec<u8> {
    let path = PathBuf::from(media_root()).join(rel);
    std::fs::read(path).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

fn key(app: (&str, &str), quota: Option<u64>) -> ApiKeyConfig {
    ApiKeyConfig {
        app_id: app.0.into(),
        key: Some(app.1.into()),
        key_sha256: None,
        quota,
        rate_per_minute: None,
    }
}

/// HS256 JWT, two keys and a one-request quota key; pool of 2 with a queue of 8.
pub fn config() -> Config {
    let mut c = Config::default();
    c.jwt.algorithm = Some("HS256".into());
    c.jwt.secret = Some(SECRET.into());
    c.api_keys = vec![
        key(SELFIE_APP, None),
        key(VERIFY_APP, None),
        key(QUOTA_APP, Some(1)),
        ApiKeyConfig {
            rate_per_minute: Some(1),
            ..key(RATE_APP, None)
        },
    ];
    c.pool.size = 2;
    c.pool.queue = 8;
    c
}

/// A ready state (engine installed).
pub async fn state_with(config: Config) -> AppState {
    let s = AppState::new(config).await.unwrap();
    s.set_engine(engine());
    s
}

pub async fn router_with(config: Config) -> Router {
    app(state_with(config).await)
}

pub async fn router() -> Router {
    router_with(config()).await
}

/// Status, headers and body (JSON when it parses, else a string).
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub json: Value,
}

pub async fn send(app: &Router, req: Request<Body>) -> Reply {
    let res = app.clone().oneshot(req).await.unwrap();
    let status = res.status();
    let headers = res.headers().clone();
    let bytes = res.into_body().collect().await.unwrap().to_bytes();
    let json = serde_json::from_slice(&bytes)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()));
    Reply {
        status,
        headers,
        json,
    }
}

/// One multipart part: a file or a text field.
pub enum Part<'a> {
    File(&'a [u8]),
    Text(&'a str),
}

pub const BOUNDARY: &str = "liveproof-test-boundary-7f3a";

pub fn multipart(parts: &[(&str, Part)]) -> Vec<u8> {
    let mut body = Vec::new();
    for (name, part) in parts {
        body.extend_from_slice(format!("--{BOUNDARY}\r\n").as_bytes());
        match part {
            Part::File(bytes) => {
                body.extend_from_slice(
                    format!(
                        "Content-Disposition: form-data; name=\"{name}\"; filename=\"{name}.bin\"\r\n\
                         Content-Type: application/octet-stream\r\n\r\n"
                    )
                    .as_bytes(),
                );
                body.extend_from_slice(bytes);
            }
            Part::Text(text) => {
                body.extend_from_slice(
                    format!("Content-Disposition: form-data; name=\"{name}\"\r\n\r\n{text}")
                        .as_bytes(),
                );
            }
        }
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{BOUNDARY}--\r\n").as_bytes());
    body
}

/// A multipart POST with extra headers.
pub fn post_form(path: &str, headers: &[(&str, &str)], parts: &[(&str, Part)]) -> Request<Body> {
    let mut b = Request::post(path).header(
        "content-type",
        format!("multipart/form-data; boundary={BOUNDARY}"),
    );
    for (k, v) in headers {
        b = b.header(*k, *v);
    }
    b.body(Body::from(multipart(parts))).unwrap()
}

pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// An HS256 token with these claims, signed with `secret`.
pub fn hs_token(claims: Value, secret: &str, alg: Algorithm) -> String {
    encode(
        &Header::new(alg),
        &claims,
        &EncodingKey::from_secret(secret.as_bytes()),
    )
    .unwrap()
}

/// A relying party's bearer header value for the default config: the liveness APIs and
/// sessions.
pub fn bearer() -> String {
    bearer_for("tester", "liveness sessions")
}

/// A monitoring token's bearer header value (reads `/metrics` only).
pub fn metrics_bearer() -> String {
    bearer_for("prometheus", "metrics")
}

/// A bearer header value for `sub` with these scopes (space-separated).
pub fn bearer_for(sub: &str, scope: &str) -> String {
    let t = hs_token(
        serde_json::json!({"sub": sub, "scope": scope, "exp": now() + 600}),
        SECRET,
        Algorithm::HS256,
    );
    format!("Bearer {t}")
}

/// An administrator's bearer header value (may register and revoke kiosks).
pub fn admin_bearer() -> String {
    bearer_for("operator", "devices:admin")
}

/// A blank (faceless) grey PNG of this size.
pub fn blank_png(w: u32, h: u32) -> Vec<u8> {
    let img = image::RgbImage::from_pixel(w, h, image::Rgb([128, 128, 128]));
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png).unwrap();
    out.into_inner()
}

/// Asserts the headers every response must carry.
pub fn assert_envelope(r: &Reply) {
    let h = &r.headers;
    assert!(
        h.get("x-request-id").is_some_and(|v| !v.is_empty()),
        "X-Request-ID on {}",
        r.status
    );
    assert_eq!(h["x-content-type-options"], "nosniff");
    assert_eq!(h["x-frame-options"], "DENY");
    assert_eq!(
        h["strict-transport-security"],
        "max-age=86400; includeSubDomains"
    );
    let csp = h["content-security-policy"].to_str().unwrap();
    assert!(
        csp.starts_with("default-src 'self'; script-src 'self' 'wasm-unsafe-eval';"),
        "{csp}"
    );
    assert!(
        csp.contains("frame-ancestors 'none'") && !csp.contains("unsafe-inline"),
        "{csp}"
    );
    assert_eq!(h["referrer-policy"], "no-referrer");
    assert!(h["permissions-policy"]
        .to_str()
        .unwrap()
        .starts_with("camera=(self), microphone=()"));
}
