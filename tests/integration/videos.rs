//! Real clips: the challenge engine passes people who perform the action and fails clips where
//! nobody does, replays are caught by anti-spoofing, and video checks fill the v1/v2 fields.

use liveproof::challenge::{ChallengeAction, ChallengeConfig, ChallengeSession, Failure};
use liveproof::check::{check_media, CheckParams, MediaLimits};
use liveproof::clip::run_clip;
use liveproof::events::{ChallengeStatus, Event, Label, Phase};
use liveproof::report::ApiVersion;
use liveproof::video::{VideoLimits, VideoReader};
use liveproof::{LiveCheck, LiveConfig};

use super::common::{engine, media};

use ChallengeAction::*;

/// Runs the clip at 15 analysed frames per second and returns every event and the session.
fn run(clip: &str, script: &[ChallengeAction]) -> (Vec<Event>, ChallengeSession) {
    run_tracked(clip, script, 1)
}

/// The same with the detector on every `detect_every`-th frame and tracking in between.
fn run_tracked(
    clip: &str,
    script: &[ChallengeAction],
    detect_every: u32,
) -> (Vec<Event>, ChallengeSession) {
    let bytes = std::fs::read(media(clip)).unwrap();
    let mut reader = VideoReader::from_bytes(&bytes, &VideoLimits::default()).unwrap();
    let session =
        ChallengeSession::with_script(ChallengeConfig::default(), script.to_vec()).unwrap();
    let mut check = LiveCheck::new(
        session,
        LiveConfig {
            detect_every,
            evidence: None,
        },
    )
    .unwrap();
    let mut events = Vec::new();
    let tail = run_clip(engine(), &mut reader, &mut check, 15.0, |_, e| {
        events.extend_from_slice(e)
    })
    .unwrap();
    events.extend(tail);
    (events, check.session().clone())
}

fn final_result(events: &[Event]) -> (Label, Vec<ChallengeAction>) {
    match events.last() {
        Some(Event::FinalResult { label, passed, .. }) => (*label, passed.clone()),
        other => panic!("the stream must end with final_result, got {other:?}"),
    }
}

#[test]
fn a_blink_passes_the_blink_challenge() {
    let (events, session) = run("video_live/moun_blink_drowsy.mp4", &[Blink]);
    assert_eq!(
        events[0],
        Event::Phase {
            value: Phase::Passive
        }
    );
    assert!(events.contains(&Event::Phase {
        value: Phase::Active
    }));
    assert!(events.contains(&Event::ChallengeStart { action: Blink }));
    assert!(events.contains(&Event::ChallengeResult {
        action: Blink,
        status: ChallengeStatus::Passed
    }));
    assert_eq!(
        final_result(&events),
        (Label::Real, vec![Blink]),
        "{:?}",
        session.outcome()
    );
}

/// The clip turns to the subject's left (image right), then right, then down, then up.
#[test]
fn head_turns_pass_the_four_look_challenges() {
    let script = [LookLeft, LookRight, LookDown, LookUp];
    let (events, session) = run("video_live/tvl_real_head_turns.mp4", &script);
    assert_eq!(
        final_result(&events),
        (Label::Real, script.to_vec()),
        "{:?}",
        session.outcome()
    );
}

#[test]
fn a_smile_passes_the_smile_challenge() {
    let (events, session) = run("video_live/zub_real_smile_wave.webm", &[Smile]);
    assert_eq!(
        final_result(&events),
        (Label::Real, vec![Smile]),
        "{:?}",
        session.outcome()
    );
}

#[test]
fn no_head_turn_fails_look_left() {
    let (events, session) = run("video_live/moun_blink_drowsy.mp4", &[LookLeft]);
    assert!(events.contains(&Event::ChallengeResult {
        action: LookLeft,
        status: ChallengeStatus::Failed
    }));
    assert_eq!(final_result(&events), (Label::Fake, vec![]));
    assert_eq!(
        session.outcome().unwrap().failure,
        Some(Failure::ChallengeTimeout { action: LookLeft })
    );
}

#[test]
fn talking_without_smiling_fails_smile() {
    let (events, _) = run("video_live/lp_s18_talking.mp4", &[Smile]);
    assert_eq!(final_result(&events), (Label::Fake, vec![]));
}

#[test]
fn turning_the_wrong_way_fails() {
    // The clip's first turn is to the subject's left; asking for the right first, then up within
    // 8 s, must not be satisfied by the left turn.
    let (events, _) = run(
        "video_live/tvl_real_head_turns.mp4",
        &[LookRight, LookLeft, LookLeft],
    );
    let (label, passed) = final_result(&events);
    assert_eq!(label, Label::Fake);
    assert!(passed.len() < 3);
}

/// A screen replay of the head-turn clip performs the challenges, so only passive
/// anti-spoofing can stop it: it must.
#[test]
fn a_replayed_head_turn_video_is_fake_although_it_turns() {
    let (events, session) = run(
        "video_spoof/tvl_fake_screen_replay.mp4",
        &[LookLeft, LookRight],
    );
    assert_eq!(final_result(&events).0, Label::Fake);
    let frames: Vec<f32> = events
        .iter()
        .filter_map(|e| match e {
            Event::FrameResult { confidence, .. } => Some(*confidence),
            _ => None,
        })
        .collect();
    let fake = frames.iter().filter(|c| **c < 0.5).count();
    assert!(
        fake * 10 >= frames.len() * 8,
        "most replay frames score fake: {fake}/{}",
        frames.len()
    );
    assert!(matches!(
        session.outcome().unwrap().failure,
        Some(Failure::Spoof { .. } | Failure::NoUsableFrames)
    ));
}

#[test]
fn phone_replays_are_fake() {
    for clip in [
        "video_spoof/zub_fake_phone_replay.webm",
        "video_spoof/les_fake_phone_replay.mp4",
    ] {
        let (events, _) = run(clip, &[Blink]);
        assert_eq!(final_result(&events).0, Label::Fake, "{clip}");
    }
}

/// The phone replay's sharp frames alone score 0.56 real; its blurred frames look fake. A
/// submitted video may not be judged on the frames a fraudster left sharp: more than half of
/// its frames cannot be judged, so the video is refused, and never called real.
#[test]
fn a_replay_cannot_pass_on_its_few_sharp_frames() {
    let bytes = std::fs::read(media("video_spoof/zub_fake_phone_replay.webm")).unwrap();
    let err = check_media(
        engine(),
        None,
        Some(&bytes),
        &CheckParams::default(),
        &MediaLimits::default(),
    )
    .unwrap_err();
    assert!(
        matches!(
            err,
            liveproof::Error::PoorQuality {
                input: "video",
                reason: liveproof::quality::Guidance::Blurry
            }
        ),
        "{err}"
    );
}

#[test]
fn video_only_check_fills_the_v2_video_block() {
    let bytes = std::fs::read(media("video_live/tvl_real_head_turns.mp4")).unwrap();
    let outcome = check_media(
        engine(),
        None,
        Some(&bytes),
        &CheckParams::default(),
        &MediaLimits::default(),
    )
    .unwrap();
    let v = ApiVersion::V2.render(&outcome);
    let video = &v["video"];
    assert_eq!(video["input_provided"], "True");
    assert_eq!(video["result"], "real", "{v}");
    assert_eq!(video["video_frames_analyzed"], 20);
    let total = video["total_video_frames"].as_u64().unwrap();
    assert!((615..=625).contains(&total), "total frames {total}");
    assert!(video["real_video_frames"].as_u64().unwrap() >= 15);
    assert_eq!(video["enhanced_detection"], "N/A");
    assert!(video["frame_sampling_rate"].is_null());
    assert_eq!(v["image"]["input_provided"], "False");
    assert_eq!(v["image_video_facematch"]["performed"], "False");
    assert_eq!(v["overall_result"], "real");
}

#[test]
fn still_plus_video_of_the_same_person_matches() {
    let image = std::fs::read(media("live/frame_zub_real_smile_wave_t1.0.jpg")).unwrap();
    let video = std::fs::read(media("video_live/zub_real_smile_wave.webm")).unwrap();
    let outcome = check_media(
        engine(),
        Some(&image),
        Some(&video),
        &CheckParams::default(),
        &MediaLimits::default(),
    )
    .unwrap();
    let v = ApiVersion::V2.render(&outcome);
    let fm = &v["image_video_facematch"];
    assert_eq!(fm["performed"], "True");
    assert_eq!(fm["result"], "True", "{v}");
    assert_eq!(fm["frames_tested"], 3);
    assert!(fm["confidence"].as_f64().unwrap() > 50.0);
    assert_eq!(v["video"]["enhanced_detection"], "True");
    assert_eq!(v["video"]["frame_sampling_rate"], 15);
    assert_eq!(v["video"]["max_frames_analyzed"], 20);
    // A live clip, a live still of the same person, and the face match above: every part
    // passes.
    assert_eq!(v["overall_result"], "True", "{v}");
    let v1 = ApiVersion::V1.render(&outcome);
    assert_eq!(v1["facematch_result"], "True");
    assert_eq!(v1["facematch_frames_tested"], 3);
}

#[test]
fn still_of_another_person_does_not_match_the_video() {
    let image = std::fs::read(media("live/fr_obama.jpg")).unwrap();
    let video = std::fs::read(media("video_live/zub_real_smile_wave.webm")).unwrap();
    let outcome = check_media(
        engine(),
        Some(&image),
        Some(&video),
        &CheckParams::default(),
        &MediaLimits::default(),
    )
    .unwrap();
    let v = ApiVersion::V2.render(&outcome);
    assert_eq!(v["image_video_facematch"]["result"], "False");
    assert_eq!(v["overall_result"], "False");
    assert_eq!(v["overall_confidence"], 0.0);
}

#[test]
fn legacy_path_requires_a_blink() {
    let image = std::fs::read(media("live/frame_moun_blink_drowsy_t1.0.jpg")).unwrap();
    let video = std::fs::read(media("video_live/moun_blink_drowsy.mp4")).unwrap();
    let params = CheckParams {
        enhanced_detection: false,
        ..CheckParams::default()
    };
    let outcome = check_media(
        engine(),
        Some(&image),
        Some(&video),
        &params,
        &MediaLimits::default(),
    )
    .unwrap();
    let v = ApiVersion::V2.render(&outcome);
    assert_eq!(v["video"]["enhanced_detection"], "False");
    assert_eq!(v["video"]["blink_detection"], "True", "{v}");
    assert_eq!(v["video"]["result"], "real");
    assert!(v["video"]["frame_sampling_rate"].is_null());
}

#[test]
fn a_replay_video_check_is_fake_with_zero_confidence() {
    let bytes = std::fs::read(media("video_spoof/les_fake_phone_replay.mp4")).unwrap();
    let outcome = check_media(
        engine(),
        None,
        Some(&bytes),
        &CheckParams::default(),
        &MediaLimits::default(),
    )
    .unwrap();
    let v = ApiVersion::V2.render(&outcome);
    assert_eq!(v["video"]["result"], "fake");
    assert_eq!(v["video"]["confidence"], 0.0);
    assert!(v["video"]["prediction_confidence"].as_f64().unwrap() < 50.0);
    assert_eq!(v["overall_result"], "fake");
}

/// The browser's sampling: detector and anti-spoofing on every third analysed frame, the mesh
/// tracking the face in between. The challenges still pass on the clips that perform them,
/// the replays are still caught, and most frames really are tracked.
#[test]
fn tracking_between_detections_keeps_every_decision() {
    for (clip, script, label) in [
        (
            "video_live/moun_blink_drowsy.mp4",
            &[Blink][..],
            Label::Real,
        ),
        (
            "video_live/tvl_real_head_turns.mp4",
            &[LookLeft, LookRight, LookDown, LookUp][..],
            Label::Real,
        ),
        (
            "video_live/zub_real_smile_wave.webm",
            &[Smile][..],
            Label::Real,
        ),
        (
            "video_spoof/tvl_fake_screen_replay.mp4",
            &[LookLeft, LookRight][..],
            Label::Fake,
        ),
    ] {
        let (events, session) = run_tracked(clip, script, 3);
        let (got, passed) = final_result(&events);
        assert_eq!(got, label, "{clip}: {:?}", session.outcome());
        if label == Label::Real {
            assert_eq!(passed, script.to_vec(), "{clip}");
        }
    }
}

#[test]
fn tracked_frames_skip_the_detector_and_anti_spoofing() {
    let bytes = std::fs::read(media("video_live/moun_blink_drowsy.mp4")).unwrap();
    let mut reader = VideoReader::from_bytes(&bytes, &VideoLimits::default()).unwrap();
    let session = ChallengeSession::with_script(ChallengeConfig::default(), vec![Blink]).unwrap();
    let mut check = LiveCheck::new(
        session,
        LiveConfig {
            detect_every: 3,
            evidence: None,
        },
    )
    .unwrap();
    let mut records = Vec::new();
    run_clip(engine(), &mut reader, &mut check, 15.0, |r, _| {
        records.push(r.clone())
    })
    .unwrap();
    let tracked: Vec<_> = records.iter().filter(|r| r.tracked).collect();
    assert!(
        tracked.len() * 2 >= records.len(),
        "{} of {} frames tracked",
        tracked.len(),
        records.len()
    );
    for r in &tracked {
        assert_eq!(r.faces.len(), 1);
        assert!(r.pad_real().is_none(), "no anti-spoofing on tracked frames");
        assert_eq!(r.timings.detect_ms, 0.0);
    }
    // The tracked box stays on the face: it overlaps the next detector box.
    for w in records.windows(2) {
        if let (true, false, Some(a), Some(b)) = (
            w[0].tracked,
            w[1].tracked,
            w[0].face.as_ref(),
            w[1].face.as_ref(),
        ) {
            let iou = a.detection.bbox.iou(&b.detection.bbox);
            assert!(iou > 0.6, "tracked box drifted: IoU {iou}");
        }
    }
}
