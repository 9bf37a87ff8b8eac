//! `liveproof light-sim`: the screen-light challenge (issue 14) simulated on the real live clips
//! of the shared media folder, and its detection table.
//!
//! # What is simulated
//!
//! Each live clip (`DIR/video_live/*.mp4|webm`) is decoded at 15 fps as the server decodes a
//! recording (a frame is taken when `t >= next_t − 1`), and the face mesh and box are found
//! once per frame (`Stages::GEOMETRY`). For every nonce `sim-{clip}-{k}` the session's sequence
//! is drawn ([`LightSequence::from_nonce`]) and shown on a timeline whose first onset is 300 ms
//! into the simulated recording, each later onset one drawn duration after the previous one.
//! The light reaches the camera `--lag-ms` after the reported onset (display and camera
//! pipelines; the scorer searches −100..400 ms). Before the first onset and after the last
//! segment the screen shows a neutral grey at the sequence's mean luminance.
//!
//! The recording is a stretch of the clip: nonce `k` starts at the `k`-th of `--nonces` evenly
//! spread start frames, so the nonces see different motion. A clip shorter than the sequence
//! is played forward then backward (ping-pong), which keeps the motion continuous.
//!
//! Four recordings are scored against the session's sequence with the default
//! [`LightConfig`]:
//!
//! - **honest**: every frame lit by the colour on screen at its time, through
//!   [`light::tint_frame`] with `--noise` DN of Gaussian noise per pixel on top of the clip's
//!   own sensor and compression noise;
//! - **other nonce**: the same frames lit by another session's sequence
//!   (`sim-{clip}-{k}-other`) on its own timeline — a live recording replayed into a new
//!   session (the false accept the light exists to stop);
//! - **unlit replay**: the frames as recorded, with no response at all (once per nonce: it
//!   does not depend on the share);
//! - **photo under the light**: the clip's first frame with a face, held for the whole
//!   recording and lit by this session's sequence. Paper reflects like skin, so this is expected
//!   to pass: the light does not catch a printed photo; the challenges and the still-stream
//!   rules do.
//!
//! With `--encode` the honest and other-nonce recordings are also written through the ffmpeg
//! CLI as VP8 WebM at 1 Mbit/s (real-time deadline, as browsers record) and decoded again
//! before they are measured, so compression is included.
//!
//! # The physics (the share)
//!
//! Skin radiance ∝ albedo × (E_ambient + E_screen) ([`light::simulate`]); the share is the
//! screen's part E_screen / (E_screen + E_ambient) of the light on the skin, averaged over the
//! sequence. A screen of luminance L and area A facing the face on axis at distance d is, to
//! first order, a Lambertian disc: E = π·L·a² / (a² + d²) = L·A / (A/π + d²) lux. Full white
//! at 250 cd/m², 0.03 m² (a 14" laptop at low brightness), 45 cm gives ≈ 35 lux; 500 cd/m²,
//! 0.06 m², 30 cm ≈ 275 lux (a phone close up is ~0.01 m² at ~25 cm: ≈ 40–80 lux). The issue's
//! "60–300 lux" is thus the upper two thirds of the range. The challenge does not show full
//! white: it paints a ring of colours of mean relative luminance ≈ 0.38 (0.20–0.68) around the
//! face oval, over roughly half to all of the screen, so the coloured light on the face is
//! about 0.2–0.4 of those figures: ≈ 7–110 lux. Ambient light on a face is 100–500 lux indoors
//! (horizontal desk figures; the vertical light on a face under ceiling lamps is often half)
//! and 1,000–5,000 lux by a bright window. So the share is ≈ 0.1–10 % by a window (mostly
//! under 3 %), ≈ 1.5–50 % in an ordinary room (≈ 10–15 % typical: 50 lux against 300), and
//! reaches 50–60 % only for a bright screen close up in a dim room. The `--shares` default
//! (1 %–50 %) spans that; 5–20 % is the common indoor case, ≤ 2 % the daylight case.
//!
//! # Cost
//!
//! Without `--encode` only the skin patches' neighbourhood is tinted (the rectangle around the
//! forehead, cheek and nose points that [`light::measure`] reads, through the same
//! [`light::tint_frame`]); the background it measures lies outside the face and is never
//! tinted, so the measurement is that of the fully tinted frame. With `--encode` whole frames
//! are tinted, since the codec spreads every pixel's change.
//!
//! Everything is deterministic: the nonces, the start frames and every noise seed derive from
//! the clip's name and the indices.

use std::cell::Cell;
use std::collections::BTreeMap;
use std::io::Write;
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Instant;

use anyhow::{bail, ensure, Context, Result};
use indicatif::{ProgressBar, ProgressStyle};
use liveproof::imgproc::BBox;
use liveproof::light::measure::{CHEEKS, FOREHEAD, NOSE};
use liveproof::light::sequence::linear_to_srgb;
use liveproof::light::{
    self, LightConfig, LightOutcome, LightPolicy, LightResult, LightSample, LightSequence,
    LightTimeline, Tint,
};
use liveproof::video::{VideoLimits, VideoReader};
use liveproof::{Engine, Frame, FrameRef, PixelFormat, Stages};
use serde::Serialize;

/// First onset of the simulated timeline (ms into the recording).
const FIRST_ONSET_MS: f64 = 300.0;
/// Recording kept after the last segment: the scorer's latest lag (400 ms) and some slack.
const TAIL_MS: f64 = 700.0;
/// Analysis rate (the server's default).
const FPS: f64 = 15.0;

#[derive(clap::Args)]
pub struct LightSimArgs {
    /// Media folder: the live clips are DIR/video_live/*.mp4|webm.
    #[arg(long, default_value = "../shared/media")]
    pub media: PathBuf,
    /// At most this many clips (in file-name order).
    #[arg(long)]
    pub clips: Option<usize>,
    /// Only the clips whose file name contains this.
    #[arg(long)]
    pub only: Option<String>,
    /// Screen shares of the light on the skin (0..0.95), comma-separated.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "0.01,0.02,0.05,0.1,0.2,0.3,0.5"
    )]
    pub shares: Vec<f32>,
    /// Nonces (sessions) per clip.
    #[arg(long, default_value_t = 20)]
    pub nonces: usize,
    /// Camera noise added to the lit skin, DN per pixel (on top of the clip's own).
    #[arg(long, default_value_t = 1.0)]
    pub noise: f32,
    /// Segments of the light policy (6..=12); the durations stay the default policy's.
    #[arg(long, default_value_t = LightPolicy::default().segments)]
    pub segments: usize,
    /// Display + camera latency: the light reaches the frames this long after the onsets.
    #[arg(long, default_value_t = 100.0)]
    pub lag_ms: f64,
    /// Also re-encode the honest and other-nonce recordings as VP8 WebM at 1 Mbit/s (ffmpeg).
    #[arg(long)]
    pub encode: bool,
    /// Longest stretch of each clip decoded, seconds.
    #[arg(long, default_value_t = 12.0)]
    pub max_seconds: f64,
    /// Worker threads for the tint / measure / score loop.
    #[arg(long, default_value_t = 2)]
    pub jobs: usize,
    /// Also write the results as JSON to this file.
    #[arg(long)]
    pub json: Option<PathBuf>,
}

/// The face of one analysed frame.
struct Face {
    points: Vec<[f32; 3]>,
    bbox: BBox,
}

struct SimFrame {
    t_ms: f64,
    rgb: Vec<u8>,
    face: Option<Face>,
}

/// One clip, decoded at 15 fps and analysed.
struct Clip {
    name: String,
    width: u32,
    height: u32,
    frames: Vec<SimFrame>,
    /// The first frame with a measurable face (the photo).
    photo: usize,
    /// The clip's own noise, as recorded.
    noise: Noise,
}

/// Outcomes of one condition.
#[derive(Default, Clone)]
struct Tally {
    passed: usize,
    failed: usize,
    inconclusive: usize,
    reasons: BTreeMap<String, usize>,
    scores: Vec<f32>,
    gains: Vec<f32>,
    lags: Vec<f32>,
}

impl Tally {
    fn add(&mut self, r: &LightResult) {
        match r.outcome {
            LightOutcome::Passed => self.passed += 1,
            LightOutcome::Failed => self.failed += 1,
            LightOutcome::Inconclusive => self.inconclusive += 1,
        }
        if r.outcome != LightOutcome::Passed {
            let reason = match (&r.reason, &r.timeline_error) {
                (Some(reason), _) => format!("{reason:?}"),
                (None, Some(e)) => format!("timeline: {e}"),
                (None, None) => "failed".to_string(),
            };
            *self.reasons.entry(reason).or_default() += 1;
        }
        self.scores.extend(r.score);
        self.gains.extend(r.gain);
        self.lags.extend(r.lag_ms.map(|l| l as f32));
    }

    fn merge(&mut self, o: &Tally) {
        self.passed += o.passed;
        self.failed += o.failed;
        self.inconclusive += o.inconclusive;
        for (k, v) in &o.reasons {
            *self.reasons.entry(k.clone()).or_default() += v;
        }
        self.scores.extend(&o.scores);
        self.gains.extend(&o.gains);
        self.lags.extend(&o.lags);
    }

    fn n(&self) -> usize {
        self.passed + self.failed + self.inconclusive
    }

    fn pct(&self, k: usize) -> Option<f64> {
        (self.n() > 0).then(|| 100.0 * k as f64 / self.n() as f64)
    }

    fn summary(&self) -> TallySummary {
        TallySummary {
            n: self.n(),
            passed: self.passed,
            failed: self.failed,
            inconclusive: self.inconclusive,
            pass_pct: self.pct(self.passed),
            inconclusive_pct: self.pct(self.inconclusive),
            median_score: median(&self.scores),
            median_gain: median(&self.gains),
            median_lag_ms: median(&self.lags),
            reasons: self.reasons.clone(),
        }
    }
}

#[derive(Serialize)]
struct TallySummary {
    n: usize,
    passed: usize,
    failed: usize,
    inconclusive: usize,
    pass_pct: Option<f64>,
    inconclusive_pct: Option<f64>,
    median_score: Option<f32>,
    median_gain: Option<f32>,
    median_lag_ms: Option<f32>,
    /// Why the others did not pass.
    reasons: BTreeMap<String, usize>,
}

fn median(v: &[f32]) -> Option<f32> {
    let mut v: Vec<f32> = v.iter().copied().filter(|x| x.is_finite()).collect();
    if v.is_empty() {
        return None;
    }
    v.sort_by(f32::total_cmp);
    Some(v[v.len() / 2])
}

/// The tallies of one share.
#[derive(Default, Clone)]
struct ShareTally {
    honest: Tally,
    other: Tally,
    photo: Tally,
    honest_vp8: Tally,
    other_vp8: Tally,
}

impl ShareTally {
    fn merge(&mut self, o: &ShareTally) {
        self.honest.merge(&o.honest);
        self.other.merge(&o.other);
        self.photo.merge(&o.photo);
        self.honest_vp8.merge(&o.honest_vp8);
        self.other_vp8.merge(&o.other_vp8);
    }

    fn summary(&self, share: f32, encode: bool) -> ShareSummary {
        ShareSummary {
            share,
            honest: self.honest.summary(),
            other_nonce: self.other.summary(),
            photo: self.photo.summary(),
            honest_vp8: encode.then(|| self.honest_vp8.summary()),
            other_nonce_vp8: encode.then(|| self.other_vp8.summary()),
        }
    }
}

#[derive(Serialize)]
struct ShareSummary {
    share: f32,
    honest: TallySummary,
    other_nonce: TallySummary,
    photo: TallySummary,
    #[serde(skip_serializing_if = "Option::is_none")]
    honest_vp8: Option<TallySummary>,
    #[serde(skip_serializing_if = "Option::is_none")]
    other_nonce_vp8: Option<TallySummary>,
}

/// What one nonce gave.
struct NonceResult {
    unlit: Tally,
    shares: Vec<ShareTally>,
    looped: bool,
}

#[derive(Serialize)]
struct ClipReport {
    name: String,
    width: u32,
    height: u32,
    frames: usize,
    face_frames: usize,
    duration_ms: f64,
    /// Some recordings were longer than the clip and played it back and forth.
    looped: bool,
    /// The clip's own frame-to-frame noise (ln units), as recorded.
    noise: Noise,
    unlit: TallySummary,
    shares: Vec<ShareSummary>,
}

#[derive(Serialize)]
struct Skipped {
    name: String,
    error: String,
}

#[derive(Serialize)]
struct Report {
    policy: LightPolicy,
    config: LightConfig,
    nonces_per_clip: usize,
    noise_dn: f32,
    lag_ms: f64,
    encode: bool,
    clips: usize,
    frames: usize,
    unlit: TallySummary,
    shares: Vec<ShareSummary>,
    per_clip: Vec<ClipReport>,
    skipped: Vec<Skipped>,
}

/// Simulation parameters shared by every recording.
struct Params<'a> {
    policy: &'a LightPolicy,
    config: &'a LightConfig,
    shares: &'a [f32],
    nonces: usize,
    noise: f32,
    lag_ms: f64,
    encode: bool,
}

pub fn run(engine: &Engine, args: LightSimArgs) -> Result<()> {
    let policy = LightPolicy {
        segments: args.segments,
        ..LightPolicy::default()
    };
    policy.validate()?;
    let config = LightConfig::default();
    ensure!(args.nonces >= 1, "--nonces must be at least 1");
    ensure!(
        !args.shares.is_empty() && args.shares.iter().all(|s| (0.0..=0.95).contains(s)),
        "--shares must be numbers in 0..=0.95"
    );
    ensure!(
        args.noise.is_finite() && (0.0..=255.0).contains(&args.noise),
        "--noise must be in 0..=255"
    );
    ensure!(
        args.lag_ms.is_finite() && args.lag_ms.abs() <= 2000.0,
        "--lag-ms must be within ±2000"
    );
    ensure!(
        args.max_seconds.is_finite() && args.max_seconds > 1.0,
        "--max-seconds must be > 1"
    );
    if args.encode {
        let ok = Command::new("ffmpeg")
            .arg("-version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        ensure!(
            ok,
            "--encode needs the ffmpeg command (scripts/install-deps.sh)"
        );
    }
    let params = Params {
        policy: &policy,
        config: &config,
        shares: &args.shares,
        nonces: args.nonces,
        noise: args.noise,
        lag_ms: args.lag_ms,
        encode: args.encode,
    };

    let dir = args.media.join("video_live");
    let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)
        .with_context(|| format!("listing {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.extension()
                .and_then(|e| e.to_str())
                .is_some_and(|e| matches!(e.to_ascii_lowercase().as_str(), "mp4" | "webm"))
        })
        .filter(|p| {
            args.only.as_deref().is_none_or(|o| {
                p.file_name()
                    .is_some_and(|n| n.to_string_lossy().contains(o))
            })
        })
        .collect();
    paths.sort();
    if let Some(n) = args.clips {
        paths.truncate(n);
    }
    ensure!(!paths.is_empty(), "no live clips in {}", dir.display());

    let bar = ProgressBar::new((paths.len() * args.nonces) as u64);
    bar.set_style(
        ProgressStyle::with_template(
            "{bar:40} {pos}/{len} clip×nonce  {elapsed_precise} (eta {eta})  {msg}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let mut totals = vec![ShareTally::default(); args.shares.len()];
    let mut unlit = Tally::default();
    let mut per_clip = Vec::new();
    let mut skipped = Vec::new();
    let mut frames_total = 0;
    for path in &paths {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        bar.set_message(format!("analysing {name}"));
        let started = Instant::now();
        let outcome = load_clip(engine, path, &name, args.max_seconds).and_then(|clip| {
            let analysed = started.elapsed().as_secs_f64();
            bar.set_message(format!("simulating {name}"));
            let results = simulate_clip(&clip, &params, args.jobs, &bar)?;
            Ok((clip, analysed, results))
        });
        let (clip, analysed, results) = match outcome {
            Ok(v) => v,
            Err(e) => {
                bar.suspend(|| eprintln!("{name}: skipped: {e:#}"));
                bar.inc(args.nonces as u64);
                skipped.push(Skipped {
                    name,
                    error: format!("{e:#}"),
                });
                continue;
            }
        };
        let mut clip_shares = vec![ShareTally::default(); args.shares.len()];
        let mut clip_unlit = Tally::default();
        let mut looped = false;
        for r in &results {
            clip_unlit.merge(&r.unlit);
            for (t, s) in clip_shares.iter_mut().zip(&r.shares) {
                t.merge(s);
            }
            looped |= r.looped;
        }
        for (t, s) in totals.iter_mut().zip(&clip_shares) {
            t.merge(s);
        }
        unlit.merge(&clip_unlit);
        frames_total += clip.frames.len();
        let face_frames = clip.frames.iter().filter(|f| f.face.is_some()).count();
        let line = clip_shares
            .iter()
            .zip(&args.shares)
            .map(|(t, s)| format!("{s}:{}/{}", t.honest.passed, t.honest.n()))
            .collect::<Vec<_>>()
            .join(" ");
        bar.suspend(|| {
            eprintln!(
                "{name}: {}x{}, {} frames ({} with a face){}, noise skin/ref/ratio {:.4}/{:.4}/{:.4}, analysis {analysed:.1} s, total {:.1} s; honest passes {line}; other-nonce passes {}; unlit passes {}",
                clip.width,
                clip.height,
                clip.frames.len(),
                face_frames,
                if looped { ", looped" } else { "" },
                clip.noise.skin,
                clip.noise.reference,
                clip.noise.ratio,
                started.elapsed().as_secs_f64(),
                clip_shares.iter().map(|t| t.other.passed).sum::<usize>(),
                clip_unlit.passed,
            )
        });
        per_clip.push(ClipReport {
            name,
            width: clip.width,
            height: clip.height,
            frames: clip.frames.len(),
            face_frames,
            duration_ms: clip.frames.last().map_or(0.0, |f| f.t_ms),
            looped,
            noise: clip.noise,
            unlit: clip_unlit.summary(),
            shares: clip_shares
                .iter()
                .zip(&args.shares)
                .map(|(t, &s)| t.summary(s, args.encode))
                .collect(),
        });
    }
    bar.finish_and_clear();

    let report = Report {
        policy: policy.clone(),
        config: config.clone(),
        nonces_per_clip: args.nonces,
        noise_dn: args.noise,
        lag_ms: args.lag_ms,
        encode: args.encode,
        clips: per_clip.len(),
        frames: frames_total,
        unlit: unlit.summary(),
        shares: totals
            .iter()
            .zip(&args.shares)
            .map(|(t, &s)| t.summary(s, args.encode))
            .collect(),
        per_clip,
        skipped,
    };
    print!("{}", table(&report));
    if let Some(path) = &args.json {
        std::fs::write(path, serde_json::to_string_pretty(&report)?)
            .with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(())
}

/// The markdown table and its footer.
fn table(r: &Report) -> String {
    let pct = |v: Option<f64>| v.map_or("–".to_string(), |v| format!("{v:.1}"));
    let mut out = String::new();
    out.push_str("| share | honest pass % (n) | honest inconclusive % | median score | other-nonce pass % | photo pass %");
    if r.encode {
        out.push_str(
            " | VP8 honest pass % (n) | VP8 honest inconclusive % | VP8 other-nonce pass %",
        );
    }
    out.push_str(" |\n|---|---|---|---|---|---");
    if r.encode {
        out.push_str("|---|---|---");
    }
    out.push_str("|\n");
    for s in &r.shares {
        out.push_str(&format!(
            "| {} | {} ({}) | {} | {} | {} | {}",
            s.share,
            pct(s.honest.pass_pct),
            s.honest.n,
            pct(s.honest.inconclusive_pct),
            s.honest
                .median_score
                .map_or("–".to_string(), |v| format!("{v:.3}")),
            pct(s.other_nonce.pass_pct),
            pct(s.photo.pass_pct),
        ));
        if let (Some(h), Some(o)) = (&s.honest_vp8, &s.other_nonce_vp8) {
            out.push_str(&format!(
                " | {} ({}) | {} | {}",
                pct(h.pass_pct),
                h.n,
                pct(h.inconclusive_pct),
                pct(o.pass_pct)
            ));
        }
        out.push_str(" |\n");
    }
    out.push_str(&format!(
        "\nUnlit replay (no response, scored against the session's sequence): {} % passed (n = {}).\n",
        pct(r.unlit.pass_pct),
        r.unlit.n
    ));
    out.push_str(&format!(
        "{} clips ({} skipped), {} frames at 15 fps, {} nonces per clip; policy {} segments of {}–{} ms; LightConfig pass_score {}; noise {} DN, light lag {} ms{}.\n",
        r.clips,
        r.skipped.len(),
        r.frames,
        r.nonces_per_clip,
        r.policy.segments,
        r.policy.min_segment_ms,
        r.policy.max_segment_ms,
        r.config.pass_score,
        r.noise_dn,
        r.lag_ms,
        if r.encode { ", VP8 1 Mbit/s re-encoding" } else { "" },
    ));
    for s in &r.skipped {
        out.push_str(&format!("Skipped {}: {}\n", s.name, s.error));
    }
    out
}

/// Decodes a clip at 15 fps (at most `max_seconds`) and finds the face on every frame.
fn load_clip(engine: &Engine, path: &Path, name: &str, max_seconds: f64) -> Result<Clip> {
    let limits = VideoLimits {
        decode_threads: 1,
        ..VideoLimits::default()
    };
    let mut reader = VideoReader::from_path(path, &limits)?;
    let period = 1000.0 / FPS;
    let next_t = Cell::new(f64::NEG_INFINITY);
    let mut first_t = None;
    let mut frames: Vec<SimFrame> = Vec::new();
    let mut size = None;
    let mut failure = None;
    reader.read_frames(
        |_, t| t >= next_t.get() - 1.0,
        |vf| {
            next_t.set(vf.t_ms + period);
            let t0 = *first_t.get_or_insert(vf.t_ms);
            let t_ms = vf.t_ms - t0;
            if t_ms > max_seconds * 1000.0 {
                return ControlFlow::Break(());
            }
            let frame = Frame::from(vf.image);
            let dims = (frame.width(), frame.height());
            if *size.get_or_insert(dims) != dims {
                failure = Some(anyhow::anyhow!(
                    "the resolution changes at {t_ms:.0} ms (not simulated)"
                ));
                return ControlFlow::Break(());
            }
            match engine.analyze(&frame.as_ref(), t_ms, Stages::GEOMETRY) {
                Ok(record) => {
                    let face = record.face.map(|f| Face {
                        points: f.landmarks.points,
                        bbox: f.detection.bbox,
                    });
                    frames.push(SimFrame {
                        t_ms,
                        rgb: frame.into_rgb(),
                        face,
                    });
                    ControlFlow::Continue(())
                }
                Err(e) => {
                    failure =
                        Some(anyhow::Error::from(e).context(format!("frame at {t_ms:.0} ms")));
                    ControlFlow::Break(())
                }
            }
        },
    )?;
    if let Some(e) = failure {
        return Err(e);
    }
    let (width, height) = size.context("no frame decoded")?;
    let with_face = frames.iter().filter(|f| f.face.is_some()).count();
    if frames.len() < 2 || 2 * with_face <= frames.len() {
        bail!(
            "a face was found in only {with_face} of {} frames",
            frames.len()
        );
    }
    // As recorded: where the light can be measured at all (a face of at least
    // light::measure::MIN_FACE_PX, inside the frame, with background around it).
    let unlit: Vec<LightSample> = frames
        .iter()
        .filter_map(|f| {
            let face = f.face.as_ref()?;
            let frame = FrameRef::new(width, height, PixelFormat::Rgb8, &f.rgb).ok()?;
            light::measure(&frame, f.t_ms, &face.points, &face.bbox)
        })
        .collect();
    if 2 * unlit.len() <= frames.len() {
        bail!(
            "the light can be measured on only {} of {} frames (face too small or at the edge)",
            unlit.len(),
            frames.len()
        );
    }
    let photo = frames
        .iter()
        .position(|f| {
            f.face.as_ref().is_some_and(|face| {
                FrameRef::new(width, height, PixelFormat::Rgb8, &f.rgb)
                    .ok()
                    .and_then(|fr| light::measure(&fr, f.t_ms, &face.points, &face.bbox))
                    .is_some()
            })
        })
        .context("no measurable face")?;
    Ok(Clip {
        name: name.to_string(),
        width,
        height,
        frames,
        photo,
        noise: Noise::of(&unlit),
    })
}

/// Frame-to-frame noise of the clip as recorded (no light), ln units per frame: the robust
/// spread (MAD / √2 of consecutive differences, median over the channels) of the skin, the
/// background and their log ratio (what the scorer correlates).
#[derive(Serialize, Clone, Copy)]
struct Noise {
    skin: f32,
    reference: f32,
    ratio: f32,
}

impl Noise {
    fn of(samples: &[LightSample]) -> Self {
        let spread = |f: &dyn Fn(&LightSample, usize) -> f64| {
            let per_channel: Vec<f32> = (0..3)
                .map(|c| {
                    let d: Vec<f32> = samples
                        .windows(2)
                        .map(|w| (f(&w[1], c) - f(&w[0], c)) as f32)
                        .collect();
                    let m = median(&d).unwrap_or(0.0);
                    let dev: Vec<f32> = d.iter().map(|x| (x - m).abs()).collect();
                    median(&dev).unwrap_or(f32::NAN) * 1.4826 / std::f32::consts::SQRT_2
                })
                .collect();
            median(&per_channel).unwrap_or(f32::NAN)
        };
        let ln = |v: f32| (f64::from(v) + 1.0).ln();
        Noise {
            skin: spread(&|s, c| ln(s.skin[c])),
            reference: spread(&|s, c| ln(s.reference[c])),
            ratio: spread(&|s, c| ln(s.skin[c]) - ln(s.reference[c])),
        }
    }
}

/// The recording: (time on the recording, clip frame index), from `start`, for `duration_ms`,
/// playing the clip back and forth when it is too short. The bool says whether it turned.
fn schedule(clip: &Clip, start: usize, duration_ms: f64) -> (Vec<(f64, usize)>, bool) {
    let n = clip.frames.len();
    let mut out = vec![(0.0, start)];
    let (mut t, mut idx, mut forward, mut turned) = (0.0, start, true, false);
    while t < duration_ms {
        let next = if forward {
            if idx + 1 < n {
                idx + 1
            } else {
                forward = false;
                turned = true;
                idx.saturating_sub(1)
            }
        } else if idx > 0 {
            idx - 1
        } else {
            forward = true;
            turned = true;
            (idx + 1).min(n - 1)
        };
        let dt = (clip.frames[next].t_ms - clip.frames[idx].t_ms).abs();
        t += if dt > 0.0 && dt.is_finite() {
            dt
        } else {
            1000.0 / FPS
        };
        idx = next;
        out.push((t, idx));
    }
    (out, turned)
}

/// Nonce `k`'s start frame: the nonces' recordings spread evenly over the clip.
fn start_frame(clip: &Clip, k: usize, nonces: usize, duration_ms: f64) -> usize {
    let last_t = clip.frames.last().map_or(0.0, |f| f.t_ms);
    let latest = clip
        .frames
        .iter()
        .rposition(|f| f.t_ms + duration_ms <= last_t)
        .unwrap_or(0);
    if nonces <= 1 {
        0
    } else {
        k * latest / (nonces - 1)
    }
}

/// SplitMix64 over a few values: the noise seeds.
fn seed_of(parts: &[u64]) -> u64 {
    let mut h = 0x9e37_79b9_7f4a_7c15u64;
    for &p in parts {
        h ^= p.wrapping_add(0x9e37_79b9_7f4a_7c15);
        h = h.wrapping_mul(0xbf58_476d_1ce4_e5b9);
        h ^= h >> 31;
        h = h.wrapping_mul(0x94d0_49bb_1331_11eb);
        h ^= h >> 29;
    }
    h
}

fn name_hash(name: &str) -> u64 {
    name.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// Runs every nonce of a clip on `jobs` threads.
fn simulate_clip(
    clip: &Clip,
    params: &Params,
    jobs: usize,
    bar: &ProgressBar,
) -> Result<Vec<NonceResult>> {
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<(usize, Result<NonceResult>)>> = Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for _ in 0..jobs.clamp(1, 16) {
            scope.spawn(|| loop {
                let k = next.fetch_add(1, Ordering::Relaxed);
                if k >= params.nonces {
                    break;
                }
                let r = simulate_nonce(clip, params, k);
                bar.inc(1);
                if let Ok(mut v) = results.lock() {
                    v.push((k, r));
                }
            });
        }
    });
    let mut results = results
        .into_inner()
        .map_err(|_| anyhow::anyhow!("a worker thread panicked"))?;
    ensure!(results.len() == params.nonces, "a worker thread panicked");
    results.sort_by_key(|(k, _)| *k);
    results
        .into_iter()
        .map(|(k, r)| r.with_context(|| format!("nonce sim-{}-{k}", clip.name)))
        .collect()
}

/// What is on screen during a recording.
#[derive(Clone, Copy)]
struct Shown<'a> {
    seq: &'a LightSequence,
    timeline: &'a LightTimeline,
    share: f32,
}

impl Shown<'_> {
    /// The colour on the face at recording time `t` (the neutral grey outside the sequence).
    fn colour(&self, t_ms: f64, lag_ms: f64) -> [u8; 3] {
        light::colour_at(self.seq, self.timeline, t_ms - lag_ms).unwrap_or_else(|| {
            let grey = (linear_to_srgb(self.seq.mean_luminance()) * 255.0).round() as u8;
            [grey; 3]
        })
    }
}

fn simulate_nonce(clip: &Clip, params: &Params, k: usize) -> Result<NonceResult> {
    let nonce = format!("sim-{}-{k}", clip.name);
    let seq = LightSequence::from_nonce(&nonce, params.policy)?;
    let tl = seq.timeline_from(FIRST_ONSET_MS);
    let other_seq = LightSequence::from_nonce(&format!("{nonce}-other"), params.policy)?;
    let other_tl = other_seq.timeline_from(FIRST_ONSET_MS);
    let duration = FIRST_ONSET_MS + seq.total_ms().max(other_seq.total_ms()) + TAIL_MS;
    let start = start_frame(clip, k, params.nonces, duration);
    let (sched, looped) = schedule(clip, start, duration);
    let base = [name_hash(&clip.name), k as u64];
    let score = |samples: &[LightSample]| light::score(&seq, &tl, samples, params.config);

    let mut unlit = Tally::default();
    unlit.add(&score(&measure_recording(
        clip, &sched, None, None, params, 0,
    )));
    let mut shares = Vec::with_capacity(params.shares.len());
    for (si, &share) in params.shares.iter().enumerate() {
        let mut tally = ShareTally::default();
        let honest = Shown {
            seq: &seq,
            timeline: &tl,
            share,
        };
        let other = Shown {
            seq: &other_seq,
            timeline: &other_tl,
            share,
        };
        let seed = |cond: u64| seed_of(&[base[0], base[1], si as u64, cond]);
        let s = measure_recording(clip, &sched, Some(honest), None, params, seed(1));
        tally.honest.add(&score(&s));
        let s = measure_recording(clip, &sched, Some(other), None, params, seed(2));
        tally.other.add(&score(&s));
        let s = measure_recording(
            clip,
            &sched,
            Some(honest),
            Some(clip.photo),
            params,
            seed(3),
        );
        tally.photo.add(&score(&s));
        if params.encode {
            let tag = format!("{k}-{si}");
            let s = encoded_recording(clip, &sched, honest, params, seed(4), &format!("{tag}-h"))?;
            tally.honest_vp8.add(&score(&s));
            let s = encoded_recording(clip, &sched, other, params, seed(5), &format!("{tag}-o"))?;
            tally.other_vp8.add(&score(&s));
        }
        shares.push(tally);
    }
    Ok(NonceResult {
        unlit,
        shares,
        looped,
    })
}

/// The rectangle (x0, y0, x1, y1) holding every skin patch `light::measure` reads, with a
/// margin; None when it is empty.
fn patch_rect(face: &Face, width: u32, height: u32) -> Option<(u32, u32, u32, u32)> {
    let size = face.bbox.width().max(face.bbox.height());
    let margin = 0.05 * size + 2.0;
    let (mut x0, mut y0, mut x1, mut y1) = (f32::MAX, f32::MAX, f32::MIN, f32::MIN);
    for &i in FOREHEAD.iter().chain(&CHEEKS).chain(&NOSE) {
        let Some(&[x, y, _]) = face.points.get(i) else {
            continue;
        };
        if x.is_finite() && y.is_finite() {
            (x0, y0, x1, y1) = (x0.min(x), y0.min(y), x1.max(x), y1.max(y));
        }
    }
    let clampx = |v: f32| v.clamp(0.0, width as f32) as u32;
    let clampy = |v: f32| v.clamp(0.0, height as f32) as u32;
    let r = (
        clampx((x0 - margin).floor()),
        clampy((y0 - margin).floor()),
        clampx((x1 + margin).ceil() + 1.0),
        clampy((y1 + margin).ceil() + 1.0),
    );
    (r.0 < r.2 && r.1 < r.3).then_some(r)
}

/// Measures a recording: the clip frames of `sched` (or frame `hold` throughout), lit by
/// `shown` (None: as recorded). Only the skin patches' rectangle is tinted (see the module
/// docs).
fn measure_recording(
    clip: &Clip,
    sched: &[(f64, usize)],
    shown: Option<Shown>,
    hold: Option<usize>,
    params: &Params,
    seed: u64,
) -> Vec<LightSample> {
    let (w, h) = (clip.width, clip.height);
    let row = w as usize * 3;
    let mut scratch: Vec<u8> = Vec::new();
    let mut samples = Vec::with_capacity(sched.len());
    for (j, &(t, i)) in sched.iter().enumerate() {
        let f = &clip.frames[hold.unwrap_or(i)];
        let Some(face) = &f.face else {
            continue;
        };
        let data: &[u8] = match (shown, patch_rect(face, w, h)) {
            (Some(shown), Some((x0, y0, x1, y1))) => {
                let (cw, ch) = (x1 - x0, y1 - y0);
                let mut crop = Vec::with_capacity((cw * ch * 3) as usize);
                for y in y0..y1 {
                    let a = y as usize * row + x0 as usize * 3;
                    crop.extend_from_slice(&f.rgb[a..a + cw as usize * 3]);
                }
                let Ok(mut small) = Frame::from_rgb(cw, ch, crop) else {
                    continue;
                };
                let points: Vec<[f32; 3]> = face
                    .points
                    .iter()
                    .map(|p| [p[0] - x0 as f32, p[1] - y0 as f32, p[2]])
                    .collect();
                let tint = Tint {
                    share: shown.share,
                    noise_sigma: params.noise,
                };
                light::tint_frame(
                    &mut small,
                    &points,
                    shown.colour(t, params.lag_ms),
                    shown.seq.mean_luminance(),
                    &tint,
                    seed_of(&[seed, j as u64]),
                );
                let lit = small.into_rgb();
                scratch.clear();
                scratch.extend_from_slice(&f.rgb);
                for (r, y) in (y0..y1).enumerate() {
                    let a = y as usize * row + x0 as usize * 3;
                    let src = r * cw as usize * 3;
                    scratch[a..a + cw as usize * 3]
                        .copy_from_slice(&lit[src..src + cw as usize * 3]);
                }
                &scratch
            }
            _ => &f.rgb,
        };
        let Ok(frame) = FrameRef::new(w, h, PixelFormat::Rgb8, data) else {
            continue;
        };
        samples.extend(light::measure(&frame, t, &face.points, &face.bbox));
    }
    samples
}

/// Renders the whole recording lit by `shown`, encodes it as VP8 WebM at 1 Mbit/s, decodes it
/// and measures the decoded frames (with the source frames' meshes and times).
fn encoded_recording(
    clip: &Clip,
    sched: &[(f64, usize)],
    shown: Shown,
    params: &Params,
    seed: u64,
    tag: &str,
) -> Result<Vec<LightSample>> {
    let (w, h) = (clip.width, clip.height);
    let span = sched.last().map_or(0.0, |s| s.0);
    let rate = if span > 0.0 {
        (sched.len() - 1) as f64 * 1000.0 / span
    } else {
        FPS
    };
    let path = std::env::temp_dir().join(format!(
        "liveproof-light-sim-{}-{:x}-{tag}.webm",
        std::process::id(),
        name_hash(&clip.name)
    ));
    let result = (|| -> Result<Vec<LightSample>> {
        let mut ffmpeg = Command::new("ffmpeg")
            .args(["-v", "error", "-y", "-f", "rawvideo", "-pix_fmt", "rgb24"])
            .args([
                "-s",
                &format!("{w}x{h}"),
                "-framerate",
                &format!("{rate:.3}"),
            ])
            .args([
                "-i",
                "-",
                "-c:v",
                "libvpx",
                "-b:v",
                "1M",
                "-deadline",
                "realtime",
            ])
            .args(["-cpu-used", "5", "-threads", "1", "-pix_fmt", "yuv420p"])
            .arg(&path)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .context("starting ffmpeg")?;
        let mut stdin = ffmpeg.stdin.take().context("ffmpeg stdin")?;
        let tint = Tint {
            share: shown.share,
            noise_sigma: params.noise,
        };
        let mut write_error = None;
        for (j, &(t, i)) in sched.iter().enumerate() {
            let f = &clip.frames[i];
            let mut frame = Frame::from_rgb(w, h, f.rgb.clone())?;
            if let Some(face) = &f.face {
                light::tint_frame(
                    &mut frame,
                    &face.points,
                    shown.colour(t, params.lag_ms),
                    shown.seq.mean_luminance(),
                    &tint,
                    seed_of(&[seed, j as u64]),
                );
            }
            if let Err(e) = stdin.write_all(&frame.into_rgb()) {
                write_error = Some(e);
                break;
            }
        }
        drop(stdin);
        let out = ffmpeg.wait_with_output().context("waiting for ffmpeg")?;
        if !out.status.success() || write_error.is_some() {
            bail!(
                "ffmpeg failed ({}): {}",
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
        let limits = VideoLimits {
            decode_threads: 1,
            ..VideoLimits::default()
        };
        let mut reader = VideoReader::from_path(&path, &limits)?;
        let mut samples = Vec::with_capacity(sched.len());
        let mut j = 0usize;
        reader.read_frames(
            |_, _| true,
            |vf| {
                if let Some(&(t, i)) = sched.get(j) {
                    if let Some(face) = &clip.frames[i].face {
                        let frame = Frame::from(vf.image);
                        samples.extend(light::measure(
                            &frame.as_ref(),
                            t,
                            &face.points,
                            &face.bbox,
                        ));
                    }
                }
                j += 1;
                ControlFlow::Continue(())
            },
        )?;
        ensure!(
            j == sched.len(),
            "{} frames encoded, {j} decoded",
            sched.len()
        );
        Ok(samples)
    })();
    let _ = std::fs::remove_file(&path);
    result
}
