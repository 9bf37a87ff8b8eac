//! Writes the seed corpora: `corpus/<target>/seed-*`, small valid inputs of every kind each
//! target takes. Stills and clips are cut down with `ffmpeg` from public-domain media in
//! /work/shared/media (`$LIVEPROOF_MEDIA`; catalog licence classes A and A-) or drawn by
//! FFmpeg's test sources; bundles are signed with the core's own code and the harnesses'
//! keys; records come from the engine's run on the seed frames.
//!
//! `cargo run --manifest-path fuzz/Cargo.toml --no-default-features --example make_seeds`

use std::io::{Cursor, Write};
use std::path::{Path, PathBuf};
use std::process::Command;

use base64::Engine as _;
use liveproof::events::Label;
use liveproof::evidence::{
    ClientResult, Item, ItemKind, Manifest, SignKey, Versions, FORMAT_VERSION,
};
use liveproof::{decode_image, ImageLimits, Stages};
use liveproof_fuzz::evidence::{device_key, issued, DEVICE_ID, HMAC_KEY, SESSION_ID};
use liveproof_fuzz::fixtures::{engine, BOUNDARY};

type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

fn main() -> Result<()> {
    let media = std::env::var_os("LIVEPROOF_MEDIA")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/media"));
    let scratch = std::env::temp_dir().join(format!("liveproof-seeds-{}", std::process::id()));
    std::fs::create_dir_all(&scratch)?;
    let mut s = Seeds {
        media,
        scratch: scratch.clone(),
        corpus: Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus"),
    };
    let result = s.all();
    let _ = std::fs::remove_dir_all(&scratch);
    result
}

struct Seeds {
    media: PathBuf,
    scratch: PathBuf,
    corpus: PathBuf,
}

/// The stills and clips every other corpus is built from.
struct Media {
    jpeg: Vec<u8>,
    png: Vec<u8>,
    selfie: Vec<u8>,
    mp4: Vec<u8>,
    webm: Vec<u8>,
}

impl Seeds {
    fn all(&mut self) -> Result<()> {
        let media = self.images()?;
        let media = self.videos(media)?;
        self.evidence(&media)?;
        let zip = self.batch(&media)?;
        self.requests(&media, &zip)?;
        Ok(())
    }

    fn write(&self, target: &str, name: &str, data: &[u8]) -> Result<()> {
        let dir = self.corpus.join(target);
        std::fs::create_dir_all(&dir)?;
        std::fs::write(dir.join(format!("seed-{name}")), data)?;
        println!("{target}/seed-{name}: {} bytes", data.len());
        Ok(())
    }

    /// `ffmpeg -i <input> <args> <scratch/out>`, the output's bytes. `input` is a media path,
    /// or a lavfi source when it starts with `lavfi:`.
    fn ffmpeg(&self, input: &str, args: &[&str], out: &str) -> Result<Vec<u8>> {
        let path = self.scratch.join(out);
        let mut cmd = Command::new("ffmpeg");
        cmd.args(["-hide_banner", "-loglevel", "error", "-y"]);
        match input.strip_prefix("lavfi:") {
            Some(graph) => cmd.args(["-f", "lavfi", "-i", graph]),
            None => cmd.arg("-i").arg(self.media.join(input)),
        };
        let status = cmd.args(args).arg(&path).status()?;
        if !status.success() {
            return Err(format!("ffmpeg {input} {args:?} failed").into());
        }
        Ok(std::fs::read(&path)?)
    }

    fn images(&mut self) -> Result<Media> {
        const T: &str = "image_decode";
        // Public domain (catalog class A): NASA's astronaut portrait; Apache-2.0 sample.
        let src = "live/sk_astronaut.png";
        let scale = ["-vf", "scale=64:64", "-frames:v", "1"];
        let jpeg = self.ffmpeg(src, &[&scale[..], &["-q:v", "8"]].concat(), "a.jpg")?;
        self.write(T, "baseline.jpg", &jpeg)?;
        let png = self.ffmpeg(src, &scale, "a.png")?;
        self.write(T, "rgb.png", &png)?;
        for (name, fmt) in [
            ("rgba.png", "rgba"),
            ("gray16.png", "gray16be"),
            ("palette.png", "pal8"),
            ("gray-alpha.png", "ya8"),
        ] {
            let args = ["-vf", "scale=40:40", "-frames:v", "1", "-pix_fmt", fmt];
            self.write(T, name, &self.ffmpeg(src, &args, name)?)?;
        }
        self.write(T, "exif-orient6.png", &png_with_exif(&png, 6))?;
        let lossy = ["-vf", "scale=48:48", "-frames:v", "1", "-c:v", "libwebp"];
        self.write(T, "lossy.webp", &self.ffmpeg(src, &lossy, "l.webp")?)?;
        let lossless = [&lossy[..], &["-lossless", "1"]].concat();
        self.write(T, "lossless.webp", &self.ffmpeg(src, &lossless, "ll.webp")?)?;
        let alpha = [&lossy[..], &["-pix_fmt", "yuva420p"]].concat();
        self.write(T, "alpha.webp", &self.ffmpeg(src, &alpha, "a.webp")?)?;

        // A sideways phone photo (Apache-2.0 sample), its EXIF orientation restored.
        let sideways = self.ffmpeg(
            "live/sfas_image_T1_real.jpg",
            &["-vf", "scale=48:36", "-frames:v", "1", "-q:v", "8"],
            "s.jpg",
        )?;
        self.write(T, "exif-orient6.jpg", &jpeg_with_exif(&sideways, 6))?;

        // What FFmpeg's JPEG encoder does not write: progressive, greyscale, CMYK.
        let rgb = decode_image(&png, &ImageLimits::default())?.into_rgb();
        let mut out = Vec::new();
        let mut enc = jpeg_encoder::Encoder::new(&mut out, 70);
        enc.set_progressive(true);
        enc.encode(&rgb, 64, 64, jpeg_encoder::ColorType::Rgb)?;
        self.write(T, "progressive.jpg", &out)?;
        let baseline = |pixels: &[u8], color| -> Result<Vec<u8>> {
            let mut out = Vec::new();
            jpeg_encoder::Encoder::new(&mut out, 70).encode(pixels, 64, 64, color)?;
            Ok(out)
        };
        let luma: Vec<u8> = rgb.chunks(3).map(|p| p[1]).collect();
        self.write(
            T,
            "gray.jpg",
            &baseline(&luma, jpeg_encoder::ColorType::Luma)?,
        )?;
        let cmyk: Vec<u8> = rgb
            .chunks(3)
            .flat_map(|p| [255 - p[0], 255 - p[1], 255 - p[2], 0])
            .collect();
        self.write(
            T,
            "cmyk.jpg",
            &baseline(&cmyk, jpeg_encoder::ColorType::Cmyk)?,
        )?;

        // The verification route wants 300 px sides: one larger still for its seed.
        let selfie = self.ffmpeg(
            src,
            &["-vf", "scale=320:320", "-frames:v", "1", "-q:v", "12"],
            "selfie.jpg",
        )?;
        Ok(Media {
            jpeg,
            png,
            selfie,
            mp4: Vec::new(),
            webm: Vec::new(),
        })
    }

    fn videos(&mut self, mut m: Media) -> Result<Media> {
        const T: &str = "video_probe";
        let x264 = [
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            "-pix_fmt",
            "yuv420p",
        ];
        // Very likely public domain (class A-): a US-government stage recording, cut to 0.2 s.
        let cut = [&["-t", "0.2", "-vf", "scale=64:36", "-an"][..], &x264[..]].concat();
        m.mp4 = self.ffmpeg("video_live/fr_hamilton_stage_talking.mp4", &cut, "h.mp4")?;
        self.write(T, "h264.mp4", &m.mp4)?;
        let src = "lavfi:testsrc2=size=48x32:rate=10:duration=0.5";
        let rotated = [&x264[..], &["-metadata:s:v:0", "rotate=90"]].concat();
        self.write(T, "rotate90.mp4", &self.ffmpeg(src, &rotated, "r.mp4")?)?;
        let fragmented = [&x264[..], &["-movflags", "frag_keyframe+empty_moov"]].concat();
        self.write(
            T,
            "fragmented.mp4",
            &self.ffmpeg(src, &fragmented, "f.mp4")?,
        )?;
        self.write(T, "h264.mov", &self.ffmpeg(src, &x264, "q.mov")?)?;
        self.write(T, "h264.mkv", &self.ffmpeg(src, &x264, "k.mkv")?)?;
        let vp8 = ["-c:v", "libvpx", "-b:v", "50k", "-deadline", "realtime"];
        m.webm = self.ffmpeg(src, &vp8, "v8.webm")?;
        self.write(T, "vp8.webm", &m.webm)?;
        let vp9 = ["-c:v", "libvpx-vp9", "-b:v", "50k", "-deadline", "realtime"];
        self.write(T, "vp9.webm", &self.ffmpeg(src, &vp9, "v9.webm")?)?;
        Ok(m)
    }

    fn evidence(&mut self, m: &Media) -> Result<()> {
        const T: &str = "evidence";
        let engine = engine();
        let frames = [("f0.jpg", 100.0, &m.jpeg), ("f1.jpg", 400.0, &m.jpeg)];
        let mut records = Vec::new();
        for (_, t_ms, bytes) in &frames {
            let frame = decode_image(bytes, &ImageLimits::default())?;
            records.push(
                engine
                    .analyze(&frame.as_ref(), *t_ms, Stages::ALL)?
                    .summary(),
            );
        }
        let records = serde_json::to_vec(&records)?;
        let mut items: Vec<(Item, &[u8])> = frames
            .iter()
            .map(|(name, t_ms, bytes)| {
                let item = Item::describe(name, ItemKind::Frame, "image/jpeg", Some(*t_ms), bytes);
                (item, bytes.as_slice())
            })
            .collect();
        let records_item = Item::describe(
            "records.json",
            ItemKind::Records,
            "application/json",
            None,
            &records,
        );
        items.push((records_item, &records));
        let clip = Item::describe("clip.webm", ItemKind::Clip, "video/webm", None, &m.webm);
        items.push((clip, &m.webm));

        let device = device_key();
        let full = manifest(items.iter().map(|(i, _)| i.clone()).collect());
        let hs = full.sign(SESSION_ID, SignKey::Hmac(&HMAC_KEY))?;
        let ed = full.sign(DEVICE_ID, SignKey::Ed25519(&device))?;
        let parts = |token: &str, items: &[(Item, &[u8])]| {
            let mut p = vec![("evidence".to_owned(), token.as_bytes().to_vec())];
            p.extend(items.iter().map(|(i, d)| (i.name.clone(), d.to_vec())));
            p
        };
        self.write(
            T,
            "session-full",
            &[&[0u8][..], &form(&parts(&hs, &items))].concat(),
        )?;
        self.write(
            T,
            "kiosk-full",
            &[&[0u8][..], &form(&parts(&ed, &items))].concat(),
        )?;
        // Frames only: the passive path (`admit` without a recording).
        let frames_only = &items[..2];
        let small = manifest(frames_only.iter().map(|(i, _)| i.clone()).collect());
        let hs_small = small.sign(SESSION_ID, SignKey::Hmac(&HMAC_KEY))?;
        self.write(
            T,
            "session-frames",
            &[&[0u8][..], &form(&parts(&hs_small, frames_only))].concat(),
        )?;
        self.write(
            T,
            "token-hs256",
            &[&[1u8][..], hs_small.as_bytes()].concat(),
        )?;
        self.write(T, "token-eddsa", &[&[1u8][..], ed.as_bytes()].concat())?;
        self.write(T, "manifest", &[&[2u8][..], &full.to_bytes()].concat())?;
        Ok(())
    }

    fn batch(&mut self, m: &Media) -> Result<Vec<u8>> {
        use zip::write::SimpleFileOptions;
        use zip::CompressionMethod::{Deflated, Stored};
        const T: &str = "batch_zip";
        let mut out = Cursor::new(Vec::new());
        let mut zip = zip::ZipWriter::new(&mut out);
        let entries: [(&str, &[u8], _); 7] = [
            ("alice.jpg", &m.jpeg, Stored),
            ("alice.mp4", &m.mp4, Stored),
            ("bob/image.png", &m.png, Deflated),
            ("bob/video.webm", &m.webm, Deflated),
            ("notes.txt", b"not a case", Deflated),
            ("__MACOSX/alice.jpg", b"resource fork", Stored),
            ("carol/selfie.JPG", &m.jpeg, Deflated),
        ];
        zip.add_directory("bob/", SimpleFileOptions::default())?;
        for (name, data, method) in entries {
            zip.start_file(
                name,
                SimpleFileOptions::default().compression_method(method),
            )?;
            zip.write_all(data)?;
        }
        zip.finish()?;
        let cases = out.into_inner();
        self.write(T, "cases.zip", &cases)?;

        let mut out = Cursor::new(Vec::new());
        let mut zip = zip::ZipWriter::new(&mut out);
        zip.start_file("one.png", SimpleFileOptions::default())?;
        zip.write_all(&m.png)?;
        zip.finish()?;
        let one = out.into_inner();
        self.write(T, "one.zip", &one)?;
        Ok(one)
    }

    fn requests(&mut self, m: &Media, zip: &[u8]) -> Result<()> {
        const T: &str = "requests";
        let text = |name: &str, v: &str| (name.to_owned(), v.as_bytes().to_vec());
        let file = |name: &str, v: &[u8]| (name.to_owned(), v.to_vec());
        let b64 = base64::engine::general_purpose::STANDARD.encode(&m.jpeg);
        let seeds: Vec<(&str, u8, Vec<u8>)> = vec![
            (
                "v1-image",
                0,
                form(&[
                    file("image", &m.jpeg),
                    text("enhanced_detection", "True"),
                    text("facematch_threshold", "0.6"),
                    text("frame_sampling_rate", "5"),
                    text("unique_id", "case-42"),
                    text("extra_field", "ignored"),
                ]),
            ),
            (
                "v2-image-video",
                1,
                form(&[
                    file("image", &m.jpeg),
                    file("video", &m.mp4),
                    text("enhanced_detection", "0"),
                    text("facematch_frames", "3"),
                    text("max_frames_to_analyze", "10"),
                ]),
            ),
            (
                "v2-base64",
                1,
                form(&[
                    text("image_type", "base64"),
                    text("image", &format!("data:image/jpeg;base64,{b64}")),
                ]),
            ),
            (
                "selfie",
                2,
                serde_json::to_vec(
                    &serde_json::json!({"image": format!("data:image/jpeg;base64,{b64}")}),
                )?,
            ),
            (
                "verification",
                3,
                form(&[file("selfie", &m.selfie), text("threshold", "0.7")]),
            ),
            (
                "batch-v1",
                4,
                form(&[file("file", zip), text("unique_id", "batch-1")]),
            ),
            (
                "batch-v2",
                5,
                form(&[file("file", zip), text("facematch_threshold", "0.5")]),
            ),
        ];
        for (name, route, body) in seeds {
            self.write(T, name, &[&[route][..], &body].concat())?;
        }
        // Selector bit 7: the content type is the body's first line.
        let header = b"multipart/form-data; boundary=other-boundary\n";
        let body = form_with("other-boundary", &[file("video", &m.webm)]);
        self.write(T, "content-type", &[&[0x81u8][..], header, &body].concat())?;
        Ok(())
    }
}

/// A manifest bound to the harness's issued session, listing `items`.
fn manifest(items: Vec<Item>) -> Manifest {
    let issued = issued();
    Manifest {
        v: FORMAT_VERSION,
        session_id: issued.session_id,
        nonce: issued.nonce,
        created_ms: 1_700_000_001_000.0,
        versions: Versions::current("fuzz-seeds"),
        script: issued.script.clone(),
        timeout_ms: issued.timeout_ms,
        challenges: vec![],
        result: ClientResult {
            label: Label::Real,
            passed: issued.script,
            confidence: 0.9,
            pad_score: Some(0.95),
            failure: None,
        },
        items,
        light: None,
        signals: None,
    }
}

/// A multipart body with [`BOUNDARY`]; every part a file part named as given.
fn form(parts: &[(String, Vec<u8>)]) -> Vec<u8> {
    form_with(BOUNDARY, parts)
}

fn form_with(boundary: &str, parts: &[(String, Vec<u8>)]) -> Vec<u8> {
    let mut body = Vec::new();
    for (name, data) in parts {
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"; \
                 filename=\"{name}\"\r\nContent-Type: application/octet-stream\r\n\r\n"
            )
            .as_bytes(),
        );
        body.extend_from_slice(data);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    body
}

/// A little-endian TIFF block holding one Orientation tag.
fn exif_orientation(value: u16) -> Vec<u8> {
    let mut t = b"II*\0".to_vec();
    t.extend_from_slice(&8u32.to_le_bytes()); // first IFD
    t.extend_from_slice(&1u16.to_le_bytes()); // one entry
    t.extend_from_slice(&0x0112u16.to_le_bytes()); // Orientation
    t.extend_from_slice(&3u16.to_le_bytes()); // SHORT
    t.extend_from_slice(&1u32.to_le_bytes()); // count
    t.extend_from_slice(&u32::from(value).to_le_bytes());
    t.extend_from_slice(&0u32.to_le_bytes()); // no next IFD
    t
}

/// The JPEG with an APP1 Exif segment right after SOI.
fn jpeg_with_exif(jpeg: &[u8], orientation: u16) -> Vec<u8> {
    let payload = [&b"Exif\0\0"[..], &exif_orientation(orientation)].concat();
    let len = u16::try_from(payload.len() + 2).unwrap_or(u16::MAX);
    let mut out = jpeg[..2].to_vec();
    out.extend_from_slice(&[0xFF, 0xE1]);
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(&payload);
    out.extend_from_slice(&jpeg[2..]);
    out
}

/// The PNG with an `eXIf` chunk right after IHDR (8-byte signature + 25-byte IHDR).
fn png_with_exif(png: &[u8], orientation: u16) -> Vec<u8> {
    let data = exif_orientation(orientation);
    let mut chunk = (data.len() as u32).to_be_bytes().to_vec();
    let typed = [&b"eXIf"[..], &data].concat();
    chunk.extend_from_slice(&typed);
    chunk.extend_from_slice(&crc32(&typed).to_be_bytes());
    [&png[..33], &chunk, &png[33..]].concat()
}

/// CRC-32 (IEEE), as PNG chunks carry it.
fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in bytes {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}
