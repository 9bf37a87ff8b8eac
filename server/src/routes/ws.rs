//! `GET /ws/liveness`: the WebSocket liveness workflow of seed 003. The client streams camera
//! frames; the server drives the core's [`LiveCheck`] over them exactly as the SDK does (the
//! same tracking schedule and rules as the server's run of a recording, `[verification]`) and
//! answers with the core's [`Event`]s, unchanged (`phase`, `frame_result`, `challenge_start`,
//! `challenge_result`, `final_result`, `guidance`). The server prompts each challenge when its
//! session decides to and judges the frames as they arrive: this is the server's own run, so
//! its `final_result` follows the same rules as a verdict. The message contract is
//! `server/asyncapi.json`; in short:
//!
//! - auth: the relying party's Bearer JWT (scope `liveness`) in `Authorization`, or, for
//!   browsers, `?ticket=`: a single-use ticket valid 60 s that the relying party's backend
//!   mints with `POST /v1/ws-tickets` (its API token never reaches a page or a URL; `?token=`
//!   is refused); checked before the upgrade (401 as on `/liveness`, 503 while the models
//!   load).
//! - client → server: text `{"type":"start", "challenges"?, "count"?, "timeout_ms"?,
//!   "unique_id"?}` once; then frames, primarily text
//!   `{"type":"frame","t_ms":n,"image":"<base64 JPEG/PNG>"}` with the client's capture time, or
//!   binary JPEG/PNG bytes stamped with the server's receive time since `start` (one kind per
//!   session); `{"type":"stop"}` ends the stream.
//! - script: the server's policy (`[sessions.script]`), drawn from a nonce the server makes.
//!   The relying party (this route's bearer token) may narrow it as on `POST /v1/sessions`:
//!   `challenges` = the actions to draw from, `count` = more challenges, `timeout_ms` = less
//!   time. A client-chosen `seed` is refused (1007 `bad_start`): it would let the client pick
//!   its script.
//! - frames are analysed one at a time, in order, on the shared CPU pool; a frame that finds
//!   the pool busy is dropped (no event), as a camera drops frames, never queued. Reading
//!   pauses while a frame is analysed, so a fast client is slowed by TCP back-pressure.
//! - the end: after `final_result` the server closes with 1000. `stop`, silence for
//!   `ws_idle_timeout_ms`, `ws_session_s` and `ws_max_frames` end the stream the same way
//!   (the session is finished, which fails an unfinished script). Bad input gets one
//!   `{"type":"error","code","message"}` and a close with 1003 (unknown message type), 1007
//!   (bad JSON or fields, bad `start`, base64, image or timestamp), 1008 (out of order:
//!   a frame before `start`, `start` twice, text and binary frames mixed),
//!   1009 (message over `ws_message_bytes`) or 1011 (server fault).
//! - a client that goes away ends the task (the frame being analysed, if any, completes on
//!   its worker and is discarded); it is logged, not audited. A verdict is audited like the
//!   other routes' (route, subject, label, confidence; no media).

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::response::Response;
use axum::routing::get;
use axum::{Extension, Router};
use futures_util::{SinkExt, StreamExt};
use liveproof::challenge::{ChallengeAction, ChallengeConfig, ScriptRequest};
use liveproof::events::Event;
use liveproof::{decode_image, Engine, ImageLimits, LiveCheck, LiveConfig};
use serde::Deserialize;
use serde_json::Value;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, WebSocketConfig};
use tokio_tungstenite::tungstenite::{Error as WsError, Message};
use tracing::Instrument;

use crate::auth::{mint_ws_ticket, Authorized, Liveness, WsCaller, WS_TICKET_TTL_S};
use crate::error::AppError;
use crate::middleware::RequestId;
use crate::routes::decode_base64_image;
use crate::routes::ws_upgrade::{discard_until_quiet, Socket, Upgrade};
use crate::state::store::AuditEntry;
use crate::state::AppState;

pub const PATH: &str = "/ws/liveness";
/// Where a relying party mints a browser's ticket for [`PATH`].
pub const TICKETS_PATH: &str = "/v1/ws-tickets";

/// Close codes (RFC 6455 §7.4.1).
pub mod close {
    pub const NORMAL: u16 = 1000;
    pub const UNSUPPORTED: u16 = 1003;
    pub const INVALID_DATA: u16 = 1007;
    pub const POLICY: u16 = 1008;
    pub const TOO_BIG: u16 = 1009;
    pub const INTERNAL: u16 = 1011;
}

pub fn router() -> Router<AppState> {
    Router::new().route(PATH, get(upgrade))
}

/// The ticket route (unprefixed, with the SDK flow's routes).
pub fn tickets_router() -> Router<AppState> {
    Router::new().route(TICKETS_PATH, axum::routing::post(ticket))
}

/// `POST /v1/ws-tickets` (Bearer, scope `liveness`) → 201 `{ticket, expires_in, url}`.
async fn ticket(
    State(state): State<AppState>,
    caller: Authorized<Liveness>,
) -> Result<impl axum::response::IntoResponse, AppError> {
    let ticket = mint_ws_ticket(&state, &caller.subject)?;
    Ok((
        axum::http::StatusCode::CREATED,
        [(axum::http::header::CACHE_CONTROL, "no-store")],
        axum::Json(WsTicket {
            url: format!("{PATH}?ticket={ticket}"),
            ticket,
            expires_in: WS_TICKET_TTL_S,
        }),
    ))
}

/// The 201 body of `POST /v1/ws-tickets`.
#[derive(Debug, serde::Serialize)]
pub struct WsTicket {
    /// A short-lived signed ticket for one WebSocket connection.
    pub ticket: String,
    pub expires_in: u64,
    /// The WebSocket path with the ticket as its query.
    pub url: String,
}

async fn upgrade(
    State(state): State<AppState>,
    Extension(RequestId(request_id)): Extension<RequestId>,
    caller: WsCaller,
    ws: Upgrade,
) -> Result<Response, AppError> {
    let engine = state.engine()?;
    let max = state.config.limits.ws_message_bytes;
    let span =
        tracing::info_span!("ws_liveness", request_id = %request_id, subject = %caller.subject);
    let config = WebSocketConfig::default()
        .max_message_size(Some(max))
        .max_frame_size(Some(max));
    Ok(ws.on_upgrade(config, move |socket| {
        let conn = Connection {
            socket,
            state,
            engine,
            caller,
            request_id,
        };
        conn.run().instrument(span)
    }))
}

/// A protocol violation: sent as an `error` message, then the connection is closed.
#[derive(Debug)]
struct Violation {
    close: u16,
    code: &'static str,
    message: String,
}

/// The message sent before closing on a violation: `{"type": "error", "code", "message"}`.
#[derive(Debug, serde::Serialize)]
struct ErrorMessage<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    code: &'static str,
    message: &'a str,
}

fn violation(close: u16, code: &'static str, message: impl Into<String>) -> Violation {
    Violation {
        close,
        code,
        message: message.into(),
    }
}

/// `start` (unknown fields are ignored, as on the multipart routes; `seed` is refused).
#[derive(Debug, Deserialize)]
struct Start {
    challenges: Option<Vec<ChallengeAction>>,
    count: Option<usize>,
    timeout_ms: Option<f64>,
    seed: Option<serde_json::Value>,
    unique_id: Option<String>,
}

/// A text frame.
#[derive(Debug, Deserialize)]
struct TextFrame {
    t_ms: f64,
    image: String,
}

/// Where frame timestamps come from; fixed by the session's first frame.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Clock {
    Client,
    Server,
}

struct Live {
    /// Shared with the pool job analysing the current frame (one at a time).
    check: Arc<std::sync::Mutex<LiveCheck>>,
    started: Instant,
    clock: Option<Clock>,
    last_t: f64,
    frames: u32,
    dropped: u32,
    unique_id: Option<String>,
}

/// What the loop does next.
enum Step {
    Continue,
    /// Finish the session (if any), send its tail, close 1000 with this reason.
    Finish(&'static str),
    /// The session decided; close 1000.
    Decided,
    /// The client went away.
    Gone,
}

struct Connection {
    socket: Socket,
    state: AppState,
    engine: Arc<Engine>,
    caller: WsCaller,
    request_id: String,
}

impl Connection {
    async fn run(mut self) {
        let limits = self.state.config.limits.clone();
        let idle = Duration::from_millis(limits.ws_idle_timeout_ms);
        let deadline = tokio::time::Instant::now() + Duration::from_secs(limits.ws_session_s);
        let mut live: Option<Live> = None;
        tracing::info!("websocket session opened");
        loop {
            let now = tokio::time::Instant::now();
            let wake = (now + idle).min(deadline);
            // `None`: the time is up. Checked before reading too, so a client that never
            // pauses still meets the session limit.
            let received = if now >= deadline {
                None
            } else {
                tokio::time::timeout_at(wake, self.socket.next()).await.ok()
            };
            let step = match received {
                None if wake >= deadline => Step::Finish("session time limit"),
                None => Step::Finish("idle timeout"),
                Some(None) => Step::Gone,
                Some(Some(Err(e))) => {
                    if matches!(e, WsError::Capacity(_)) {
                        let v = violation(
                            close::TOO_BIG,
                            "message_too_big",
                            format!("messages are limited to {} bytes", limits.ws_message_bytes),
                        );
                        self.fail(v, &live).await;
                        // The rest of the message is still arriving: read and drop it (and
                        // the client's close) so closing does not reset the connection.
                        discard_until_quiet(
                            &mut self.socket,
                            Duration::from_millis(300),
                            crate::evidence::DISCARD_MAX_BYTES,
                            crate::evidence::DISCARD_MAX_TIME,
                        )
                        .await;
                        return;
                    }
                    Step::Gone
                }
                Some(Some(Ok(msg))) => match self.handle(msg, &mut live, &limits).await {
                    Ok(step) => step,
                    Err(v) => {
                        self.fail(v, &live).await;
                        return;
                    }
                },
            };
            match step {
                Step::Continue => {}
                Step::Gone => {
                    match &live {
                        Some(l) if !l.is_done() => tracing::info!(
                            frames = l.frames,
                            "client disconnected mid-session; session abandoned"
                        ),
                        _ => tracing::info!("client disconnected"),
                    }
                    return;
                }
                Step::Decided => {
                    self.conclude(&live, "final result").await;
                    return;
                }
                Step::Finish(reason) => {
                    if let Some(l) = live.as_mut() {
                        let tail = l.lock().finish();
                        if !self.send_events(&tail).await {
                            return;
                        }
                    }
                    self.conclude(&live, reason).await;
                    return;
                }
            }
        }
    }

    /// One client message.
    async fn handle(
        &mut self,
        msg: Message,
        live: &mut Option<Live>,
        limits: &crate::config::LimitsConfig,
    ) -> Result<Step, Violation> {
        let (bytes, t_client) = match msg {
            Message::Ping(_) | Message::Pong(_) => return Ok(Step::Continue),
            Message::Close(_) => return Ok(Step::Gone),
            Message::Frame(_) => return Ok(Step::Continue),
            Message::Binary(b) => (b.to_vec(), None),
            Message::Text(text) => {
                let v: Value = serde_json::from_str(text.as_str()).map_err(|e| {
                    violation(
                        close::INVALID_DATA,
                        "bad_json",
                        format!("message is not JSON: {e}"),
                    )
                })?;
                let kind = v.get("type").and_then(Value::as_str).unwrap_or_default();
                match kind {
                    "start" => {
                        if live.is_some() {
                            return Err(violation(
                                close::POLICY,
                                "already_started",
                                "`start` was already sent on this connection",
                            ));
                        }
                        let start: Start = parse(v)?;
                        *live = Some(self.start(start)?);
                        return Ok(Step::Continue);
                    }
                    "stop" => return Ok(Step::Finish("stopped by client")),
                    "frame" => {
                        let f: TextFrame = parse(v)?;
                        let bytes = decode_base64_image(f.image.as_bytes()).map_err(|e| {
                            violation(close::INVALID_DATA, "bad_base64", e.to_string())
                        })?;
                        (bytes, Some(f.t_ms))
                    }
                    other => {
                        return Err(violation(
                            close::UNSUPPORTED,
                            "unknown_type",
                            format!(
                                "unknown message type {other:?}; expected start, frame or stop"
                            ),
                        ))
                    }
                }
            }
        };
        let Some(l) = live.as_mut() else {
            return Err(violation(
                close::POLICY,
                "not_started",
                "send `start` before any frame",
            ));
        };
        let clock = if t_client.is_some() {
            Clock::Client
        } else {
            Clock::Server
        };
        if *l.clock.get_or_insert(clock) != clock {
            return Err(violation(
                close::POLICY,
                "mixed_frames",
                "a session sends either text frames (client t_ms) or binary frames, not both",
            ));
        }
        let t_ms = t_client.unwrap_or_else(|| l.started.elapsed().as_secs_f64() * 1000.0);
        if !t_ms.is_finite() || t_ms < 0.0 {
            return Err(violation(
                close::INVALID_DATA,
                "bad_timestamp",
                format!("t_ms must be a finite number ≥ 0, got {t_ms}"),
            ));
        }
        if t_ms <= l.last_t {
            return Err(violation(
                close::INVALID_DATA,
                "bad_timestamp",
                format!(
                    "t_ms must increase: {t_ms} after {} (milliseconds since the first frame's clock)",
                    l.last_t
                ),
            ));
        }
        l.last_t = t_ms;
        l.frames += 1;

        let engine = self.engine.clone();
        let image_limits: ImageLimits = self.state.media_limits.image.clone();
        let check = l.check.clone();
        let job = move || -> liveproof::Result<Vec<Event>> {
            let frame = decode_image(&bytes, &image_limits)?;
            let mut check = check.lock().unwrap_or_else(|p| p.into_inner());
            Ok(check.process(&engine, &frame.as_ref(), t_ms)?.events)
        };
        let events = match self.state.pool.try_run(job).await {
            Ok(None) => {
                l.dropped += 1;
                tracing::debug!(t_ms, "pool busy; frame dropped");
                return Ok(at_frame_limit(l, limits));
            }
            Ok(Some(Ok(r))) => r,
            Ok(Some(Err(e))) if e.is_input_error() => {
                return Err(violation(
                    close::INVALID_DATA,
                    "bad_image",
                    format!("frame at t_ms {t_ms}: {e}"),
                ))
            }
            Ok(Some(Err(e))) => {
                tracing::error!(error = %e, code = e.code(), "frame analysis failed");
                return Err(internal());
            }
            Err(e) => {
                tracing::error!(error = %e, "frame analysis task failed");
                return Err(internal());
            }
        };
        if !self.send_events(&events).await {
            return Ok(Step::Gone);
        }
        if l.is_done() {
            return Ok(Step::Decided);
        }
        Ok(at_frame_limit(l, limits))
    }

    fn start(&self, s: Start) -> Result<Live, Violation> {
        let bad = |m: String| violation(close::INVALID_DATA, "bad_start", m);
        if let Some(id) = &s.unique_id {
            if id.len() > 128 || id.chars().any(char::is_control) {
                return Err(bad(
                    "unique_id must be at most 128 printable characters".into()
                ));
            }
        }
        if s.seed.is_some() {
            return Err(bad(
                "seed is not accepted: the server draws the script from its own nonce".into(),
            ));
        }
        let request = ScriptRequest {
            challenges: s.challenges,
            count: s.count,
            timeout_ms: s.timeout_ms,
        };
        let policy = self
            .state
            .config
            .sessions
            .script
            .narrow(&request)
            .map_err(|e| bad(e.to_string()))?;
        let nonce = crate::random::token(32).map_err(|_| internal())?;
        let base = ChallengeConfig {
            pad_threshold: self.engine.config().pad_threshold,
            ..ChallengeConfig::default()
        };
        let session = policy
            .session(&base, nonce.as_bytes())
            .map_err(|e| bad(e.to_string()))?;
        let script: Vec<ChallengeAction> = session.script().to_vec();
        let check = LiveCheck::new(
            session,
            LiveConfig {
                detect_every: self.state.config.verification.detect_every,
                evidence: None,
            },
        )
        .map_err(|e| bad(e.to_string()))?;
        tracing::info!(script = ?script, unique_id = s.unique_id.as_deref(), "session started");
        Ok(Live {
            check: Arc::new(std::sync::Mutex::new(check)),
            started: Instant::now(),
            clock: None,
            last_t: f64::NEG_INFINITY,
            frames: 0,
            dropped: 0,
            unique_id: s.unique_id,
        })
    }

    /// Sends events in order; false when the client is gone.
    async fn send_events(&mut self, events: &[Event]) -> bool {
        for e in events {
            let text = serde_json::to_string(e).expect("events serialise");
            if self.socket.send(Message::Text(text.into())).await.is_err() {
                return false;
            }
        }
        true
    }

    /// Audits the verdict (if any) and closes normally.
    async fn conclude(&mut self, live: &Option<Live>, reason: &'static str) {
        if let Some(l) = live {
            let outcome = l.lock().outcome().cloned();
            if let Some(o) = outcome {
                let verdict = o.label.as_str();
                tracing::info!(
                    verdict,
                    confidence = o.confidence,
                    failure = ?o.failure,
                    frames = l.frames,
                    dropped = l.dropped,
                    reason,
                    "websocket session decided"
                );
                let entry = AuditEntry {
                    request_id: self.request_id.clone(),
                    route: PATH.into(),
                    principal: self.caller.subject.clone(),
                    verdict: verdict.into(),
                    score: Some(f64::from(o.confidence)),
                    correlation_id: l.unique_id.clone(),
                    detail: None,
                };
                if let Err(e) = self.state.store.audit(&entry).await {
                    tracing::error!(error = %e, "audit failed");
                }
            }
        }
        self.close(close::NORMAL, reason).await;
    }

    /// Sends the error message, then closes with its code.
    async fn fail(&mut self, v: Violation, live: &Option<Live>) {
        tracing::info!(
            code = v.code,
            close = v.close,
            message = %v.message,
            frames = live.as_ref().map_or(0, |l| l.frames),
            "websocket session refused input"
        );
        let msg = ErrorMessage {
            kind: "error",
            code: v.code,
            message: &v.message,
        };
        let msg = serde_json::to_string(&msg).unwrap_or_default();
        if self.socket.send(Message::Text(msg.into())).await.is_ok() {
            self.close(v.close, v.code).await;
        }
    }

    /// Sends a close frame and waits briefly for the client's, so the handshake completes.
    async fn close(&mut self, code: u16, reason: &str) {
        let frame = CloseFrame {
            code: CloseCode::from(code),
            reason: reason.into(),
        };
        if self.socket.send(Message::Close(Some(frame))).await.is_err() {
            return;
        }
        // Wait (at most 1 s) for the client's close, so the handshake completes. A failed
        // stream (an oversized message) is drained by the caller instead.
        let _ = tokio::time::timeout(Duration::from_secs(1), async {
            while let Some(Ok(m)) = self.socket.next().await {
                if m.is_close() {
                    break;
                }
            }
        })
        .await;
    }
}

impl Live {
    fn lock(&self) -> std::sync::MutexGuard<'_, LiveCheck> {
        self.check.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn is_done(&self) -> bool {
        self.lock().session().is_done()
    }
}

fn at_frame_limit(l: &Live, limits: &crate::config::LimitsConfig) -> Step {
    if l.frames >= limits.ws_max_frames {
        Step::Finish("frame limit")
    } else {
        Step::Continue
    }
}

fn internal() -> Violation {
    violation(close::INTERNAL, "internal", "internal server error")
}

fn parse<T: serde::de::DeserializeOwned>(v: Value) -> Result<T, Violation> {
    serde_json::from_value(v)
        .map_err(|e| violation(close::INVALID_DATA, "bad_message", format!("{e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn start_accepts_both_spellings() {
        let s: Start = serde_json::from_value(
            serde_json::json!({"type": "start", "challenges": ["LOOK_LEFT", "BLINK"]}),
        )
        .unwrap();
        assert_eq!(
            s.challenges.unwrap(),
            vec![ChallengeAction::LookLeft, ChallengeAction::Blink]
        );
    }
}
