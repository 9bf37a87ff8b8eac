//! The adversarial suite: the client holds the session key, so it can write any manifest,
//! records and claims, choose any frames, and sign them. Each attack here was tried against
//! the server before the verification moved into the core; each must now end without REAL,
//! and each test says why it is refused. Controls (the same media used honestly) show that a
//! refusal comes from the attack, not from the media.

use axum::http::StatusCode;
use liveproof::challenge::{ChallengeAction, ChallengeTiming};
use liveproof::events::{ChallengeStatus, Label};
use liveproof::evidence::{
    encode_jpeg, Bundle, ClientResult, Item, ItemKind, Manifest, Versions, FORMAT_VERSION,
};
use liveproof::{decode_image, ImageLimits};
use liveproof_server::app;
use serde_json::{json, Value};

use crate::bundles::*;
use crate::common::*;
use crate::evidence::assert_code;

use ChallengeAction::*;

/// A still from ../shared/media re-encoded as JPEG at `quality` (distinct bytes per quality).
fn jpeg(rel: &str, quality: u8) -> Vec<u8> {
    let frame = decode_image(&media(rel), &ImageLimits::default()).unwrap();
    encode_jpeg(&frame.as_ref(), quality).unwrap()
}

/// A per-frame record claiming a real face scored 0.99.
fn claimed_record(t_ms: f64) -> Value {
    json!({
        "t_ms": t_ms, "width": 640, "height": 480, "faces": 1, "bbox": null, "score": null,
        "presence": null, "pad": {"real": 0.99, "v2": 0.99, "v1se": 0.99}, "ear": null,
        "mouth": null, "pose": null, "quality": null, "happy": null, "guidance": [],
        "timings": {"detect_ms": 0.0, "landmarks_ms": 0.0, "pad_ms": 0.0, "embed_ms": 0.0,
                    "attributes_ms": 0.0, "total_ms": 0.0}
    })
}

/// What a key holder writes by hand: `frames` 500 ms apart, records claiming 0.99 real, the
/// issued script claimed passed with tidy timings, REAL with confidence 0.99, and an optional
/// recording.
fn forged(s: &Issued, frames: &[Vec<u8>], recording: Option<(&[u8], &str)>) -> Bundle {
    let script = script_of(s);
    let mut items = Vec::new();
    let mut data = Vec::new();
    let mut records = Vec::new();
    for (i, f) in frames.iter().enumerate() {
        let t = 500.0 * (i + 1) as f64;
        items.push(Item::describe(
            &format!("frame-{i:03}.jpg"),
            ItemKind::Frame,
            "image/jpeg",
            Some(t),
            f,
        ));
        data.push(f.clone());
        records.push(claimed_record(t));
    }
    let challenges: Vec<ChallengeTiming> = script
        .iter()
        .enumerate()
        .map(|(i, &action)| ChallengeTiming {
            action,
            started_ms: 1000.0 + 1000.0 * i as f64,
            ended_ms: 1500.0 + 1000.0 * i as f64,
            status: ChallengeStatus::Passed,
        })
        .collect();
    for c in &challenges {
        records.push(claimed_record(c.ended_ms));
    }
    records.sort_by(|a, b| {
        a["t_ms"]
            .as_f64()
            .unwrap()
            .total_cmp(&b["t_ms"].as_f64().unwrap())
    });
    let records = serde_json::to_vec(&records).unwrap();
    items.push(Item::describe(
        "records.json",
        ItemKind::Records,
        "application/json",
        None,
        &records,
    ));
    data.push(records);
    if let Some((bytes, media_type)) = recording {
        let name = if media_type == "video/webm" {
            "clip.webm"
        } else {
            "clip.mp4"
        };
        items.push(Item::describe(
            name,
            ItemKind::Clip,
            media_type,
            None,
            bytes,
        ));
        data.push(bytes.to_vec());
    }
    let manifest = Manifest {
        v: FORMAT_VERSION,
        session_id: s.id.clone(),
        nonce: s.nonce.clone(),
        created_ms: now_ms() as f64,
        versions: Versions::current("forged"),
        script: script.clone(),
        timeout_ms: 8000.0,
        challenges,
        result: ClientResult {
            label: Label::Real,
            passed: script,
            confidence: 0.99,
            pad_score: Some(0.99),
            failure: None,
        },
        items,
        light: None,
        signals: None,
    };
    Bundle { manifest, data }
}

/// Submits and returns the verdict payload (200 expected).
async fn verdict(app: &axum::Router, s: &Issued, b: &Bundle) -> Value {
    let r = submit(app, s, b).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.json);
    r.json["result"].clone()
}

#[tokio::test]
async fn attack_1_forged_claims_on_a_paper_mask_photo_never_get_real() {
    let app = router_with(policy_config()).await;
    let mask = "spoof/mini_f_fake_andr_mask.jpg";

    // The same photo three times, with invented records and every challenge claimed.
    let s = create_session(&app, json!({})).await;
    let same = jpeg(mask, 90);
    let v = verdict(
        &app,
        &s,
        &forged(&s, &[same.clone(), same.clone(), same], None),
    )
    .await;
    assert_eq!(v["label"], "FAKE", "{v}");
    assert_eq!(v["failure"]["reason"], "repeated_frame_items", "{v}");
    assert_eq!(
        v["failure"]["frames"],
        json!(["frame-000.jpg", "frame-001.jpg", "frame-002.jpg"])
    );
    assert_eq!(v["passed"], json!([]));

    // Three different encodings of it: the mask fools the anti-spoofing model (0.97: no mask
    // in its training data, README "Known limitations"), so the frames pass the passive rules,
    // and that is all the verdict says: PASSIVE_ONLY, no challenge, confidence 0.
    let s = create_session(&app, json!({})).await;
    let frames = [jpeg(mask, 90), jpeg(mask, 85), jpeg(mask, 80)];
    let v = verdict(&app, &s, &forged(&s, &frames, None)).await;
    assert_eq!(v["label"], "PASSIVE_ONLY", "{v}");
    assert_eq!(v["passed"], json!([]));
    assert_eq!(v["checks"]["challenges"], "none");
    assert_eq!(v["confidence"], 0.0);
    assert_eq!(
        v["disagreement"]["passed"], false,
        "no recording, nothing to compare"
    );

    // The photo as the "recording" (a virtual camera showing it): still, so refused.
    let s = create_session(&app, json!({})).await;
    let video = still_video(mask);
    let v = verdict(&app, &s, &forged(&s, &frames, Some((&video, "video/webm")))).await;
    assert_eq!(v["label"], "FAKE", "{v}");
    assert_eq!(v["failure"]["reason"], "still_stream", "{v}");
    assert!(v["failure"]["change"].as_f64().unwrap() < 0.1, "{v}");
    assert_eq!(v["passed"], json!([]), "{v}");
    assert_eq!(v["disagreement"]["label"], true);
}

#[tokio::test]
async fn attack_2_a_print_mixed_with_another_persons_photos_or_frames_never_gets_real() {
    let app = router_with(policy_config()).await;

    // Frames only: a print attack alternating with a different person's live photo. The
    // first usable face is the reference; the other person's frames fail it.
    let s = create_session(&app, json!({})).await;
    let print = "spoof/nuaa_imposter_0006.jpg";
    let live = "live/fr_obama.jpg";
    let frames = [
        jpeg(live, 90),
        jpeg(print, 90),
        jpeg(live, 85),
        jpeg(print, 85),
    ];
    let v = verdict(&app, &s, &forged(&s, &frames, None)).await;
    assert_eq!(v["label"], "FAKE", "{v}");
    assert_eq!(v["failure"]["reason"], "identity_changed", "{v}");
    assert!(v["failure"]["similarity"].as_f64().unwrap() < 0.3, "{v}");

    // A recording spliced from two people: one person's face for the passive phase, another
    // person performing the challenges. Every compared frame must be the reference person.
    let spliced = ffmpeg(
        &[
            "-i", "{media}/video_live/lp_d3.mp4", "-i", "{media}/video_live/lp_d12.mp4",
            "-filter_complex",
            "[0:v]trim=0:1.8,setpts=PTS-STARTPTS,scale=512:512,fps=25,format=yuv420p[a];\
             [1:v]setpts=PTS-STARTPTS,scale=512:512,fps=25,format=yuv420p[b];[a][b]concat=n=2:v=1[v]",
            "-map", "[v]", "-c:v", "libx264", "-preset", "veryfast", "{out}",
        ],
        "mp4",
    );
    let s = create_session(&app, json!({})).await;
    let b = bundle_of(
        &recorded(Clip::BlinkSmile, &script_of(&s)),
        &s.id,
        &s.nonce,
        Some((&spliced, "video/mp4")),
    );
    let v = verdict(&app, &s, &b).await;
    assert_eq!(v["label"], "FAKE", "{v}");
    assert_eq!(v["failure"]["reason"], "identity_changed", "{v}");
    let rec = &v["server"]["recording"];
    assert!(
        rec["decided_at_ms"].as_f64().unwrap() > 1800.0,
        "after the splice: {rec}"
    );

    // Control: the second person's own recording passes.
    let s = create_session(&app, json!({})).await;
    let v = verdict(&app, &s, &bundle(Clip::BlinkSmile, &s)).await;
    assert_eq!(v["label"], "REAL", "{v}");
}

#[tokio::test]
async fn repeated_frame_items_are_refused_even_beside_an_honest_recording() {
    let app = router_with(policy_config()).await;
    let s = create_session(&app, json!({})).await;
    let mut b = bundle(Clip::BlinkSmile, &s);
    let first = b.data[0].clone();
    let second = b.manifest.items[1].name.clone();
    replace_item(&mut b, &second, first);
    let v = verdict(&app, &s, &b).await;
    assert_eq!(v["label"], "FAKE", "{v}");
    assert_eq!(v["failure"]["reason"], "repeated_frame_items", "{v}");
    // The recording itself was run and was fine: the refusal is the repeated items'.
    assert_eq!(v["server"]["recording"]["outcome"]["label"], "REAL", "{v}");
}

#[tokio::test]
async fn attack_3_a_third_partys_clip_never_gets_real() {
    let mut c = policy_config();
    c.sessions.public = true;
    c.demo = true; // public sessions are a local demo's (loopback address)
    let app = router_with(c).await;

    // The attacker cannot choose the check: no options on a public session, and even a relying
    // party cannot go below the policy.
    let asked = r#"{"challenges":["BLINK"],"count":1,"timeout_ms":120000}"#;
    let r = send(
        &app,
        axum::http::Request::post("/v1/sessions")
            .header("content-type", "application/json")
            .body(axum::body::Body::from(asked))
            .unwrap(),
    )
    .await;
    assert_code(&r, StatusCode::FORBIDDEN, "options_not_allowed");
    let r = send(
        &app,
        axum::http::Request::post("/v1/sessions")
            .header("authorization", bearer())
            .header("content-type", "application/json")
            .body(axum::body::Body::from(asked))
            .unwrap(),
    )
    .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.json);
    assert!(r.json["detail"]["body"]["count"].is_array(), "{}", r.json);

    // The policy's script of two: a third party's clip that only blinks cannot perform it,
    // whatever the client claims.
    let r = send(
        &app,
        axum::http::Request::post("/v1/sessions")
            .body(axum::body::Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.json);
    let s = issued(r.json);
    assert_eq!(script_of(&s).len(), 2);
    let mut b = bundle(Clip::BlinkOnly, &s);
    b.manifest.result.label = Label::Real;
    b.manifest.result.passed = script_of(&s);
    let v = verdict(&app, &s, &b).await;
    assert_eq!(v["label"], "FAKE", "{v}");
    assert_eq!(v["failure"]["reason"], "challenge_timeout", "{v}");
    assert_eq!(v["failure"]["action"], "SMILE", "{v}");
    assert!(v["passed"].as_array().unwrap().len() < 2, "{v}");
    assert_eq!(v["aud"], "liveproof-public", "a public session's audience");
    assert!(v["creator"].as_str().unwrap().starts_with("public:"), "{v}");
}

/// A recording made before the session existed: another session's, or a third party's clip that
/// happens to perform the drawn script. Its length gives it away when it is submitted sooner.
#[tokio::test]
async fn a_recording_longer_than_the_session_has_existed_is_refused() {
    // The real policy slack (the other tests accept the old test media as fresh).
    let mut c = policy_config();
    c.verification.recording_slack_ms =
        liveproof::verify::VerifyPolicy::default().recording_slack_ms;
    let app = router_with(c).await;
    // The client's side is computed first, so the new session is only a moment old.
    for script in [[Blink, Smile], [Smile, Blink]] {
        recorded(Clip::BlinkSmile, &script);
    }
    let earlier = create_session(&app, json!({})).await;
    let _made_for_it = bundle(Clip::BlinkSmile, &earlier);
    let s = create_session(&app, json!({})).await;
    let v = verdict(&app, &s, &bundle(Clip::BlinkSmile, &s)).await;
    assert_eq!(v["label"], "FAKE", "{v}");
    assert_eq!(v["failure"]["reason"], "recording_too_long", "{v}");
    assert!(
        v["failure"]["duration_ms"].as_f64().unwrap() > 7000.0,
        "{v}"
    );
    assert!(
        v["failure"]["session_age_ms"].as_u64().unwrap() < 5000,
        "{v}"
    );
    // The recording itself shows the script performed: the refusal is about when it was made.
    assert_eq!(v["server"]["recording"]["outcome"]["label"], "REAL", "{v}");
    assert_eq!(v["passed"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn another_sessions_bundle_or_challenges_out_of_order_never_get_real() {
    let app = router_with(policy_config()).await;
    let a = create_session(&app, json!({})).await;
    let b_session = create_session(&app, json!({})).await;
    let a_bundle = bundle(Clip::BlinkSmile, &a);

    // A's bundle replayed to B: signed with A's key it is not B's; re-signed with B's key (the
    // attacker holds it) it still names A's session and nonce.
    let token = sign_hmac(&a_bundle, &a.id, &a.key);
    let r = send(
        &app,
        evidence_request(&b_session.evidence_url, &token, &a_bundle),
    )
    .await;
    assert_code(&r, StatusCode::UNAUTHORIZED, "unknown_key");
    let r = submit(&app, &b_session, &a_bundle).await;
    assert_code(&r, StatusCode::UNPROCESSABLE_ENTITY, "session_mismatch");
    let mut moved = a_bundle.clone();
    moved.manifest.session_id = b_session.id.clone();
    let r = submit(&app, &b_session, &moved).await;
    assert_code(&r, StatusCode::UNPROCESSABLE_ENTITY, "nonce_mismatch");

    // A recording that performs SMILE then BLINK, for a session that drew BLINK then SMILE,
    // with the client claiming both: the server's run sees the smile before its turn.
    let s = create_session_with_script(&app, json!({}), &[Blink, Smile]).await;
    let mut b = bundle(Clip::SmileBlinkWebm, &s);
    b.manifest.result.label = Label::Real;
    b.manifest.result.passed = vec![Blink, Smile];
    let v = verdict(&app, &s, &b).await;
    assert_eq!(v["label"], "FAKE", "{v}");
    assert_eq!(
        v["failure"],
        json!({"reason": "challenge_timeout", "action": "SMILE"}),
        "{v}"
    );
    assert_eq!(v["passed"], json!(["BLINK"]));
    assert_eq!(v["server"]["recording"]["codec"], "vp8");
    assert_eq!(v["disagreement"]["passed"], true);

    // Control: the same recording for a session that drew them in its order is REAL.
    let s = create_session_with_script(&app, json!({}), &[Smile, Blink]).await;
    let v = verdict(&app, &s, &bundle(Clip::SmileBlinkWebm, &s)).await;
    assert_eq!(v["label"], "REAL", "{v}");
    // The cues are measured on the server's run and reported beside the decision.
    let cues = &v["server"]["recording"]["cues"];
    assert!(cues["screen"]["frames"].as_u64().unwrap() >= 1, "{cues}");
    assert!(cues["motion"]["coupling"]["state"].is_string(), "{cues}");
}

#[tokio::test]
async fn a_relying_party_may_only_narrow_the_policy() {
    let mut c = config();
    c.sessions.public = true;
    c.demo = true; // public sessions are a local demo's (loopback address)
    let app = router_with(c).await;
    // Narrower: two of three actions, 5 s each.
    let s = create_session(
        &app,
        json!({"challenges": ["BLINK", "SMILE", "LOOK LEFT"], "timeout_ms": 5000}),
    )
    .await;
    let script = script_of(&s);
    assert_eq!(script.len(), 2);
    assert!(script.iter().all(|a| [Blink, Smile, LookLeft].contains(a)));
    assert_eq!(s.json["timeout_ms"], 5000.0);
    // Looser is refused: longer, fewer, or outside the pool.
    let strict = policy_config();
    let app = router_with(strict).await;
    for (body, field) in [
        (json!({"timeout_ms": 9000}), "timeout_ms"),
        (json!({"count": 1}), "count"),
        (json!({"challenges": ["LOOK UP", "BLINK"]}), "challenges"),
    ] {
        let r = send(
            &app,
            axum::http::Request::post("/v1/sessions")
                .header("authorization", bearer())
                .header("content-type", "application/json")
                .body(axum::body::Body::from(body.to_string()))
                .unwrap(),
        )
        .await;
        assert_eq!(
            r.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{body}: {}",
            r.json
        );
        assert!(
            r.json["detail"]["body"][field].is_array(),
            "{body}: {}",
            r.json
        );
    }
}

#[tokio::test]
async fn the_server_keeps_serving_after_every_attack() {
    // One state for a quick round of refusals, then an honest session on the same server.
    let state = state_with(policy_config()).await;
    let app = app(state.clone());
    let s = create_session(&app, json!({})).await;
    let same = jpeg("live/fr_obama.jpg", 90);
    let _ = verdict(&app, &s, &forged(&s, &[same.clone(), same], None)).await;
    let s = create_session(&app, json!({})).await;
    let v = verdict(&app, &s, &bundle(Clip::BlinkSmile, &s)).await;
    assert_eq!(v["label"], "REAL", "{v}");
    assert!(state.store.audit_len().await.unwrap() >= 2);
}
