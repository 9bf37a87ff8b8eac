//! The server's own run of a session's recording: the issued script's challenge session over
//! the recorded frames, exactly as the SDK runs it over the camera ([`LiveCheck`], the same
//! tracking schedule, the same [`Rulebook`](crate::challenge::Rulebook)), at the SDK's
//! analysis rate on the recording's own time base.
//!
//! Analysis stops once the session decides; the rest of the recording is only decoded (not
//! converted or analysed), to learn how long it is.

use std::cell::{Cell, RefCell};
use std::ops::ControlFlow;

use serde::Serialize;
use web_time::Instant;

use super::VerifyPolicy;
use crate::challenge::{ChallengeAction, ChallengeConfig, ChallengeSession, SessionOutcome};
use crate::check::MediaLimits;
use crate::check::VideoCues;
use crate::cues::{MotionTracker, ScreenTracker};
use crate::error::{Error, Result};
use crate::frame::Frame;
use crate::imgproc::{grey_thumbnail, THUMB_H, THUMB_W};
use crate::light::LightSample;
use crate::live::{LiveCheck, LiveConfig};
use crate::pipeline::{Engine, FrameSummary, Timings};
use crate::video::VideoReader;

/// Where the run's time went, ms (wall clock; not part of a verdict).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct RunTimings {
    /// The whole run: demuxing, decoding, conversion and analysis.
    pub total_ms: f64,
    /// Demuxing, decoding every frame and converting the analysed ones to RGB.
    pub decode_ms: f64,
    /// Per pipeline stage, summed over the analysed frames ([`Timings`]).
    pub detect_ms: f64,
    pub landmarks_ms: f64,
    pub pad_ms: f64,
    pub embed_ms: f64,
    pub attributes_ms: f64,
    /// The rest of the analysis: crops outside the models, quality, thumbnails, the session.
    pub other_ms: f64,
}

/// What the server's run found (part of the verdict).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RecordingReport {
    /// FFmpeg's codec name and the container.
    pub codec: String,
    pub container: String,
    pub width: u32,
    pub height: u32,
    /// Every frame decoded, and those analysed (until the decision).
    pub frames_decoded: u64,
    pub frames_analysed: usize,
    /// First to last decoded frame, ms.
    pub duration_ms: f64,
    /// Recording time of the frame on which the session decided.
    pub decided_at_ms: Option<f64>,
    pub analysis_fps: f64,
    pub detect_every: u32,
    /// The session's decision, its challenge timings (recording time) and what its rules saw.
    pub outcome: SessionOutcome,
    /// Cues only a moving scene or a screen shows, measured on the analysed frames until the
    /// decision: features reported beside the decision, not part of it (README "Accuracy").
    pub cues: VideoCues,
}

/// The run with the material a comparison needs.
#[derive(Debug, Clone)]
pub struct RecordingRun {
    pub report: RecordingReport,
    /// Each analysed frame's record (recording time).
    pub records: Vec<FrameSummary>,
    /// Each analysed frame's thumbnail, by recording time.
    pub thumbnails: Vec<(f64, [f32; THUMB_W * THUMB_H])>,
    /// Frames followed after the decision while the light still played (recording time).
    pub observed: Vec<FrameSummary>,
    /// Every decoded frame's presentation time, in decoding order.
    pub timestamps_ms: Vec<f64>,
    pub timings: RunTimings,
}

/// Runs `script` over the recording `bytes` (blocking). Until `light_until_ms` (recording
/// time), frames after the decision are still followed for the light challenge
/// ([`LiveCheck::observe`]).
pub fn run_recording(
    engine: &Engine,
    bytes: &[u8],
    script: &[ChallengeAction],
    config: &ChallengeConfig,
    policy: &VerifyPolicy,
    limits: &MediaLimits,
    light_until_ms: Option<f64>,
) -> Result<RecordingRun> {
    let started = Instant::now();
    let session = ChallengeSession::with_script(config.clone(), script.to_vec())?;
    let mut check = server_check(session, policy)?;
    let mut reader = VideoReader::from_bytes(bytes, &limits.video)?;
    let info = reader.info().clone();
    let period = 1000.0 / policy.analysis_fps;
    let next_t = Cell::new(f64::NEG_INFINITY);
    let span = Cell::new((f64::INFINITY, f64::NEG_INFINITY));
    let decided = Cell::new(None::<f64>);
    let analysis_s = Cell::new(0.0f64);
    let light_until = light_until_ms.unwrap_or(f64::NEG_INFINITY);
    let timestamps = RefCell::new(Vec::new());
    let state = RefCell::new(Analysis {
        check: &mut check,
        failure: None,
        records: Vec::new(),
        thumbnails: Vec::new(),
        observed: Vec::new(),
        stages: Timings::default(),
        motion: MotionTracker::new(),
        screen: ScreenTracker::new(),
    });
    let decoded = reader.read_frames(
        |_, t| {
            let (first, last) = span.get();
            span.set((first.min(t), last.max(t)));
            timestamps.borrow_mut().push(t);
            // 1 ms of slack so a 30 fps recording sampled at 15 fps takes every other frame.
            (decided.get().is_none() || t <= light_until) && t >= next_t.get() - 1.0
        },
        |vf| {
            let began = Instant::now();
            next_t.set(vf.t_ms + period);
            let mut a = state.borrow_mut();
            if started.elapsed().as_millis() > u128::from(policy.max_run_ms) {
                a.failure = Some(Error::OverBudget {
                    what: "the recording's run",
                    limit_ms: policy.max_run_ms,
                });
                return ControlFlow::Break(());
            }
            let frame = Frame::from(vf.image);
            if decided.get().is_some() {
                match a.check.observe(engine, &frame.as_ref(), vf.t_ms) {
                    Ok(record) => a.observed.push(record.summary()),
                    Err(e) => {
                        a.failure = Some(e);
                        return ControlFlow::Break(());
                    }
                }
                analysis_s.set(analysis_s.get() + began.elapsed().as_secs_f64());
                return ControlFlow::Continue(());
            }
            let step = match a.check.process(engine, &frame.as_ref(), vf.t_ms) {
                Ok(step) => step,
                Err(e) => {
                    a.failure = Some(e);
                    return ControlFlow::Break(());
                }
            };
            a.thumbnails
                .push((vf.t_ms, grey_thumbnail(&frame.as_ref())));
            let record = &step.record;
            let face = record
                .face
                .as_ref()
                .filter(|_| record.faces.len() == 1)
                .map(|f| &f.detection.bbox);
            a.motion.push(&frame.as_ref(), face);
            if record.pad_real().is_some() {
                a.screen.push(&frame.as_ref(), face);
            }
            add(&mut a.stages, &step.record.timings);
            a.records.push(step.record.summary());
            if a.check.session().is_done() {
                decided.set(Some(vf.t_ms));
            }
            analysis_s.set(analysis_s.get() + began.elapsed().as_secs_f64());
            ControlFlow::Continue(())
        },
    )?;
    let Analysis {
        failure,
        records,
        thumbnails,
        observed,
        stages,
        motion,
        screen,
        ..
    } = state.into_inner();
    let cues = VideoCues::from_trackers(&motion, &screen);
    if let Some(e) = failure {
        return Err(e);
    }
    check.finish();
    let outcome = check
        .outcome()
        .cloned()
        .ok_or_else(|| Error::invalid("recording", "the recording's session did not decide"))?;
    let (first, last) = span.get();
    let total_ms = started.elapsed().as_secs_f64() * 1000.0;
    let analysis_ms = analysis_s.get() * 1000.0;
    let f = |v: f32| f64::from(v);
    let timings = RunTimings {
        total_ms,
        decode_ms: total_ms - analysis_ms,
        detect_ms: f(stages.detect_ms),
        landmarks_ms: f(stages.landmarks_ms),
        pad_ms: f(stages.pad_ms),
        embed_ms: f(stages.embed_ms),
        attributes_ms: f(stages.attributes_ms),
        other_ms: (analysis_ms
            - f(stages.detect_ms
                + stages.landmarks_ms
                + stages.pad_ms
                + stages.embed_ms
                + stages.attributes_ms))
        .max(0.0),
    };
    Ok(RecordingRun {
        report: RecordingReport {
            codec: info.codec,
            container: info.container,
            width: info.width,
            height: info.height,
            frames_decoded: decoded,
            frames_analysed: records.len(),
            duration_ms: if last >= first { last - first } else { 0.0 },
            decided_at_ms: decided.get(),
            analysis_fps: policy.analysis_fps,
            detect_every: policy.detect_every,
            outcome,
            cues,
        },
        records,
        thumbnails,
        observed,
        timestamps_ms: timestamps.into_inner(),
        timings,
    })
}

/// Follows the face through a whole recording at the policy's analysis rate and measures
/// each frame's lit skin ([`LiveCheck::observe`]): a recording checked against a light
/// sequence outside a session (`liveproof light`, the recording page's clips).
pub fn light_samples(
    engine: &Engine,
    bytes: &[u8],
    policy: &VerifyPolicy,
    limits: &MediaLimits,
) -> Result<Vec<LightSample>> {
    // A check that is never fed a frame for its session: observe() only follows the face.
    let session = ChallengeSession::with_script(
        ChallengeConfig::default(),
        vec![ChallengeAction::Blink, ChallengeAction::Smile],
    )?;
    let mut check = server_check(session, policy)?;
    let mut reader = VideoReader::from_bytes(bytes, &limits.video)?;
    let period = 1000.0 / policy.analysis_fps;
    let next_t = Cell::new(f64::NEG_INFINITY);
    let mut samples = Vec::new();
    let mut failure = None;
    reader.read_frames(
        |_, t| t >= next_t.get() - 1.0,
        |vf| {
            next_t.set(vf.t_ms + period);
            let frame = Frame::from(vf.image);
            match check.observe(engine, &frame.as_ref(), vf.t_ms) {
                Ok(record) => {
                    samples.extend(record.light);
                    ControlFlow::Continue(())
                }
                Err(e) => {
                    failure = Some(e);
                    ControlFlow::Break(())
                }
            }
        },
    )?;
    match failure {
        Some(e) => Err(e),
        None => Ok(samples),
    }
}

/// The verifier's check: the policy's detector schedule, no evidence of its own.
fn server_check(session: ChallengeSession, policy: &VerifyPolicy) -> Result<LiveCheck> {
    LiveCheck::new(
        session,
        LiveConfig {
            detect_every: policy.detect_every,
            evidence: None,
        },
    )
}

struct Analysis<'c> {
    check: &'c mut LiveCheck,
    failure: Option<Error>,
    records: Vec<FrameSummary>,
    thumbnails: Vec<(f64, [f32; THUMB_W * THUMB_H])>,
    observed: Vec<FrameSummary>,
    stages: Timings,
    motion: MotionTracker,
    screen: ScreenTracker,
}

fn add(sum: &mut Timings, t: &Timings) {
    sum.detect_ms += t.detect_ms;
    sum.landmarks_ms += t.landmarks_ms;
    sum.pad_ms += t.pad_ms;
    sum.embed_ms += t.embed_ms;
    sum.attributes_ms += t.attributes_ms;
    sum.total_ms += t.total_ms;
}
