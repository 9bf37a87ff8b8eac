//! Liveness of submitted media: a still, a video, or both with face match, following the
//! tuning fields of the liveness APIs (`enhanced_detection`, `frame_sampling_rate`,
//! `max_frames_to_analyze`, `facematch_frames`, `facematch_threshold`).
//!
//! The video side is a [`VideoAnalyzer`] fed with decoded frames, so it is the same code
//! whether frames come from FFmpeg (native), an evidence bundle or a browser. Decoding
//! uploaded bytes is `media.rs` (native only); the still-versus-video comparison is
//! `facematch.rs`.

mod facematch;
#[cfg(not(target_family = "wasm"))]
mod media;

pub use facematch::{facematch, spread, FacematchCheck};
#[cfg(not(target_family = "wasm"))]
pub use media::{analyze_video_bytes, check_media, check_video_bytes, MediaLimits};

use serde::{Deserialize, Serialize};

use crate::challenge::{
    robust_mean, ActionDetector, ActionThresholds, Baseline, ChallengeAction, Sample,
};

use crate::cues::{MotionCue, MotionTracker, ScreenCue, ScreenTracker};
use crate::error::{Error, Result};
use crate::frame::FrameRef;
use crate::pipeline::{Engine, FrameRecord, Stages, Tracker};
use crate::quality::Guidance;

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
        let bad = |field: &'static str, m: String| Err(Error::invalid(field, m));
        if !(1..=100).contains(&self.facematch_frames) {
            return bad(
                "facematch_frames",
                format!(
                    "facematch_frames must be 1..=100, got {}",
                    self.facematch_frames
                ),
            );
        }
        if !(0.0..=1.0).contains(&self.facematch_threshold) {
            return bad(
                "facematch_threshold",
                format!(
                    "facematch_threshold must be in [0, 1], got {}",
                    self.facematch_threshold
                ),
            );
        }
        if !(1..=10_000).contains(&self.frame_sampling_rate) {
            return bad(
                "frame_sampling_rate",
                format!(
                    "frame_sampling_rate must be 1..=10000, got {}",
                    self.frame_sampling_rate
                ),
            );
        }
        if !(1..=300).contains(&self.max_frames_to_analyze) {
            return bad(
                "max_frames_to_analyze",
                format!(
                    "max_frames_to_analyze must be 1..=300, got {}",
                    self.max_frames_to_analyze
                ),
            );
        }
        if !(-1.0..=1.0).contains(&self.match_similarity) {
            return bad(
                "match_similarity",
                format!(
                    "match_similarity must be in [-1, 1], got {}",
                    self.match_similarity
                ),
            );
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
    /// Cues only a moving scene or a screen shows, measured on the clip (features for the
    /// evaluation, not part of the decision: README "Accuracy").
    #[serde(default)]
    pub cues: VideoCues,
}

/// The cues measured on a video ([`crate::cues`]).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct VideoCues {
    /// Face motion against its surround, over the blink scan's frames.
    pub motion: Option<MotionCue>,
    /// Screen cues on the anti-spoofing frames (medians).
    pub screen: Option<ScreenCue>,
}

impl VideoCues {
    /// What the trackers measured: the motion cue once a pair had both sides measured.
    pub fn from_trackers(motion: &MotionTracker, screen: &ScreenTracker) -> Self {
        let m = motion.finish();
        VideoCues {
            motion: (m.pairs > 0).then_some(m),
            screen: screen.finish(),
        }
    }
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
    if let Some(reason) = record.refusal(&engine.config().quality) {
        return Err(Error::PoorQuality {
            input: "image",
            reason,
        });
    }
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
    motion: MotionTracker,
    screen: ScreenTracker,
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
            motion: MotionTracker::new(),
            screen: ScreenTracker::new(),
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
        let geometry = self.wants_geometry(index);
        if !pad && !geometry {
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
        let single = record.face.as_ref().filter(|_| record.faces.len() == 1);
        if let Some(face) = single {
            if face.landmarks.presence >= self.engine.config().quality.min_presence {
                self.geometry.push(Sample::from_face(t_ms, face));
            }
        }
        let face_box = single.map(|f| &f.detection.bbox);
        if geometry {
            self.motion.push(frame, face_box);
        }
        if pad {
            self.screen.push(frame, face_box);
        }
        if pad {
            self.frames.push(record);
        }
        Ok(())
    }

    /// The cues measured so far.
    pub fn cues(&self) -> VideoCues {
        VideoCues::from_trackers(&self.motion, &self.screen)
    }

    /// The frames sampled for anti-spoofing so far, in decode order.
    pub fn records(&self) -> &[FrameRecord] {
        &self.frames
    }

    /// The video's result; `total_frames` is the clip's frame count when known.
    pub fn finish(self, total_frames: Option<u64>) -> Result<VideoCheck> {
        let threshold = self.engine.config().pad_threshold;
        let quality = &self.engine.config().quality;
        let judged: Vec<(f32, Option<Guidance>)> = self
            .frames
            .iter()
            .filter_map(|r| Some((r.pad_real()?, r.refusal(quality))))
            .collect();
        let score = video_score(&judged).map_err(|reason| match reason {
            Guidance::NoFace => Error::NoFace("video"),
            reason => Error::PoorQuality {
                input: "video",
                reason,
            },
        })?;
        let scores: Vec<f32> = judged.iter().map(|(s, _)| *s).collect();
        let cues = self.cues();
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
            cues,
        })
    }
}

/// A video's anti-spoofing score from its sampled frames' scores and refusals
/// ([`FrameRecord::refusal`]), or why it cannot be judged: [`Guidance::NoFace`] without any
/// scored face, the most frequent refusal when more than half of the scored frames are
/// refused (a capture that bad is retaken, not judged from what is left).
///
/// Otherwise the score is the lower of the robust means over the judged frames and over all
/// scored frames: refusing frames can only lower a video's score, never raise it, so a replay
/// cannot hide its tell-tale frames by blurring them (measured on ../shared/media: the phone
/// replay `zub_fake_phone_replay.webm` scores 0.20 on all frames, 0.56 on its two sharp ones).
pub fn video_score(frames: &[(f32, Option<Guidance>)]) -> std::result::Result<f32, Guidance> {
    let all: Vec<f32> = frames.iter().map(|(s, _)| *s).collect();
    let judged: Vec<f32> = frames
        .iter()
        .filter(|(_, r)| r.is_none())
        .map(|(s, _)| *s)
        .collect();
    let Some(all_mean) = robust_mean(&all) else {
        return Err(Guidance::NoFace);
    };
    if judged.len() * 2 < frames.len() {
        let mut counts: Vec<(Guidance, usize)> = Vec::new();
        for reason in frames.iter().filter_map(|(_, r)| *r) {
            match counts.iter_mut().find(|(g, _)| *g == reason) {
                Some((_, n)) => *n += 1,
                None => counts.push((reason, 1)),
            }
        }
        // The most frequent reason; the first seen on a tie.
        let mut best = counts[0];
        for c in &counts[1..] {
            if c.1 > best.1 {
                best = *c;
            }
        }
        return Err(best.0);
    }
    Ok(robust_mean(&judged).map_or(all_mean, |j| j.min(all_mean)))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_video_score_never_rises_by_refusing_frames() {
        let tooclose = Some(Guidance::TooClose);
        let blurry = Some(Guidance::Blurry);
        assert_eq!(video_score(&[]), Err(Guidance::NoFace));
        // All judged: the plain robust mean.
        let s = video_score(&[(0.9, None), (0.7, None)]).unwrap();
        assert!((s - 0.8).abs() < 1e-6, "{s}");
        // The blurred frames look fake: leaving them out must not lift the score.
        let s = video_score(&[(0.9, None), (0.9, None), (0.1, blurry), (0.9, None)]).unwrap();
        assert!((s - 0.7).abs() < 1e-6, "{s}");
        // A refused frame that looks more live than the rest does not help either.
        let s = video_score(&[(0.2, None), (0.2, None), (0.95, blurry)]).unwrap();
        assert!((s - 0.2).abs() < 1e-6, "{s}");
        // More than half refused: the most frequent reason, not a score.
        assert_eq!(
            video_score(&[(0.9, None), (0.1, blurry), (0.2, blurry), (0.3, tooclose)]),
            Err(Guidance::Blurry)
        );
        // Exactly half judged is still judged.
        assert!(video_score(&[(0.9, None), (0.1, blurry)]).is_ok());
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
