//! `liveproof video`: the challenge engine over a recorded clip, as a camera would feed it.

use std::io::Write;
use std::path::PathBuf;

use anyhow::{Context, Result};
use liveproof::challenge::{seed_from_nonce, ChallengeAction, ChallengeConfig, ChallengeSession};
use liveproof::clip::run_clip;
use liveproof::video::{VideoLimits, VideoReader};
use liveproof::{Engine, LiveCheck, LiveConfig};

#[derive(clap::Args)]
pub struct VideoArgs {
    /// The clip (MP4/H.264, WebM/VP8/VP9).
    pub clip: PathBuf,
    /// Challenges in order, comma-separated (`BLINK,"LOOK LEFT"`); default: drawn from --seed.
    #[arg(long)]
    pub challenges: Option<String>,
    /// Seed (e.g. a server nonce) for drawing the challenge order when --challenges is absent.
    #[arg(long, default_value = "liveproof")]
    pub seed: String,
    /// How many challenges to draw when --challenges is absent.
    #[arg(long, default_value_t = 2)]
    pub count: usize,
    /// Time allowed per challenge, in milliseconds.
    #[arg(long, default_value_t = 8000.0)]
    pub timeout_ms: f64,
    /// Frames analysed per second of video (a browser analyses about this many).
    #[arg(long, default_value_t = 15.0)]
    pub fps: f64,
    /// Run the detector and anti-spoofing on every n-th analysed frame and track the face
    /// with the mesh in between, as the browser SDK does (1 = every frame, as the server).
    #[arg(long, default_value_t = 1)]
    pub detect_every: u32,
    /// Also print every frame's full record (JSON lines, `{"record": ...}`).
    #[arg(long)]
    pub records: bool,
}

pub fn run(engine: &Engine, args: VideoArgs) -> Result<()> {
    let config = ChallengeConfig {
        count: args.count,
        timeout_ms: args.timeout_ms,
        pad_threshold: engine.config().pad_threshold,
        ..ChallengeConfig::default()
    };
    let session = match &args.challenges {
        Some(list) => ChallengeSession::with_script(config, ChallengeAction::parse_list(list)?)?,
        None => ChallengeSession::new(config, seed_from_nonce(args.seed.as_bytes()))?,
    };
    let bytes =
        std::fs::read(&args.clip).with_context(|| format!("reading {}", args.clip.display()))?;
    let mut reader =
        VideoReader::from_bytes(&bytes, &VideoLimits::default()).map_err(liveproof::Error::from)?;
    let mut check = LiveCheck::new(
        session,
        LiveConfig {
            detect_every: args.detect_every,
            evidence: None,
        },
    )?;
    let out = std::io::stdout();
    let mut out = out.lock();
    let tail = run_clip(
        engine,
        &mut reader,
        &mut check,
        args.fps,
        |record, events| {
            if args.records {
                let _ = writeln!(out, "{}", serde_json::json!({ "record": record }));
            }
            for e in events {
                let _ = writeln!(out, "{}", serde_json::to_string(e).unwrap_or_default());
            }
        },
    )?;
    for e in tail {
        writeln!(out, "{}", serde_json::to_string(&e)?)?;
    }
    if let Some(outcome) = check.outcome() {
        eprintln!("{}", serde_json::to_string(outcome)?);
    }
    Ok(())
}
