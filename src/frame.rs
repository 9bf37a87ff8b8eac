//! Frames: borrowed pixel buffers (RGB or RGBA, as cameras and decoders give them) and the
//! hostile-input-safe decoding of still images into them.
//!
//! The pipeline never copies a frame: every model samples its own crop straight out of the
//! caller's buffer (see [`crate::imgproc`]), so RGBA from a browser canvas and RGB from a JPEG
//! decoder are both used in place.

use std::io::Cursor;

use image::{DynamicImage, ImageDecoder, ImageReader, Limits};

use crate::error::{Error, Result};

/// Byte layout of one pixel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PixelFormat {
    /// 3 bytes per pixel, R G B.
    Rgb8,
    /// 4 bytes per pixel, R G B A (alpha ignored), as `ImageData` in browsers.
    Rgba8,
}

impl PixelFormat {
    /// Bytes per pixel.
    pub fn channels(self) -> usize {
        match self {
            PixelFormat::Rgb8 => 3,
            PixelFormat::Rgba8 => 4,
        }
    }
}

/// A borrowed, validated frame: `data.len() == width * height * channels`.
#[derive(Debug, Clone, Copy)]
pub struct FrameRef<'a> {
    width: u32,
    height: u32,
    format: PixelFormat,
    data: &'a [u8],
}

/// The largest frame side accepted anywhere (stills are checked against a stricter,
/// configurable limit when decoded).
pub const MAX_FRAME_SIDE: u32 = 16_384;

impl<'a> FrameRef<'a> {
    /// Wraps a pixel buffer, checking that its length matches the declared size.
    pub fn new(width: u32, height: u32, format: PixelFormat, data: &'a [u8]) -> Result<Self> {
        if width == 0 || height == 0 {
            return Err(Error::InvalidFrame(format!(
                "{width}x{height} frame has no pixels"
            )));
        }
        if width > MAX_FRAME_SIDE || height > MAX_FRAME_SIDE {
            return Err(Error::InvalidFrame(format!(
                "{width}x{height} frame exceeds the {MAX_FRAME_SIDE} px side limit"
            )));
        }
        let expected = width as usize * height as usize * format.channels();
        if data.len() != expected {
            return Err(Error::InvalidFrame(format!(
                "{width}x{height} {format:?} frame needs {expected} bytes, got {}",
                data.len()
            )));
        }
        Ok(Self {
            width,
            height,
            format,
            data,
        })
    }

    /// Frame width in pixels.
    pub fn width(&self) -> u32 {
        self.width
    }

    /// Frame height in pixels.
    pub fn height(&self) -> u32 {
        self.height
    }

    /// Pixel layout.
    pub fn format(&self) -> PixelFormat {
        self.format
    }

    /// The raw bytes.
    pub fn data(&self) -> &'a [u8] {
        self.data
    }

    /// RGB of the pixel at integer coordinates (caller guarantees bounds).
    #[inline(always)]
    pub(crate) fn rgb_at(&self, x: usize, y: usize) -> [f32; 3] {
        let c = self.format.channels();
        let i = (y * self.width as usize + x) * c;
        [
            self.data[i] as f32,
            self.data[i + 1] as f32,
            self.data[i + 2] as f32,
        ]
    }
}

/// An owned RGB frame (what still-image decoding produces).
#[derive(Debug, Clone)]
pub struct Frame {
    width: u32,
    height: u32,
    data: Vec<u8>,
}

impl Frame {
    /// Takes ownership of an RGB8 buffer, validating its size.
    pub fn from_rgb(width: u32, height: u32, data: Vec<u8>) -> Result<Self> {
        FrameRef::new(width, height, PixelFormat::Rgb8, &data)?;
        Ok(Self {
            width,
            height,
            data,
        })
    }

    /// Borrows the frame for the pipeline.
    pub fn as_ref(&self) -> FrameRef<'_> {
        FrameRef {
            width: self.width,
            height: self.height,
            format: PixelFormat::Rgb8,
            data: &self.data,
        }
    }

    /// Width in pixels.
    pub fn width(&self) -> u32 {
        self.width
    }

    /// Height in pixels.
    pub fn height(&self) -> u32 {
        self.height
    }

    /// The RGB bytes, to edit in place (the size cannot change).
    pub fn rgb_mut(&mut self) -> &mut [u8] {
        &mut self.data
    }

    /// The RGB bytes.
    pub fn into_rgb(self) -> Vec<u8> {
        self.data
    }
}

impl From<image::RgbImage> for Frame {
    fn from(img: image::RgbImage) -> Self {
        let (width, height) = img.dimensions();
        Self {
            width,
            height,
            data: img.into_raw(),
        }
    }
}

/// Limits applied while decoding untrusted still images.
#[derive(Debug, Clone)]
pub struct ImageLimits {
    /// Largest accepted width or height; checked from the header before pixels are allocated.
    pub max_side: u32,
    /// Smallest accepted width and height.
    pub min_side: u32,
    /// Most pixels (width × height); checked from the header too. What one decode may cost
    /// in memory and time grows with it, whatever the sides.
    pub max_pixels: u64,
    /// Cap on the decoder's allocations, in bytes.
    pub max_alloc: u64,
}

impl Default for ImageLimits {
    fn default() -> Self {
        // 8192 px covers every phone camera; a 20000x20000 header (1.2 GB RGB) is refused
        // before any pixel buffer exists. 25 MP is a 6000x4000 photo, more than a face needs:
        // its RGB frame is 75 MB.
        Self {
            max_side: 8192,
            min_side: 32,
            max_pixels: 25_000_000,
            max_alloc: 256 * 1024 * 1024,
        }
    }
}

/// Decodes a JPEG, PNG or WebP still into an upright RGB frame.
///
/// Applies the EXIF orientation (phones and some datasets store photos sideways), flattens
/// alpha, expands greyscale and converts CMYK. Refuses images outside `limits` from the
/// header alone, so a decompression bomb costs nothing.
pub fn decode_image(bytes: &[u8], limits: &ImageLimits) -> Result<Frame> {
    // A decoder bug must be this input's error, not a crashed request or worker: zune-jpeg
    // (the `image` crate's JPEG decoder) still asserts on some malformed files (an upsampler
    // scratch-size assertion found by our fuzzer, fuzz/corpus/image_decode/crash-7becc…; the
    // same family is open upstream, zune-image#236, #281).
    std::panic::catch_unwind(|| decode_unguarded(bytes, limits)).unwrap_or_else(|_| {
        Err(Error::ImageDecode(
            "the image decoder failed on this file (malformed data)".into(),
        ))
    })
}

fn decode_unguarded(bytes: &[u8], limits: &ImageLimits) -> Result<Frame> {
    if bytes.is_empty() {
        return Err(Error::EmptyInput("image has 0 bytes"));
    }
    let reader = ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|e| Error::ImageDecode(e.to_string()))?;
    if reader.format().is_none() {
        return Err(Error::ImageDecode("not a JPEG, PNG or WebP file".into()));
    }
    let format = reader.format();
    let (width, height) = reader
        .into_dimensions()
        .map_err(|e| Error::ImageDecode(e.to_string()))?;
    check_size(width, height, limits)?;
    if format == Some(image::ImageFormat::Png) {
        return decode_png(bytes, limits);
    }

    let mut reader = ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|e| Error::ImageDecode(e.to_string()))?;
    let mut decoder_limits = Limits::default();
    decoder_limits.max_image_width = Some(limits.max_side);
    decoder_limits.max_image_height = Some(limits.max_side);
    decoder_limits.max_alloc = Some(limits.max_alloc);
    reader.limits(decoder_limits);
    let mut decoder = reader.into_decoder().map_err(map_image_error)?;
    // A broken EXIF block must not reject an otherwise fine photo: fall back to "as stored".
    let orientation = decoder
        .orientation()
        .unwrap_or(image::metadata::Orientation::NoTransforms);
    let mut img = DynamicImage::from_decoder(decoder).map_err(map_image_error)?;
    img.apply_orientation(orientation);
    Ok(Frame::from(img.into_rgb8()))
}

/// PNG through the `png` crate with its output normalised to 8 bits a channel, so a 16-bit
/// image (the costliest PNG: 8 bytes a pixel in RGBA) never has a 16-bit full-size buffer;
/// alpha is dropped as [`DynamicImage::into_rgb8`] drops it, the EXIF orientation applied.
fn decode_png(bytes: &[u8], limits: &ImageLimits) -> Result<Frame> {
    let budget = usize::try_from(limits.max_alloc).unwrap_or(usize::MAX);
    let mut decoder =
        png::Decoder::new_with_limits(Cursor::new(bytes), png::Limits { bytes: budget });
    decoder.set_transformations(png::Transformations::normalize_to_color8());
    let mut reader = decoder.read_info().map_err(png_error)?;
    let (width, height) = (reader.info().width, reader.info().height);
    check_size(width, height, limits)?;
    let orientation = reader
        .info()
        .exif_metadata
        .as_deref()
        .and_then(image::metadata::Orientation::from_exif_chunk)
        .unwrap_or(image::metadata::Orientation::NoTransforms);
    let size = reader
        .output_buffer_size()
        .filter(|&n| n <= budget)
        .ok_or_else(|| Error::ImageDecode("image exceeds decoding limits".into()))?;
    let mut buf = vec![0u8; size];
    let out = reader.next_frame(&mut buf).map_err(png_error)?;
    buf.truncate(out.buffer_size());
    let rgb: Vec<u8> = match out.color_type {
        png::ColorType::Rgb => buf,
        png::ColorType::Rgba => buf
            .chunks_exact(4)
            .flat_map(|p| [p[0], p[1], p[2]])
            .collect(),
        png::ColorType::Grayscale => buf.iter().flat_map(|&g| [g, g, g]).collect(),
        png::ColorType::GrayscaleAlpha => buf
            .chunks_exact(2)
            .flat_map(|p| [p[0], p[0], p[0]])
            .collect(),
        png::ColorType::Indexed => {
            return Err(Error::ImageDecode("indexed PNG was not expanded".into()))
        }
    };
    let img = image::RgbImage::from_raw(out.width, out.height, rgb)
        .ok_or_else(|| Error::ImageDecode("PNG rows do not match its size".into()))?;
    let mut img = DynamicImage::ImageRgb8(img);
    img.apply_orientation(orientation);
    Ok(Frame::from(img.into_rgb8()))
}

fn png_error(e: png::DecodingError) -> Error {
    match e {
        png::DecodingError::LimitsExceeded => {
            Error::ImageDecode("image exceeds decoding limits".into())
        }
        other => Error::ImageDecode(other.to_string()),
    }
}

fn check_size(width: u32, height: u32, limits: &ImageLimits) -> Result<()> {
    if width > limits.max_side || height > limits.max_side {
        return Err(Error::ImageTooLarge {
            width,
            height,
            max: limits.max_side,
        });
    }
    if u64::from(width) * u64::from(height) > limits.max_pixels {
        return Err(Error::ImageTooManyPixels {
            width,
            height,
            max_pixels: limits.max_pixels,
        });
    }
    if width < limits.min_side || height < limits.min_side {
        return Err(Error::ImageTooSmall {
            width,
            height,
            min: limits.min_side,
        });
    }
    Ok(())
}

fn map_image_error(e: image::ImageError) -> Error {
    match e {
        image::ImageError::Limits(l) => {
            Error::ImageDecode(format!("image exceeds decoding limits: {l}"))
        }
        other => Error::ImageDecode(other.to_string()),
    }
}
