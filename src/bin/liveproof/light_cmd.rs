//! `liveproof light`: a recording checked against the light sequence of a nonce, as the
//! server checks a session's: the recording page (`www/light.html`) saves a person's real
//! session (the clip and the displayed timeline), and this scores it, so real recordings can
//! replace the simulation.

use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use liveproof::check::MediaLimits;
use liveproof::light::{self, LightSegment, LightSequence, LightTimeline};
use liveproof::verify::recording::light_samples;
use liveproof::verify::VerifyPolicy;
use liveproof::Engine;
use serde::Deserialize;

#[derive(clap::Args)]
pub struct LightArgs {
    /// The recording (WebM as the page records it, or MP4).
    pub clip: PathBuf,
    /// The session's nonce (the sequence is drawn from it under the default light policy).
    #[arg(long)]
    pub nonce: String,
    /// The displayed timeline: the page's JSON (`{nonce, onsets_ms, segments}`) or
    /// `{onsets_ms}`.
    #[arg(long)]
    pub timeline: PathBuf,
    /// Analysis rate, frames per second (the server's default).
    #[arg(long, default_value_t = VerifyPolicy::default().analysis_fps)]
    pub fps: f64,
}

/// The recording page's download.
#[derive(Deserialize)]
struct SavedTimeline {
    onsets_ms: Vec<f64>,
    #[serde(default)]
    nonce: Option<String>,
    #[serde(default)]
    segments: Option<Vec<LightSegment>>,
}

pub fn run(engine: &Engine, args: LightArgs) -> Result<()> {
    let bytes =
        std::fs::read(&args.clip).with_context(|| format!("reading {}", args.clip.display()))?;
    let saved: SavedTimeline = serde_json::from_slice(
        &std::fs::read(&args.timeline)
            .with_context(|| format!("reading {}", args.timeline.display()))?,
    )
    .with_context(|| format!("{} is not a light timeline", args.timeline.display()))?;
    let policy = VerifyPolicy {
        analysis_fps: args.fps,
        ..VerifyPolicy::default()
    };
    policy.validate()?;
    let seq = LightSequence::from_nonce(&args.nonce, &policy.light_sequence)?;
    if saved.nonce.as_deref().is_some_and(|n| n != args.nonce) {
        bail!("the timeline was recorded for another nonce");
    }
    if saved.segments.as_ref().is_some_and(|s| s != &seq.segments) {
        bail!("the timeline's segments are not this nonce's sequence under the default policy");
    }
    let timeline = LightTimeline {
        onsets_ms: saved.onsets_ms,
    };
    let mut limits = MediaLimits::default();
    limits.video.decode_threads = 1;
    let samples = light_samples(engine, &bytes, &policy, &limits)?;
    let result = light::score(&seq, &timeline, &samples, &policy.light_scoring);
    println!("{}", serde_json::to_string_pretty(&result)?);
    Ok(())
}
