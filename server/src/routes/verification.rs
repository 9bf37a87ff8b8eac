//! `POST /v0.2/liveness-verification`: headers `app-id` + `app-key`, multipart `selfie`
//! (file) + `threshold` (0–1; live when score ≥ threshold).
//!
//! The seed does not show the 200 body; ours, in its snake_case style:
//!
//! ```json
//! {"request_id": "…",
//!  "liveness": {"score": 0.97, "threshold": 0.5, "is_live": true},
//!  "face": {"detected": true, "multiple_faces": false, "confidence": 0.99,
//!           "bounding_box": {"x": 210, "y": 160, "width": 380, "height": 460}},
//!  "image": {"width": 1080, "height": 1350}}
//! ```
//!
//! `score` is the anti-spoofing real probability (0–1, the same scale as `threshold`). No
//! face → 200 with `face.detected: false`, `score: null`, `is_live: false`. A face that cannot
//! be judged (a crop that is all face, too small, too dark, too blurred) → 200 with
//! `score: null`, `is_live: false` and `liveness.reason` its guidance code. `threshold`
//! defaults to 0.5 when absent; outside [0, 1] or not a number → 400. A selfie whose
//! shorter side is under 300 px or longer side over 5000 px → 400 naming the size. The
//! quota is charged when the key is accepted, before the body is read (403 once spent).

use axum::extract::{DefaultBodyLimit, Multipart, State};
use axum::routing::post;
use axum::{Extension, Json, Router};
use liveproof::quality::Guidance;
use liveproof::{decode_image, FrameRecord, ImageLimits, Stages};
use serde::Serialize;

use crate::auth::VerificationKey;
use crate::error::AppError;
use crate::middleware::RequestId;
use crate::routes::{read_bytes, read_text};
use crate::state::store::AuditEntry;
use crate::state::AppState;

pub const PATH: &str = "/v0.2/liveness-verification";
/// Selfie size rule from the seed.
pub const MIN_SIDE: u32 = 300;
pub const MAX_SIDE: u32 = 5000;
pub const DEFAULT_THRESHOLD: f64 = 0.5;

pub fn router(body_limit: usize) -> Router<AppState> {
    Router::new()
        .route(PATH, post(handler))
        .layer(DefaultBodyLimit::max(body_limit))
}

async fn handler(
    State(state): State<AppState>,
    Extension(RequestId(request_id)): Extension<RequestId>,
    VerificationKey(key): VerificationKey,
    mut form: Multipart,
) -> Result<Json<VerificationResponse>, AppError> {
    let mut selfie = None;
    let mut threshold = None;
    while let Some(field) = form.next_field().await? {
        match field.name().unwrap_or_default() {
            "selfie" => selfie = Some(read_bytes(field).await?),
            "threshold" => {
                let text = read_text(field).await?;
                let t: f64 = text.trim().parse().map_err(|_| {
                    AppError::bad_request(
                        "invalid_threshold",
                        format!("threshold must be a number between 0 and 1, got {text:?}"),
                    )
                })?;
                if !(0.0..=1.0).contains(&t) {
                    return Err(AppError::bad_request(
                        "invalid_threshold",
                        format!("threshold must be between 0 and 1, got {t}"),
                    ));
                }
                threshold = Some(t);
            }
            _ => {
                read_bytes(field).await?;
            }
        }
    }
    let selfie = selfie.ok_or_else(|| {
        AppError::bad_request("missing_selfie", "multipart field `selfie` is required")
    })?;
    let threshold = threshold.unwrap_or(DEFAULT_THRESHOLD);
    let engine = state.engine()?;
    let quality = engine.config().quality.clone();
    let limits = ImageLimits {
        min_side: MIN_SIDE,
        max_side: MAX_SIDE,
        ..state.media_limits.image.clone()
    };
    let record = state
        .pool
        .run(move || -> liveproof::Result<FrameRecord> {
            let frame = decode_image(&selfie, &limits)?;
            engine.analyze(&frame.as_ref(), 0.0, Stages::PAD)
        })
        .await?
        .map_err(selfie_error)?;

    let refusal = record.refusal(&quality);
    let score = record
        .pad_real()
        .filter(|_| refusal.is_none())
        .map(f64::from);
    let is_live = score.is_some_and(|s| s >= threshold);
    state
        .store
        .audit(&AuditEntry {
            request_id: request_id.clone(),
            route: PATH.into(),
            principal: key.app_id,
            verdict: match (score, refusal) {
                (None, Some(reason)) => format!("poor_quality:{}", reason.code()),
                (None, None) => "no_face".into(),
                (Some(_), _) if is_live => "real".into(),
                (Some(_), _) => "fake".into(),
            },
            score,
            correlation_id: None,
            detail: None,
        })
        .await?;
    let face = match &record.face {
        None => VerificationFace {
            detected: false,
            multiple_faces: false,
            confidence: None,
            bounding_box: None,
        },
        Some(f) => {
            let b = f
                .detection
                .bbox
                .clamp_to(record.width as f32, record.height as f32);
            VerificationFace {
                detected: true,
                multiple_faces: record.faces.len() > 1,
                confidence: Some(f64::from(f.detection.score)),
                bounding_box: Some(PixelBox {
                    x: b.x1.round() as i64,
                    y: b.y1.round() as i64,
                    width: b.width().round() as i64,
                    height: b.height().round() as i64,
                }),
            }
        }
    };
    Ok(Json(VerificationResponse {
        request_id,
        liveness: VerificationLiveness {
            score,
            threshold,
            is_live,
            reason: refusal.map(Guidance::code),
        },
        face,
        image: ImageSize {
            width: record.width,
            height: record.height,
        },
    }))
}

/// The 200 body (ours: the seed does not show one), in the module doc's key order.
#[derive(Debug, Serialize)]
pub struct VerificationResponse {
    pub request_id: String,
    pub liveness: VerificationLiveness,
    pub face: VerificationFace,
    pub image: ImageSize,
}

#[derive(Debug, Serialize)]
pub struct VerificationLiveness {
    /// Anti-spoofing real probability, 0–1; `null` without a face or when the face cannot
    /// be judged.
    pub score: Option<f64>,
    pub threshold: f64,
    pub is_live: bool,
    /// Why the face cannot be judged (a guidance code such as `too_close`, `too_dark`); absent
    /// when it was judged.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<&'static str>,
}

#[derive(Debug, Serialize)]
pub struct VerificationFace {
    pub detected: bool,
    pub multiple_faces: bool,
    pub confidence: Option<f64>,
    pub bounding_box: Option<PixelBox>,
}

/// A box in image pixels.
#[derive(Debug, Serialize)]
pub struct PixelBox {
    pub x: i64,
    pub y: i64,
    pub width: i64,
    pub height: i64,
}

#[derive(Debug, Serialize)]
pub struct ImageSize {
    pub width: u32,
    pub height: u32,
}

/// Size errors restated with the seed's rule.
fn selfie_error(e: liveproof::Error) -> AppError {
    match e {
        liveproof::Error::ImageTooSmall { width, height, .. }
        | liveproof::Error::ImageTooLarge { width, height, .. } => AppError::bad_request(
            "invalid_selfie_size",
            format!(
                "selfie is {width}x{height} px; its sides must be between {MIN_SIDE} and {MAX_SIDE} px \
                 (recommended over 900 px)"
            ),
        ),
        other => other.into(),
    }
}
