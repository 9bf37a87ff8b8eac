//! Shared helpers: the engine (loaded once per test binary), media paths, decoding.

use std::path::PathBuf;
use std::sync::OnceLock;

use liveproof::models::ModelSource;
use liveproof::{decode_image, Engine, EngineConfig, Frame, ImageLimits};

/// The repository root.
pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A file under ../shared/media (or $LIVEPROOF_MEDIA).
pub fn media(rel: &str) -> PathBuf {
    let root = std::env::var_os("LIVEPROOF_MEDIA")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo().join("../shared/media"));
    root.join(rel)
}

/// The directory the product loads models from.
pub fn models_dir() -> PathBuf {
    match ModelSource::from_env() {
        ModelSource::Dir(d) => d,
        ModelSource::Memory(_) => unreachable!(),
    }
}

/// A model file by name: the product's model directory, else ../shared/models (for files the
/// manifest does not use, like the fixed-size YuNet).
pub fn model_file(name: &str) -> PathBuf {
    let p = models_dir().join(name);
    if p.exists() {
        p
    } else {
        repo().join("../shared/models").join(name)
    }
}

/// The engine with default settings, loaded once.
pub fn engine() -> &'static Engine {
    static ENGINE: OnceLock<Engine> = OnceLock::new();
    ENGINE.get_or_init(|| {
        Engine::load(&ModelSource::from_env(), EngineConfig::default())
            .expect("models are set up (scripts/setup-models.sh)")
    })
}

/// Decodes a media file.
pub fn image(rel: &str) -> Frame {
    let bytes = std::fs::read(media(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"));
    decode_image(&bytes, &ImageLimits::default()).unwrap_or_else(|e| panic!("{rel}: {e}"))
}
