//! The `liveproof` binary end to end: documents on stdout, typed exit codes, batch archives.

use std::io::{Read, Write};
use std::process::Command;

use super::common::media;

fn liveproof(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_liveproof"))
        .args(args)
        .output()
        .expect("runs")
}

fn path(rel: &str) -> String {
    media(rel).to_string_lossy().into_owned()
}

#[test]
fn check_prints_the_v2_document() {
    let out = liveproof(&["check", "--image", &path("live/fr_obama.jpg")]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["image"]["result"], "real");
    assert_eq!(v["overall_result"], "real");
}

#[test]
fn check_v1_and_bad_input_exit_codes() {
    let out = liveproof(&[
        "check",
        "--image",
        &path("live/fr_obama.jpg"),
        "--format",
        "v1",
    ]);
    assert!(out.status.success());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["image_input"], true);
    // Not an image: the input is refused with exit code 1 and a message, no panic.
    let out = liveproof(&["check", "--image", &path("catalog.csv")]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("image could not be decoded"));
    // Nothing to check.
    let out = liveproof(&["check"]);
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn missing_models_are_named_with_the_fix() {
    let dir = tempfile::tempdir().unwrap();
    let out = liveproof(&[
        "--models",
        dir.path().to_str().unwrap(),
        "check",
        "--image",
        &path("live/fr_obama.jpg"),
    ]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("detector_yunet_dynamic.onnx") && err.contains("setup-models.sh"),
        "{err}"
    );
}

#[test]
fn models_command_verifies_every_file() {
    let out = liveproof(&["models"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter(|l| l.starts_with("ok"))
            .count(),
        8
    );
}

#[test]
fn video_prints_the_event_stream() {
    let out = liveproof(&[
        "video",
        &path("video_live/moun_blink_drowsy.mp4"),
        "--challenges",
        "BLINK",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let events: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(
        events[0],
        serde_json::json!({"type": "phase", "value": "passive"})
    );
    assert!(events.contains(&serde_json::json!({"type": "challenge_start", "action": "BLINK"})));
    let last = events.last().unwrap();
    assert_eq!(last["type"], "final_result");
    assert_eq!(last["label"], "REAL");
    assert_eq!(last["passed"], serde_json::json!(["BLINK"]));
    // Unknown challenge names are refused.
    let out = liveproof(&[
        "video",
        &path("video_live/moun_blink_drowsy.mp4"),
        "--challenges",
        "WINK",
    ]);
    assert!(!out.status.success());
}

#[test]
fn batch_writes_a_result_per_case_and_a_summary() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("cases.zip");
    {
        let mut zip = zip::ZipWriter::new(std::fs::File::create(&input).unwrap());
        let opts = zip::write::SimpleFileOptions::default();
        for (name, file) in [
            ("alice.jpg", "live/frame_zub_real_smile_wave_t1.0.jpg"),
            ("alice.webm", "video_live/zub_real_smile_wave.webm"),
            ("bob/image.jpg", "live/fr_obama.jpg"),
            ("spoof.jpg", "spoof/sfas_image_F2_screen.jpg"),
        ] {
            zip.start_file(name, opts).unwrap();
            zip.write_all(&std::fs::read(media(file)).unwrap()).unwrap();
        }
        zip.start_file("broken.jpg", opts).unwrap();
        zip.write_all(b"not a jpeg").unwrap();
        zip.start_file("README.txt", opts).unwrap();
        zip.write_all(b"ignored").unwrap();
        zip.finish().unwrap();
    }
    let output = dir.path().join("results.zip");
    let out = liveproof(&[
        "batch",
        input.to_str().unwrap(),
        "-o",
        output.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut archive = zip::ZipArchive::new(std::fs::File::open(&output).unwrap()).unwrap();
    let mut read = |name: &str| {
        let mut s = String::new();
        archive
            .by_name(name)
            .unwrap_or_else(|e| panic!("{name}: {e}"))
            .read_to_string(&mut s)
            .unwrap();
        s
    };
    let alice: serde_json::Value = serde_json::from_str(&read("results/alice.json")).unwrap();
    assert_eq!(alice["image_video_facematch"]["performed"], "True");
    let bob: serde_json::Value = serde_json::from_str(&read("results/bob.json")).unwrap();
    assert_eq!(bob["image"]["result"], "real");
    let spoof: serde_json::Value = serde_json::from_str(&read("results/spoof.json")).unwrap();
    assert_eq!(spoof["image"]["result"], "fake");
    assert_eq!(spoof["image"]["confidence"], 0.0);
    let broken: serde_json::Value = serde_json::from_str(&read("results/broken.json")).unwrap();
    assert_eq!(broken["error"]["code"], "image_decode");
    let summary = read("summary.csv");
    assert_eq!(summary.lines().count(), 5, "{summary}");
    assert!(summary.starts_with("case,image,video,overall_result,overall_confidence,error\n"));
    assert!(summary.contains("spoof,spoof.jpg,,fake,0"));
}

#[test]
fn eval_writes_the_standard_figures_and_a_det_plot() {
    let dir = tempfile::tempdir().unwrap();
    for (class, files) in [
        (
            "live",
            &[
                "live/fr_obama.jpg",
                "live/fr_biden.jpg",
                "live/krz_real_crop_35.png",
            ][..],
        ),
        ("replay", &["spoof/sfas_image_F2_screen.jpg"][..]),
        ("print", &["spoof/sfas_image_F1_print.jpg"][..]),
    ] {
        std::fs::create_dir_all(dir.path().join(class)).unwrap();
        for f in files {
            std::os::unix::fs::symlink(
                media(f),
                dir.path().join(class).join(f.rsplit('/').next().unwrap()),
            )
            .unwrap();
        }
    }
    // Hostile files: bytes that are no image, and an empty "video". Each is recorded as
    // unreadable and counted in no figure; the evaluation goes on.
    std::fs::write(dir.path().join("print/broken.jpg"), b"not a jpeg").unwrap();
    std::fs::write(dir.path().join("replay/empty.mp4"), b"").unwrap();
    let (json, svg) = (dir.path().join("r.json"), dir.path().join("det.svg"));
    let out = liveproof(&[
        "eval",
        dir.path().to_str().unwrap(),
        "--part",
        "all",
        "--fixed-threshold",
        "--compare",
        "before",
        "--bootstrap",
        "100",
        "--json",
        json.to_str().unwrap(),
        "--det",
        svg.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    for figure in [
        "APCER replay",
        "APCER max",
        "BPCER20",
        "BPCER100",
        "EER",
        "BPNRR",
        "APNRR",
    ] {
        assert!(text.contains(figure), "{figure} missing from:\n{text}");
    }
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    let stills = &v["kinds"][0];
    assert_eq!(stills["kind"], "image");
    let rule = |name: &str| {
        stills["configs"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["config"] == name)
            .unwrap()["metrics"]
            .clone()
    };
    // The crop is a guess (rejected) before refusals, a non-response after.
    let (before, product) = (rule("before"), rule("refusals"));
    assert_eq!(before["bona_fide"], 3);
    assert!((before["bpcer"]["value"].as_f64().unwrap() - 1.0 / 3.0).abs() < 1e-9);
    assert_eq!(product["bpcer"]["value"], 0.0);
    assert!((product["bpnrr"]["value"].as_f64().unwrap() - 1.0 / 3.0).abs() < 1e-9);
    assert_eq!(product["apcer"]["replay"]["value"], 0.0);
    assert_eq!(product["apcer"]["print"]["value"], 0.0);
    let interval = &product["bpnrr"];
    assert!(interval["low"].as_f64().unwrap() <= interval["high"].as_f64().unwrap());
    assert_eq!(
        product["attacks"],
        serde_json::json!({"print": 1, "replay": 1})
    );
    let unreadable: Vec<&str> = v["samples"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["error"].is_string())
        .map(|s| s["path"].as_str().unwrap())
        .collect();
    assert_eq!(unreadable.len(), 2, "{unreadable:?}");
    assert!(text.contains("2 unreadable files"), "{text}");
    let plot = std::fs::read_to_string(&svg).unwrap();
    assert!(plot.starts_with("<svg") && plot.contains("before") && plot.contains("refusals"));
    let out = liveproof(&["eval", dir.path().join("replay").to_str().unwrap()]);
    assert!(!out.status.success(), "a folder without live/ is refused");
}
