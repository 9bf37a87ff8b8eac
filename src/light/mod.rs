//! The screen-light challenge (issue 14): the screen paints a nonce-drawn sequence of colours
//! around the face oval and the face must visibly reflect them, in order, within a plausible
//! latency. A replayed video or a photo does not reflect this session's colours; a screen
//! showing a face in front of the camera reflects them far less like skin does.
//!
//! | module | job |
//! |---|---|
//! | [`sequence`] | the palette (WCAG 2.3.1-safe), the draw from the nonce, the client timeline check |
//! | [`measure`] | per frame: mean colour of skin patches and of the unlit background |
//! | [`score`](mod@score) | detrended log-ratio response vs the expected colours over a lag window → verdict |
//! | [`simulate`] | the physical model used by tests, the CLI and server tests (never by a verdict) |
//!
//! Pure and deterministic: the server re-draws the sequence from the nonce, measures the
//! recording's frames itself and scores them against the client's reported onsets, which are
//! only accepted when they fit the drawn durations.

pub mod measure;
pub mod score;
pub mod sequence;
pub mod simulate;

pub use measure::{measure, LightSample};
pub use score::{
    score, LightConfig, LightInconclusive, LightOutcome, LightResult, SegmentResponse,
};
pub use sequence::{
    check_timeline, LightError, LightPolicy, LightSegment, LightSequence, LightTimeline,
    TimelineError,
};
pub use simulate::{colour_at, simulate_samples, tint_frame, Tint};

/// End to end on synthetic frames: a skin-coloured disc on a textured background, lit by the
/// screen through [`tint_frame`], under a slow global exposure drift, measured at 15 fps and
/// scored.
#[cfg(test)]
mod tests {
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    use super::*;
    use crate::frame::Frame;
    use crate::imgproc::BBox;

    const W: u32 = 320;
    const H: u32 = 240;
    const CX: f32 = 160.0;
    const CY: f32 = 120.0;
    const RADIUS: f32 = 70.0;
    const SKIN: [f32; 3] = [195.0, 145.0, 120.0];
    const FIRST_ONSET_MS: f64 = 600.0;
    /// What the simulated screen + camera latency adds to the reported onsets.
    const LAG_MS: f64 = 120.0;

    /// A 478-point stand-in for the face mesh: a golden-angle spiral filling the disc.
    fn mesh() -> Vec<[f32; 3]> {
        (0..478)
            .map(|i| {
                let a = i as f32 * 2.399_963;
                let r = RADIUS * 0.97 * ((i as f32 + 0.5) / 478.0).sqrt();
                [CX + r * a.cos(), CY + r * a.sin(), 0.0]
            })
            .collect()
    }

    fn face() -> BBox {
        BBox {
            x1: CX - RADIUS,
            y1: CY - RADIUS,
            x2: CX + RADIUS,
            y2: CY + RADIUS,
        }
    }

    /// When the colours really came on: drawn durations with a few ms of display jitter.
    fn true_timeline(seq: &LightSequence) -> LightTimeline {
        let mut t = FIRST_ONSET_MS;
        let onsets_ms = seq
            .segments
            .iter()
            .enumerate()
            .map(|(i, s)| {
                let onset = t;
                t += s.duration_ms + ((i * 37) % 41) as f64 - 20.0;
                onset
            })
            .collect();
        LightTimeline { onsets_ms }
    }

    /// Global camera gain: from −8 % to +8 % over 4 s.
    fn exposure(t_ms: f64) -> f32 {
        1.0 + 0.08 * (std::f64::consts::PI * (t_ms - 2000.0) / 4000.0).sin() as f32
    }

    /// Light on the face alone (the user's room light, their distance) drifting by 3 %.
    fn skin_drift(t_ms: f64) -> f32 {
        1.0 + 0.03 * (std::f64::consts::PI * t_ms / 5000.0).sin() as f32
    }

    /// One camera frame at `t_ms` with `screen` (None: neutral grey at the mean luminance).
    fn render(t_ms: f64, screen: Option<[u8; 3]>, mean_lum: f32, tint: &Tint, seed: u64) -> Frame {
        let mut data = Vec::with_capacity((W * H * 3) as usize);
        let drift = skin_drift(t_ms);
        for y in 0..H {
            for x in 0..W {
                let (dx, dy) = (x as f32 + 0.5 - CX, y as f32 + 0.5 - CY);
                let px = if dx * dx + dy * dy <= RADIUS * RADIUS {
                    SKIN.map(|v| (v * drift).round() as u8)
                } else {
                    [
                        60 + (x / 4) as u8,
                        70 + (y / 4) as u8,
                        80 + ((x + y) / 8) as u8,
                    ]
                };
                data.extend_from_slice(&px);
            }
        }
        let mut frame = Frame::from_rgb(W, H, data).expect("frame");
        let grey = (sequence::linear_to_srgb(mean_lum) * 255.0).round() as u8;
        let colour = screen.unwrap_or([grey; 3]);
        tint_frame(&mut frame, &mesh(), colour, mean_lum, tint, seed);
        // Background noise, then the camera's global gain on everything.
        let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x5eed);
        let gain = exposure(t_ms);
        let mut data = frame.into_rgb();
        for (i, v) in data.iter_mut().enumerate() {
            let p = (i / 3) as u32;
            let (dx, dy) = ((p % W) as f32 + 0.5 - CX, (p / W) as f32 + 0.5 - CY);
            let mut f = f32::from(*v);
            if dx * dx + dy * dy > RADIUS * RADIUS {
                let u1: f32 = rng.gen::<f32>().max(1e-7);
                let u2: f32 = rng.gen();
                f +=
                    tint.noise_sigma * (-2.0 * u1.ln()).sqrt() * (std::f32::consts::TAU * u2).cos();
            }
            *v = (f * gain).round().clamp(0.0, 255.0) as u8;
        }
        Frame::from_rgb(W, H, data).expect("frame")
    }

    /// Renders the clip showing `shown` (on its true timeline) until `until_ms` past the first
    /// onset, measures every frame at 15 fps and scores against `claimed` with the onsets the
    /// SDK would report for it (LAG_MS early).
    fn run(
        shown: &LightSequence,
        claimed: &LightSequence,
        tint: &Tint,
        until_ms: f64,
    ) -> LightResult {
        let shown_tl = true_timeline(shown);
        let claimed_tl = LightTimeline {
            onsets_ms: true_timeline(claimed)
                .onsets_ms
                .iter()
                .map(|o| o - LAG_MS)
                .collect(),
        };
        let mean_lum = shown.mean_luminance();
        let points = mesh();
        let samples: Vec<LightSample> = (0..)
            .map(|i| (i, i as f64 * 1000.0 / 15.0 + (i % 3) as f64))
            .take_while(|&(_, t)| t <= FIRST_ONSET_MS + until_ms)
            .filter_map(|(i, t)| {
                let frame = render(t, colour_at(shown, &shown_tl, t), mean_lum, tint, i as u64);
                measure(&frame.as_ref(), t, &points, &face())
            })
            .collect();
        score(claimed, &claimed_tl, &samples, &LightConfig::default())
    }

    fn seq(nonce: &str) -> LightSequence {
        LightSequence::from_nonce(nonce, &LightPolicy::default()).expect("valid")
    }

    fn whole(seq: &LightSequence) -> f64 {
        seq.total_ms() + 800.0
    }

    #[test]
    fn light_frames_genuine_response_passes_with_its_lag() {
        let s = seq("genuine-frames");
        let tint = Tint {
            share: 0.1,
            noise_sigma: 2.0,
        };
        let r = run(&s, &s, &tint, whole(&s));
        assert_eq!(r.outcome, LightOutcome::Passed, "{r:?}");
        let lag = r.lag_ms.expect("lag");
        assert!((lag - LAG_MS).abs() <= 40.0, "lag {lag}");
        assert!(r.gain.is_some_and(|g| g > 0.0));
        assert_eq!(r.covered_segments, s.segments.len());
    }

    #[test]
    fn light_frames_weak_screen_light_passes() {
        // 5 % of the light from the screen, 2 DN camera noise, 15 fps.
        for nonce in ["weak-a", "weak-b", "weak-c"] {
            let s = seq(nonce);
            let tint = Tint {
                share: 0.05,
                noise_sigma: 2.0,
            };
            let r = run(&s, &s, &tint, whole(&s));
            assert_eq!(r.outcome, LightOutcome::Passed, "{nonce}: {r:?}");
        }
    }

    #[test]
    fn light_frames_another_sequence_does_not_pass() {
        let claimed = seq("victim-session");
        let tint = Tint {
            share: 0.1,
            noise_sigma: 2.0,
        };
        for nonce in ["replay-1", "replay-2", "replay-3"] {
            let shown = seq(nonce);
            let r = run(&shown, &claimed, &tint, whole(&claimed).max(whole(&shown)));
            assert_ne!(r.outcome, LightOutcome::Passed, "{nonce}: {r:?}");
        }
    }

    #[test]
    fn light_frames_without_screen_light_do_not_pass() {
        let s = seq("no-tint");
        let tint = Tint {
            share: 0.0,
            noise_sigma: 2.0,
        };
        let r = run(&s, &s, &tint, whole(&s));
        assert_ne!(r.outcome, LightOutcome::Passed, "{r:?}");
    }

    #[test]
    fn light_frames_short_recording_is_incomplete() {
        let s = seq("short");
        let tint = Tint {
            share: 0.1,
            noise_sigma: 2.0,
        };
        let r = run(&s, &s, &tint, s.total_ms() * 0.6);
        assert_eq!(r.outcome, LightOutcome::Inconclusive);
        assert_eq!(r.reason, Some(LightInconclusive::Incomplete));
    }
}
