//! The per-frame pipeline: detection → main face → landmarks → quality and guidance →
//! passive anti-spoofing → (on request) embedding and attributes, into a [`FrameRecord`].
//!
//! [`Engine`] owns every loaded model; it is `Send + Sync`, so a server shares one behind an
//! `Arc` and the browser holds one per worker.

use serde::{Deserialize, Serialize};
use web_time::Instant;

use crate::antispoof::{CelebaPad, MiniFasNet, PadScore};
use crate::attributes::{AgeGender, AgeGenderModel, EmotionModel, Emotions};
use crate::detect::{Detection, DetectorConfig, FaceDetector};
use crate::embed::{Embedding, FaceEmbedder};
use crate::error::Result;
use crate::frame::FrameRef;
use crate::landmarks::{FaceLandmarks, FaceMesh, MeshRoi};
use crate::models::{Manifest, ModelRole, ModelSource};
use crate::quality::{self, Guidance, Quality, QualityConfig};

/// Engine settings.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct EngineConfig {
    pub detector: DetectorConfig,
    pub quality: QualityConfig,
    /// Real-probability threshold of the MiniFASNet pair: at or above it a frame is REAL.
    pub pad_threshold: f32,
    /// Load and run the CelebA-Spoof-trained second-opinion PAD model. Its weights are under
    /// non-commercial terms, so it is off unless the operator turns it on.
    pub celeba_pad: bool,
    /// Load the age/gender and emotion models (the server's selfie API needs them; the browser
    /// needs only emotion, for the smile challenge).
    pub age_gender: bool,
}

impl Default for EngineConfig {
    fn default() -> Self {
        Self {
            detector: DetectorConfig::default(),
            quality: QualityConfig::default(),
            pad_threshold: DEFAULT_PAD_THRESHOLD,
            celeba_pad: false,
            age_gender: true,
        }
    }
}

/// Default real-probability threshold (see README "Accuracy" for the operating point).
pub const DEFAULT_PAD_THRESHOLD: f32 = 0.5;

/// Which optional stages to run for a frame.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stages {
    /// Passive anti-spoofing.
    pub pad: bool,
    /// Face embedding.
    pub embedding: bool,
    /// Emotion probabilities.
    pub emotion: bool,
    /// Age and gender.
    pub age_gender: bool,
}

impl Stages {
    /// Anti-spoofing only (the per-frame default).
    pub const PAD: Stages = Stages {
        pad: true,
        embedding: false,
        emotion: false,
        age_gender: false,
    };
    /// Landmarks only (cheap frames for blink and pose tracking).
    pub const GEOMETRY: Stages = Stages {
        pad: false,
        embedding: false,
        emotion: false,
        age_gender: false,
    };
    /// Everything.
    pub const ALL: Stages = Stages {
        pad: true,
        embedding: true,
        emotion: true,
        age_gender: true,
    };
}

/// Milliseconds spent per stage.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Timings {
    pub detect_ms: f32,
    pub landmarks_ms: f32,
    pub pad_ms: f32,
    pub embed_ms: f32,
    pub attributes_ms: f32,
    pub total_ms: f32,
}

/// Everything measured on the main face.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FaceRecord {
    pub detection: Detection,
    pub landmarks: FaceLandmarks,
    pub quality: Quality,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub pad: Option<PadScore>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub embedding: Option<Embedding>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub emotions: Option<Emotions>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub age_gender: Option<AgeGender>,
}

/// The typed per-frame record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FrameRecord {
    /// Frame time in milliseconds (capture time for cameras, presentation time for video).
    pub t_ms: f64,
    pub width: u32,
    pub height: u32,
    /// Every face found (boxes and scores), best first.
    pub faces: Vec<Detection>,
    /// The main face (the largest), when there is one.
    pub face: Option<FaceRecord>,
    /// What is wrong with the frame, if anything.
    pub guidance: Vec<Guidance>,
    pub timings: Timings,
}

impl FrameRecord {
    /// The frame's real probability, if anti-spoofing ran on it.
    pub fn pad_real(&self) -> Option<f32> {
        self.face.as_ref()?.pad.map(|p| p.real)
    }

    /// True when a liveness decision can be based on this frame: one face, anti-spoofing ran,
    /// and nothing blocks a decision.
    pub fn is_usable(&self) -> bool {
        self.faces.len() == 1
            && self.pad_real().is_some()
            && !self.guidance.iter().any(|g| g.blocks_decision())
    }
}

/// All models, loaded once.
#[derive(Debug)]
pub struct Engine {
    config: EngineConfig,
    detector: FaceDetector,
    mesh: FaceMesh,
    pad: MiniFasNet,
    celeba: Option<CelebaPad>,
    embedder: FaceEmbedder,
    emotion: EmotionModel,
    age_gender: Option<AgeGenderModel>,
}

impl Engine {
    /// Loads (and verifies) every model the configuration needs.
    pub fn load(source: &ModelSource, config: EngineConfig) -> Result<Self> {
        let manifest = Manifest::builtin()?;
        let bytes = |role| source.bytes(manifest.entry(role)?);
        if config.celeba_pad {
            log::warn!(
                "CelebA-Spoof second-opinion PAD model enabled: its weights were trained on data \
                 licensed for non-commercial research only"
            );
        }
        Ok(Self {
            detector: FaceDetector::new(&bytes(ModelRole::Detector)?, config.detector.clone())?,
            mesh: FaceMesh::new(&bytes(ModelRole::Landmarks)?)?,
            pad: MiniFasNet::new(&bytes(ModelRole::PadV2)?, &bytes(ModelRole::PadV1se)?)?,
            celeba: if config.celeba_pad {
                Some(CelebaPad::new(&bytes(ModelRole::PadCeleba)?)?)
            } else {
                None
            },
            embedder: FaceEmbedder::new(&bytes(ModelRole::Embedding)?)?,
            emotion: EmotionModel::new(&bytes(ModelRole::Emotion)?)?,
            age_gender: if config.age_gender {
                Some(AgeGenderModel::new(&bytes(ModelRole::AgeGender)?)?)
            } else {
                None
            },
            config,
        })
    }

    /// The settings in force.
    pub fn config(&self) -> &EngineConfig {
        &self.config
    }

    /// Whether the CelebA-Spoof second opinion is running.
    pub fn celeba_pad_enabled(&self) -> bool {
        self.celeba.is_some()
    }

    /// Runs the pipeline on one frame.
    pub fn analyze(&self, frame: &FrameRef, t_ms: f64, stages: Stages) -> Result<FrameRecord> {
        let start = Instant::now();
        let mut timings = Timings::default();
        let faces = self.detector.detect(frame)?;
        timings.detect_ms = ms(start);

        let face = match main_face(&faces) {
            Some(det) => Some(self.analyze_face(frame, det.clone(), stages, &mut timings)?),
            None => None,
        };
        let guidance = quality::guidance(
            &self.config.quality,
            faces.len(),
            face.as_ref().map(|f| &f.quality),
            face.as_ref().map(|f| &f.landmarks),
        );
        timings.total_ms = ms(start);
        Ok(FrameRecord {
            t_ms,
            width: frame.width(),
            height: frame.height(),
            faces,
            face,
            guidance,
            timings,
        })
    }

    fn analyze_face(
        &self,
        frame: &FrameRef,
        det: Detection,
        stages: Stages,
        t: &mut Timings,
    ) -> Result<FaceRecord> {
        let clock = Instant::now();
        let roi = MeshRoi::from_detection(&det.bbox, det.keypoints[0], det.keypoints[1]);
        let landmarks = self.mesh.landmarks(frame, &roi)?;
        t.landmarks_ms = ms(clock);
        let quality = quality::measure(frame, &det);

        let clock = Instant::now();
        let pad = if stages.pad {
            let mut score = self.pad.score(frame, &det.bbox)?;
            if let Some(celeba) = &self.celeba {
                score.celeba = Some(celeba.score(frame, &det.bbox)?);
            }
            Some(score)
        } else {
            None
        };
        t.pad_ms = ms(clock);

        let clock = Instant::now();
        let embedding = if stages.embedding {
            self.embedder.embed(frame, &det.keypoints)?
        } else {
            None
        };
        t.embed_ms = ms(clock);

        let clock = Instant::now();
        let emotions = if stages.emotion {
            Some(self.emotion.classify(frame, &det.bbox)?)
        } else {
            None
        };
        let age_gender = match (&self.age_gender, stages.age_gender) {
            (Some(model), true) => Some(model.estimate(frame, &det.bbox)?),
            _ => None,
        };
        t.attributes_ms = ms(clock);

        Ok(FaceRecord {
            detection: det,
            landmarks,
            quality,
            pad,
            embedding,
            emotions,
            age_gender,
        })
    }

    /// Embeds the face with these keypoints (face match against a still).
    pub fn embed(&self, frame: &FrameRef, det: &Detection) -> Result<Option<Embedding>> {
        self.embedder.embed(frame, &det.keypoints)
    }
}

/// The largest face: the person nearest the camera is the one being checked.
pub fn main_face(faces: &[Detection]) -> Option<&Detection> {
    faces
        .iter()
        .max_by(|a, b| a.bbox.area().total_cmp(&b.bbox.area()))
}

fn ms(since: Instant) -> f32 {
    since.elapsed().as_secs_f32() * 1000.0
}
