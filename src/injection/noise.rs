//! Per-frame traces of where a frame came from: the camera sensor's noise, and the block grid a
//! lossy re-encode leaves behind.
//!
//! Both are read from a fixed number of sampled pixels whatever the frame size (about 100 k
//! pixel reads on any frame), so they cost well under a millisecond per frame natively (0.19 to
//! 0.34 ms measured, 368×640 to 1920×1080) and can run on every camera frame in the browser too.
//!
//! - **Noise**: Immerkaer's estimator ("Fast noise variance estimation", CVIU 1996): the 3×3
//!   operator `[1 -2 1; -2 4 -2; 1 -2 1]` (the difference of two Laplacians) cancels any
//!   locally linear image, so over a flat block its mean absolute response is the noise's:
//!   σ = √(π/2) / 6 · mean |L ∗ I|. It runs on [`NOISE_BLOCKS_X`] × [`NOISE_BLOCKS_Y`] blocks
//!   spread over the frame; scene texture only adds to a block's estimate, so the frame's
//!   figure is the median of the flattest quarter (on pure noise that reads a few per cent
//!   low). Clipped blocks (blown highlights, crushed shadows) carry no noise and are skipped.
//!   Lossy video coding removes most of this noise: see the calibration in [`super`].
//! - **Blockiness**: the mean absolute grey step between neighbouring pixels, split by the
//!   step's position modulo 8. A block codec (JPEG, H.264, VP8) quantises each block on its
//!   own, so steps across the 8-pixel grid grow; steps are capped at [`STEP_CAP`] grey levels
//!   so that scene edges, which fall on every phase alike, do not drown the grid.

use serde::{Deserialize, Serialize};

use crate::frame::FrameRef;

/// What one frame shows about its origin (`None` where the frame is too small to measure).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct FrameSignals {
    /// Sensor-noise level: robust σ (8-bit DN) of a noise estimator (e.g. Immerkaer's 3×3
    /// Laplacian-difference operator) over the flattest blocks of the grey image.
    pub noise: Option<f32>,
    /// Recompression trace: gradient energy on the 8-pixel block grid relative to off-grid
    /// (≈1 for a clean camera frame, > 1 for a blocky re-encoded stream).
    pub blockiness: Option<f32>,
}

/// Side of a noise block, pixels (the operator reads one more pixel on each side).
pub const NOISE_BLOCK: usize = 16;
/// Noise blocks across and down the frame, at most (fewer on a small frame).
pub const NOISE_BLOCKS_X: usize = 16;
pub const NOISE_BLOCKS_Y: usize = 12;
/// Blocks with more than this fraction of clipped pixels (≤ 2 or ≥ 253) are skipped: a
/// saturated area is flat because the sensor ran out of range, not because it is clean.
const MAX_CLIPPED_FRACTION: f32 = 0.25;
/// At least this many unclipped blocks, or the frame's noise is unknown.
const MIN_NOISE_BLOCKS: usize = 4;

/// Rows (and columns) sampled for the block-grid profile, at most.
pub const GRID_LINES: usize = 48;
/// Steps larger than this (grey levels) count as this much: scene edges fall on every phase
/// of the grid alike, and uncapped they would swamp the small steps a codec leaves.
pub const STEP_CAP: f32 = 12.0;
/// The block-grid period, pixels (JPEG, and the 8×8 / 16×16 blocks of video codecs).
pub const GRID: usize = 8;

/// Sensor noise and block-grid trace of one frame (RGB or RGBA; alpha ignored).
///
/// Cheap: a fixed sample of about 100 k pixels, whatever the frame size.
pub fn frame_signals(frame: &FrameRef) -> FrameSignals {
    FrameSignals {
        noise: noise_sigma(frame),
        blockiness: grid_profile(frame).map(|p| blockiness_of(&p)),
    }
}

/// Luma of pixel `(x, y)` (caller guarantees bounds).
#[inline(always)]
fn grey(data: &[u8], channels: usize, width: usize, x: usize, y: usize) -> f32 {
    let i = (y * width + x) * channels;
    0.299 * f32::from(data[i]) + 0.587 * f32::from(data[i + 1]) + 0.114 * f32::from(data[i + 2])
}

/// Block start positions: `n` windows of `win` pixels spread evenly over `len`.
fn spread(len: usize, win: usize, n: usize) -> impl Iterator<Item = usize> {
    let room = len - win;
    (0..n).map(move |i| if n == 1 { room / 2 } else { i * room / (n - 1) })
}

/// The frame's sensor-noise σ in grey levels (see the module docs), or `None` when the frame
/// is smaller than a few blocks or nearly all clipped.
pub fn noise_sigma(frame: &FrameRef) -> Option<f32> {
    const WIN: usize = NOISE_BLOCK + 2;
    let (w, h) = (frame.width() as usize, frame.height() as usize);
    if w < WIN || h < WIN {
        return None;
    }
    let nx = (w / WIN).min(NOISE_BLOCKS_X);
    let ny = (h / WIN).min(NOISE_BLOCKS_Y);
    let (data, c) = (frame.data(), frame.format().channels());
    let mut sigmas = Vec::with_capacity(nx * ny);
    let mut g = [0f32; WIN * WIN];
    for y0 in spread(h, WIN, ny) {
        for x0 in spread(w, WIN, nx) {
            let mut clipped = 0usize;
            for (dy, row) in g.chunks_exact_mut(WIN).enumerate() {
                for (dx, v) in row.iter_mut().enumerate() {
                    *v = grey(data, c, w, x0 + dx, y0 + dy);
                    clipped += usize::from(*v <= 2.0 || *v >= 253.0);
                }
            }
            if clipped as f32 > MAX_CLIPPED_FRACTION * (WIN * WIN) as f32 {
                continue;
            }
            let mut sum = 0f32;
            for y in 1..WIN - 1 {
                let (up, mid, down) = (
                    &g[(y - 1) * WIN..y * WIN],
                    &g[y * WIN..(y + 1) * WIN],
                    &g[(y + 1) * WIN..(y + 2) * WIN],
                );
                for x in 1..WIN - 1 {
                    let l = (up[x - 1] + up[x + 1] + down[x - 1] + down[x + 1])
                        - 2.0 * (up[x] + down[x] + mid[x - 1] + mid[x + 1])
                        + 4.0 * mid[x];
                    sum += l.abs();
                }
            }
            let mean = sum / (NOISE_BLOCK * NOISE_BLOCK) as f32;
            sigmas.push(mean * (std::f32::consts::FRAC_PI_2).sqrt() / 6.0);
        }
    }
    if sigmas.len() < MIN_NOISE_BLOCKS {
        return None;
    }
    sigmas.sort_by(f32::total_cmp);
    let flat = &sigmas[..sigmas.len().div_ceil(4)];
    Some(flat[flat.len() / 2])
}

/// Pixels read along each sampled line for the block-grid profile.
pub const GRID_SPAN: usize = 384;

/// Mean capped absolute grey step between neighbouring pixels by the step's position modulo
/// [`GRID`]: entry `p` holds the steps between pixel `8k + p` and `8k + p + 1`, so entry 7 is
/// the steps across the block grid. Horizontal steps along up to [`GRID_LINES`] rows and
/// vertical steps along as many columns are pooled; each line is read over at most
/// [`GRID_SPAN`] pixels starting on a multiple of 8, so the phases are the frame's own.
/// `None` for a frame under 32 pixels a side.
pub fn grid_profile(frame: &FrameRef) -> Option<[f32; GRID]> {
    let (w, h) = (frame.width() as usize, frame.height() as usize);
    if w < 4 * GRID || h < 4 * GRID {
        return None;
    }
    let (data, c) = (frame.data(), frame.format().channels());
    let mut sum = [0f32; GRID];
    let mut count = [0u32; GRID];
    let mut line = |start: usize, g: &mut dyn Iterator<Item = f32>| {
        let Some(mut prev) = g.next() else { return };
        for (i, v) in g.enumerate() {
            let p = (start + i) % GRID;
            sum[p] += (v - prev).abs().min(STEP_CAP);
            count[p] += 1;
            prev = v;
        }
    };
    let span_x = w.min(GRID_SPAN);
    let x0 = ((w - span_x) / 2) & !(GRID - 1);
    for y in spread(h, 1, h.min(GRID_LINES)) {
        line(x0, &mut (x0..x0 + span_x).map(|x| grey(data, c, w, x, y)));
    }
    let span_y = h.min(GRID_SPAN);
    let y0 = ((h - span_y) / 2) & !(GRID - 1);
    for x in spread(w, 1, w.min(GRID_LINES)) {
        line(y0, &mut (y0..y0 + span_y).map(|y| grey(data, c, w, x, y)));
    }
    let mut out = [0f32; GRID];
    for ((o, s), n) in out.iter_mut().zip(sum).zip(count) {
        *o = s / n.max(1) as f32;
    }
    Some(out)
}

/// The largest blockiness reported: a grid on a perfectly flat image would otherwise divide
/// by zero.
pub const MAX_BLOCKINESS: f32 = 100.0;

/// The grid's steps over the others' mean, at most [`MAX_BLOCKINESS`]; 1 when the profile has
/// no steps at all (a flat image shows no grid).
pub fn blockiness_of(profile: &[f32; GRID]) -> f32 {
    let on = profile[GRID - 1];
    let off = profile[..GRID - 1].iter().sum::<f32>() / (GRID - 1) as f32;
    if on <= f32::EPSILON && off <= f32::EPSILON {
        return 1.0;
    }
    (on / off.max(f32::EPSILON)).min(MAX_BLOCKINESS)
}
