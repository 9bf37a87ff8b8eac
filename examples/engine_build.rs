//! Where an engine build's time goes: each model's ONNX parse, typing, declutter, optimisation
//! and planning (logged by `liveproof::models`), for the original and the compact weights, on
//! the browser's configuration. Native timings; the browser's are about 2× these (README
//! "Performance").
//!   cargo run --release --example engine_build [-- REPS]
use liveproof::models::{ModelSource, Weights};
use liveproof::{Engine, EngineConfig};

fn main() {
    env_logger::Builder::new()
        .filter_module("liveproof::models", log::LevelFilter::Debug)
        .format_timestamp(None)
        .init();
    let reps: usize = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(3);
    let source = ModelSource::from_env();
    for weights in [Weights::Full, Weights::Compact] {
        let config = EngineConfig {
            age_gender: false,
            emotion: false,
            weights,
            ..EngineConfig::default()
        };
        let mut times = Vec::new();
        for _ in 0..reps {
            let start = std::time::Instant::now();
            Engine::load(&source, config.clone()).expect("models set up (scripts/setup-models.sh)");
            times.push(start.elapsed().as_secs_f64() * 1e3);
        }
        times.sort_by(f64::total_cmp);
        println!(
            "{weights:?}: engine build median {:.0} ms over {reps}",
            times[reps / 2]
        );
    }
}
