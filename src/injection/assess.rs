//! The session-level judgement: per-frame signals, the recording's timestamps and the client's
//! report turned into a risk with its reasons.
//!
//! Each reason carries a weight for how much it proves on its own ([`InjectionReason::weight`]):
//!
//! | weight | reasons | why |
//! |---|---|---|
//! | 4 (strong) | `frozen_frames` | a camera never delivers the same picture twice in a row; a looped still or a stalled feed does |
//! | 3 (stronger than a name) | `inconsistent_settings` | a track whose settings its own device says it cannot produce is not that device: a renamed virtual camera still gives itself away here |
//! | 2 (moderate) | `virtual_camera` (not a phone relay), `api_wrapped` | client-reported, so forgeable the other way, but an honest browser has neither; a name is easily changed |
//! | 1 (weak) | `no_sensor_noise`, `recompressed`, `regular_timing`, a phone-relay `virtual_camera` | overlap with honest sessions (see the module docs' calibration) or have innocent causes |
//!
//! The risk is the sum: 0–1 [`Risk::Low`], 2–3 [`Risk::Medium`], ≥ 4 [`Risk::High`]. So one
//! weak reason stays Low (it is still listed), a virtual camera, a wrapped API or inconsistent
//! settings alone are Medium, frozen frames or two moderate reasons are High. Regular timing counts once even
//! when both the recording and the client show it. Reasons only ever add: a client's report
//! can raise the risk, never lower what the server measured.

use serde::{Deserialize, Serialize};

use super::client::{known_camera, CameraKind, ClientSignals, IntervalStats};
use super::noise::FrameSignals;
use super::InjectionError;

/// How likely the stream was injected rather than captured by a camera.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Risk {
    Low,
    Medium,
    High,
}

/// Who measured a signal: the server from the recording, or the client's own report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    Server,
    Client,
}

/// One reason for suspicion, with the figures it rests on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "signal", rename_all = "snake_case")]
pub enum InjectionReason {
    /// Server-measured: the frames' median sensor noise is below `min_noise`.
    NoSensorNoise { median_noise: f32 },
    /// Server-measured: the frames' median block-grid trace is above `max_blockiness`.
    Recompressed { median_blockiness: f32 },
    /// Server-measured: frames identical to their predecessor.
    FrozenFrames { repeated: usize, of: usize },
    /// Frame intervals too regular for a real sensor: the recording's timestamps (server) or
    /// the intervals the page saw (client).
    RegularTiming { mad_ms: f64, source: Source },
    /// Client-reported: camera/stream APIs wrapped before the SDK loaded.
    ApiWrapped { apis: Vec<String> },
    /// Client-reported: the device label names a virtual camera or capture tool.
    VirtualCamera { label: String, product: String },
    /// Client-reported: track settings outside the device's capabilities.
    InconsistentSettings { settings: Vec<String> },
}

impl InjectionReason {
    /// Who measured it.
    pub fn source(&self) -> Source {
        match self {
            Self::NoSensorNoise { .. } | Self::Recompressed { .. } | Self::FrozenFrames { .. } => {
                Source::Server
            }
            Self::RegularTiming { source, .. } => *source,
            Self::ApiWrapped { .. }
            | Self::VirtualCamera { .. }
            | Self::InconsistentSettings { .. } => Source::Client,
        }
    }

    /// Weight of the reason in the risk: 1 weak, 2 moderate, 4 strong (module docs).
    pub fn weight(&self) -> u32 {
        match self {
            Self::FrozenFrames { .. } => 4,
            Self::ApiWrapped { .. } => 2,
            Self::VirtualCamera { label, .. } => match known_camera(label) {
                Some(k) if k.kind == CameraKind::PhoneRelay => 1,
                _ => 2,
            },
            Self::NoSensorNoise { .. } | Self::Recompressed { .. } => 1,
            Self::InconsistentSettings { .. } => 3,
            Self::RegularTiming { .. } => 1,
        }
    }
}

/// The session's injection assessment: the risk, its reasons, and the figures measured
/// (`null` where they could not be computed).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InjectionReport {
    pub risk: Risk,
    /// Every reason found, weak ones included (a Low risk may list one).
    pub reasons: Vec<InjectionReason>,
    /// Frames the per-frame signals came from.
    pub frames_analysed: usize,
    /// Median sensor noise (grey levels) and block-grid trace over those frames.
    pub median_noise: Option<f32>,
    pub median_blockiness: Option<f32>,
    /// Frames compared with their predecessor, and those identical to it.
    pub frames_compared: usize,
    pub frames_repeated: usize,
    /// The recording's frame intervals.
    pub timing: Option<IntervalStats>,
    /// Whether a client report was taken into account.
    pub client_reported: bool,
}

/// Every threshold of [`assess`]. The defaults come from the calibration in the module docs
/// of [`crate::injection`] (`cargo run --release --example injection_signals`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct InjectionThresholds {
    /// Frames with a measurement before the median noise, median blockiness or the frozen
    /// fraction are judged (default 10): a few frames say little.
    pub min_frames: usize,
    /// `no_sensor_noise` when the median noise is below this, grey levels. Default 0.0: off.
    /// Recorded at MediaRecorder's bitrates, honest camera clips measured 0.00–0.37 and
    /// injected ones 0.04–0.28: the encoder removes the sensor's noise, so no threshold
    /// separates them. A deployment recording at high bitrates (or judging raw frames) may
    /// set about 0.5 (a camera sensor's σ is typically 1–3 DN).
    pub min_noise: f32,
    /// `recompressed` when the median blockiness is above this. Default 1.35: above every
    /// honest clip measured (at most 1.23 as shot, 1.15 after VP8 at 1 Mbit/s); only a heavily
    /// blocky source reaches it (a JPEG still looped into a video: 1.47). Clips re-encoded
    /// twice at a low bitrate measured 0.93–1.06 and are not caught.
    pub max_blockiness: f32,
    /// A frame counts as repeated when its change (mean absolute grey difference of 32×24
    /// thumbnails to the previous frame) is at most this. Default 0.05 grey levels: stills
    /// looped into a VP8 video change by under 0.05 on 57–59 of 59 frames (the encoder keeps
    /// refining the picture, so exact repeats are rarer); the lowest honest frame measured
    /// 0.04 (one frame in 2200), the next 0.11.
    pub frozen_change: f32,
    /// `frozen_frames` when more than this fraction of the compared frames repeat
    /// (default 0.2, the rulebook's `max_repeated_fraction`).
    pub max_frozen_fraction: f32,
    /// Intervals needed before timing is judged (default 10).
    pub min_intervals: usize,
    /// `regular_timing` when the intervals' median absolute deviation is at most this, ms.
    /// Default 0.5: timestamps rounded to WebM's 1 ms of a constant-rate stream have a MAD of
    /// 0 (or 0.5 at a rate whose period ends in .5 ms).
    pub regular_mad_ms: f64,
}

impl Default for InjectionThresholds {
    fn default() -> Self {
        Self {
            min_frames: 10,
            min_noise: 0.0,
            max_blockiness: 1.35,
            frozen_change: 0.05,
            max_frozen_fraction: 0.2,
            min_intervals: 10,
            regular_mad_ms: 0.5,
        }
    }
}

impl InjectionThresholds {
    /// Checks every threshold is a finite number in range (they may come from a server's
    /// configuration file).
    pub fn validate(&self) -> Result<(), InjectionError> {
        let bad = |field: &'static str, reason: &str| {
            Err(InjectionError::Invalid {
                field,
                reason: reason.into(),
            })
        };
        for (field, v) in [
            ("min_noise", self.min_noise),
            ("max_blockiness", self.max_blockiness),
            ("frozen_change", self.frozen_change),
        ] {
            if !(v.is_finite() && v >= 0.0) {
                return bad(field, "must be a finite number ≥ 0");
            }
        }
        if !(0.0..=1.0).contains(&self.max_frozen_fraction) {
            return bad("max_frozen_fraction", "must be between 0 and 1");
        }
        if !(self.regular_mad_ms.is_finite() && self.regular_mad_ms >= 0.0) {
            return bad("regular_mad_ms", "must be a finite number ≥ 0");
        }
        if self.min_frames == 0 || self.min_intervals == 0 {
            return bad("min_frames", "min_frames and min_intervals must be ≥ 1");
        }
        Ok(())
    }
}

/// Timestamps beyond this many are ignored (the decoder's own frame limit is lower).
pub const MAX_TIMESTAMPS: usize = 100_000;

fn median32(mut v: Vec<f32>) -> Option<f32> {
    if v.is_empty() {
        return None;
    }
    v.sort_by(f32::total_cmp);
    Some(v[v.len() / 2])
}

fn median64(v: &mut [f64]) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    Some(if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    })
}

/// Median and median absolute deviation of the positive intervals between presentation times
/// (sorted first; non-finite times ignored). `None` without at least one interval.
pub fn interval_stats(timestamps_ms: &[f64]) -> Option<IntervalStats> {
    let mut t: Vec<f64> = timestamps_ms
        .iter()
        .take(MAX_TIMESTAMPS)
        .copied()
        .filter(|x| x.is_finite())
        .collect();
    t.sort_by(f64::total_cmp);
    let mut d: Vec<f64> = t
        .windows(2)
        .map(|w| w[1] - w[0])
        .filter(|d| *d > 0.0)
        .collect();
    let median = median64(&mut d)?;
    let mut dev: Vec<f64> = d.iter().map(|x| (x - median).abs()).collect();
    let mad = median64(&mut dev)?;
    Some(IntervalStats {
        count: u32::try_from(d.len()).unwrap_or(u32::MAX),
        median_ms: median,
        mad_ms: mad,
    })
}

/// The session's assessment.
///
/// `frames`: per analysed frame (signals, `change` = crate::FrameRecord::change, the mean abs
/// grey difference of 32×24 thumbnails to the previous frame, None for the first);
/// `timestamps_ms`: every decoded frame's presentation time in the recording (server) — may be
/// empty; `client`: the SDK's report if any.
///
/// Never panics: empty or non-finite input yields `null` figures and no reason from them.
pub fn assess(
    frames: &[(FrameSignals, Option<f32>)],
    timestamps_ms: &[f64],
    client: Option<&ClientSignals>,
    t: &InjectionThresholds,
) -> InjectionReport {
    let mut reasons = Vec::new();
    let noise: Vec<f32> = frames
        .iter()
        .filter_map(|f| f.0.noise)
        .filter(|x| x.is_finite())
        .collect();
    let block: Vec<f32> = frames
        .iter()
        .filter_map(|f| f.0.blockiness)
        .filter(|x| x.is_finite())
        .collect();
    let (n_noise, n_block) = (noise.len(), block.len());
    let median_noise = median32(noise);
    let median_blockiness = median32(block);
    if let Some(m) = median_noise.filter(|_| n_noise >= t.min_frames) {
        if m < t.min_noise {
            reasons.push(InjectionReason::NoSensorNoise { median_noise: m });
        }
    }
    if let Some(m) = median_blockiness.filter(|_| n_block >= t.min_frames) {
        if m > t.max_blockiness {
            reasons.push(InjectionReason::Recompressed {
                median_blockiness: m,
            });
        }
    }
    let changes: Vec<f32> = frames
        .iter()
        .filter_map(|f| f.1)
        .filter(|c| c.is_finite())
        .collect();
    let repeated = changes.iter().filter(|&&c| c <= t.frozen_change).count();
    if changes.len() >= t.min_frames
        && repeated as f32 > t.max_frozen_fraction * changes.len() as f32
    {
        reasons.push(InjectionReason::FrozenFrames {
            repeated,
            of: changes.len(),
        });
    }
    let timing = interval_stats(timestamps_ms);
    if let Some(s) = timing.filter(|s| s.count as usize >= t.min_intervals) {
        if s.mad_ms <= t.regular_mad_ms {
            reasons.push(InjectionReason::RegularTiming {
                mad_ms: s.mad_ms,
                source: Source::Server,
            });
        }
    }
    if let Some(c) = client {
        reasons.extend(c.reasons(t));
    }
    // Regular timing is one phenomenon whoever saw it: counted once.
    let timing_weight = reasons
        .iter()
        .filter(|r| matches!(r, InjectionReason::RegularTiming { .. }))
        .map(InjectionReason::weight)
        .max()
        .unwrap_or(0);
    let score: u32 = reasons
        .iter()
        .filter(|r| !matches!(r, InjectionReason::RegularTiming { .. }))
        .map(InjectionReason::weight)
        .sum::<u32>()
        + timing_weight;
    let risk = match score {
        0..=1 => Risk::Low,
        2..=3 => Risk::Medium,
        _ => Risk::High,
    };
    InjectionReport {
        risk,
        reasons,
        frames_analysed: frames.len(),
        median_noise,
        median_blockiness,
        frames_compared: changes.len(),
        frames_repeated: repeated,
        timing,
        client_reported: client.is_some(),
    }
}
