//! `video_probe`: opening a clip from memory (container sniffing, FFmpeg's demuxer through the
//! crate's own I/O), its description, and decoding its first frames.

use std::ops::ControlFlow;
use std::time::Duration;

use liveproof::video::{VideoLimits, VideoReader};

/// Frames converted to RGB per input: the container and decoder set-up is what is fuzzed;
/// converting a whole clip would only spend time in FFmpeg's scaler.
pub const FRAMES: u64 = 3;

/// Small limits so one input costs milliseconds: at most 1 MiB, 1280 px, 16 decoded frames,
/// 5 s of wall clock (a hang longer than that is a finding: the deadline did not hold).
pub fn limits() -> VideoLimits {
    VideoLimits {
        max_input_bytes: 1 << 20,
        max_width: 1280,
        max_height: 1280,
        max_duration_s: 60.0,
        max_decoded_frames: 16,
        decode_timeout: Duration::from_secs(5),
        decode_threads: 1,
    }
}

/// Opens `data`, checks what it reports against the limits, and decodes up to [`FRAMES`]
/// frames. True when a frame decoded.
pub fn video_probe(data: &[u8]) -> bool {
    let limits = limits();
    let Ok(mut reader) = VideoReader::from_bytes(data, &limits) else {
        return false;
    };
    let info = reader.info().clone();
    assert!(
        (1..=limits.max_width).contains(&info.width)
            && (1..=limits.max_height).contains(&info.height),
        "opened a {}x{} clip, outside the limits",
        info.width,
        info.height
    );
    assert!(
        matches!(info.rotation_deg, 0 | 90 | 180 | 270),
        "rotation {}",
        info.rotation_deg
    );
    assert!(
        info.duration_s.is_none_or(|d| d <= limits.max_duration_s),
        "opened a {:?} s clip",
        info.duration_s
    );
    let mut last = None;
    let decoded = reader.read_frames(
        |index, _| index < FRAMES,
        |frame| {
            let (w, h) = frame.image.dimensions();
            assert!(
                (1..=limits.max_width).contains(&w) && (1..=limits.max_height).contains(&h),
                "delivered a {w}x{h} frame, outside the limits"
            );
            assert!(frame.t_ms.is_finite(), "frame time {}", frame.t_ms);
            assert!(
                last.is_none_or(|l| frame.index > l),
                "frame {} after {last:?}",
                frame.index
            );
            last = Some(frame.index);
            if frame.index + 1 >= FRAMES {
                ControlFlow::Break(())
            } else {
                ControlFlow::Continue(())
            }
        },
    );
    if let Ok(n) = decoded {
        assert!(
            n <= limits.max_decoded_frames,
            "decoded {n} frames, over the limit"
        );
    }
    last.is_some()
}
