//! `liveproof::verify`, the one rulebook a server signs from, on real media: a bundle is bound
//! to the issued session, then judged from the verifier's own run of its recording (REAL only
//! there), or from its frames alone (PASSIVE_ONLY at best); a recording older than its session
//! is refused.

use liveproof::challenge::{ChallengeAction, ChallengeConfig, ChallengeSession};
use liveproof::check::MediaLimits;
use liveproof::clip::run_clip;
use liveproof::evidence::{Bundle, Clip, EvidenceConfig};
use liveproof::verify::{
    admit, BundleFailure, CheckedBy, Issued, IssuedLight, VerdictLabel, VerifyFailure, VerifyPolicy,
};
use liveproof::video::{VideoLimits, VideoReader};
use liveproof::{LiveCheck, LiveConfig};

use super::common::{engine, media};
use ChallengeAction::*;

const CLIP: &str = "video_live/lp_d12.mp4";

fn issued(issued_ms: Option<u64>) -> Issued {
    Issued {
        session_id: "s-1".into(),
        nonce: "n-1".into(),
        script: vec![Smile, Blink],
        timeout_ms: 8000.0,
        issued_ms,
        light: IssuedLight::Off,
    }
}

/// The SDK's side: its check over the clip, and the bundle with or without the recording.
fn client_bundle(video: &[u8], with_recording: bool) -> Bundle {
    let mut reader = VideoReader::from_bytes(video, &VideoLimits::default()).unwrap();
    let session =
        ChallengeSession::with_script(ChallengeConfig::default(), vec![Smile, Blink]).unwrap();
    let mut check = LiveCheck::new(
        session,
        LiveConfig {
            detect_every: 3,
            evidence: Some(EvidenceConfig::default()),
        },
    )
    .unwrap();
    run_clip(engine(), &mut reader, &mut check, 15.0, |_, _| {}).unwrap();
    let clip = with_recording.then_some(Clip {
        data: video,
        media_type: "video/mp4",
    });
    check.bundle("s-1", "n-1", 0.0, "test", clip).unwrap()
}

fn items(b: &Bundle) -> Vec<(String, Vec<u8>)> {
    b.manifest
        .items
        .iter()
        .zip(&b.data)
        .map(|(i, d)| (i.name.clone(), d.clone()))
        .collect()
}

#[test]
fn a_recording_is_judged_by_the_verifiers_own_run_and_frames_alone_never_give_real() {
    let video = std::fs::read(media(CLIP)).unwrap();
    let policy = VerifyPolicy::default();
    let limits = MediaLimits::default();

    // With the recording, a minute after the session was issued: REAL, from the run.
    let b = client_bundle(&video, true);
    let admitted = admit(&issued(Some(0)), &policy, b.manifest.clone(), items(&b)).unwrap();
    assert!(admitted.has_recording());
    let v = admitted.run(engine(), &limits, 60_000).unwrap();
    assert_eq!(v.decision.label, VerdictLabel::Real, "{v:?}");
    assert_eq!(v.decision.passed, vec![Smile, Blink]);
    assert_eq!(v.decision.checks.challenges, CheckedBy::Server);
    let rec = v.recording.as_ref().unwrap();
    assert_eq!(rec.outcome.challenges.len(), 2);
    assert!(
        rec.frames_analysed >= 20 && rec.decided_at_ms.is_some(),
        "{rec:?}"
    );
    assert!(!v.disagreement.any, "{:?}", v.disagreement);
    assert_eq!(v.disagreement.frames_in_recording, v.frames.submitted);

    // The same bundle one second after the session was issued: the 7 s recording predates it.
    let v = admitted.run(engine(), &limits, 1000).unwrap();
    assert_eq!(v.decision.label, VerdictLabel::Fake);
    assert!(
        matches!(
            v.decision.failure,
            Some(VerifyFailure::Bundle(BundleFailure::RecordingTooLong {
                session_age_ms: 1000,
                ..
            }))
        ),
        "{:?}",
        v.decision.failure
    );

    // Without the recording: the frames pass the passive rules, nothing more is asserted.
    let b = client_bundle(&video, false);
    let v = admit(&issued(Some(0)), &policy, b.manifest.clone(), items(&b))
        .unwrap()
        .run(engine(), &limits, 60_000)
        .unwrap();
    assert_eq!(v.decision.label, VerdictLabel::PassiveOnly, "{v:?}");
    assert!(v.decision.passed.is_empty());
    assert_eq!(v.decision.confidence, 0.0);
    assert_eq!(v.decision.checks.challenges, CheckedBy::None);
    assert_eq!(v.frames.analysed.len(), v.frames.submitted);
    assert!(v.recording.is_none());
}
