//! Tests on real clips from `shared/media`, clips made at test time with the `ffmpeg` CLI, and
//! hostile inputs. Every hostile case must end in a typed error (or partial frames) quickly.

use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use super::*;

const TVL_MP4: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../shared/media/video_live/tvl_real_head_turns.mp4"
);
const ZUB_WEBM: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../shared/media/video_live/zub_real_smile_wave.webm"
);
const JPEG: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../shared/media/live/df_img12.jpg"
);

/// Hostile inputs must fail (or succeed) well within this.
const QUICK: Duration = Duration::from_secs(5);

fn read(path: &str) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| panic!("test media {path} missing: {e}"))
}

/// The ffmpeg CLI, which these tests need (scripts/install-deps.sh installs it). A missing one
/// fails the test: a skipped test would pass having tested nothing.
fn ffmpeg_cli() -> Command {
    if let Err(e) = Command::new("ffmpeg").arg("-version").output() {
        panic!("the ffmpeg CLI is required by this test and is not available ({e}): run scripts/install-deps.sh");
    }
    Command::new("ffmpeg")
}

/// Runs the ffmpeg CLI; it must succeed.
fn ffmpeg(args: &[&str]) {
    let status = ffmpeg_cli().args(args).status().expect("ffmpeg runs");
    assert!(status.success(), "ffmpeg {args:?} failed: {status}");
}

/// Makes `name` in `dir` with the ffmpeg CLI from `args` (output path appended).
fn make_clip(dir: &Path, name: &str, args: &[&str]) -> PathBuf {
    let out = dir.join(name);
    let mut all: Vec<&str> = vec!["-y", "-v", "error"];
    all.extend_from_slice(args);
    let out_str = out.to_str().expect("temp path is UTF-8");
    all.push(out_str);
    ffmpeg(&all);
    out
}

/// Decodes everything, keeping the frames `keep` selects.
fn collect(
    reader: &mut VideoReader<'_>,
    mut keep: impl FnMut(u64, f64) -> bool,
) -> (Result<u64, VideoError>, Vec<VideoFrame>) {
    let mut frames = Vec::new();
    let result = reader.read_frames(&mut keep, |f| {
        frames.push(f);
        ControlFlow::Continue(())
    });
    (result, frames)
}

/// Deterministic pseudo-random bytes (xorshift64), so failures reproduce.
fn noise(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed.max(1);
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

/// Asserts `result` is the error `matches` accepts, within `QUICK`.
fn assert_fails<T: std::fmt::Debug>(
    what: &str,
    started: Instant,
    result: Result<T, VideoError>,
    matches: impl Fn(&VideoError) -> bool,
) {
    let elapsed = started.elapsed();
    match result {
        Err(e) if matches(&e) => eprintln!("{what}: {e} ({elapsed:?})"),
        other => panic!("{what}: unexpected {other:?}"),
    }
    assert!(elapsed < QUICK, "{what} took {elapsed:?}");
}

#[test]
fn reader_is_send() {
    fn assert_send<T: Send>() {}
    assert_send::<VideoReader<'static>>();
}

#[test]
fn h264_mp4_portrait_clip() {
    let mut reader =
        VideoReader::from_path(Path::new(TVL_MP4), &VideoLimits::default()).expect("opens");
    let info = reader.info().clone();
    assert_eq!((info.width, info.height), (368, 656));
    assert_eq!(info.codec, "h264");
    assert_eq!(info.container, "mp4");
    assert_eq!(info.rotation_deg, 0);
    assert_eq!(info.total_frames, Some(621));
    assert!((info.fps.expect("fps") - 30.0).abs() < 0.1, "{info:?}");
    assert!(
        (info.duration_s.expect("duration") - 20.7).abs() < 0.1,
        "{info:?}"
    );

    let (result, frames) = collect(&mut reader, |_, _| true);
    assert_eq!(result.expect("decodes"), 621);
    assert!(!reader.damaged());
    assert_eq!(frames.len(), 621);
    for (i, f) in frames.iter().enumerate() {
        assert_eq!(f.index, i as u64);
        assert_eq!((f.image.width(), f.image.height()), (368, 656), "upright");
    }
    assert!(
        frames.windows(2).all(|w| w[1].t_ms > w[0].t_ms),
        "times increase"
    );
    let last = frames.last().expect("frames").t_ms;
    assert!((last - 20_666.7).abs() < 40.0, "last frame at {last} ms");
}

/// FFmpeg probes every stream (the AAC audio here too) by opening its decoder before our codec
/// check: only the three video decoders the product uses may be opened at all.
#[test]
fn probing_can_only_open_the_allowed_decoders() {
    let reader =
        VideoReader::from_path(Path::new(TVL_MP4), &VideoLimits::default()).expect("opens");
    let session = reader.session.as_ref().expect("the probing session");
    assert_eq!(
        session.demuxer.codec_whitelist().as_deref(),
        Some(io::CODEC_WHITELIST)
    );
    assert_eq!(io::CODEC_WHITELIST, "h264,vp8,vp9");
}

#[test]
fn vp8_webm_clip() {
    let bytes = read(ZUB_WEBM);
    let mut reader = VideoReader::from_bytes(&bytes, &VideoLimits::default()).expect("opens");
    let info = reader.info().clone();
    assert_eq!((info.width, info.height), (960, 540));
    assert_eq!(
        (info.codec.as_str(), info.container.as_str()),
        ("vp8", "webm")
    );
    assert!((info.fps.expect("fps") - 15.0).abs() < 0.1, "{info:?}");
    assert!(
        (info.duration_s.expect("duration") - 13.28).abs() < 0.1,
        "{info:?}"
    );

    let (result, frames) = collect(&mut reader, |i, _| i.is_multiple_of(10));
    let decoded = result.expect("decodes");
    // 13.28 s at 15 fps; MediaRecorder clips are variable-rate, so allow a little slack.
    assert!((190..=205).contains(&decoded), "decoded {decoded}");
    assert_eq!(frames.len() as u64, decoded.div_ceil(10));
    assert!(frames.iter().all(|f| f.image.dimensions() == (960, 540)));
}

#[test]
fn vp9_webm_made_from_a_real_clip() {
    let dir = tempfile::tempdir().expect("tempdir");
    let clip = make_clip(
        dir.path(),
        "vp9.webm",
        &[
            "-t",
            "2",
            "-i",
            TVL_MP4,
            "-c:v",
            "libvpx-vp9",
            "-b:v",
            "200k",
            "-an",
        ],
    );
    let bytes = std::fs::read(&clip).expect("made clip");
    let mut reader = VideoReader::from_bytes(&bytes, &VideoLimits::default()).expect("opens");
    assert_eq!(reader.info().codec, "vp9");
    assert_eq!(reader.info().container, "webm");
    assert_eq!((reader.info().width, reader.info().height), (368, 656));
    let (result, frames) = collect(&mut reader, |_, _| true);
    assert_eq!(result.expect("decodes"), 60);
    assert!(frames.iter().all(|f| f.image.height() > f.image.width()));
}

#[test]
fn bytes_and_path_give_the_same_frames_and_keep_selects_every_15th() {
    let every_15th = |i: u64, _t: f64| i.is_multiple_of(15);
    let bytes = read(TVL_MP4);
    let limits = VideoLimits::default();
    let mut from_bytes = VideoReader::from_bytes(&bytes, &limits).expect("opens");
    let mut from_path = VideoReader::from_path(Path::new(TVL_MP4), &limits).expect("opens");
    assert_eq!(from_bytes.info(), from_path.info());

    let (a_count, a) = collect(&mut from_bytes, every_15th);
    let (b_count, b) = collect(&mut from_path, every_15th);
    assert_eq!(a_count.expect("bytes decode"), 621);
    assert_eq!(b_count.expect("path decodes"), 621);
    let indices: Vec<u64> = a.iter().map(|f| f.index).collect();
    assert_eq!(indices, (0..621).step_by(15).collect::<Vec<u64>>());
    assert_eq!(a.len(), b.len());
    for (x, y) in a.iter().zip(&b) {
        assert_eq!((x.index, x.t_ms), (y.index, y.t_ms));
        assert!(x.image == y.image, "frame {} differs", x.index);
    }
    // Frame 15 at 30 fps is at 500 ms.
    assert!((a[1].t_ms - 500.0).abs() < 1.0, "t_ms {}", a[1].t_ms);
}

#[test]
fn on_frame_can_stop_early_and_a_second_read_starts_over() {
    let limits = VideoLimits::default();
    let mut reader = VideoReader::from_path(Path::new(TVL_MP4), &limits).expect("opens");
    let mut seen = 0;
    let decoded = reader
        .read_frames(
            |_, _| true,
            |_| {
                seen += 1;
                if seen == 3 {
                    ControlFlow::Break(())
                } else {
                    ControlFlow::Continue(())
                }
            },
        )
        .expect("decodes");
    assert_eq!((seen, decoded), (3, 3));
    let (again, _) = collect(&mut reader, |_, _| false);
    assert_eq!(again.expect("second read"), 621);
}

#[test]
fn rgb_matches_the_ffmpeg_cli() {
    let dir = tempfile::tempdir().expect("tempdir");
    let raw = make_clip(
        dir.path(),
        "first.rgb",
        &[
            "-i",
            TVL_MP4,
            "-frames:v",
            "1",
            "-f",
            "rawvideo",
            "-pix_fmt",
            "rgb24",
        ],
    );
    let cli = std::fs::read(raw).expect("raw frame");
    let mut reader =
        VideoReader::from_path(Path::new(TVL_MP4), &VideoLimits::default()).expect("opens");
    let (_, frames) = collect(&mut reader, |i, _| i == 0);
    let mean_abs = mean_abs_diff(frames[0].image.as_raw(), &cli);
    // Both use swscale with the stream's colour matrix; only chroma filters differ.
    assert!(mean_abs < 2.0, "mean |ours - ffmpeg| = {mean_abs}");
}

/// Mean absolute difference between two RGB buffers of the same size.
fn mean_abs_diff(a: &[u8], b: &[u8]) -> f64 {
    assert_eq!(a.len(), b.len(), "sizes differ");
    a.iter()
        .zip(b)
        .map(|(&x, &y)| f64::from(x.abs_diff(y)))
        .sum::<f64>()
        / a.len() as f64
}

#[test]
fn display_matrix_rotation_is_applied() {
    let dir = tempfile::tempdir().expect("tempdir");
    let limits = VideoLimits::default();
    let mut plain = VideoReader::from_path(Path::new(TVL_MP4), &limits).expect("opens");
    let (_, upright) = collect(&mut plain, |i, _| i == 0);
    let upright = &upright[0].image;

    // ffmpeg 5.1's `rotate` tag is the counter-clockwise angle: `rotate=270` writes the matrix
    // an iPhone writes for a portrait clip (ffprobe: "rotation of -90 degrees"), which players
    // show turned 90 degrees clockwise. Stream copy: same pictures, only the matrix differs.
    let cases = [
        ("270", 90, image::imageops::rotate90(upright)),
        ("90", 270, image::imageops::rotate270(upright)),
    ];
    for (tag, degrees, expected) in cases {
        let rotate = format!("rotate={tag}");
        let name = format!("rotated{tag}.mp4");
        let rotated = make_clip(
            dir.path(),
            &name,
            &[
                "-t",
                "1",
                "-i",
                TVL_MP4,
                "-c",
                "copy",
                "-metadata:s:v:0",
                &rotate,
            ],
        );
        let mut reader = VideoReader::from_path(&rotated, &limits).expect("opens");
        assert_eq!(reader.info().rotation_deg, degrees);
        assert_eq!((reader.info().width, reader.info().height), (656, 368));
        let (_, turned) = collect(&mut reader, |i, _| i == 0);
        assert!(
            turned[0].image == expected,
            "rotate={tag}: frame turned {degrees} degrees"
        );

        // The ffmpeg CLI, which autorotates, shows the same picture.
        let raw_name = format!("rotated{tag}.rgb");
        let rotated_str = rotated.to_str().expect("utf-8");
        let raw = make_clip(
            dir.path(),
            &raw_name,
            &[
                "-i",
                rotated_str,
                "-frames:v",
                "1",
                "-f",
                "rawvideo",
                "-pix_fmt",
                "rgb24",
            ],
        );
        let cli = std::fs::read(raw).expect("raw frame");
        let diff = mean_abs_diff(&cli, turned[0].image.as_raw());
        assert!(diff < 2.0, "rotate={tag}: mean |ours - ffmpeg| = {diff}");
    }
}

/// A name, the input bytes, and the error expected.
type HostileCase = (&'static str, Vec<u8>, fn(&VideoError) -> bool);

#[test]
fn hostile_inputs_give_typed_errors() {
    let limits = VideoLimits::default();
    let cases: Vec<HostileCase> = vec![
        ("empty", Vec::new(), |e| matches!(e, VideoError::Empty)),
        ("100 random bytes", noise(7, 100), |e| {
            matches!(e, VideoError::Unsupported(_))
        }),
        ("a JPEG", read(JPEG), |e| {
            matches!(e, VideoError::Unsupported(_))
        }),
        (
            "MP4 magic then noise",
            [b"\0\0\0\x18ftypisom".as_slice(), &noise(3, 4000)].concat(),
            |e| matches!(e, VideoError::Corrupt(_)),
        ),
        (
            "EBML magic then noise",
            [[0x1A, 0x45, 0xDF, 0xA3].as_slice(), &noise(5, 4000)].concat(),
            |e| matches!(e, VideoError::Corrupt(_)),
        ),
        ("MP4 cut to 2 KB", read(TVL_MP4)[..2048].to_vec(), |e| {
            matches!(e, VideoError::Corrupt(_))
        }),
        ("WebM cut to 2 KB", read(ZUB_WEBM)[..2048].to_vec(), |e| {
            matches!(e, VideoError::Corrupt(_))
        }),
    ];
    for (what, bytes, matches) in cases {
        let started = Instant::now();
        let result = VideoReader::from_bytes(&bytes, &limits)
            .and_then(|mut r| collect(&mut r, |_, _| true).0);
        assert_fails(what, started, result, matches);
    }
}

#[test]
fn truncated_mp4_yields_the_frames_before_the_cut() {
    let bytes = read(TVL_MP4);
    let cut = &bytes[..bytes.len() * 3 / 10];
    let started = Instant::now();
    let mut reader = VideoReader::from_bytes(cut, &VideoLimits::default()).expect("header intact");
    let (result, frames) = collect(&mut reader, |i, _| i.is_multiple_of(30));
    let decoded = result.expect("partial frames are Ok");
    eprintln!(
        "30% of the MP4: {decoded} frames in {:?}",
        started.elapsed()
    );
    assert!((100..621).contains(&decoded), "decoded {decoded}");
    assert!(reader.damaged());
    assert_eq!(frames.len() as u64, decoded.div_ceil(30));
    assert!(started.elapsed() < QUICK);
}

#[test]
fn every_truncation_and_corruption_ends_cleanly() {
    // Cuts every 5% and byte-flipped copies: the outcome may be frames or an error, but never
    // a panic or a hang.
    let limits = VideoLimits {
        decode_timeout: Duration::from_secs(10),
        ..VideoLimits::default()
    };
    for path in [TVL_MP4, ZUB_WEBM] {
        let bytes = read(path);
        let mut variants: Vec<Vec<u8>> = (1..20)
            .map(|k| bytes[..bytes.len() * k / 20].to_vec())
            .collect();
        for seed in 1..=12u64 {
            let mut damaged = bytes.clone();
            let positions = noise(seed, 64);
            for pair in positions.chunks_exact(4) {
                let at = u32::from_le_bytes([pair[0], pair[1], pair[2], pair[3]]) as usize;
                // Half the flips land in the first 32 KiB, where the headers are.
                let at = if seed % 2 == 0 {
                    at % 32_768
                } else {
                    at % damaged.len()
                };
                damaged[at] ^= 0x5A;
            }
            variants.push(damaged);
        }
        for (i, v) in variants.iter().enumerate() {
            let started = Instant::now();
            let outcome = VideoReader::from_bytes(v, &limits)
                .and_then(|mut r| collect(&mut r, |i, _| i.is_multiple_of(50)).0);
            assert!(
                started.elapsed() < QUICK,
                "{path} variant {i}: {:?}",
                started.elapsed()
            );
            if let Err(e) = outcome {
                assert!(!e.to_string().is_empty());
            }
        }
    }
}

#[test]
fn limits_are_enforced_before_decoding() {
    let bytes = read(TVL_MP4);
    let base = VideoLimits::default();
    let try_open = |limits: VideoLimits| {
        let started = Instant::now();
        (
            started,
            VideoReader::from_bytes(&bytes, &limits).map(|_| ()),
        )
    };

    let (t, r) = try_open(VideoLimits {
        max_input_bytes: 1000,
        ..base.clone()
    });
    assert_fails("size", t, r, |e| matches!(e, VideoError::TooLarge { .. }));

    let (t, r) = try_open(VideoLimits {
        max_width: 320,
        ..base.clone()
    });
    assert_fails("width", t, r, |e| {
        matches!(
            e,
            VideoError::ResolutionTooHigh {
                width: 368,
                height: 656,
                ..
            }
        )
    });

    let (t, r) = try_open(VideoLimits {
        max_duration_s: 5.0,
        ..base.clone()
    });
    assert_fails("duration", t, r, |e| {
        matches!(e, VideoError::TooLong { .. })
    });

    let (t, r) = try_open(VideoLimits {
        max_decoded_frames: 100,
        ..base.clone()
    });
    assert_fails("frames", t, r, |e| {
        matches!(e, VideoError::TooManyFrames { max_frames: 100 })
    });

    let started = Instant::now();
    let too_large = VideoReader::from_path(
        Path::new(TVL_MP4),
        &VideoLimits {
            max_input_bytes: 1000,
            ..base
        },
    );
    assert_fails("path size", started, too_large.map(|_| ()), |e| {
        matches!(e, VideoError::TooLarge { .. })
    });
}

#[test]
fn limits_are_enforced_while_decoding() {
    // MediaRecorder WebM states no frame count, so the cap bites during decoding, after the
    // frames before it were delivered.
    let bytes = read(ZUB_WEBM);
    let limits = VideoLimits {
        max_decoded_frames: 50,
        ..VideoLimits::default()
    };
    let mut reader = VideoReader::from_bytes(&bytes, &limits).expect("opens");
    let (result, frames) = collect(&mut reader, |_, _| true);
    assert!(
        matches!(result, Err(VideoError::TooManyFrames { max_frames: 50 })),
        "{result:?}"
    );
    assert_eq!(frames.len(), 50);
}

#[test]
fn a_huge_frame_is_refused_before_decoding() {
    let dir = tempfile::tempdir().expect("tempdir");
    // One black 8192x8192 frame: ~200 KB on disk, 100 MB once decoded.
    let clip = make_clip(
        dir.path(),
        "huge.mp4",
        &[
            "-f",
            "lavfi",
            "-i",
            "color=black:s=8192x8192:d=0.04",
            "-frames:v",
            "1",
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
        ],
    );
    let bytes = std::fs::read(clip).expect("made clip");
    assert!(bytes.len() < 1_000_000, "{} bytes", bytes.len());
    let started = Instant::now();
    let result = VideoReader::from_bytes(&bytes, &VideoLimits::default()).map(|_| ());
    assert_fails("8192x8192", started, result, |e| {
        matches!(
            e,
            VideoError::ResolutionTooHigh {
                width: 8192,
                height: 8192,
                ..
            }
        )
    });
}

#[test]
fn the_deadline_turns_into_timeout() {
    let bytes = read(TVL_MP4);
    let zero = VideoLimits {
        decode_timeout: Duration::ZERO,
        ..VideoLimits::default()
    };
    let started = Instant::now();
    let result = VideoReader::from_bytes(&bytes, &zero).map(|_| ());
    assert_fails("zero budget", started, result, |e| {
        matches!(e, VideoError::Timeout { .. })
    });

    // A budget that lets the header through but not 621 frames of decoding and conversion.
    let tight = VideoLimits {
        decode_timeout: Duration::from_millis(30),
        ..VideoLimits::default()
    };
    let started = Instant::now();
    let result =
        VideoReader::from_bytes(&bytes, &tight).and_then(|mut r| collect(&mut r, |_, _| true).0);
    assert_fails("30 ms budget", started, result, |e| {
        matches!(e, VideoError::Timeout { .. })
    });
}

#[test]
fn a_directory_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let result = VideoReader::from_path(dir.path(), &VideoLimits::default()).map(|_| ());
    assert!(
        matches!(
            result,
            Err(VideoError::Unsupported(_) | VideoError::Io { .. })
        ),
        "{result:?}"
    );
    let missing = VideoReader::from_path(&dir.path().join("nope.mp4"), &VideoLimits::default());
    assert!(matches!(missing, Err(VideoError::Io { .. })));
}

/// Frames the ffmpeg CLI decodes from `path` (no frame dropped or duplicated).
fn cli_frame_count(path: &Path) -> u64 {
    let out = ffmpeg_cli()
        .args(["-v", "quiet", "-i"])
        .arg(path)
        .args([
            "-map",
            "0:v:0",
            "-fps_mode",
            "passthrough",
            "-f",
            "framemd5",
            "-",
        ])
        .output()
        .expect("ffmpeg runs");
    let text = String::from_utf8_lossy(&out.stdout);
    text.lines().filter(|l| l.starts_with("0,")).count() as u64
}

#[test]
fn truncated_clips_yield_as_many_frames_as_the_ffmpeg_cli() {
    let dir = tempfile::tempdir().expect("tempdir");
    for (path, percents) in [(TVL_MP4, [10, 30, 60]), (ZUB_WEBM, [20, 50, 80])] {
        let bytes = read(path);
        for pct in percents {
            let cut = &bytes[..bytes.len() * pct / 100];
            let file = dir.path().join(format!("cut{pct}"));
            std::fs::write(&file, cut).expect("write cut");
            let expected = cli_frame_count(&file);
            let ours = VideoReader::from_bytes(cut, &VideoLimits::default())
                .and_then(|mut r| collect(&mut r, |_, _| false).0);
            match ours {
                Ok(n) => assert_eq!(n, expected, "{path} cut at {pct}%"),
                Err(e) => assert_eq!(expected, 0, "{path} cut at {pct}%: {e}"),
            }
        }
    }
}

#[test]
fn a_resolution_change_mid_stream_is_followed_and_limited() {
    // Browsers' VP8/VP9 encoders change resolution while recording when bandwidth or CPU
    // drops. Two stream-copied segments make such a file: 480x270, then 640x360.
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let a = make_clip(
        d,
        "a.webm",
        &[
            "-t", "1", "-i", ZUB_WEBM, "-an", "-c:v", "libvpx", "-s", "480x270",
        ],
    );
    let b = make_clip(
        d,
        "b.webm",
        &[
            "-ss", "1", "-t", "1", "-i", ZUB_WEBM, "-an", "-c:v", "libvpx", "-s", "640x360",
        ],
    );
    let list = d.join("list.txt");
    std::fs::write(
        &list,
        format!("file '{}'\nfile '{}'\n", a.display(), b.display()),
    )
    .expect("list");
    let list_str = list.to_str().expect("utf-8");
    let joined = make_clip(
        d,
        "ab.webm",
        &["-f", "concat", "-safe", "0", "-i", list_str, "-c", "copy"],
    );
    let bytes = std::fs::read(joined).expect("joined clip");

    let mut reader = VideoReader::from_bytes(&bytes, &VideoLimits::default()).expect("opens");
    assert_eq!((reader.info().width, reader.info().height), (480, 270));
    let (result, frames) = collect(&mut reader, |_, _| true);
    assert_eq!(result.expect("decodes"), 30);
    assert_eq!(frames[0].image.dimensions(), (480, 270));
    assert_eq!(frames[29].image.dimensions(), (640, 360));

    // A header within the limits does not let larger frames through later.
    let limits = VideoLimits {
        max_width: 500,
        ..VideoLimits::default()
    };
    let mut reader = VideoReader::from_bytes(&bytes, &limits).expect("header is within limits");
    let (result, frames) = collect(&mut reader, |_, _| true);
    assert!(
        matches!(
            result,
            Err(VideoError::ResolutionTooHigh {
                width: 640,
                height: 360,
                ..
            })
        ),
        "{result:?}"
    );
    assert_eq!(frames.len(), 15);
}

#[test]
fn a_webm_without_duration_is_limited_while_decoding() {
    // Muxed to a pipe, like MediaRecorder's output: no duration in the header.
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("live.webm");
    let file = std::fs::File::create(&out).expect("create");
    let status = ffmpeg_cli()
        .args([
            "-v", "error", "-i", ZUB_WEBM, "-c", "copy", "-f", "webm", "-",
        ])
        .stdout(file)
        .status()
        .expect("ffmpeg runs");
    assert!(status.success());
    let bytes = std::fs::read(&out).expect("piped clip");
    let limits = VideoLimits {
        max_duration_s: 5.0,
        ..VideoLimits::default()
    };
    let mut reader = VideoReader::from_bytes(&bytes, &limits).expect("nothing to reject yet");
    assert_eq!(reader.info().duration_s, None);
    assert_eq!(reader.info().total_frames, None);
    let (result, frames) = collect(&mut reader, |_, _| true);
    assert!(
        matches!(result, Err(VideoError::TooLong { .. })),
        "{result:?}"
    );
    // 5 s at 15 fps, give or take the variable frame rate.
    assert!((70..=80).contains(&frames.len()), "{} frames", frames.len());
}

#[test]
fn a_fragmented_mp4_decodes() {
    // Safari's MediaRecorder writes fragmented MP4: an empty moov, then moof/mdat pairs.
    let dir = tempfile::tempdir().expect("tempdir");
    let clip = make_clip(
        dir.path(),
        "frag.mp4",
        &[
            "-t",
            "2",
            "-i",
            TVL_MP4,
            "-an",
            "-c",
            "copy",
            "-movflags",
            "frag_keyframe+empty_moov",
        ],
    );
    let bytes = std::fs::read(&clip).expect("made clip");
    let mut reader = VideoReader::from_bytes(&bytes, &VideoLimits::default()).expect("opens");
    assert_eq!(reader.info().container, "mp4");
    let expected = cli_frame_count(&clip);
    let (result, _) = collect(&mut reader, |_, _| false);
    assert_eq!(result.expect("decodes"), expected);
    assert!(expected >= 59, "{expected} frames");
}

#[test]
fn h264_in_matroska_decodes() {
    // Chrome's MediaRecorder can write H.264 into Matroska ("video/x-matroska;codecs=avc1").
    let dir = tempfile::tempdir().expect("tempdir");
    let clip = make_clip(
        dir.path(),
        "h264.mkv",
        &["-t", "1", "-i", TVL_MP4, "-an", "-c", "copy"],
    );
    let mut reader = VideoReader::from_path(&clip, &VideoLimits::default()).expect("opens");
    assert_eq!(
        (
            reader.info().codec.as_str(),
            reader.info().container.as_str()
        ),
        ("h264", "matroska")
    );
    let expected = cli_frame_count(&clip);
    assert_eq!(
        collect(&mut reader, |_, _| false).0.expect("decodes"),
        expected
    );
}
