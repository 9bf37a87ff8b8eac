//! The one middleware every response passes through, errors and 404s included:
//!
//! - `X-Request-ID`: a sane incoming id (1–128 chars of `[A-Za-z0-9._:-]`) is echoed so a
//!   caller's correlation survives; anything else is replaced by a fresh UUID v4. The id is
//!   put in the request extensions ([`RequestId`]) and in the log span.
//! - security headers the verification seed lists: `X-Content-Type-Options: nosniff`,
//!   `X-Frame-Options: DENY`, `Strict-Transport-Security: max-age=86400; includeSubDomains`;
//!   and, for the pages this server serves (the kiosk page holds a signing key), a strict
//!   [`CONTENT_SECURITY_POLICY`] (same-origin scripts, styles, workers and connections only,
//!   wasm compilation allowed, nothing inline, no framing), `Referrer-Policy: no-referrer` and
//!   a `Permissions-Policy` that grants the camera to this origin and nothing else.
//! - one JSON log line per request and the request metrics, labelled by matched route.
//! - the hidden cause of a 500 ([`InternalCause`]) is logged here, not where it arose.

use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderName, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;
use tracing::Instrument;

use crate::error::InternalCause;
use crate::state::AppState;

/// The pages' policy: every script, style, worker and fetch from this origin, WebAssembly
/// compilation (the SDK's wasm) but no `eval`, no inline script or style, images also from
/// `data:`/`blob:` (canvas snapshots), media from camera streams, no plugins, no `<base>`, no
/// framing.
pub const CONTENT_SECURITY_POLICY: &str =
    "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; \
     style-src 'self'; img-src 'self' data: blob:; media-src 'self' blob: mediastream:; \
     connect-src 'self'; worker-src 'self'; object-src 'none'; base-uri 'none'; \
     form-action 'self'; frame-ancestors 'none'";
/// The camera for this origin (the pages need it), nothing else a page could ask for.
pub const PERMISSIONS_POLICY: &str =
    "camera=(self), microphone=(), geolocation=(), payment=(), usb=(), serial=(), bluetooth=()";

/// The request's id, for handlers (audit log) and logs.
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

pub const X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

fn sane(id: &str) -> bool {
    (1..=128).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b':' | b'-'))
}

/// The security headers of every response (the verification seed asks for them).
const SECURITY_HEADERS: [(&str, &str); 6] = [
    ("x-content-type-options", "nosniff"),
    ("x-frame-options", "DENY"),
    (
        "strict-transport-security",
        "max-age=86400; includeSubDomains",
    ),
    ("content-security-policy", CONTENT_SECURITY_POLICY),
    ("referrer-policy", "no-referrer"),
    ("permissions-policy", PERMISSIONS_POLICY),
];

/// Request id, security headers, access log and metrics.
pub async fn envelope(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    let start = Instant::now();
    let id = req
        .headers()
        .get(&X_REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|v| sane(v))
        .map_or_else(|| uuid::Uuid::new_v4().to_string(), str::to_owned);
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or("unmatched", |m| m.as_str())
        .to_owned();
    // Bounded: a client may send any method string; logs and metrics see a fixed set.
    let method = crate::metrics::method_label(req.method().as_str());
    req.extensions_mut().insert(RequestId(id.clone()));

    let span = tracing::info_span!("request", request_id = %id, method = %method, route = %route);
    let mut response = next.run(req).instrument(span.clone()).await;

    let status = response.status().as_u16();
    let elapsed = start.elapsed().as_secs_f64();
    state.metrics.observe(&route, method, status, elapsed);
    span.in_scope(|| {
        if let Some(InternalCause(cause)) = response.extensions().get::<InternalCause>() {
            tracing::error!(status, error = %cause, "request failed");
        }
        tracing::info!(status, latency_ms = elapsed * 1000.0, "request");
    });

    let h = response.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&id) {
        h.insert(X_REQUEST_ID, v);
    }
    for (name, value) in SECURITY_HEADERS {
        h.insert(
            HeaderName::from_static(name),
            HeaderValue::from_static(value),
        );
    }
    response
}

#[cfg(test)]
mod tests {
    #[test]
    fn only_sane_ids_are_echoed() {
        assert!(super::sane("abc-123_x.y:z"));
        assert!(!super::sane(""));
        assert!(!super::sane("a b"));
        assert!(!super::sane(&"a".repeat(129)));
    }
}
