//! Liveness of submitted media: a still, a video, or both with face match, following the
//! tuning fields of the liveness APIs (`enhanced_detection`, `frame_sampling_rate`,
//! `max_frames_to_analyze`, `facematch_frames`, `facematch_threshold`).
//!
//! The video side is a [`VideoAnalyzer`] fed with decoded frames, so it is the same code
//! whether frames come from FFmpeg (native), an evidence bundle or a browser.

use serde::{Deserialize, Serialize};

use crate::challenge::{
    robust_mean, ActionDetector, ActionThresholds, Baseline, ChallengeAction, Sample,
};
use crate::embed::{cosine, Embedding};
use crate::error::{Error, Result};
use crate::frame::FrameRef;
use crate::pipeline::{Engine, FrameRecord, Stages, Tracker};

/// Tuning fields shared by the v1 and v2 APIs, with their documented defaults.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct CheckParams {
    /// Image + video: multi-frame analysis (true) or the legacy image + blink path (false).
    pub enhanced_detection: bool,
    /// Video frames compared with the still.
    pub facematch_frames: u32,
    /// Fraction of compared frames that must match for a positive face match.
    pub facematch_threshold: f32,
    /// Analyse every Nth video frame.
    pub frame_sampling_rate: u32,
    /// Cap on analysed video frames.
    pub max_frames_to_analyze: u32,
    /// Cosine similarity at or above which one frame matches the still (MobileFaceNet;
    /// the models README measured genuine pairs ≥0.62 and impostors mostly below 0.45).
    pub match_similarity: f32,
}

impl Default for CheckParams {
    fn default() -> Self {
        Self {
            enhanced_detection: true,
            facematch_frames: 3,
            facematch_threshold: 0.6,
            frame_sampling_rate: 15,
            max_frames_to_analyze: 20,
            match_similarity: 0.45,
        }
    }
}

impl CheckParams {
    /// Rejects out-of-range values with a message naming the field.
    pub fn validate(&self) -> Result<()> {
        let bad = |m: String| Err(Error::InvalidArgument(m));
        if !(1..=100).contains(&self.facematch_frames) {
            return bad(format!(
                "facematch_frames must be 1..=100, got {}",
                self.facematch_frames
            ));
        }
        if !(0.0..=1.0).contains(&self.facematch_threshold) {
            return bad(format!(
                "facematch_threshold must be in [0, 1], got {}",
                self.facematch_threshold
            ));
        }
        if !(1..=10_000).contains(&self.frame_sampling_rate) {
            return bad(format!(
                "frame_sampling_rate must be 1..=10000, got {}",
                self.frame_sampling_rate
            ));
        }
        if !(1..=300).contains(&self.max_frames_to_analyze) {
            return bad(format!(
                "max_frames_to_analyze must be 1..=300, got {}",
                self.max_frames_to_analyze
            ));
        }
        if !(-1.0..=1.0).contains(&self.match_similarity) {
            return bad(format!(
                "match_similarity must be in [-1, 1], got {}",
                self.match_similarity
            ));
        }
        Ok(())
    }
}

/// A modality's liveness decision.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Liveness {
    pub real: bool,
    /// Real probability, 0–1.
    pub score: f32,
}

/// Analysis of a still.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ImageCheck {
    pub record: FrameRecord,
    pub liveness: Liveness,
}

/// Analysis of a video.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VideoCheck {
    /// Frames in the clip (decoded count; the container's when decoding stopped early).
    pub total_frames: Option<u64>,
    /// The sampled frames that were analysed.
    pub frames: Vec<FrameRecord>,
    /// Sampled frames whose face scored REAL.
    pub real_frames: usize,
    pub liveness: Liveness,
    /// Whether a blink was seen (`None` when no frame had usable eyes).
    pub blink: Option<bool>,
    pub mode: VideoMode,
}

/// Which video path ran.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VideoMode {
    /// Video without a still.
    VideoOnly,
    /// Still + video, multi-frame analysis (`enhanced_detection=True`).
    Enhanced,
    /// Still + video, legacy path (`enhanced_detection=False`): the video must also show a
    /// blink to be judged real.
    Legacy,
}

/// Still-versus-video face match.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FacematchCheck {
    pub similarities: Vec<f32>,
    pub matched: usize,
    pub result: bool,
    /// Mean cosine similarity (negatives as 0) as a percentage.
    pub confidence: f32,
}

/// Everything the v1 / v2 documents report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckOutcome {
    pub params: CheckParams,
    pub image: Option<ImageCheck>,
    pub video: Option<VideoCheck>,
    pub facematch: Option<FacematchCheck>,
}

/// Analyses a still: the main face's anti-spoofing score and its embedding.
pub fn check_image(engine: &Engine, frame: &FrameRef) -> Result<ImageCheck> {
    let stages = Stages {
        pad: true,
        embedding: true,
        emotion: false,
        age_gender: false,
    };
    let record = engine.analyze(frame, 0.0, stages)?;
    let score = record.pad_real().ok_or(Error::NoFace("image"))?;
    let liveness = Liveness {
        real: score >= engine.config().pad_threshold,
        score,
    };
    Ok(ImageCheck { record, liveness })
}

/// Upper bound on frames scanned for a blink (10 s at 15 fps): bounds the cost of long clips.
pub const MAX_BLINK_FRAMES: usize = 150;

/// On the blink scan, the detector runs on every third analysed frame (5 times a second at
/// 15 fps) and the face mesh tracks the face in between, as in the browser SDK: the detector
/// is a third of a geometry frame's time. Anti-spoofing frames always run the detector.
const DETECT_EVERY: u32 = 3;

/// Consumes a video's frames in decode order and decides which to analyse.
pub struct VideoAnalyzer<'e> {
    engine: &'e Engine,
    rate: u64,
    max_frames: usize,
    blink_step: u64,
    mode: VideoMode,
    embed: bool,
    frames: Vec<FrameRecord>,
    geometry: Vec<Sample>,
    decoded: u64,
    tracker: Tracker,
}

impl<'e> VideoAnalyzer<'e> {
    /// `fps` (when known) sets the blink scan to ≈15 frames per second; `embed` computes the
    /// embeddings face match needs on the sampled frames.
    pub fn new(
        engine: &'e Engine,
        params: &CheckParams,
        fps: Option<f64>,
        mode: VideoMode,
        embed: bool,
    ) -> Self {
        let blink_step = fps.map_or(1, |f| (f / 15.0).round().max(1.0) as u64);
        Self {
            engine,
            rate: params.frame_sampling_rate.max(1) as u64,
            max_frames: params.max_frames_to_analyze as usize,
            blink_step,
            mode,
            embed,
            frames: Vec::new(),
            geometry: Vec::new(),
            decoded: 0,
            tracker: Tracker::new(DETECT_EVERY),
        }
    }

    /// Whether frame `index` is needed (decoders skip colour conversion otherwise).
    pub fn wants(&self, index: u64) -> bool {
        self.wants_pad(index) || self.wants_geometry(index)
    }

    fn wants_pad(&self, index: u64) -> bool {
        index.is_multiple_of(self.rate) && self.frames.len() < self.max_frames
    }

    fn wants_geometry(&self, index: u64) -> bool {
        index.is_multiple_of(self.blink_step) && self.geometry.len() < MAX_BLINK_FRAMES
    }

    /// Whether every frame it wants has been seen (decoding may stop).
    pub fn is_satisfied(&self) -> bool {
        self.frames.len() >= self.max_frames && self.geometry.len() >= MAX_BLINK_FRAMES
    }

    /// Analyses one decoded frame.
    pub fn push(&mut self, index: u64, t_ms: f64, frame: &FrameRef) -> Result<()> {
        self.decoded = self.decoded.max(index + 1);
        let pad = self.wants_pad(index);
        if !pad && !self.wants_geometry(index) {
            return Ok(());
        }
        let stages = if pad {
            Stages {
                embedding: self.embed,
                ..Stages::PAD
            }
        } else {
            Stages::GEOMETRY
        };
        let detect = pad || self.tracker.detection_due();
        let record = self
            .engine
            .analyze_tracked(frame, t_ms, stages, &mut self.tracker, detect)?;
        if let Some(face) = record.face.as_ref().filter(|_| record.faces.len() == 1) {
            if face.landmarks.presence >= self.engine.config().quality.min_presence {
                self.geometry.push(Sample::from_face(t_ms, face));
            }
        }
        if pad {
            self.frames.push(record);
        }
        Ok(())
    }

    /// The video's result; `total_frames` is the clip's frame count when known.
    pub fn finish(self, total_frames: Option<u64>) -> Result<VideoCheck> {
        let threshold = self.engine.config().pad_threshold;
        let scores: Vec<f32> = self
            .frames
            .iter()
            .filter_map(FrameRecord::pad_real)
            .collect();
        let score = robust_mean(&scores).ok_or(Error::NoFace("video"))?;
        let real_frames = scores.iter().filter(|s| **s >= threshold).count();
        let blink = detect_blink(&self.geometry);
        let real = score >= threshold && (self.mode != VideoMode::Legacy || blink == Some(true));
        Ok(VideoCheck {
            total_frames: total_frames.or(Some(self.decoded)),
            frames: self.frames,
            real_frames,
            liveness: Liveness { real, score },
            blink,
            mode: self.mode,
        })
    }
}

/// Limits on untrusted media.
#[cfg(not(target_family = "wasm"))]
#[derive(Debug, Clone, Default)]
pub struct MediaLimits {
    pub image: crate::frame::ImageLimits,
    pub video: crate::video::VideoLimits,
}

/// Decodes and checks a still and/or a video (any of the three input modes).
#[cfg(not(target_family = "wasm"))]
pub fn check_media(
    engine: &Engine,
    image: Option<&[u8]>,
    video: Option<&[u8]>,
    params: &CheckParams,
    limits: &MediaLimits,
) -> Result<CheckOutcome> {
    params.validate()?;
    if image.is_none() && video.is_none() {
        return Err(Error::EmptyInput("send an image, a video, or both"));
    }
    let image = match image {
        Some(bytes) => Some(check_image(
            engine,
            &crate::frame::decode_image(bytes, &limits.image)?.as_ref(),
        )?),
        None => None,
    };
    let video = match video {
        Some(bytes) => {
            let mode = match (&image, params.enhanced_detection) {
                (None, _) => VideoMode::VideoOnly,
                (Some(_), true) => VideoMode::Enhanced,
                (Some(_), false) => VideoMode::Legacy,
            };
            Some(check_video_bytes(
                engine,
                bytes,
                params,
                mode,
                image.is_some(),
                &limits.video,
            )?)
        }
        None => None,
    };
    let facematch = match (&image, &video) {
        (Some(i), Some(v)) => Some(
            match i.record.face.as_ref().and_then(|f| f.embedding.as_ref()) {
                Some(still) => facematch(still, &v.frames, params),
                None => FacematchCheck {
                    similarities: vec![],
                    matched: 0,
                    result: false,
                    confidence: 0.0,
                },
            },
        ),
        _ => None,
    };
    Ok(CheckOutcome {
        params: params.clone(),
        image,
        video,
        facematch,
    })
}

/// Decodes a video and runs the [`VideoAnalyzer`] over it, stopping once it has every frame it
/// wants.
#[cfg(not(target_family = "wasm"))]
pub fn check_video_bytes(
    engine: &Engine,
    bytes: &[u8],
    params: &CheckParams,
    mode: VideoMode,
    embed: bool,
    limits: &crate::video::VideoLimits,
) -> Result<VideoCheck> {
    use std::cell::RefCell;
    use std::ops::ControlFlow;

    let mut reader = crate::video::VideoReader::from_bytes(bytes, limits)?;
    let info = reader.info().clone();
    let analyzer = RefCell::new(VideoAnalyzer::new(engine, params, info.fps, mode, embed));
    let mut failure = None;
    let mut stopped_early = false;
    let decoded = reader.read_frames(
        |index, _| analyzer.borrow().wants(index),
        |vf| {
            let frame = crate::frame::Frame::from(vf.image);
            let mut a = analyzer.borrow_mut();
            if let Err(e) = a.push(vf.index, vf.t_ms, &frame.as_ref()) {
                failure = Some(e);
                return ControlFlow::Break(());
            }
            if a.is_satisfied() {
                stopped_early = true;
                return ControlFlow::Break(());
            }
            ControlFlow::Continue(())
        },
    )?;
    if let Some(e) = failure {
        return Err(e);
    }
    let total = if stopped_early {
        info.total_frames
    } else {
        Some(decoded)
    };
    analyzer.into_inner().finish(total)
}

/// Whether the eyes close and reopen anywhere in the samples (baseline: the clip's median EAR).
pub fn detect_blink(samples: &[Sample]) -> Option<bool> {
    let baseline = Baseline::from_samples(samples)?;
    let mut d = ActionDetector::new(
        ChallengeAction::Blink,
        baseline,
        ActionThresholds::default(),
    );
    Some(samples.iter().any(|s| d.push(s)))
}

/// Compares the still's face with `facematch_frames` evenly spaced analysed video frames,
/// preferring frames where the face is frontal (turned faces embed poorly).
pub fn facematch(
    still: &Embedding,
    frames: &[FrameRecord],
    params: &CheckParams,
) -> FacematchCheck {
    let with_embedding = |frontal_only: bool| -> Vec<&Embedding> {
        frames
            .iter()
            .filter(|r| {
                !frontal_only || !r.guidance.contains(&crate::quality::Guidance::FaceTurned)
            })
            .filter_map(|r| r.face.as_ref()?.embedding.as_ref())
            .collect()
    };
    let wanted = params.facematch_frames as usize;
    let frontal = with_embedding(true);
    let embedded = if frontal.len() >= wanted {
        frontal
    } else {
        with_embedding(false)
    };
    let similarities: Vec<f32> = spread(embedded.len(), wanted)
        .into_iter()
        .map(|i| cosine(still, embedded[i]))
        .collect();
    let matched = similarities
        .iter()
        .filter(|s| **s >= params.match_similarity)
        .count();
    let tested = similarities.len();
    let result = tested > 0 && matched as f32 / tested as f32 >= params.facematch_threshold;
    let confidence = if tested == 0 {
        0.0
    } else {
        similarities.iter().map(|s| s.max(0.0)).sum::<f32>() / tested as f32 * 100.0
    };
    FacematchCheck {
        similarities,
        matched,
        result,
        confidence,
    }
}

/// Picks `n` evenly spaced indices out of `len`.
pub fn spread(len: usize, n: usize) -> Vec<usize> {
    if len == 0 || n == 0 {
        return Vec::new();
    }
    if n >= len {
        return (0..len).collect();
    }
    (0..n)
        .map(|i| (i * len + len / 2) / n)
        .map(|i| i.min(len - 1))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spread_is_even_and_bounded() {
        assert_eq!(spread(20, 3), vec![3, 10, 16]);
        assert_eq!(spread(2, 3), vec![0, 1]);
        assert!(spread(0, 3).is_empty());
    }

    #[test]
    fn params_defaults_match_the_documents_and_validate() {
        let p = CheckParams::default();
        assert_eq!(
            (
                p.facematch_frames,
                p.facematch_threshold,
                p.frame_sampling_rate,
                p.max_frames_to_analyze
            ),
            (3, 0.6, 15, 20)
        );
        assert!(p.enhanced_detection);
        p.validate().unwrap();
        assert!(CheckParams {
            frame_sampling_rate: 0,
            ..p.clone()
        }
        .validate()
        .is_err());
        assert!(CheckParams {
            facematch_threshold: 1.5,
            ..p
        }
        .validate()
        .is_err());
    }
}
