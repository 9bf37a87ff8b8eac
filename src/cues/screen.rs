//! Screen cues on the face region, per frame.
//!
//! A face shown on a phone or a monitor and filmed again carries traces of the screen: the
//! pixel grid beating against the camera's (moiré: fine stripes or a few strong periodic
//! components), glare on the glass (near-white, colourless highlights), and the refresh beating
//! against the camera's rolling shutter (horizontal bands). [`screen_sample`] measures each on
//! the face box of one frame; [`ScreenCue`] is their median over a recording.
//!
//! - **High-frequency energy** ([`ScreenSample::hf_energy`]): the face box is resampled
//!   (area-averaged) to a [`PATCH`] × [`PATCH`] grey patch and transformed with an orthonormal
//!   2-D DCT-II; the share of the non-DC energy at frequency index ≥ [`HF_START`] along either
//!   axis (periods under 4 patch pixels). Fine stripes raise it; a blurry re-capture lowers it.
//! - **Periodicity** ([`ScreenSample::periodicity`]): the strongest DCT coefficient at radius ≥
//!   [`PEAK_MIN_RADIUS`] over the mean energy of its radius band (radii r − 1 … r + 1) plus
//!   [`NOISE_FLOOR`]: a natural image's spectrum is smooth along a band (≈ 10–20 at the
//!   maximum over a 64 × 64 patch of noise), a grating or moiré puts its energy in a few
//!   coefficients.
//! - **Specular** ([`ScreenSample::specular`]): the fraction of points on the inner face box
//!   (a [`SPECULAR_GRID`]² grid of single pixels, 15 % in from the sides, 10 % from top and
//!   bottom) whose three channels are all ≥ [`SPECULAR_LEVEL`]: near-saturated and colourless.
//! - **Banding** ([`ScreenSample::banding`]): the face box's row means (up to [`BAND_ROWS`]
//!   rows, [`BAND_COLS`] columns each), linearly detrended; the highest normalised
//!   autocorrelation after its first zero crossing (≈ 1 for a periodic band pattern).
//!
//! About [`PATCH`]² · [`PATCH`] · 2 multiply-adds for the DCT and a few thousand pixel reads.

use std::sync::OnceLock;

use serde::{Deserialize, Serialize};

use super::{luma, median};
use crate::frame::FrameRef;
use crate::imgproc::BBox;

/// Side of the resampled face patch.
pub const PATCH: usize = 64;
/// First DCT frequency index of the high band (of `0..PATCH`).
pub const HF_START: usize = PATCH / 2;
/// Smallest DCT radius searched for a periodic peak (below it lies the face's own shape).
pub const PEAK_MIN_RADIUS: usize = 16;
/// Added to a band's mean energy (grey levels² per coefficient, about compression and
/// quantisation noise) so a near-empty band cannot make any coefficient a "peak".
pub const NOISE_FLOOR: f32 = 1.0;
/// A specular point has all three channels at or above this.
pub const SPECULAR_LEVEL: u8 = 230;
/// Specular sampling grid side.
pub const SPECULAR_GRID: usize = 48;
/// Rows and columns read for the banding profile, at most.
pub const BAND_ROWS: usize = 128;
pub const BAND_COLS: usize = 64;
/// Smallest face box side (frame pixels, after clipping to the frame) measured.
pub const MIN_FACE_PX: f32 = 24.0;

/// One frame's screen cues on its face box.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ScreenSample {
    /// Share of the face patch's non-DC spectral energy in the upper half of the frequencies.
    pub hf_energy: f32,
    /// The strongest mid/high-frequency DCT coefficient over its band's mean (see module docs).
    pub periodicity: f32,
    /// Fraction of near-saturated colourless points on the inner face.
    pub specular: f32,
    /// Highest autocorrelation of the detrended row profile after its first zero crossing (0
    /// when there is none).
    pub banding: f32,
}

/// A recording's screen cues: per-field medians over its frames.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ScreenCue {
    /// Frames measured.
    pub frames: usize,
    pub hf_energy: f32,
    pub periodicity: f32,
    pub specular: f32,
    pub banding: f32,
}

impl ScreenCue {
    /// Per-field medians; `None` without samples.
    pub fn from_samples(samples: &[ScreenSample]) -> Option<Self> {
        let field = |f: fn(&ScreenSample) -> f32| {
            let mut v: Vec<f32> = samples.iter().map(f).collect();
            median(&mut v)
        };
        Some(Self {
            frames: samples.len(),
            hf_energy: field(|s| s.hf_energy)?,
            periodicity: field(|s| s.periodicity)?,
            specular: field(|s| s.specular)?,
            banding: field(|s| s.banding)?,
        })
    }
}

/// Collects a recording's samples.
#[derive(Debug, Clone, Default)]
pub struct ScreenTracker {
    samples: Vec<ScreenSample>,
}

impl ScreenTracker {
    /// An empty tracker.
    pub fn new() -> Self {
        Self::default()
    }

    /// Measures one frame's face (nothing without a face or for a box too small).
    pub fn push(&mut self, frame: &FrameRef, face: Option<&BBox>) -> Option<ScreenSample> {
        let s = screen_sample(frame, face?)?;
        self.samples.push(s);
        Some(s)
    }

    /// The samples so far.
    pub fn samples(&self) -> &[ScreenSample] {
        &self.samples
    }

    /// The medians so far (`None` before any sample).
    pub fn finish(&self) -> Option<ScreenCue> {
        ScreenCue::from_samples(&self.samples)
    }
}

/// The screen cues of the face in `face` (frame pixels); `None` when the box, clipped to the
/// frame, is under [`MIN_FACE_PX`] a side or not finite.
pub fn screen_sample(frame: &FrameRef, face: &BBox) -> Option<ScreenSample> {
    let b = clipped(frame, face)?;
    let patch = face_patch(frame, &b);
    let energy = dct_energy(&patch);
    Some(ScreenSample {
        hf_energy: hf_energy(&energy),
        periodicity: periodicity(&energy),
        specular: specular(frame, &b),
        banding: banding(frame, &b),
    })
}

fn clipped(frame: &FrameRef, face: &BBox) -> Option<BBox> {
    if ![face.x1, face.y1, face.x2, face.y2]
        .iter()
        .all(|v| v.is_finite())
    {
        return None;
    }
    let b = face.clamp_to(frame.width() as f32, frame.height() as f32);
    (b.width() >= MIN_FACE_PX && b.height() >= MIN_FACE_PX).then_some(b)
}

/// Pixel indices (clamped to `0..limit`) of `taps` evenly spread reads in each of `n` cells
/// of `step` pixels starting at `start`: cell `i`'s reads are `out[i * taps .. (i + 1) * taps]`.
fn positions(start: f32, step: f32, n: usize, taps: usize, limit: usize) -> Vec<usize> {
    (0..n * taps)
        .map(|k| {
            let (i, t) = (k / taps, k % taps);
            let v = start + (i as f32 + (t as f32 + 0.5) / taps as f32) * step;
            (v.max(0.0) as usize).min(limit - 1)
        })
        .collect()
}

/// Byte offsets of the pixels at `xs` (columns) and `ys` (rows).
fn offsets(frame: &FrameRef, xs: &[usize], ys: &[usize]) -> (Vec<usize>, Vec<usize>) {
    let c = frame.format().channels();
    let row = frame.width() as usize * c;
    (
        xs.iter().map(|x| x * c).collect(),
        ys.iter().map(|y| y * row).collect(),
    )
}

#[inline(always)]
fn luma_of(d: &[u8], i: usize) -> f32 {
    luma(d[i], d[i + 1], d[i + 2])
}

/// The box resampled to `PATCH × PATCH` grey, each cell the mean of up to 4 × 4 pixel reads
/// spread over it (area averaging when shrinking, nearest pixel when enlarging).
fn face_patch(frame: &FrameRef, b: &BBox) -> Vec<f32> {
    let (sx, sy) = (b.width() / PATCH as f32, b.height() / PATCH as f32);
    let kx = (sx.ceil() as usize).clamp(1, 4);
    let ky = (sy.ceil() as usize).clamp(1, 4);
    let (w, h) = (frame.width() as usize, frame.height() as usize);
    let (cols, rows) = offsets(
        frame,
        &positions(b.x1, sx, PATCH, kx, w),
        &positions(b.y1, sy, PATCH, ky, h),
    );
    let d = frame.data();
    let mut out = vec![0f32; PATCH * PATCH];
    // Integer luma (weights 299, 587, 114 per mille) summed over the taps, scaled once.
    let inv = 1.0 / (1000 * kx * ky) as f32;
    for (row, ys) in out.chunks_exact_mut(PATCH).zip(rows.chunks_exact(ky)) {
        for (v, xs) in row.iter_mut().zip(cols.chunks_exact(kx)) {
            let mut sum = 0u32;
            for y in ys {
                for x in xs {
                    let px = &d[y + x..y + x + 3];
                    sum += 299 * u32::from(px[0]) + 587 * u32::from(px[1]) + 114 * u32::from(px[2]);
                }
            }
            *v = sum as f32 * inv;
        }
    }
    out
}

/// The orthonormal DCT-II basis, `[u * PATCH + x] = α(u) cos(π (2x + 1) u / 2N)`, and its
/// transpose `[x * PATCH + u]`.
fn dct_tables() -> &'static (Vec<f32>, Vec<f32>) {
    static TABLES: OnceLock<(Vec<f32>, Vec<f32>)> = OnceLock::new();
    TABLES.get_or_init(|| {
        let n = PATCH as f64;
        let basis = |u: usize, x: usize| {
            let a = if u == 0 {
                (1.0 / n).sqrt()
            } else {
                (2.0 / n).sqrt()
            };
            let arg = std::f64::consts::PI * (2 * x + 1) as f64 * u as f64 / (2.0 * n);
            (a * arg.cos()) as f32
        };
        let by_u = (0..PATCH * PATCH)
            .map(|k| basis(k / PATCH, k % PATCH))
            .collect();
        let by_x = (0..PATCH * PATCH)
            .map(|k| basis(k % PATCH, k / PATCH))
            .collect();
        (by_u, by_x)
    })
}

/// Squared 2-D DCT-II coefficients of the patch (mean removed), `[v * PATCH + u]`. Both passes
/// accumulate whole rows (multiply-adds over contiguous slices, which vectorise).
fn dct_energy(patch: &[f32]) -> Vec<f32> {
    let (by_u, by_x) = dct_tables();
    let mean = patch.iter().sum::<f32>() / patch.len() as f32;
    // Rows: tmp[y][u] = Σx (p[y][x] − mean) · basis[u][x].
    let mut tmp = vec![0f32; PATCH * PATCH];
    for (row, out) in patch.chunks_exact(PATCH).zip(tmp.chunks_exact_mut(PATCH)) {
        for (p, basis) in row.iter().zip(by_x.chunks_exact(PATCH)) {
            let p = p - mean;
            for (o, b) in out.iter_mut().zip(basis) {
                *o += p * b;
            }
        }
    }
    // Columns: c[v][u] = Σy basis[v][y] · tmp[y][u].
    let mut energy = vec![0f32; PATCH * PATCH];
    for (out, basis) in energy.chunks_exact_mut(PATCH).zip(by_u.chunks_exact(PATCH)) {
        for (b, src) in basis.iter().zip(tmp.chunks_exact(PATCH)) {
            for (o, s) in out.iter_mut().zip(src) {
                *o += b * s;
            }
        }
        for o in out.iter_mut() {
            *o *= *o;
        }
    }
    energy
}

fn hf_energy(e: &[f32]) -> f32 {
    let (mut total, mut high) = (0f64, 0f64);
    for v in 0..PATCH {
        for u in 0..PATCH {
            if u == 0 && v == 0 {
                continue;
            }
            let x = f64::from(e[v * PATCH + u]);
            total += x;
            if u.max(v) >= HF_START {
                high += x;
            }
        }
    }
    if total <= 1e-6 {
        0.0
    } else {
        (high / total) as f32
    }
}

/// The radius band (rounded `√(u² + v²)`) of each DCT coefficient, `[v * PATCH + u]`.
fn rings() -> &'static [u8] {
    static RINGS: OnceLock<Vec<u8>> = OnceLock::new();
    RINGS.get_or_init(|| {
        (0..PATCH * PATCH)
            .map(|k| {
                let (u, v) = ((k % PATCH) as f32, (k / PATCH) as f32);
                (u * u + v * v).sqrt().round() as u8
            })
            .collect()
    })
}

fn periodicity(e: &[f32]) -> f32 {
    let ring = rings();
    let n_rings = usize::from(ring[PATCH * PATCH - 1]) + 1;
    let (mut sum, mut count) = (vec![0f32; n_rings], vec![0u32; n_rings]);
    for (&r, &x) in ring.iter().zip(e) {
        sum[usize::from(r)] += x;
        count[usize::from(r)] += 1;
    }
    // Each band's mean over radii r − 1 … r + 1, plus the noise floor.
    let floor: Vec<f32> = (0..n_rings)
        .map(|r| {
            let (lo, hi) = (r.saturating_sub(1), (r + 1).min(n_rings - 1));
            let s: f32 = sum[lo..=hi].iter().sum();
            let n: u32 = count[lo..=hi].iter().sum();
            s / n.max(1) as f32 + NOISE_FLOOR
        })
        .collect();
    ring.iter()
        .zip(e)
        .filter(|(r, _)| usize::from(**r) >= PEAK_MIN_RADIUS)
        .map(|(r, x)| x / floor[usize::from(*r)])
        .fold(0.0f32, f32::max)
}

fn specular(frame: &FrameRef, b: &BBox) -> f32 {
    let (w, h) = (b.width(), b.height());
    let g = SPECULAR_GRID;
    let (fw, fh) = (frame.width() as usize, frame.height() as usize);
    let (cols, rows) = offsets(
        frame,
        &positions(b.x1 + 0.15 * w, 0.7 * w / g as f32, g, 1, fw),
        &positions(b.y1 + 0.10 * h, 0.8 * h / g as f32, g, 1, fh),
    );
    let d = frame.data();
    let mut hits = 0usize;
    for y in &rows {
        for x in &cols {
            let i = y + x;
            hits += usize::from(d[i].min(d[i + 1]).min(d[i + 2]) >= SPECULAR_LEVEL);
        }
    }
    hits as f32 / (g * g) as f32
}

fn banding(frame: &FrameRef, b: &BBox) -> f32 {
    let n = (b.height() as usize).clamp(2, BAND_ROWS);
    let ncols = (b.width() as usize).clamp(1, BAND_COLS);
    let (fw, fh) = (frame.width() as usize, frame.height() as usize);
    let (cols, rows) = offsets(
        frame,
        &positions(
            b.x1 + 0.15 * b.width(),
            0.7 * b.width() / ncols as f32,
            ncols,
            1,
            fw,
        ),
        &positions(b.y1, b.height() / n as f32, n, 1, fh),
    );
    let d = frame.data();
    let mut p: Vec<f32> = rows
        .iter()
        .map(|y| cols.iter().map(|x| luma_of(d, y + x)).sum::<f32>() / ncols as f32)
        .collect();
    // Linear detrend (least squares).
    let nf = n as f32;
    let mx = (nf - 1.0) * 0.5;
    let my = p.iter().sum::<f32>() / nf;
    let (mut sxy, mut sxx) = (0f32, 0f32);
    for (i, v) in p.iter().enumerate() {
        let dx = i as f32 - mx;
        sxy += dx * (v - my);
        sxx += dx * dx;
    }
    let slope = if sxx > 0.0 { sxy / sxx } else { 0.0 };
    for (i, v) in p.iter_mut().enumerate() {
        *v -= my + slope * (i as f32 - mx);
    }
    let energy: f32 = p.iter().map(|v| v * v).sum();
    if energy <= 1e-3 * nf {
        return 0.0;
    }
    // Normalised autocorrelation at each lag; the sums of squares of the overlapping parts
    // come from prefix sums.
    let mut prefix = vec![0f32; n + 1];
    for (i, v) in p.iter().enumerate() {
        prefix[i + 1] = prefix[i] + v * v;
    }
    let max_lag = n / 2;
    let ac: Vec<f32> = (0..=max_lag)
        .map(|lag| {
            let num: f32 = p[..n - lag].iter().zip(&p[lag..]).map(|(x, y)| x * y).sum();
            let den = ((prefix[n - lag] - prefix[0]) * (prefix[n] - prefix[lag])).sqrt();
            if den > 0.0 {
                num / den
            } else {
                0.0
            }
        })
        .collect();
    let Some(zero) = (1..=max_lag).find(|&l| ac[l] <= 0.0) else {
        return 0.0;
    };
    ac[zero..].iter().copied().fold(0.0f32, f32::max)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cues::tests::{texture_at, to_rgb};
    use crate::frame::PixelFormat;

    const W: usize = 320;
    const H: usize = 240;
    const FACE: BBox = BBox {
        x1: 96.0,
        y1: 56.0,
        x2: 224.0,
        y2: 184.0,
    };

    fn sample(grey: &[u8]) -> ScreenSample {
        let rgb = to_rgb(grey);
        let frame = FrameRef::new(W as u32, H as u32, PixelFormat::Rgb8, &rgb).unwrap();
        screen_sample(&frame, &FACE).unwrap()
    }

    fn image(f: impl Fn(f32, f32) -> f32) -> Vec<u8> {
        (0..W * H)
            .map(|i| f((i % W) as f32, (i / W) as f32).round().clamp(0.0, 255.0) as u8)
            .collect()
    }

    /// A deterministic pseudo-random grey level (white noise).
    fn noise(i: usize, seed: u64) -> f32 {
        let mut z = (i as u64 ^ seed.wrapping_mul(0x9E37_79B9_7F4A_7C15)).wrapping_add(1);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        ((z ^ (z >> 31)) % 1000) as f32 / 1000.0
    }

    #[test]
    fn a_fine_grating_has_high_frequency_energy_and_a_peak_a_gradient_neither() {
        // Vertical stripes of period 5 frame px: 2.5 patch px (frequency index ≈ 51 of 64).
        let grating = sample(&image(|x, _| {
            128.0 + 60.0 * (std::f32::consts::TAU * x / 5.0).sin()
        }));
        // A smooth gradient with a camera's noise (σ ≈ 1.7 levels): without it the 8-bit
        // staircase of a synthetic ramp is itself a faint periodic pattern.
        let gradient = sample(&image(|x, y| {
            40.0 + 0.5 * x + 0.2 * y + 6.0 * (noise(y as usize * W + x as usize, 5) - 0.5)
        }));
        let white = sample(&image(|x, y| {
            60.0 + 120.0 * noise(y as usize * W + x as usize, 1)
        }));
        assert!(grating.hf_energy > 0.6, "{grating:?}");
        assert!(gradient.hf_energy < 0.05, "{gradient:?}");
        assert!(grating.periodicity > 100.0, "{grating:?}");
        assert!(gradient.periodicity < 30.0, "{gradient:?}");
        // White noise has high frequencies too, but spread over the band: no peak.
        assert!(white.hf_energy > 0.5, "{white:?}");
        assert!(white.periodicity < 30.0, "{white:?}");
        assert!(
            grating.periodicity > 5.0 * white.periodicity,
            "{grating:?} {white:?}"
        );
        // A smooth natural-ish texture: mostly low frequencies.
        let smooth = sample(&image(|x, y| f32::from(texture_at(x, y, 9))));
        assert!(smooth.hf_energy < 0.1, "{smooth:?}");
    }

    #[test]
    fn a_blown_out_highlight_reads_as_specular_a_coloured_one_does_not() {
        let skin = [200u8, 150, 120];
        let make = |spot: [u8; 3]| {
            let mut rgb = Vec::with_capacity(W * H * 3);
            for i in 0..W * H {
                let (x, y) = ((i % W) as f32, (i / W) as f32);
                // A 40 × 40 px spot on the forehead: 1600 / (0.7·128 · 0.8·128) ≈ 17 % of the
                // inner box.
                let in_spot = (140.0..180.0).contains(&x) && (70.0..110.0).contains(&y);
                rgb.extend_from_slice(if in_spot { &spot } else { &skin });
            }
            rgb
        };
        let measure = |rgb: &[u8]| {
            let frame = FrameRef::new(W as u32, H as u32, PixelFormat::Rgb8, rgb).unwrap();
            screen_sample(&frame, &FACE).unwrap().specular
        };
        let white = measure(&make([252, 250, 248]));
        assert!((0.13..0.21).contains(&white), "{white}");
        assert_eq!(measure(&make(skin)), 0.0);
        // Bright but coloured (a saturated yellow) is not a specular highlight.
        assert_eq!(measure(&make([255, 230, 40])), 0.0);
    }

    #[test]
    fn horizontal_bands_read_as_banding_noise_does_not() {
        let bands = sample(&image(|x, y| {
            150.0 + 12.0 * (std::f32::consts::TAU * y / 16.0).sin() + 20.0 * noise(x as usize, 2)
        }));
        assert!(bands.banding > 0.8, "{bands:?}");
        let plain = sample(&image(|x, y| {
            120.0 + 0.3 * y + 30.0 * noise(y as usize * W + x as usize, 3)
        }));
        assert!(plain.banding < 0.5, "{plain:?}");
    }

    #[test]
    fn small_outside_and_edge_boxes_do_not_panic() {
        let grey = image(|x, y| f32::from(texture_at(x, y, 4)));
        let rgb = to_rgb(&grey);
        let frame = FrameRef::new(W as u32, H as u32, PixelFormat::Rgb8, &rgb).unwrap();
        let b = |x1: f32, y1: f32, x2: f32, y2: f32| BBox { x1, y1, x2, y2 };
        assert!(screen_sample(&frame, &b(10.0, 10.0, 20.0, 20.0)).is_none());
        assert!(screen_sample(&frame, &b(400.0, 300.0, 500.0, 400.0)).is_none());
        assert!(screen_sample(&frame, &b(f32::NAN, 0.0, 50.0, 50.0)).is_none());
        assert!(screen_sample(&frame, &b(-100.0, -100.0, 30.0, 30.0)).is_some());
        assert!(screen_sample(&frame, &b(290.0, 200.0, 400.0, 300.0)).is_some());
        assert!(screen_sample(&frame, &b(-1e9, -1e9, 1e9, 1e9)).is_some());
        let mut t = ScreenTracker::new();
        assert!(t.finish().is_none());
        t.push(&frame, None);
        t.push(&frame, Some(&FACE));
        t.push(&frame, Some(&b(0.0, 0.0, W as f32, H as f32)));
        assert_eq!(t.finish().unwrap().frames, 2);
    }
}
