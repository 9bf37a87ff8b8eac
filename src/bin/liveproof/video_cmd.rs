//! `liveproof video`: the challenge engine over a recorded clip, as a camera would feed it.

use std::cell::RefCell;
use std::io::Write;
use std::ops::ControlFlow;
use std::path::PathBuf;

use anyhow::{Context, Result};
use liveproof::challenge::{seed_from_nonce, ChallengeAction, ChallengeConfig, ChallengeSession};
use liveproof::video::{VideoLimits, VideoReader};
use liveproof::{Engine, Frame};

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
    /// Also print every frame's full record (JSON lines, `{"record": ...}`).
    #[arg(long)]
    pub records: bool,
}

pub fn run(engine: &Engine, args: VideoArgs) -> Result<()> {
    anyhow::ensure!(args.fps > 0.0 && args.fps <= 120.0, "--fps must be in (0, 120]");
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
    let bytes = std::fs::read(&args.clip).with_context(|| format!("reading {}", args.clip.display()))?;
    let mut reader = VideoReader::from_bytes(&bytes, &VideoLimits::default()).map_err(liveproof::Error::from)?;

    let session = RefCell::new(session);
    let period = 1000.0 / args.fps;
    let next_t = RefCell::new(f64::NEG_INFINITY);
    let out = std::io::stdout();
    let mut failure: Option<anyhow::Error> = None;
    reader
        .read_frames(
            |_, t| t >= *next_t.borrow() - 1.0,
            |vf| {
                *next_t.borrow_mut() = vf.t_ms + period;
                let frame = Frame::from(vf.image);
                let stages = session.borrow().stages_for_next_frame();
                let record = match engine.analyze(&frame.as_ref(), vf.t_ms, stages) {
                    Ok(r) => r,
                    Err(e) => {
                        failure = Some(e.into());
                        return ControlFlow::Break(());
                    }
                };
                let events = session.borrow_mut().push(&record);
                let mut out = out.lock();
                if args.records {
                    let _ = writeln!(out, "{}", serde_json::json!({ "record": record }));
                }
                for e in events {
                    let _ = writeln!(out, "{}", serde_json::to_string(&e).unwrap_or_default());
                }
                if session.borrow().is_done() {
                    ControlFlow::Break(())
                } else {
                    ControlFlow::Continue(())
                }
            },
        )
        .map_err(liveproof::Error::from)?;
    if let Some(e) = failure {
        return Err(e);
    }
    let mut session = session.into_inner();
    let mut out = out.lock();
    for e in session.finish() {
        writeln!(out, "{}", serde_json::to_string(&e)?)?;
    }
    if let Some(outcome) = session.outcome() {
        eprintln!("{}", serde_json::to_string(outcome)?);
    }
    Ok(())
}
