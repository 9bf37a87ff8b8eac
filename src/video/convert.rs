//! Decoded YUV frames to `image::RgbImage`, with the colour matrix the stream declares.
//!
//! swscale assumes BT.601 limited range unless told otherwise; HD phone and webcam clips are
//! usually BT.709, and some are full range. Passing the frame's own colour description keeps
//! skin tones as a player shows them (and as the `ffmpeg` CLI's scale filter converts them).

use ffmpeg_next::color;
use ffmpeg_next::ffi;
use ffmpeg_next::format::Pixel;
use ffmpeg_next::software::scaling;
use ffmpeg_next::util::frame;
use ffmpeg_next::Error;
use image::RgbImage;

/// Everything that requires a new swscale context when it changes mid-stream (VP8/VP9 streams
/// from browsers can switch resolution while recording).
#[derive(Clone, Copy, PartialEq, Eq)]
struct Layout {
    format: Pixel,
    width: u32,
    height: u32,
    space: color::Space,
    full_range: bool,
}

impl Layout {
    fn of(frame: &frame::Video) -> Self {
        let format = frame.format();
        Layout {
            format,
            width: frame.width(),
            height: frame.height(),
            space: frame.color_space(),
            full_range: frame.color_range() == color::Range::JPEG || is_jpeg_format(format),
        }
    }
}

/// The deprecated "J" formats are full range by definition, whatever the range field says.
fn is_jpeg_format(format: Pixel) -> bool {
    matches!(
        format,
        Pixel::YUVJ420P | Pixel::YUVJ422P | Pixel::YUVJ444P | Pixel::YUVJ440P | Pixel::YUVJ411P
    )
}

/// swscale's name for the YUV->RGB matrix of a colour space.
fn sws_coefficients(space: color::Space) -> i32 {
    match space {
        color::Space::BT709 => ffi::SWS_CS_ITU709,
        color::Space::FCC => ffi::SWS_CS_FCC,
        color::Space::SMPTE240M => ffi::SWS_CS_SMPTE240M,
        color::Space::BT2020NCL | color::Space::BT2020CL => ffi::SWS_CS_BT2020,
        // Unspecified and the 601 family: swscale's default, which is also what decoders mean
        // when they leave the field unset.
        _ => ffi::SWS_CS_DEFAULT,
    }
}

/// Converts frames to RGB24, reusing the swscale context and output frame while the input
/// layout stays the same.
#[derive(Default)]
pub(crate) struct RgbConverter {
    scaler: Option<(Layout, scaling::Context)>,
    rgb: Option<frame::Video>,
}

impl RgbConverter {
    pub(crate) fn convert(&mut self, src: &frame::Video) -> Result<RgbImage, Error> {
        let layout = Layout::of(src);
        let scaler = match &mut self.scaler {
            Some((current, scaler)) if *current == layout => scaler,
            slot => {
                self.rgb = None;
                &mut slot.insert((layout, new_scaler(layout)?)).1
            }
        };
        let rgb = self
            .rgb
            .get_or_insert_with(|| frame::Video::new(Pixel::RGB24, layout.width, layout.height));
        // `frame::Video::new` ignores allocation failure; check rather than write to null.
        // SAFETY: reading a field of a valid AVFrame.
        if unsafe { (*rgb.as_ptr()).data[0].is_null() } {
            return Err(Error::Other { errno: ffi::ENOMEM });
        }
        scaler.run(src, rgb)?;
        copy_to_image(rgb)
    }
}

fn new_scaler(layout: Layout) -> Result<scaling::Context, Error> {
    let mut scaler = scaling::Context::get(
        layout.format,
        layout.width,
        layout.height,
        Pixel::RGB24,
        layout.width,
        layout.height,
        // Same size in and out: the flag only picks the chroma upsampling filter.
        scaling::Flags::BILINEAR,
    )?;
    // SAFETY: valid swscale context; the coefficient tables are static swscale data.
    unsafe {
        let table = ffi::sws_getCoefficients(sws_coefficients(layout.space));
        let ret = ffi::sws_setColorspaceDetails(
            scaler.as_mut_ptr(),
            table,
            i32::from(layout.full_range),
            ffi::sws_getCoefficients(ffi::SWS_CS_DEFAULT),
            1, // RGB output is full range
            0,
            1 << 16,
            1 << 16,
        );
        if ret < 0 {
            // Not fatal: swscale keeps its defaults (BT.601), which only shifts colours a little.
            log::debug!("swscale refused colour details for {:?}", layout.space);
        }
    }
    Ok(scaler)
}

/// Copies the RGB24 plane row by row: FFmpeg pads rows to an alignment, `RgbImage` does not.
fn copy_to_image(rgb: &frame::Video) -> Result<RgbImage, Error> {
    let (width, height) = (rgb.width(), rgb.height());
    let row = width as usize * 3;
    let stride = rgb.stride(0);
    let data = rgb.data(0);
    let mut pixels = Vec::with_capacity(row * height as usize);
    for y in 0..height as usize {
        let start = y * stride;
        let line = data.get(start..start + row).ok_or(Error::InvalidData)?;
        pixels.extend_from_slice(line);
    }
    RgbImage::from_raw(width, height, pixels).ok_or(Error::InvalidData)
}
