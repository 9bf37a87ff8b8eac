//! A physically motivated simulation of the screen's light on a face, for tests, the CLI and
//! the server's tests. Never used by a verdict.
//!
//! Model: skin radiance ∝ albedo × (E_ambient + E_screen). With `share` the screen's part of
//! the light on the skin on average over the sequence, E_screen / E_ambient for a colour `c`
//! is `share / (1 − share) × c_lin / L̄`, where `L̄` is the sequence's mean relative luminance,
//! so each linear channel is scaled by `1 + share / (1 − share) × c_lin / L̄`. The camera adds
//! Gaussian noise in 8-bit units after encoding.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::measure::{LightSample, CLIP_LEVEL};
use super::sequence::{linear_rgb, linear_to_srgb, srgb_to_linear, LightSequence, LightTimeline};
use crate::frame::Frame;

/// How strongly the screen lights the face, and how noisy the camera is.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Tint {
    /// Screen's share of the light on the skin, 0..1 (clamped to 0..=0.95).
    pub share: f32,
    /// Camera noise, 8-bit DN (per pixel in [`tint_frame`], on the per-frame means in
    /// [`simulate_samples`]).
    pub noise_sigma: f32,
}

impl Tint {
    /// `share / (1 − share)`, the screen-to-ambient irradiance ratio at mean luminance.
    fn ratio(&self) -> f32 {
        let share = if self.share.is_finite() {
            self.share.clamp(0.0, 0.95)
        } else {
            0.0
        };
        share / (1.0 - share)
    }

    fn sigma(&self) -> f32 {
        if self.noise_sigma.is_finite() {
            self.noise_sigma.clamp(0.0, 255.0)
        } else {
            0.0
        }
    }
}

/// Per-channel linear scale of the skin under `colour`.
fn channel_scale(colour: [u8; 3], mean_luminance: f32, tint: &Tint) -> [f32; 3] {
    let k = tint.ratio();
    linear_rgb(colour).map(|c| 1.0 + k * c / mean_luminance)
}

/// A standard normal draw (Box–Muller): rand 0.8 without rand_distr has none.
fn gaussian(rng: &mut ChaCha8Rng) -> f32 {
    let u1: f32 = rng.gen::<f32>().max(f32::MIN_POSITIVE);
    let u2: f32 = rng.gen();
    (-2.0 * u1.ln()).sqrt() * (std::f32::consts::TAU * u2).cos()
}

/// Adds the reflected screen light of `colour` to the skin pixels (inside the face-mesh hull)
/// of an RGB frame in place. Model: skin radiance ∝ albedo × (E_ambient + E_screen); linearise
/// sRGB, scale each channel by (1 + share/(1-share) × screen_lin_c / mean screen luminance of
/// the sequence), add Gaussian camera noise, re-encode sRGB. Deterministic given a seed.
///
/// Does nothing when fewer than three finite points are given or `mean_luminance` is not a
/// positive number.
pub fn tint_frame(
    frame: &mut Frame,
    points: &[[f32; 3]],
    colour: [u8; 3],
    mean_luminance: f32,
    tint: &Tint,
    rng_seed: u64,
) {
    if !(mean_luminance > 0.0 && mean_luminance.is_finite()) {
        return;
    }
    let hull = convex_hull(points);
    if hull.len() < 3 {
        return;
    }
    let (w, h) = (frame.width(), frame.height());
    let scale = channel_scale(colour, mean_luminance, tint);
    let sigma = tint.sigma();
    let mut rng = ChaCha8Rng::seed_from_u64(rng_seed);
    let lut: Vec<f32> = (0..=255u8).map(srgb_to_linear).collect();

    let data = frame.rgb_mut();
    let (ymin, ymax) = hull.iter().fold((f32::MAX, f32::MIN), |(lo, hi), p| {
        (lo.min(p[1]), hi.max(p[1]))
    });
    let y0 = ymin.floor().max(0.0) as u32;
    let y1 = (ymax.ceil().max(0.0) as u32).min(h);
    for y in y0..y1 {
        let Some((xa, xb)) = row_span(&hull, y as f32 + 0.5) else {
            continue;
        };
        // Pixel centres x + 0.5 in [xa, xb].
        let x0 = (xa - 0.5).ceil().max(0.0) as u32;
        let x1 = ((xb - 0.5).floor() + 1.0).clamp(0.0, w as f32) as u32;
        for x in x0..x1 {
            let i = (y as usize * w as usize + x as usize) * 3;
            for c in 0..3 {
                let lin = lut[data[i + c] as usize] * scale[c];
                let mut v = linear_to_srgb(lin) * 255.0;
                if sigma > 0.0 {
                    v += sigma * gaussian(&mut rng);
                }
                data[i + c] = v.round().clamp(0.0, 255.0) as u8;
            }
        }
    }
}

/// Convex hull (counter-clockwise in image coordinates, monotone chain) of the finite points.
fn convex_hull(points: &[[f32; 3]]) -> Vec<[f32; 2]> {
    let mut p: Vec<[f32; 2]> = points
        .iter()
        .filter(|q| q[0].is_finite() && q[1].is_finite())
        .map(|q| [q[0], q[1]])
        .collect();
    p.sort_by(|a, b| a[0].total_cmp(&b[0]).then(a[1].total_cmp(&b[1])));
    p.dedup();
    if p.len() < 3 {
        return p;
    }
    let cross = |o: [f32; 2], a: [f32; 2], b: [f32; 2]| {
        (a[0] - o[0]) as f64 * (b[1] - o[1]) as f64 - (a[1] - o[1]) as f64 * (b[0] - o[0]) as f64
    };
    // Lower chain left to right, then upper chain right to left.
    let mut hull: Vec<[f32; 2]> = Vec::with_capacity(2 * p.len());
    let chain = |hull: &mut Vec<[f32; 2]>, q: [f32; 2], start: usize| {
        while hull.len() >= start + 2 && cross(hull[hull.len() - 2], hull[hull.len() - 1], q) <= 0.0
        {
            hull.pop();
        }
        hull.push(q);
    };
    for &q in &p {
        chain(&mut hull, q, 0);
    }
    hull.pop();
    let start = hull.len();
    for &q in p.iter().rev() {
        chain(&mut hull, q, start);
    }
    hull.pop();
    hull
}

/// The x-interval where the horizontal line `y` crosses the convex polygon.
fn row_span(hull: &[[f32; 2]], y: f32) -> Option<(f32, f32)> {
    let mut lo = f32::MAX;
    let mut hi = f32::MIN;
    for i in 0..hull.len() {
        let a = hull[i];
        let b = hull[(i + 1) % hull.len()];
        let (ya, yb) = (a[1], b[1]);
        if (ya <= y && y <= yb) || (yb <= y && y <= ya) {
            let x = if (yb - ya).abs() < f32::EPSILON {
                lo = lo.min(a[0].min(b[0]));
                hi = hi.max(a[0].max(b[0]));
                continue;
            } else {
                a[0] + (y - ya) / (yb - ya) * (b[0] - a[0])
            };
            lo = lo.min(x);
            hi = hi.max(x);
        }
    }
    (lo <= hi).then_some((lo, hi))
}

/// The colour on screen at recording time t (None before the first onset / after the last
/// segment). Segment `i` is on screen from its onset until the next onset; the last one for
/// its drawn duration.
pub fn colour_at(seq: &LightSequence, timeline: &LightTimeline, t_ms: f64) -> Option<[u8; 3]> {
    let n = seq.segments.len().min(timeline.onsets_ms.len());
    (0..n).find_map(|i| {
        let start = timeline.onsets_ms[i];
        let end = if i + 1 < n {
            timeline.onsets_ms[i + 1]
        } else {
            start + seq.segments[i].duration_ms
        };
        (t_ms >= start && t_ms < end).then_some(seq.segments[i].colour)
    })
}

/// Samples as [`crate::light::measure`] would report them for a face of mean colour `skin`
/// in front of a background `reference` (both sRGB 0–255, ambient light only), lit by the
/// sequence shown on `timeline`, at the frame times `times_ms`: a fast stand-in for rendering
/// frames. Outside the sequence the screen is taken as a neutral grey at the sequence's mean
/// luminance. `tint.noise_sigma` is the noise of the per-frame means.
pub fn simulate_samples(
    seq: &LightSequence,
    timeline: &LightTimeline,
    times_ms: &[f64],
    skin: [f32; 3],
    reference: [f32; 3],
    tint: &Tint,
    seed: u64,
) -> Vec<LightSample> {
    let mean = seq.mean_luminance();
    if mean.is_nan() || mean <= 0.0 {
        return Vec::new();
    }
    let k = tint.ratio();
    let sigma = tint.sigma();
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let to_lin = |v: f32| {
        let c = (v / 255.0).clamp(0.0, 1.0);
        if c <= 0.04045 {
            c / 12.92
        } else {
            ((c + 0.055) / 1.055).powf(2.4)
        }
    };
    times_ms
        .iter()
        .map(|&t_ms| {
            let scale = match colour_at(seq, timeline, t_ms) {
                Some(colour) => channel_scale(colour, mean, tint),
                None => [1.0 + k; 3],
            };
            let mut lit = [0f32; 3];
            let mut clipped = false;
            for c in 0..3 {
                let v = linear_to_srgb(to_lin(skin[c]) * scale[c]) * 255.0;
                clipped |= v >= f32::from(CLIP_LEVEL);
                lit[c] = (v + sigma * gaussian(&mut rng)).clamp(0.0, 255.0);
            }
            let background = reference.map(|v| (v + sigma * gaussian(&mut rng)).clamp(0.0, 255.0));
            LightSample {
                t_ms,
                skin: lit,
                reference: background,
                skin_pixels: 500,
                clipped: if clipped { 1.0 } else { 0.0 },
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::light::sequence::LightSegment;

    fn seq2() -> (LightSequence, LightTimeline) {
        (
            LightSequence {
                segments: vec![
                    LightSegment {
                        colour: [0, 200, 210],
                        duration_ms: 400.0,
                    },
                    LightSegment {
                        colour: [210, 60, 230],
                        duration_ms: 400.0,
                    },
                ],
            },
            LightTimeline {
                onsets_ms: vec![100.0, 510.0],
            },
        )
    }

    #[test]
    fn light_colour_at_segment_bounds() {
        let (seq, tl) = seq2();
        assert_eq!(colour_at(&seq, &tl, 99.9), None);
        assert_eq!(colour_at(&seq, &tl, 100.0), Some([0, 200, 210]));
        assert_eq!(colour_at(&seq, &tl, 509.0), Some([0, 200, 210]));
        assert_eq!(colour_at(&seq, &tl, 510.0), Some([210, 60, 230]));
        assert_eq!(colour_at(&seq, &tl, 909.9), Some([210, 60, 230]));
        assert_eq!(colour_at(&seq, &tl, 910.0), None);
        assert_eq!(colour_at(&seq, &tl, f64::NAN), None);
        let bad = LightTimeline {
            onsets_ms: vec![f64::NAN],
        };
        assert_eq!(colour_at(&seq, &bad, 100.0), None);
    }

    fn disc_frame() -> (Frame, Vec<[f32; 3]>) {
        let (w, h) = (64u32, 48u32);
        let mut data = Vec::with_capacity((w * h * 3) as usize);
        for _ in 0..w * h {
            data.extend_from_slice(&[150, 110, 90]);
        }
        let points = (0..64)
            .map(|i| {
                let a = i as f32 / 64.0 * std::f32::consts::TAU;
                [32.0 + 15.0 * a.cos(), 24.0 + 15.0 * a.sin(), 0.0]
            })
            .collect();
        (Frame::from_rgb(w, h, data).expect("frame"), points)
    }

    #[test]
    fn light_tint_frame_lights_the_hull_only_and_is_deterministic() {
        let (mut a, points) = disc_frame();
        let tint = Tint {
            share: 0.2,
            noise_sigma: 0.0,
        };
        tint_frame(&mut a, &points, [70, 110, 255], 0.35, &tint, 7);
        let px = |f: &Frame, x: u32, y: u32| {
            let i = ((y * f.width() + x) * 3) as usize;
            let d = f.clone().into_rgb();
            [d[i], d[i + 1], d[i + 2]]
        };
        let centre = px(&a, 32, 24);
        // Blue light: blue rises most, red least.
        assert!(centre[2] > 90 + 20 && centre[0] < 150 + 10 && centre[0] >= 150);
        assert_eq!(px(&a, 2, 2), [150, 110, 90]);
        assert_eq!(px(&a, 32, 24 + 17), [150, 110, 90]);

        let noisy = Tint {
            share: 0.1,
            noise_sigma: 2.0,
        };
        let (mut b, _) = disc_frame();
        let (mut c, _) = disc_frame();
        tint_frame(&mut b, &points, [0, 210, 80], 0.35, &noisy, 3);
        tint_frame(&mut c, &points, [0, 210, 80], 0.35, &noisy, 3);
        assert_eq!(b.clone().into_rgb(), c.into_rgb());
        let (mut d, _) = disc_frame();
        tint_frame(&mut d, &points, [0, 210, 80], 0.35, &noisy, 4);
        assert_ne!(b.into_rgb(), d.into_rgb());

        // Hostile parameters leave the frame alone or only add noise.
        let (mut e, _) = disc_frame();
        let before = e.clone().into_rgb();
        tint_frame(&mut e, &points, [0, 210, 80], f32::NAN, &noisy, 1);
        tint_frame(&mut e, &points[..2], [0, 210, 80], 0.35, &noisy, 1);
        let nan = Tint {
            share: f32::NAN,
            noise_sigma: f32::NAN,
        };
        tint_frame(&mut e, &points, [0, 210, 80], 0.35, &nan, 1);
        assert_eq!(e.into_rgb(), before);
        let far = vec![[1e30, 1e30, 0.0], [-1e30, 1e30, 0.0], [0.0, -1e30, 0.0]];
        let (mut f, _) = disc_frame();
        tint_frame(&mut f, &far, [0, 210, 80], 0.35, &tint, 1);
        assert_eq!(f.width(), 64);
    }

    #[test]
    fn light_simulated_samples_follow_the_screen() {
        let (seq, tl) = seq2();
        let tint = Tint {
            share: 0.1,
            noise_sigma: 0.0,
        };
        let s = simulate_samples(
            &seq,
            &tl,
            &[0.0, 200.0, 600.0],
            [180.0, 130.0, 110.0],
            [100.0; 3],
            &tint,
            1,
        );
        assert_eq!(s.len(), 3);
        // Cyan then magenta: red rises from cyan to magenta, green falls.
        assert!(s[2].skin[0] > s[1].skin[0] && s[2].skin[1] < s[1].skin[1]);
        assert_eq!(s[0].reference, [100.0; 3]);
    }
}
