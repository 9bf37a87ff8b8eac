//! Geometry and the one crop sampler every model uses.
//!
//! Each model wants a different crop (letterboxed frame, rotated square, 5-point aligned face,
//! scaled box) in a different colour order and scale. Instead of resize → rotate → convert →
//! transpose passes, [`sample_tensor`] walks the output tensor once, maps each output pixel
//! through an affine transform into the source frame, samples bilinearly, normalises and
//! writes NCHW. That is one pass and one allocation per model input, in the browser too.
//!
//! Coordinates are continuous: pixel `(i, j)` covers `[i, i+1) × [j, j+1)`, so its centre is
//! `(i + 0.5, j + 0.5)`. Boxes, keypoints and landmarks all use this convention.

use serde::{Deserialize, Serialize};
use tract_onnx::prelude::*;

use crate::frame::FrameRef;

/// A 2-D point in frame pixels.
pub type Point = [f32; 2];

/// An axis-aligned box `(x1, y1)`–`(x2, y2)` in frame pixels.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct BBox {
    pub x1: f32,
    pub y1: f32,
    pub x2: f32,
    pub y2: f32,
}

impl BBox {
    /// Width.
    pub fn width(&self) -> f32 {
        (self.x2 - self.x1).max(0.0)
    }
    /// Height.
    pub fn height(&self) -> f32 {
        (self.y2 - self.y1).max(0.0)
    }
    /// Centre point.
    pub fn center(&self) -> Point {
        [(self.x1 + self.x2) * 0.5, (self.y1 + self.y2) * 0.5]
    }
    /// Area.
    pub fn area(&self) -> f32 {
        self.width() * self.height()
    }
    /// Intersection over union.
    pub fn iou(&self, other: &BBox) -> f32 {
        let ix = (self.x2.min(other.x2) - self.x1.max(other.x1)).max(0.0);
        let iy = (self.y2.min(other.y2) - self.y1.max(other.y1)).max(0.0);
        let inter = ix * iy;
        let union = self.area() + other.area() - inter;
        if union <= 0.0 {
            0.0
        } else {
            inter / union
        }
    }
    /// A square box of side `factor × max(w, h)` around the same centre.
    pub fn square_scaled(&self, factor: f32) -> BBox {
        let [cx, cy] = self.center();
        let half = self.width().max(self.height()) * factor * 0.5;
        BBox {
            x1: cx - half,
            y1: cy - half,
            x2: cx + half,
            y2: cy + half,
        }
    }
    /// The part of the box inside a `w × h` frame.
    pub fn clamp_to(&self, w: f32, h: f32) -> BBox {
        BBox {
            x1: self.x1.clamp(0.0, w),
            y1: self.y1.clamp(0.0, h),
            x2: self.x2.clamp(0.0, w),
            y2: self.y2.clamp(0.0, h),
        }
    }
}

/// Maps output (crop) coordinates to source (frame) coordinates:
/// `sx = a·x + b·y + c`, `sy = d·x + e·y + f`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Affine {
    pub a: f32,
    pub b: f32,
    pub c: f32,
    pub d: f32,
    pub e: f32,
    pub f: f32,
}

impl Affine {
    /// Axis-aligned: crop `(0,0)-(out_w,out_h)` covers frame box `src`.
    pub fn from_box(src: &BBox, out_w: usize, out_h: usize) -> Self {
        let sx = src.width() / out_w as f32;
        let sy = src.height() / out_h as f32;
        Affine {
            a: sx,
            b: 0.0,
            c: src.x1,
            d: 0.0,
            e: sy,
            f: src.y1,
        }
    }

    /// Uniform scale from the origin (letterboxing: output pixel `p` ↦ frame `p / scale`).
    pub fn scale(scale: f32) -> Self {
        Affine {
            a: 1.0 / scale,
            b: 0.0,
            c: 0.0,
            d: 0.0,
            e: 1.0 / scale,
            f: 0.0,
        }
    }

    /// A square crop of side `side` frame pixels centred on `center`, rotated by `angle`
    /// radians (the crop's x axis points along `(cos, sin)` in the frame), sampled at `out`
    /// pixels.
    pub fn rotated_square(center: Point, side: f32, angle: f32, out: usize) -> Self {
        let s = side / out as f32;
        let (sin, cos) = angle.sin_cos();
        let half = out as f32 * 0.5;
        // frame = center + R · (crop - half) · s
        let a = cos * s;
        let b = -sin * s;
        let d = sin * s;
        let e = cos * s;
        Affine {
            a,
            b,
            c: center[0] - a * half - b * half,
            d,
            e,
            f: center[1] - d * half - e * half,
        }
    }

    /// The least-squares similarity transform (rotation, uniform scale, translation) taking
    /// `from[i]` to `to[i]` (Umeyama's method without reflection, closed form in 2-D).
    pub fn similarity(from: &[Point], to: &[Point]) -> Option<Self> {
        let n = from.len().min(to.len());
        if n < 2 {
            return None;
        }
        let mean = |p: &[Point]| {
            let (sx, sy) = p[..n]
                .iter()
                .fold((0.0, 0.0), |(x, y), q| (x + q[0], y + q[1]));
            [sx / n as f32, sy / n as f32]
        };
        let (mf, mt) = (mean(from), mean(to));
        let (mut dot, mut cross, mut norm) = (0.0f32, 0.0f32, 0.0f32);
        for i in 0..n {
            let (fx, fy) = (from[i][0] - mf[0], from[i][1] - mf[1]);
            let (tx, ty) = (to[i][0] - mt[0], to[i][1] - mt[1]);
            dot += fx * tx + fy * ty;
            cross += fx * ty - fy * tx;
            norm += fx * fx + fy * fy;
        }
        if norm <= f32::EPSILON {
            return None;
        }
        let (ca, sa) = (dot / norm, cross / norm);
        Some(Affine {
            a: ca,
            b: -sa,
            c: mt[0] - ca * mf[0] + sa * mf[1],
            d: sa,
            e: ca,
            f: mt[1] - sa * mf[0] - ca * mf[1],
        })
    }

    /// Applies the transform to a point.
    #[inline(always)]
    pub fn apply(&self, p: Point) -> Point {
        [
            self.a * p[0] + self.b * p[1] + self.c,
            self.d * p[0] + self.e * p[1] + self.f,
        ]
    }

    /// How many source pixels one output pixel spans (the larger axis).
    pub fn footprint(&self) -> f32 {
        (self.a * self.a + self.d * self.d)
            .sqrt()
            .max((self.b * self.b + self.e * self.e).sqrt())
    }
}

/// How a model wants its pixels.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Normalize {
    /// B, G, R in 0–255 (YuNet, MiniFASNet).
    Bgr255,
    /// R, G, B in 0–1 (face mesh, CelebA-Spoof PAD).
    Rgb01,
    /// R, G, B as `(v − mean) · scale` (MobileFaceNet: 127.5, 1/128).
    RgbAffine { mean: f32, scale: f32 },
    /// B, G, R minus per-channel means (VGG/caffe style, HSE age/gender).
    BgrMinusMean([f32; 3]),
    /// One channel of luma scaled to −1…1 (mini-Xception emotion).
    GraySigned,
    /// One channel of luma, 0–255 (quality metrics).
    Gray255,
}

impl Normalize {
    /// Output channels.
    pub fn channels(self) -> usize {
        match self {
            Normalize::GraySigned | Normalize::Gray255 => 1,
            _ => 3,
        }
    }
}

/// What to sample outside the frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Border {
    /// Black (zero before normalisation), as OpenCV's default constant border.
    Zero,
    /// Mirror without repeating the edge pixel (OpenCV `BORDER_REFLECT_101`).
    Reflect101,
}

/// Crop sampling parameters.
#[derive(Debug, Clone, Copy)]
pub struct Sampling {
    pub width: usize,
    pub height: usize,
    pub normalize: Normalize,
    pub border: Border,
    /// Average `n × n` bilinear taps per output pixel when shrinking by more than 2×
    /// (anti-aliasing). Off for models trained on plain bilinear resizes.
    pub antialias: bool,
}

/// Samples `frame` through `map` into a `[1, C, H, W]` f32 tensor.
pub fn sample_tensor(frame: &FrameRef, map: &Affine, s: &Sampling) -> Tensor {
    let data = sample_planar(frame, map, s);
    let c = s.normalize.channels();
    tract_ndarray::Array4::from_shape_vec((1, c, s.height, s.width), data)
        .expect("buffer length is c*h*w by construction")
        .into_tensor()
}

/// Samples into a planar `C × H × W` buffer (see [`sample_tensor`]).
pub fn sample_planar(frame: &FrameRef, map: &Affine, s: &Sampling) -> Vec<f32> {
    let c = s.normalize.channels();
    let plane = s.width * s.height;
    let mut out = vec![0.0f32; c * plane];
    // One bilinear tap already averages a 2×2 block, which is exact area filtering for a 2×
    // shrink; more taps are needed only beyond that.
    let taps = if s.antialias {
        (map.footprint() / 2.0).ceil().clamp(1.0, 4.0) as usize
    } else {
        1
    };
    if taps == 1 && map.b == 0.0 && map.d == 0.0 {
        sample_axis_aligned(frame, map, s, &mut out);
        return out;
    }
    let step = 1.0 / taps as f32;
    let fw = frame.width() as i64;
    let fh = frame.height() as i64;
    for y in 0..s.height {
        for x in 0..s.width {
            let mut acc = [0.0f32; 3];
            for ty in 0..taps {
                for tx in 0..taps {
                    let px = x as f32 + (tx as f32 + 0.5) * step;
                    let py = y as f32 + (ty as f32 + 0.5) * step;
                    let [sx, sy] = map.apply([px, py]);
                    let rgb = bilinear(frame, sx - 0.5, sy - 0.5, fw, fh, s.border);
                    acc[0] += rgb[0];
                    acc[1] += rgb[1];
                    acc[2] += rgb[2];
                }
            }
            let inv = 1.0 / (taps * taps) as f32;
            let rgb = [acc[0] * inv, acc[1] * inv, acc[2] * inv];
            let i = y * s.width + x;
            write_pixel(&mut out, i, plane, rgb, s.normalize);
        }
    }
    out
}

/// [`sample_planar`] for maps without rotation (letterbox, face boxes, the quality patch): the
/// source column and row of every output pixel are computed once, and interior pixels read
/// their four neighbours from two row slices. The arithmetic is the general path's, in the
/// same order, so both give bit-identical crops.
fn sample_axis_aligned(frame: &FrameRef, map: &Affine, s: &Sampling, out: &mut [f32]) {
    let (fw, fh) = (frame.width() as i64, frame.height() as i64);
    let c = frame.format().channels();
    let row_len = fw as usize * c;
    let data = frame.data();
    let plane = s.width * s.height;
    // Source coordinates as the general path computes them: map.apply(p) − 0.5, b = d = 0.
    let grid = |scale: f32, offset: f32, n: usize, limit: i64| -> Vec<(i64, f32, f32, bool)> {
        (0..n)
            .map(|i| {
                let v = scale * (i as f32 + 0.5) + 0.0 + offset - 0.5;
                let v0 = v.floor();
                let i0 = v0 as i64;
                (i0, v - v0, v, i0 >= 0 && i0 + 1 < limit)
            })
            .collect()
    };
    let cols = grid(map.a, map.c, s.width, fw);
    let rows = grid(map.e, map.f, s.height, fh);
    for (y, &(y0, fy, sy, row_inside)) in rows.iter().enumerate() {
        let (r0, r1) = if row_inside {
            let start = y0 as usize * row_len;
            (
                &data[start..start + row_len],
                &data[start + row_len..start + 2 * row_len],
            )
        } else {
            (&data[..0], &data[..0])
        };
        for (x, &(x0, fx, sx, col_inside)) in cols.iter().enumerate() {
            let rgb = if row_inside && col_inside {
                let i = x0 as usize * c;
                let (a, b) = (&r0[i..i + 2 * c], &r1[i..i + 2 * c]);
                let mut o = [0.0f32; 3];
                for (k, v) in o.iter_mut().enumerate() {
                    let (p00, p10) = (a[k] as f32, a[c + k] as f32);
                    let (p01, p11) = (b[k] as f32, b[c + k] as f32);
                    let top = p00 + (p10 - p00) * fx;
                    let bot = p01 + (p11 - p01) * fx;
                    *v = top + (bot - top) * fy;
                }
                o
            } else {
                bilinear(frame, sx, sy, fw, fh, s.border)
            };
            write_pixel(out, y * s.width + x, plane, rgb, s.normalize);
        }
    }
}

#[inline(always)]
fn write_pixel(out: &mut [f32], i: usize, plane: usize, [r, g, b]: [f32; 3], n: Normalize) {
    match n {
        Normalize::Bgr255 => {
            out[i] = b;
            out[plane + i] = g;
            out[2 * plane + i] = r;
        }
        Normalize::Rgb01 => {
            out[i] = r / 255.0;
            out[plane + i] = g / 255.0;
            out[2 * plane + i] = b / 255.0;
        }
        Normalize::RgbAffine { mean, scale } => {
            out[i] = (r - mean) * scale;
            out[plane + i] = (g - mean) * scale;
            out[2 * plane + i] = (b - mean) * scale;
        }
        Normalize::BgrMinusMean(m) => {
            out[i] = b - m[0];
            out[plane + i] = g - m[1];
            out[2 * plane + i] = r - m[2];
        }
        Normalize::GraySigned => {
            let l = (0.2989 * r + 0.587 * g + 0.114 * b) / 255.0;
            out[i] = (l - 0.5) * 2.0;
        }
        Normalize::Gray255 => out[i] = 0.2989 * r + 0.587 * g + 0.114 * b,
    }
}

/// Bilinear sample at index coordinates (pixel centres on integers).
#[inline(always)]
fn bilinear(frame: &FrameRef, x: f32, y: f32, w: i64, h: i64, border: Border) -> [f32; 3] {
    let x0f = x.floor();
    let y0f = y.floor();
    let fx = x - x0f;
    let fy = y - y0f;
    let x0 = x0f as i64;
    let y0 = y0f as i64;
    if x0 >= 0 && y0 >= 0 && x0 + 1 < w && y0 + 1 < h {
        // Fast path: all four neighbours inside the frame (nearly every tap).
        let c = frame.format().channels();
        let data = frame.data();
        let row = w as usize * c;
        let i = y0 as usize * row + x0 as usize * c;
        let mut o = [0.0f32; 3];
        for (k, out) in o.iter_mut().enumerate() {
            let p00 = data[i + k] as f32;
            let p10 = data[i + c + k] as f32;
            let p01 = data[i + row + k] as f32;
            let p11 = data[i + row + c + k] as f32;
            let top = p00 + (p10 - p00) * fx;
            let bot = p01 + (p11 - p01) * fx;
            *out = top + (bot - top) * fy;
        }
        return o;
    }
    let p00 = fetch(frame, x0, y0, w, h, border);
    let p10 = fetch(frame, x0 + 1, y0, w, h, border);
    let p01 = fetch(frame, x0, y0 + 1, w, h, border);
    let p11 = fetch(frame, x0 + 1, y0 + 1, w, h, border);
    let mut o = [0.0f32; 3];
    for k in 0..3 {
        let top = p00[k] + (p10[k] - p00[k]) * fx;
        let bot = p01[k] + (p11[k] - p01[k]) * fx;
        o[k] = top + (bot - top) * fy;
    }
    o
}

#[inline(always)]
fn fetch(frame: &FrameRef, x: i64, y: i64, w: i64, h: i64, border: Border) -> [f32; 3] {
    if x >= 0 && y >= 0 && x < w && y < h {
        return frame.rgb_at(x as usize, y as usize);
    }
    match border {
        Border::Zero => [0.0; 3],
        Border::Reflect101 => frame.rgb_at(reflect101(x, w), reflect101(y, h)),
    }
}

fn reflect101(mut i: i64, n: i64) -> usize {
    if n == 1 {
        return 0;
    }
    let period = 2 * (n - 1);
    i = i.rem_euclid(period);
    if i >= n {
        i = period - i;
    }
    i as usize
}

/// Width and height of [`grey_thumbnail`].
pub const THUMB_W: usize = 32;
pub const THUMB_H: usize = 24;

/// A 32×24 grey thumbnail of the frame (each cell the mean luma of a 4×4 grid of samples in
/// its block), for comparing consecutive frames cheaply: a few hundred pixel reads whatever the
/// frame size.
pub fn grey_thumbnail(frame: &FrameRef) -> [f32; THUMB_W * THUMB_H] {
    const SAMPLES: u32 = 4;
    let (w, h) = (frame.width(), frame.height());
    let channels = frame.format().channels();
    let data = frame.data();
    let mut out = [0f32; THUMB_W * THUMB_H];
    for (cy, row) in out.chunks_exact_mut(THUMB_W).enumerate() {
        for (cx, cell) in row.iter_mut().enumerate() {
            let mut sum = 0f32;
            for sy in 0..SAMPLES {
                let y = ((cy as u32 * SAMPLES + sy) * h + h / 2) / (THUMB_H as u32 * SAMPLES);
                for sx in 0..SAMPLES {
                    let x = ((cx as u32 * SAMPLES + sx) * w + w / 2) / (THUMB_W as u32 * SAMPLES);
                    let i = (y.min(h - 1) as usize * w as usize + x.min(w - 1) as usize) * channels;
                    let p = &data[i..i + 3];
                    sum +=
                        0.299 * f32::from(p[0]) + 0.587 * f32::from(p[1]) + 0.114 * f32::from(p[2]);
                }
            }
            *cell = sum / (SAMPLES * SAMPLES) as f32;
        }
    }
    out
}

/// Mean absolute difference of two thumbnails, grey levels.
pub fn thumbnail_change(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| (x - y).abs()).sum::<f32>() / a.len().max(1) as f32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn similarity_recovers_a_known_transform() {
        let t = Affine {
            a: 0.8,
            b: -0.6,
            c: 10.0,
            d: 0.6,
            e: 0.8,
            f: -4.0,
        };
        let from = [[0.0, 0.0], [10.0, 0.0], [0.0, 10.0], [7.0, 3.0]];
        let to: Vec<Point> = from.iter().map(|p| t.apply(*p)).collect();
        let s = Affine::similarity(&from, &to).unwrap();
        for (p, q) in from.iter().zip(&to) {
            let r = s.apply(*p);
            assert!((r[0] - q[0]).abs() < 1e-4 && (r[1] - q[1]).abs() < 1e-4);
        }
    }

    #[test]
    fn reflect101_matches_opencv() {
        // OpenCV BORDER_REFLECT_101 on 5 pixels: gfedcb|abcdefgh|gfedcba → -2 ↦ 2, 5 ↦ 3
        assert_eq!(reflect101(-2, 5), 2);
        assert_eq!(reflect101(5, 5), 3);
        assert_eq!(reflect101(0, 1), 0);
    }

    #[test]
    fn the_axis_aligned_path_equals_the_general_one_bit_for_bit() {
        let (w, h) = (37u32, 23u32);
        let data: Vec<u8> = (0..w * h * 4).map(|v| (v * 7919 % 251) as u8).collect();
        let frame = FrameRef::new(w, h, crate::frame::PixelFormat::Rgba8, &data).unwrap();
        let s = Sampling {
            width: 19,
            height: 13,
            normalize: Normalize::Rgb01,
            border: Border::Reflect101,
            antialias: false,
        };
        // Boxes inside, across and beyond the edges, shrinking and enlarging.
        for b in [
            [3.0, 2.0, 30.0, 20.0],
            [-5.0, -4.0, 40.0, 30.0],
            [10.5, 7.25, 14.0, 9.0],
        ] {
            let map = Affine::from_box(
                &BBox {
                    x1: b[0],
                    y1: b[1],
                    x2: b[2],
                    y2: b[3],
                },
                19,
                13,
            );
            let fast = sample_planar(&frame, &map, &s);
            // The general path, written out.
            let mut slow = vec![0.0f32; fast.len()];
            let (fw, fh) = (w as i64, h as i64);
            for y in 0..13 {
                for x in 0..19 {
                    let [sx, sy] = map.apply([x as f32 + 0.5, y as f32 + 0.5]);
                    let rgb = bilinear(&frame, sx - 0.5, sy - 0.5, fw, fh, s.border);
                    write_pixel(&mut slow, y * 19 + x, 19 * 13, rgb, s.normalize);
                }
            }
            assert_eq!(fast, slow, "{b:?}");
        }
    }

    #[test]
    fn sampling_identity_reproduces_pixels() {
        let data: Vec<u8> = (0..4 * 3 * 3).map(|v| v as u8).collect();
        let frame = FrameRef::new(4, 3, crate::frame::PixelFormat::Rgb8, &data).unwrap();
        let s = Sampling {
            width: 4,
            height: 3,
            normalize: Normalize::Bgr255,
            border: Border::Zero,
            antialias: false,
        };
        let out = sample_planar(&frame, &Affine::scale(1.0), &s);
        // B plane, pixel (1, 2): byte index (2*4+1)*3 + 2
        assert_eq!(out[2 * 4 + 1], ((2 * 4 + 1) * 3 + 2) as f32);
    }
}
