//! The one error type every handler returns, and the one place it becomes a response.
//!
//! Policy (why the shapes differ): the seed documents fix the error bodies clients parse.
//!
//! | status | body | when |
//! |---|---|---|
//! | 400 | `{"msg", "message", "detail": {"code"}}` | bad or missing media, pipeline input errors (v2 doc: "body often includes msg"; v1 shows `detail` + `message`) |
//! | 401 | `{"detail": {}, "message"}` | missing/invalid credentials |
//! | 401 | `{"detail": {"code"}, "message"}` | evidence signature refused (`bad_signature`, `unknown_key`, `unsupported_algorithm`, `malformed_signature`, `device_revoked`) |
//! | 403 | `{"detail": {}, "message"}` | usage limit exceeded |
//! | 404 | `{"detail": {"code"}, "message"}` | unknown session or device (`unknown_session`, `unknown_device`) |
//! | 409 | `{"detail": {"code"}, "message"}` | nonce already used, session already verified |
//! | 410 | `{"detail": {"code"}, "message"}` | session expired |
//! | 413 | `{"detail": {"code"}, "message"}` | body over the route's limit |
//! | 422 | `{"detail": {"<location>": {"<field>": ["..."]}}, "message"}` | invalid tuning field |
//! | 422 | `{"detail": {"code"}, "message"}` | evidence refused after its signature (the core's evidence codes: `digest_mismatch`, `missing_item`, ...; `session_mismatch`, `nonce_mismatch`, ...) |
//! | 429 / 503 | `{"detail": {}, "message"}` + `Retry-After` | rate limit / CPU pool saturated, models loading or state store unreachable |
//! | 500 | `{"detail": {}, "message": "internal server error"}` | anything else; the cause is logged, never sent |
//!
//! The real cause of a 500 travels in the response extensions ([`InternalCause`]) so the
//! logging middleware records it; the conversion itself has no side effects.

use axum::extract::multipart::MultipartError;
use axum::extract::rejection::{BytesRejection, JsonRejection, PathRejection};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};

/// A handler failure.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// `400 Bad Request`: the caller's media or request is unusable.
    #[error("{message}")]
    BadRequest { code: &'static str, message: String },
    /// `401 Unauthorized`.
    #[error("{0}")]
    Unauthorized(String),
    /// `403 Forbidden`: usage limit exceeded.
    #[error("{0}")]
    Forbidden(String),
    /// `404 Not Found` (no such route).
    #[error("not found")]
    NotFound,
    /// `413 Payload Too Large`.
    #[error("{0}")]
    PayloadTooLarge(String),
    /// `422 Unprocessable Entity`: one field at `location` is invalid.
    #[error("{field}: {message}")]
    Unprocessable {
        location: &'static str,
        field: String,
        message: String,
    },
    /// `429 Too Many Requests`.
    #[error("rate limit exceeded")]
    RateLimited { retry_after_s: u64 },
    /// `503 Service Unavailable`: pool saturated or models not loaded yet.
    #[error("{message}")]
    Unavailable {
        message: &'static str,
        retry_after_s: u64,
    },
    /// A status with a stable machine-readable code (the session, device and evidence
    /// routes: 401, 404, 409, 410, 422).
    #[error("{message}")]
    Coded {
        status: StatusCode,
        code: &'static str,
        message: String,
    },
    /// `500 Internal Server Error`; the message is logged, not sent.
    #[error("internal: {0}")]
    Internal(String),
}

/// The hidden cause of a 500, attached to the response for the logging middleware.
#[derive(Debug, Clone)]
pub struct InternalCause(pub String);

impl AppError {
    /// 400 with a stable code.
    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        AppError::BadRequest {
            code,
            message: message.into(),
        }
    }

    /// 422 for a form field.
    pub fn invalid_field(field: impl Into<String>, message: impl Into<String>) -> Self {
        AppError::Unprocessable {
            location: "body",
            field: field.into(),
            message: message.into(),
        }
    }

    /// A coded error (body `{"detail": {"code"}, "message"}`).
    pub fn coded(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        AppError::Coded {
            status,
            code,
            message: message.into(),
        }
    }

    /// The status this error answers with.
    pub fn status(&self) -> StatusCode {
        match self {
            AppError::BadRequest { .. } => StatusCode::BAD_REQUEST,
            AppError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            AppError::Forbidden(_) => StatusCode::FORBIDDEN,
            AppError::NotFound => StatusCode::NOT_FOUND,
            AppError::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            AppError::Unprocessable { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            AppError::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            AppError::Unavailable { .. } => StatusCode::SERVICE_UNAVAILABLE,
            AppError::Coded { status, .. } => *status,
            AppError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl From<liveproof::Error> for AppError {
    /// Input errors are the caller's (400, message kept: it says what to fix); the rest are
    /// the operator's or a bug (500, message hidden).
    fn from(e: liveproof::Error) -> Self {
        if e.is_input_error() {
            AppError::bad_request(e.code(), e.to_string())
        } else {
            AppError::Internal(format!("{}: {e}", e.code()))
        }
    }
}

impl From<MultipartError> for AppError {
    fn from(e: MultipartError) -> Self {
        match e.status() {
            StatusCode::PAYLOAD_TOO_LARGE => {
                AppError::PayloadTooLarge("request body exceeds this route's limit".into())
            }
            _ => AppError::bad_request("bad_multipart", format!("malformed multipart body: {e}")),
        }
    }
}

impl From<JsonRejection> for AppError {
    fn from(e: JsonRejection) -> Self {
        match e.status() {
            StatusCode::PAYLOAD_TOO_LARGE => {
                AppError::PayloadTooLarge("request body exceeds this route's limit".into())
            }
            _ => AppError::bad_request("bad_json", e.body_text()),
        }
    }
}

impl From<liveproof::evidence::EvidenceError> for AppError {
    /// A refused signature (malformed, wrong algorithm, unknown `kid`, bad signature) is an
    /// unauthenticated request: 401. Everything checked after a valid signature (manifest
    /// structure, items and digests) is signed but unacceptable content: 422. Both carry the
    /// core's code.
    fn from(e: liveproof::evidence::EvidenceError) -> Self {
        use liveproof::evidence::EvidenceError;
        let status = match e {
            EvidenceError::Jws(_) => StatusCode::UNAUTHORIZED,
            _ => StatusCode::UNPROCESSABLE_ENTITY,
        };
        AppError::coded(status, e.code(), e.to_string())
    }
}

impl From<BytesRejection> for AppError {
    fn from(e: BytesRejection) -> Self {
        match e.status() {
            StatusCode::PAYLOAD_TOO_LARGE => {
                AppError::PayloadTooLarge("request body exceeds this route's limit".into())
            }
            _ => AppError::bad_request("bad_body", e.body_text()),
        }
    }
}

impl From<PathRejection> for AppError {
    fn from(e: PathRejection) -> Self {
        AppError::bad_request("bad_path", e.body_text())
    }
}

impl From<crate::state::store::StoreError> for AppError {
    /// An unreachable store is a 503 the client may retry (nothing was decided: a nonce is
    /// used only by a store that answered); any other store error is a 500.
    fn from(e: crate::state::store::StoreError) -> Self {
        if e.is_unreachable() {
            tracing::warn!(error = %e, "state store unreachable");
            AppError::Unavailable {
                message: "state store unavailable; retry shortly",
                retry_after_s: STORE_RETRY_AFTER_S,
            }
        } else {
            AppError::Internal(format!("store: {e}"))
        }
    }
}

/// `Retry-After` while the state store is unreachable (the Redis client reconnects by itself).
pub const STORE_RETRY_AFTER_S: u64 = 2;

impl From<rusqlite::Error> for AppError {
    fn from(e: rusqlite::Error) -> Self {
        AppError::Internal(format!("store: {e}"))
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let status = self.status();
        let (body, retry_after, cause): (Value, Option<u64>, Option<String>) = match self {
            AppError::BadRequest { code, message } => (
                json!({"msg": message, "message": message, "detail": {"code": code}}),
                None,
                None,
            ),
            AppError::Unauthorized(m) | AppError::Forbidden(m) => {
                (json!({"detail": {}, "message": m}), None, None)
            }
            AppError::NotFound => (
                json!({"detail": {}, "message": "no such route"}),
                None,
                None,
            ),
            AppError::PayloadTooLarge(m) => (
                json!({"detail": {"code": "payload_too_large"}, "message": m}),
                None,
                None,
            ),
            AppError::Unprocessable {
                location,
                field,
                message,
            } => {
                let text = format!("{field}: {message}");
                (
                    json!({"detail": {location: {field: [message]}}, "message": text}),
                    None,
                    None,
                )
            }
            AppError::RateLimited { retry_after_s } => (
                json!({"detail": {}, "message": "rate limit exceeded; retry later"}),
                Some(retry_after_s),
                None,
            ),
            AppError::Unavailable {
                message,
                retry_after_s,
            } => (
                json!({"detail": {}, "message": message}),
                Some(retry_after_s),
                None,
            ),
            AppError::Coded { code, message, .. } => (
                json!({"detail": {"code": code}, "message": message}),
                None,
                None,
            ),
            AppError::Internal(cause) => (
                json!({"detail": {}, "message": "internal server error"}),
                None,
                Some(cause),
            ),
        };
        let mut response = (status, axum::Json(body)).into_response();
        if let Some(s) = retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(s));
        }
        if let Some(cause) = cause {
            response.extensions_mut().insert(InternalCause(cause));
        }
        response
    }
}
