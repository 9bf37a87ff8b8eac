//! Stills: guidance codes on real photos made hard (several faces, none, tiny, dark, blurred),
//! face match, the check documents, and the labelled-set evaluation baseline.

use image::imageops;
use liveproof::check::{check_image, check_media, CheckParams, MediaLimits};
use liveproof::eval::dataset::{self, MediaKind};
use liveproof::eval::metrics::Bootstrap;
use liveproof::eval::{self, measure, Config, EvalOptions, PartFilter};
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

/// What cannot be judged is refused with its guidance code instead of a live/fake guess: a crop
/// that is all face (live and attack alike), a face too small, too dark, too blurred.
#[test]
fn faces_that_cannot_be_judged_are_refused_with_their_code() {
    let refused = |frame: &Frame| match check_image(engine(), &frame.as_ref()) {
        Err(liveproof::Error::PoorQuality { input, reason }) => {
            assert_eq!(input, "image");
            Some(reason)
        }
        Err(e) => panic!("{e}"),
        Ok(_) => None,
    };
    // Tight crops: a live face the models call fake (0.007) and a printed one.
    for file in ["live/krz_real_crop_35.png", "spoof/nuaa_imposter_0001.jpg"] {
        assert_eq!(refused(&image(file)), Some(Guidance::TooClose), "{file}");
    }
    let portrait = rgb(&image("live/fr_obama.jpg"));
    assert_eq!(refused(&Frame::from(portrait.clone())), None);
    // A 30 px face in a 640×480 frame.
    let small = imageops::resize(&portrait, 100, 125, imageops::FilterType::Triangle);
    let mut canvas = image::RgbImage::from_pixel(640, 480, image::Rgb([128, 128, 128]));
    imageops::overlay(&mut canvas, &small, 270, 170);
    let rec = analyze(&Frame::from(canvas.clone()));
    let face = rec.face.as_ref().expect("the small face is still found");
    assert!(
        face.detection.bbox.width() < 40.0,
        "{:?}",
        face.detection.bbox
    );
    assert_eq!(refused(&Frame::from(canvas)), Some(Guidance::TooFar));
    let mut dark = portrait.clone();
    dark.pixels_mut()
        .for_each(|p| p.0 = p.0.map(|v| (v as f32 * 0.12) as u8));
    assert_eq!(refused(&Frame::from(dark)), Some(Guidance::TooDark));
    let blurred = imageops::blur(&portrait, 8.0);
    assert_eq!(refused(&Frame::from(blurred)), Some(Guidance::Blurry));
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

/// The labelled stills of ../shared/media (`live/`, `match/` and `spoof/` by their catalogue
/// labels; the uncertain labels and the synthetic face are skipped), evaluated as
/// `liveproof eval` does (README "Accuracy"): the product's rule on the held-apart part must not
/// fall below the documented floor, and the comparison with the rule before quality refusals
/// stays pinned, so a change to either shows up here and in the README together.
#[test]
fn labelled_stills_meet_the_documented_floor() {
    let include = ["live/", "match/", "spoof/"].map(String::from);
    let (samples, skipped) =
        dataset::from_labels(&media(""), &media("catalog.csv"), &include).unwrap();
    assert_eq!(skipped.len(), 7, "{skipped:?}");
    let measured: Vec<_> = samples
        .iter()
        .map(|s| measure::measure(engine(), s).unwrap())
        .collect();
    assert!(measured.iter().all(|m| m.error.is_none()));
    let options = EvalOptions {
        fixed_threshold: true,
        bootstrap: Bootstrap {
            reps: 200,
            ..Bootstrap::default()
        },
        ..EvalOptions::default()
    };
    let held_apart = eval::report(measured.clone(), Vec::new(), &options).unwrap();
    let stills = held_apart.kind(MediaKind::Image).unwrap();
    let rule = |c: Config| {
        &stills
            .configs
            .iter()
            .find(|r| r.config == c)
            .unwrap()
            .metrics
    };
    let (before, product) = (rule(Config::Before), rule(Config::Refusals));
    eprintln!("held apart, before: {before:?}\nproduct: {product:?}");
    assert_eq!(product.bona_fide, HELD_APART_BONA_FIDE);
    for (m, floor) in [(before, &FLOOR_BEFORE), (product, &FLOOR_PRODUCT)] {
        assert!(
            m.apcer_max.value <= floor.apcer_max,
            "APCER {:?}",
            m.apcer_max
        );
        assert!(m.bpcer.value <= floor.bpcer, "BPCER {:?}", m.bpcer);
        assert!(m.bpnrr.value <= floor.bpnrr, "BPNRR {:?}", m.bpnrr);
    }
    // Refusals trade guesses for non-responses: they must not accept an attack more.
    assert!(product.apcer_max.value <= before.apcer_max.value);
    for (species, i) in &product.apcer {
        assert!(i.value <= before.apcer[species].value, "{species}");
    }

    // All parts: the two paper masks pass the MiniFASNet mean with and without refusals (no
    // mask-trained model here, README "Known limitations"); pinned so a model that catches one
    // updates the README.
    let all = eval::report(
        measured,
        Vec::new(),
        &EvalOptions {
            part: PartFilter::All,
            ..options
        },
    )
    .unwrap();
    let stills = all.kind(MediaKind::Image).unwrap();
    for r in stills.configs.iter().filter(|r| r.config != Config::Fused) {
        assert_eq!(r.metrics.apcer["mask"].value, 1.0, "{:?}", r.config);
    }
}

struct Floor {
    apcer_max: f64,
    bpcer: f64,
    bpnrr: f64,
}

const HELD_APART_BONA_FIDE: usize = 63;
const FLOOR_BEFORE: Floor = Floor {
    apcer_max: 0.20,
    bpcer: 0.127,
    bpnrr: 0.0,
};
const FLOOR_PRODUCT: Floor = Floor {
    apcer_max: 0.20,
    bpcer: 0.088,
    bpnrr: 0.096,
};
