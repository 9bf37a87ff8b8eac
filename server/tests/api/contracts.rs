//! The response contracts, pinned as snapshots (`tests/api/snapshots/`, reviewed with
//! `cargo insta review`): every key in its order, every `null`, the type of every number and
//! the value of every string that is an enumeration, for each route's documents on real media.
//! A change to a contract shows up as a snapshot diff to accept, never silently. Under `CI`
//! a missing or different snapshot fails the test.
//!
//! What is pinned is the shape, not the measurements: numbers become `<integer>` or
//! `<number>`, strings that differ per request (ids, keys, nonces, times, tokens) become
//! `<string>`, and an array becomes the sorted set of its elements' shapes (so a list of
//! per-frame entries does not depend on how many frames a run kept). The values themselves are
//! asserted by the route tests beside this one.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use base64::Engine as _;
use ed25519_dalek::SigningKey;
use liveproof::evidence::jws;
use liveproof_server::app;
use serde_json::{json, Map, Value};

use crate::bundles::{bundle, create_session, policy_config, submit, Clip};
use crate::common::*;

/// Keys whose string values differ per request.
const PER_REQUEST: [&str; 16] = [
    "request_id",
    "session_id",
    "nonce",
    "session_key",
    "expires_at",
    "evidence_url",
    "ticket",
    "url",
    "verdict",
    "sub",
    "jti",
    "manifest_sha256",
    "device_id",
    "public_key",
    "created_at",
    "revoked_at",
];

/// The contract a document follows (see the module docs).
fn shape(v: &Value) -> Value {
    fn walk(key: Option<&str>, v: &Value) -> Value {
        match v {
            Value::Number(n) if n.is_i64() || n.is_u64() => json!("<integer>"),
            Value::Number(_) => json!("<number>"),
            Value::String(_) if key.is_some_and(|k| PER_REQUEST.contains(&k)) => {
                json!("<string>")
            }
            Value::Array(items) => {
                let mut shapes: Vec<Value> = items.iter().map(|i| walk(key, i)).collect();
                shapes.sort_by_key(Value::to_string);
                shapes.dedup();
                Value::Array(shapes)
            }
            Value::Object(map) => Value::Object(
                map.iter()
                    .map(|(k, v)| (k.clone(), walk(Some(k), v)))
                    .collect::<Map<_, _>>(),
            ),
            other => other.clone(),
        }
    }
    walk(None, v)
}

fn pin(name: &str, r: &Reply) {
    insta::assert_json_snapshot!(
        name,
        json!({"status": r.status.as_u16(), "body": shape(&r.json)})
    );
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

#[test]
fn the_shape_keeps_keys_types_and_enumerations_only() {
    let doc = json!({"request_id": "r-1", "label": "REAL", "score": 0.5, "n": 3, "gone": null,
                     "frames": [{"t": 1.5}, {"t": 2.0}], "ok": true});
    assert_eq!(
        shape(&doc).to_string(),
        json!({"request_id": "<string>", "label": "REAL", "score": "<number>", "n": "<integer>",
               "gone": null, "frames": [{"t": "<number>"}], "ok": true})
        .to_string()
    );
}

#[tokio::test]
async fn the_liveness_documents_v1_and_v2() {
    let app = router().await;
    let auth = bearer();
    // The same child as a still and a clip (a crop that is all face would be refused).
    let image = media("live/frame_lp_d11_t2.0.jpg");
    let video = media("video_live/lp_d11.mp4");
    for (name, path) in [
        ("liveness_v1", "/liveness"),
        ("liveness_v2", "/v2/liveness"),
    ] {
        let parts = [("image", Part::File(&image)), ("video", Part::File(&video))];
        let r = send(&app, post_form(path, &[("authorization", &auth)], &parts)).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.json);
        pin(name, &r);
    }
    let r = send(
        &app,
        post_form(
            "/v2/liveness",
            &[("authorization", &auth)],
            &[
                ("image", Part::File(&image)),
                ("facematch_frames", Part::Text("0")),
            ],
        ),
    )
    .await;
    pin("liveness_invalid_field", &r);
    let r = send(
        &app,
        post_form("/liveness", &[], &[("image", Part::File(&image))]),
    )
    .await;
    pin("liveness_unauthorized", &r);
    let r = send(
        &app,
        post_form("/liveness", &[("authorization", &auth)], &[]),
    )
    .await;
    pin("liveness_no_media", &r);
}

#[tokio::test]
async fn the_selfie_document_with_and_without_a_face() {
    let app = router().await;
    for (name, image) in [
        ("selfie_face", media("live/fr_obama.jpg")),
        ("selfie_no_face", blank_png(640, 480)),
    ] {
        let r = send(
            &app,
            Request::post("/api/v1/ml/liveness/")
                .header("appid", SELFIE_APP.0)
                .header("authorization", SELFIE_APP.1)
                .header("content-type", "application/json")
                .body(Body::from(json!({"image": b64(&image)}).to_string()))
                .unwrap(),
        )
        .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.json);
        pin(name, &r);
    }
}

#[tokio::test]
async fn the_verification_document_with_and_without_a_face() {
    let app = router().await;
    let headers = [("app-id", VERIFY_APP.0), ("app-key", VERIFY_APP.1)];
    for (name, image) in [
        ("verification_face", media("live/fr_obama.jpg")),
        ("verification_no_face", blank_png(640, 480)),
    ] {
        let parts = [
            ("selfie", Part::File(&image)),
            ("threshold", Part::Text("0.5")),
        ];
        let r = send(
            &app,
            post_form("/v0.2/liveness-verification", &headers, &parts),
        )
        .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.json);
        pin(name, &r);
    }
    let image = media("live/fr_obama.jpg");
    let parts = [
        ("selfie", Part::File(&image)),
        ("threshold", Part::Text("2")),
    ];
    let r = send(
        &app,
        post_form("/v0.2/liveness-verification", &headers, &parts),
    )
    .await;
    pin("verification_invalid_threshold", &r);
}

#[tokio::test]
async fn the_session_flow_documents_and_the_signed_verdict() {
    let state = state_with(policy_config()).await;
    let app = app(state);
    let r = send(
        &app,
        Request::post("/v1/sessions")
            .header("authorization", bearer())
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.json);
    pin("session_created", &r);

    let s = create_session(&app, json!({})).await;
    let r = submit(&app, &s, &bundle(Clip::BlinkSmile, &s)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.json);
    assert_eq!(r.json["result"]["label"], "REAL", "{}", r.json);
    pin("evidence_verdict", &r);
    let r = submit(&app, &s, &bundle(Clip::BlinkSmile, &s)).await;
    pin("evidence_refused", &r);

    let r = send(
        &app,
        Request::get("/v1/kiosk/policy")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.json);
    pin("kiosk_policy", &r);

    let r = send(
        &app,
        Request::post("/v1/ws-tickets")
            .header("authorization", bearer())
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.json);
    pin("ws_ticket", &r);

    let key = SigningKey::from_bytes(&[7; 32]);
    let r = send(
        &app,
        Request::post("/v1/devices")
            .header("authorization", admin_bearer())
            .header("content-type", "application/json")
            .body(Body::from(
                json!({"public_key": jws::b64(key.verifying_key().as_bytes()), "label": "lobby"})
                    .to_string(),
            ))
            .unwrap(),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.json);
    pin("device_registered", &r);
    let id = r.json["device_id"].as_str().unwrap().to_owned();
    let r = send(
        &app,
        Request::delete(format!("/v1/devices/{id}"))
            .header("authorization", admin_bearer())
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.json);
    pin("device_revoked", &r);
}
