//! Unit tests on synthetic frames and reports (no models, no media).

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::assess::interval_stats;
use super::client::{MAX_ENTRIES, MAX_LABEL_CHARS, MAX_NAME_CHARS};
use super::noise::MAX_BLOCKINESS;
use super::*;
use crate::{FrameRef, PixelFormat};

const W: usize = 640;
const H: usize = 480;

/// A grey image as RGB (or RGBA) bytes, the same value in every colour channel.
fn to_bytes(grey: &[f32], format: PixelFormat) -> Vec<u8> {
    let c = format.channels();
    let mut out = vec![255u8; grey.len() * c];
    for (px, g) in out.chunks_exact_mut(c).zip(grey) {
        let v = g.round().clamp(0.0, 255.0) as u8;
        px[..3].fill(v);
    }
    out
}

fn gaussian(rng: &mut ChaCha8Rng) -> f32 {
    // Box–Muller.
    let u1: f64 = rng.gen::<f64>().max(1e-12);
    let u2: f64 = rng.gen();
    ((-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()) as f32
}

fn noisy(base: impl Fn(usize, usize) -> f32, sigma: f32, seed: u64) -> Vec<f32> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    (0..W * H)
        .map(|i| base(i % W, i / W) + sigma * gaussian(&mut rng))
        .collect()
}

fn signals(grey: &[f32], format: PixelFormat) -> FrameSignals {
    let bytes = to_bytes(grey, format);
    let frame = FrameRef::new(W as u32, H as u32, format, &bytes).unwrap();
    frame_signals(&frame)
}

#[test]
fn flat_frame_with_gaussian_noise_reads_its_sigma() {
    let grey = noisy(|_, _| 128.0, 3.0, 1);
    for format in [PixelFormat::Rgb8, PixelFormat::Rgba8] {
        let noise = signals(&grey, format).noise.unwrap();
        assert!((2.4..=3.6).contains(&noise), "{format:?}: σ {noise}");
    }
}

#[test]
fn noiseless_gradient_reads_no_noise() {
    let grey: Vec<f32> = (0..W * H).map(|i| ((i % W + i / W) / 8) as f32).collect();
    let noise = signals(&grey, PixelFormat::Rgb8).noise.unwrap();
    assert!(noise < 0.3, "σ {noise}");
}

#[test]
fn clipped_and_tiny_frames_have_no_noise_figure_and_never_panic() {
    let white = vec![255.0; W * H];
    assert_eq!(signals(&white, PixelFormat::Rgb8).noise, None);
    for (w, h) in [(1, 1), (17, 17), (31, 400), (400, 31), (18, 18)] {
        let bytes = vec![7u8; w * h * 4];
        let frame = FrameRef::new(w as u32, h as u32, PixelFormat::Rgba8, &bytes).unwrap();
        let s = frame_signals(&frame);
        assert!(s.noise.is_none_or(f32::is_finite), "{w}x{h}: {s:?}");
        if w < 32 || h < 32 {
            assert_eq!(s.blockiness, None, "{w}x{h}");
        }
    }
}

#[test]
fn block_quantised_image_is_far_blockier_than_a_smooth_noisy_one() {
    let smooth = noisy(|x, y| 60.0 + x as f32 * 0.2 + y as f32 * 0.1, 2.0, 2);
    let mut blocky = smooth.clone();
    for by in 0..H / 8 {
        for bx in 0..W / 8 {
            let idx = |dx: usize, dy: usize| (by * 8 + dy) * W + bx * 8 + dx;
            let mean = (0..64).map(|i| smooth[idx(i % 8, i / 8)]).sum::<f32>() / 64.0;
            for i in 0..64 {
                blocky[idx(i % 8, i / 8)] = mean;
            }
        }
    }
    let clean = signals(&smooth, PixelFormat::Rgb8).blockiness.unwrap();
    let coded = signals(&blocky, PixelFormat::Rgb8).blockiness.unwrap();
    assert!((0.9..=1.1).contains(&clean), "clean {clean}");
    assert!(
        coded > 3.0 * clean && coded <= MAX_BLOCKINESS,
        "coded {coded}, clean {clean}"
    );
    // A perfectly flat image has no grid to show.
    let flat = signals(&vec![100.0; W * H], PixelFormat::Rgb8);
    assert_eq!(flat.blockiness, Some(1.0));
}

fn live_frames(n: usize) -> Vec<(FrameSignals, Option<f32>)> {
    let s = FrameSignals {
        noise: Some(2.5),
        blockiness: Some(1.02),
    };
    (0..n).map(|i| (s, (i > 0).then_some(0.8))).collect()
}

fn jittered(n: usize) -> Vec<f64> {
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    let mut t = 0.0;
    (0..n)
        .map(|_| {
            t += 33.3 + f64::from(gaussian(&mut rng)) * 3.0;
            t.round()
        })
        .collect()
}

#[test]
fn assess_never_panics_on_empty_or_hostile_input() {
    let t = InjectionThresholds::default();
    let r = assess(&[], &[], None, &t);
    assert_eq!(r.risk, Risk::Low);
    assert!(r.reasons.is_empty());
    assert_eq!(
        (r.median_noise, r.median_blockiness, r.timing),
        (None, None, None)
    );
    let nan = FrameSignals {
        noise: Some(f32::NAN),
        blockiness: Some(f32::INFINITY),
    };
    let frames = vec![(nan, Some(f32::NAN)); 50];
    let times = [f64::NAN, f64::INFINITY, 5.0, 5.0, -1.0];
    let r = assess(&frames, &times, Some(&ClientSignals::default()), &t);
    assert_eq!(r.risk, Risk::Low, "{r:?}");
    assert!(r.client_reported);
    let json = serde_json::to_value(&r).unwrap();
    assert!(json["median_noise"].is_null(), "{json}");
}

#[test]
fn a_noisy_jittered_moving_stream_is_low_risk_with_no_reasons() {
    let grey = noisy(|x, _| 90.0 + x as f32 * 0.05, 2.5, 4);
    let s = signals(&grey, PixelFormat::Rgb8);
    let frames: Vec<_> = (0..40).map(|i| (s, (i > 0).then_some(0.7))).collect();
    let r = assess(
        &frames,
        &jittered(80),
        None,
        &InjectionThresholds::default(),
    );
    assert_eq!(r.risk, Risk::Low);
    assert_eq!(r.reasons, vec![], "{r:?}");
    assert!(r.timing.unwrap().mad_ms >= 1.0, "{r:?}");
    assert_eq!(
        (r.frames_analysed, r.frames_compared, r.frames_repeated),
        (40, 39, 0)
    );
}

#[test]
fn frozen_frames_are_counted_and_make_the_risk_high() {
    let t = InjectionThresholds::default();
    let mut frames = live_frames(30);
    for f in frames.iter_mut().skip(1).step_by(3) {
        f.1 = Some(0.0);
    }
    frames[2].1 = Some(0.04); // re-encoded still: a few hundredths
    let r = assess(&frames, &jittered(60), None, &t);
    assert_eq!(r.frames_repeated, 11);
    assert_eq!(
        r.reasons,
        vec![InjectionReason::FrozenFrames {
            repeated: 11,
            of: 29
        }]
    );
    assert_eq!(r.risk, Risk::High);
    // Under the fraction: counted, not a reason.
    let mut few = live_frames(30);
    few[5].1 = Some(0.0);
    let r = assess(&few, &[], None, &t);
    assert_eq!((r.frames_repeated, r.risk), (1, Risk::Low));
    assert!(r.reasons.is_empty());
}

#[test]
fn regular_timestamps_are_flagged_jittered_ones_are_not() {
    let t = InjectionThresholds::default();
    let regular: Vec<f64> = (0..60)
        .map(|k| (k as f64 * 1000.0 / 15.0).round())
        .collect();
    let s = interval_stats(&regular).unwrap();
    assert_eq!((s.count, s.median_ms, s.mad_ms), (59, 67.0, 0.0));
    let r = assess(&live_frames(20), &regular, None, &t);
    assert_eq!(
        r.reasons,
        vec![InjectionReason::RegularTiming {
            mad_ms: 0.0,
            source: Source::Server
        }]
    );
    // Weak on its own: honest constant-rate files look the same.
    assert_eq!(r.risk, Risk::Low);
    let r = assess(&live_frames(20), &jittered(60), None, &t);
    assert!(r.reasons.is_empty(), "{r:?}");
    // Too few intervals to judge.
    assert!(assess(&[], &regular[..5], None, &t).reasons.is_empty());
}

#[test]
fn virtual_camera_labels() {
    assert_eq!(
        virtual_camera("OBS Virtual Camera"),
        Some("OBS Virtual Camera")
    );
    assert_eq!(
        virtual_camera("fake_device_0"),
        Some("Chromium fake capture device")
    );
    assert_eq!(
        virtual_camera("/tmp/liveproof-clips/blink.y4m"),
        Some("Chromium fake capture device (file)")
    );
    assert_eq!(virtual_camera("MANYCAM Virtual Webcam"), Some("ManyCam"));
    assert_eq!(
        virtual_camera("Dummy video device (0x0000)"),
        Some("v4l2loopback")
    );
    assert_eq!(
        known_camera("DroidCam Source 3").map(|k| k.kind),
        Some(CameraKind::PhoneRelay)
    );
    for honest in [
        "FaceTime HD Camera",
        "Integrated Webcam",
        "HD Pro Webcam C920 (046d:082d)",
        "Integrated Camera (04f2:b6dd)",
        "",
    ] {
        assert_eq!(virtual_camera(honest), None, "{honest}");
    }
}

#[test]
fn client_signals_validation_rejects_oversized_and_non_finite_input() {
    assert_eq!(ClientSignals::default().validate(), Ok(()));
    let ok = ClientSignals {
        wrapped: vec!["getUserMedia".into()],
        device_label: Some("Integrated Webcam".into()),
        settings_inconsistent: vec!["frameRate".into()],
        frame_intervals: Some(IntervalStats {
            count: 90,
            median_ms: 33.3,
            mad_ms: 2.1,
        }),
    };
    assert_eq!(ok.validate(), Ok(()));
    let bad = |f: fn(&mut ClientSignals)| {
        let mut c = ok.clone();
        f(&mut c);
        c.validate().unwrap_err()
    };
    bad(|c| c.wrapped = vec!["x".into(); MAX_ENTRIES + 1]);
    bad(|c| c.settings_inconsistent = vec!["y".repeat(MAX_NAME_CHARS + 1)]);
    bad(|c| c.wrapped = vec![String::new()]);
    bad(|c| c.wrapped = vec!["a\nb".into()]);
    bad(|c| c.device_label = Some("é".repeat(MAX_LABEL_CHARS + 1)));
    bad(|c| c.device_label = Some("x".repeat(1 << 20)));
    for v in [f64::NAN, f64::INFINITY, -1.0] {
        let mut c = ok.clone();
        c.frame_intervals.as_mut().unwrap().mad_ms = v;
        assert!(c.validate().is_err(), "{v}");
        let mut c = ok.clone();
        c.frame_intervals.as_mut().unwrap().median_ms = v;
        assert!(c.validate().is_err(), "{v}");
    }
    // A client sends JSON: unknown fields are refused, missing ones default.
    assert!(serde_json::from_str::<ClientSignals>(r#"{"trusted": true}"#).is_err());
    assert!(serde_json::from_str::<ClientSignals>(
        r#"{"frame_intervals": {"count": 1, "median_ms": 1, "mad_ms": 0, "x": 1}}"#
    )
    .is_err());
    let c: ClientSignals = serde_json::from_str(r#"{"wrapped": ["getUserMedia"]}"#).unwrap();
    assert_eq!(c.wrapped, ["getUserMedia"]);
}

#[test]
fn client_signals_raise_the_risk_by_their_strength() {
    let t = InjectionThresholds::default();
    let frames = live_frames(30);
    let times = jittered(60);
    let risk = |c: &ClientSignals| assess(&frames, &times, Some(c), &t);
    let virt = ClientSignals {
        device_label: Some("OBS Virtual Camera".into()),
        ..Default::default()
    };
    let r = risk(&virt);
    assert_eq!(r.risk, Risk::Medium);
    assert_eq!(
        r.reasons,
        vec![InjectionReason::VirtualCamera {
            label: "OBS Virtual Camera".into(),
            product: "OBS Virtual Camera".into()
        }]
    );
    let wrapped = ClientSignals {
        wrapped: vec!["getUserMedia".into(), "getUserMedia".into()],
        ..Default::default()
    };
    let r = risk(&wrapped);
    assert_eq!(r.risk, Risk::Medium);
    assert_eq!(
        r.reasons,
        vec![InjectionReason::ApiWrapped {
            apis: vec!["getUserMedia".into()]
        }]
    );
    let both = ClientSignals {
        wrapped: wrapped.wrapped.clone(),
        ..virt.clone()
    };
    assert_eq!(risk(&both).risk, Risk::High);
    // Settings the device says it cannot produce: stronger than a name, weaker than frozen
    // frames; with a virtual camera's name, High.
    let settings = ClientSignals {
        settings_inconsistent: vec!["frameRate".into()],
        ..Default::default()
    };
    assert_eq!(risk(&settings).risk, Risk::Medium);
    let renamed_and_named = ClientSignals {
        settings_inconsistent: settings.settings_inconsistent.clone(),
        ..virt.clone()
    };
    assert_eq!(risk(&renamed_and_named).risk, Risk::High);
    let relay = ClientSignals {
        device_label: Some("Iriun Webcam".into()),
        ..Default::default()
    };
    assert_eq!(risk(&relay).risk, Risk::Low);
    assert_eq!(risk(&relay).reasons.len(), 1);
    // Client timing and the recording's count once.
    let regular = ClientSignals {
        frame_intervals: Some(IntervalStats {
            count: 100,
            median_ms: 33.3,
            mad_ms: 0.0,
        }),
        ..Default::default()
    };
    let even: Vec<f64> = (0..60).map(|k| k as f64 * 40.0).collect();
    let r = assess(&frames, &even, Some(&regular), &t);
    assert_eq!((r.reasons.len(), r.risk), (2, Risk::Low), "{r:?}");
    // A hostile report is bounded, not trusted to be valid.
    let hostile = ClientSignals {
        wrapped: vec!["x".repeat(10_000); 1000],
        frame_intervals: Some(IntervalStats {
            count: u32::MAX,
            median_ms: f64::NAN,
            mad_ms: f64::NAN,
        }),
        ..Default::default()
    };
    let r = risk(&hostile);
    assert_eq!(
        r.reasons,
        vec![InjectionReason::ApiWrapped {
            apis: vec!["x".repeat(MAX_NAME_CHARS)]
        }]
    );
    // A clean client report never lowers what the server measured.
    let mut frozen = live_frames(30);
    frozen.iter_mut().skip(1).for_each(|f| f.1 = Some(0.0));
    let r = assess(&frozen, &times, Some(&ClientSignals::default()), &t);
    assert_eq!(r.risk, Risk::High);
}

#[test]
fn thresholds_validate_and_refuse_unknown_fields() {
    assert_eq!(InjectionThresholds::default().validate(), Ok(()));
    let bad = InjectionThresholds {
        max_blockiness: f32::NAN,
        ..Default::default()
    };
    assert!(bad.validate().is_err());
    let bad = InjectionThresholds {
        max_frozen_fraction: 1.5,
        ..Default::default()
    };
    assert!(bad.validate().is_err());
    assert!(serde_json::from_str::<InjectionThresholds>(r#"{"min_nois": 1}"#).is_err());
    let t: InjectionThresholds = serde_json::from_str(r#"{"min_noise": 0.5}"#).unwrap();
    assert_eq!(t.min_noise, 0.5);
    assert_eq!(
        t.frozen_change,
        InjectionThresholds::default().frozen_change
    );
}

#[test]
fn reasons_serialise_with_their_signal_and_source() {
    let r = InjectionReason::RegularTiming {
        mad_ms: 0.0,
        source: Source::Client,
    };
    let json = serde_json::to_value(&r).unwrap();
    assert_eq!(json["signal"], "regular_timing");
    assert_eq!(json["source"], "client");
    assert_eq!(r.source(), Source::Client);
    assert_eq!(
        serde_json::to_value(Risk::Medium).unwrap(),
        serde_json::json!("medium")
    );
}
