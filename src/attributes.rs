//! Face attributes for the selfie API's `face.details`: age and gender (HSE FaceRes) and
//! emotion (mini-Xception on FER2013). Only what these models output is reported; there is no
//! glasses, beard or moustache model, so those fields are `None` upstream of any API.

use serde::{Deserialize, Serialize};

use crate::error::Result;
use crate::frame::FrameRef;
use crate::imgproc::{sample_tensor, Affine, BBox, Border, Normalize, Sampling};
use crate::models::{run, OnnxGraph, Plan};

const AGE_SIZE: usize = 224;
const EMOTION_SIZE: usize = 64;
const CAFFE_BGR_MEANS: [f32; 3] = [103.939, 116.779, 123.68];

/// The emotion model's classes, in output order.
pub const EMOTIONS: [&str; 7] = [
    "angry", "disgust", "fear", "happy", "sad", "surprise", "neutral",
];

/// Age and gender of one face.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct AgeGender {
    /// Expected age in years (Σ i·pᵢ over the model's 100 one-year bins).
    pub age: f32,
    /// Standard deviation of that distribution, in years.
    pub age_std: f32,
    /// Probability that the face is male (the model's sigmoid).
    pub male_probability: f32,
}

/// Emotion probabilities in [`EMOTIONS`] order.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Emotions(pub [f32; 7]);

impl Emotions {
    /// Probability of "happy" (used by the smile challenge).
    pub fn happy(&self) -> f32 {
        self.0[3]
    }
}

/// HSE FaceRes age/gender model.
#[derive(Debug)]
pub struct AgeGenderModel {
    plan: Plan,
}

impl AgeGenderModel {
    /// Loads the model.
    pub fn new(bytes: &[u8]) -> Result<Self> {
        let plan = OnnxGraph::parse("faceres", bytes)?.plan(
            &[1, 3, AGE_SIZE, AGE_SIZE],
            &["descriptor", "gender", "age"],
        )?;
        Ok(Self { plan })
    }

    /// Estimates age and gender from the face box (+20 %, square, not aligned).
    pub fn estimate(&self, frame: &FrameRef, face: &BBox) -> Result<AgeGender> {
        let crop = face.square_scaled(1.2);
        let s = Sampling {
            width: AGE_SIZE,
            height: AGE_SIZE,
            normalize: Normalize::BgrMinusMean(CAFFE_BGR_MEANS),
            border: Border::Zero,
            antialias: true,
        };
        let out = run(
            "faceres",
            &self.plan,
            sample_tensor(frame, &Affine::from_box(&crop, AGE_SIZE, AGE_SIZE), &s),
        )?;
        let male_probability = out[1].first().copied().unwrap_or(0.5);
        let probs = &out[2];
        let total: f32 = probs.iter().sum::<f32>().max(f32::EPSILON);
        let age = probs
            .iter()
            .enumerate()
            .map(|(i, p)| i as f32 * p)
            .sum::<f32>()
            / total;
        let var = probs
            .iter()
            .enumerate()
            .map(|(i, p)| (i as f32 - age).powi(2) * p)
            .sum::<f32>()
            / total;
        Ok(AgeGender {
            age,
            age_std: var.sqrt(),
            male_probability,
        })
    }
}

/// mini-Xception emotion model.
#[derive(Debug)]
pub struct EmotionModel {
    plan: Plan,
}

impl EmotionModel {
    /// Loads the model.
    pub fn new(bytes: &[u8]) -> Result<Self> {
        Ok(Self {
            plan: OnnxGraph::parse("emotion", bytes)?
                .plan(&[1, 1, EMOTION_SIZE, EMOTION_SIZE], &[])?,
        })
    }

    /// Emotion probabilities from the face box (+10 %, square, grey).
    pub fn classify(&self, frame: &FrameRef, face: &BBox) -> Result<Emotions> {
        let crop = face.square_scaled(1.1);
        let s = Sampling {
            width: EMOTION_SIZE,
            height: EMOTION_SIZE,
            normalize: Normalize::GraySigned,
            border: Border::Zero,
            antialias: true,
        };
        let out = run(
            "emotion",
            &self.plan,
            sample_tensor(
                frame,
                &Affine::from_box(&crop, EMOTION_SIZE, EMOTION_SIZE),
                &s,
            ),
        )?;
        let mut p = [0.0f32; 7];
        for (d, s) in p.iter_mut().zip(&out[0]) {
            *d = *s;
        }
        Ok(Emotions(p))
    }
}
