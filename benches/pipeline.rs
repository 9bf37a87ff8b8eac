//! Criterion benchmarks: every model alone on the committed reference inputs (ids match
//! benches/ort_bench.py, so benches/compare.py can print tract/onnxruntime ratios), each
//! pipeline stage, and the whole frame at 640×480.
//!
//! Run: `cargo bench --bench pipeline` (then `python3 benches/compare.py`).

use std::path::PathBuf;

use criterion::{criterion_group, criterion_main, Criterion};
use image::imageops;
use liveproof::antispoof::MiniFasNet;
use liveproof::detect::{DetectorConfig, FaceDetector};
use liveproof::imgproc::{sample_tensor, Affine, Border, Normalize, Sampling};
use liveproof::landmarks::{FaceMesh, MeshRoi};
use liveproof::models::{run, Manifest, ModelRole, ModelSource, OnnxGraph};
use liveproof::{decode_image, Engine, EngineConfig, Frame, ImageLimits, Stages};
use ndarray_npy::ReadNpyExt;
use tract_onnx::prelude::*;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn model_path(file: &str) -> PathBuf {
    let dir = match ModelSource::from_env() {
        ModelSource::Dir(d) => d,
        ModelSource::Memory(_) => unreachable!(),
    };
    let p = dir.join(file);
    if p.exists() {
        p
    } else {
        repo().join("../shared/models").join(file)
    }
}

/// A real 640×480 webcam frame: the zub selfie frame centre-cropped to 4:3 and resized.
fn frame_640x480() -> Frame {
    let bytes =
        std::fs::read(repo().join("../shared/media/live/frame_zub_real_smile_wave_t1.0.jpg"))
            .expect("media");
    let f = decode_image(&bytes, &ImageLimits::default()).expect("decodes");
    let img = image::RgbImage::from_raw(f.width(), f.height(), f.into_rgb()).expect("rgb");
    let w = img.height() * 4 / 3;
    let crop = imageops::crop_imm(&img, (img.width() - w) / 2, 0, w, img.height()).to_image();
    Frame::from(imageops::resize(
        &crop,
        640,
        480,
        imageops::FilterType::Triangle,
    ))
}

#[derive(serde::Deserialize)]
struct Case {
    model: String,
    file: String,
    input: Io,
    outputs: Vec<Io>,
}

#[derive(serde::Deserialize)]
struct Io {
    name: String,
    shape: Vec<usize>,
    npy: String,
}

/// Each model alone on its first reference input (the onnxruntime peer runs the same tensors).
fn models(c: &mut Criterion) {
    let dir = repo().join("tests/fixtures/reference");
    let cases: Vec<Case> =
        serde_json::from_str(&std::fs::read_to_string(dir.join("index.json")).expect("index"))
            .expect("json");
    let mut seen = std::collections::HashSet::new();
    let mut group = c.benchmark_group("model");
    for case in cases.into_iter().filter(|c| seen.insert(c.model.clone())) {
        let bytes = std::fs::read(model_path(&case.file)).expect("model file");
        let names: Vec<&str> = case.outputs.iter().map(|o| o.name.as_str()).collect();
        let plan = OnnxGraph::parse("bench", &bytes)
            .expect("parse")
            .plan(&case.input.shape, &names)
            .expect("plan");
        let input = tract_ndarray::ArrayD::<f32>::read_npy(
            std::fs::File::open(dir.join(&case.input.npy)).expect("npy"),
        )
        .expect("npy");
        let input = input.into_tensor();
        group.bench_function(&case.model, |b| {
            b.iter(|| run("bench", &plan, input.clone()).expect("run"))
        });
    }
    group.finish();
}

/// Each stage of the pipeline and the whole frame on a 640×480 frame.
fn stages(c: &mut Criterion) {
    let frame = frame_640x480();
    let frame = frame.as_ref();
    let source = ModelSource::from_env();
    let manifest = Manifest::builtin().expect("manifest");
    let bytes = |role| {
        source
            .bytes(manifest.entry(role).expect("entry"))
            .expect("model bytes")
    };
    let detector = FaceDetector::new(&bytes(ModelRole::Detector), DetectorConfig::default())
        .expect("detector");
    let mesh = FaceMesh::new(&bytes(ModelRole::Landmarks)).expect("mesh");
    let pad = MiniFasNet::new(&bytes(ModelRole::PadV2), &bytes(ModelRole::PadV1se)).expect("pad");
    let face = detector
        .detect(&frame)
        .expect("detect")
        .into_iter()
        .next()
        .expect("a face");
    let roi = MeshRoi::from_detection(&face.bbox, face.keypoints[0], face.keypoints[1]);
    let engine = Engine::load(&source, EngineConfig::default()).expect("engine");

    let mut group = c.benchmark_group("stage_640x480");
    group.bench_function("detect", |b| {
        b.iter(|| detector.detect(&frame).expect("detect"))
    });
    group.bench_function("landmarks", |b| {
        b.iter(|| mesh.landmarks(&frame, &roi).expect("mesh"))
    });
    group.bench_function("antispoof_pair", |b| {
        b.iter(|| pad.score(&frame, &face.bbox).expect("pad"))
    });
    group.bench_function("embedding", |b| {
        b.iter(|| engine.embed(&frame, &face).expect("embed"))
    });
    group.bench_function("preprocess_mesh_crop", |b| {
        b.iter(|| FaceMesh::input(&frame, &roi))
    });
    let (h, w, scale) = detector.input_geometry(frame.width(), frame.height());
    let letterbox = Sampling {
        width: w,
        height: h,
        normalize: Normalize::Bgr255,
        border: Border::Zero,
        antialias: true,
    };
    group.bench_function("preprocess_detect_letterbox", |b| {
        b.iter(|| sample_tensor(&frame, &Affine::scale(scale), &letterbox))
    });
    group.finish();

    let mut group = c.benchmark_group("frame_640x480");
    group.bench_function("geometry", |b| {
        b.iter(|| {
            engine
                .analyze(&frame, 0.0, Stages::GEOMETRY)
                .expect("analyze")
        })
    });
    group.bench_function("pad", |b| {
        b.iter(|| engine.analyze(&frame, 0.0, Stages::PAD).expect("analyze"))
    });
    group.bench_function("all", |b| {
        b.iter(|| engine.analyze(&frame, 0.0, Stages::ALL).expect("analyze"))
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(30).measurement_time(std::time::Duration::from_secs(4));
    targets = models, stages
}
criterion_main!(benches);
