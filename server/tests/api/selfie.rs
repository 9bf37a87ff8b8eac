//! Seed 002: `POST /api/v1/ml/liveness/` with AppId + Authorization and a base64 JSON body.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use base64::Engine as _;
use serde_json::{json, Value};

use crate::common::*;

fn request(app: (&str, &str), body: String) -> Request<Body> {
    Request::post("/api/v1/ml/liveness/")
        .header("appid", app.0)
        .header("authorization", app.1)
        .header("content-type", "application/json")
        .body(Body::from(body))
        .unwrap()
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn num_in(v: &Value, lo: f64, hi: f64) -> bool {
    v.as_f64().is_some_and(|x| (lo..=hi).contains(&x))
}

#[tokio::test]
async fn a_real_face_fills_every_documented_key_with_its_type() {
    let state = state_with(config()).await;
    let app = liveproof_server::app(state.clone());
    let body = json!({"image": b64(&media("live/fr_obama.jpg"))}).to_string();
    let r = send(&app, request(SELFIE_APP, body)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.json);
    assert_envelope(&r);
    let e = &r.json["entity"];
    let l = &e["liveness"];
    assert!(num_in(&l["liveness_probability"], 0.0, 100.0));
    assert_eq!(
        l["liveness_check"].as_bool().unwrap(),
        l["liveness_probability"].as_f64().unwrap() > 50.0
    );
    let f = &e["face"];
    assert_eq!(f["face_detected"], true);
    assert_eq!(f["message"], "face detected");
    assert_eq!(f["multiface_detected"], false);
    assert!(num_in(&f["confidence"], 0.0, 100.0));
    for k in ["width", "height", "left", "top"] {
        assert!(num_in(&f["bounding_box"][k], 0.0, 1.0), "{k}");
    }
    assert!(num_in(&f["quality"]["brightness"], 0.0, 100.0));
    assert!(num_in(&f["quality"]["sharpness"], 0.0, 100.0));
    let d = &f["details"];
    let (low, high) = (
        d["age_range"]["low"].as_i64().unwrap(),
        d["age_range"]["high"].as_i64().unwrap(),
    );
    assert!(0 <= low && low <= high && high <= 100, "{low}..{high}");
    assert!(d["smile"]["value"].is_boolean());
    assert!(num_in(&d["smile"]["confidence"], 50.0, 100.0));
    assert!(matches!(
        d["gender"]["value"].as_str(),
        Some("Male" | "Female")
    ));
    assert!(num_in(&d["gender"]["confidence"], 50.0, 100.0));
    for k in ["eyeglasses", "sunglasses", "beard", "mustache"] {
        assert!(d[k].is_null(), "{k} has no model and must be null");
    }
    for k in ["eyes_open", "mouth_open"] {
        assert!(d[k]["value"].is_boolean(), "{k}");
        assert!(d[k]["confidence"].is_null(), "{k}");
    }
    assert_eq!(d["eyes_open"]["value"], true, "a portrait has open eyes");
    let emotions = d["emotions"].as_array().unwrap();
    assert_eq!(emotions.len(), 7);
    let confs: Vec<f64> = emotions
        .iter()
        .map(|x| x["confidence"].as_f64().unwrap())
        .collect();
    assert!(confs.windows(2).all(|w| w[0] >= w[1]), "sorted: {confs:?}");
    assert!((confs.iter().sum::<f64>() - 100.0).abs() < 1.0);
    let mut types: Vec<&str> = emotions
        .iter()
        .map(|x| x["type"].as_str().unwrap())
        .collect();
    types.sort();
    assert_eq!(
        types,
        [
            "ANGRY",
            "CALM",
            "DISGUSTED",
            "FEAR",
            "HAPPY",
            "SAD",
            "SURPRISED"
        ]
    );
    // The verdict is audited (without media).
    assert!(state.store.audit_len().await.unwrap() >= 1);
}

#[tokio::test]
async fn data_url_prefix_no_face_and_several_faces() {
    let app = router().await;
    let body = json!({"image": format!("data:image/png;base64,{}", b64(&blank_png(320, 240)))});
    let r = send(&app, request(SELFIE_APP, body.to_string())).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.json);
    let e = &r.json["entity"];
    assert_eq!(e["face"]["face_detected"], false);
    assert_eq!(e["face"]["message"], "no face detected");
    assert_eq!(e["liveness"]["liveness_check"], false);
    assert!(e["liveness"]["liveness_probability"].is_null());
    for k in ["details", "quality", "confidence", "bounding_box"] {
        assert!(e["face"][k].is_null(), "{k}");
    }
    let body = json!({"image": b64(&media("live/df_couple.jpg"))});
    let r = send(&app, request(SELFIE_APP, body.to_string())).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.json);
    assert_eq!(r.json["entity"]["face"]["multiface_detected"], true);
    assert_eq!(r.json["entity"]["face"]["face_detected"], true);
}

#[tokio::test]
async fn auth_bad_body_and_quota_errors() {
    let app = router().await;
    let ok_body = json!({"image": "aGVsbG8="}).to_string();
    // Wrong key, unknown app, Bearer-prefixed key, missing headers → 401.
    for (id, key) in [
        (SELFIE_APP.0, "wrong"),
        ("nobody", SELFIE_APP.1),
        (SELFIE_APP.0, &*format!("Bearer {}", SELFIE_APP.1)),
    ] {
        let r = send(&app, request((id, key), ok_body.clone())).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{id}/{key}");
        assert_eq!(r.json["detail"], json!({}));
        assert_envelope(&r);
    }
    let r = send(
        &app,
        Request::post("/api/v1/ml/liveness/")
            .body(Body::from(ok_body.clone()))
            .unwrap(),
    )
    .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    // Malformed JSON, bad base64, undecodable image → 400 with msg.
    for body in ["{not json", r#"{"image": "!!!"}"#, ok_body.as_str()] {
        let r = send(&app, request(SELFIE_APP, body.into())).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{body}: {}", r.json);
        assert!(r.json["msg"].is_string());
    }
    // The quota key allows one request; the next is 403.
    let r = send(&app, request(QUOTA_APP, ok_body.clone())).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let r = send(&app, request(QUOTA_APP, ok_body)).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.json);
    assert_eq!(r.json["detail"], json!({}));
    assert_envelope(&r);
}

#[tokio::test]
async fn over_the_rate_limit_is_429_with_retry_after() {
    let app = router().await;
    let body = json!({"image": "aGVsbG8="}).to_string();
    let r = send(&app, request(RATE_APP, body.clone())).await;
    assert_eq!(
        r.status,
        StatusCode::BAD_REQUEST,
        "first request passes the limiter"
    );
    let r = send(&app, request(RATE_APP, body)).await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS, "{}", r.json);
    let wait: u64 = r.headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=60).contains(&wait), "{wait}");
    assert_envelope(&r);
}

/// A crop that is all face (a live face cropped to its box) cannot be judged: no probability
/// is invented, the check is false and the message says what to do.
#[tokio::test]
async fn a_crop_that_is_all_face_gets_no_probability() {
    let state = state_with(config()).await;
    let app = liveproof_server::app(state.clone());
    let body = json!({"image": b64(&media("live/krz_real_crop_35.png"))}).to_string();
    let r = send(&app, request(SELFIE_APP, body)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.json);
    let e = &r.json["entity"];
    assert!(
        e["liveness"]["liveness_probability"].is_null(),
        "{}",
        r.json
    );
    assert_eq!(e["liveness"]["liveness_check"], false);
    assert_eq!(e["face"]["face_detected"], true);
    assert_eq!(e["face"]["message"], "Move back a little");
    // The face is still described.
    assert!(num_in(&e["face"]["confidence"], 50.0, 100.0));
    // The same person's photo with room around the face is judged.
    let body = json!({"image": b64(&media("live/fr_obama.jpg"))}).to_string();
    let r = send(&app, request(SELFIE_APP, body)).await;
    assert!(num_in(
        &r.json["entity"]["liveness"]["liveness_probability"],
        0.0,
        100.0
    ));
}
