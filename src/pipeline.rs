//! The per-frame pipeline: detection → main face → landmarks → quality and guidance →
//! passive anti-spoofing → (on request) embedding and attributes, into a [`FrameRecord`].
//!
//! [`Engine`] owns every loaded model; it is `Send + Sync`, so a server shares one behind an
//! `Arc` and the browser holds one per worker.

use std::sync::OnceLock;

use serde::{Deserialize, Serialize};
use web_time::Instant;

use crate::antispoof::{CelebaPad, MiniFasNet, PadScore};
use crate::attributes::{AgeGender, AgeGenderModel, EmotionModel, Emotions};
use crate::detect::{Detection, DetectorConfig, FaceDetector};
use crate::embed::{Embedding, FaceEmbedder};
use crate::error::{Error, Result};
use crate::frame::FrameRef;
use crate::imgproc::BBox;
use crate::injection::FrameSignals;
use crate::landmarks::{FaceLandmarks, FaceMesh, MeshRoi, Mouth, Pose};
use crate::light::LightSample;
use crate::models::{Manifest, ModelRole, ModelSource, Weights};
use crate::quality::{self, Guidance, Quality, QualityConfig};

/// Engine settings.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
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
    /// Which weight files to load: the browser build defaults to the compact ones (a smaller
    /// download, same f32 arithmetic; parity bars in tests/integration/compact.rs), native
    /// builds to the originals.
    pub weights: Weights,
    /// Load the emotion model with the engine. Only the smile challenge needs it, so the
    /// browser build defaults to loading it on demand ([`Engine::add_model`]) when a session's
    /// script has a smile; native builds load it up front.
    pub emotion: bool,
}

impl Default for EngineConfig {
    fn default() -> Self {
        Self {
            detector: DetectorConfig::default(),
            quality: QualityConfig::default(),
            pad_threshold: DEFAULT_PAD_THRESHOLD,
            celeba_pad: false,
            age_gender: true,
            weights: if cfg!(target_family = "wasm") {
                Weights::Compact
            } else {
                Weights::Full
            },
            emotion: !cfg!(target_family = "wasm"),
        }
    }
}

impl EngineConfig {
    /// The model roles [`Engine::load`] loads for this configuration (the browser fetches
    /// only these files).
    pub fn roles(&self) -> Vec<ModelRole> {
        let mut roles = vec![
            ModelRole::Detector,
            ModelRole::Landmarks,
            ModelRole::PadV2,
            ModelRole::PadV1se,
            ModelRole::Embedding,
        ];
        if self.emotion {
            roles.push(ModelRole::Emotion);
        }
        if self.celeba_pad {
            roles.push(ModelRole::PadCeleba);
        }
        if self.age_gender {
            roles.push(ModelRole::AgeGender);
        }
        roles
    }
}

/// Default real-probability threshold (see README "Accuracy" for the operating point).
pub const DEFAULT_PAD_THRESHOLD: f32 = 0.5;

/// Which optional stages to run for a frame.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
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
    /// True when the detector was skipped and the face was followed from the previous
    /// frame's landmarks ([`Engine::analyze_tracked`]); `faces` then holds that one face.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub tracked: bool,
    /// How much the frame differs from the previous frame of the same stream: the mean
    /// absolute grey-level difference of their 32×24 thumbnails (0 = identical). Set by
    /// [`crate::LiveCheck`]; `None` for a first frame or a frame analysed alone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub change: Option<f32>,
    /// The lit skin's colour against the background (the light challenge). Set by
    /// [`crate::LiveCheck`] on frames with a face.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub light: Option<LightSample>,
    /// Sensor noise and recompression traces (injection signals). Set by [`crate::LiveCheck`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signals: Option<FrameSignals>,
}

/// A compact per-frame record without the landmark points: what the browser SDK reports for
/// each frame and what an evidence bundle carries.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FrameSummary {
    pub t_ms: f64,
    pub width: u32,
    pub height: u32,
    /// Faces found (1 on tracked frames).
    pub faces: usize,
    #[serde(default)]
    pub tracked: bool,
    /// The main face's box and detector score.
    pub bbox: Option<BBox>,
    pub score: Option<f32>,
    /// Mesh face-presence probability.
    pub presence: Option<f32>,
    pub pad: Option<PadScore>,
    /// Mean eye aspect ratio.
    pub ear: Option<f32>,
    pub mouth: Option<Mouth>,
    pub pose: Option<Pose>,
    pub quality: Option<Quality>,
    /// The emotion model's happy probability, when it ran.
    pub happy: Option<f32>,
    pub guidance: Vec<Guidance>,
    pub timings: Timings,
    /// Inter-frame change ([`FrameRecord::change`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub change: Option<f32>,
    /// [`FrameRecord::light`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub light: Option<LightSample>,
    /// [`FrameRecord::signals`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signals: Option<FrameSignals>,
}

impl FrameRecord {
    /// The compact form of this record.
    pub fn summary(&self) -> FrameSummary {
        let f = self.face.as_ref();
        FrameSummary {
            t_ms: self.t_ms,
            width: self.width,
            height: self.height,
            faces: self.faces.len(),
            tracked: self.tracked,
            bbox: f.map(|f| f.detection.bbox),
            score: f.map(|f| f.detection.score),
            presence: f.map(|f| f.landmarks.presence),
            pad: f.and_then(|f| f.pad),
            ear: f.map(|f| f.landmarks.ear_mean()),
            mouth: f.map(|f| f.landmarks.mouth),
            pose: f.map(|f| f.landmarks.pose),
            quality: f.map(|f| f.quality),
            happy: f.and_then(|f| f.emotions.map(|e| e.happy())),
            guidance: self.guidance.clone(),
            timings: self.timings,
            change: self.change,
            light: self.light,
            signals: self.signals,
        }
    }

    /// The frame's real probability, if anti-spoofing ran on it.
    pub fn pad_real(&self) -> Option<f32> {
        self.face.as_ref()?.pad.map(|p| p.real)
    }

    /// Why the main face cannot be judged at all ([`crate::quality::refusal`]); `None` when it
    /// can, or when there is no face (that is [`Guidance::NoFace`]'s job).
    pub fn refusal(&self, config: &QualityConfig) -> Option<Guidance> {
        let f = self.face.as_ref()?;
        crate::quality::refusal(
            config,
            &f.detection.bbox,
            &f.quality,
            self.width,
            self.height,
        )
    }

    /// True when a liveness decision can be based on this frame: one face, anti-spoofing ran,
    /// and nothing blocks a decision.
    pub fn is_usable(&self) -> bool {
        self.faces.len() == 1
            && self.pad_real().is_some()
            && !self.guidance.iter().any(|g| g.blocks_decision())
    }

    /// True when the frame counts for the liveness decision: usable and the face not turned
    /// away (turned faces are expected during head turns, but score and embed poorly). The
    /// anti-spoofing score, the neutral baseline and the reference face come from these.
    pub fn counts_for_liveness(&self) -> bool {
        self.is_usable() && !self.guidance.contains(&Guidance::FaceTurned)
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
    /// Set at load, or later by [`Engine::add_model`] (shared engines are immutable otherwise).
    emotion: OnceLock<EmotionModel>,
    age_gender: Option<AgeGenderModel>,
}

impl Engine {
    /// Loads (and verifies) every model the configuration needs.
    pub fn load(source: &ModelSource, config: EngineConfig) -> Result<Self> {
        let manifest = Manifest::builtin()?;
        let bytes = |role| source.bytes(&manifest.entry_for(role, config.weights)?);
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
            emotion: if config.emotion {
                OnceLock::from(EmotionModel::new(&bytes(ModelRole::Emotion)?)?)
            } else {
                OnceLock::new()
            },
            age_gender: if config.age_gender {
                Some(AgeGenderModel::new(&bytes(ModelRole::AgeGender)?)?)
            } else {
                None
            },
            config,
        })
    }

    /// Whether the emotion model (the smile challenge's) is loaded.
    pub fn has_emotion(&self) -> bool {
        self.emotion.get().is_some()
    }

    /// The manifest entry of the file an on-demand role loads from, with this engine's weights.
    pub fn model_entry(&self, role: ModelRole) -> Result<crate::models::ModelEntry> {
        Manifest::builtin()?.entry_for(role, self.config.weights)
    }

    /// Loads an on-demand model (today: the emotion model) from its verified bytes. Loading
    /// one that is already loaded does nothing.
    pub fn add_model(&self, role: ModelRole, bytes: &[u8]) -> Result<()> {
        if role != ModelRole::Emotion {
            return Err(Error::InvalidArgument {
                field: "role",
                message: format!("{role} is loaded with the engine, not on demand"),
            });
        }
        if self.has_emotion() {
            return Ok(());
        }
        crate::models::verify_sha256(&self.model_entry(role)?, bytes)?;
        let model = EmotionModel::new(bytes)?;
        // A concurrent add of the same verified file loses the race harmlessly.
        let _ = self.emotion.set(model);
        Ok(())
    }

    /// Checks that every model a challenge script needs is loaded: a smile needs the emotion
    /// model. The error names the file to load with [`Engine::add_model`].
    pub fn ready_for(&self, script: &[crate::challenge::ChallengeAction]) -> Result<()> {
        if script.contains(&crate::challenge::ChallengeAction::Smile) {
            self.emotion()?;
        }
        Ok(())
    }

    /// The emotion model, or the typed error naming the file to load with `add_model`.
    fn emotion(&self) -> Result<&EmotionModel> {
        if let Some(m) = self.emotion.get() {
            return Ok(m);
        }
        let entry = self.model_entry(ModelRole::Emotion)?;
        Err(Error::ModelMissing {
            role: ModelRole::Emotion.to_string(),
            file: entry.file,
            dir: "<not loaded>".into(),
            hint: "the smile challenge needs it: load it with Engine::add_model".into(),
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
            tracked: false,
            change: None,
            light: None,
            signals: None,
        })
    }

    /// The pipeline for consecutive video frames. With `detect == false` and a face followed
    /// by `tracker` (left there by the previous call), the detector is skipped: the mesh runs
    /// on the region tracked from the previous frame's landmarks, and the face box is derived
    /// from the new landmarks. The detector runs anyway when there is nothing to track, when
    /// the mesh loses the face, or when `stages` need a detector box (anti-spoofing and the
    /// embedding are only ever computed on detector boxes, so their scores are the ones a
    /// re-run of [`Engine::analyze`] on the same frame gives). Callers usually pass
    /// [`Tracker::detection_due`], or'ed with their own reasons.
    pub fn analyze_tracked(
        &self,
        frame: &FrameRef,
        t_ms: f64,
        stages: Stages,
        tracker: &mut Tracker,
        detect: bool,
    ) -> Result<FrameRecord> {
        let rec = self.track_or_detect(frame, t_ms, stages, &mut tracker.track, detect)?;
        tracker.since_detection = if rec.tracked {
            tracker.since_detection + 1
        } else {
            0
        };
        Ok(rec)
    }

    fn track_or_detect(
        &self,
        frame: &FrameRef,
        t_ms: f64,
        stages: Stages,
        track: &mut Option<Track>,
        detect: bool,
    ) -> Result<FrameRecord> {
        let needs_box = stages.pad || stages.embedding || stages.age_gender;
        if let (false, false, Some(t)) = (detect, needs_box, track.as_ref()) {
            if let Some(rec) = self.follow(frame, t_ms, stages, t)? {
                *track = rec
                    .face
                    .as_ref()
                    .map(|f| Track::new(&f.detection, &f.landmarks));
                return Ok(rec);
            }
        }
        let rec = self.analyze(frame, t_ms, stages)?;
        // Follow only a lone face: with several in view, every frame goes to the detector.
        *track = match (&rec.face, rec.faces.len()) {
            (Some(f), 1) if f.landmarks.presence >= self.config.quality.min_presence => {
                Some(Track::new(&f.detection, &f.landmarks))
            }
            _ => None,
        };
        Ok(rec)
    }

    /// One tracked frame, or `None` when the mesh no longer sees a face there.
    fn follow(
        &self,
        frame: &FrameRef,
        t_ms: f64,
        stages: Stages,
        track: &Track,
    ) -> Result<Option<FrameRecord>> {
        let start = Instant::now();
        let mut timings = Timings::default();
        let landmarks = self.mesh.landmarks(frame, &track.roi)?;
        timings.landmarks_ms = ms(start);
        if landmarks.presence < self.config.quality.min_presence {
            return Ok(None);
        }
        let detection = track.detection_from(&landmarks);
        let quality = quality::measure(frame, &detection);
        let clock = Instant::now();
        let emotions = if stages.emotion {
            Some(self.emotion()?.classify(frame, &detection.bbox)?)
        } else {
            None
        };
        timings.attributes_ms = ms(clock);
        let face = FaceRecord {
            detection: detection.clone(),
            landmarks,
            quality,
            pad: None,
            embedding: None,
            emotions,
            age_gender: None,
        };
        let guidance = quality::guidance(
            &self.config.quality,
            1,
            Some(&face.quality),
            Some(&face.landmarks),
        );
        timings.total_ms = ms(start);
        Ok(Some(FrameRecord {
            t_ms,
            width: frame.width(),
            height: frame.height(),
            faces: vec![detection],
            face: Some(face),
            guidance,
            timings,
            tracked: true,
            change: None,
            light: None,
            signals: None,
        }))
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
            Some(self.emotion()?.classify(frame, &det.bbox)?)
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

/// Tracking over consecutive frames: the face being followed and the detector's schedule
/// (every `detect_every`-th frame, and whenever nothing is tracked).
#[derive(Debug, Clone)]
pub struct Tracker {
    track: Option<Track>,
    detect_every: u32,
    since_detection: u32,
}

impl Tracker {
    /// A tracker that wants the detector on every `detect_every`-th frame (1: every frame).
    pub fn new(detect_every: u32) -> Self {
        Self {
            track: None,
            detect_every: detect_every.max(1),
            since_detection: 0,
        }
    }

    /// Whether the detector is due on the next frame.
    pub fn detection_due(&self) -> bool {
        self.track.is_none() || self.since_detection + 1 >= self.detect_every
    }
}

/// A face followed from one frame to the next without the detector.
#[derive(Debug, Clone, PartialEq)]
struct Track {
    /// Where the mesh looks in the next frame.
    roi: MeshRoi,
    /// The detector box relative to the mesh's bounding box at the last detection (x1, y1,
    /// x2, y2 offsets in mesh-box widths and heights), so that derived boxes keep the
    /// detector's framing, which the quality thresholds were measured on.
    box_from_mesh: [f32; 4],
    score: f32,
}

impl Track {
    fn new(det: &Detection, landmarks: &FaceLandmarks) -> Self {
        let m = landmarks.bbox();
        let (w, h) = (m.width().max(1.0), m.height().max(1.0));
        Self {
            roi: MeshRoi::from_detection(&det.bbox, det.keypoints[0], det.keypoints[1]),
            box_from_mesh: [
                (det.bbox.x1 - m.x1) / w,
                (det.bbox.y1 - m.y1) / h,
                (det.bbox.x2 - m.x2) / w,
                (det.bbox.y2 - m.y2) / h,
            ],
            score: det.score,
        }
    }

    /// A detector-like box and five keypoints from the landmarks.
    fn detection_from(&self, l: &FaceLandmarks) -> Detection {
        let m = l.bbox();
        let (w, h) = (m.width(), m.height());
        let o = self.box_from_mesh;
        let p = |i: usize| [l.points[i][0], l.points[i][1]];
        let mid = |a: usize, b: usize| {
            [
                (l.points[a][0] + l.points[b][0]) * 0.5,
                (l.points[a][1] + l.points[b][1]) * 0.5,
            ]
        };
        Detection {
            bbox: BBox {
                x1: m.x1 + o[0] * w,
                y1: m.y1 + o[1] * h,
                x2: m.x2 + o[2] * w,
                y2: m.y2 + o[3] * h,
            },
            score: self.score,
            // YuNet's order: subject's right eye (image left), left eye, nose tip, right and
            // left mouth corners; eye centres as the midpoint of each eye's corners.
            keypoints: [mid(33, 133), mid(362, 263), p(1), p(61), p(291)],
        }
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
