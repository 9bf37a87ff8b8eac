//! # liveproof
//!
//! Face liveness (presentation-attack detection) in one Rust pipeline that runs in the
//! browser (wasm32), on the verification server and in the CLI.
//!
//! | module | job |
//! |---|---|
//! | [`models`] | manifest, SHA-256-verified model bytes, tract plans |
//! | [`frame`], [`imgproc`] | borrowed RGB/RGBA frames, safe still decoding, the one crop sampler |
//! | [`detect`], [`landmarks`], [`antispoof`], [`embed`], [`attributes`] | one model each, with its pre- and post-processing |
//! | [`quality`] | capture quality and user guidance |
//! | [`pipeline`] | the per-frame pipeline ([`Engine`], [`FrameRecord`]) |
//! | [`challenge`] | blink / look / smile detectors and the challenge state machine |
//! | [`events`] | the event stream shared by the SDK and the WebSocket API |
//! | [`evidence`] | evidence bundles, their JWS signatures and verification |
//! | [`live`] | a live session over camera frames: tracking, challenges, evidence |
//! | [`check`] | still + video analysis with frame sampling and face match |
//! | [`report`] | the v1 and v2 liveness response documents |
//! | `verify` (native) | verification of a submitted session: what a server may sign |
//! | `video` (native) | MP4 / WebM decoding |
//! | `wasm` (wasm32) | wasm-bindgen bindings for the browser SDK |

pub mod antispoof;
pub mod attributes;
#[cfg(not(target_family = "wasm"))]
pub mod batch;
pub mod challenge;
pub mod check;
#[cfg(not(target_family = "wasm"))]
pub mod clip;
pub mod cues;
pub mod detect;
pub mod embed;
pub mod error;
#[cfg(not(target_family = "wasm"))]
pub mod eval;
pub mod events;
pub mod evidence;
pub mod frame;
pub mod imgproc;
pub mod injection;
pub mod landmarks;
pub mod light;
pub mod live;
pub mod models;
pub mod pipeline;
pub mod quality;
pub mod report;
#[cfg(not(target_family = "wasm"))]
pub mod verify;
#[cfg(not(target_family = "wasm"))]
pub mod video;
#[cfg(target_family = "wasm")]
mod wasm;

pub use error::{Error, Result};
pub use frame::{decode_image, Frame, FrameRef, ImageLimits, PixelFormat};
pub use live::{LiveCheck, LiveConfig, LiveStep};
pub use pipeline::{Engine, EngineConfig, FrameRecord, FrameSummary, Stages};
