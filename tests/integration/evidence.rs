//! Evidence bundles from a real clip: the client side records, signs and hands over a bundle;
//! the verifier checks signature and digests, and its own re-run of the pipeline on the JPEG
//! frames agrees with the client's per-frame scores.

use liveproof::challenge::{ChallengeAction, ChallengeConfig, ChallengeSession};
use liveproof::clip::run_clip;
use liveproof::evidence::{
    check_items, verify_bundle, Alg, EvidenceConfig, EvidenceError, ItemKind, SignKey, VerifyKey,
};
use liveproof::video::{VideoLimits, VideoReader};
use liveproof::{decode_image, FrameSummary, ImageLimits, LiveCheck, LiveConfig, Stages};

use super::common::{engine, media};

fn recorded_session() -> LiveCheck {
    let bytes = std::fs::read(media("video_live/moun_blink_drowsy.mp4")).unwrap();
    let mut reader = VideoReader::from_bytes(&bytes, &VideoLimits::default()).unwrap();
    let session =
        ChallengeSession::with_script(ChallengeConfig::default(), vec![ChallengeAction::Blink])
            .unwrap();
    let mut check = LiveCheck::new(
        session,
        LiveConfig {
            detect_every: 3,
            evidence: Some(EvidenceConfig::default()),
        },
    )
    .unwrap();
    run_clip(engine(), &mut reader, &mut check, 15.0, |_, _| {}).unwrap();
    check
}

#[test]
fn a_signed_bundle_verifies_and_the_server_rerun_agrees() {
    let check = recorded_session();
    let bundle = check
        .bundle("sess-42", "nonce-42", 0.0, "test", None)
        .unwrap();
    let m = &bundle.manifest;
    let frames: Vec<_> = m.items_of(ItemKind::Frame).collect();
    assert!(
        (3..=12).contains(&frames.len()),
        "{} frames kept",
        frames.len()
    );
    assert_eq!(m.result.label, liveproof::events::Label::Real);
    assert_eq!(m.script, vec![ChallengeAction::Blink]);

    let device = ed25519_dalek::SigningKey::from_bytes(&[5u8; 32]);
    let token = m.sign("kiosk-1", SignKey::Ed25519(&device)).unwrap();
    let verified = verify_bundle(&token, |alg, kid| {
        (alg == Alg::EdDSA && kid == "kiosk-1").then(|| VerifyKey::Ed25519(device.verifying_key()))
    })
    .unwrap();
    let items: Vec<(&str, &[u8])> = verified
        .manifest
        .items
        .iter()
        .zip(&bundle.data)
        .map(|(i, d)| (i.name.as_str(), d.as_slice()))
        .collect();
    check_items(&verified.manifest, items.iter().copied()).unwrap();

    // One flipped byte in a frame is caught.
    let mut tampered = bundle.data.clone();
    tampered[0][100] ^= 1;
    let items: Vec<(&str, &[u8])> = verified
        .manifest
        .items
        .iter()
        .zip(&tampered)
        .map(|(i, d)| (i.name.as_str(), d.as_slice()))
        .collect();
    assert_eq!(
        check_items(&verified.manifest, items.iter().copied()),
        Err(EvidenceError::DigestMismatch("frame-000.jpg".into()))
    );

    // The server's re-run on the JPEG frames reproduces the client's anti-spoofing scores up to
    // the JPEG round trip.
    let records_at = m
        .items
        .iter()
        .position(|i| i.kind == ItemKind::Records)
        .unwrap();
    let records: Vec<FrameSummary> = serde_json::from_slice(&bundle.data[records_at]).unwrap();
    for (item, data) in m.items.iter().zip(&bundle.data) {
        if item.kind != ItemKind::Frame {
            continue;
        }
        let frame = decode_image(data, &ImageLimits::default()).unwrap();
        let rerun = engine()
            .analyze(&frame.as_ref(), item.t_ms.unwrap(), Stages::PAD)
            .unwrap();
        let client = records
            .iter()
            .find(|r| Some(r.t_ms) == item.t_ms)
            .and_then(|r| r.pad)
            .expect("a kept frame has a scored record");
        let server = rerun.pad_real().unwrap();
        assert!(
            (server - client.real).abs() < 0.05,
            "{}: client {} server {server}",
            item.name,
            client.real
        );
    }
}

#[test]
fn a_bundle_signed_with_another_key_or_session_is_refused() {
    let check = recorded_session();
    let bundle = check.bundle("sess-1", "n", 0.0, "test", None).unwrap();
    let key = [7u8; 32];
    let token = bundle.manifest.sign("sess-1", SignKey::Hmac(&key)).unwrap();
    let err = verify_bundle(&token, |_, _| Some(VerifyKey::Hmac(vec![8u8; 32]))).unwrap_err();
    assert_eq!(err.code(), "bad_signature");
    let err = verify_bundle(&token, |_, _| None).unwrap_err();
    assert_eq!(err.code(), "unknown_key");
}

#[test]
fn a_recording_of_the_session_travels_as_the_clip_item() {
    let check = recorded_session();
    let clip = std::fs::read(media("video_live/moun_blink_drowsy.mp4")).unwrap();
    let bundle = check
        .bundle(
            "s",
            "n",
            0.0,
            "test",
            Some(liveproof::evidence::Clip {
                data: &clip,
                media_type: "video/mp4; codecs=avc1",
            }),
        )
        .unwrap();
    let item = bundle.manifest.items_of(ItemKind::Clip).next().unwrap();
    assert_eq!(
        (item.name.as_str(), item.media_type.as_str()),
        ("clip.mp4", "video/mp4")
    );
    assert_eq!(bundle.data.last().unwrap(), &clip);
    for bad in ["image/jpeg", "video/quicktime", ""] {
        let err = check
            .bundle(
                "s",
                "n",
                0.0,
                "test",
                Some(liveproof::evidence::Clip {
                    data: &clip,
                    media_type: bad,
                }),
            )
            .unwrap_err();
        assert_eq!(err.code(), "invalid_argument", "{bad}");
    }
}
