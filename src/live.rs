//! A live liveness check over consecutive camera frames: the per-frame pipeline with face
//! tracking, the challenge state machine, and the evidence recorder, behind one call per
//! frame. The browser SDK (through the wasm bindings), the CLI on a recorded clip and the
//! tests all drive this same type.
//!
//! Tracking is what makes the browser real-time: with `detect_every = n`, the detector,
//! anti-spoofing and the embedding run on every n-th frame only, and the mesh follows the face
//! in between (blink and head-pose challenges still see every frame). With `n = 1` every
//! frame is fully analysed, as the server does.

use serde::{Deserialize, Serialize};

use crate::challenge::{ChallengeSession, SessionOutcome};
use crate::error::{Error, Result};
use crate::events::Event;
use crate::evidence::{Bundle, BundleId, Clip, EvidenceConfig, EvidenceRecorder, Versions};
use crate::frame::FrameRef;
use crate::imgproc::{grey_thumbnail, thumbnail_change, THUMB_H, THUMB_W};
use crate::pipeline::{Engine, FrameRecord, Stages, Tracker};
use crate::{injection, light};

/// Longest detector interval accepted.
pub const MAX_DETECT_EVERY: u32 = 30;

/// How a live check samples frames.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LiveConfig {
    /// Run the detector, anti-spoofing and the embedding on every n-th frame (1 = every
    /// frame); the mesh tracks the face in between.
    pub detect_every: u32,
    /// Keep evidence (sampled JPEG frames and per-frame records) for a bundle.
    pub evidence: Option<EvidenceConfig>,
}

impl Default for LiveConfig {
    fn default() -> Self {
        Self {
            detect_every: 1,
            evidence: None,
        }
    }
}

/// What one frame produced.
#[derive(Debug, Clone, PartialEq)]
pub struct LiveStep {
    pub record: FrameRecord,
    pub events: Vec<Event>,
}

/// One live check.
#[derive(Debug)]
pub struct LiveCheck {
    session: ChallengeSession,
    detect_every: u32,
    tracker: Tracker,
    /// The session asked for an embedding on a tracked frame: serve it on the next detection.
    embedding_due: bool,
    evidence: Option<EvidenceRecorder>,
    /// The previous frame's thumbnail, for [`FrameRecord::change`].
    last_thumbnail: Option<[f32; THUMB_W * THUMB_H]>,
}

impl LiveCheck {
    /// A check running `session` with these settings.
    pub fn new(session: ChallengeSession, config: LiveConfig) -> Result<Self> {
        if config.detect_every == 0 || config.detect_every > MAX_DETECT_EVERY {
            return Err(Error::invalid(
                "detect_every",
                format!(
                    "detect_every must be 1..={MAX_DETECT_EVERY}, got {}",
                    config.detect_every
                ),
            ));
        }
        Ok(Self {
            session,
            detect_every: config.detect_every,
            tracker: Tracker::new(config.detect_every),
            embedding_due: false,
            evidence: config.evidence.map(EvidenceRecorder::new).transpose()?,
            last_thumbnail: None,
        })
    }

    /// The challenge session.
    pub fn session(&self) -> &ChallengeSession {
        &self.session
    }

    /// The decision, once made.
    pub fn outcome(&self) -> Option<&SessionOutcome> {
        self.session.outcome()
    }

    /// Analyses one frame captured at `t_ms` (a monotonic clock; earlier frames than the last
    /// one are ignored by the session) and feeds it to the session.
    pub fn process(&mut self, engine: &Engine, frame: &FrameRef, t_ms: f64) -> Result<LiveStep> {
        if !t_ms.is_finite() {
            return Err(Error::invalid(
                "t_ms",
                format!("frame time must be finite, got {t_ms}"),
            ));
        }
        if self.session.is_done() {
            return Err(Error::invalid(
                "session",
                "the session has already decided; start a new one",
            ));
        }
        let mut stages = self.session.stages_for_next_frame();
        let detect = self.tracker.detection_due();
        if self.detect_every > 1 {
            self.embedding_due |= stages.embedding;
            stages.pad &= detect;
            stages.embedding = self.embedding_due && detect;
        }
        let mut record = engine.analyze_tracked(frame, t_ms, stages, &mut self.tracker, detect)?;
        self.measure(frame, &mut record);
        if record.face.as_ref().is_some_and(|f| f.embedding.is_some()) {
            self.embedding_due = false;
        }
        let events = self.session.push(&record);
        if let Some(evidence) = &mut self.evidence {
            evidence.observe(frame, &record)?;
        }
        Ok(LiveStep { record, events })
    }

    /// Follows the face on a frame after the session has decided, without feeding the session:
    /// the mesh and the frame's light and source measurements only (a light sequence may still
    /// be playing when the challenges are done).
    pub fn observe(&mut self, engine: &Engine, frame: &FrameRef, t_ms: f64) -> Result<FrameRecord> {
        if !t_ms.is_finite() {
            return Err(Error::invalid(
                "t_ms",
                format!("frame time must be finite, got {t_ms}"),
            ));
        }
        let detect = self.tracker.detection_due();
        let mut record =
            engine.analyze_tracked(frame, t_ms, Stages::GEOMETRY, &mut self.tracker, detect)?;
        self.measure(frame, &mut record);
        Ok(record)
    }

    /// What the check itself measures on each frame: how much it moved since the previous one
    /// (the still-stream and repeated-frame rules), the lit skin's colour (the light
    /// challenge) and where the frame came from (injection signals).
    fn measure(&mut self, frame: &FrameRef, record: &mut FrameRecord) {
        let thumbnail = grey_thumbnail(frame);
        record.change = self
            .last_thumbnail
            .map(|last| thumbnail_change(&last, &thumbnail));
        self.last_thumbnail = Some(thumbnail);
        record.light = record.face.as_ref().and_then(|f| {
            light::measure(frame, record.t_ms, &f.landmarks.points, &f.detection.bbox)
        });
        record.signals = Some(injection::frame_signals(frame));
    }

    /// Ends the stream: an undecided session fails (end of stream).
    pub fn finish(&mut self) -> Vec<Event> {
        self.session.finish()
    }

    /// The evidence bundle of a decided session, with the session's recording if there is one.
    pub fn bundle(
        &self,
        session_id: &str,
        nonce: &str,
        created_ms: f64,
        sdk_version: &str,
        clip: Option<Clip<'_>>,
    ) -> Result<Bundle> {
        let outcome = self.session.outcome().ok_or_else(|| {
            Error::invalid(
                "session",
                "evidence is only available once the session has decided",
            )
        })?;
        let recorder = self.evidence.as_ref().ok_or_else(|| {
            Error::invalid(
                "evidence",
                "this check was started without evidence recording",
            )
        })?;
        let id = BundleId {
            session_id,
            nonce,
            created_ms,
        };
        recorder.bundle(
            &id,
            Versions::current(sdk_version),
            outcome,
            self.session.config().timeout_ms,
            clip,
        )
    }
}
