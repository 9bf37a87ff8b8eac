//! Seeds 001 (v1, flat) and 000 (v2, structured): keys, value types and rules on real
//! media, the documented errors, and the route prefix.

use axum::http::StatusCode;
use liveproof::check::{check_media, CheckParams, MediaLimits};
use liveproof::report::ApiVersion;
use serde_json::Value;

use crate::common::*;

const V1_KEYS: [&str; 18] = [
    "result",
    "confidence",
    "blink_detection",
    "image_input",
    "video_input",
    "facematch_result",
    "facematch_confidence",
    "facematch_frames_tested",
    "overall_result",
    "overall_confidence",
    "image_result",
    "image_confidence",
    "video_frames_analyzed",
    "real_video_frames",
    "total_video_frames",
    "enhanced_detection",
    "frame_sampling_rate",
    "max_frames_analyzed",
];

fn keys(v: &Value) -> Vec<&str> {
    v.as_object().unwrap().keys().map(String::as_str).collect()
}

fn is_pct(v: &Value) -> bool {
    v.as_f64().is_some_and(|x| (0.0..=100.0).contains(&x))
}

fn is_str_bool(v: &Value) -> bool {
    matches!(v.as_str(), Some("True" | "False" | "N/A"))
}

async fn post(path: &str, parts: &[(&str, Part<'_>)]) -> Reply {
    let auth = bearer();
    send(
        &router().await,
        post_form(path, &[("authorization", auth.as_str())], parts),
    )
    .await
}

#[tokio::test]
async fn v1_still_is_the_core_document_unchanged() {
    let image = media("live/fr_obama.jpg");
    let r = post("/liveness", &[("image", Part::File(&image))]).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.json);
    assert_envelope(&r);
    assert_eq!(r.headers["content-type"], "application/json");
    let v = &r.json;
    assert_eq!(keys(v), V1_KEYS);
    let outcome = check_media(
        &engine(),
        Some(&image),
        None,
        &CheckParams::default(),
        &MediaLimits::default(),
    )
    .unwrap();
    assert_eq!(*v, ApiVersion::V1.render(&outcome));
    assert!(matches!(v["result"].as_str(), Some("real" | "fake")));
    assert_eq!(v["image_input"], true);
    assert_eq!(v["video_input"], false);
    assert!(is_pct(&v["confidence"]) && is_pct(&v["image_confidence"]));
    assert_eq!(v["facematch_result"], "N/A");
    assert_eq!(v["overall_result"], v["result"]);
    if v["result"] == "fake" {
        assert_eq!(v["overall_confidence"], 0.0);
    }
}

#[tokio::test]
async fn v1_and_v2_image_plus_video_keys_types_and_rules() {
    // The same child as a still and a clip (a crop that is all face would be refused).
    let image = media("live/frame_lp_d11_t2.0.jpg");
    let video = media("video_live/lp_d11.mp4");
    let parts = [
        ("image", Part::File(&image)),
        ("video", Part::File(&video)),
        ("enhanced_detection", Part::Text("true")),
        ("frame_sampling_rate", Part::Text("10")),
        ("max_frames_to_analyze", Part::Text("6")),
        ("facematch_frames", Part::Text("2")),
        ("facematch_threshold", Part::Text("0.5")),
        ("image_type", Part::Text("file")),
        ("unique_id", Part::Text("case-42")),
    ];
    let r1 = post("/liveness", &parts).await;
    assert_eq!(r1.status, StatusCode::OK, "{}", r1.json);
    let v = &r1.json;
    assert_eq!(keys(v), V1_KEYS);
    assert_eq!(v["image_input"], true);
    assert_eq!(v["video_input"], true);
    assert!(v["blink_detection"].is_boolean() || v["blink_detection"].is_null());
    assert!(matches!(
        v["facematch_result"].as_str(),
        Some("True" | "False")
    ));
    assert!(is_pct(&v["facematch_confidence"]));
    assert_eq!(v["facematch_frames_tested"], 2);
    assert!(matches!(
        v["overall_result"].as_str(),
        Some("True" | "False")
    ));
    if v["overall_result"] == "False" {
        assert_eq!(v["overall_confidence"], 0.0);
    }
    assert_eq!(v["enhanced_detection"], true);
    assert_eq!(v["frame_sampling_rate"], 10);
    assert_eq!(v["max_frames_analyzed"], 6);
    let analyzed = v["video_frames_analyzed"].as_u64().unwrap();
    assert!((1..=6).contains(&analyzed));
    assert!(v["real_video_frames"].as_u64().unwrap() <= analyzed);
    assert!(v["total_video_frames"].as_u64().unwrap() >= analyzed);

    let r2 = post("/v2/liveness", &parts).await;
    assert_eq!(r2.status, StatusCode::OK, "{}", r2.json);
    let v = &r2.json;
    assert_eq!(
        keys(v),
        [
            "image",
            "video",
            "image_video_facematch",
            "overall_result",
            "overall_confidence"
        ]
    );
    assert_eq!(
        keys(&v["image"]),
        [
            "input_provided",
            "result",
            "confidence",
            "prediction_confidence"
        ]
    );
    assert_eq!(
        keys(&v["video"]),
        [
            "input_provided",
            "result",
            "confidence",
            "prediction_confidence",
            "blink_detection",
            "video_frames_analyzed",
            "real_video_frames",
            "total_video_frames",
            "enhanced_detection",
            "frame_sampling_rate",
            "max_frames_analyzed"
        ]
    );
    assert_eq!(
        keys(&v["image_video_facematch"]),
        ["performed", "result", "confidence", "frames_tested"]
    );
    for block in ["image", "video"] {
        let b = &v[block];
        assert_eq!(b["input_provided"], "True");
        assert!(is_pct(&b["confidence"]) && is_pct(&b["prediction_confidence"]));
        // confidence is zeroed on fake, raw score kept.
        if b["result"] == "fake" {
            assert_eq!(b["confidence"], 0.0);
        } else {
            assert_eq!(b["result"], "real");
            assert_eq!(b["confidence"], b["prediction_confidence"]);
        }
    }
    assert!(is_str_bool(&v["video"]["blink_detection"]));
    assert_eq!(v["video"]["enhanced_detection"], "True");
    assert_eq!(v["video"]["frame_sampling_rate"], 10);
    assert_eq!(v["video"]["max_frames_analyzed"], 6);
    assert_eq!(v["image_video_facematch"]["performed"], "True");
    assert!(matches!(
        v["image_video_facematch"]["result"].as_str(),
        Some("True" | "False")
    ));
    assert_eq!(v["image_video_facematch"]["frames_tested"], 2);
    assert!(is_pct(&v["overall_confidence"]));
    if v["overall_result"] == "False" {
        assert_eq!(v["overall_confidence"], 0.0);
    }
    // Same inputs, same verdict in both versions.
    assert_eq!(r1.json["overall_result"], v["overall_result"]);
}

#[tokio::test]
async fn v2_still_only_marks_video_and_facematch_not_applicable() {
    let image = media("spoof/frame_les_fake_phone_replay_t1.3.jpg");
    let r = post(
        "/v2/liveness",
        &[
            ("image", Part::File(&image)),
            ("enhanced_detection", Part::Text("False")),
        ],
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.json);
    let v = &r.json;
    assert_eq!(v["image"]["input_provided"], "True");
    assert_eq!(v["video"]["input_provided"], "False");
    assert_eq!(v["video"]["result"], "N/A");
    assert!(v["video"]["confidence"].is_null());
    assert_eq!(v["image_video_facematch"]["performed"], "False");
    assert_eq!(v["image_video_facematch"]["result"], "N/A");
    assert!(v["image_video_facematch"]["confidence"].is_null());
    assert_eq!(v["overall_result"], v["image"]["result"]);
    if v["image"]["result"] == "fake" {
        assert_eq!(v["image"]["confidence"], 0.0);
        assert_eq!(v["overall_confidence"], 0.0);
        assert!(v["image"]["prediction_confidence"].as_f64().unwrap() < 50.0);
    }
}

#[tokio::test]
async fn v2_video_only_replay_zeroes_confidence_and_keeps_the_raw_score() {
    let video = media("video_spoof/les_fake_phone_replay.mp4");
    let r = post(
        "/v2/liveness",
        &[
            ("video", Part::File(&video)),
            ("max_frames_to_analyze", Part::Text("4")),
        ],
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.json);
    let v = &r.json;
    assert_eq!(v["image"]["input_provided"], "False");
    assert_eq!(v["image"]["result"], "N/A");
    assert!(v["image"]["confidence"].is_null() && v["image"]["prediction_confidence"].is_null());
    assert_eq!(v["video"]["input_provided"], "True");
    assert_eq!(v["video"]["result"], "fake", "a phone replay: {v}");
    assert_eq!(v["video"]["confidence"], 0.0);
    assert!(v["video"]["prediction_confidence"].as_f64().unwrap() < 50.0);
    // Video alone is not the enhanced image+video path: its fields are N/A / null.
    assert_eq!(v["video"]["enhanced_detection"], "N/A");
    assert!(v["video"]["frame_sampling_rate"].is_null());
    assert!(v["video"]["video_frames_analyzed"].as_u64().unwrap() <= 4);
    assert_eq!(v["image_video_facematch"]["performed"], "False");
    assert_eq!(v["overall_result"], "fake");
    assert_eq!(v["overall_confidence"], 0.0);
}

#[tokio::test]
async fn v2_base64_image_type() {
    use base64::Engine as _;
    let image = media("live/frame_lp_d11_t2.0.jpg");
    let text = format!(
        "data:image/jpeg;base64,{}",
        base64::engine::general_purpose::STANDARD.encode(&image)
    );
    let r = post(
        "/v2/liveness",
        &[
            ("image", Part::Text(&text)),
            ("image_type", Part::Text("base64")),
        ],
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.json);
    assert_eq!(r.json["image"]["input_provided"], "True");
}

#[tokio::test]
async fn missing_media_is_400_with_msg_message_detail() {
    for path in ["/liveness", "/v2/liveness"] {
        let r = post(path, &[("unique_id", Part::Text("abc"))]).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST);
        assert_envelope(&r);
        assert!(r.json["msg"].is_string());
        assert_eq!(r.json["msg"], r.json["message"]);
        assert_eq!(r.json["detail"]["code"], "missing_media");
    }
}

#[tokio::test]
async fn invalid_tuning_fields_are_422_naming_the_field() {
    let image = media("live/fr_obama.jpg");
    for (field, value) in [
        ("enhanced_detection", "maybe"),
        ("facematch_frames", "three"),
        ("facematch_frames", "0"),
        ("facematch_threshold", "1.5"),
        ("frame_sampling_rate", "0"),
        ("max_frames_to_analyze", "-1"),
        ("image_type", "url"),
    ] {
        let r = post(
            "/v2/liveness",
            &[("image", Part::File(&image)), (field, Part::Text(value))],
        )
        .await;
        assert_eq!(
            r.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{field}={value}"
        );
        assert_envelope(&r);
        let msgs = &r.json["detail"]["body"][field];
        assert!(
            msgs.as_array()
                .is_some_and(|a| a.len() == 1 && a[0].is_string()),
            "{field}: {}",
            r.json
        );
        assert!(r.json["message"].as_str().unwrap().contains(field));
    }
}

#[tokio::test]
async fn garbage_image_is_400_and_the_server_answers_the_next_request() {
    let app = router().await;
    let auth = bearer();
    let garbage = b"\xff\xd8\xff\xe0 this is not really a jpeg".repeat(50);
    let r = send(
        &app,
        post_form(
            "/v2/liveness",
            &[("authorization", auth.as_str())],
            &[("image", Part::File(&garbage))],
        ),
    )
    .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.json);
    assert_eq!(r.json["detail"]["code"], "image_decode");
    assert_envelope(&r);
    let video = b"not a video".repeat(10);
    let r = send(
        &app,
        post_form(
            "/liveness",
            &[("authorization", auth.as_str())],
            &[("video", Part::File(&video))],
        ),
    )
    .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.json);
    let image = media("live/frame_lp_d11_t2.0.jpg");
    let r = send(
        &app,
        post_form(
            "/v2/liveness",
            &[("authorization", auth.as_str())],
            &[("image", Part::File(&image))],
        ),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.json);
}

#[tokio::test]
async fn a_still_without_a_face_is_400_no_face() {
    let blank = blank_png(400, 400);
    let r = post("/v2/liveness", &[("image", Part::File(&blank))]).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.json);
    assert_eq!(r.json["detail"]["code"], "no_face");
}

/// A still that cannot be judged (a webcam frame cropped to the face) is refused with the
/// guidance code, not answered live or fake.
#[tokio::test]
async fn a_still_that_cannot_be_judged_is_400_poor_quality() {
    let crop = media("spoof/nuaa_imposter_0001.jpg");
    let r = post("/v2/liveness", &[("image", Part::File(&crop))]).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.json);
    assert_eq!(r.json["detail"]["code"], "poor_quality");
    let msg = r.json["msg"].as_str().unwrap_or_default();
    assert!(msg.contains("too_close"), "{msg}");
}

#[tokio::test]
async fn routes_are_also_served_under_the_prefix() {
    let mut c = config();
    c.route_prefix = "/sumi".into();
    let app = router_with(c).await;
    let auth = bearer();
    for path in ["/sumi/v2/liveness", "/sumi/liveness", "/v2/liveness"] {
        let r = send(
            &app,
            post_form(path, &[("authorization", auth.as_str())], &[]),
        )
        .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{path}");
    }
    let r = send(&app, post_form("/sumi/healthz", &[], &[])).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
}
