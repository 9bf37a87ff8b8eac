//! Per-frame colour of the lit skin and of the unlit background.
//!
//! The screen is close to the face and far from the background, so its light shows on the
//! skin and hardly at all behind the person; the background carries the ambient light and
//! whatever the camera does globally (gain, exposure, white balance). The scorer takes the
//! log ratio of the two, which cancels the camera's global changes.
//!
//! Skin is sampled in small patches at face-mesh points on the forehead, cheeks and nose:
//! flat, usually uncovered skin facing the screen (eyes, brows, lips and beard areas are
//! avoided). Both regions are subsampled so a 640×480 frame costs a few thousand pixel reads
//! (at most [`MAX_SKIN_READS`] + [`MAX_REFERENCE_READS`]), far under a millisecond.

use serde::{Deserialize, Serialize};

use crate::frame::FrameRef;
use crate::imgproc::BBox;

/// Forehead points of the MediaPipe face mesh.
pub const FOREHEAD: [usize; 5] = [10, 151, 9, 108, 337];
/// Cheek points (both sides).
pub const CHEEKS: [usize; 6] = [50, 280, 117, 346, 205, 425];
/// Nose bridge and tip.
pub const NOSE: [usize; 3] = [4, 5, 195];
/// Smallest face (box side, px) measured: below it a patch is a pixel or two and the skin mean
/// is dominated by noise and compression.
pub const MIN_FACE_PX: f32 = 40.0;
/// Patch half-side as a fraction of the face size (3 %: ~6 px on a 200 px face, well inside
/// the forehead and cheeks).
const PATCH_FRACTION: f32 = 0.03;
/// At most this many samples along a patch side.
const PATCH_SIDE_SAMPLES: usize = 7;
/// Upper bound of skin pixel reads per frame.
pub const MAX_SKIN_READS: usize = 14 * PATCH_SIDE_SAMPLES * PATCH_SIDE_SAMPLES;
/// Reference grid cells along the longer frame side.
const GRID_CELLS: u32 = 32;
/// Upper bound of reference pixel reads per frame.
pub const MAX_REFERENCE_READS: usize = (GRID_CELLS * GRID_CELLS) as usize;
/// The face box is expanded this much before the background is sampled outside it (hair,
/// ears, neck and shoulders also catch screen light).
pub const REFERENCE_EXCLUSION: f32 = 1.6;
/// Fewest background samples for a usable reference.
const MIN_REFERENCE_PIXELS: u32 = 8;
/// Fewest skin samples for a usable skin mean.
const MIN_SKIN_PIXELS: u32 = 8;
/// A channel value at or above this counts as clipped.
pub const CLIP_LEVEL: u8 = 250;

/// One frame's measurement.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LightSample {
    /// Frame time on the recording's time base (ms).
    pub t_ms: f64,
    /// Mean sRGB (0–255) of the skin patches.
    pub skin: [f32; 3],
    /// Mean sRGB (0–255) of the background grid outside the expanded face box.
    pub reference: [f32; 3],
    /// Skin pixels averaged.
    pub skin_pixels: u32,
    /// Fraction of skin pixels with a channel >= 250.
    pub clipped: f32,
}

/// `points` are the 478 MediaPipe face-mesh points in image pixels (x, y, z) as in
/// crate::landmarks::FaceLandmarks::points; `face` is the face box (crate::imgproc::BBox, the
/// type crate::detect's faces carry). None when the face is too small/outside the frame or the
/// reference region is empty.
pub fn measure(
    frame: &FrameRef,
    t_ms: f64,
    points: &[[f32; 3]],
    face: &BBox,
) -> Option<LightSample> {
    let (w, h) = (frame.width(), frame.height());
    let (wf, hf) = (w as f32, h as f32);
    if ![face.x1, face.y1, face.x2, face.y2]
        .iter()
        .all(|v| v.is_finite())
    {
        return None;
    }
    let size = face.width().max(face.height());
    if face.width().min(face.height()) < MIN_FACE_PX {
        return None;
    }
    let [cx, cy] = face.center();
    if !(cx >= 0.0 && cx < wf && cy >= 0.0 && cy < hf) {
        return None;
    }
    let visible = face.clamp_to(wf, hf).area();
    if visible < 0.5 * face.area() {
        return None;
    }

    let (skin, skin_pixels, clipped) = skin_mean(frame, points, size)?;
    let reference = reference_mean(frame, face)?;
    Some(LightSample {
        t_ms,
        skin,
        reference,
        skin_pixels,
        clipped,
    })
}

fn skin_mean(frame: &FrameRef, points: &[[f32; 3]], size: f32) -> Option<([f32; 3], u32, f32)> {
    let (w, h) = (frame.width() as i64, frame.height() as i64);
    let half = ((size * PATCH_FRACTION).round() as i64).max(1);
    let side = 2 * half + 1;
    let stride = ((side + PATCH_SIDE_SAMPLES as i64 - 1) / PATCH_SIDE_SAMPLES as i64).max(1);
    let mut sum = [0u64; 3];
    let mut n = 0u32;
    let mut clipped = 0u32;
    for &index in FOREHEAD.iter().chain(&CHEEKS).chain(&NOSE) {
        let Some(&[px, py, _]) = points.get(index) else {
            continue;
        };
        if !(px.is_finite() && py.is_finite()) {
            continue;
        }
        // Far-off points are simply outside the frame; the clamp keeps the casts sane.
        let (px, py) = (
            px.clamp(-1e6, 1e6).floor() as i64,
            py.clamp(-1e6, 1e6).floor() as i64,
        );
        let mut y = py - half;
        while y <= py + half {
            let mut x = px - half;
            while x <= px + half {
                if x >= 0 && y >= 0 && x < w && y < h {
                    let p = frame.rgb_at(x as usize, y as usize);
                    for c in 0..3 {
                        sum[c] += p[c] as u64;
                    }
                    if p.iter().any(|&v| v >= f32::from(CLIP_LEVEL)) {
                        clipped += 1;
                    }
                    n += 1;
                }
                x += stride;
            }
            y += stride;
        }
    }
    if n < MIN_SKIN_PIXELS {
        return None;
    }
    let mean = sum.map(|s| (s as f64 / f64::from(n)) as f32);
    Some((mean, n, clipped as f32 / n as f32))
}

fn reference_mean(frame: &FrameRef, face: &BBox) -> Option<[f32; 3]> {
    let (w, h) = (frame.width(), frame.height());
    let [cx, cy] = face.center();
    let hw = face.width() * REFERENCE_EXCLUSION * 0.5;
    let hh = face.height() * REFERENCE_EXCLUSION * 0.5;
    let step = (w.max(h) / GRID_CELLS).max(1);
    let mut sum = [0u64; 3];
    let mut n = 0u32;
    let mut y = step / 2;
    while y < h {
        let yc = y as f32 + 0.5;
        let row_inside = (yc - cy).abs() <= hh;
        let mut x = step / 2;
        while x < w {
            let xc = x as f32 + 0.5;
            if !(row_inside && (xc - cx).abs() <= hw) {
                let p = frame.rgb_at(x as usize, y as usize);
                for c in 0..3 {
                    sum[c] += p[c] as u64;
                }
                n += 1;
            }
            x += step;
        }
        y += step;
    }
    if n < MIN_REFERENCE_PIXELS {
        return None;
    }
    Some(sum.map(|s| (s as f64 / f64::from(n)) as f32))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frame::PixelFormat;

    /// A grey 640×480 frame with a skin-coloured square face and mesh points on it.
    fn scene(format: PixelFormat) -> (Vec<u8>, Vec<[f32; 3]>, BBox) {
        let (w, h) = (640usize, 480usize);
        let ch = format.channels();
        let mut data = vec![0u8; w * h * ch];
        let face = BBox {
            x1: 220.0,
            y1: 140.0,
            x2: 420.0,
            y2: 340.0,
        };
        for y in 0..h {
            for x in 0..w {
                let inside = (x as f32) >= face.x1
                    && (x as f32) < face.x2
                    && (y as f32) >= face.y1
                    && (y as f32) < face.y2;
                let c = if inside {
                    [200, 150, 120]
                } else {
                    [90, 100, 110]
                };
                let i = (y * w + x) * ch;
                data[i..i + 3].copy_from_slice(&c);
                if ch == 4 {
                    data[i + 3] = 255;
                }
            }
        }
        let points = (0..478)
            .map(|i| {
                let a = i as f32 * 2.399_963;
                let r = 80.0 * ((i as f32 + 0.5) / 478.0).sqrt();
                [320.0 + r * a.cos(), 240.0 + r * a.sin(), 0.0]
            })
            .collect();
        (data, points, face)
    }

    #[test]
    fn light_measure_skin_and_reference_rgb_and_rgba() {
        let (rgb, points, face) = scene(PixelFormat::Rgb8);
        let frame = FrameRef::new(640, 480, PixelFormat::Rgb8, &rgb).expect("frame");
        let s = measure(&frame, 12.5, &points, &face).expect("measured");
        assert_eq!(s.t_ms, 12.5);
        assert_eq!(s.skin, [200.0, 150.0, 120.0]);
        assert_eq!(s.reference, [90.0, 100.0, 110.0]);
        assert_eq!(s.clipped, 0.0);
        assert!(s.skin_pixels as usize <= MAX_SKIN_READS && s.skin_pixels >= 14);
        let (rgba, _, _) = scene(PixelFormat::Rgba8);
        let frame = FrameRef::new(640, 480, PixelFormat::Rgba8, &rgba).expect("frame");
        assert_eq!(measure(&frame, 12.5, &points, &face), Some(s));
    }

    #[test]
    fn light_measure_refuses_small_outside_or_hostile_faces() {
        let (rgb, points, face) = scene(PixelFormat::Rgb8);
        let frame = FrameRef::new(640, 480, PixelFormat::Rgb8, &rgb).expect("frame");
        let tiny = BBox {
            x1: 315.0,
            y1: 235.0,
            x2: 325.0,
            y2: 245.0,
        };
        assert_eq!(measure(&frame, 0.0, &points, &tiny), None);
        let outside = BBox {
            x1: 700.0,
            y1: 100.0,
            x2: 900.0,
            y2: 300.0,
        };
        assert_eq!(measure(&frame, 0.0, &points, &outside), None);
        let nan = BBox {
            x1: f32::NAN,
            ..face
        };
        assert_eq!(measure(&frame, 0.0, &points, &nan), None);
        // The whole frame is face: no background left.
        let huge = BBox {
            x1: 0.0,
            y1: 0.0,
            x2: 640.0,
            y2: 480.0,
        };
        assert_eq!(measure(&frame, 0.0, &points, &huge), None);
        // No mesh, NaN mesh, far-away mesh.
        assert_eq!(measure(&frame, 0.0, &[], &face), None);
        let bad = vec![[f32::NAN, f32::INFINITY, 0.0]; 478];
        assert_eq!(measure(&frame, 0.0, &bad, &face), None);
        let far = vec![[1e30, -1e30, 0.0]; 478];
        assert_eq!(measure(&frame, 0.0, &far, &face), None);
        // NaN time is carried, not judged here.
        assert!(measure(&frame, f64::NAN, &points, &face).is_some());
    }

    #[test]
    fn light_measure_counts_clipped_skin() {
        let (mut rgb, points, face) = scene(PixelFormat::Rgb8);
        for px in rgb.chunks_exact_mut(3) {
            if px == [200, 150, 120] {
                px.copy_from_slice(&[255, 240, 230]);
            }
        }
        let frame = FrameRef::new(640, 480, PixelFormat::Rgb8, &rgb).expect("frame");
        let s = measure(&frame, 0.0, &points, &face).expect("measured");
        assert_eq!(s.clipped, 1.0);
    }
}
