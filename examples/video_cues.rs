//! Evaluation of the motion and screen cues (`liveproof::cues`) on the shared media.
//!
//! ```sh
//! cargo run --release --example video_cues             # every clip and still
//! VIDEO_CUES_ONLY=zub cargo run --release --example video_cues   # clips/stills whose name contains "zub"
//! ```
//!
//! Clips (`../shared/media/video_live`, bona fide; `video_spoof`, attacks) are analysed the way
//! `check::VideoAnalyzer` scans a video for geometry: about 15 frames a second, at most
//! `MAX_BLINK_FRAMES` of them, the detector every third frame and the face mesh tracking the
//! face in between (`Engine::analyze_tracked`, `Stages::GEOMETRY`); a frame's face counts when
//! it is the only one and the mesh sees it. Every such frame goes through `MotionTracker` and
//! `screen_sample`; a frame without a face breaks the motion chain. The screen cue is also
//! measured on the stills of `live/` (bona fide) and `spoof/` (attacks, without
//! `spoof/uncertain_label/`), labelled by their catalog.csv path, with the main face of
//! `Engine::analyze`.
//!
//! For each feature the table below the rows gives the best single threshold on these very
//! items (either direction) and how many bona fide and attack items it puts on the right side:
//! an in-sample figure, optimistic by construction, and with 3 attack clips close to
//! meaningless as an error rate. Per-frame costs are the median over a clip's frames of each
//! cue's call, at the clip's resolution.

use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::time::Instant;

use liveproof::check::MAX_BLINK_FRAMES;
use liveproof::cues::{screen_sample, Coupling, MotionCue, MotionTracker, ScreenCue, ScreenSample};
use liveproof::imgproc::BBox;
use liveproof::models::ModelSource;
use liveproof::pipeline::Tracker;
use liveproof::video::{VideoLimits, VideoReader};
use liveproof::{decode_image, Engine, EngineConfig, FrameRef, ImageLimits, PixelFormat, Stages};

const MEDIA: &str = "../shared/media";
/// The server's geometry scan rate.
const ANALYSIS_FPS: f64 = 15.0;
/// As `check::VideoAnalyzer`: the detector every third analysed frame.
const DETECT_EVERY: u32 = 3;

struct ClipResult {
    name: String,
    attack: bool,
    size: (u32, u32),
    frames: usize,
    with_face: usize,
    motion: MotionCue,
    face_blocks: f32,
    surround_blocks: f32,
    screen: Option<ScreenCue>,
    motion_us: f64,
    screen_us: f64,
}

struct StillResult {
    name: String,
    attack: bool,
    size: (u32, u32),
    face_px: Option<f32>,
    screen: Option<ScreenSample>,
    screen_us: f64,
}

fn main() {
    let only = std::env::var("VIDEO_CUES_ONLY").ok();
    let wanted = |name: &str| only.as_deref().is_none_or(|o| name.contains(o));
    let config = EngineConfig {
        age_gender: false,
        ..EngineConfig::default()
    };
    let engine = Engine::load(&ModelSource::from_env(), config).expect("models (see README)");

    let mut clips = Vec::new();
    for (dir, attack) in [("video_live", false), ("video_spoof", true)] {
        let mut paths: Vec<PathBuf> = std::fs::read_dir(Path::new(MEDIA).join(dir))
            .map(|d| d.filter_map(|e| e.ok().map(|e| e.path())).collect())
            .unwrap_or_default();
        paths.sort();
        for path in paths {
            let name = format!(
                "{dir}/{}",
                path.file_name().unwrap_or_default().to_string_lossy()
            );
            if !wanted(&name) {
                continue;
            }
            eprintln!("{name}");
            match measure_clip(&engine, &path) {
                Ok(mut r) => {
                    r.name = name;
                    r.attack = attack;
                    clips.push(r);
                }
                Err(e) => println!("{name}: error: {e}"),
            }
        }
    }
    let stills = measure_stills(&engine, &wanted);

    print_motion(&clips);
    print_screen_clips(&clips);
    print_screen_stills(&stills);
}

fn median(mut v: Vec<f64>) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) * 0.5
    }
}

fn measure_clip(engine: &Engine, path: &Path) -> Result<ClipResult, String> {
    let mut reader =
        VideoReader::from_path(path, &VideoLimits::default()).map_err(|e| e.to_string())?;
    let info = reader.info().clone();
    let period = 1000.0 / ANALYSIS_FPS;
    let mut next_t = f64::NEG_INFINITY;
    let mut tracker = Tracker::new(DETECT_EVERY);
    let mut motion = MotionTracker::new();
    let mut screens = Vec::new();
    let (mut motion_us, mut screen_us) = (Vec::new(), Vec::new());
    let (mut frames, mut with_face) = (0usize, 0usize);
    let min_presence = engine.config().quality.min_presence;
    let mut error = None;
    reader
        .read_frames(
            |_, t| {
                let keep = t >= next_t - 1.0;
                if keep {
                    next_t = t + period;
                }
                keep
            },
            |vf| {
                let (w, h) = vf.image.dimensions();
                let frame =
                    FrameRef::new(w, h, PixelFormat::Rgb8, vf.image.as_raw()).expect("frame");
                let detect = tracker.detection_due();
                let rec = match engine.analyze_tracked(
                    &frame,
                    vf.t_ms,
                    Stages::GEOMETRY,
                    &mut tracker,
                    detect,
                ) {
                    Ok(r) => r,
                    Err(e) => {
                        error = Some(e.to_string());
                        return ControlFlow::Break(());
                    }
                };
                frames += 1;
                let face: Option<BBox> = rec
                    .face
                    .as_ref()
                    .filter(|f| rec.faces.len() == 1 && f.landmarks.presence >= min_presence)
                    .map(|f| f.detection.bbox);
                with_face += usize::from(face.is_some());
                let began = Instant::now();
                motion.push(&frame, face.as_ref());
                if let Some(face) = &face {
                    motion_us.push(began.elapsed().as_secs_f64() * 1e6);
                    let began = Instant::now();
                    if let Some(s) = screen_sample(&frame, face) {
                        screens.push(s);
                    }
                    screen_us.push(began.elapsed().as_secs_f64() * 1e6);
                }
                if frames >= MAX_BLINK_FRAMES {
                    ControlFlow::Break(())
                } else {
                    ControlFlow::Continue(())
                }
            },
        )
        .map_err(|e| e.to_string())?;
    if let Some(e) = error {
        return Err(e);
    }
    let pairs = motion.pairs();
    let mean_blocks = |f: fn(&liveproof::cues::MotionPair) -> usize| {
        pairs.iter().map(|p| f(p) as f32).sum::<f32>() / pairs.len().max(1) as f32
    };
    Ok(ClipResult {
        name: String::new(),
        attack: false,
        size: (info.width, info.height),
        frames,
        with_face,
        motion: motion.finish(),
        face_blocks: mean_blocks(|p| p.face_blocks),
        surround_blocks: mean_blocks(|p| p.surround_blocks),
        screen: ScreenCue::from_samples(&screens),
        motion_us: median(motion_us),
        screen_us: median(screen_us),
    })
}

fn measure_stills(engine: &Engine, wanted: &dyn Fn(&str) -> bool) -> Vec<StillResult> {
    let catalog = std::fs::read_to_string(Path::new(MEDIA).join("catalog.csv")).expect("catalog");
    let mut out = Vec::new();
    for line in catalog.lines().skip(1) {
        let path = line.split(',').next().unwrap_or_default();
        let attack = if path.starts_with("live/") {
            false
        } else if path.starts_with("spoof/") && !path.starts_with("spoof/uncertain_label/") {
            true
        } else {
            continue;
        };
        if !wanted(path) {
            continue;
        }
        let bytes = match std::fs::read(Path::new(MEDIA).join(path)) {
            Ok(b) => b,
            Err(e) => {
                println!("{path}: error: {e}");
                continue;
            }
        };
        let frame = match decode_image(&bytes, &ImageLimits::default()) {
            Ok(f) => f,
            Err(e) => {
                println!("{path}: error: {e}");
                continue;
            }
        };
        let fr = frame.as_ref();
        let rec = engine.analyze(&fr, 0.0, Stages::GEOMETRY).expect("analyze");
        let bbox = rec.face.as_ref().map(|f| f.detection.bbox);
        let began = Instant::now();
        let screen = bbox.as_ref().and_then(|b| screen_sample(&fr, b));
        let us = began.elapsed().as_secs_f64() * 1e6;
        out.push(StillResult {
            name: path.to_string(),
            attack,
            size: (fr.width(), fr.height()),
            face_px: bbox.map(|b| b.width().max(b.height())),
            screen,
            screen_us: us,
        });
    }
    out
}

fn label(attack: bool) -> &'static str {
    if attack {
        "attack"
    } else {
        "bona fide"
    }
}

/// The single threshold with the best balanced accuracy (mean of the bona fide kept and
/// attacks caught rates; plain counts would favour flagging nothing, with 3 attack clips),
/// trying the directions in `highs` (`true`: attack if above): its description.
fn best_threshold(items: &[(f32, bool)], highs: &[bool]) -> String {
    let live = items.iter().filter(|i| !i.1).count();
    let attacks = items.len() - live;
    if live == 0 || attacks == 0 {
        return format!("n/a ({live} bona fide, {attacks} attacks with a value)");
    }
    let mut best = (-1.0f64, 0usize, 0usize, 0.0f32, true);
    for &t in &cuts(items) {
        for &high in highs {
            let (kept, caught) = split(items, t, high);
            let balanced = kept as f64 / live as f64 + caught as f64 / attacks as f64;
            if balanced > best.0 + 1e-9 {
                best = (balanced, kept, caught, t, high);
            }
        }
    }
    let (_, kept, caught, t, high) = best;
    format!(
        "attack if {} {t:.4}: bona fide {kept}/{live} kept, attacks {caught}/{attacks} caught{}",
        if high { ">" } else { "<" },
        if kept == live && caught == attacks {
            " (separates all)"
        } else {
            ""
        }
    )
}

/// In direction `high`, the most attacks caught by a threshold that keeps every bona fide item.
fn caught_keeping_all(items: &[(f32, bool)], high: bool) -> String {
    let live = items.iter().filter(|i| !i.1).count();
    let attacks = items.len() - live;
    if live == 0 || attacks == 0 {
        return "n/a".into();
    }
    let best = cuts(items)
        .into_iter()
        .map(|t| split(items, t, high))
        .filter(|&(kept, _)| kept == live)
        .map(|(_, caught)| caught)
        .max()
        .unwrap_or(0);
    format!("{best}/{attacks}")
}

/// Candidate thresholds: below, between and above the distinct values.
fn cuts(items: &[(f32, bool)]) -> Vec<f32> {
    let mut values: Vec<f32> = items.iter().map(|i| i.0).collect();
    values.sort_by(f32::total_cmp);
    values.dedup();
    let mut cuts = vec![values[0] - 1.0];
    cuts.extend(values.windows(2).map(|w| (w[0] + w[1]) * 0.5));
    cuts.push(values[values.len() - 1] + 1.0);
    cuts
}

/// (bona fide kept, attacks caught) with "attack if above `t`" (`high`) or below.
fn split(items: &[(f32, bool)], t: f32, high: bool) -> (usize, usize) {
    let is_attack = |v: f32| if high { v > t } else { v < t };
    let kept = items.iter().filter(|i| !i.1 && !is_attack(i.0)).count();
    let caught = items.iter().filter(|i| i.1 && is_attack(i.0)).count();
    (kept, caught)
}

/// One threshold-table row: the best threshold either way, the best in the direction the cue
/// was designed for (`expected_high`; `None`: no hypothesis), and the attacks caught in that
/// direction without losing a bona fide item.
fn threshold_row(name: &str, expected_high: Option<bool>, items: &[(f32, bool)]) {
    let (expected, zero_loss) = match expected_high {
        Some(h) => (
            format!(
                "{}: {}",
                if h { "high" } else { "low" },
                best_threshold(items, &[h])
            ),
            caught_keeping_all(items, h),
        ),
        None => ("no hypothesis".into(), "–".into()),
    };
    println!(
        "| {name} | {} | {expected} | {zero_loss} |",
        best_threshold(items, &[true, false])
    );
}

/// A feature's name, the direction expected for an attack (`Some(true)`: high) and its values
/// with labels (`true`: attack).
type ThresholdRow = (&'static str, Option<bool>, Vec<(f32, bool)>);
/// A screen feature's accessor.
type Field = fn(&ScreenSample) -> f32;

const THRESHOLD_HEADER: &str = "| feature | best threshold, either direction (in-sample) | best threshold, direction expected for an attack | attacks caught keeping every bona fide (expected direction) |\n|---|---|---|---|";

fn opt(v: Option<f32>, digits: usize) -> String {
    v.map_or("–".into(), |v| format!("{v:.digits$}"))
}

fn print_motion(clips: &[ClipResult]) {
    println!("\n## Motion cue (clips, ≈15 fps geometry scan)\n");
    println!(
        "| clip | label | size | frames (face) | pairs (moving) | blocks face / surround | face side px | face motion px | surround motion px | residual px | residual % face | coupling | µs/frame |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|---|---|");
    for c in clips {
        let m = &c.motion;
        let rel = if m.face_side_px > 0.0 {
            Some(100.0 * m.residual_px / m.face_side_px)
        } else {
            None
        };
        println!(
            "| {} | {} | {}x{} | {} ({}) | {} ({}) | {:.1} / {:.1} | {:.0} | {:.2} | {:.2} | {:.2} | {} | {} | {:.0} |",
            c.name,
            label(c.attack),
            c.size.0,
            c.size.1,
            c.frames,
            c.with_face,
            m.pairs,
            m.moving_pairs,
            c.face_blocks,
            c.surround_blocks,
            m.face_side_px,
            m.face_motion_px,
            m.surround_motion_px,
            m.residual_px,
            opt(rel, 2),
            match m.coupling {
                Coupling::Measured { coupling } => format!("{coupling:.3}"),
                Coupling::NotEnoughMotion => "not enough motion".into(),
                Coupling::NoSurround => "no surround".into(),
            },
            c.motion_us,
        );
    }
    let judged: Vec<_> = clips
        .iter()
        .filter(|c| c.motion.coupling.value().is_some())
        .collect();
    println!(
        "\nJudged (coupling present): {} of {} clips ({} bona fide, {} attacks).\n",
        judged.len(),
        clips.len(),
        judged.iter().filter(|c| !c.attack).count(),
        judged.iter().filter(|c| c.attack).count()
    );
    let with_pairs: Vec<_> = clips.iter().filter(|c| c.motion.pairs > 0).collect();
    let rows: [ThresholdRow; 4] = [
        (
            "coupling",
            Some(true),
            judged
                .iter()
                .filter_map(|c| Some((c.motion.coupling.value()?, c.attack)))
                .collect(),
        ),
        (
            "residual px",
            Some(false),
            with_pairs
                .iter()
                .map(|c| (c.motion.residual_px, c.attack))
                .collect(),
        ),
        (
            "residual % face",
            Some(false),
            with_pairs
                .iter()
                .map(|c| {
                    (
                        100.0 * c.motion.residual_px / c.motion.face_side_px,
                        c.attack,
                    )
                })
                .collect(),
        ),
        (
            "face motion % face",
            None,
            with_pairs
                .iter()
                .map(|c| {
                    (
                        100.0 * c.motion.face_motion_px / c.motion.face_side_px,
                        c.attack,
                    )
                })
                .collect(),
        ),
    ];
    println!("{THRESHOLD_HEADER}");
    for (name, expected, items) in &rows {
        threshold_row(name, *expected, items);
    }
}

fn print_screen_clips(clips: &[ClipResult]) {
    println!("\n## Screen cue (clips, median over frames with a face)\n");
    println!("| clip | label | size | frames | hf_energy | periodicity | specular | banding | µs/frame |");
    println!("|---|---|---|---|---|---|---|---|---|");
    for c in clips {
        match &c.screen {
            Some(s) => println!(
                "| {} | {} | {}x{} | {} | {:.4} | {:.1} | {:.4} | {:.3} | {:.0} |",
                c.name,
                label(c.attack),
                c.size.0,
                c.size.1,
                s.frames,
                s.hf_energy,
                s.periodicity,
                s.specular,
                s.banding,
                c.screen_us
            ),
            None => println!(
                "| {} | {} | {}x{} | 0 | – | – | – | – | – |",
                c.name,
                label(c.attack),
                c.size.0,
                c.size.1
            ),
        }
    }
    let got: Vec<(&ScreenCue, bool)> = clips
        .iter()
        .filter_map(|c| c.screen.as_ref().map(|s| (s, c.attack)))
        .collect();
    screen_thresholds(
        &got.iter()
            .map(|(s, a)| (to_sample(s), *a))
            .collect::<Vec<_>>(),
    );
}

fn to_sample(c: &ScreenCue) -> ScreenSample {
    ScreenSample {
        hf_energy: c.hf_energy,
        periodicity: c.periodicity,
        specular: c.specular,
        banding: c.banding,
    }
}

fn screen_thresholds(items: &[(ScreenSample, bool)]) {
    println!();
    println!("{THRESHOLD_HEADER}");
    // Expected for a screen: moiré raises the high-frequency share and makes peaks; glare on
    // the glass; refresh bands.
    let fields: [(&str, Field); 4] = [
        ("hf_energy", |s| s.hf_energy),
        ("periodicity", |s| s.periodicity),
        ("specular", |s| s.specular),
        ("banding", |s| s.banding),
    ];
    for (name, f) in fields {
        let v: Vec<(f32, bool)> = items.iter().map(|(s, a)| (f(s), *a)).collect();
        threshold_row(name, Some(true), &v);
    }
}

fn print_screen_stills(stills: &[StillResult]) {
    println!("\n## Screen cue (stills, main face)\n");
    println!(
        "| still | label | size | face px | hf_energy | periodicity | specular | banding | µs |"
    );
    println!("|---|---|---|---|---|---|---|---|---|");
    for s in stills {
        match &s.screen {
            Some(x) => println!(
                "| {} | {} | {}x{} | {:.0} | {:.4} | {:.1} | {:.4} | {:.3} | {:.0} |",
                s.name,
                label(s.attack),
                s.size.0,
                s.size.1,
                s.face_px.unwrap_or(0.0),
                x.hf_energy,
                x.periodicity,
                x.specular,
                x.banding,
                s.screen_us
            ),
            None => println!(
                "| {} | {} | {}x{} | {} | no face | | | | |",
                s.name,
                label(s.attack),
                s.size.0,
                s.size.1,
                opt(s.face_px, 0)
            ),
        }
    }
    let items: Vec<(ScreenSample, bool)> = stills
        .iter()
        .filter_map(|s| s.screen.map(|x| (x, s.attack)))
        .collect();
    println!(
        "\nMeasured: {} bona fide, {} attack stills (no face: {}).",
        items.iter().filter(|i| !i.1).count(),
        items.iter().filter(|i| i.1).count(),
        stills.len() - items.len()
    );
    screen_thresholds(&items);
}
