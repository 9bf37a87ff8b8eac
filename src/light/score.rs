//! Does the skin's colour follow the colours that were on screen?
//!
//! Per frame the response is `r_c = ln(skin_c + 1) − ln(reference_c + 1)`: the camera's
//! global gain and white balance multiply skin and background alike, so they cancel. The
//! reference is first smoothed over time (a running median of [`REFERENCE_SMOOTHING`]
//! samples): it only has to follow those global changes, which take several frames, and its
//! own frame-to-frame noise (moving shoulders or hair in a tight crop) would otherwise add
//! to every ratio. What is left also holds slow changes the background does not share (the
//! room light on the face, the user moving closer): the response and the expected signal —
//! the linear sRGB of the colour on screen at `t − lag` — are both detrended with the same
//! filter, a centred local linear fit over [`LightConfig::detrend_window_ms`], and only the
//! segment-scale changes remain. The score is the Pearson correlation of the stacked three-channel detrended
//! vectors, maximised over the lag (screen and camera latencies are unknown but bounded);
//! the gain is the least-squares amplitude of the expected signal in the response, the noise
//! the robust spread of the residual.
//!
//! A verdict is only given on evidence that could carry one: too few frames, dark or clipped
//! skin, a recording that stops before the sequence, or noise that would bury any plausible
//! response are `Inconclusive` (the session may be retried), never `Failed`. A timeline that
//! does not fit the sequence is `Failed`, with [`LightResult::timeline_error`] saying why.

use serde::{Deserialize, Serialize};

use super::measure::LightSample;
use super::sequence::{
    check_timeline, linear_rgb, LightError, LightSequence, LightTimeline, TimelineError,
    DEFAULT_TIMELINE_TOLERANCE_MS,
};

/// Lag search step.
pub const LAG_STEP_MS: f64 = 10.0;
/// Samples in the running median that smooths the reference over time (5: a third of a
/// second at 15 fps). A median keeps steps, so a camera exposure change lasting a segment
/// (5–7 frames at 15 fps) is still followed, while spikes of one or two frames are dropped.
/// On the real-clip simulation (`liveproof light-sim --nonces 6`) it raised honest passes
/// at share 0.1 / 0.2 from 45 / 66 % to 53 / 69 % (9 samples: 57 / 70 %, but it would
/// follow a segment-long exposure change only partly), other-nonce and unlit passes staying
/// at 0. A spatially robust reference (median or interquartile mean of block means) was
/// worse on the same run: it loses the averaging of the plain mean.
pub const REFERENCE_SMOOTHING: usize = 5;
/// Largest absolute lag a config may search (screen + camera latency beyond 2 s is not a live
/// camera).
pub const MAX_ABS_LAG_MS: f64 = 2000.0;

/// How recordings are judged: the server's configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LightConfig {
    /// Earliest lag searched (ms). −100: the SDK's onset may be stamped a frame late.
    pub min_lag_ms: f64,
    /// Latest lag searched (ms). 400: display pipeline + camera pipeline latency of slow
    /// phones, and a frame or two of the browser's own buffering.
    pub max_lag_ms: f64,
    /// Correlation needed to pass. 0.8, from the synthetic sweep (`simulate_samples`, 15 fps,
    /// default policy and config): a perfect, noise-free response to *another* nonce's
    /// sequence (the replayed-recording attack) scores p50 0.22, p99 0.65, p99.9 0.81 over
    /// 5000 pairs, 6 of them >= 0.8 (0.12 %, near-identical draws, which no threshold below
    /// 0.93 separates; 10 segments: 3, 12 segments: 1); a genuine response at share 0.05 with
    /// 0.5 DN of noise on the per-frame means scores >= 0.86 (min of 500), with 1 DN p50 0.83
    /// (SNR ~1.5: the region where `TooNoisy` takes over). Frames with 2 DN of pixel noise
    /// average to far less and score > 0.95. To be re-checked on the real-clip simulation.
    pub pass_score: f32,
    /// ± tolerance (ms) of each reported segment duration (see `check_timeline`).
    pub timeline_tolerance_ms: f64,
    /// Width of the detrending window (ms). 2000: about five segments, so a segment's colour
    /// survives while exposure, white-balance and lighting drifts over seconds do not (the
    /// sweep over 1.2–6 s put the chance tail lowest at 2 s).
    pub detrend_window_ms: f64,
    /// Fewest usable samples inside the sequence (20: ~1.3 s at 15 fps).
    pub min_frames: usize,
    /// Fewest samples for a segment to count as covered (2: at 15 fps a 350 ms segment has 5).
    pub min_segment_frames: usize,
    /// Share of segments that must be covered (0.75: a dropped frame burst may cost one or
    /// two segments, not the challenge).
    pub min_covered_fraction: f32,
    /// Darkest usable skin, mean 8-bit level (25): below it quantisation and sensor noise swamp
    /// a few-percent change.
    pub min_skin_level: f32,
    /// Largest mean fraction of clipped skin pixels (0.2): clipped pixels cannot brighten.
    pub max_clipped: f32,
    /// Smallest gain of a genuine response (0.03, ln units per unit of linear screen colour:
    /// about 2–3 % of the light from the screen); noise that would hide a response this weak
    /// makes the result `TooNoisy`.
    pub min_plausible_gain: f32,
    /// The recording must reach the end of the sequence (and start by its first onset) within
    /// this slack (ms): 150, two frames at 15 fps.
    pub end_slack_ms: f64,
}

impl Default for LightConfig {
    fn default() -> Self {
        Self {
            min_lag_ms: -100.0,
            max_lag_ms: 400.0,
            pass_score: 0.8,
            timeline_tolerance_ms: DEFAULT_TIMELINE_TOLERANCE_MS,
            detrend_window_ms: 2000.0,
            min_frames: 20,
            min_segment_frames: 2,
            min_covered_fraction: 0.75,
            min_skin_level: 25.0,
            max_clipped: 0.2,
            min_plausible_gain: 0.03,
            end_slack_ms: 150.0,
        }
    }
}

impl LightConfig {
    /// Checks every field's range (what a server does when it loads its configuration).
    pub fn validate(&self) -> Result<(), LightError> {
        let e = |m| Err(LightError::Config(m));
        let lags = [self.min_lag_ms, self.max_lag_ms];
        if !lags.iter().all(|l| l.abs() <= MAX_ABS_LAG_MS) {
            return e("min_lag_ms and max_lag_ms must be numbers within ±2000");
        }
        if self.min_lag_ms > self.max_lag_ms {
            return e("min_lag_ms exceeds max_lag_ms");
        }
        if !(self.pass_score > 0.0 && self.pass_score <= 1.0) {
            return e("pass_score must be in (0, 1]");
        }
        if !(0.0..=1000.0).contains(&self.timeline_tolerance_ms) {
            return e("timeline_tolerance_ms must be in 0..=1000");
        }
        if !(500.0..=10_000.0).contains(&self.detrend_window_ms) {
            return e("detrend_window_ms must be in 500..=10000");
        }
        if self.min_frames < 3 {
            return e("min_frames must be at least 3");
        }
        if self.min_segment_frames < 1 {
            return e("min_segment_frames must be at least 1");
        }
        if !(0.0..=1.0).contains(&self.min_covered_fraction) {
            return e("min_covered_fraction must be in 0..=1");
        }
        if !(0.0..=255.0).contains(&self.min_skin_level) {
            return e("min_skin_level must be in 0..=255");
        }
        if !(0.0..=1.0).contains(&self.max_clipped) {
            return e("max_clipped must be in 0..=1");
        }
        if !(self.min_plausible_gain > 0.0 && self.min_plausible_gain.is_finite()) {
            return e("min_plausible_gain must be a positive number");
        }
        if !(0.0..=5000.0).contains(&self.end_slack_ms) {
            return e("end_slack_ms must be in 0..=5000");
        }
        Ok(())
    }
}

/// The verdict of the light check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LightOutcome {
    Passed,
    Failed,
    Inconclusive,
}

/// Why no verdict could be given.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LightInconclusive {
    /// Too few usable samples in the sequence, or too few segments covered.
    TooFewFrames,
    /// The skin is too dark to see a few-percent change.
    TooDark,
    /// Too much of the skin is clipped.
    Saturated,
    /// Frame-to-frame noise would hide a plausible response.
    TooNoisy,
    /// The recording ends before the sequence (or starts after it began).
    Incomplete,
    /// The [`LightConfig`] is out of range (a server validates it at startup, so this is not
    /// seen in practice).
    InvalidConfig,
}

/// What one segment did to the skin.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SegmentResponse {
    pub colour: [u8; 3],
    pub onset_ms: f64,
    /// Samples attributed to the segment at the best lag.
    pub frames: usize,
    /// Mean detrended response (ln units) per channel; None without frames.
    pub response: Option<[f32; 3]>,
}

/// The light check's result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LightResult {
    pub outcome: LightOutcome,
    /// Set when `outcome` is `Inconclusive`.
    pub reason: Option<LightInconclusive>,
    /// Best correlation (−1..1) over the lag window.
    pub score: Option<f32>,
    /// The lag (ms) of the best correlation: response time after the reported onsets.
    pub lag_ms: Option<f64>,
    /// Least-squares amplitude of the expected signal in the response (ln units per unit of
    /// linear screen colour).
    pub gain: Option<f32>,
    /// Robust per-sample standard deviation of the residual (ln units).
    pub noise: Option<f32>,
    pub segments: Vec<SegmentResponse>,
    /// Set (with `outcome` `Failed`) when the timeline does not fit the sequence.
    pub timeline_error: Option<TimelineError>,
    /// Samples used at the best lag.
    pub frames: usize,
    /// Segments with at least `min_segment_frames` samples at the best lag.
    pub covered_segments: usize,
    /// Covered segments whose mean detrended response points the way of their mean detrended
    /// expected colour (positive dot product).
    pub agreeing_segments: usize,
}

impl LightResult {
    fn new(seq: &LightSequence, timeline: &LightTimeline) -> Self {
        let segments = seq
            .segments
            .iter()
            .enumerate()
            .map(|(i, s)| SegmentResponse {
                colour: s.colour,
                onset_ms: timeline.onsets_ms.get(i).copied().unwrap_or(f64::NAN),
                frames: 0,
                response: None,
            })
            .collect();
        Self {
            outcome: LightOutcome::Inconclusive,
            reason: None,
            score: None,
            lag_ms: None,
            gain: None,
            noise: None,
            segments,
            timeline_error: None,
            frames: 0,
            covered_segments: 0,
            agreeing_segments: 0,
        }
    }

    fn inconclusive(mut self, reason: LightInconclusive) -> Self {
        self.outcome = LightOutcome::Inconclusive;
        self.reason = Some(reason);
        self
    }
}

/// Scores the samples of a recording against the sequence shown on `timeline`.
///
/// Order of judgement: an invalid config → `Inconclusive(InvalidConfig)`; a timeline failing
/// [`check_timeline`] → `Failed` with `timeline_error`; then `Incomplete`, `TooFewFrames`,
/// `TooDark`, `Saturated` from the samples alone; then the lag search: `Passed` when the
/// score reaches `pass_score` with a positive gain and enough covered segments,
/// `TooFewFrames` when too few segments are covered, `TooNoisy` when noise would have hidden a
/// response of `min_plausible_gain`, else `Failed`.
///
/// Samples with a non-finite or negative value are ignored; they need not be sorted.
pub fn score(
    seq: &LightSequence,
    timeline: &LightTimeline,
    samples: &[LightSample],
    config: &LightConfig,
) -> LightResult {
    let mut result = LightResult::new(seq, timeline);
    if config.validate().is_err() {
        return result.inconclusive(LightInconclusive::InvalidConfig);
    }
    if let Err(e) = check_timeline(seq, timeline, config.timeline_tolerance_ms) {
        result.outcome = LightOutcome::Failed;
        result.timeline_error = Some(e);
        return result;
    }
    let onsets = &timeline.onsets_ms;
    let n_seg = seq.segments.len();
    // check_timeline guarantees n_seg >= 1, finite increasing onsets.
    let start = onsets[0];
    let end = onsets[n_seg - 1] + seq.segments[n_seg - 1].duration_ms;

    let mut valid: Vec<&LightSample> = samples.iter().filter(|s| usable(s)).collect();
    valid.sort_by(|a, b| a.t_ms.total_cmp(&b.t_ms));
    let (Some(first), Some(last)) = (valid.first(), valid.last()) else {
        return result.inconclusive(LightInconclusive::TooFewFrames);
    };
    if last.t_ms < end - config.end_slack_ms || first.t_ms > start + config.end_slack_ms {
        return result.inconclusive(LightInconclusive::Incomplete);
    }
    let window_end = end + config.max_lag_ms;
    let smoothed = smooth_reference(&valid);
    let (inside, reference): (Vec<&LightSample>, Vec<[f32; 3]>) = valid
        .into_iter()
        .zip(smoothed)
        .filter(|(s, _)| s.t_ms >= start && s.t_ms <= window_end)
        .unzip();
    if inside.len() < config.min_frames {
        return result.inconclusive(LightInconclusive::TooFewFrames);
    }
    let mut levels: Vec<f32> = inside
        .iter()
        .map(|s| (s.skin[0] + s.skin[1] + s.skin[2]) / 3.0)
        .collect();
    if median(&mut levels) < config.min_skin_level {
        return result.inconclusive(LightInconclusive::TooDark);
    }
    let clipped = inside.iter().map(|s| f64::from(s.clipped)).sum::<f64>() / inside.len() as f64;
    if clipped > f64::from(config.max_clipped) {
        return result.inconclusive(LightInconclusive::Saturated);
    }

    let times: Vec<f64> = inside.iter().map(|s| s.t_ms).collect();
    let response: Vec<[f64; 3]> = inside
        .iter()
        .zip(&reference)
        .map(|(s, reference)| {
            let mut r = [0.0; 3];
            for (c, v) in r.iter_mut().enumerate() {
                *v = (f64::from(s.skin[c]) + 1.0).ln() - (f64::from(reference[c]) + 1.0).ln();
            }
            r
        })
        .collect();
    let expected: Vec<[f64; 3]> = seq
        .segments
        .iter()
        .map(|s| linear_rgb(s.colour).map(f64::from))
        .collect();
    let ctx = Context {
        onsets,
        end,
        times: &times,
        response: &response,
        expected: &expected,
        window_ms: config.detrend_window_ms,
        min_frames: config.min_frames,
    };

    // Validated: at most 4000 / 10 + 1 lags.
    let steps = ((config.max_lag_ms - config.min_lag_ms) / LAG_STEP_MS).floor() as usize;
    let mut best: Option<Fit> = None;
    for k in 0..=steps {
        let lag = config.min_lag_ms + k as f64 * LAG_STEP_MS;
        if let Some(fit) = ctx.fit(lag) {
            if best.as_ref().is_none_or(|b| fit.score > b.score) {
                best = Some(fit);
            }
        }
    }
    let Some(best) = best else {
        return result.inconclusive(LightInconclusive::TooFewFrames);
    };

    // Per-segment report at the best lag.
    let mut sums = vec![([0.0f64; 3], [0.0f64; 3], 0usize); n_seg];
    for ((&(_, seg), r), e) in best.members.iter().zip(&best.detrended).zip(&best.expected) {
        let entry = &mut sums[seg];
        for c in 0..3 {
            entry.0[c] += r[c];
            entry.1[c] += e[c];
        }
        entry.2 += 1;
    }
    for (report, (sum, _, n)) in result.segments.iter_mut().zip(&sums) {
        report.frames = *n;
        report.response = (*n > 0).then(|| sum.map(|v| (v / *n as f64) as f32));
    }
    let covered = sums
        .iter()
        .filter(|(_, _, n)| *n >= config.min_segment_frames)
        .count();
    let agreeing = sums
        .iter()
        .filter(|(r, e, n)| {
            *n >= config.min_segment_frames && r[0] * e[0] + r[1] * e[1] + r[2] * e[2] > 0.0
        })
        .count();
    result.covered_segments = covered;
    result.agreeing_segments = agreeing;
    result.frames = best.members.len();
    result.score = Some(best.score as f32);
    result.lag_ms = Some(best.lag);
    result.gain = Some(best.gain as f32);
    result.noise = Some(best.noise as f32);

    if (covered as f32) < config.min_covered_fraction * n_seg as f32 {
        return result.inconclusive(LightInconclusive::TooFewFrames);
    }
    if best.score >= f64::from(config.pass_score) && best.gain > 0.0 {
        result.outcome = LightOutcome::Passed;
        return result;
    }
    // Would a response of the weakest plausible gain have reached pass_score through this
    // noise? Its expected correlation is snr / sqrt(1 + snr²).
    let snr = f64::from(config.min_plausible_gain) * best.expected_std / best.noise.max(1e-12);
    let expected_score = snr / (1.0 + snr * snr).sqrt();
    if expected_score < f64::from(config.pass_score) {
        return result.inconclusive(LightInconclusive::TooNoisy);
    }
    result.outcome = LightOutcome::Failed;
    result
}

fn usable(s: &LightSample) -> bool {
    let finite = |v: &[f32; 3]| v.iter().all(|x| x.is_finite() && *x >= 0.0 && *x <= 1e6);
    s.t_ms.is_finite()
        && finite(&s.skin)
        && finite(&s.reference)
        && s.skin_pixels > 0
        && s.clipped.is_finite()
}

/// Each sample's reference replaced by the per-channel median of the references of the
/// [`REFERENCE_SMOOTHING`] samples centred on it (fewer at the ends), in time order. The
/// reference only has to follow the camera's exposure and white balance, which change over
/// several frames; its frame-to-frame noise (a moving shoulder, hair, compression) would
/// otherwise land in every ratio.
fn smooth_reference(sorted: &[&LightSample]) -> Vec<[f32; 3]> {
    let half = REFERENCE_SMOOTHING / 2;
    let mut window = Vec::with_capacity(REFERENCE_SMOOTHING);
    (0..sorted.len())
        .map(|i| {
            let lo = i.saturating_sub(half);
            let hi = (i + half + 1).min(sorted.len());
            let mut out = [0.0f32; 3];
            for (c, o) in out.iter_mut().enumerate() {
                window.clear();
                window.extend(sorted[lo..hi].iter().map(|s| s.reference[c]));
                window.sort_by(f32::total_cmp);
                let k = window.len() / 2;
                *o = if window.len() % 2 == 1 {
                    window[k]
                } else {
                    0.5 * (window[k - 1] + window[k])
                };
            }
            out
        })
        .collect()
}

/// Median (NaN-free input; 0 when empty). Sorts in place.
fn median(v: &mut [f32]) -> f32 {
    if v.is_empty() {
        return 0.0;
    }
    v.sort_by(f32::total_cmp);
    v[v.len() / 2]
}

/// The data shared by every lag's fit.
struct Context<'a> {
    onsets: &'a [f64],
    end: f64,
    times: &'a [f64],
    response: &'a [[f64; 3]],
    expected: &'a [[f64; 3]],
    window_ms: f64,
    min_frames: usize,
}

/// One lag's fit.
struct Fit {
    lag: f64,
    score: f64,
    gain: f64,
    noise: f64,
    /// Standard deviation of the stacked detrended expected signal.
    expected_std: f64,
    /// (sample index, segment index) of the samples used.
    members: Vec<(usize, usize)>,
    /// Their detrended responses.
    detrended: Vec<[f64; 3]>,
    /// Their detrended expected signals.
    expected: Vec<[f64; 3]>,
}

impl Context<'_> {
    /// The segment on screen at `t` (onsets validated: finite, increasing).
    fn segment_at(&self, t: f64) -> Option<usize> {
        let k = self.onsets.partition_point(|&o| o <= t);
        (k > 0 && t < self.end).then(|| k - 1)
    }

    fn fit(&self, lag: f64) -> Option<Fit> {
        let members: Vec<(usize, usize)> = self
            .times
            .iter()
            .enumerate()
            .filter_map(|(i, &t)| self.segment_at(t - lag).map(|s| (i, s)))
            .collect();
        if members.len() < self.min_frames.max(3) {
            return None;
        }
        let times: Vec<f64> = members.iter().map(|&(i, _)| self.times[i]).collect();
        let mut r = vec![[0.0; 3]; members.len()];
        let mut e = vec![[0.0; 3]; members.len()];
        for c in 0..3 {
            let rc: Vec<f64> = members.iter().map(|&(i, _)| self.response[i][c]).collect();
            let ec: Vec<f64> = members.iter().map(|&(_, s)| self.expected[s][c]).collect();
            for (j, v) in detrend(&times, &rc, self.window_ms).into_iter().enumerate() {
                r[j][c] = v;
            }
            for (j, v) in detrend(&times, &ec, self.window_ms).into_iter().enumerate() {
                e[j][c] = v;
            }
        }
        let rs: Vec<f64> = r.iter().flatten().copied().collect();
        let es: Vec<f64> = e.iter().flatten().copied().collect();
        let n = rs.len() as f64;
        let (mr, me) = (rs.iter().sum::<f64>() / n, es.iter().sum::<f64>() / n);
        let (mut sre, mut see, mut srr) = (0.0, 0.0, 0.0);
        for (a, b) in rs.iter().zip(&es) {
            let (a, b) = (a - mr, b - me);
            sre += a * b;
            see += b * b;
            srr += a * a;
        }
        if see.is_nan() || see <= 1e-12 {
            // The expected signal is flat here: nothing to correlate with.
            return None;
        }
        let score = if srr > 0.0 {
            (sre / (srr * see).sqrt()).clamp(-1.0, 1.0)
        } else {
            0.0
        };
        let gain = sre / see;
        let noise = residual_noise(&r, &e, gain);
        if !(score.is_finite() && gain.is_finite() && noise.is_finite()) {
            return None;
        }
        Some(Fit {
            lag,
            score,
            gain,
            noise,
            expected_std: (see / n).sqrt(),
            members,
            detrended: r,
            expected: e,
        })
    }
}

/// Subtracts from `x` a centred local linear fit over `window_ms` (both sides `window_ms / 2`)
/// at each time. Linear drifts vanish exactly, also at the ends where the window is one-sided.
/// Prefix sums keep it O(n) whatever the sample spacing.
fn detrend(times: &[f64], x: &[f64], window_ms: f64) -> Vec<f64> {
    let n = times.len();
    if n == 0 {
        return Vec::new();
    }
    let t0 = times[0];
    // Seconds from the first sample keep the sums well conditioned.
    let ts: Vec<f64> = times.iter().map(|t| (t - t0) / 1000.0).collect();
    let half = window_ms / 2000.0;
    let mut prefix = vec![[0.0f64; 5]; n + 1];
    for i in 0..n {
        let (t, v) = (ts[i], x[i]);
        let p = prefix[i];
        prefix[i + 1] = [p[0] + 1.0, p[1] + t, p[2] + t * t, p[3] + v, p[4] + t * v];
    }
    let (mut lo, mut hi) = (0usize, 0usize);
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        while ts[lo] < ts[i] - half {
            lo += 1;
        }
        while hi < n && ts[hi] <= ts[i] + half {
            hi += 1;
        }
        let s: Vec<f64> = (0..5).map(|k| prefix[hi][k] - prefix[lo][k]).collect();
        let m = s[0];
        let (mt, mx) = (s[1] / m, s[3] / m);
        let var = s[2] / m - mt * mt;
        let cov = s[4] / m - mt * mx;
        let trend = if var > 1e-6 {
            mx + cov / var * (ts[i] - mt)
        } else {
            mx
        };
        out.push(x[i] - trend);
    }
    out
}

/// Robust per-sample standard deviation of the residual `r − gain·e`, from its
/// frame-to-frame differences (MAD / √2): a structured but wrong response (another sequence's
/// steps) changes few differences, so it reads as signal that did not fit, not as noise.
fn residual_noise(r: &[[f64; 3]], e: &[[f64; 3]], gain: f64) -> f64 {
    let mut diffs: Vec<f64> = Vec::with_capacity(3 * r.len());
    for c in 0..3 {
        let res: Vec<f64> = r.iter().zip(e).map(|(a, b)| a[c] - gain * b[c]).collect();
        diffs.extend(res.windows(2).map(|w| w[1] - w[0]));
    }
    if diffs.len() < 3 {
        return f64::NAN;
    }
    diffs.sort_by(f64::total_cmp);
    let med = diffs[diffs.len() / 2];
    let mut dev: Vec<f64> = diffs.iter().map(|d| (d - med).abs()).collect();
    dev.sort_by(f64::total_cmp);
    1.4826 * dev[dev.len() / 2] / std::f64::consts::SQRT_2
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::light::sequence::LightPolicy;
    use crate::light::simulate::{simulate_samples, Tint};

    fn frame_times(until_ms: f64, fps: f64) -> Vec<f64> {
        (0..)
            .map(|i| i as f64 * 1000.0 / fps)
            .take_while(|&t| t <= until_ms)
            .collect()
    }

    fn seq(nonce: &str) -> LightSequence {
        LightSequence::from_nonce(nonce, &LightPolicy::default()).expect("valid")
    }

    #[test]
    fn light_detrend_removes_linear_drift_exactly() {
        let times: Vec<f64> = (0..50).map(|i| i as f64 * 66.7 + (i % 3) as f64).collect();
        let x: Vec<f64> = times.iter().map(|t| 0.3 + 2e-4 * t).collect();
        assert!(detrend(&times, &x, 1600.0).iter().all(|v| v.abs() < 1e-9));
        assert!(detrend(&[], &[], 1600.0).is_empty());
        let same = detrend(&[5.0; 4], &[1.0, 2.0, 3.0, 4.0], 1600.0);
        assert!((same.iter().sum::<f64>()).abs() < 1e-9);
    }

    #[test]
    fn light_reference_smoothing_drops_spikes_and_keeps_steps() {
        let samples: Vec<LightSample> = (0..12)
            .map(|i| LightSample {
                t_ms: f64::from(i) * 66.7,
                skin: [150.0; 3],
                reference: match i {
                    3 => [200.0, 100.0, 100.0],
                    _ if i >= 7 => [110.0; 3],
                    _ => [100.0; 3],
                },
                skin_pixels: 10,
                clipped: 0.0,
            })
            .collect();
        let sorted: Vec<&LightSample> = samples.iter().collect();
        let smoothed = smooth_reference(&sorted);
        assert_eq!(smoothed.len(), samples.len());
        for (i, r) in smoothed.iter().enumerate() {
            let want = if i >= 7 { 110.0 } else { 100.0 };
            assert_eq!(*r, [want; 3], "{i}");
        }
        assert!(smooth_reference(&[]).is_empty());
        assert_eq!(smooth_reference(&sorted[..2])[0], [100.0; 3]);
    }

    #[test]
    fn light_default_config_is_valid_and_bad_ones_are_named() {
        assert_eq!(LightConfig::default().validate(), Ok(()));
        let bad = [
            LightConfig {
                min_lag_ms: f64::NAN,
                ..Default::default()
            },
            LightConfig {
                min_lag_ms: 500.0,
                ..Default::default()
            },
            LightConfig {
                max_lag_ms: 1e9,
                ..Default::default()
            },
            LightConfig {
                pass_score: f32::NAN,
                ..Default::default()
            },
            LightConfig {
                detrend_window_ms: 0.0,
                ..Default::default()
            },
            LightConfig {
                min_frames: 0,
                ..Default::default()
            },
        ];
        for config in bad {
            assert!(matches!(config.validate(), Err(LightError::Config(_))));
            let s = seq("x");
            let r = score(&s, &s.timeline_from(0.0), &[], &config);
            assert_eq!(r.reason, Some(LightInconclusive::InvalidConfig));
        }
        assert!(serde_json::from_str::<LightConfig>(r#"{"lag":1}"#).is_err());
        let c: LightConfig = serde_json::from_str(r#"{"pass_score":0.8}"#).expect("ok");
        assert_eq!(c.max_lag_ms, 400.0);
    }

    #[test]
    fn light_hostile_samples_never_panic() {
        let s = seq("hostile");
        let tl = s.timeline_from(200.0);
        let config = LightConfig::default();
        let r = score(&s, &tl, &[], &config);
        assert_eq!(r.outcome, LightOutcome::Inconclusive);
        assert_eq!(r.reason, Some(LightInconclusive::TooFewFrames));
        let junk = LightSample {
            t_ms: f64::NAN,
            skin: [f32::NAN, 1.0, 2.0],
            reference: [f32::INFINITY, -1.0, 0.0],
            skin_pixels: 0,
            clipped: f32::NAN,
        };
        let r = score(&s, &tl, &[junk; 100], &config);
        assert_eq!(r.reason, Some(LightInconclusive::TooFewFrames));
        // All samples at one instant, or huge values.
        let same = LightSample {
            t_ms: 1000.0,
            skin: [100.0; 3],
            reference: [100.0; 3],
            skin_pixels: 10,
            clipped: 0.0,
        };
        let r = score(&s, &tl, &vec![same; 10_000], &config);
        assert_eq!(r.outcome, LightOutcome::Inconclusive);
        let mut many: Vec<LightSample> = frame_times(5000.0, 15.0)
            .into_iter()
            .map(|t_ms| LightSample { t_ms, ..same })
            .collect();
        many.push(LightSample {
            t_ms: 1e300,
            skin: [1e6; 3],
            ..same
        });
        many.reverse();
        let r = score(&s, &tl, &many, &config);
        // A flat, noise-free response: no signal at all.
        assert_ne!(r.outcome, LightOutcome::Passed);
    }

    #[test]
    fn light_bad_timeline_fails_with_its_error() {
        let s = seq("timeline");
        let mut tl = s.timeline_from(200.0);
        tl.onsets_ms[3] += 400.0;
        let r = score(&s, &tl, &[], &LightConfig::default());
        assert_eq!(r.outcome, LightOutcome::Failed);
        assert!(matches!(
            r.timeline_error,
            Some(TimelineError::GapOutOfTolerance { segment: 2, .. })
        ));
        tl.onsets_ms.pop();
        let r = score(&s, &tl, &[], &LightConfig::default());
        assert!(matches!(
            r.timeline_error,
            Some(TimelineError::CountMismatch { .. })
        ));
    }

    fn genuine(nonce: &str, share: f32, sigma: f32, seed: u64) -> LightResult {
        let s = seq(nonce);
        let tl = s.timeline_from(500.0);
        let times = frame_times(500.0 + s.total_ms() + 600.0, 15.0);
        let tint = Tint {
            share,
            noise_sigma: sigma,
        };
        let samples = simulate_samples(
            &s,
            &tl,
            &times,
            [190.0, 140.0, 115.0],
            [110.0; 3],
            &tint,
            seed,
        );
        score(&s, &tl, &samples, &LightConfig::default())
    }

    #[test]
    fn light_simulated_genuine_responses_pass() {
        for i in 0..40 {
            let r = genuine(&format!("g{i}"), 0.05, 0.3, i);
            assert_eq!(r.outcome, LightOutcome::Passed, "{i}: {r:?}");
            assert!(r.lag_ms.is_some_and(|l| l.abs() <= 40.0), "{r:?}");
            assert_eq!(r.covered_segments, 8);
        }
    }

    #[test]
    fn light_chance_correlation_stays_below_pass_score() {
        // A perfect response to another nonce's sequence, scored against this one's: the
        // numbers behind the pass_score comment (its 5000-pair sweep), on the first 1000.
        let config = LightConfig::default();
        let mut scores = Vec::new();
        for i in 0..1000 {
            let shown = seq(&format!("attacker-{i}"));
            let claimed = seq(&format!("session-{i}"));
            let start = 500.0;
            let tl_claimed = claimed.timeline_from(start);
            let tl_shown = shown.timeline_from(start);
            let end = start + claimed.total_ms().max(shown.total_ms()) + 600.0;
            let tint = Tint {
                share: 0.1,
                noise_sigma: 0.0,
            };
            let samples = simulate_samples(
                &shown,
                &tl_shown,
                &frame_times(end, 15.0),
                [190.0, 140.0, 115.0],
                [110.0; 3],
                &tint,
                i,
            );
            let r = score(&claimed, &tl_claimed, &samples, &config);
            assert_ne!(r.outcome, LightOutcome::Inconclusive, "{i}: {r:?}");
            scores.push(r.score.unwrap_or(f32::MIN));
        }
        scores.sort_by(f32::total_cmp);
        assert!(scores[500] < 0.3, "median chance score {}", scores[500]);
        assert!(scores[990] < config.pass_score - 0.1, "p99 {}", scores[990]);
        let passing = scores.iter().filter(|&&s| s >= config.pass_score).count();
        assert!(passing <= 3, "{passing} of 1000 chance pairs pass");
    }

    #[test]
    fn light_inconclusive_reasons() {
        let s = seq("reasons");
        let tl = s.timeline_from(500.0);
        let config = LightConfig::default();
        let times = frame_times(500.0 + s.total_ms() + 600.0, 15.0);
        let tint = Tint {
            share: 0.1,
            noise_sigma: 0.5,
        };
        let run = |skin: [f32; 3], tint: &Tint, times: &[f64]| {
            score(
                &s,
                &tl,
                &simulate_samples(&s, &tl, times, skin, [110.0; 3], tint, 9),
                &config,
            )
        };
        let dark = run([20.0, 14.0, 12.0], &tint, &times);
        assert_eq!(dark.reason, Some(LightInconclusive::TooDark));
        let bright = run([252.0, 250.0, 251.0], &tint, &times);
        assert_eq!(bright.reason, Some(LightInconclusive::Saturated));
        let short = run([190.0, 140.0, 115.0], &tint, &times[..times.len() / 2]);
        assert_eq!(short.reason, Some(LightInconclusive::Incomplete));
        let sparse: Vec<f64> = frame_times(500.0 + s.total_ms() + 600.0, 3.0);
        let few = run([190.0, 140.0, 115.0], &tint, &sparse);
        assert_eq!(few.reason, Some(LightInconclusive::TooFewFrames));
        let loud = Tint {
            share: 0.05,
            noise_sigma: 30.0,
        };
        let noisy = run([190.0, 140.0, 115.0], &loud, &times);
        assert_eq!(noisy.outcome, LightOutcome::Inconclusive, "{noisy:?}");
        assert_eq!(noisy.reason, Some(LightInconclusive::TooNoisy));
        let none = Tint {
            share: 0.0,
            noise_sigma: 0.5,
        };
        let flat = run([190.0, 140.0, 115.0], &none, &times);
        assert_eq!(flat.outcome, LightOutcome::Failed, "{flat:?}");
    }

    #[test]
    fn light_segment_report_follows_the_colours() {
        let r = genuine("report", 0.1, 0.0, 1);
        let s = seq("report");
        assert_eq!(r.segments.len(), 8);
        for (rep, seg) in r.segments.iter().zip(&s.segments) {
            assert_eq!(rep.colour, seg.colour);
            assert!(rep.frames >= 4);
        }
        // Every segment's mean response points the way of its (detrended) colour.
        assert_eq!(r.agreeing_segments, 8);
    }
}
