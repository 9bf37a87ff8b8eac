//! The server facing the open internet: secrets and authority. Each test is a finding tried
//! against the release server that the code before it accepted.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use jsonwebtoken::Algorithm;
use liveproof_server::config::{Config, EXAMPLE_JWT_SECRET};
use liveproof_server::state::store::KeyRecord;
use liveproof_server::{app, AppState};
use serde_json::json;

use crate::common::*;

fn v2(auth: &str) -> Request<Body> {
    post_form("/v2/liveness", &[("authorization", auth)], &[])
}

fn sessions(auth: &str) -> Request<Body> {
    Request::post("/v1/sessions")
        .header("authorization", auth)
        .body(Body::empty())
        .unwrap()
}

#[tokio::test]
async fn the_published_demo_secrets_run_only_as_a_local_demo() {
    // The example config's JWT secret, its API key `secret`, public sessions: refused, with
    // one line saying why, unless demo = true on a loopback address.
    let mut c = config();
    c.jwt.secret = Some(EXAMPLE_JWT_SECRET.into());
    let e = AppState::new(c.clone()).await.unwrap_err().to_string();
    assert!(
        e.contains("the example JWT secret") && e.contains("demo = true"),
        "{e}"
    );
    assert!(!e.contains('\n'), "one line: {e}");
    let mut k = config();
    k.api_keys[0].key = Some("secret".into());
    let e = AppState::new(k).await.unwrap_err().to_string();
    assert!(e.contains("the example API key"), "{e}");
    let mut p = config();
    p.sessions.public = true;
    let e = AppState::new(p).await.unwrap_err().to_string();
    assert!(e.contains("public sessions"), "{e}");

    c.demo = true;
    assert!(AppState::new(c.clone()).await.is_ok(), "a local demo");
    c.addr = "0.0.0.0:8080".into();
    let e = AppState::new(c.clone()).await.unwrap_err().to_string();
    assert!(e.contains("loopback"), "{e}");
    // The shipped example file is the demo's, on loopback.
    let example = Config::from_file(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("config.example.toml")
            .as_path(),
    )
    .unwrap();
    assert!(example.demo);
    assert!(example.validate().is_ok());
    let mut exposed = example;
    exposed.addr = "0.0.0.0:8080".into();
    assert!(exposed.validate().is_err());
}

#[tokio::test]
async fn tokens_live_briefly_and_carry_what_is_configured() {
    let app = router().await;
    let token = |claims: serde_json::Value| {
        format!("Bearer {}", hs_token(claims, SECRET, Algorithm::HS256))
    };
    // A token valid for 31 years is refused (default maximum: one day).
    let forever = token(json!({"sub": "x", "scope": "liveness", "exp": now() + 31 * 365 * 86400}));
    let r = send(&app, v2(&forever)).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.json);
    assert!(
        r.json["message"].as_str().unwrap().contains("lifetime"),
        "{}",
        r.json
    );
    // ... also when it claims a recent iat.
    let backdated = token(
        json!({"sub": "x", "scope": "liveness", "iat": now() - 10, "exp": now() + 2 * 86400}),
    );
    assert_eq!(
        send(&app, v2(&backdated)).await.status,
        StatusCode::UNAUTHORIZED
    );
    // Within the maximum: accepted (400: the form is empty).
    let day = token(json!({"sub": "x", "scope": "liveness", "iat": now(), "exp": now() + 3600}));
    assert_eq!(send(&app, v2(&day)).await.status, StatusCode::BAD_REQUEST);

    // A configured audience and issuer are required, not only checked when present.
    let mut c = config();
    c.jwt.audience = Some("liveproof".into());
    c.jwt.issuer = Some("https://bank.example".into());
    let app = router_with(c).await;
    let bare = token(json!({"sub": "x", "scope": "liveness", "exp": now() + 600}));
    assert_eq!(send(&app, v2(&bare)).await.status, StatusCode::UNAUTHORIZED);
    let no_iss =
        token(json!({"sub": "x", "scope": "liveness", "aud": "liveproof", "exp": now() + 600}));
    assert_eq!(
        send(&app, v2(&no_iss)).await.status,
        StatusCode::UNAUTHORIZED
    );
    let full = token(json!({"sub": "x", "scope": "liveness", "aud": "liveproof",
                            "iss": "https://bank.example", "exp": now() + 600}));
    assert_eq!(send(&app, v2(&full)).await.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn a_token_does_only_what_its_scope_says() {
    let app = router().await;
    let code = |r: &Reply| {
        r.json["detail"]["code"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    };
    // No scope at all: nothing.
    let none = bearer_for("x", "");
    let r = send(&app, v2(&none)).await;
    assert_eq!(
        (r.status, code(&r)),
        (StatusCode::FORBIDDEN, "insufficient_scope".into())
    );
    let r = send(&app, sessions(&none)).await;
    assert_eq!(
        (r.status, code(&r)),
        (StatusCode::FORBIDDEN, "insufficient_scope".into())
    );
    // Each scope opens its own routes only.
    let liveness = bearer_for("x", "liveness");
    assert_eq!(
        send(&app, v2(&liveness)).await.status,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        send(&app, sessions(&liveness)).await.status,
        StatusCode::FORBIDDEN
    );
    let sess = bearer_for("x", "sessions");
    assert_eq!(
        send(&app, sessions(&sess)).await.status,
        StatusCode::CREATED
    );
    assert_eq!(send(&app, v2(&sess)).await.status, StatusCode::FORBIDDEN);
    let devices = Request::post("/v1/devices")
        .header("authorization", &sess)
        .header("content-type", "application/json")
        .body(Body::from(r#"{"public_key":"AAAA"}"#))
        .unwrap();
    assert_eq!(send(&app, devices).await.status, StatusCode::FORBIDDEN);
    let metrics = Request::get("/metrics")
        .header("authorization", &liveness)
        .body(Body::empty())
        .unwrap();
    assert_eq!(send(&app, metrics).await.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn an_api_key_removed_from_the_config_stops_working() {
    // The store (a database file kept across restarts) still has a key the config dropped.
    let state = state_with(config()).await;
    state
        .store
        .upsert_key(&KeyRecord {
            app_id: "removed-app".into(),
            key_hash: liveproof_server::auth::hash_key("removed-key"),
            quota: None,
            used: 0,
            rate_per_minute: None,
        })
        .await
        .unwrap();
    let app = app(state);
    let selfie = |app_id: &str, key: &str| {
        Request::post("/api/v1/ml/liveness/")
            .header("appid", app_id)
            .header("authorization", key)
            .header("content-type", "application/json")
            .body(Body::from(r#"{"image": "@@"}"#))
            .unwrap()
    };
    let r = send(&app, selfie("removed-app", "removed-key")).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.json);
    // A configured key still works (400: the image is not base64).
    let r = send(&app, selfie(SELFIE_APP.0, SELFIE_APP.1)).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.json);
}

#[tokio::test]
async fn a_bundle_costs_at_most_what_the_sdk_sends_and_its_run_has_a_time_budget() {
    use crate::bundles::*;
    let mut c = policy_config();
    c.limits.evidence_body_bytes = 64 * 1024 * 1024;
    let app = router_with(c).await;
    // More frames than the SDK ever sends: refused from the manifest, before any is read.
    let s = create_session(&app, json!({})).await;
    let mut b = bundle(Clip::BlinkSmile, &s);
    let frame = b.manifest.items[0].clone();
    let data = b.data[0].clone();
    for i in 0..20 {
        let mut item = frame.clone();
        item.name = format!("extra-{i:02}.jpg");
        b.manifest.items.insert(0, item);
        b.data.insert(0, data.clone());
    }
    let r = submit(&app, &s, &b).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.json);
    assert_eq!(r.json["detail"]["code"], "too_many_frames");

    // A run past its budget is stopped and refused (here a budget no run can meet).
    let mut c = policy_config();
    c.verification.max_run_ms = 1;
    let app = router_with(c).await;
    let s = create_session(&app, json!({})).await;
    let r = submit(&app, &s, &bundle(Clip::BlinkSmile, &s)).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.json);
    assert_eq!(r.json["detail"]["code"], "over_budget");
}
