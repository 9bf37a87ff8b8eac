//! Stills: guidance codes on real photos made hard (several faces, none, tiny, dark, blurred),
//! face match, the check documents, and the labelled-set evaluation baseline.

use image::imageops;
use liveproof::check::{check_media, CheckParams, MediaLimits};
use liveproof::eval::evaluate;
use liveproof::quality::Guidance;
use liveproof::report::ApiVersion;
use liveproof::{Frame, FrameRecord, Stages};

use super::common::{engine, image, media};

fn analyze(frame: &Frame) -> FrameRecord {
    engine().analyze(&frame.as_ref(), 0.0, Stages::PAD).unwrap()
}

fn rgb(frame: &Frame) -> image::RgbImage {
    image::RgbImage::from_raw(
        frame.width(),
        frame.height(),
        frame.as_ref().data().to_vec(),
    )
    .unwrap()
}

#[test]
fn a_clear_portrait_needs_no_guidance() {
    let rec = analyze(&image("live/fr_obama.jpg"));
    assert_eq!(rec.faces.len(), 1);
    assert!(rec.guidance.is_empty(), "{:?}", rec.guidance);
    assert!(rec.is_usable());
}

#[test]
fn several_faces_are_flagged() {
    for file in ["live/fr_kit_with_rose.jpg", "live/ins_t1_group.jpg"] {
        let rec = analyze(&image(file));
        assert!(rec.faces.len() >= 2, "{file}: {} faces", rec.faces.len());
        assert!(
            rec.guidance.contains(&Guidance::MultipleFaces),
            "{file}: {:?}",
            rec.guidance
        );
        assert!(!rec.is_usable());
        // The main face is the largest.
        let main = rec.face.as_ref().unwrap().detection.bbox.area();
        assert!(rec.faces.iter().all(|f| f.bbox.area() <= main));
    }
}

#[test]
fn a_photo_without_a_face_says_so() {
    // The astronaut photo's lower right: suit, flag, no face.
    let img = rgb(&image("live/sk_astronaut.png"));
    let crop = imageops::crop_imm(&img, 300, 300, 212, 212).to_image();
    let rec = analyze(&Frame::from(crop));
    assert!(rec.faces.is_empty(), "{:?}", rec.faces);
    assert_eq!(rec.guidance, vec![Guidance::NoFace]);
}

#[test]
fn a_tiny_face_is_too_far() {
    let portrait = rgb(&image("live/fr_obama.jpg"));
    let small = imageops::resize(&portrait, 220, 275, imageops::FilterType::Triangle);
    let mut canvas = image::RgbImage::from_pixel(1280, 960, image::Rgb([128, 128, 128]));
    imageops::overlay(&mut canvas, &small, 530, 340);
    let rec = analyze(&Frame::from(canvas));
    assert_eq!(rec.faces.len(), 1, "the small face is still found");
    assert!(
        rec.guidance.contains(&Guidance::TooFar),
        "{:?}",
        rec.guidance
    );
}

#[test]
fn a_dark_photo_is_too_dark() {
    let mut img = rgb(&image("live/fr_obama.jpg"));
    img.pixels_mut()
        .for_each(|p| p.0 = p.0.map(|v| (v as f32 * 0.12) as u8));
    let rec = analyze(&Frame::from(img));
    assert!(
        rec.guidance.contains(&Guidance::TooDark),
        "{:?} {:?}",
        rec.guidance,
        rec.face.map(|f| f.quality)
    );
}

#[test]
fn a_blurred_photo_is_blurry() {
    let sharp = analyze(&image("live/fr_obama.jpg"));
    let img = imageops::blur(&rgb(&image("live/fr_obama.jpg")), 8.0);
    let rec = analyze(&Frame::from(img));
    assert!(
        rec.guidance.contains(&Guidance::Blurry),
        "{:?} {:?}",
        rec.guidance,
        rec.face.map(|f| f.quality)
    );
    assert!(!sharp.guidance.contains(&Guidance::Blurry));
}

#[test]
fn face_match_accepts_the_same_person_and_rejects_another() {
    let embed = |file: &str| {
        let frame = image(file);
        let rec = engine()
            .analyze(
                &frame.as_ref(),
                0.0,
                Stages {
                    embedding: true,
                    ..Stages::PAD
                },
            )
            .unwrap();
        rec.face.unwrap().embedding.unwrap()
    };
    let obama = embed("match/fr_obama/obama.jpg");
    let obama2 = embed("match/fr_obama/obama2.jpg");
    let biden = embed("match/fr_biden/biden.jpg");
    let same = liveproof::embed::cosine(&obama, &obama2);
    let other = liveproof::embed::cosine(&obama, &biden);
    assert!(same > 0.6, "obama/obama2 cosine {same}");
    assert!(other < 0.3, "obama/biden cosine {other}");
}

#[test]
fn image_only_check_renders_v1_and_v2() {
    let bytes = std::fs::read(media("live/fr_obama.jpg")).unwrap();
    let outcome = check_media(
        engine(),
        Some(&bytes),
        None,
        &CheckParams::default(),
        &MediaLimits::default(),
    )
    .unwrap();
    let v2 = ApiVersion::V2.render(&outcome);
    assert_eq!(v2["image"]["input_provided"], "True");
    // A bona fide photo (Obama's official portrait): both anti-spoofing models score it live.
    assert_eq!(v2["image"]["result"], "real", "{v2}");
    assert_eq!(v2["video"]["input_provided"], "False");
    assert_eq!(v2["image_video_facematch"]["performed"], "False");
    assert_eq!(v2["overall_result"], v2["image"]["result"]);
    let v1 = ApiVersion::V1.render(&outcome);
    assert_eq!(v1["image_input"], true);
    assert_eq!(v1["video_input"], false);
    assert!(v1["blink_detection"].is_null());
}

#[test]
fn a_still_without_a_face_is_refused() {
    let img =
        imageops::crop_imm(&rgb(&image("live/sk_astronaut.png")), 300, 300, 212, 212).to_image();
    let mut png = std::io::Cursor::new(Vec::new());
    image::DynamicImage::ImageRgb8(img)
        .write_to(&mut png, image::ImageFormat::Png)
        .unwrap();
    let err = check_media(
        engine(),
        Some(png.get_ref()),
        None,
        &CheckParams::default(),
        &MediaLimits::default(),
    )
    .unwrap_err();
    assert!(matches!(err, liveproof::Error::NoFace("image")), "{err}");
}

/// The labelled stills of ../shared/media (live/ and spoof/, labels from catalog.csv; the
/// uncertain-label folder and the synthetic GAN face are left out) must not fall below the
/// baseline documented in README.md ("Accuracy").
#[test]
fn labelled_stills_meet_the_documented_baseline() {
    let dir = tempfile::tempdir().unwrap();
    let catalog = std::fs::read_to_string(media("catalog.csv")).unwrap();
    let mut header = None;
    for line in catalog.lines() {
        let cols = split_csv(line);
        let Some(h) = &header else {
            header = Some(cols);
            continue;
        };
        let get = |name: &str| {
            h.iter()
                .position(|c| c == name)
                .map(|i| cols.get(i).cloned().unwrap_or_default())
                .unwrap_or_default()
        };
        let (path, label) = (get("path"), get("label"));
        let class = if path.starts_with("live/") {
            "live".to_owned()
        } else if path.starts_with("spoof/") && !path.starts_with("spoof/uncertain_label/") {
            match label.as_str() {
                l if l.contains("print") || l.contains("cut-out") => "print".to_owned(),
                l if l.contains("replay") => "replay".to_owned(),
                l if l.contains("mask") => "mask".to_owned(),
                _ => continue, // digital / synthetic: not a physical attack
            }
        } else {
            continue;
        };
        let target = dir.path().join(&class);
        std::fs::create_dir_all(&target).unwrap();
        let src = media(&path);
        std::os::unix::fs::symlink(&src, target.join(src.file_name().unwrap())).unwrap();
    }
    let report = evaluate(engine(), dir.path(), engine().config().pad_threshold).unwrap();
    eprintln!(
        "eval: BPCER {:.3} ({} live), APCER {:?}, counts {:?}",
        report.bpcer, report.bona_fide.samples, report.apcer, report.attacks
    );
    // Baseline documented in README.md (measured at the default threshold 0.5).
    assert!(
        report.bona_fide.samples >= 45,
        "{}",
        report.bona_fide.samples
    );
    assert!(
        report.bpcer <= BASELINE_BPCER,
        "BPCER {:.3} above the documented {BASELINE_BPCER}",
        report.bpcer
    );
    for (attack, max) in BASELINE_APCER {
        let got = report.apcer[*attack];
        assert!(
            got <= *max,
            "APCER {attack} {got:.3} above the documented {max}"
        );
    }
    // Pinned, not bounded (a bound of 1.0 would accept anything): the two paper masks both
    // pass today, because neither MiniFASNet was trained on masks (README, known
    // limitations). A model that catches one changes this value, and the README with it.
    assert_eq!(
        report.apcer["mask"], MASK_APCER_TODAY,
        "mask APCER changed: update README's accuracy table"
    );
}

const MASK_APCER_TODAY: f64 = 1.0;

const BASELINE_BPCER: f64 = 0.154;
const BASELINE_APCER: &[(&str, f64)] = &[("print", 0.167), ("replay", 0.0)];

fn split_csv(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                cur.push('"');
                chars.next();
            }
            ('"', _) => quoted = !quoted,
            (',', false) => out.push(std::mem::take(&mut cur)),
            _ => cur.push(c),
        }
    }
    out.push(cur);
    out
}
