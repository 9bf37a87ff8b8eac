//! The crate's error type.
//!
//! Policy: every fallible public function returns [`Error`]. Variants are split by who can fix
//! the problem: the operator (model files), the caller (bad input, bad arguments) or nobody
//! (an inference failure, which is a bug or a corrupt model). Messages say what to do next.

use std::path::PathBuf;

/// Everything that can go wrong in the liveness pipeline.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A model file named in the manifest is not where the loader looked.
    #[error("model file `{file}` (role {role}) not found in {}: {hint}", dir.display())]
    ModelMissing {
        role: String,
        file: String,
        dir: PathBuf,
        hint: String,
    },

    /// A model file exists but its bytes are not the ones the manifest pins.
    #[error("model file `{file}` is corrupt or a different version: sha256 {actual}, expected {expected}; {hint}")]
    ModelChecksum {
        file: String,
        actual: String,
        expected: String,
        hint: String,
    },

    /// tract could not parse, type or optimise a model.
    #[error("model `{file}` could not be loaded: {message}")]
    ModelLoad { file: String, message: String },

    /// The manifest itself is malformed (a build defect).
    #[error("model manifest: {0}")]
    Manifest(String),

    /// Running a model failed (corrupt model or a bug; never the caller's input).
    #[error("inference failed in `{model}`: {message}")]
    Inference {
        model: &'static str,
        message: String,
    },

    /// The input was empty.
    #[error("empty input: {0}")]
    EmptyInput(&'static str),

    /// The bytes are not an image this crate can decode (unknown format, truncated, corrupt).
    #[error("image could not be decoded: {0}")]
    ImageDecode(String),

    /// The image is larger than the configured limits (decompression-bomb guard).
    #[error("image is {width}x{height} px, larger than the {max}x{max} px limit")]
    ImageTooLarge { width: u32, height: u32, max: u32 },

    /// The image has more pixels than the configured budget (a decode's memory and time).
    #[error("image is {width}x{height} px, more than the {max_pixels} pixel limit")]
    ImageTooManyPixels {
        width: u32,
        height: u32,
        max_pixels: u64,
    },

    /// The image is smaller than anything a face could be found in.
    #[error("image is {width}x{height} px, smaller than the {min}x{min} px minimum")]
    ImageTooSmall { width: u32, height: u32, min: u32 },

    /// No face was found where one is required (a still, or every sampled video frame).
    #[error("no face found in the {0}")]
    NoFace(&'static str),

    /// A face was found but cannot be judged live or fake (a crop that is all face, a face
    /// too small, too dark or too blurred): a refusal with its guidance code, never a guess.
    #[error("the face in the {input} cannot be judged: {} (guidance `{}`)", reason.message(), reason.code())]
    PoorQuality {
        input: &'static str,
        reason: crate::quality::Guidance,
    },

    /// A raw frame whose buffer does not match its declared size.
    #[error("invalid frame: {0}")]
    InvalidFrame(String),

    /// Encoding an evidence frame failed (a bug: the frame was already validated).
    #[error("image could not be encoded: {0}")]
    ImageEncode(String),

    /// An evidence bundle or its signature was refused.
    #[error(transparent)]
    Evidence(#[from] crate::evidence::EvidenceError),

    /// A caller-supplied argument is out of range or malformed, or a call came at the wrong
    /// time. `field` names what to fix in the caller's spelling (a parameter such as
    /// `facematch_frames`, or a part of the input such as `archive`), so a caller maps the
    /// error to its own field without reading the message.
    #[error("invalid argument: {message}")]
    InvalidArgument {
        field: &'static str,
        message: String,
    },

    /// The work exceeded its time budget and was stopped (media too costly to judge).
    #[error("{what} took longer than its {limit_ms} ms budget and was stopped")]
    OverBudget { what: &'static str, limit_ms: u64 },

    /// Video demuxing or decoding failed.
    #[cfg(not(target_family = "wasm"))]
    #[error(transparent)]
    Video(#[from] crate::video::VideoError),
}

/// Shorthand used throughout the crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// An [`Error::InvalidArgument`] about `field`.
    pub fn invalid(field: &'static str, message: impl Into<String>) -> Self {
        Error::InvalidArgument {
            field,
            message: message.into(),
        }
    }

    /// A short, stable, machine-readable code for the error (used by the CLI, the wasm
    /// bindings and the server to map errors to exit codes, JS error codes and HTTP statuses).
    pub fn code(&self) -> &'static str {
        match self {
            Error::ModelMissing { .. } => "model_missing",
            Error::ModelChecksum { .. } => "model_checksum",
            Error::ModelLoad { .. } => "model_load",
            Error::Manifest(_) => "manifest",
            Error::Inference { .. } => "inference",
            Error::EmptyInput(_) => "empty_input",
            Error::ImageDecode(_) => "image_decode",
            Error::ImageTooLarge { .. } | Error::ImageTooManyPixels { .. } => "image_too_large",
            Error::ImageTooSmall { .. } => "image_too_small",
            Error::NoFace(_) => "no_face",
            Error::PoorQuality { .. } => "poor_quality",
            Error::InvalidFrame(_) => "invalid_frame",
            Error::InvalidArgument { .. } => "invalid_argument",
            Error::OverBudget { .. } => "over_budget",
            Error::ImageEncode(_) => "image_encode",
            Error::Evidence(e) => e.code(),
            #[cfg(not(target_family = "wasm"))]
            Error::Video(_) => "video",
        }
    }

    /// True when the error is the caller's input (a 4xx), false when it is the operator's or
    /// a bug (a 5xx).
    pub fn is_input_error(&self) -> bool {
        match self {
            Error::EmptyInput(_)
            | Error::ImageDecode(_)
            | Error::ImageTooLarge { .. }
            | Error::ImageTooManyPixels { .. }
            | Error::ImageTooSmall { .. }
            | Error::NoFace(_)
            | Error::PoorQuality { .. }
            | Error::InvalidFrame(_)
            | Error::InvalidArgument { .. }
            | Error::OverBudget { .. }
            | Error::Evidence(_) => true,
            #[cfg(not(target_family = "wasm"))]
            Error::Video(_) => true,
            _ => false,
        }
    }
}
