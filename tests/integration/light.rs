//! `liveproof light` end to end, on a real live clip lit (in simulation: `light::simulate`,
//! 25 % of the light on the skin from the screen) by a nonce's sequence and re-encoded as VP8
//! WebM as a browser records it: the recording page's file format in, the server's light
//! result out.

use std::io::Write;
use std::process::{Command, Stdio};

use liveproof::light::simulate::{colour_at, tint_frame, Tint};
use liveproof::light::{LightPolicy, LightSequence, LightTimeline};
use liveproof::video::{VideoLimits, VideoReader};
use liveproof::{Frame, Stages};
use serde_json::{json, Value};

use super::common::{engine, media};

const CLIP: &str = "video_live/lp_d12.mp4";

/// The first 5 s of the live clip at 15 fps with the sequence's light on the skin (starting
/// 300 ms in), as VP8 WebM; and the timeline the recording page would save.
fn lit_recording(nonce: &str, dir: &std::path::Path) -> (std::path::PathBuf, LightTimeline) {
    let seq = LightSequence::from_nonce(nonce, &LightPolicy::default()).unwrap();
    let timeline = seq.timeline_from(300.0);
    let bytes = std::fs::read(media(CLIP)).unwrap();
    let mut reader = VideoReader::from_bytes(&bytes, &VideoLimits::default()).unwrap();
    let mut frames = Vec::new();
    let mut next = 0.0;
    reader
        .read_frames(
            |_, t| t <= 5000.0,
            |vf| {
                if vf.t_ms + 1.0 >= next {
                    next = vf.t_ms + 1000.0 / 15.0;
                    frames.push((vf.t_ms, Frame::from(vf.image)));
                }
                std::ops::ControlFlow::Continue(())
            },
        )
        .unwrap();
    let (w, h) = (frames[0].1.width(), frames[0].1.height());
    let out = dir.join("lit.webm");
    let mut ffmpeg = Command::new("ffmpeg")
        .args(["-v", "error", "-y", "-f", "rawvideo", "-pix_fmt", "rgb24"])
        .args(["-s", &format!("{w}x{h}"), "-framerate", "15"])
        .args([
            "-i", "-", "-c:v", "libvpx", "-b:v", "1M", "-pix_fmt", "yuv420p",
        ])
        .arg(&out)
        .stdin(Stdio::piped())
        .spawn()
        .expect("ffmpeg must be installed (scripts/install-deps.sh)");
    let mut stdin = ffmpeg.stdin.take().unwrap();
    for (i, (_, mut frame)) in frames.into_iter().enumerate() {
        // The frame's time in the recording being made (15 fps), which the timeline is on.
        let t = i as f64 * 1000.0 / 15.0;
        let rec = engine()
            .analyze(&frame.as_ref(), t, Stages::GEOMETRY)
            .unwrap();
        if let (Some(colour), Some(face)) = (colour_at(&seq, &timeline, t), rec.face) {
            let tint = Tint {
                share: 0.25,
                noise_sigma: 1.0,
            };
            tint_frame(
                &mut frame,
                &face.landmarks.points,
                colour,
                seq.mean_luminance(),
                &tint,
                i as u64,
            );
        }
        stdin.write_all(&frame.into_rgb()).unwrap();
    }
    drop(stdin);
    assert!(ffmpeg.wait().unwrap().success(), "ffmpeg encode");
    (out, timeline)
}

fn light(clip: &std::path::Path, nonce: &str, timeline: &Value) -> std::process::Output {
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), timeline.to_string()).unwrap();
    Command::new(env!("CARGO_BIN_EXE_liveproof"))
        .args([
            "light",
            clip.to_str().unwrap(),
            "--nonce",
            nonce,
            "--timeline",
        ])
        .arg(file.path())
        .output()
        .expect("runs")
}

#[test]
fn the_cli_scores_a_recording_against_its_nonces_light() {
    let dir = tempfile::tempdir().unwrap();
    let (clip, timeline) = lit_recording("recording-page-nonce", dir.path());
    let seq = LightSequence::from_nonce("recording-page-nonce", &LightPolicy::default()).unwrap();
    // The recording page's download: nonce, onsets and segments.
    let saved = json!({"nonce": "recording-page-nonce", "onsets_ms": timeline.onsets_ms,
                       "segments": seq.segments});
    let out = light(&clip, "recording-page-nonce", &saved);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let result: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(result["outcome"], "passed", "{result}");
    assert_eq!(result["segments"].as_array().unwrap().len(), 8);
    assert!(result["score"].as_f64().unwrap() >= 0.8, "{result}");

    // Scored against another nonce's sequence (its own timeline), the same recording fails.
    let other = LightSequence::from_nonce("another-nonce", &LightPolicy::default()).unwrap();
    let onsets = other.timeline_from(300.0).onsets_ms;
    let out = light(&clip, "another-nonce", &json!({"onsets_ms": onsets}));
    assert!(out.status.success());
    let result: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_ne!(result["outcome"], "passed", "{result}");

    // A download made for another nonce, or a file that is not a timeline: a clear error.
    let out = light(&clip, "another-nonce", &saved);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("another nonce"));
    let out = light(&clip, "recording-page-nonce", &json!({"onsets": []}));
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a light timeline"));
}
