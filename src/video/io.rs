//! Opening a container with FFmpeg over our own reader, never over a URL.
//!
//! FFmpeg normally reads through its protocol layer (`file:`, `http:`, ...). For uploads that is
//! both unwanted (the server must not write them to disk) and dangerous (a playlist-style
//! demuxer fed a hostile file can make FFmpeg open other files or URLs). So every input, bytes
//! or path alike, goes through a custom `AVIOContext` whose read and seek callbacks call a Rust
//! [`Read`] + [`Seek`] source; the demuxer is forced to MP4 (`mov`) or Matroska/WebM from the
//! file's magic bytes, never probed; and the context's `io_open` hook refuses every nested open.
//!
//! Ownership: [`CustomIo`] owns the `AVIOContext`, its buffer and the boxed callback state;
//! [`Demuxer`] owns the format context and the `CustomIo`, and drops them in that order, because
//! FFmpeg does not free a caller-supplied `AVIOContext` (`AVFMT_FLAG_CUSTOM_IO`).
//!
//! Unwinding: the callbacks are `extern "C"`; a panic escaping one would abort the process. Each
//! body runs under [`no_unwind`], which turns a panic into an FFmpeg error code.

use std::ffi::{c_char, c_int, c_void, CStr};
use std::io::{ErrorKind, Read, Seek, SeekFrom};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::ptr;
use std::time::Instant;

use ffmpeg_next::ffi;
use ffmpeg_next::format::context::Input;
use ffmpeg_next::{Dictionary, Error};

/// Size of the buffer FFmpeg reads through. 64 KiB keeps callback overhead negligible next to
/// decoding while staying small per concurrent upload.
const IO_BUFFER_SIZE: usize = 64 * 1024;

/// Only these demuxers may run, even if something below us tried to pick another.
const FORMAT_WHITELIST: &str = "mov,matroska";
/// Decoders FFmpeg may open, also while it probes the streams (`avformat_find_stream_info`
/// opens a decoder for every stream, audio included, before our own codec check runs): the
/// only ones the product decodes. Any other stream's decoder is never reached.
pub(crate) const CODEC_WHITELIST: &str = "h264,vp8,vp9";

/// What the callbacks read from: the upload's bytes or an open file.
pub(crate) trait Source: Read + Seek + Send {}
impl<T: Read + Seek + Send> Source for T {}

/// The container family, decided from magic bytes before FFmpeg sees anything.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Container {
    Mp4,
    WebM,
    Matroska,
}

impl Container {
    /// Recognises ISO-BMFF (MP4/MOV) and EBML (Matroska/WebM) from the first bytes of a file.
    /// Anything else is refused without ever reaching an FFmpeg demuxer.
    pub(crate) fn sniff(head: &[u8]) -> Option<Self> {
        // ISO-BMFF starts with a box: 4-byte size, then a 4-byte type. Files written by
        // browsers and phones start with `ftyp`; old QuickTime files may start with another box.
        const MP4_BOXES: [&[u8; 4]; 6] = [b"ftyp", b"moov", b"mdat", b"free", b"skip", b"wide"];
        if let Some(kind) = head.get(4..8) {
            if MP4_BOXES.iter().any(|b| b.as_slice() == kind) {
                return Some(Self::Mp4);
            }
        }
        if head.starts_with(&[0x1A, 0x45, 0xDF, 0xA3]) {
            // The EBML header's DocType ("webm" or "matroska") sits within its first few dozen
            // bytes; it only changes the name we report, not how we demux.
            let is_webm = head.windows(4).take(64).any(|w| w == b"webm");
            return Some(if is_webm { Self::WebM } else { Self::Matroska });
        }
        None
    }

    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::Mp4 => "mp4",
            Self::WebM => "webm",
            Self::Matroska => "matroska",
        }
    }

    fn demuxer(self) -> &'static CStr {
        match self {
            Self::Mp4 => c"mov",
            Self::WebM | Self::Matroska => c"matroska",
        }
    }
}

/// State reached by the callbacks through FFmpeg's `opaque` pointer.
struct IoState<'a> {
    source: Box<dyn Source + 'a>,
    len: u64,
    /// Reads and interrupt checks fail once this passes, so no FFmpeg call (probing, header
    /// parsing, a demuxer's resync loop) can outlive the caller's time budget.
    deadline: Instant,
}

impl IoState<'_> {
    fn expired(&self) -> bool {
        Instant::now() >= self.deadline
    }

    fn read_into(&mut self, buf: &mut [u8]) -> c_int {
        if self.expired() {
            return ffi::AVERROR_EXIT;
        }
        loop {
            return match self.source.read(buf) {
                Ok(0) => ffi::AVERROR_EOF,
                // `n <= buf.len()`, which came from a positive c_int.
                Ok(n) => c_int::try_from(n).unwrap_or(ffi::AVERROR(ffi::EIO)),
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(_) => ffi::AVERROR(ffi::EIO),
            };
        }
    }

    fn seek_to(&mut self, offset: i64, whence: c_int) -> i64 {
        let einval = i64::from(ffi::AVERROR(ffi::EINVAL));
        // AVSEEK_FORCE only says "seek even if it is slow"; all our seeks are cheap.
        let whence = whence & !ffi::AVSEEK_FORCE;
        if whence == ffi::AVSEEK_SIZE {
            return i64::try_from(self.len).unwrap_or(einval);
        }
        let target = match whence {
            ffi::SEEK_SET => match u64::try_from(offset) {
                Ok(o) => SeekFrom::Start(o),
                Err(_) => return einval,
            },
            ffi::SEEK_CUR => SeekFrom::Current(offset),
            ffi::SEEK_END => SeekFrom::End(offset),
            _ => return einval,
        };
        match self.source.seek(target) {
            Ok(pos) => i64::try_from(pos).unwrap_or(einval),
            Err(_) => einval,
        }
    }
}

/// Runs a callback body, turning a panic into `on_panic` instead of unwinding into C.
fn no_unwind<T>(on_panic: T, body: impl FnOnce() -> T) -> T {
    catch_unwind(AssertUnwindSafe(body)).unwrap_or(on_panic)
}

unsafe extern "C" fn read_packet(opaque: *mut c_void, buf: *mut u8, buf_size: c_int) -> c_int {
    no_unwind(ffi::AVERROR(ffi::EIO), || {
        let Ok(len) = usize::try_from(buf_size) else {
            return ffi::AVERROR(ffi::EINVAL);
        };
        if buf.is_null() || opaque.is_null() || len == 0 {
            return ffi::AVERROR(ffi::EINVAL);
        }
        // SAFETY: `opaque` is the `IoState` that `CustomIo` keeps alive for as long as the
        // AVIOContext exists; FFmpeg calls back only from the thread running our FFmpeg call,
        // and no other reference to the state is live during a callback. `buf` points to
        // `buf_size` writable bytes (FFmpeg's read buffer).
        let (state, buf) = unsafe {
            (
                &mut *opaque.cast::<IoState<'_>>(),
                std::slice::from_raw_parts_mut(buf, len),
            )
        };
        state.read_into(buf)
    })
}

unsafe extern "C" fn seek(opaque: *mut c_void, offset: i64, whence: c_int) -> i64 {
    no_unwind(i64::from(ffi::AVERROR(ffi::EIO)), || {
        if opaque.is_null() {
            return i64::from(ffi::AVERROR(ffi::EINVAL));
        }
        // SAFETY: as in `read_packet`.
        let state = unsafe { &mut *opaque.cast::<IoState<'_>>() };
        state.seek_to(offset, whence)
    })
}

/// FFmpeg's interrupt callback: non-zero aborts blocking operations (probing, packet reads).
unsafe extern "C" fn interrupt(opaque: *mut c_void) -> c_int {
    no_unwind(1, || {
        if opaque.is_null() {
            return 1;
        }
        // SAFETY: as in `read_packet`; only a shared reference is made.
        let state = unsafe { &*opaque.cast::<IoState<'_>>() };
        c_int::from(state.expired())
    })
}

/// Replaces `AVFormatContext::io_open`: a demuxer asking to open another file or URL (external
/// references, playlists) is refused, whatever the input says.
unsafe extern "C" fn refuse_nested_open(
    _s: *mut ffi::AVFormatContext,
    _pb: *mut *mut ffi::AVIOContext,
    _url: *const c_char,
    _flags: c_int,
    _options: *mut *mut ffi::AVDictionary,
) -> c_int {
    ffi::AVERROR(ffi::EPERM)
}

/// An `AVIOContext` reading from a Rust [`Source`], with everything it owns.
pub(crate) struct CustomIo<'a> {
    avio: *mut ffi::AVIOContext,
    /// From `Box::into_raw`; turned back into a box only in `drop`, so the pointer handed to
    /// FFmpeg stays valid and unaliased for the context's whole life.
    state: *mut IoState<'a>,
}

// SAFETY: `CustomIo` exclusively owns the AVIOContext and the state (whose source is `Send`);
// nothing in them is tied to a thread, and they are only used through `&mut` access.
unsafe impl Send for CustomIo<'_> {}

impl<'a> CustomIo<'a> {
    fn new(source: Box<dyn Source + 'a>, len: u64, deadline: Instant) -> Result<Self, Error> {
        let state = Box::into_raw(Box::new(IoState {
            source,
            len,
            deadline,
        }));
        // Built before allocating so that `Drop` frees the state on every early return.
        let mut io = CustomIo {
            avio: ptr::null_mut(),
            state,
        };
        // SAFETY: plain FFmpeg allocations; on success the AVIOContext owns `buffer` (FFmpeg
        // may replace it, which is why `drop` frees `avio->buffer`, not this pointer).
        unsafe {
            let buffer = ffi::av_malloc(IO_BUFFER_SIZE).cast::<u8>();
            if buffer.is_null() {
                return Err(Error::Other { errno: ffi::ENOMEM });
            }
            io.avio = ffi::avio_alloc_context(
                buffer,
                IO_BUFFER_SIZE as c_int,
                0, // read-only
                state.cast(),
                Some(read_packet),
                None,
                Some(seek),
            );
            if io.avio.is_null() {
                ffi::av_free(buffer.cast());
                return Err(Error::Other { errno: ffi::ENOMEM });
            }
        }
        Ok(io)
    }

    fn set_deadline(&mut self, deadline: Instant) {
        // SAFETY: `state` is valid (see the field); no callback is running, since FFmpeg only
        // calls back during calls made through `&mut` access to the demuxer, as this is.
        unsafe { (*self.state).deadline = deadline }
    }
}

impl Drop for CustomIo<'_> {
    fn drop(&mut self) {
        // SAFETY: the format context that used `avio` is gone (see `Demuxer`); `buffer` is
        // FFmpeg's current buffer; `state` came from `Box::into_raw` and is freed once.
        unsafe {
            if !self.avio.is_null() {
                ffi::av_freep(ptr::addr_of_mut!((*self.avio).buffer).cast());
                ffi::avio_context_free(&mut self.avio);
            }
            drop(Box::from_raw(self.state));
        }
    }
}

/// An opened container: the format context plus the I/O it reads through.
pub(crate) struct Demuxer<'a> {
    // Field order is drop order: the format context (closed by `Input`'s drop) must go before
    // the AVIOContext it reads from.
    input: Input,
    io: CustomIo<'a>,
}

impl<'a> Demuxer<'a> {
    /// Opens `source` (of `len` bytes) as `container` and reads stream information.
    /// `codec_options` are applied to the decoders FFmpeg opens while probing streams
    /// (used to cap their frame size).
    pub(crate) fn open(
        source: Box<dyn Source + 'a>,
        len: u64,
        container: Container,
        deadline: Instant,
        codec_options: &[(&str, String)],
    ) -> Result<Self, Error> {
        let io = CustomIo::new(source, len, deadline)?;
        let input = open_input(&io, container)?;
        let mut demuxer = Demuxer { input, io };
        demuxer.find_stream_info(codec_options)?;
        Ok(demuxer)
    }

    pub(crate) fn input(&self) -> &Input {
        &self.input
    }

    /// The decoders this demuxer may open (the context's `codec_whitelist`).
    #[cfg(test)]
    pub(crate) fn codec_whitelist(&self) -> Option<String> {
        // SAFETY: the context is open; the field is a NUL-terminated string or null.
        unsafe {
            let p = (*self.input.as_ptr()).codec_whitelist;
            (!p.is_null()).then(|| std::ffi::CStr::from_ptr(p).to_string_lossy().into_owned())
        }
    }

    pub(crate) fn input_mut(&mut self) -> &mut Input {
        &mut self.input
    }

    /// Gives reads and interrupt checks a new deadline (one per public call).
    pub(crate) fn set_deadline(&mut self, deadline: Instant) {
        self.io.set_deadline(deadline);
    }

    /// Asks the demuxer to drop every stream but `keep` (audio, subtitles): fewer packets read.
    pub(crate) fn discard_all_but(&mut self, keep: usize) {
        // SAFETY: the context is open; `streams` holds `nb_streams` valid stream pointers.
        unsafe {
            let ctx = self.input.as_mut_ptr();
            let count = usize::try_from((*ctx).nb_streams).unwrap_or(0);
            for i in (0..count).filter(|&i| i != keep) {
                let stream = *(*ctx).streams.add(i);
                if !stream.is_null() {
                    (*stream).discard = ffi::AVDiscard::AVDISCARD_ALL;
                }
            }
        }
    }

    fn find_stream_info(&mut self, codec_options: &[(&str, String)]) -> Result<(), Error> {
        // SAFETY: the context is open. FFmpeg wants one options dictionary per stream; it
        // may consume entries, and we free whatever is left afterwards.
        unsafe {
            let ctx = self.input.as_mut_ptr();
            let count = usize::try_from((*ctx).nb_streams).unwrap_or(0);
            let mut with_whitelist = codec_options.to_vec();
            with_whitelist.push(("codec_whitelist", CODEC_WHITELIST.to_owned()));
            let mut dicts: Vec<*mut ffi::AVDictionary> = (0..count)
                .map(|_| to_dictionary(&with_whitelist).disown())
                .collect();
            let opts = if dicts.is_empty() {
                ptr::null_mut()
            } else {
                dicts.as_mut_ptr()
            };
            let ret = ffi::avformat_find_stream_info(ctx, opts);
            for d in dicts {
                drop(Dictionary::own(d));
            }
            if ret < 0 {
                return Err(Error::from(ret));
            }
        }
        Ok(())
    }
}

fn to_dictionary(pairs: &[(&str, String)]) -> Dictionary<'static> {
    let mut dict = Dictionary::new();
    for (k, v) in pairs {
        dict.set(k, v);
    }
    dict
}

/// `avformat_open_input` over `io`, with the demuxer fixed and nested opens refused.
fn open_input(io: &CustomIo<'_>, container: Container) -> Result<Input, Error> {
    // SAFETY: standard FFmpeg open sequence. On failure `avformat_open_input` frees the
    // context (but, with AVFMT_FLAG_CUSTOM_IO, not our AVIOContext, which `io` still owns).
    unsafe {
        let format = ffi::av_find_input_format(container.demuxer().as_ptr());
        if format.is_null() {
            return Err(Error::DemuxerNotFound);
        }
        let mut ctx = ffi::avformat_alloc_context();
        if ctx.is_null() {
            return Err(Error::Other { errno: ffi::ENOMEM });
        }
        (*ctx).pb = io.avio;
        (*ctx).flags |= ffi::AVFMT_FLAG_CUSTOM_IO;
        (*ctx).interrupt_callback = ffi::AVIOInterruptCB {
            callback: Some(interrupt),
            opaque: io.state.cast(),
        };
        (*ctx).io_open = Some(refuse_nested_open);

        let mut opts = to_dictionary(&[
            ("format_whitelist", FORMAT_WHITELIST.to_owned()),
            ("codec_whitelist", CODEC_WHITELIST.to_owned()),
        ])
        .disown();
        let ret = ffi::avformat_open_input(&mut ctx, ptr::null(), format, &mut opts);
        drop(Dictionary::own(opts));
        if ret < 0 {
            return Err(Error::from(ret));
        }
        Ok(Input::wrap(ctx))
    }
}
