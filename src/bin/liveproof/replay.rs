//! `liveproof replay`: the server's run of a session recording (`liveproof::verify`), as the
//! verification server runs it on a submitted bundle's clip: the report it signs from, and
//! where the time went.

use std::path::PathBuf;

use anyhow::{Context, Result};
use liveproof::challenge::{ChallengeAction, ChallengeConfig};
use liveproof::check::MediaLimits;
use liveproof::verify::recording::run_recording;
use liveproof::verify::VerifyPolicy;
use liveproof::Engine;
use serde_json::json;

#[derive(clap::Args)]
pub struct ReplayArgs {
    /// The recording (WebM/VP8/VP9 as the SDK records it, or MP4/H.264).
    pub clip: PathBuf,
    /// The issued script, in order, comma-separated (`BLINK,"LOOK LEFT"`).
    #[arg(long)]
    pub challenges: String,
    /// Time allowed per challenge, ms.
    #[arg(long, default_value_t = 8000.0)]
    pub timeout_ms: f64,
    /// Analysis rate, frames per second (the server's default).
    #[arg(long, default_value_t = VerifyPolicy::default().analysis_fps)]
    pub fps: f64,
    /// Detector every n-th analysed frame (the server's and the SDK's default).
    #[arg(long, default_value_t = VerifyPolicy::default().detect_every)]
    pub detect_every: u32,
    /// Run it this many times and print each run's timings (for measuring).
    #[arg(long, default_value_t = 1)]
    pub repeat: u32,
}

pub fn run(engine: &Engine, args: ReplayArgs) -> Result<()> {
    let bytes =
        std::fs::read(&args.clip).with_context(|| format!("reading {}", args.clip.display()))?;
    let script = ChallengeAction::parse_list(&args.challenges)?;
    let config = ChallengeConfig {
        timeout_ms: args.timeout_ms,
        pad_threshold: engine.config().pad_threshold,
        ..ChallengeConfig::default()
    };
    let policy = VerifyPolicy {
        analysis_fps: args.fps,
        detect_every: args.detect_every,
        ..VerifyPolicy::default()
    };
    policy.validate()?;
    let mut limits = MediaLimits::default();
    limits.video.decode_threads = 1;
    for i in 0..args.repeat.max(1) {
        let run = run_recording(engine, &bytes, &script, &config, &policy, &limits, None)?;
        if i == 0 {
            println!("{}", serde_json::to_string_pretty(&run.report)?);
        }
        eprintln!("{}", json!({ "run": i, "timings": run.timings }));
    }
    Ok(())
}
