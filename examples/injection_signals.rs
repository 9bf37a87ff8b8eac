//! Calibration of the injection signals (`liveproof::injection`) on real and synthetic clips.
//!
//! ```sh
//! cargo run --example injection_signals --release            # the shared media + synthetic streams
//! cargo run --example injection_signals --release -- a.webm  # given clips only
//! ```
//!
//! For every clip: per-frame sensor noise and block-grid trace at the server's analysis rate
//! (15 fps), frames identical to their predecessor, and the median / MAD of the intervals
//! between every decoded frame's presentation time; then `assess` with the default
//! thresholds. Without arguments it measures `../shared/media/video_live/*` and
//! `video_spoof/*` as they are, the same clips re-encoded the way the SDK's MediaRecorder
//! records a camera (VP8, 1 Mbit/s, 640 px wide, original timestamps), and synthetic injected
//! streams made with the ffmpeg CLI: still photos looped into a video, and clips re-encoded
//! twice at a low bitrate. Needs `ffmpeg` on the PATH for the synthetic streams.

use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::process::Command;

use liveproof::imgproc::{grey_thumbnail, thumbnail_change};
use liveproof::injection::{assess, frame_signals, FrameSignals, InjectionThresholds};
use liveproof::video::{VideoLimits, VideoReader};
use liveproof::{FrameRef, PixelFormat};

const MEDIA: &str = "../shared/media";
/// The server's analysis rate.
const ANALYSIS_FPS: f64 = 15.0;

struct Clip {
    name: String,
    path: PathBuf,
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    // Synthetic clips are kept between runs (ffmpeg is the slow part).
    let cache = Path::new("target/injection-signals");
    std::fs::create_dir_all(cache).expect("cache dir");
    let only = std::env::var("INJECTION_ONLY").ok();
    let clips = if args.is_empty() {
        let mut c = default_clips(cache);
        if let Some(f) = &only {
            c.retain(|c| c.name.contains(f.as_str()));
        }
        c
    } else {
        args.iter()
            .map(|a| Clip {
                name: Path::new(a)
                    .file_name()
                    .map_or(a.clone(), |n| n.to_string_lossy().into_owned()),
                path: PathBuf::from(a),
            })
            .collect()
    };
    println!(
        "| clip | codec | size | frames (analysed/decoded) | noise p10 / median / p90 | blockiness median | repeated / compared (change min, p10) | interval median / MAD ms | risk: reasons | signals µs/frame |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|");
    for clip in &clips {
        match measure(&clip.path) {
            Ok(row) => println!("| {} | {row}", clip.name),
            Err(e) => println!("| {} | error: {e} |", clip.name),
        }
    }
}

fn measure(path: &Path) -> Result<String, String> {
    let mut reader =
        VideoReader::from_path(path, &VideoLimits::default()).map_err(|e| e.to_string())?;
    let info = reader.info().clone();
    let period = 1000.0 / ANALYSIS_FPS;
    let mut next_t = f64::NEG_INFINITY;
    let mut timestamps = Vec::new();
    let mut frames: Vec<(FrameSignals, Option<f32>)> = Vec::new();
    let mut prev_thumb: Option<Vec<f32>> = None;
    let mut signal_time = std::time::Duration::ZERO;
    let decoded = reader
        .read_frames(
            |_, t| {
                timestamps.push(t);
                let keep = t >= next_t - 1.0;
                if keep {
                    next_t = t + period;
                }
                keep
            },
            |vf| {
                let (w, h) = vf.image.dimensions();
                let data = vf.image.as_raw();
                let frame = FrameRef::new(w, h, PixelFormat::Rgb8, data).expect("frame");
                let began = std::time::Instant::now();
                let s = frame_signals(&frame);
                signal_time += began.elapsed();
                let thumb = grey_thumbnail(&frame).to_vec();
                let change = prev_thumb.as_ref().map(|p| thumbnail_change(p, &thumb));
                prev_thumb = Some(thumb);
                frames.push((s, change));
                ControlFlow::Continue(())
            },
        )
        .map_err(|e| e.to_string())?;
    let report = assess(&frames, &timestamps, None, &InjectionThresholds::default());
    let mut noise: Vec<f32> = frames.iter().filter_map(|f| f.0.noise).collect();
    noise.sort_by(f32::total_cmp);
    let q = |v: &[f32], p: f64| {
        v.get(((v.len().max(1) - 1) as f64 * p).round() as usize)
            .copied()
    };
    let fmt = |x: Option<f32>| x.map_or("–".to_string(), |x| format!("{x:.2}"));
    let mut changes: Vec<f32> = frames.iter().filter_map(|f| f.1).collect();
    changes.sort_by(f32::total_cmp);
    let reasons: Vec<String> = report
        .reasons
        .iter()
        .map(|r| {
            serde_json::to_value(r).expect("json")["signal"]
                .as_str()
                .unwrap_or("?")
                .to_string()
        })
        .collect();
    let timing = report.timing.map_or("–".to_string(), |t| {
        format!("{:.2} / {:.2}", t.median_ms, t.mad_ms)
    });
    Ok(format!(
        "{} | {}x{} | {}/{} | {} / {} / {} | {} | {}/{} (change min {}, p10 {}) | {} | {:?}: {} | {:.0} |",
        info.codec,
        info.width,
        info.height,
        frames.len(),
        decoded,
        fmt(q(&noise, 0.1)),
        fmt(report.median_noise),
        fmt(q(&noise, 0.9)),
        fmt(report.median_blockiness),
        report.frames_repeated,
        report.frames_compared,
        fmt(q(&changes, 0.0)),
        fmt(q(&changes, 0.1)),
        timing,
        report.risk,
        reasons.join(", "),
        signal_time.as_secs_f64() * 1e6 / frames.len().max(1) as f64,
    ))
}

/// Runs the ffmpeg CLI; `None` (with a note) when it is missing or fails.
fn ffmpeg(args: &[&str], out: &Path) -> Option<PathBuf> {
    if out.exists() {
        return Some(out.to_path_buf());
    }
    let status = Command::new("ffmpeg")
        .args(["-hide_banner", "-loglevel", "error", "-y"])
        .args(args)
        .arg(out)
        .status();
    match status {
        Ok(s) if s.success() => Some(out.to_path_buf()),
        Ok(s) => {
            let _ = std::fs::remove_file(out);
            eprintln!("ffmpeg failed ({s}) making {}", out.display());
            None
        }
        Err(e) => {
            eprintln!("ffmpeg not run ({e}); skipping {}", out.display());
            None
        }
    }
}

fn default_clips(tmp: &Path) -> Vec<Clip> {
    let mut clips = Vec::new();
    for dir in ["video_live", "video_spoof"] {
        let mut paths: Vec<PathBuf> = std::fs::read_dir(Path::new(MEDIA).join(dir))
            .map(|d| d.filter_map(|e| e.ok().map(|e| e.path())).collect())
            .unwrap_or_default();
        paths.sort();
        for path in paths {
            let stem = path
                .file_stem()
                .unwrap_or_default()
                .to_string_lossy()
                .into_owned();
            clips.push(Clip {
                name: format!("{dir}/{stem}"),
                path: path.clone(),
            });
            // As the SDK would record this camera: MediaRecorder's VP8 at about 1 Mbit/s,
            // 640 px wide, the camera's own timestamps kept.
            let out = tmp.join(format!("{stem}.mr.webm"));
            let p = path.to_string_lossy();
            if let Some(p) = ffmpeg(
                &[
                    "-i",
                    &p,
                    "-t",
                    "8",
                    "-an",
                    "-vsync",
                    "passthrough",
                    "-vf",
                    "scale=640:-2,format=yuv420p",
                    "-c:v",
                    "libvpx",
                    "-b:v",
                    "1M",
                ],
                &out,
            ) {
                clips.push(Clip {
                    name: format!("{dir}/{stem} → VP8 1M"),
                    path: p,
                });
            }
        }
    }
    // Injected: a still photo looped into a video (server/tests/api/attacks.rs's still_video).
    for still in [
        "live/fr_obama.jpg",
        "live/frame_zub_real_smile_wave_t1.0.jpg",
        "live/nuaa_client_0001.jpg",
        "spoof/mini_f_fake_andr_mask.jpg",
    ] {
        let src = Path::new(MEDIA).join(still);
        let stem = src
            .file_stem()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned();
        let out = tmp.join(format!("still_{stem}.webm"));
        let s = src.to_string_lossy();
        if let Some(p) = ffmpeg(
            &[
                "-loop",
                "1",
                "-i",
                &s,
                "-t",
                "4",
                "-r",
                "15",
                "-vf",
                "scale=540:-2,format=yuv420p",
                "-c:v",
                "libvpx",
                "-b:v",
                "1M",
            ],
            &out,
        ) {
            clips.push(Clip {
                name: format!("injected: still {still}"),
                path: p,
            });
        }
    }
    // Injected: a clip stored at a low bitrate, then played through a virtual camera and
    // recorded again by the SDK (twice re-encoded, the second time as MediaRecorder would).
    for clip in [
        "video_live/zub_real_smile_wave.webm",
        "video_live/moun_blink_drowsy.mp4",
        "video_live/les_real_frontal.mp4",
        "video_live/lp_s18_talking.mp4",
    ] {
        let src = Path::new(MEDIA).join(clip);
        let stem = src
            .file_stem()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned();
        let s = src.to_string_lossy();
        let low = tmp.join(format!("{stem}.low.mp4"));
        let Some(low) = ffmpeg(
            &[
                "-i",
                &s,
                "-t",
                "8",
                "-an",
                "-vf",
                "scale=640:-2,format=yuv420p",
                "-c:v",
                "libx264",
                "-b:v",
                "250k",
            ],
            &low,
        ) else {
            continue;
        };
        let l = low.to_string_lossy().into_owned();
        for (label, rate) in [("250k", "250k"), ("1M", "1M")] {
            let out = tmp.join(format!("{stem}.low.{label}.webm"));
            if let Some(p) = ffmpeg(&["-i", &l, "-an", "-c:v", "libvpx", "-b:v", rate], &out) {
                clips.push(Clip {
                    name: format!("injected: {clip} H.264 250k → VP8 {label}"),
                    path: p,
                });
            }
        }
    }
    clips
}
