//! Injection-attack signals (issue 14; in the manner of CEN/TS 18099): where a session's frames
//! came from.
//!
//! A pre-recorded or synthetic video fed to the camera API (a virtual camera, a hooked
//! `getUserMedia`, an emulator) can perform any challenge script, so a passed script does not
//! prove a camera was in front of a person. Two kinds of evidence bear on it:
//!
//! - **measured from the frames** ([`noise`]): sensor noise and block-codec traces per frame;
//!   the server re-computes them from the session's recording (as decoded by FFmpeg), along
//!   with frozen frames and the regularity of the recording's timestamps ([`assess`]);
//! - **reported by the SDK's JavaScript** ([`client`]): wrapped camera APIs, the device label,
//!   track settings outside the device's capabilities, the frame timing the page saw. The
//!   server cannot re-check these and the attacker controls them: they may raise the risk,
//!   never lower it.
//!
//! [`assess()`] weighs them into a [`Risk`] with its [`InjectionReason`]s (weights and risk
//! levels: [`assess`] module docs).
//!
//! ## Calibration, and where the signals do not separate
//!
//! `cargo run --release --example injection_signals` decodes every clip of
//! `../shared/media/video_live` and `video_spoof` with [`crate::video::VideoReader`], as shot
//! and re-encoded the way the SDK's MediaRecorder records (VP8, 1 Mbit/s, 640 px wide), and
//! synthetic injected streams made with the ffmpeg CLI (stills looped into VP8 1 Mbit/s video;
//! clips stored as H.264 at 250 kbit/s then re-encoded to VP8 at 250 kbit/s or 1 Mbit/s), at
//! the server's 15 fps analysis rate. Measured (medians per clip):
//!
//! | stream | noise σ (DN) | blockiness | frames repeated (change ≤ 0.05) | interval MAD |
//! |---|---|---|---|---|
//! | 18 live + 3 replay clips as shot (H.264 / VP8) | 0.01–0.28 | 0.94–1.23 | 0–1 of 38–503 | 0 ms |
//! | the same → VP8 1 Mbit/s (what the server sees of a camera) | 0.00–0.37 | 0.94–1.15 | 0 | 0 ms |
//! | 4 stills looped → VP8 1 Mbit/s | 0.04–0.16 | 1.06–1.47 | 57–59 of 59 | 0 ms |
//! | 4 clips H.264 250k → VP8 250k / 1M | 0.04–0.28 | 0.93–1.06 | 0 | 0 ms |
//!
//! - **Frozen frames separate cleanly** (a looped still against honest clips): strong.
//! - **Sensor noise does not**: the encoders (the clips' own, then MediaRecorder's VP8) remove
//!   the sensor's noise from the flat areas the estimator reads, so honest and injected
//!   streams overlap completely; [`InjectionThresholds::min_noise`] is 0 (off) by default and
//!   the reason is weak. On raw camera frames (the browser's) the estimator does read the
//!   sensor's σ, but those figures come from the client.
//! - **Recompression traces do not separate re-encoded clips**: the last encoder's own grid
//!   dominates, honest or not (injected 0.93–1.06 within honest 0.94–1.23). Only a heavily
//!   blocky source exceeds the default 1.35. Weak.
//! - **Timing could not be calibrated here**: every clip available has constant-rate
//!   timestamps (MAD 0), including the webcam WebM clips, so no honest MediaRecorder capture
//!   with a real sensor's jitter was measured. A synthetic injected stream is perfectly regular;
//!   so are honest constant-frame-rate files. Weak.
//!
//! The per-frame signals cost 0.19–0.34 ms a frame natively (release build; a fixed sample of
//! pixels, measured on 368×640 to 1920×1080 frames on a shared 2-core VM).

pub mod assess;
pub mod client;
pub mod noise;

pub use assess::{assess, InjectionReason, InjectionReport, InjectionThresholds, Risk, Source};
pub use client::{known_camera, virtual_camera, CameraKind, ClientSignals, IntervalStats};
pub use noise::{frame_signals, FrameSignals};

/// Why client signals or thresholds were refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum InjectionError {
    /// A field is out of bounds (too many entries, too long, not a finite number ≥ 0, …).
    #[error("injection signals: `{field}` is invalid: {reason}")]
    Invalid { field: &'static str, reason: String },
}

#[cfg(test)]
mod tests;
