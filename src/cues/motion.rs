//! Face motion against its surround.
//!
//! A held photo, or a phone or monitor replaying a video, is one flat object: when it moves,
//! the face shown on it and the area around the face (the displayed background, the print's or
//! the screen's border) move together. A live face moves against a background that stays
//! still, or moves differently. Per consecutive pair of analysed frames, [`MotionTracker`]
//! measures the face's displacement and the displacement of a ring around it by block matching
//! on a small grey copy of the region, and [`MotionTracker::finish`] sums them up into a
//! [`MotionCue`]: how much of the face's motion its surround shares.
//!
//! How one pair is measured:
//!
//! - The region (the face box scaled by [`RING_OUTER`] about its centre, plus a search margin)
//!   is sampled into a grey grid whose cells are `step` frame pixels, `step` chosen so the face
//!   spans about [`FACE_CELLS`] cells (at most 2 × 2 pixel reads a cell). The grid is aligned on
//!   the frame, so consecutive frames at the same `step` share it and only the current frame is
//!   sampled on each call.
//! - Blocks of [`BLOCK`] × [`BLOCK`] cells of the previous frame are searched in the current one
//!   within ±[`SEARCH`] cells (sum of absolute differences, sub-cell parabola). Face blocks tile
//!   the face box; surround blocks tile the ring between [`RING_INNER`] and [`RING_OUTER`] times
//!   the box, beside and above the face only: the torso below the chin moves with the head and
//!   would read as a "rigid" surround on a live person.
//! - Blocks without texture in both directions (the smaller eigenvalue of their gradient
//!   structure tensor under [`MIN_TEXTURE`]) are dropped, so are blocks whose best match lies on
//!   the edge of the search window (motion out of range). Each side's displacement is the
//!   component-wise median of its block vectors, from at least [`MIN_BLOCKS`] blocks.
//!
//! The session cue: `coupling = 1 − Σ|f − s| / Σ|f|` over the pairs in which the face moved at
//! least [`MIN_STEP_FRACTION`] of its size (and [`MIN_STEP_PX`]), clamped to [0, 1]: 1 when the
//! surround follows the face exactly, 0 when it stays still (or moves the other way). With
//! fewer than [`MIN_MOVING_PAIRS`] such pairs the face barely moved and the cue cannot judge:
//! `coupling` is [`Coupling::NotEnoughMotion`] ([`Coupling::NoSurround`] when no pair had a
//! surround displacement at all).
//!
//! What it cannot tell: a hand-held camera moves the whole image, face and background alike,
//! so a live selfie shot on a shaking phone couples too; and a replayed video whose face moves
//! against its own recorded background decouples like a live face unless the screen itself
//! moves. See [`super`] for what was measured.

use serde::{Deserialize, Serialize};

use super::{luma, median};
use crate::frame::FrameRef;
use crate::imgproc::BBox;

/// Grid cells across the face box's larger side (the grid step is the box side over this,
/// rounded to whole pixels, at least 1).
pub const FACE_CELLS: f32 = 40.0;
/// Block side, cells.
pub const BLOCK: usize = 8;
/// Search radius, cells (±8 cells: a fifth of the face's size per analysed frame).
pub const SEARCH: i32 = 8;
/// The ring around the face starts at this multiple of the box (hair, ears and the box's slack
/// are inside it) ...
pub const RING_INNER: f32 = 1.3;
/// ... and ends at this one.
pub const RING_OUTER: f32 = 2.2;
/// Smallest face box side measured, frame pixels.
pub const MIN_FACE_PX: f32 = 24.0;
/// Smallest gradient structure-tensor eigenvalue (grey levels² per cell) of a usable block:
/// texture in both directions, above compression noise (a flat wall or a straight edge
/// cannot be matched).
pub const MIN_TEXTURE: f32 = 6.0;
/// Fewest matched blocks for a face or surround displacement.
pub const MIN_BLOCKS: usize = 3;
/// Most face blocks matched per pair (the most textured).
pub const MAX_FACE_BLOCKS: usize = 16;
/// Most surround blocks matched per pair (the most textured).
pub const MAX_RING_BLOCKS: usize = 24;
/// A pair counts as moving when the face moved at least this fraction of its box side ...
pub const MIN_STEP_FRACTION: f32 = 0.01;
/// ... and at least this many frame pixels.
pub const MIN_STEP_PX: f32 = 0.5;
/// Fewest moving pairs for a coupling.
pub const MIN_MOVING_PAIRS: usize = 3;

/// One pair of consecutive analysed frames.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct MotionPair {
    /// The face's displacement from the previous frame, frame pixels (`None`: fewer than
    /// [`MIN_BLOCKS`] textured face blocks matched).
    pub face: Option<[f32; 2]>,
    /// The surround's displacement, frame pixels (`None`: fewer than [`MIN_BLOCKS`] textured
    /// ring blocks matched, e.g. the ring is outside the frame).
    pub surround: Option<[f32; 2]>,
    /// Face blocks and surround blocks matched.
    pub face_blocks: usize,
    pub surround_blocks: usize,
    /// The previous frame's face box side (the larger of width and height), frame pixels.
    pub face_side_px: f32,
}

/// What a recording shows about its face's motion against the surround.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct MotionCue {
    /// Pairs with both a face and a surround displacement.
    pub pairs: usize,
    /// Of those, the pairs in which the face moved enough to judge (see [`MIN_STEP_FRACTION`]).
    pub moving_pairs: usize,
    /// Median face box side over the pairs, frame pixels.
    pub face_side_px: f32,
    /// Median face displacement per pair, frame pixels.
    pub face_motion_px: f32,
    /// Median surround displacement per pair, frame pixels.
    pub surround_motion_px: f32,
    /// Median displacement of the face relative to its surround, |face − surround|, frame
    /// pixels per pair (≈ 0 for a rigid plane, ≈ the face's motion over a still background).
    pub residual_px: f32,
    /// How much of the face's motion the surround shares, or why that cannot be told.
    pub coupling: Coupling,
}

/// The coupling of the surround's motion to the face's, or why there is none.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum Coupling {
    /// No pair had both displacements: the ring around the face is outside the frame (a
    /// tightly cropped face) or has no texture to match.
    NoSurround,
    /// The face moved in fewer than [`MIN_MOVING_PAIRS`] pairs: it barely moved, and the cue
    /// makes no judgement.
    NotEnoughMotion,
    /// The share of the face's motion the surround follows over the moving pairs, in [0, 1]:
    /// ≈ 1 for a rigid plane (a print or a screen moved as a whole), ≈ 0 for a face moving in
    /// front of a still background.
    Measured { coupling: f32 },
}

impl Coupling {
    /// The measured coupling, if any.
    pub fn value(&self) -> Option<f32> {
        match self {
            Coupling::Measured { coupling } => Some(*coupling),
            _ => None,
        }
    }
}

/// The previous frame's grey grid over its region.
#[derive(Debug, Clone)]
struct Patch {
    /// Frame pixels per cell.
    step: u32,
    /// Region origin, cells (the grid is aligned on the frame: cell `(cx, cy)` covers pixels
    /// `[cx·step, (cx+1)·step) × [cy·step, (cy+1)·step)`).
    x0: i32,
    y0: i32,
    w: usize,
    h: usize,
    grey: Vec<u8>,
    /// The face box of this frame, frame pixels.
    face: BBox,
}

impl Patch {
    #[inline(always)]
    fn row(&self, cx: i32, cy: i32, len: usize) -> &[u8] {
        let i = (cy - self.y0) as usize * self.w + (cx - self.x0) as usize;
        &self.grey[i..i + len]
    }

    /// Whether the block at `(cx, cy)` (cells) lies inside the region.
    fn holds(&self, cx: i32, cy: i32) -> bool {
        cx >= self.x0
            && cy >= self.y0
            && cx + BLOCK as i32 <= self.x0 + self.w as i32
            && cy + BLOCK as i32 <= self.y0 + self.h as i32
    }
}

/// Streams analysed frames with their face box and measures face and surround motion between
/// consecutive ones. Cheap: one grey grid of about 100 × 120 cells sampled per frame (at most
/// four pixel reads a cell) and up to 40 blocks searched over ±8 cells.
#[derive(Debug, Clone, Default)]
pub struct MotionTracker {
    prev: Option<Patch>,
    pairs: Vec<MotionPair>,
}

impl MotionTracker {
    /// An empty tracker.
    pub fn new() -> Self {
        Self::default()
    }

    /// The next analysed frame and its face box (`None`: no face, which breaks the chain; the
    /// next pair starts at the next frame with a face). Returns the pair this frame closes,
    /// if any was measured.
    pub fn push(&mut self, frame: &FrameRef, face: Option<&BBox>) -> Option<MotionPair> {
        let Some(face) = face else {
            self.prev = None;
            return None;
        };
        let step = self.step_for(face);
        let cur = step.and_then(|s| sample_region(frame, face, s));
        let pair = match (&self.prev, &cur) {
            (Some(p), Some(c)) if p.step == c.step => Some(measure_pair(p, c)),
            _ => None,
        };
        self.prev = cur;
        if let Some(p) = pair {
            self.pairs.push(p);
        }
        pair
    }

    /// Forgets the previous frame (a gap in the stream).
    pub fn reset(&mut self) {
        self.prev = None;
    }

    /// Every pair measured so far.
    pub fn pairs(&self) -> &[MotionPair] {
        &self.pairs
    }

    /// The session cue over every pair pushed so far.
    pub fn finish(&self) -> MotionCue {
        summarise(&self.pairs)
    }

    /// The grid step for this box: its side over [`FACE_CELLS`], kept from the previous frame
    /// while within 0.75 of it (so a box breathing by a few pixels does not change the grid and
    /// lose the pair). `None` for a box too small or not finite.
    fn step_for(&self, face: &BBox) -> Option<u32> {
        let side = face.width().max(face.height());
        if !side.is_finite() || side < MIN_FACE_PX || !face.x1.is_finite() || !face.y1.is_finite() {
            return None;
        }
        let ideal = side / FACE_CELLS;
        if let Some(p) = &self.prev {
            if (ideal - p.step as f32).abs() < 0.75 {
                return Some(p.step);
            }
        }
        Some((ideal.round() as u32).clamp(1, 4096))
    }
}

/// The session cue from measured pairs (see [`MotionCue`]).
pub fn summarise(pairs: &[MotionPair]) -> MotionCue {
    /// A pair with both displacements.
    struct Both {
        face: [f32; 2],
        surround: [f32; 2],
        side: f32,
    }
    fn norm(v: [f32; 2]) -> f32 {
        v[0].hypot(v[1])
    }
    fn residual(p: &Both) -> f32 {
        norm([p.face[0] - p.surround[0], p.face[1] - p.surround[1]])
    }
    let both: Vec<Both> = pairs
        .iter()
        .filter_map(|p| {
            Some(Both {
                face: p.face?,
                surround: p.surround?,
                side: p.face_side_px,
            })
        })
        .collect();
    let med = |f: fn(&Both) -> f32| {
        let mut v: Vec<f32> = both.iter().map(f).collect();
        median(&mut v).unwrap_or(0.0)
    };
    let moving: Vec<&Both> = both
        .iter()
        .filter(|p| norm(p.face) >= (MIN_STEP_FRACTION * p.side).max(MIN_STEP_PX))
        .collect();
    let coupling = if both.is_empty() {
        Coupling::NoSurround
    } else if moving.len() < MIN_MOVING_PAIRS {
        Coupling::NotEnoughMotion
    } else {
        let path: f32 = moving.iter().map(|p| norm(p.face)).sum();
        let off: f32 = moving.iter().map(|p| residual(p)).sum();
        Coupling::Measured {
            coupling: (1.0 - off / path).clamp(0.0, 1.0),
        }
    };
    MotionCue {
        pairs: both.len(),
        moving_pairs: moving.len(),
        face_side_px: med(|p| p.side),
        face_motion_px: med(|p| norm(p.face)),
        surround_motion_px: med(|p| norm(p.surround)),
        residual_px: med(residual),
        coupling,
    }
}

/// The box scaled by `k` about its centre (each side separately).
fn scaled(b: &BBox, k: f32) -> BBox {
    let [cx, cy] = b.center();
    let (hw, hh) = (b.width() * k * 0.5, b.height() * k * 0.5);
    BBox {
        x1: cx - hw,
        y1: cy - hh,
        x2: cx + hw,
        y2: cy + hh,
    }
}

/// Samples the region of `face` (the outer ring box plus the search margin) into a grey grid
/// of `step`-pixel cells, clipped to the cells lying wholly inside the frame. `None` when the
/// clipped region cannot hold a block.
fn sample_region(frame: &FrameRef, face: &BBox, step: u32) -> Option<Patch> {
    let s = step as f32;
    let ncx = (frame.width() / step) as i32;
    let ncy = (frame.height() / step) as i32;
    let outer = scaled(face, RING_OUTER);
    let clamp_x = |v: f32| (v.clamp(-1e6, 1e6) as i32).clamp(0, ncx);
    let clamp_y = |v: f32| (v.clamp(-1e6, 1e6) as i32).clamp(0, ncy);
    let x0 = clamp_x((outer.x1 / s).floor() - SEARCH as f32);
    let x1 = clamp_x((outer.x2 / s).ceil() + SEARCH as f32);
    let y0 = clamp_y((outer.y1 / s).floor() - SEARCH as f32);
    let y1 = clamp_y((outer.y2 / s).ceil() + SEARCH as f32);
    let (w, h) = ((x1 - x0).max(0) as usize, (y1 - y0).max(0) as usize);
    if w < BLOCK + 2 || h < BLOCK + 2 {
        return None;
    }
    let taps = step.min(2) as usize;
    // Tap offsets inside a cell: the cell's centre (1 tap) or its quarter points (2 taps).
    let offs: Vec<usize> = (0..taps)
        .map(|t| ((2 * t + 1) * step as usize) / (2 * taps))
        .collect();
    let (fw, data, c) = (
        frame.width() as usize,
        frame.data(),
        frame.format().channels(),
    );
    let mut grey = vec![0u8; w * h];
    let inv = 1.0 / (taps * taps) as f32;
    for (j, row) in grey.chunks_exact_mut(w).enumerate() {
        let base_y = (y0 as usize + j) * step as usize;
        for (i, cell) in row.iter_mut().enumerate() {
            let base_x = (x0 as usize + i) * step as usize;
            let mut sum = 0.0f32;
            for oy in &offs {
                let line = (base_y + oy) * fw;
                for ox in &offs {
                    let k = (line + base_x + ox) * c;
                    sum += luma(data[k], data[k + 1], data[k + 2]);
                }
            }
            *cell = (sum * inv + 0.5) as u8;
        }
    }
    Some(Patch {
        step,
        x0,
        y0,
        w,
        h,
        grey,
        face: *face,
    })
}

/// Smaller eigenvalue of the block's gradient structure tensor, per cell.
fn texture(p: &Patch, bx: i32, by: i32) -> f32 {
    let (mut sxx, mut syy, mut sxy) = (0.0f32, 0.0f32, 0.0f32);
    for y in 0..BLOCK as i32 - 1 {
        let r0 = p.row(bx, by + y, BLOCK);
        let r1 = p.row(bx, by + y + 1, BLOCK);
        for x in 0..BLOCK - 1 {
            let gx = f32::from(r0[x + 1]) - f32::from(r0[x]);
            let gy = f32::from(r1[x]) - f32::from(r0[x]);
            sxx += gx * gx;
            syy += gy * gy;
            sxy += gx * gy;
        }
    }
    let n = ((BLOCK - 1) * (BLOCK - 1)) as f32;
    let (a, b, c) = (sxx / n, syy / n, sxy / n);
    (a + b) * 0.5 - (((a - b) * 0.5).powi(2) + c * c).sqrt()
}

fn sad(p: &Patch, px: i32, py: i32, c: &Patch, cx: i32, cy: i32) -> u32 {
    let mut total = 0u32;
    for y in 0..BLOCK as i32 {
        let a = p.row(px, py + y, BLOCK);
        let b = c.row(cx, cy + y, BLOCK);
        total += a
            .iter()
            .zip(b)
            .map(|(x, y)| u32::from(x.abs_diff(*y)))
            .sum::<u32>();
    }
    total
}

/// The block's displacement (cells, sub-cell), or `None` when the best match lies on the edge
/// of the search window or of the current region.
fn match_block(p: &Patch, c: &Patch, bx: i32, by: i32) -> Option<[f32; 2]> {
    const SIDE: usize = 2 * SEARCH as usize + 1;
    let mut costs = [u32::MAX; SIDE * SIDE];
    let mut best = (u32::MAX, 0usize, 0usize);
    for (j, dy) in (-SEARCH..=SEARCH).enumerate() {
        for (i, dx) in (-SEARCH..=SEARCH).enumerate() {
            if !c.holds(bx + dx, by + dy) {
                continue;
            }
            let v = sad(p, bx, by, c, bx + dx, by + dy);
            costs[j * SIDE + i] = v;
            if v < best.0 {
                best = (v, i, j);
            }
        }
    }
    let (_, i, j) = best;
    if best.0 == u32::MAX || i == 0 || j == 0 || i == SIDE - 1 || j == SIDE - 1 {
        return None;
    }
    let at = |i: usize, j: usize| costs[j * SIDE + i];
    let (l, r, u, d) = (at(i - 1, j), at(i + 1, j), at(i, j - 1), at(i, j + 1));
    // A neighbour outside the current region: the minimum is on the region's edge.
    if [l, r, u, d].contains(&u32::MAX) {
        return None;
    }
    let sub = |a: u32, m: u32, b: u32| {
        let (a, m, b) = (a as f32, m as f32, b as f32);
        let den = a - 2.0 * m + b;
        if den <= 0.0 {
            0.0
        } else {
            (0.5 * (a - b) / den).clamp(-0.5, 0.5)
        }
    };
    Some([
        i as f32 - SEARCH as f32 + sub(l, best.0, r),
        j as f32 - SEARCH as f32 + sub(u, best.0, d),
    ])
}

/// Block origins (cells) tiling `[lo, hi)` along one axis, centred.
fn tiles(lo: f32, hi: f32) -> impl Iterator<Item = i32> {
    let (lo, hi) = (lo.ceil() as i32, hi.floor() as i32);
    let n = ((hi - lo).max(0) as usize) / BLOCK;
    let start = lo + ((hi - lo) - (n * BLOCK) as i32) / 2;
    (0..n).map(move |k| start + (k * BLOCK) as i32)
}

/// The most textured blocks of `cands` (at most `max`), matched; the median vector in frame
/// pixels and the number of blocks matched.
fn displacement(
    p: &Patch,
    c: &Patch,
    cands: impl Iterator<Item = (i32, i32)>,
    max: usize,
) -> (Option<[f32; 2]>, usize) {
    let mut scored: Vec<(f32, i32, i32)> = cands
        .filter(|&(x, y)| p.holds(x, y))
        .map(|(x, y)| (texture(p, x, y), x, y))
        .filter(|t| t.0 >= MIN_TEXTURE)
        .collect();
    scored.sort_by(|a, b| b.0.total_cmp(&a.0));
    scored.truncate(max);
    let (mut xs, mut ys) = (Vec::new(), Vec::new());
    for &(_, x, y) in &scored {
        if let Some([dx, dy]) = match_block(p, c, x, y) {
            xs.push(dx);
            ys.push(dy);
        }
    }
    let n = xs.len();
    if n < MIN_BLOCKS {
        return (None, n);
    }
    let s = p.step as f32;
    let (mx, my) = (median(&mut xs), median(&mut ys));
    (mx.zip(my).map(|(x, y)| [x * s, y * s]), n)
}

fn measure_pair(p: &Patch, c: &Patch) -> MotionPair {
    let s = p.step as f32;
    let cells = |b: BBox| BBox {
        x1: b.x1 / s,
        y1: b.y1 / s,
        x2: b.x2 / s,
        y2: b.y2 / s,
    };
    let face = cells(p.face);
    let inner = cells(scaled(&p.face, RING_INNER));
    let outer = cells(scaled(&p.face, RING_OUTER));
    let face_blocks = tiles(face.x1, face.x2)
        .flat_map(|x| tiles(face.y1, face.y2).map(move |y| (x, y)))
        .collect::<Vec<_>>();
    let b = BLOCK as f32;
    let ring_blocks = tiles(outer.x1, outer.x2)
        .flat_map(|x| tiles(outer.y1, outer.y2).map(move |y| (x, y)))
        .filter(|&(x, y)| {
            let (x, y) = (x as f32, y as f32);
            let overlaps_inner =
                x < inner.x2 && x + b > inner.x1 && y < inner.y2 && y + b > inner.y1;
            // Beside and above the face only: the body below the chin moves with the head.
            let below_chin = y + b * 0.5 > face.y2;
            !overlaps_inner && !below_chin
        })
        .collect::<Vec<_>>();
    let (fv, fb) = displacement(p, c, face_blocks.into_iter(), MAX_FACE_BLOCKS);
    let (sv, sb) = displacement(p, c, ring_blocks.into_iter(), MAX_RING_BLOCKS);
    MotionPair {
        face: fv,
        surround: sv,
        face_blocks: fb,
        surround_blocks: sb,
        face_side_px: p.face.width().max(p.face.height()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cues::tests::{texture_at, to_rgb};
    use crate::frame::PixelFormat;

    fn to_frame(w: usize, h: usize, rgb: &[u8]) -> FrameRef<'_> {
        FrameRef::new(w as u32, h as u32, PixelFormat::Rgb8, rgb).unwrap()
    }

    const W: usize = 400;
    const H: usize = 300;

    fn face_at(x: f32, y: f32) -> BBox {
        BBox {
            x1: x,
            y1: y,
            x2: x + 80.0,
            y2: y + 96.0,
        }
    }

    /// Runs `frames` frames made by `make(k)` with face box `face(k)` through a tracker.
    fn run(
        n: usize,
        make: impl Fn(usize) -> Vec<u8>,
        face: impl Fn(usize) -> BBox,
    ) -> (MotionCue, Vec<MotionPair>) {
        let mut t = MotionTracker::new();
        for k in 0..n {
            let bytes = to_rgb(&make(k));
            let frame = to_frame(W, H, &bytes);
            t.push(&frame, Some(&face(k)));
        }
        (t.finish(), t.pairs().to_vec())
    }

    #[test]
    fn a_rigid_plane_moved_as_a_whole_couples_fully() {
        // Everything (face and surround) shifts by (3, 2) px a frame.
        let (dx, dy) = (3.0, 2.0);
        let (cue, pairs) = run(
            8,
            |k| {
                let (ox, oy) = (k as f32 * dx, k as f32 * dy);
                (0..W * H)
                    .map(|i| texture_at((i % W) as f32 - ox, (i / W) as f32 - oy, 1))
                    .collect()
            },
            |k| face_at(140.0 + k as f32 * dx, 90.0 + k as f32 * dy),
        );
        assert_eq!(cue.pairs, 7, "{pairs:?}");
        assert_eq!(cue.moving_pairs, 7);
        for p in &pairs {
            let f = p.face.unwrap();
            let s = p.surround.unwrap();
            assert!((f[0] - dx).abs() < 0.5 && (f[1] - dy).abs() < 0.5, "{p:?}");
            assert!((s[0] - dx).abs() < 0.5 && (s[1] - dy).abs() < 0.5, "{p:?}");
        }
        assert!((cue.face_motion_px - 13f32.sqrt()).abs() < 0.5, "{cue:?}");
        let c = cue.coupling.value().expect("moving");
        assert!(c > 0.85, "{cue:?}");
        assert!(cue.residual_px < 0.5, "{cue:?}");
    }

    #[test]
    fn a_face_moving_over_a_still_background_decouples() {
        // A face texture pasted in the box, moving (2, 1) px a frame (not a whole cell: the
        // sub-cell estimate is exercised); the background texture stays put.
        let (dx, dy) = (2.0, 1.0);
        let face = |k: usize| face_at(140.0 + k as f32 * dx, 90.0 + k as f32 * dy);
        let (cue, pairs) = run(
            8,
            |k| {
                let b = face(k);
                (0..W * H)
                    .map(|i| {
                        let (x, y) = ((i % W) as f32, (i / W) as f32);
                        if x >= b.x1 && x < b.x2 && y >= b.y1 && y < b.y2 {
                            texture_at(x - b.x1, y - b.y1, 2)
                        } else {
                            texture_at(x, y, 3)
                        }
                    })
                    .collect()
            },
            face,
        );
        assert_eq!(cue.pairs, 7, "{pairs:?}");
        for p in &pairs {
            let f = p.face.unwrap();
            let s = p.surround.unwrap();
            assert!((f[0] - dx).abs() < 0.6 && (f[1] - dy).abs() < 0.6, "{p:?}");
            assert!(s[0].abs() < 0.3 && s[1].abs() < 0.3, "{p:?}");
        }
        let c = cue.coupling.value().expect("moving");
        assert!(c < 0.15, "{cue:?}");
        assert!((cue.residual_px - 5f32.sqrt()).abs() < 0.6, "{cue:?}");
    }

    #[test]
    fn no_motion_gives_no_judgement() {
        let grey: Vec<u8> = (0..W * H)
            .map(|i| texture_at((i % W) as f32, (i / W) as f32, 4))
            .collect();
        let (cue, _) = run(10, |_| grey.clone(), |_| face_at(150.0, 100.0));
        assert_eq!(cue.pairs, 9);
        assert_eq!(cue.moving_pairs, 0);
        assert_eq!(cue.coupling, Coupling::NotEnoughMotion);
        assert!(cue.face_motion_px < 0.1, "{cue:?}");
    }

    #[test]
    fn a_missing_face_breaks_the_chain() {
        let bytes = to_rgb(
            &(0..W * H)
                .map(|i| texture_at((i % W) as f32, (i / W) as f32, 5))
                .collect::<Vec<u8>>(),
        );
        let frame = to_frame(W, H, &bytes);
        let mut t = MotionTracker::new();
        let b = face_at(150.0, 100.0);
        assert!(t.push(&frame, Some(&b)).is_none());
        assert!(t.push(&frame, None).is_none());
        assert!(t.push(&frame, Some(&b)).is_none());
        assert!(t.push(&frame, Some(&b)).is_some());
        assert_eq!(t.pairs().len(), 1);
    }

    #[test]
    fn tiny_edge_and_absurd_boxes_do_not_panic() {
        let bytes = to_rgb(
            &(0..W * H)
                .map(|i| texture_at((i % W) as f32, (i / W) as f32, 6))
                .collect::<Vec<u8>>(),
        );
        let frame = to_frame(W, H, &bytes);
        let boxes = [
            BBox {
                x1: 10.0,
                y1: 10.0,
                x2: 15.0,
                y2: 15.0,
            },
            BBox {
                x1: -50.0,
                y1: -60.0,
                x2: 30.0,
                y2: 40.0,
            },
            BBox {
                x1: 380.0,
                y1: 280.0,
                x2: 480.0,
                y2: 400.0,
            },
            BBox {
                x1: 500.0,
                y1: 500.0,
                x2: 600.0,
                y2: 600.0,
            },
            BBox {
                x1: -1e9,
                y1: -1e9,
                x2: 1e9,
                y2: 1e9,
            },
            BBox {
                x1: f32::NAN,
                y1: 0.0,
                x2: 100.0,
                y2: 100.0,
            },
            BBox {
                x1: 0.0,
                y1: 0.0,
                x2: W as f32,
                y2: H as f32,
            },
        ];
        let mut t = MotionTracker::new();
        for b in boxes.iter().chain(boxes.iter().rev()) {
            t.push(&frame, Some(b));
            t.push(&frame, Some(b));
        }
        // A tiny frame.
        let small = vec![128u8; 6 * 5 * 3];
        let f = to_frame(6, 5, &small);
        t.push(
            &f,
            Some(&BBox {
                x1: 0.0,
                y1: 0.0,
                x2: 6.0,
                y2: 5.0,
            }),
        );
        t.push(
            &f,
            Some(&BBox {
                x1: 0.0,
                y1: 0.0,
                x2: 6.0,
                y2: 5.0,
            }),
        );
        let cue = t.finish();
        assert_eq!(cue.coupling.value(), None, "nothing moved: {cue:?}");
        // The tiny box measured nothing.
        let mut t = MotionTracker::new();
        t.push(&frame, Some(&boxes[0]));
        assert!(t.push(&frame, Some(&boxes[0])).is_none());
    }

    #[test]
    fn a_flat_frame_has_no_texture_to_match() {
        let bytes = vec![90u8; W * H * 3];
        let frame = to_frame(W, H, &bytes);
        let mut t = MotionTracker::new();
        let b = face_at(150.0, 100.0);
        t.push(&frame, Some(&b));
        let p = t.push(&frame, Some(&b)).expect("a pair");
        assert_eq!((p.face, p.surround), (None, None));
        assert_eq!(t.finish().pairs, 0);
        assert_eq!(t.finish().coupling, Coupling::NoSurround);
    }
}
