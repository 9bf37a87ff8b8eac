//! Measured cues that only a moving scene, or a screen, shows: typed features for the video
//! analysis, not decisions.
//!
//! - [`motion`]: how much of the face's motion the area around it shares
//!   ([`MotionTracker`] → [`MotionCue`]). A print or a screen held to the camera moves as one
//!   plane with its border; a live face moves against its background.
//! - [`screen`]: moiré / high-frequency energy, periodic spectral peaks, specular glare and
//!   row banding on the face box ([`screen_sample`] → [`ScreenSample`], medians in
//!   [`ScreenCue`]).
//!
//! Both read a bounded number of pixels per frame and build for wasm32 (no I/O, no new
//! dependencies).
//!
//! ## What was measured, and what separates
//!
//! `cargo run --release --example video_cues` runs both over the 18 bona fide and 3
//! screen-replay clips of `../shared/media` the way `check::VideoAnalyzer` scans geometry (≈15
//! fps, at most 150 frames, detector every third frame, mesh tracking between), and the screen
//! cue over the 52 bona fide and 26 attack stills (`spoof/uncertain_label/` left out). With 3
//! attack clips, any threshold below is an in-sample anecdote, not an error rate.
//!
//! - **Motion coupling**: judged on 12 of 21 clips. The other 9: 3 tight crops have no
//!   surround in the frame ([`Coupling::NoSurround`]); 6 have too few moving pairs
//!   ([`Coupling::NotEnoughMotion`]): 4 still faces, the smartphone replay (held steady) and a
//!   tight crop with a single measured pair. The
//!   feature-phone replay couples at 0.80 and the monitor replay at 0.53 (its displayed video
//!   turns the head against the displayed background); bona fide clips 0.00–0.58, the high ones
//!   being a panning stage camera (0.58) and a hand-held selfie (0.46): camera motion moves the
//!   face and the background alike. Expected direction, every bona fide kept: 1 of 2 judged
//!   attacks caught. Signal for a screen or print moved in front of a still camera; none when
//!   the camera moves or the face does not.
//! - **High-frequency energy**: no moiré seen. The replays have *less* fine detail (clips
//!   0.0009–0.0054 against bona fide 0.0026–0.0289; each replay below its own person's live
//!   clip), i.e. it reads the re-capture's blur, which resolution, focus and compression also
//!   lower (low-resolution bona fide stills sit among the attacks). Weak, and opposite to the
//!   moiré hypothesis.
//! - **Periodicity**: overlapping ranges (clips: attacks 21.0–30.3, bona fide 13.3–31.3;
//!   stills: 5 of 26 attacks above every bona fide one). Weak.
//! - **Specular**: zero on nearly every face; above every bona fide still only on two screen
//!   stills with visible glare (0.18, 0.05). Rare but specific; nothing on the clips.
//! - **Banding** (row periodicity): not higher on attacks (the replay clips read 0.00–0.13;
//!   on stills at best 2 of 26 attacks above a threshold that loses 3 bona fide): on faces it
//!   reads the face's own row structure, not refresh bands. No signal.
//!
//! Cost (release build, a shared 2-core VM, medians per clip): motion 110–330 µs a frame at
//! 368×640 to 1920×1080 (194 µs at 640×360); screen 280–360 µs a frame (up to 460 µs on a
//! 4352×2903 still).

pub mod motion;
pub mod screen;

pub use motion::{Coupling, MotionCue, MotionPair, MotionTracker};
pub use screen::{screen_sample, ScreenCue, ScreenSample, ScreenTracker};

/// Rec. 601 luma of an RGB pixel, 0–255.
#[inline(always)]
pub(crate) fn luma(r: u8, g: u8, b: u8) -> f32 {
    0.299 * f32::from(r) + 0.587 * f32::from(g) + 0.114 * f32::from(b)
}

/// Median (mean of the middle two for an even count); `None` when empty. Reorders `v`.
pub(crate) fn median(v: &mut [f32]) -> Option<f32> {
    if v.is_empty() {
        return None;
    }
    v.sort_by(f32::total_cmp);
    let n = v.len();
    Some(if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) * 0.5
    })
}

#[cfg(test)]
pub(crate) mod tests {
    /// Smooth value noise (features of about 6 px), deterministic per `seed`, 20–235: a
    /// textured scene for block matching.
    pub fn texture_at(x: f32, y: f32, seed: u64) -> u8 {
        const CELL: f32 = 6.0;
        let lattice = |i: i64, j: i64| -> f32 {
            let mut z = (i as u64)
                .wrapping_mul(0x9E37_79B9_7F4A_7C15)
                .wrapping_add((j as u64).wrapping_mul(0xC2B2_AE3D_27D4_EB4F))
                .wrapping_add(seed.wrapping_mul(0x1656_67B1_9E37_79F9));
            z = (z ^ (z >> 29)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z ^= z >> 32;
            (z % 1024) as f32 / 1023.0
        };
        let (fx, fy) = (x / CELL, y / CELL);
        let (i, j) = (fx.floor() as i64, fy.floor() as i64);
        let smooth = |t: f32| t * t * (3.0 - 2.0 * t);
        let (tx, ty) = (smooth(fx - fx.floor()), smooth(fy - fy.floor()));
        let top = lattice(i, j) + (lattice(i + 1, j) - lattice(i, j)) * tx;
        let bot = lattice(i, j + 1) + (lattice(i + 1, j + 1) - lattice(i, j + 1)) * tx;
        (20.0 + 215.0 * (top + (bot - top) * ty)).round() as u8
    }

    /// Grey bytes as RGB.
    pub fn to_rgb(grey: &[u8]) -> Vec<u8> {
        grey.iter().flat_map(|&g| [g, g, g]).collect()
    }

    #[test]
    fn median_of_odd_even_and_empty() {
        assert_eq!(super::median(&mut [3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(super::median(&mut [4.0, 1.0, 2.0, 3.0]), Some(2.5));
        assert_eq!(super::median(&mut []), None);
    }
}
