//! The WebSocket opening handshake (RFC 6455 §4.2.2) for `/ws/liveness`, done here rather than
//! by axum's `WebSocketUpgrade` so the connection keeps its raw stream.
//!
//! Why: a message over the size limit is refused as soon as its frame header is read, with
//! the rest of it still in flight. A server that then closes the connection with those bytes
//! unread makes its kernel reset it (RST), and the client sees a broken connection (1006)
//! instead of the documented `message_too_big` error and 1009 close. With the raw stream the
//! server can read and drop the rest after its close frame ([`discard_until_quiet`]), so the
//! close handshake completes. axum's `WebSocket` does not give its stream back.

use std::future::Future;
use std::time::Duration;

use axum::body::Body;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::Response;
use hyper::upgrade::OnUpgrade;
use hyper_util::rt::TokioIo;
use tokio::io::AsyncReadExt;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::{Role, WebSocketConfig};
use tokio_tungstenite::WebSocketStream;

use crate::error::AppError;

/// The upgraded connection: a WebSocket over the raw (upgraded) stream.
pub type Socket = WebSocketStream<TokioIo<hyper::upgrade::Upgraded>>;

/// A validated HTTP/1.1 WebSocket upgrade request.
pub struct Upgrade {
    on_upgrade: OnUpgrade,
    accept: String,
}

impl<S: Send + Sync> FromRequestParts<S> for Upgrade {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, AppError> {
        let bad = |message: &str| AppError::bad_request("bad_upgrade", message.to_owned());
        if parts.method != Method::GET {
            return Err(AppError::coded(
                StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                "a WebSocket upgrade is a GET",
            ));
        }
        if !has_token(&parts.headers, header::CONNECTION, "upgrade") {
            return Err(bad("`Connection: upgrade` is required"));
        }
        if !has_token(&parts.headers, header::UPGRADE, "websocket") {
            return Err(bad("`Upgrade: websocket` is required"));
        }
        if parts
            .headers
            .get(header::SEC_WEBSOCKET_VERSION)
            .is_none_or(|v| v.as_bytes() != b"13")
        {
            return Err(bad("`Sec-WebSocket-Version: 13` is required"));
        }
        let key = parts
            .headers
            .get(header::SEC_WEBSOCKET_KEY)
            .ok_or_else(|| bad("`Sec-WebSocket-Key` is required"))?;
        let accept = derive_accept_key(key.as_bytes());
        let on_upgrade = parts.extensions.remove::<OnUpgrade>().ok_or_else(|| {
            AppError::coded(
                StatusCode::UPGRADE_REQUIRED,
                "not_upgradable",
                "this connection cannot be upgraded (HTTP/1.1 is required)",
            )
        })?;
        Ok(Self { on_upgrade, accept })
    }
}

impl Upgrade {
    /// Answers 101 and runs `callback` on the socket once the connection is upgraded.
    pub fn on_upgrade<C, Fut>(self, config: WebSocketConfig, callback: C) -> Response
    where
        C: FnOnce(Socket) -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let on_upgrade = self.on_upgrade;
        tokio::spawn(async move {
            match on_upgrade.await {
                Ok(upgraded) => {
                    let io = TokioIo::new(upgraded);
                    callback(WebSocketStream::from_raw_socket(io, Role::Server, Some(config)).await)
                        .await
                }
                Err(e) => tracing::info!(error = %e, "websocket upgrade failed"),
            }
        });
        let mut response = Response::new(Body::empty());
        *response.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
        let h = response.headers_mut();
        h.insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
        h.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
        h.insert(
            header::SEC_WEBSOCKET_ACCEPT,
            HeaderValue::from_str(&self.accept).expect("base64 is a valid header value"),
        );
        response
    }
}

/// Whether a comma-separated header lists `token` (case-insensitive).
fn has_token(headers: &HeaderMap, name: header::HeaderName, token: &str) -> bool {
    headers.get_all(name).iter().any(|v| {
        v.to_str()
            .is_ok_and(|s| s.split(',').any(|t| t.trim().eq_ignore_ascii_case(token)))
    })
}

/// Reads and drops what the client still sends (the rest of a refused message, then its close
/// frame) until it pauses for `quiet`, up to `max_bytes` or `max_time`; then the connection
/// can be closed without a reset.
pub async fn discard_until_quiet(
    socket: &mut Socket,
    quiet: Duration,
    max_bytes: usize,
    max_time: Duration,
) -> usize {
    let io = socket.get_mut();
    let mut seen = 0usize;
    let mut buf = vec![0u8; 64 * 1024];
    let _ = tokio::time::timeout(max_time, async {
        while seen <= max_bytes {
            match tokio::time::timeout(quiet, io.read(&mut buf)).await {
                Ok(Ok(n)) if n > 0 => seen += n,
                _ => break,
            }
        }
    })
    .await;
    seen
}
