//! The colour sequence a session shows, drawn from its nonce, and the check of the timeline the
//! client reports for it.
//!
//! # Why these colours
//!
//! What survives a phone or laptop camera's auto-exposure and auto white balance is the
//! *chromatic* change of the face between segments: a brightness step is partly undone by the
//! camera within a second, a change of hue on the face but not on the background is not. So
//! the palette ([`PALETTE`]) holds six moderately bright, clearly different hues, and a colour
//! may only follow another when their linear chromaticities differ by at least
//! [`MIN_CHROMA_CONTRAST`] (L1 distance of `c / (R + G + B)` in linear light).
//!
//! # Photosensitive safety (WCAG 2.1 / 2.2 success criterion 2.3.1, "Three Flashes or Below
//! Threshold")
//!
//! - **At most three changes a second.** Every segment lasts at least [`MIN_SEGMENT_MS`]
//!   (334 ms, enforced by [`LightPolicy::validate`]), so any one-second window holds at most
//!   three colour transitions. A WCAG "flash" is a *pair* of opposing changes, so a window
//!   holds fewer than three flashes whatever the colours: the general-flash threshold cannot be
//!   crossed.
//! - **No red flash.** WCAG's "saturated red" is a colour with `R / (R + G + B) >= 0.8`; every
//!   palette colour has `R / (R + G + B) < 0.5` (unit-tested), so no transition is a red flash
//!   at all.
//! - **Moderate luminance.** Every palette colour's WCAG relative luminance lies in about
//!   0.19–0.68 (no black, no full white), and consecutive colours differ in relative luminance
//!   by at most [`MAX_LUMINANCE_STEP`], so even the permitted changes are mild. The light is
//!   painted as a ring around the face oval, not over the whole screen, which further reduces
//!   the flashing area.
//!
//! # Determinism
//!
//! The draw is a pure function of the nonce and the policy: the seed is
//! `SHA-256("liveproof-light-v1\0" || nonce)`, domain-separated from the action script's
//! `SHA-256(nonce)`, so knowing one draw says nothing about the other. The server sends the
//! sequence with the session; it re-draws it when judging, never trusting the client's copy.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// Domain-separation prefix of the light seed (versioned: a change of the draw is a new prefix).
pub const SEED_DOMAIN: &[u8] = b"liveproof-light-v1\0";
/// Fewest segments a policy may ask for: fewer gives chance correlations too much room.
pub const MIN_SEGMENTS: usize = 6;
/// Most segments a policy may ask for (and a sequence [`check_timeline`] accepts): the
/// challenge must stay short.
pub const MAX_SEGMENTS: usize = 12;
/// Shortest segment: at most three colour changes in any second (WCAG 2.3.1).
pub const MIN_SEGMENT_MS: f64 = 334.0;
/// Longest segment: longer segments let the camera's auto-exposure eat the response.
pub const MAX_SEGMENT_MS: f64 = 1000.0;
/// Latest accepted first onset (one hour): recordings are seconds long; a bigger value is
/// garbage, and refusing it keeps every later sum finite.
pub const MAX_ONSET_MS: f64 = 3_600_000.0;
/// Default ± tolerance of a reported segment's duration against the drawn one.
pub const DEFAULT_TIMELINE_TOLERANCE_MS: f64 = 150.0;

/// The palette (sRGB). Cyan, magenta, lime, blue, green, rose: distinct hues of moderate
/// luminance, none red-dominated (see the module docs).
pub const PALETTE: [[u8; 3]; 6] = [
    [0, 200, 210],
    [210, 60, 230],
    [190, 230, 0],
    [70, 110, 255],
    [0, 210, 80],
    [225, 95, 175],
];

/// Least chromatic difference between consecutive colours (L1 distance of linear
/// chromaticities, range 0..2): 0.6 keeps every pair but magenta → rose, which differ mostly in
/// brightness.
pub const MIN_CHROMA_CONTRAST: f32 = 0.6;
/// Largest WCAG relative-luminance step between consecutive colours.
pub const MAX_LUMINANCE_STEP: f32 = 0.5;

/// A light policy or configuration that cannot be used.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum LightError {
    #[error("light policy: segments must be in 6..=12, got {0}")]
    Segments(usize),
    #[error("light policy: min_segment_ms must be a number >= 334 (at most 3 colour changes a second), got {0}")]
    MinSegment(f64),
    #[error("light policy: max_segment_ms must be a number <= 1000, got {0}")]
    MaxSegment(f64),
    #[error("light policy: min_segment_ms {min} exceeds max_segment_ms {max}")]
    MinAboveMax { min: f64, max: f64 },
    /// A [`crate::light::LightConfig`] field out of range, named.
    #[error("light config: {0}")]
    Config(&'static str),
}

/// How sequences are drawn: the server's configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LightPolicy {
    /// Number of colour segments (6..=12).
    pub segments: usize,
    /// Shortest segment (>= 334 ms).
    pub min_segment_ms: f64,
    /// Longest segment (<= 1000 ms).
    pub max_segment_ms: f64,
}

impl Default for LightPolicy {
    /// 8 segments of 350–500 ms: about 3.4 s, long enough for ~50 frames at 15 fps, short
    /// enough not to bother the user.
    fn default() -> Self {
        Self {
            segments: 8,
            min_segment_ms: 350.0,
            max_segment_ms: 500.0,
        }
    }
}

impl LightPolicy {
    /// Checks the bounds that make the sequence safe (WCAG 2.3.1) and scorable.
    pub fn validate(&self) -> Result<(), LightError> {
        if !(MIN_SEGMENTS..=MAX_SEGMENTS).contains(&self.segments) {
            return Err(LightError::Segments(self.segments));
        }
        // Negated comparisons: NaN fails them.
        if !(self.min_segment_ms >= MIN_SEGMENT_MS && self.min_segment_ms <= MAX_SEGMENT_MS) {
            return Err(LightError::MinSegment(self.min_segment_ms));
        }
        if !(self.max_segment_ms <= MAX_SEGMENT_MS && self.max_segment_ms >= MIN_SEGMENT_MS) {
            return Err(LightError::MaxSegment(self.max_segment_ms));
        }
        if self.min_segment_ms > self.max_segment_ms {
            return Err(LightError::MinAboveMax {
                min: self.min_segment_ms,
                max: self.max_segment_ms,
            });
        }
        Ok(())
    }
}

/// One colour shown for a while.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LightSegment {
    /// sRGB colour painted around the face oval.
    pub colour: [u8; 3],
    /// How long it stays (whole milliseconds).
    pub duration_ms: f64,
}

/// The colours a session shows, in order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LightSequence {
    pub segments: Vec<LightSegment>,
}

impl LightSequence {
    /// Deterministic: seed = SHA-256("liveproof-light-v1\0" || nonce bytes) into ChaCha8Rng
    /// (domain-separated from the script draw, which uses SHA-256(nonce)).
    ///
    /// Per segment, in order: the colour (uniform over the first segment's palette, then
    /// uniform over the allowed successors of the previous colour), then the duration (uniform
    /// whole milliseconds in `[min_segment_ms, max_segment_ms]`). That order is part of the v1
    /// draw.
    pub fn from_nonce(nonce: &str, policy: &LightPolicy) -> Result<Self, LightError> {
        policy.validate()?;
        let mut hasher = Sha256::new();
        hasher.update(SEED_DOMAIN);
        hasher.update(nonce.as_bytes());
        let seed: [u8; 32] = hasher.finalize().into();
        let mut rng = ChaCha8Rng::from_seed(seed);
        let lo = policy.min_segment_ms.ceil();
        let hi = policy.max_segment_ms.floor();
        let mut segments = Vec::with_capacity(policy.segments);
        let mut prev: Option<usize> = None;
        for _ in 0..policy.segments {
            let index = match prev {
                None => rng.gen_range(0..PALETTE.len()),
                Some(p) => {
                    let next = successors(p);
                    if next.is_empty() {
                        (p + 1) % PALETTE.len()
                    } else {
                        next[rng.gen_range(0..next.len())]
                    }
                }
            };
            // validate() bounds both to 334..=1000, so the casts are exact.
            let duration_ms = if lo <= hi {
                f64::from(rng.gen_range(lo as u32..=hi as u32))
            } else {
                policy.min_segment_ms
            };
            segments.push(LightSegment {
                colour: PALETTE[index],
                duration_ms,
            });
            prev = Some(index);
        }
        Ok(Self { segments })
    }

    /// Sum of the segment durations.
    pub fn total_ms(&self) -> f64 {
        self.segments.iter().map(|s| s.duration_ms).sum()
    }

    /// Time-weighted mean WCAG relative luminance of the sequence's colours (0 when empty):
    /// the normaliser of the simulation's screen share.
    pub fn mean_luminance(&self) -> f32 {
        let total = self.total_ms();
        if !(total > 0.0 && total.is_finite()) {
            return 0.0;
        }
        let weighted: f64 = self
            .segments
            .iter()
            .map(|s| f64::from(relative_luminance(s.colour)) * s.duration_ms)
            .sum();
        (weighted / total) as f32
    }

    /// The timeline of this sequence shown exactly on time from `first_onset_ms`, each segment
    /// for its drawn duration: what a punctual SDK reports, and what a simulation lights a clip
    /// with.
    pub fn timeline_from(&self, first_onset_ms: f64) -> LightTimeline {
        let onsets_ms = self
            .segments
            .iter()
            .scan(first_onset_ms, |t, s| {
                let onset = *t;
                *t += s.duration_ms;
                Some(onset)
            })
            .collect();
        LightTimeline { onsets_ms }
    }
}

/// Indices of the palette colours allowed after `PALETTE[prev]`: a different colour, strong
/// chromatic contrast, a moderate luminance step.
pub fn successors(prev: usize) -> Vec<usize> {
    let Some(&from) = PALETTE.get(prev) else {
        return Vec::new();
    };
    (0..PALETTE.len())
        .filter(|&i| {
            i != prev
                && chroma_contrast(from, PALETTE[i]) >= MIN_CHROMA_CONTRAST
                && (relative_luminance(from) - relative_luminance(PALETTE[i])).abs()
                    <= MAX_LUMINANCE_STEP
        })
        .collect()
}

/// sRGB (8-bit) → linear light, 0..1 (IEC 61966-2-1).
pub fn srgb_to_linear(v: u8) -> f32 {
    let c = f32::from(v) / 255.0;
    if c <= 0.04045 {
        c / 12.92
    } else {
        ((c + 0.055) / 1.055).powf(2.4)
    }
}

/// Linear light (clamped to 0..1) → sRGB, 0..1.
pub fn linear_to_srgb(l: f32) -> f32 {
    let l = if l.is_nan() { 0.0 } else { l.clamp(0.0, 1.0) };
    if l <= 0.003_130_8 {
        l * 12.92
    } else {
        1.055 * l.powf(1.0 / 2.4) - 0.055
    }
}

/// The linearised colour.
pub fn linear_rgb(c: [u8; 3]) -> [f32; 3] {
    [
        srgb_to_linear(c[0]),
        srgb_to_linear(c[1]),
        srgb_to_linear(c[2]),
    ]
}

/// WCAG 2.x relative luminance.
pub fn relative_luminance(c: [u8; 3]) -> f32 {
    let [r, g, b] = linear_rgb(c);
    0.2126 * r + 0.7152 * g + 0.0722 * b
}

/// L1 distance between the linear chromaticities `c / (R + G + B)` of two colours (0..2).
pub fn chroma_contrast(a: [u8; 3], b: [u8; 3]) -> f32 {
    let chroma = |c: [u8; 3]| {
        let l = linear_rgb(c);
        let sum = (l[0] + l[1] + l[2]).max(1e-6);
        [l[0] / sum, l[1] / sum, l[2] / sum]
    };
    let (x, y) = (chroma(a), chroma(b));
    (0..3).map(|i| (x[i] - y[i]).abs()).sum()
}

/// When each segment was first on screen (recording time base, ms), as the SDK reports it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LightTimeline {
    pub onsets_ms: Vec<f64>,
}

/// What is wrong with a reported timeline (serialised as `{"code": "...", ...}`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, thiserror::Error)]
#[serde(tag = "code", rename_all = "snake_case")]
pub enum TimelineError {
    /// The sequence itself has no segments.
    #[error("the light sequence is empty")]
    EmptySequence,
    /// The sequence has more than [`MAX_SEGMENTS`] segments.
    #[error("the light sequence has {segments} segments, more than 12")]
    TooManySegments { segments: usize },
    /// Not one onset per segment.
    #[error("{got} onsets for {expected} segments")]
    CountMismatch { expected: usize, got: usize },
    /// An onset is NaN or infinite.
    #[error("onset {index} is not a finite number")]
    NonFinite { index: usize },
    /// The first onset is before the recording began.
    #[error("the first onset {onset_ms} ms is negative")]
    NegativeStart { onset_ms: f64 },
    /// The first onset is later than [`MAX_ONSET_MS`].
    #[error("the first onset {onset_ms} ms is implausibly late")]
    StartTooLate { onset_ms: f64 },
    /// Onset `index` is not after onset `index - 1`.
    #[error("onset {index} is not after the previous one")]
    NotIncreasing { index: usize },
    /// Segment `segment` stayed `got_ms` on screen (next onset minus its onset) instead of
    /// `expected_ms` ± the tolerance.
    #[error("segment {segment} lasted {got_ms} ms, drawn {expected_ms} ms")]
    GapOutOfTolerance {
        segment: usize,
        expected_ms: f64,
        got_ms: f64,
    },
    /// The tolerance given to [`check_timeline`] is not a number in 0..=1000 ms.
    #[error("timeline tolerance must be in 0..=1000 ms")]
    InvalidTolerance,
}

/// Check a client timeline against the sequence: same count, finite, strictly increasing,
/// each gap within ±`tolerance_ms` of the segment's duration, first onset >= 0. Returns a
/// typed error naming what is wrong.
///
/// The last segment's duration cannot be checked (nothing follows it); the scorer takes it
/// from the sequence.
pub fn check_timeline(
    seq: &LightSequence,
    timeline: &LightTimeline,
    tolerance_ms: f64,
) -> Result<(), TimelineError> {
    if !(0.0..=1000.0).contains(&tolerance_ms) {
        return Err(TimelineError::InvalidTolerance);
    }
    let expected = seq.segments.len();
    if expected == 0 {
        return Err(TimelineError::EmptySequence);
    }
    if expected > MAX_SEGMENTS {
        return Err(TimelineError::TooManySegments { segments: expected });
    }
    let onsets = &timeline.onsets_ms;
    if onsets.len() != expected {
        return Err(TimelineError::CountMismatch {
            expected,
            got: onsets.len(),
        });
    }
    if let Some(index) = onsets.iter().position(|o| !o.is_finite()) {
        return Err(TimelineError::NonFinite { index });
    }
    let first = onsets[0];
    if first < 0.0 {
        return Err(TimelineError::NegativeStart { onset_ms: first });
    }
    if first > MAX_ONSET_MS {
        return Err(TimelineError::StartTooLate { onset_ms: first });
    }
    for index in 1..onsets.len() {
        if onsets[index] <= onsets[index - 1] {
            return Err(TimelineError::NotIncreasing { index });
        }
    }
    for (segment, pair) in onsets.windows(2).enumerate() {
        let got_ms = pair[1] - pair[0];
        let expected_ms = seq.segments[segment].duration_ms;
        // A NaN duration in a hand-made sequence fails too.
        let off = (got_ms - expected_ms).abs();
        if off.is_nan() || off > tolerance_ms {
            return Err(TimelineError::GapOutOfTolerance {
                segment,
                expected_ms,
                got_ms,
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nonces(n: usize) -> impl Iterator<Item = String> {
        (0..n).map(|i| format!("nonce-{i:04}-{}", i * 7919))
    }

    #[test]
    fn light_palette_is_safe_and_chromatic() {
        for c in PALETTE {
            let l = relative_luminance(c);
            assert!((0.15..=0.8).contains(&l), "{c:?} luminance {l}");
            let sum: u32 = c.iter().map(|&v| u32::from(v)).sum();
            assert!(
                f64::from(c[0]) / f64::from(sum) < 0.5,
                "{c:?} is red-dominated"
            );
        }
        for i in 0..PALETTE.len() {
            assert!(
                successors(i).len() >= 3,
                "colour {i} has too few successors"
            );
        }
        assert!(successors(PALETTE.len()).is_empty());
    }

    #[test]
    fn light_policy_validation() {
        assert_eq!(LightPolicy::default().validate(), Ok(()));
        let p = |segments, min_segment_ms, max_segment_ms| LightPolicy {
            segments,
            min_segment_ms,
            max_segment_ms,
        };
        assert_eq!(p(5, 350.0, 500.0).validate(), Err(LightError::Segments(5)));
        assert_eq!(
            p(13, 350.0, 500.0).validate(),
            Err(LightError::Segments(13))
        );
        assert!(matches!(
            p(8, 333.0, 500.0).validate(),
            Err(LightError::MinSegment(_))
        ));
        assert!(matches!(
            p(8, f64::NAN, 500.0).validate(),
            Err(LightError::MinSegment(_))
        ));
        assert!(matches!(
            p(8, 350.0, 1001.0).validate(),
            Err(LightError::MaxSegment(_))
        ));
        assert!(matches!(
            p(8, 350.0, f64::INFINITY).validate(),
            Err(LightError::MaxSegment(_))
        ));
        assert!(matches!(
            p(8, 600.0, 500.0).validate(),
            Err(LightError::MinAboveMax { .. })
        ));
        assert!(LightSequence::from_nonce("n", &p(8, 600.0, 500.0)).is_err());
        assert_eq!(p(12, 334.0, 334.0).validate(), Ok(()));
        let seq = LightSequence::from_nonce("n", &p(6, 334.5, 334.7)).expect("valid");
        assert!(seq.segments.iter().all(|s| s.duration_ms == 334.5));
    }

    #[test]
    fn light_sequences_meet_wcag_and_contrast_over_many_nonces() {
        for policy in [
            LightPolicy::default(),
            LightPolicy {
                segments: 12,
                min_segment_ms: 334.0,
                max_segment_ms: 1000.0,
            },
        ] {
            for nonce in nonces(400) {
                let seq = LightSequence::from_nonce(&nonce, &policy).expect("valid policy");
                assert_eq!(seq.segments.len(), policy.segments);
                let mut t = 0.0;
                let mut transitions = Vec::new();
                for (i, s) in seq.segments.iter().enumerate() {
                    assert!(PALETTE.contains(&s.colour));
                    assert!(s.duration_ms >= policy.min_segment_ms);
                    assert!(s.duration_ms <= policy.max_segment_ms);
                    assert_eq!(s.duration_ms.fract(), 0.0);
                    if i > 0 {
                        let prev = seq.segments[i - 1].colour;
                        assert_ne!(prev, s.colour, "{nonce}: repeated colour");
                        assert!(chroma_contrast(prev, s.colour) >= MIN_CHROMA_CONTRAST);
                        let step = (relative_luminance(prev) - relative_luminance(s.colour)).abs();
                        assert!(step <= MAX_LUMINANCE_STEP);
                        transitions.push(t);
                    }
                    t += s.duration_ms;
                }
                // Any one-second window holds at most 3 transitions (fewer than 3 flashes).
                for (k, &start) in transitions.iter().enumerate() {
                    let in_window = transitions[k..]
                        .iter()
                        .take_while(|&&x| x < start + 1000.0)
                        .count();
                    assert!(in_window <= 3, "{nonce}: {in_window} changes in 1 s");
                }
                assert!((seq.total_ms() - t).abs() < 1e-9);
            }
        }
    }

    #[test]
    fn light_sequence_is_deterministic_and_nonce_bound() {
        let policy = LightPolicy::default();
        let a = LightSequence::from_nonce("abc", &policy).expect("valid");
        assert_eq!(a, LightSequence::from_nonce("abc", &policy).expect("valid"));
        let all: Vec<LightSequence> = nonces(200)
            .map(|n| LightSequence::from_nonce(&n, &policy).expect("valid"))
            .collect();
        for i in 0..all.len() {
            for j in i + 1..all.len() {
                assert_ne!(all[i], all[j]);
            }
        }
        // Colours alone differ between nonces too, not just durations.
        let colours = |s: &LightSequence| s.segments.iter().map(|x| x.colour).collect::<Vec<_>>();
        let distinct: std::collections::HashSet<_> = all.iter().map(colours).collect();
        assert!(distinct.len() > 150);
        assert!(a.mean_luminance() > 0.15 && a.mean_luminance() < 0.8);
        assert_eq!(LightSequence { segments: vec![] }.mean_luminance(), 0.0);
    }

    fn seq3() -> LightSequence {
        LightSequence {
            segments: vec![
                LightSegment {
                    colour: PALETTE[0],
                    duration_ms: 400.0,
                },
                LightSegment {
                    colour: PALETTE[1],
                    duration_ms: 450.0,
                },
                LightSegment {
                    colour: PALETTE[2],
                    duration_ms: 380.0,
                },
            ],
        }
    }

    fn tl(onsets_ms: &[f64]) -> LightTimeline {
        LightTimeline {
            onsets_ms: onsets_ms.to_vec(),
        }
    }

    #[test]
    fn light_timeline_errors_are_typed() {
        let seq = seq3();
        let tol = DEFAULT_TIMELINE_TOLERANCE_MS;
        assert_eq!(
            check_timeline(&seq, &tl(&[100.0, 500.0, 950.0]), tol),
            Ok(())
        );
        assert_eq!(
            check_timeline(&seq, &tl(&[0.0, 540.0, 1000.0]), tol),
            Ok(())
        );
        assert_eq!(
            check_timeline(&seq, &tl(&[100.0, 500.0]), tol),
            Err(TimelineError::CountMismatch {
                expected: 3,
                got: 2
            })
        );
        assert_eq!(
            check_timeline(&seq, &tl(&[100.0, f64::NAN, 950.0]), tol),
            Err(TimelineError::NonFinite { index: 1 })
        );
        assert_eq!(
            check_timeline(&seq, &tl(&[100.0, 500.0, f64::INFINITY]), tol),
            Err(TimelineError::NonFinite { index: 2 })
        );
        assert_eq!(
            check_timeline(&seq, &tl(&[-1.0, 400.0, 850.0]), tol),
            Err(TimelineError::NegativeStart { onset_ms: -1.0 })
        );
        assert!(matches!(
            check_timeline(&seq, &tl(&[1e300, 1e300, 1e300]), tol),
            Err(TimelineError::StartTooLate { .. })
        ));
        assert_eq!(
            check_timeline(&seq, &tl(&[100.0, 100.0, 550.0]), tol),
            Err(TimelineError::NotIncreasing { index: 1 })
        );
        assert_eq!(
            check_timeline(&seq, &tl(&[100.0, 500.0, 400.0]), tol),
            Err(TimelineError::NotIncreasing { index: 2 })
        );
        assert_eq!(
            check_timeline(&seq, &tl(&[100.0, 500.0, 1200.0]), tol),
            Err(TimelineError::GapOutOfTolerance {
                segment: 1,
                expected_ms: 450.0,
                got_ms: 700.0
            })
        );
        assert_eq!(
            check_timeline(&seq, &tl(&[100.0, 500.0, 950.0]), f64::NAN),
            Err(TimelineError::InvalidTolerance)
        );
        assert_eq!(
            check_timeline(&LightSequence { segments: vec![] }, &tl(&[]), tol),
            Err(TimelineError::EmptySequence)
        );
        let long = LightSequence {
            segments: vec![seq.segments[0].clone(); 13],
        };
        assert_eq!(
            check_timeline(&long, &tl(&[0.0; 13]), tol),
            Err(TimelineError::TooManySegments { segments: 13 })
        );
        let mut nan_seq = seq3();
        nan_seq.segments[0].duration_ms = f64::NAN;
        assert!(matches!(
            check_timeline(&nan_seq, &tl(&[100.0, 500.0, 950.0]), tol),
            Err(TimelineError::GapOutOfTolerance { segment: 0, .. })
        ));
    }

    #[test]
    fn light_client_types_refuse_unknown_fields() {
        let t: LightTimeline = serde_json::from_str(r#"{"onsets_ms":[1.0,2.5]}"#).expect("ok");
        assert_eq!(t.onsets_ms, vec![1.0, 2.5]);
        assert!(serde_json::from_str::<LightTimeline>(r#"{"onsets_ms":[],"x":1}"#).is_err());
        let p: LightPolicy = serde_json::from_str(r#"{"segments":10}"#).expect("ok");
        assert_eq!(p.min_segment_ms, 350.0);
        assert!(serde_json::from_str::<LightPolicy>(r#"{"colours":3}"#).is_err());
        let e = serde_json::to_value(TimelineError::NonFinite { index: 2 }).expect("ok");
        assert_eq!(e, serde_json::json!({"code": "non_finite", "index": 2}));
    }
}
