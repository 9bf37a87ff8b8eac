//! The client's frame items: analysed as stills when a bundle has no recording (the
//! passive-only check, under the same [`Rulebook`]), otherwise compared with the server's run
//! of the recording. Either way, where the client's account differs from the server's is
//! reported ([`Disagreement`]) for audit; it never raises a verdict.

use serde::Serialize;

use super::recording::RecordingRun;
use super::VerdictLabel;
use crate::challenge::{ChallengeConfig, Failure, RuleStats, Rulebook};
use crate::check::MediaLimits;
use crate::error::Result;
use crate::events::Label;
use crate::evidence::ClientResult;
use crate::frame::{decode_image, ImageLimits};
use crate::imgproc::{grey_thumbnail, thumbnail_change};
use crate::pipeline::{Engine, FrameSummary, Stages};

/// Per-frame |client − server| real probability above which the scores disagree.
pub const PAD_TOLERANCE: f32 = 0.1;
/// A client frame is looked for among the recording's analysed frames this close in time, ms
/// (the recorder starts a little before the SDK's first analysed frame).
pub const RECORDING_WINDOW_MS: f64 = 300.0;
/// A client frame matches a recording frame when their thumbnails differ by less than this
/// (mean absolute grey levels; JPEG against the recording's codec at another resolution).
pub const MATCH_CHANGE: f32 = 8.0;
/// Timestamps closer than this are the same frame (JSON round trips are exact).
const T_EPS: f64 = 1e-3;

/// One frame item of the bundle.
#[derive(Debug, Clone, Copy)]
pub struct ClientFrame<'a> {
    pub name: &'a str,
    pub t_ms: Option<f64>,
    pub bytes: &'a [u8],
}

/// The server's findings on one frame item analysed as a still.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FrameFinding {
    pub name: String,
    pub t_ms: Option<f64>,
    pub faces: usize,
    /// Real probability, when one face was scored.
    pub pad: Option<f32>,
    /// Counts for the decision ([`crate::FrameRecord::counts_for_liveness`]).
    pub usable: bool,
}

/// One frame where the client's account and the server's differ.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FrameDisagreement {
    pub name: String,
    pub t_ms: Option<f64>,
    /// The client's record at the frame's time.
    pub client_pad: Option<f32>,
    /// The server's score of the same moment (the frame itself, or the nearest scored
    /// recording frame).
    pub server_pad: Option<f32>,
    /// With a recording: whether the frame was found in it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub in_recording: Option<bool>,
}

/// Where the client's result, records and frames differ from the server's run.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Disagreement {
    /// True when anything below disagrees.
    pub any: bool,
    /// The client's label says the opposite of the server's rules (REAL against a failure,
    /// or FAKE against a pass).
    pub label: bool,
    /// The client's passed challenges differ from those the server saw (recordings only).
    pub passed: bool,
    /// Frames not found in the recording, or scored more than [`PAD_TOLERANCE`] apart.
    pub frames: Vec<FrameDisagreement>,
    /// Largest |client − server| real probability over frames both scored.
    pub max_pad_delta: Option<f32>,
    /// With a recording: frame items compared with it, and how many were found in it.
    pub frames_compared: usize,
    pub frames_in_recording: usize,
}

/// The passive-only check of a bundle's frames.
#[derive(Debug, Clone)]
pub struct PassiveCheck {
    pub findings: Vec<FrameFinding>,
    pub stats: RuleStats,
    pub failure: Option<Failure>,
    pub disagreement: Disagreement,
}

/// Analyses every frame item as a still (anti-spoofing and the embedding) under the session
/// rules: one person throughout, enough usable frames, the anti-spoofing mean and floor.
pub fn passive_check(
    engine: &Engine,
    frames: &[ClientFrame<'_>],
    config: &ChallengeConfig,
    limits: &MediaLimits,
    records: Option<&[FrameSummary]>,
    client: &ClientResult,
    max_run_ms: u64,
) -> Result<PassiveCheck> {
    let stages = Stages {
        pad: true,
        embedding: true,
        ..Stages::default()
    };
    let mut rules = Rulebook::default();
    let mut failure = None;
    let mut findings = Vec::with_capacity(frames.len());
    let mut disagreement = Disagreement::default();
    let started = web_time::Instant::now();
    for f in frames {
        if started.elapsed().as_millis() > u128::from(max_run_ms) {
            return Err(crate::Error::OverBudget {
                what: "the frames' analysis",
                limit_ms: max_run_ms,
            });
        }
        let frame = decode_image(f.bytes, &limits.image)?;
        let rec = engine.analyze(&frame.as_ref(), f.t_ms.unwrap_or(0.0), stages)?;
        let observed = rules.observe(&rec, config);
        failure = failure.or(observed);
        let server_pad = rec.pad_real();
        let client_pad = client_record(records, f.t_ms).and_then(|r| r.pad.map(|p| p.real));
        note_pads(&mut disagreement, f, client_pad, server_pad, None);
        findings.push(FrameFinding {
            name: f.name.to_owned(),
            t_ms: f.t_ms,
            faces: rec.faces.len(),
            pad: server_pad,
            usable: rec.counts_for_liveness(),
        });
    }
    let failure = failure.or_else(|| rules.conclude(config));
    let server = if failure.is_none() {
        VerdictLabel::PassiveOnly
    } else {
        VerdictLabel::Fake
    };
    disagreement.label = label_differs(client.label, server);
    disagreement.any = disagreement.label || !disagreement.frames.is_empty();
    Ok(PassiveCheck {
        findings,
        stats: rules.stats(),
        failure,
        disagreement,
    })
}

/// Compares the client's frames, records and result with the server's run of the recording.
/// A frame that does not decode is reported as not found in the recording.
pub fn compare_with_recording(
    frames: &[ClientFrame<'_>],
    records: Option<&[FrameSummary]>,
    run: &RecordingRun,
    client: &ClientResult,
    server: VerdictLabel,
    limits: &ImageLimits,
) -> Disagreement {
    let mut d = Disagreement {
        label: label_differs(client.label, server),
        passed: client.passed != run.report.outcome.passed,
        ..Disagreement::default()
    };
    for f in frames {
        d.frames_compared += 1;
        let found = decode_image(f.bytes, limits).ok().is_some_and(|frame| {
            let thumb = grey_thumbnail(&frame.as_ref());
            run.thumbnails
                .iter()
                .filter(|(t, _)| {
                    f.t_ms
                        .is_none_or(|ft| (t - ft).abs() <= RECORDING_WINDOW_MS)
                })
                .any(|(_, other)| thumbnail_change(&thumb, other) < MATCH_CHANGE)
        });
        if found {
            d.frames_in_recording += 1;
        }
        let client_pad = client_record(records, f.t_ms).and_then(|r| r.pad.map(|p| p.real));
        let server_pad = f.t_ms.and_then(|ft| {
            run.records
                .iter()
                .filter(|r| (r.t_ms - ft).abs() <= RECORDING_WINDOW_MS)
                .filter_map(|r| r.pad.map(|p| ((r.t_ms - ft).abs(), p.real)))
                .min_by(|a, b| a.0.total_cmp(&b.0))
                .map(|(_, pad)| pad)
        });
        note_pads(&mut d, f, client_pad, server_pad, Some(found));
    }
    d.any = d.label || d.passed || !d.frames.is_empty();
    d
}

/// The client's record at a frame's time.
fn client_record(records: Option<&[FrameSummary]>, t_ms: Option<f64>) -> Option<&FrameSummary> {
    let t = t_ms?;
    records?.iter().find(|r| (r.t_ms - t).abs() <= T_EPS)
}

fn note_pads(
    d: &mut Disagreement,
    f: &ClientFrame<'_>,
    client_pad: Option<f32>,
    server_pad: Option<f32>,
    in_recording: Option<bool>,
) {
    let far = match (client_pad, server_pad) {
        (Some(c), Some(s)) => {
            let delta = (c - s).abs();
            d.max_pad_delta = Some(d.max_pad_delta.map_or(delta, |m| m.max(delta)));
            delta > PAD_TOLERANCE
        }
        (None, None) => false,
        // Only one side scored it: a disagreement when the server had the frame itself.
        _ => in_recording.is_none(),
    };
    if far || in_recording == Some(false) {
        d.frames.push(FrameDisagreement {
            name: f.name.to_owned(),
            t_ms: f.t_ms,
            client_pad,
            server_pad,
            in_recording,
        });
    }
}

fn label_differs(client: Label, server: VerdictLabel) -> bool {
    (client == Label::Real) == (server == VerdictLabel::Fake)
}
