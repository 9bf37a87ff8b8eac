//! Native video decoding: MP4 (H.264) and WebM (VP8/VP9) clips to upright RGB frames.
//!
//! Liveness checks run on frames of a short selfie clip, uploaded to the server or handed to
//! the CLI. This module turns such a clip into [`VideoFrame`]s with FFmpeg (through
//! `ffmpeg-next`), treating every input as hostile: it never panics, never hangs and never
//! writes the upload to disk, and each failure is a [`VideoError`] whose message says what the
//! user can do about it.
//!
//! How hostile input is contained:
//! - only files whose magic bytes say MP4/MOV or Matroska/WebM reach FFmpeg, and then only the
//!   matching demuxer runs (no format probing, no nested file or URL opens; see `io`);
//! - bytes and files alike are read through our own `AVIOContext`, so uploads stay in memory;
//! - size, resolution, duration and frame-count limits ([`VideoLimits`]) are checked before
//!   decoding where the container states them, and again while decoding; decoders are also
//!   told the pixel cap, so a stream that lies in its header cannot make them allocate more;
//! - a wall-clock deadline is checked between packets and inside FFmpeg's own read loops.
//!
//! A damaged or truncated file yields the frames that decoded: [`VideoReader::read_frames`]
//! returns `Ok` when at least one frame decoded (see [`VideoReader::damaged`]) and
//! [`VideoError::Corrupt`] when none did.
//!
//! Frames are delivered upright: the container's display matrix (phone clips) is applied.

mod convert;
mod io;
mod orient;
#[cfg(test)]
mod tests;

use std::fs::File;
use std::io::{Cursor, Read};
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::sync::Once;
use std::time::{Duration, Instant};

use ffmpeg_next::codec::{self, Id};
use ffmpeg_next::format::context::Input;
use ffmpeg_next::format::stream::Stream;
use ffmpeg_next::util::frame;
use ffmpeg_next::{decoder, ffi, media, Error as FfError, Packet, Rational};

use self::convert::RgbConverter;
use self::io::{Container, Demuxer, Source};
use self::orient::Orientation;

/// Codecs we agree to decode. H.264, VP8 and VP9 are what browsers' MediaRecorder and phones
/// produce; HEVC (iPhone default) and AV1 (newer Chrome) are let through when the system FFmpeg
/// has a decoder for them. Every other decoder in FFmpeg stays out of reach of uploads.
const ALLOWED_CODECS: [Id; 5] = [Id::H264, Id::VP8, Id::VP9, Id::HEVC, Id::AV1];

/// Consecutive demux or decode errors after which the rest of the file is taken as garbage.
/// Each error is cheap, but a large hostile file could otherwise produce millions of them.
const MAX_CONSECUTIVE_ERRORS: u32 = 64;

/// How many bytes of the head are enough to recognise the container.
const SNIFF_LEN: usize = 64;

/// Bounds on what a clip may cost to decode. Every limit is checked before decoding when the
/// container states the value, and again while decoding.
#[derive(Clone, Debug, PartialEq)]
pub struct VideoLimits {
    /// Largest accepted input, in bytes.
    pub max_input_bytes: usize,
    /// Largest accepted frame width, after rotation to upright.
    pub max_width: u32,
    /// Largest accepted frame height, after rotation to upright.
    pub max_height: u32,
    /// Longest accepted clip, in seconds of presentation time.
    pub max_duration_s: f64,
    /// Most frames one [`VideoReader::read_frames`] call may decode.
    pub max_decoded_frames: u64,
    /// Wall-clock budget for opening a clip, and again for each `read_frames` call.
    pub decode_timeout: Duration,
    /// Decoder threads; 0 lets FFmpeg use one per core. A server decoding several uploads at
    /// once may prefer 1.
    pub decode_threads: usize,
}

impl Default for VideoLimits {
    fn default() -> Self {
        VideoLimits {
            max_input_bytes: 256 * 1024 * 1024,
            max_width: 4096,
            max_height: 4096,
            max_duration_s: 120.0,
            max_decoded_frames: 20_000,
            decode_timeout: Duration::from_secs(60),
            decode_threads: 0,
        }
    }
}

/// What the container says about the clip's video stream.
#[derive(Clone, Debug, PartialEq)]
pub struct VideoInfo {
    /// Frame width as delivered (upright, after any rotation). VP8/VP9 streams recorded by
    /// browsers may change resolution part way; each [`VideoFrame`] carries its own size.
    pub width: u32,
    /// Frame height as delivered (upright, after any rotation).
    pub height: u32,
    /// Average frame rate, if the container states a plausible one.
    pub fps: Option<f64>,
    /// Duration in seconds, if the container states it (MediaRecorder WebM often does not).
    pub duration_s: Option<f64>,
    /// Frame count from the container, if it states one (MP4 does, WebM does not).
    pub total_frames: Option<u64>,
    /// FFmpeg's codec name: "h264", "vp8", "vp9", ...
    pub codec: String,
    /// "mp4" (also MOV), "webm" or "matroska".
    pub container: String,
    /// Clockwise rotation, in degrees (0, 90, 180 or 270), applied to make frames upright.
    pub rotation_deg: u32,
}

/// One decoded frame.
#[derive(Clone, Debug)]
pub struct VideoFrame {
    /// 0-based position in the order the decoder outputs frames (presentation order).
    pub index: u64,
    /// Presentation time in milliseconds from the start of the stream.
    pub t_ms: f64,
    /// The frame, upright, 8-bit RGB.
    pub image: image::RgbImage,
}

/// Why a clip could not be decoded. Messages are meant to be shown to the person uploading.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum VideoError {
    #[error("the video is empty (0 bytes)")]
    Empty,
    #[error(
        "the video is {bytes} bytes, over the limit of {max_bytes} bytes; upload a shorter clip"
    )]
    TooLarge { bytes: u64, max_bytes: u64 },
    #[error(
        "the video is {width}x{height} pixels, over the limit of {max_width}x{max_height}; \
         record at a lower resolution"
    )]
    ResolutionTooHigh {
        width: u32,
        height: u32,
        max_width: u32,
        max_height: u32,
    },
    #[error("the video lasts {seconds:.1} s, over the limit of {max_seconds:.1} s; upload a shorter clip")]
    TooLong { seconds: f64, max_seconds: f64 },
    #[error("the video has more than {max_frames} frames; upload a shorter clip")]
    TooManyFrames { max_frames: u64 },
    #[error("the file has no video track; upload a video recording")]
    NoVideoStream,
    #[error("unsupported video: {0}")]
    Unsupported(String),
    #[error("the video is damaged or incomplete ({0}); record and upload it again")]
    Corrupt(String),
    #[error("decoding the video took longer than {limit:?}; upload a shorter or smaller clip")]
    Timeout { limit: Duration },
    #[error("cannot read {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// FFmpeg failed for a reason unrelated to the input (e.g. out of memory).
    #[error("the video decoder failed: {0}")]
    Internal(String),
}

/// Where the clip's bytes come from; kept so a second `read_frames` can start over.
#[derive(Clone, Debug)]
enum Origin<'a> {
    Bytes(&'a [u8]),
    Path(PathBuf),
}

impl<'a> Origin<'a> {
    /// A fresh reader at offset 0, with the input's length.
    fn open(&self) -> Result<(Box<dyn Source + 'a>, u64), VideoError> {
        match self {
            Origin::Bytes(bytes) => Ok((Box::new(Cursor::new(*bytes)), bytes.len() as u64)),
            Origin::Path(path) => {
                let io_err = |source| VideoError::Io {
                    path: path.clone(),
                    source,
                };
                let file = File::open(path).map_err(io_err)?;
                // Measure the file we opened, not the path, so a swap in between cannot
                // slip past the size check.
                let meta = file.metadata().map_err(io_err)?;
                if !meta.is_file() {
                    // FIFOs and devices (/dev/zero) never end: refuse rather than hang.
                    return Err(VideoError::Unsupported(format!(
                        "{} is not a regular file",
                        path.display()
                    )));
                }
                Ok((Box::new(file), meta.len()))
            }
        }
    }
}

/// Decodes one clip. Open it with [`VideoReader::from_bytes`] or [`VideoReader::from_path`],
/// look at [`VideoReader::info`], then call [`VideoReader::read_frames`].
///
/// `from_bytes` borrows the bytes for the reader's lifetime `'a` (no copy of the upload);
/// `from_path` gives a `VideoReader<'static>`. The reader is `Send`.
pub struct VideoReader<'a> {
    origin: Origin<'a>,
    container: Container,
    limits: VideoLimits,
    info: VideoInfo,
    /// The session opened to fill `info`, used by the first `read_frames`; later calls open a
    /// new one, so every call decodes the clip from its start.
    session: Option<Session<'a>>,
    damaged: bool,
}

impl<'a> VideoReader<'a> {
    /// Opens a clip held in memory (e.g. an upload's body). Nothing is written to disk.
    pub fn from_bytes(bytes: &'a [u8], limits: &VideoLimits) -> Result<Self, VideoError> {
        check_size(bytes.len() as u64, limits)?;
        let head = &bytes[..bytes.len().min(SNIFF_LEN)];
        Self::open(Origin::Bytes(bytes), head, limits)
    }

    /// The stream's description; `width`/`height` are those of the frames delivered.
    pub fn info(&self) -> &VideoInfo {
        &self.info
    }

    /// Whether the last `read_frames` met damaged or truncated data (and skipped or stopped
    /// there). Frames before the damage were delivered.
    pub fn damaged(&self) -> bool {
        self.damaged
    }

    /// Decodes every frame in order. Only frames for which `keep(index, t_ms)` returns true are
    /// converted to RGB (conversion is the costly part) and passed to `on_frame`, which may stop
    /// early with `ControlFlow::Break`. Returns the number of frames decoded: the exact total
    /// frame count when it ran to the end.
    ///
    /// Each call decodes from the start of the clip. A clip damaged part way yields `Ok` with
    /// the frames before the damage (see [`VideoReader::damaged`]); one where no frame decodes
    /// is [`VideoError::Corrupt`]. Limits exceeded while decoding return an error after the
    /// frames already passed to `on_frame`.
    pub fn read_frames(
        &mut self,
        mut keep: impl FnMut(u64, f64) -> bool,
        mut on_frame: impl FnMut(VideoFrame) -> ControlFlow<()>,
    ) -> Result<u64, VideoError> {
        let deadline = deadline_after(self.limits.decode_timeout);
        self.damaged = false;
        let mut session = match self.session.take() {
            Some(session) => session,
            None => Session::open(&self.origin, self.container, &self.limits, deadline)?.0,
        };
        session.demuxer.set_deadline(deadline);
        let mut run = Run {
            limits: &self.limits,
            info: &self.info,
            deadline,
            keep: &mut keep,
            on_frame: &mut on_frame,
            converter: RgbConverter::default(),
            decoded: 0,
            last_t_ms: None,
            damaged: false,
        };
        let result = session.decode(&mut run);
        self.damaged = run.damaged;
        let decoded = run.decoded;
        match result {
            Ok(()) if decoded == 0 => Err(VideoError::Corrupt(
                "no frame of the video could be decoded".into(),
            )),
            Ok(()) => Ok(decoded),
            Err(e) => Err(e),
        }
    }

    fn open(origin: Origin<'a>, head: &[u8], limits: &VideoLimits) -> Result<Self, VideoError> {
        init_ffmpeg();
        let container = Container::sniff(head).ok_or_else(|| {
            VideoError::Unsupported(
                "the file is not an MP4 or WebM video; record as MP4 (H.264) or WebM (VP8/VP9)"
                    .into(),
            )
        })?;
        let deadline = deadline_after(limits.decode_timeout);
        let (session, info) = Session::open(&origin, container, limits, deadline)?;
        Ok(VideoReader {
            origin,
            container,
            limits: limits.clone(),
            info,
            session: Some(session),
            damaged: false,
        })
    }
}

impl VideoReader<'static> {
    /// Opens a clip file. It is read through the same path as bytes (no FFmpeg protocol), so
    /// the path is never interpreted as a URL.
    pub fn from_path(path: &Path, limits: &VideoLimits) -> Result<Self, VideoError> {
        let origin = Origin::Path(path.to_path_buf());
        let (mut source, len) = origin.open()?;
        check_size(len, limits)?;
        let mut head = Vec::with_capacity(SNIFF_LEN);
        source
            .by_ref()
            .take(SNIFF_LEN as u64)
            .read_to_end(&mut head)
            .map_err(|source| VideoError::Io {
                path: path.to_path_buf(),
                source,
            })?;
        Self::open(origin, &head, limits)
    }
}

/// Sets FFmpeg up once per process: registration, and silence on stderr, because every failure
/// is reported as a `VideoError` and a server must not print what hostile uploads provoke.
fn init_ffmpeg() {
    static INIT: Once = Once::new();
    INIT.call_once(|| {
        if let Err(e) = ffmpeg_next::init() {
            log::warn!("ffmpeg initialisation reported {e}");
        }
        ffmpeg_next::util::log::set_level(ffmpeg_next::util::log::Level::Quiet);
    });
}

fn check_size(bytes: u64, limits: &VideoLimits) -> Result<(), VideoError> {
    let max_bytes = limits.max_input_bytes as u64;
    match bytes {
        0 => Err(VideoError::Empty),
        b if b > max_bytes => Err(VideoError::TooLarge {
            bytes: b,
            max_bytes,
        }),
        _ => Ok(()),
    }
}

/// `now + timeout`, saturating (a huge timeout means "no deadline", not a panic).
fn deadline_after(timeout: Duration) -> Instant {
    let now = Instant::now();
    now.checked_add(timeout)
        .unwrap_or_else(|| now + Duration::from_secs(100 * 365 * 24 * 3600))
}

/// An open demuxer and decoder for the chosen video stream.
struct Session<'a> {
    demuxer: Demuxer<'a>,
    decoder: decoder::Video,
    stream_index: usize,
    time_base: Rational,
    /// Stream start in `time_base` units, when the container states it.
    start_pts: Option<i64>,
    orientation: Orientation,
}

impl<'a> Session<'a> {
    fn open(
        origin: &Origin<'a>,
        container: Container,
        limits: &VideoLimits,
        deadline: Instant,
    ) -> Result<(Self, VideoInfo), VideoError> {
        let (source, len) = origin.open()?;
        // Checked here too, not only by the constructors: a file may have grown since.
        check_size(len, limits)?;
        let timed_out = || Instant::now() >= deadline;
        let probe_options = [
            ("max_pixels", max_pixels(limits).to_string()),
            // Probing decodes a frame or two; extra threads would only cost start-up time.
            ("threads", "1".to_owned()),
        ];
        let mut demuxer = Demuxer::open(source, len, container, deadline, &probe_options)
            .map_err(|e| open_error(e, container, limits, timed_out()))?;

        let stream = demuxer
            .input()
            .streams()
            .best(media::Type::Video)
            .ok_or(VideoError::NoVideoStream)?;
        let stream_index = stream.index();
        let params = stream.parameters();
        let codec_id = params.id();
        check_codec(codec_id)?;
        let orientation = Orientation::of_stream(&stream);
        let info = describe(demuxer.input(), &stream, container, codec_id, orientation)?;
        check_info(&info, limits)?;
        let time_base = stream.time_base();
        let start_pts = Some(stream.start_time()).filter(|&t| t != ffi::AV_NOPTS_VALUE);

        let decoder = open_decoder(params, limits)
            .map_err(|e| decoder_error(e, codec_id, limits, timed_out()))?;
        demuxer.discard_all_but(stream_index);
        let session = Session {
            demuxer,
            decoder,
            stream_index,
            time_base,
            start_pts,
            orientation,
        };
        Ok((session, info))
    }

    /// Feeds every packet of the stream to the decoder and hands frames to `run`.
    fn decode(&mut self, run: &mut Run<'_>) -> Result<(), VideoError> {
        let mut consecutive_errors = 0u32;
        loop {
            run.check_deadline()?;
            let mut packet = Packet::empty();
            match packet.read(self.demuxer.input_mut()) {
                Ok(()) if packet.stream() == self.stream_index => {
                    if self.decoder.send_packet(&packet).is_err() {
                        // A damaged packet: the decoder conceals what it can from the next
                        // ones, as players do.
                        run.damaged = true;
                        consecutive_errors += 1;
                    } else {
                        consecutive_errors = 0;
                    }
                    if self.drain(run)?.is_break() {
                        return Ok(());
                    }
                }
                Ok(()) => {}
                Err(FfError::Eof) => break,
                Err(FfError::Exit) => return Err(run.timeout()),
                Err(FfError::Other { errno }) if errno == ffi::EAGAIN => {}
                Err(e) => {
                    log::debug!("video demux error: {e}");
                    run.damaged = true;
                    consecutive_errors += 1;
                }
            }
            if consecutive_errors >= MAX_CONSECUTIVE_ERRORS {
                log::debug!("video: giving up after {consecutive_errors} errors in a row");
                break;
            }
        }
        // A read cut short by the deadline can look like end of file to some demuxers; report
        // it as the timeout it is, not as a shorter clip.
        run.check_deadline()?;
        // Frames held back for reordering or by decoder threads come out after EOF. Drain even
        // if `send_eof` reports an error: that is a damaged frame's error surfacing late, and
        // the frames queued behind it are still good.
        if let Err(e) = self.decoder.send_eof() {
            log::debug!("video decoder at end of stream: {e}");
            run.damaged = true;
        }
        // Whether the caller stopped here or not, the run is over.
        let _ = self.drain(run)?;
        Ok(())
    }

    /// Passes every frame the decoder has ready to `run`. A decode error marks the run
    /// damaged but does not stop it: the frames after a bad one are usually fine.
    fn drain(&mut self, run: &mut Run<'_>) -> Result<ControlFlow<()>, VideoError> {
        let mut frame = frame::Video::empty();
        let mut errors = 0u32;
        while errors < MAX_CONSECUTIVE_ERRORS {
            match self.decoder.receive_frame(&mut frame) {
                Ok(()) => {
                    errors = 0;
                    let t_ms = self.time_ms(&frame, run);
                    if run.frame(&frame, t_ms, self.orientation)?.is_break() {
                        return Ok(ControlFlow::Break(()));
                    }
                }
                Err(FfError::Other { errno }) if errno == ffi::EAGAIN => break,
                Err(FfError::Eof) => break,
                Err(e) => {
                    log::debug!("video decode error: {e}");
                    run.damaged = true;
                    errors += 1;
                }
            }
        }
        Ok(ControlFlow::Continue(()))
    }

    /// Presentation time of `frame` in ms from the stream start. Frames without a timestamp
    /// (rare, damaged streams) are placed one frame interval after the previous one.
    fn time_ms(&mut self, frame: &frame::Video, run: &Run<'_>) -> f64 {
        let tb = f64::from(self.time_base.numerator()) / f64::from(self.time_base.denominator());
        match frame.timestamp().or_else(|| frame.pts()) {
            Some(pts) if tb.is_finite() && tb > 0.0 => {
                let start = *self.start_pts.get_or_insert(pts);
                pts.saturating_sub(start) as f64 * tb * 1000.0
            }
            _ => {
                let step = 1000.0 / run.info.fps.unwrap_or(30.0);
                run.last_t_ms.map_or(0.0, |t| t + step)
            }
        }
    }
}

/// State of one `read_frames` call.
struct Run<'r> {
    limits: &'r VideoLimits,
    info: &'r VideoInfo,
    deadline: Instant,
    keep: &'r mut dyn FnMut(u64, f64) -> bool,
    on_frame: &'r mut dyn FnMut(VideoFrame) -> ControlFlow<()>,
    converter: RgbConverter,
    decoded: u64,
    last_t_ms: Option<f64>,
    damaged: bool,
}

impl Run<'_> {
    fn timeout(&self) -> VideoError {
        VideoError::Timeout {
            limit: self.limits.decode_timeout,
        }
    }

    fn check_deadline(&self) -> Result<(), VideoError> {
        if Instant::now() >= self.deadline {
            return Err(self.timeout());
        }
        Ok(())
    }

    /// Counts a decoded frame, enforces the limits, and converts and delivers it if kept.
    fn frame(
        &mut self,
        frame: &frame::Video,
        t_ms: f64,
        orientation: Orientation,
    ) -> Result<ControlFlow<()>, VideoError> {
        let index = self.decoded;
        let limits = self.limits;
        if index >= limits.max_decoded_frames {
            return Err(VideoError::TooManyFrames {
                max_frames: limits.max_decoded_frames,
            });
        }
        if t_ms / 1000.0 > limits.max_duration_s {
            return Err(VideoError::TooLong {
                seconds: t_ms / 1000.0,
                max_seconds: limits.max_duration_s,
            });
        }
        check_dimensions(frame.width(), frame.height(), orientation, limits)?;
        self.decoded += 1;
        self.last_t_ms = Some(t_ms);
        if !(self.keep)(index, t_ms) {
            return Ok(ControlFlow::Continue(()));
        }
        let image = self
            .converter
            .convert(frame)
            .map_err(|e| VideoError::Internal(format!("RGB conversion failed: {e}")))?;
        let image = orientation.apply(image);
        Ok((self.on_frame)(VideoFrame { index, t_ms, image }))
    }
}

/// Pixel cap handed to FFmpeg's decoders: the largest frame the limits allow.
fn max_pixels(limits: &VideoLimits) -> u64 {
    u64::from(limits.max_width) * u64::from(limits.max_height)
}

fn check_codec(id: Id) -> Result<(), VideoError> {
    if !ALLOWED_CODECS.contains(&id) {
        return Err(VideoError::Unsupported(format!(
            "{} video; record as MP4 (H.264) or WebM (VP8/VP9)",
            id.name()
        )));
    }
    if decoder::find(id).is_none() {
        return Err(VideoError::Unsupported(format!(
            "no {} decoder on this server; record as MP4 (H.264) or WebM (VP8/VP9)",
            id.name()
        )));
    }
    Ok(())
}

/// Rejects frames larger than the limits, measured upright.
fn check_dimensions(
    width: u32,
    height: u32,
    orientation: Orientation,
    limits: &VideoLimits,
) -> Result<(), VideoError> {
    let (width, height) = if orientation.swaps_axes() {
        (height, width)
    } else {
        (width, height)
    };
    if width > limits.max_width || height > limits.max_height {
        return Err(VideoError::ResolutionTooHigh {
            width,
            height,
            max_width: limits.max_width,
            max_height: limits.max_height,
        });
    }
    Ok(())
}

/// Builds [`VideoInfo`] from the stream and container headers.
fn describe(
    input: &Input,
    stream: &Stream<'_>,
    container: Container,
    codec_id: Id,
    orientation: Orientation,
) -> Result<VideoInfo, VideoError> {
    // SAFETY: codecpar of an open stream is a valid AVCodecParameters.
    let (coded_w, coded_h) = unsafe {
        let par = stream.parameters().as_ptr();
        ((*par).width, (*par).height)
    };
    let (Ok(w), Ok(h)) = (u32::try_from(coded_w), u32::try_from(coded_h)) else {
        return Err(VideoError::Corrupt("the video size is invalid".into()));
    };
    if w == 0 || h == 0 {
        return Err(VideoError::Corrupt(
            "the video stream has no picture size".into(),
        ));
    }
    let (width, height) = if orientation.swaps_axes() {
        (h, w)
    } else {
        (w, h)
    };
    Ok(VideoInfo {
        width,
        height,
        fps: rate(stream.avg_frame_rate()).or_else(|| rate(stream.rate())),
        duration_s: duration_s(input, stream),
        total_frames: u64::try_from(stream.frames()).ok().filter(|&n| n > 0),
        codec: codec_id.name().to_owned(),
        container: container.name().to_owned(),
        rotation_deg: orientation.degrees(),
    })
}

/// A frame rate as f64, if it is a plausible one (containers may store 0/0 or 1000/1).
fn rate(r: Rational) -> Option<f64> {
    let (n, d) = (r.numerator(), r.denominator());
    if n <= 0 || d <= 0 {
        return None;
    }
    Some(f64::from(n) / f64::from(d)).filter(|&fps| (0.1..=480.0).contains(&fps))
}

/// The stream's duration, else the container's, in seconds. A container duration FFmpeg only
/// guessed from the bit rate is ignored: it can be far off, and we re-check while decoding.
fn duration_s(input: &Input, stream: &Stream<'_>) -> Option<f64> {
    let tb = stream.time_base();
    let stream_duration = (stream.duration() > 0 && tb.denominator() > 0 && tb.numerator() > 0)
        .then(|| {
            stream.duration() as f64 * f64::from(tb.numerator()) / f64::from(tb.denominator())
        });
    // SAFETY: reading a field of the open format context.
    let method = unsafe { (*input.as_ptr()).duration_estimation_method };
    let container_duration = (input.duration() > 0
        && method != ffi::AVDurationEstimationMethod::AVFMT_DURATION_FROM_BITRATE)
        .then(|| input.duration() as f64 / f64::from(ffi::AV_TIME_BASE));
    stream_duration.or(container_duration)
}

fn check_info(info: &VideoInfo, limits: &VideoLimits) -> Result<(), VideoError> {
    if info.width > limits.max_width || info.height > limits.max_height {
        return Err(VideoError::ResolutionTooHigh {
            width: info.width,
            height: info.height,
            max_width: limits.max_width,
            max_height: limits.max_height,
        });
    }
    if let Some(seconds) = info.duration_s.filter(|&s| s > limits.max_duration_s) {
        return Err(VideoError::TooLong {
            seconds,
            max_seconds: limits.max_duration_s,
        });
    }
    if info
        .total_frames
        .is_some_and(|n| n > limits.max_decoded_frames)
    {
        return Err(VideoError::TooManyFrames {
            max_frames: limits.max_decoded_frames,
        });
    }
    Ok(())
}

/// A decoder for the stream, capped at the limits' pixel count and using the requested
/// threads.
fn open_decoder(
    params: codec::Parameters,
    limits: &VideoLimits,
) -> Result<decoder::Video, FfError> {
    let mut ctx = codec::Context::from_parameters(params)?;
    // SAFETY: setting plain fields of an unopened AVCodecContext.
    unsafe {
        let raw = ctx.as_mut_ptr();
        (*raw).max_pixels = i64::try_from(max_pixels(limits)).unwrap_or(i64::MAX);
        (*raw).thread_count = i32::try_from(limits.decode_threads).unwrap_or(0);
    }
    ctx.decoder().video()
}

/// Maps a failure to open the container to what the user can do about it.
fn open_error(
    e: FfError,
    container: Container,
    limits: &VideoLimits,
    timed_out: bool,
) -> VideoError {
    if timed_out || e == FfError::Exit {
        return VideoError::Timeout {
            limit: limits.decode_timeout,
        };
    }
    match e {
        FfError::Other { errno } if errno == ffi::ENOMEM => {
            VideoError::Internal("out of memory opening the video".into())
        }
        FfError::PatchWelcome | FfError::DemuxerNotFound => VideoError::Unsupported(format!(
            "this {} variant cannot be read ({e})",
            container.name()
        )),
        _ => VideoError::Corrupt(format!(
            "its {} structure cannot be read: {e}",
            container.name()
        )),
    }
}

/// Maps a failure to open the decoder.
fn decoder_error(e: FfError, id: Id, limits: &VideoLimits, timed_out: bool) -> VideoError {
    if timed_out {
        return VideoError::Timeout {
            limit: limits.decode_timeout,
        };
    }
    match e {
        FfError::DecoderNotFound | FfError::PatchWelcome => {
            VideoError::Unsupported(format!("{} video cannot be decoded here ({e})", id.name()))
        }
        FfError::InvalidData => VideoError::Corrupt(format!("{} stream header: {e}", id.name())),
        _ => VideoError::Internal(format!("opening the {} decoder: {e}", id.name())),
    }
}
