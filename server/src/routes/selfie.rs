//! `POST /api/v1/ml/liveness/`: headers `AppId` + `Authorization: <key>`, JSON
//! `{"image": "<base64>"}` (a `data:` URL prefix is accepted). One pipeline run with every
//! stage; the response maps model outputs onto the seed's `entity` document.
//!
//! Mapping rules (where the seed is silent, ours; all in the OpenAPI document):
//! - `liveness_probability` = anti-spoofing real probability × 100; `liveness_check` =
//!   probability > 50 (the seed's rule, strict).
//! - `age_range` = ⌊mean − std⌋ … ⌈mean + std⌉ of the age model's distribution (low ≥ 0).
//! - `smile.value` = emotion model P(happy) ≥ 0.5; `confidence` = 100 × P(the value given).
//! - `gender.value` = `Male` when P(male) ≥ 0.5 else `Female`; `confidence` as for smile.
//! - `eyes_open.value` = mean eye aspect ratio ≥ 0.2; `mouth_open.value` = inner-lip opening
//!   over inner mouth width ≥ 0.15 (≈0.01–0.04 closed, 0.3–0.4 wide open); both are geometry
//!   thresholds, not classifiers, so their `confidence` is `null`.
//! - `eyeglasses`, `sunglasses`, `beard`, `mustache`: `null` (no model; never invented).
//! - `emotions`: the seven FER2013 classes renamed angry→ANGRY, disgust→DISGUSTED,
//!   fear→FEAR, happy→HAPPY, sad→SAD, surprise→SURPRISED, neutral→CALM, × 100, sorted by
//!   confidence; there is no CONFUSED class, so it is absent.
//! - `quality.brightness` = the core's mean face luma (already 0–100); `quality.sharpness` =
//!   100 · v / (v + 50) where v is the variance of the Laplacian of the 96×96 face patch
//!   (v = 12, the core's "blurry" threshold → 19; 50 → 50; 450 → 90).
//! - `confidence` = detector score × 100; `bounding_box` = the main face's box clamped to
//!   the image, as ratios of its width and height.
//! - No face: `200` with `face_detected: false`, `message: "no face detected"`,
//!   `liveness_check: false`, `liveness_probability: null`, and `details`, `quality`,
//!   `confidence`, `bounding_box` all `null`.
//! - A face that cannot be judged (a crop that is all face, too small, too dark, too blurred:
//!   `liveproof::quality::refusal`): `200` with `liveness_check: false`,
//!   `liveness_probability: null` and `message` the guidance message (for example "Move back
//!   a little"); the face fields still describe it. A guess is never returned as a probability.
//! - Several faces: `multiface_detected: true`; everything else describes the largest face.

use axum::extract::rejection::JsonRejection;
use axum::extract::{DefaultBodyLimit, State};
use axum::routing::post;
use axum::{Extension, Json, Router};
use liveproof::attributes::EMOTIONS;
use liveproof::quality::Guidance;
use liveproof::{decode_image, FrameRecord, Stages};
use serde::{Deserialize, Serialize};

use crate::auth::SelfieKey;
use crate::error::AppError;
use crate::middleware::RequestId;
use crate::routes::decode_base64_image;
use crate::state::store::AuditEntry;
use crate::state::AppState;

pub const PATH: &str = "/api/v1/ml/liveness/";

pub fn router(body_limit: usize) -> Router<AppState> {
    Router::new()
        .route(PATH, post(handler))
        .layer(DefaultBodyLimit::max(body_limit))
}

#[derive(Debug, Deserialize)]
struct SelfieRequest {
    image: String,
}

async fn handler(
    State(state): State<AppState>,
    Extension(RequestId(request_id)): Extension<RequestId>,
    SelfieKey(key): SelfieKey,
    body: Result<Json<SelfieRequest>, JsonRejection>,
) -> Result<Json<SelfieResponse>, AppError> {
    let Json(req) = body?;
    let bytes = decode_base64_image(req.image.as_bytes())?;
    let engine = state.engine()?;
    let quality = engine.config().quality.clone();
    let limits = state.media_limits.image.clone();
    let record = state
        .pool
        .run(move || -> liveproof::Result<FrameRecord> {
            let frame = decode_image(&bytes, &limits)?;
            engine.analyze(&frame.as_ref(), 0.0, SELFIE_STAGES)
        })
        .await??;
    let refusal = record.refusal(&quality);
    let doc = entity(&record, refusal);
    let probability = doc.entity.liveness.liveness_probability.map(|p| p / 100.0);
    state
        .store
        .audit(&AuditEntry {
            request_id,
            route: PATH.into(),
            principal: key.app_id,
            verdict: match (probability, refusal) {
                (None, Some(reason)) => format!("poor_quality:{}", reason.code()),
                (None, None) => "no_face".into(),
                (Some(p), _) if p * 100.0 > 50.0 => "real".into(),
                (Some(_), _) => "fake".into(),
            },
            score: probability,
            correlation_id: None,
            detail: None,
        })
        .await?;
    Ok(Json(doc))
}

/// Everything but the embedding (no face match on this route).
const SELFIE_STAGES: Stages = Stages {
    embedding: false,
    ..Stages::ALL
};

/// Eye aspect ratio at or above which eyes count as open.
pub const EYES_OPEN_EAR: f32 = 0.2;
/// Mouth aspect ratio at or above which the mouth counts as open.
pub const MOUTH_OPEN_MAR: f32 = 0.15;
/// Laplacian variance that maps to sharpness 50.
pub const SHARPNESS_HALF: f32 = 50.0;

fn pct(p: f32) -> f64 {
    f64::from(p) * 100.0
}

/// The seed's 200 body: `{"entity": {"liveness", "face"}}`. Fields are declared in the
/// document's key order; `None` is the document's `null`, never omitted.
#[derive(Debug, Serialize)]
pub struct SelfieResponse {
    pub entity: Entity,
}

#[derive(Debug, Serialize)]
pub struct Entity {
    pub liveness: SelfieLiveness,
    pub face: SelfieFace,
}

#[derive(Debug, Serialize)]
pub struct SelfieLiveness {
    pub liveness_check: bool,
    /// 0–100; `null` without a face.
    pub liveness_probability: Option<f64>,
}

#[derive(Debug, Serialize)]
pub struct SelfieFace {
    pub face_detected: bool,
    pub message: &'static str,
    pub multiface_detected: bool,
    pub details: Option<Details>,
    pub quality: Option<Quality>,
    /// Detector score × 100.
    pub confidence: Option<f64>,
    pub bounding_box: Option<RatioBox>,
}

/// The face's attributes; an attribute without a model is `null`.
#[derive(Debug, Serialize)]
pub struct Details {
    pub age_range: Option<AgeRange>,
    pub smile: Option<Attribute<bool>>,
    pub gender: Option<Attribute<&'static str>>,
    pub eyeglasses: Option<Attribute<bool>>,
    pub sunglasses: Option<Attribute<bool>>,
    pub beard: Option<Attribute<bool>>,
    pub mustache: Option<Attribute<bool>>,
    pub eyes_open: Attribute<bool>,
    pub mouth_open: Attribute<bool>,
    pub emotions: Option<Vec<Emotion>>,
}

#[derive(Debug, Serialize)]
pub struct AgeRange {
    pub low: i64,
    pub high: i64,
}

/// `{value, confidence}`; `confidence` is `null` for a geometry threshold (no classifier).
#[derive(Debug, Serialize)]
pub struct Attribute<T> {
    pub value: T,
    pub confidence: Option<f64>,
}

#[derive(Debug, Serialize)]
pub struct Emotion {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub confidence: f64,
}

#[derive(Debug, Serialize)]
pub struct Quality {
    pub brightness: f64,
    pub sharpness: f64,
}

/// A box as ratios of the image's width and height.
#[derive(Debug, Serialize)]
pub struct RatioBox {
    pub width: f64,
    pub height: f64,
    pub left: f64,
    pub top: f64,
}

/// `{value, confidence}` of a binary probability.
fn binary(p: f32) -> Attribute<bool> {
    let value = p >= 0.5;
    Attribute {
        value,
        confidence: Some(pct(if value { p } else { 1.0 - p })),
    }
}

/// A geometry threshold's answer: no classifier, so no confidence.
fn geometric(value: bool) -> Attribute<bool> {
    Attribute {
        value,
        confidence: None,
    }
}

/// The seed's `entity` document for one analysed still.
/// `refusal`: why the face cannot be judged ([`FrameRecord::refusal`]); the probability is
/// then `null` and the message says why, instead of a guess.
pub fn entity(r: &FrameRecord, refusal: Option<Guidance>) -> SelfieResponse {
    let Some(face) = &r.face else {
        return SelfieResponse {
            entity: Entity {
                liveness: SelfieLiveness {
                    liveness_check: false,
                    liveness_probability: None,
                },
                face: SelfieFace {
                    face_detected: false,
                    message: "no face detected",
                    multiface_detected: false,
                    details: None,
                    quality: None,
                    confidence: None,
                    bounding_box: None,
                },
            },
        };
    };
    let probability = face.pad.filter(|_| refusal.is_none()).map(|p| pct(p.real));
    let age_range = face.age_gender.map(|a| AgeRange {
        low: (a.age - a.age_std).floor().max(0.0) as i64,
        high: (a.age + a.age_std).ceil().max(0.0) as i64,
    });
    let gender = face.age_gender.map(|a| {
        let male = a.male_probability >= 0.5;
        Attribute {
            value: if male { "Male" } else { "Female" },
            confidence: Some(pct(if male {
                a.male_probability
            } else {
                1.0 - a.male_probability
            })),
        }
    });
    let smile = face.emotions.map(|e| binary(e.happy()));
    let emotions = face.emotions.map(|e| {
        let mut list: Vec<(&str, f32)> = SELFIE_EMOTION_TYPES.into_iter().zip(e.0).collect();
        list.sort_by(|a, b| b.1.total_cmp(&a.1));
        list.into_iter()
            .map(|(kind, p)| Emotion {
                kind,
                confidence: pct(p),
            })
            .collect()
    });
    let l = &face.landmarks;
    let q = &face.quality;
    let v = q.sharpness.max(0.0);
    let (w, h) = (r.width as f32, r.height as f32);
    let b = face.detection.bbox.clamp_to(w, h);
    let several = r.faces.len() > 1;
    SelfieResponse {
        entity: Entity {
            liveness: SelfieLiveness {
                liveness_check: probability.is_some_and(|p| p > 50.0),
                liveness_probability: probability,
            },
            face: SelfieFace {
                face_detected: true,
                message: match refusal {
                    Some(reason) => reason.message(),
                    None if several => "multiple faces detected",
                    None => "face detected",
                },
                multiface_detected: several,
                details: Some(Details {
                    age_range,
                    smile,
                    gender,
                    eyeglasses: None,
                    sunglasses: None,
                    beard: None,
                    mustache: None,
                    eyes_open: geometric(l.ear_mean() >= EYES_OPEN_EAR),
                    mouth_open: geometric(l.mouth.mar >= MOUTH_OPEN_MAR),
                    emotions,
                }),
                quality: Some(Quality {
                    brightness: f64::from(q.brightness.clamp(0.0, 100.0)),
                    sharpness: f64::from(100.0 * v / (v + SHARPNESS_HALF)),
                }),
                confidence: Some(pct(face.detection.score)),
                bounding_box: Some(RatioBox {
                    width: f64::from(b.width() / w),
                    height: f64::from(b.height() / h),
                    left: f64::from(b.x1 / w),
                    top: f64::from(b.y1 / h),
                }),
            },
        },
    }
}

/// The selfie contract's emotion types, in the core's [`EMOTIONS`] order (angry, disgust,
/// fear, happy, sad, surprise, neutral): one per class by position, with no catch-all, and the
/// array's length is the core's, so a new class fails to compile here instead of becoming
/// CALM.
const SELFIE_EMOTION_TYPES: [&str; EMOTIONS.len()] = [
    "ANGRY",
    "DISGUSTED",
    "FEAR",
    "HAPPY",
    "SAD",
    "SURPRISED",
    "CALM",
];

#[cfg(test)]
mod tests {
    use super::*;

    /// The contract's names line up with the core's classes (a reordering in the core would
    /// otherwise relabel every emotion silently).
    #[test]
    fn every_core_emotion_has_its_own_contract_type() {
        let pairs: Vec<(&str, &str)> = EMOTIONS.into_iter().zip(SELFIE_EMOTION_TYPES).collect();
        assert_eq!(
            pairs,
            [
                ("angry", "ANGRY"),
                ("disgust", "DISGUSTED"),
                ("fear", "FEAR"),
                ("happy", "HAPPY"),
                ("sad", "SAD"),
                ("surprise", "SURPRISED"),
                ("neutral", "CALM"),
            ]
        );
    }
}
