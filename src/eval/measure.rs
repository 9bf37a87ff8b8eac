//! The engine's work for an evaluation, done once per sample: every anti-spoofing frame's
//! scores and quality refusal. Stills are one frame through [`Engine::analyze`] as
//! `liveproof check` runs them; videos go through the same [`VideoAnalyzer`] sampling a
//! submitted video gets ([`crate::check::analyze_video_bytes`]). The configurations of
//! [`super::Config`] then decide from these records without running a model again.

use serde::Serialize;

use super::dataset::{MediaKind, Sample};
use super::split::{part_of, Part};
use crate::antispoof::PadScore;
use crate::check::{analyze_video_bytes, CheckParams, VideoCues, VideoMode};
use crate::cues::{screen_sample, ScreenCue};
use crate::frame::{decode_image, ImageLimits};
use crate::pipeline::{Engine, Stages};
use crate::quality::Guidance;
use crate::video::VideoLimits;

/// One anti-spoofing frame: its scores and why it cannot be judged, if it cannot.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct FramePad {
    pub pad: PadScore,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refusal: Option<Guidance>,
}

/// A sample with what the engine measured on it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Measured {
    #[serde(flatten)]
    pub sample: Sample,
    pub part: Part,
    /// Frames with a face and anti-spoofing (empty: no face anywhere).
    pub frames: Vec<FramePad>,
    /// Frames sampled for anti-spoofing, faces or not.
    pub sampled: usize,
    /// The cues measured on it: motion for videos, screen cues for both.
    pub cues: VideoCues,
    /// Why the file could not be read or decoded (it then counts in no figure).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// Measures one sample. Decoding failures are recorded, not returned: one bad file must not
/// end an evaluation of thousands.
pub fn measure(engine: &Engine, sample: &Sample) -> crate::Result<Measured> {
    let mut m = Measured {
        sample: sample.clone(),
        part: part_of(&sample.group),
        frames: Vec::new(),
        sampled: 0,
        cues: VideoCues::default(),
        error: None,
    };
    let bytes = match std::fs::read(&sample.path) {
        Ok(b) => b,
        Err(e) => {
            m.error = Some(e.to_string());
            return Ok(m);
        }
    };
    let quality = &engine.config().quality;
    match sample.kind {
        MediaKind::Image => {
            let frame = match decode_image(&bytes, &ImageLimits::default()) {
                Ok(f) => f,
                Err(e) => {
                    m.error = Some(e.to_string());
                    return Ok(m);
                }
            };
            let record = engine.analyze(&frame.as_ref(), 0.0, Stages::PAD)?;
            m.sampled = 1;
            if let Some(face) = &record.face {
                m.cues.screen = screen_sample(&frame.as_ref(), &face.detection.bbox)
                    .and_then(|s| ScreenCue::from_samples(&[s]));
            }
            if let Some(pad) = record.face.as_ref().and_then(|f| f.pad) {
                m.frames.push(FramePad {
                    pad,
                    refusal: record.refusal(quality),
                });
            }
        }
        MediaKind::Video => {
            let analyzed = analyze_video_bytes(
                engine,
                &bytes,
                &CheckParams::default(),
                VideoMode::VideoOnly,
                false,
                &VideoLimits::default(),
            );
            let (analyzer, _) = match analyzed {
                Ok(a) => a,
                Err(e) if e.is_input_error() => {
                    m.error = Some(e.to_string());
                    return Ok(m);
                }
                Err(e) => return Err(e),
            };
            m.sampled = analyzer.records().len();
            m.cues = analyzer.cues();
            for record in analyzer.records() {
                if let Some(pad) = record.face.as_ref().and_then(|f| f.pad) {
                    m.frames.push(FramePad {
                        pad,
                        refusal: record.refusal(quality),
                    });
                }
            }
        }
    }
    Ok(m)
}
