//! Seed 004: `POST /v0.2/liveness-verification` with app-id + app-key, multipart selfie +
//! threshold.

use axum::http::StatusCode;
use serde_json::json;

use crate::common::*;

const PATH: &str = "/v0.2/liveness-verification";

fn creds(app: (&'static str, &'static str)) -> [(&'static str, &'static str); 2] {
    [("app-id", app.0), ("app-key", app.1)]
}

#[tokio::test]
async fn a_selfie_is_scored_against_the_threshold() {
    let app = router().await;
    let selfie = media("live/fr_obama.jpg");
    let mut scores = Vec::new();
    for threshold in ["0", "0.5", "1"] {
        let r = send(
            &app,
            post_form(
                PATH,
                &creds(VERIFY_APP),
                &[
                    ("selfie", Part::File(&selfie)),
                    ("threshold", Part::Text(threshold)),
                ],
            ),
        )
        .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.json);
        assert_envelope(&r);
        assert_eq!(r.headers["content-type"], "application/json");
        assert!(r.headers.get("content-length").is_some());
        let v = &r.json;
        assert_eq!(v["request_id"], r.headers["x-request-id"].to_str().unwrap());
        let score = v["liveness"]["score"].as_f64().unwrap();
        let t: f64 = threshold.parse().unwrap();
        assert!((0.0..=1.0).contains(&score));
        assert_eq!(v["liveness"]["threshold"], t);
        assert_eq!(v["liveness"]["is_live"], score >= t);
        assert_eq!(v["face"]["detected"], true);
        assert_eq!(v["face"]["multiple_faces"], false);
        assert!(v["face"]["confidence"].as_f64().unwrap() > 0.5);
        for k in ["x", "y", "width", "height"] {
            assert!(v["face"]["bounding_box"][k].is_i64(), "{k}");
        }
        assert_eq!(v["image"], json!({"width": 910, "height": 1137}));
        scores.push(score);
    }
    assert!(scores.windows(2).all(|w| w[0] == w[1]), "deterministic");
}

#[tokio::test]
async fn selfie_size_threshold_and_missing_selfie_are_400() {
    let app = router().await;
    let small = media("live/nuaa_client_0001.jpg"); // 203x203
    let wide = blank_png(5001, 310);
    for (img, needle) in [(&small, "203x203"), (&wide, "5001x310")] {
        let r = send(
            &app,
            post_form(PATH, &creds(VERIFY_APP), &[("selfie", Part::File(img))]),
        )
        .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.json);
        assert_eq!(r.json["detail"]["code"], "invalid_selfie_size");
        let m = r.json["message"].as_str().unwrap();
        assert!(
            m.contains(needle) && m.contains("300") && m.contains("5000"),
            "{m}"
        );
        assert_envelope(&r);
    }
    let selfie = media("live/fr_obama.jpg");
    for t in ["1.5", "-0.1", "high"] {
        let r = send(
            &app,
            post_form(
                PATH,
                &creds(VERIFY_APP),
                &[
                    ("selfie", Part::File(&selfie)),
                    ("threshold", Part::Text(t)),
                ],
            ),
        )
        .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{t}");
        assert_eq!(r.json["detail"]["code"], "invalid_threshold");
    }
    let r = send(
        &app,
        post_form(
            PATH,
            &creds(VERIFY_APP),
            &[("threshold", Part::Text("0.5"))],
        ),
    )
    .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.json["detail"]["code"], "missing_selfie");
}

#[tokio::test]
async fn bad_credentials_are_401_and_spent_quota_is_403() {
    let app = router().await;
    let small = media("live/nuaa_client_0001.jpg");
    for headers in [
        vec![("app-id", VERIFY_APP.0), ("app-key", "nope")],
        vec![("app-id", "ghost"), ("app-key", VERIFY_APP.1)],
        vec![("app-id", VERIFY_APP.0)],
        vec![],
    ] {
        let r = send(
            &app,
            post_form(PATH, &headers, &[("selfie", Part::File(&small))]),
        )
        .await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{headers:?}");
        assert_envelope(&r);
    }
    let r = send(
        &app,
        post_form(PATH, &creds(QUOTA_APP), &[("selfie", Part::File(&small))]),
    )
    .await;
    assert_eq!(
        r.status,
        StatusCode::BAD_REQUEST,
        "the first request is within quota"
    );
    let r = send(
        &app,
        post_form(PATH, &creds(QUOTA_APP), &[("selfie", Part::File(&small))]),
    )
    .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.json);
    assert!(r.json["message"].as_str().unwrap().contains("usage limit"));
    assert_envelope(&r);
}

/// A crop that is all face: `score` null, `is_live` false, and `reason` the guidance code.
#[tokio::test]
async fn a_face_that_cannot_be_judged_has_a_reason_and_no_score() {
    let app = router().await;
    let selfie = media("live/krz_real_crop_35.png");
    let r = send(
        &app,
        post_form(
            PATH,
            &creds(VERIFY_APP),
            &[
                ("selfie", Part::File(&selfie)),
                ("threshold", Part::Text("0")),
            ],
        ),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.json);
    let l = &r.json["liveness"];
    assert!(l["score"].is_null(), "{}", r.json);
    // Even at threshold 0 a face that cannot be judged is not live.
    assert_eq!(l["is_live"], false);
    assert_eq!(l["reason"], "too_close");
    assert_eq!(r.json["face"]["detected"], true);
}
