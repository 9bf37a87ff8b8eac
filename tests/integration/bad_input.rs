//! Hostile and unusual input: every case ends in a typed error or a correct result, never a
//! panic or a hang.

use std::time::{Duration, Instant};

use image::{ImageFormat, Luma};
use liveproof::check::{check_media, CheckParams, MediaLimits};
use liveproof::{decode_image, Error, FrameRef, ImageLimits, PixelFormat, Stages};

use super::common::{engine, image, media, repo};

fn encode(img: &image::DynamicImage, format: ImageFormat) -> Vec<u8> {
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, format).unwrap();
    out.into_inner()
}

fn decode(bytes: &[u8]) -> liveproof::Result<liveproof::Frame> {
    decode_image(bytes, &ImageLimits::default())
}

#[test]
fn empty_image_is_a_typed_error() {
    assert!(matches!(decode(&[]), Err(Error::EmptyInput(_))));
    let err = check_media(
        engine(),
        Some(&[]),
        None,
        &CheckParams::default(),
        &MediaLimits::default(),
    )
    .unwrap_err();
    assert!(err.is_input_error(), "{err}");
}

#[test]
fn nothing_to_check_is_a_typed_error() {
    let err = check_media(
        engine(),
        None,
        None,
        &CheckParams::default(),
        &MediaLimits::default(),
    )
    .unwrap_err();
    assert!(matches!(err, Error::EmptyInput(_)), "{err}");
}

#[test]
fn garbage_and_wrong_types_are_typed_errors() {
    assert!(matches!(
        decode(b"definitely not an image"),
        Err(Error::ImageDecode(_))
    ));
    let pdf = b"%PDF-1.4\n1 0 obj<<>>endobj\n";
    assert!(matches!(decode(pdf), Err(Error::ImageDecode(_))));
}

#[test]
fn truncated_jpeg_errors_or_decodes_without_panic() {
    let bytes = std::fs::read(media("live/fr_obama.jpg")).unwrap();
    for fraction in [0.02, 0.3, 0.7] {
        let cut = &bytes[..(bytes.len() as f64 * fraction) as usize];
        match decode(cut) {
            Err(e) => assert!(e.is_input_error(), "{e}"),
            Ok(frame) => {
                // A decoder that fills the missing rows grey must still give a full frame the
                // pipeline can run on.
                engine().analyze(&frame.as_ref(), 0.0, Stages::PAD).unwrap();
            }
        }
    }
}

/// A 4 KB JPEG our fuzzer found (fuzz/corpus/image_decode/crash-7becc…) trips an assertion in
/// zune-jpeg's AVX2 upsampler: the decoder's panic becomes this file's typed error, and the
/// next image decodes.
#[test]
fn a_jpeg_that_crashes_the_decoder_is_a_typed_error() {
    let path =
        repo().join("fuzz/corpus/image_decode/crash-7beccd24050c84602f7e0a2a65c7b827b3a600f0");
    let bytes = std::fs::read(path).unwrap();
    let err = decode(&bytes).unwrap_err();
    assert!(matches!(err, Error::ImageDecode(_)), "{err}");
    assert!(decode(&std::fs::read(media("live/fr_obama.jpg")).unwrap()).is_ok());
}

#[test]
fn one_pixel_image_is_too_small() {
    let img = image::DynamicImage::ImageRgb8(image::RgbImage::new(1, 1));
    let err = decode(&encode(&img, ImageFormat::Png)).unwrap_err();
    assert!(
        matches!(
            err,
            Error::ImageTooSmall {
                width: 1,
                height: 1,
                ..
            }
        ),
        "{err}"
    );
}

/// A PNG whose header claims 20000×20000 (1.2 GB of RGB) is refused from the header, fast and
/// without allocating the pixels.
#[test]
fn decompression_bomb_header_is_refused_quickly() {
    let bomb = png_header_only(20_000, 20_000);
    let start = Instant::now();
    let err = decode(&bomb).unwrap_err();
    assert!(
        matches!(
            err,
            Error::ImageTooLarge {
                width: 20_000,
                height: 20_000,
                ..
            }
        ),
        "{err}"
    );
    assert!(start.elapsed() < Duration::from_secs(1));
}

/// A small real PNG bomb: a valid 9000×9000 grey image of zeros (≈80 KB compressed, 81 MB
/// decoded) is refused by the side limit.
#[test]
fn real_compressed_bomb_is_refused() {
    let img =
        image::DynamicImage::ImageLuma8(image::ImageBuffer::from_pixel(9000, 9000, Luma([0u8])));
    let bytes = encode(&img, ImageFormat::Png);
    assert!(bytes.len() < 2_000_000, "{}", bytes.len());
    assert!(matches!(decode(&bytes), Err(Error::ImageTooLarge { .. })));
}

/// The PNG bomb of the finding: a valid 8192×8192 16-bit RGBA image (a few hundred KB
/// compressed, 512 MiB decoded at 16 bits) is within the side limit, so the pixel budget (25 MP)
/// refuses it from the header.
#[test]
fn a_16_bit_png_at_the_side_limit_is_refused_by_the_pixel_budget() {
    let img = image::DynamicImage::ImageRgba16(image::ImageBuffer::new(8192, 8192));
    let bytes = encode(&img, ImageFormat::Png);
    assert!(bytes.len() < 4_000_000, "{}", bytes.len());
    let start = Instant::now();
    let err = decode(&bytes).unwrap_err();
    assert!(
        matches!(
            err,
            Error::ImageTooManyPixels {
                width: 8192,
                height: 8192,
                max_pixels: 25_000_000
            }
        ),
        "{err}"
    );
    assert_eq!(err.code(), "image_too_large");
    assert!(start.elapsed() < Duration::from_secs(1));
}

/// A 16-bit PNG is decoded at 8 bits a channel: with an allocation budget below what its
/// 16-bit pixels would take (2000×2000 RGBA16 = 32 MB) but above the 8-bit ones (16 MB), it
/// decodes, to the high bytes of its samples.
#[test]
fn a_16_bit_png_never_gets_a_16_bit_full_size_buffer() {
    let img = image::DynamicImage::ImageRgba16(image::ImageBuffer::from_fn(2000, 2000, |x, _| {
        image::Rgba([(x as u16) << 5, 0x1234, 0xfedc, 0xffff])
    }));
    let bytes = encode(&img, ImageFormat::Png);
    let limits = ImageLimits {
        max_alloc: 20 * 1024 * 1024,
        ..ImageLimits::default()
    };
    let frame = decode_image(&bytes, &limits).expect("decoded within 20 MiB");
    assert_eq!((frame.width(), frame.height()), (2000, 2000));
    let rgb = frame.into_rgb();
    assert_eq!(&rgb[..3], &[0x00, 0x12, 0xfe]);
    let x = 1000usize;
    assert_eq!(&rgb[x * 3..x * 3 + 3], &[((x << 5) >> 8) as u8, 0x12, 0xfe]);
    // Too small a budget for even the 8-bit pixels is a typed error.
    let tight = ImageLimits {
        max_alloc: 8 * 1024 * 1024,
        ..ImageLimits::default()
    };
    assert!(matches!(
        decode_image(&bytes, &tight),
        Err(Error::ImageDecode(_))
    ));
}

#[test]
fn png_with_alpha_is_flattened_and_analysed() {
    let frame = image("live/fr_obama_32bit_rgba.png");
    let rec = engine().analyze(&frame.as_ref(), 0.0, Stages::PAD).unwrap();
    assert_eq!(rec.faces.len(), 1);
    assert!(rec.pad_real().is_some());
}

#[test]
fn greyscale_photo_is_analysed() {
    let bytes = std::fs::read(media("live/fr_obama.jpg")).unwrap();
    let grey = image::load_from_memory(&bytes).unwrap().grayscale();
    for format in [ImageFormat::Png, ImageFormat::Jpeg] {
        let frame = decode(&encode(&grey, format)).unwrap();
        let rec = engine().analyze(&frame.as_ref(), 0.0, Stages::PAD).unwrap();
        assert_eq!(rec.faces.len(), 1, "{format:?}");
    }
}

/// A CMYK JPEG (as print workflows produce) decodes to the right colours and is analysed.
#[test]
fn cmyk_jpeg_is_converted() {
    let rgb = image::load_from_memory(&std::fs::read(media("live/fr_obama.jpg")).unwrap())
        .unwrap()
        .to_rgb8();
    let (w, h) = rgb.dimensions();
    let cmyk: Vec<u8> = rgb
        .pixels()
        .flat_map(|p| {
            let [r, g, b] = p.0.map(|v| v as f32 / 255.0);
            let k = 1.0 - r.max(g).max(b);
            let d = (1.0 - k).max(1e-6);
            [(1.0 - r - k) / d, (1.0 - g - k) / d, (1.0 - b - k) / d, k]
                .map(|v| (v * 255.0).round() as u8)
        })
        .collect();
    let mut jpeg = Vec::new();
    jpeg_encoder::Encoder::new(&mut jpeg, 92)
        .encode(&cmyk, w as u16, h as u16, jpeg_encoder::ColorType::Cmyk)
        .unwrap();
    let frame = decode(&jpeg).unwrap();
    assert_eq!((frame.width(), frame.height()), (w, h));
    let mean = |d: &[u8]| d.iter().map(|v| *v as f64).sum::<f64>() / d.len() as f64;
    let (a, b) = (mean(frame.as_ref().data()), mean(rgb.as_raw()));
    assert!(
        (a - b).abs() < 12.0,
        "mean colour {a} vs {b}: CMYK (or Adobe-inverted CMYK) mishandled"
    );
    let rec = engine().analyze(&frame.as_ref(), 0.0, Stages::PAD).unwrap();
    assert_eq!(rec.faces.len(), 1);
}

/// The Silent-Face sample is stored sideways with EXIF orientation 6: decoded upright it is
/// portrait, and the face is found upright (eyes above the mouth).
#[test]
fn exif_rotated_photo_is_turned_upright() {
    let frame = image("live/sfas_image_T1_real.jpg");
    assert_eq!((frame.width(), frame.height()), (480, 640));
    let rec = engine()
        .analyze(&frame.as_ref(), 0.0, Stages::GEOMETRY)
        .unwrap();
    let k = rec.faces[0].keypoints;
    assert!(
        k[0][1] < k[3][1] && k[1][1] < k[4][1],
        "eyes must be above the mouth corners: {k:?}"
    );
}

#[test]
fn raw_frames_with_wrong_sizes_are_refused() {
    let data = vec![0u8; 10];
    assert!(matches!(
        FrameRef::new(4, 4, PixelFormat::Rgba8, &data),
        Err(Error::InvalidFrame(_))
    ));
    assert!(matches!(
        FrameRef::new(0, 4, PixelFormat::Rgb8, &[]),
        Err(Error::InvalidFrame(_))
    ));
    assert!(matches!(
        FrameRef::new(100_000, 1, PixelFormat::Rgb8, &data),
        Err(Error::InvalidFrame(_))
    ));
}

#[test]
fn flat_black_and_noise_frames_have_no_face() {
    let black = vec![0u8; 640 * 480 * 4];
    let rec = engine()
        .analyze(
            &FrameRef::new(640, 480, PixelFormat::Rgba8, &black).unwrap(),
            0.0,
            Stages::PAD,
        )
        .unwrap();
    assert!(rec.faces.is_empty() && rec.face.is_none());
    let mut x = 0x2545F491u32;
    let noise: Vec<u8> = (0..640 * 480 * 3)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x as u8
        })
        .collect();
    let rec = engine()
        .analyze(
            &FrameRef::new(640, 480, PixelFormat::Rgb8, &noise).unwrap(),
            0.0,
            Stages::PAD,
        )
        .unwrap();
    assert!(rec.face.is_none(), "{:?}", rec.faces);
}

#[test]
fn empty_garbage_and_truncated_videos_are_typed_errors() {
    let params = CheckParams::default();
    let limits = MediaLimits::default();
    let err = check_media(engine(), None, Some(&[]), &params, &limits).unwrap_err();
    assert!(err.is_input_error(), "{err}");
    let err = check_media(engine(), None, Some(&[7u8; 4096]), &params, &limits).unwrap_err();
    assert!(err.is_input_error(), "{err}");
    let mp4 = std::fs::read(media("video_live/les_real_frontal.mp4")).unwrap();
    let err = check_media(engine(), None, Some(&mp4[..2048]), &params, &limits).unwrap_err();
    assert!(err.is_input_error(), "{err}");
    // 60 % of the file still holds decodable frames: either a result or a typed error.
    let start = Instant::now();
    match check_media(
        engine(),
        None,
        Some(&mp4[..mp4.len() * 6 / 10]),
        &params,
        &limits,
    ) {
        Ok(outcome) => assert!(outcome.video.is_some()),
        Err(e) => assert!(e.is_input_error(), "{e}"),
    }
    assert!(start.elapsed() < Duration::from_secs(60));
}

#[test]
fn out_of_range_tuning_fields_are_rejected() {
    let bytes = std::fs::read(media("live/fr_obama.jpg")).unwrap();
    let params = CheckParams {
        facematch_threshold: 2.0,
        ..CheckParams::default()
    };
    let err = check_media(
        engine(),
        Some(&bytes),
        None,
        &params,
        &MediaLimits::default(),
    )
    .unwrap_err();
    assert!(
        matches!(err, Error::InvalidArgument { field: "facematch_threshold", ref message } if message.contains("facematch_threshold")),
        "{err}"
    );
}

/// A minimal PNG: signature, IHDR with the given size, one IDAT holding an empty zlib stream,
/// IEND. Almost no pixel data at all.
fn png_header_only(w: u32, h: u32) -> Vec<u8> {
    let mut out = vec![0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A];
    let mut ihdr = Vec::new();
    ihdr.extend_from_slice(&w.to_be_bytes());
    ihdr.extend_from_slice(&h.to_be_bytes());
    ihdr.extend_from_slice(&[8, 2, 0, 0, 0]);
    let idat = [0x78, 0x9C, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01];
    for (kind, data) in [
        (&b"IHDR"[..], &ihdr[..]),
        (b"IDAT", &idat[..]),
        (b"IEND", &[]),
    ] {
        out.extend_from_slice(&(data.len() as u32).to_be_bytes());
        let mut chunk = kind.to_vec();
        chunk.extend_from_slice(data);
        out.extend_from_slice(&chunk);
        out.extend_from_slice(&crc32(&chunk).to_be_bytes());
    }
    out
}

fn crc32(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in data {
        crc ^= b as u32;
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}
