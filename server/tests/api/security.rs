//! Bearer-token rejections, headers on every response, body limits, pool saturation.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use jsonwebtoken::{encode, Algorithm, EncodingKey, Header};
use liveproof_server::config::Config;
use serde_json::json;

use crate::common::*;

async fn liveness_with_auth(auth: Option<&str>) -> Reply {
    let app = router().await;
    let headers: Vec<(&str, &str)> = auth.map(|a| ("authorization", a)).into_iter().collect();
    send(
        &app,
        post_form("/liveness", &headers, &[("unique_id", Part::Text("x"))]),
    )
    .await
}

fn assert_401(r: &Reply, needle: &str) {
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.json);
    assert_eq!(r.json["detail"], json!({}));
    let m = r.json["message"].as_str().unwrap();
    assert!(m.contains(needle), "{m:?} should mention {needle:?}");
    assert_envelope(r);
}

#[tokio::test]
async fn every_bad_token_kind_is_401() {
    let exp = now() + 600;
    // No header, wrong scheme.
    assert_401(&liveness_with_auth(None).await, "missing Authorization");
    assert_401(&liveness_with_auth(Some("Basic abc")).await, "Bearer");
    // alg none: header {"alg":"none"} with an empty signature.
    let b64 = |v: serde_json::Value| {
        use base64::Engine as _;
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string())
    };
    let none = format!(
        "{}.{}.",
        b64(json!({"alg": "none", "typ": "JWT"})),
        b64(json!({"sub": "x", "exp": exp}))
    );
    assert_401(
        &liveness_with_auth(Some(&format!("Bearer {none}"))).await,
        "token",
    );
    // Wrong algorithm with the right secret (HS384), and an RS256 token.
    let hs384 = hs_token(json!({"exp": exp}), SECRET, Algorithm::HS384);
    assert_401(
        &liveness_with_auth(Some(&format!("Bearer {hs384}"))).await,
        "algorithm",
    );
    let rsa = EncodingKey::from_rsa_pem(include_bytes!("../keys/rsa_private.pem")).unwrap();
    let rs256 = encode(&Header::new(Algorithm::RS256), &json!({"exp": exp}), &rsa).unwrap();
    assert_401(
        &liveness_with_auth(Some(&format!("Bearer {rs256}"))).await,
        "algorithm",
    );
    // Expired, not yet valid, bad signature, garbage, no exp.
    let expired = hs_token(json!({"exp": now() - 3600}), SECRET, Algorithm::HS256);
    assert_401(
        &liveness_with_auth(Some(&format!("Bearer {expired}"))).await,
        "expired",
    );
    let nbf = hs_token(
        json!({"exp": exp, "nbf": now() + 3600}),
        SECRET,
        Algorithm::HS256,
    );
    assert_401(
        &liveness_with_auth(Some(&format!("Bearer {nbf}"))).await,
        "not yet valid",
    );
    let forged = hs_token(
        json!({"exp": exp}),
        "another-secret-another-secret-0123456",
        Algorithm::HS256,
    );
    assert_401(
        &liveness_with_auth(Some(&format!("Bearer {forged}"))).await,
        "signature",
    );
    assert_401(&liveness_with_auth(Some("Bearer not.a.jwt")).await, "token");
    let no_exp = hs_token(json!({"sub": "x"}), SECRET, Algorithm::HS256);
    assert_401(
        &liveness_with_auth(Some(&format!("Bearer {no_exp}"))).await,
        "claim",
    );
}

/// RS256 and EdDSA deployments accept their own tokens (the request then fails on missing
/// media, proving authentication passed) and refuse HS256 ones.
#[tokio::test]
async fn rs256_and_eddsa_keys_from_config() {
    let cases = [
        (
            "RS256",
            include_str!("../keys/rsa_public.pem"),
            EncodingKey::from_rsa_pem(include_bytes!("../keys/rsa_private.pem")).unwrap(),
            Algorithm::RS256,
        ),
        (
            "EdDSA",
            include_str!("../keys/ed25519_public.pem"),
            EncodingKey::from_ed_pem(include_bytes!("../keys/ed25519_private.pem")).unwrap(),
            Algorithm::EdDSA,
        ),
    ];
    for (name, public, private, alg) in cases {
        let mut c = Config::default();
        c.jwt.algorithm = Some(name.into());
        c.jwt.public_key_pem = Some(public.into());
        let app = router_with(c).await;
        let token = encode(
            &Header::new(alg),
            &json!({"exp": now() + 60, "scope": "liveness"}),
            &private,
        )
        .unwrap();
        let auth = format!("Bearer {token}");
        let r = send(
            &app,
            post_form("/v2/liveness", &[("authorization", auth.as_str())], &[]),
        )
        .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{name}: {}", r.json);
        let hs = format!(
            "Bearer {}",
            hs_token(json!({"exp": now() + 60}), SECRET, Algorithm::HS256)
        );
        let r = send(
            &app,
            post_form("/v2/liveness", &[("authorization", hs.as_str())], &[]),
        )
        .await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{name}");
    }
}

#[tokio::test]
async fn request_id_and_security_headers_on_success_and_errors() {
    let app = router().await;
    // Success, with a sane incoming id echoed.
    let r = send(
        &app,
        Request::get("/healthz")
            .header("x-request-id", "client-id_42.a:b")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_envelope(&r);
    assert_eq!(r.headers["x-request-id"], "client-id_42.a:b");
    // An insane id is replaced with a UUID.
    let r = send(
        &app,
        Request::get("/healthz")
            .header("x-request-id", "bad id with spaces")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    let id = r.headers["x-request-id"].to_str().unwrap();
    assert!(uuid::Uuid::parse_str(id).is_ok(), "{id}");
    // Errors: 404, 405, 401.
    let r = send(&app, Request::get("/nope").body(Body::empty()).unwrap()).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_envelope(&r);
    let r = send(&app, Request::get("/liveness").body(Body::empty()).unwrap()).await;
    assert_eq!(r.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_envelope(&r);
    let r = send(&app, post_form("/liveness", &[], &[])).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_envelope(&r);
}

#[tokio::test]
async fn oversized_bodies_are_413() {
    let mut c = config();
    c.limits.liveness_body_bytes = 4096;
    c.limits.selfie_body_bytes = 4096;
    let app = router_with(c).await;
    let big = vec![0u8; 20_000];
    let auth = bearer();
    let r = send(
        &app,
        post_form(
            "/liveness",
            &[("authorization", auth.as_str())],
            &[("image", Part::File(&big))],
        ),
    )
    .await;
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE, "{}", r.json);
    assert_envelope(&r);
    let body = json!({"image": "A".repeat(20_000)}).to_string();
    let r = send(
        &app,
        Request::post("/api/v1/ml/liveness/")
            .header("appid", SELFIE_APP.0)
            .header("authorization", SELFIE_APP.1)
            .header("content-type", "application/json")
            .body(Body::from(body))
            .unwrap(),
    )
    .await;
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE, "{}", r.json);
    assert_envelope(&r);
}

#[tokio::test]
async fn saturated_pool_is_503_with_retry_after() {
    let mut c = config();
    c.pool.size = 0;
    c.pool.queue = 0;
    c.pool.retry_after_s = 7;
    let app = router_with(c).await;
    let image = media("live/fr_obama.jpg");
    let auth = bearer();
    let r = send(
        &app,
        post_form(
            "/v2/liveness",
            &[("authorization", auth.as_str())],
            &[("image", Part::File(&image))],
        ),
    )
    .await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE, "{}", r.json);
    assert_eq!(r.headers["retry-after"], "7");
    assert_envelope(&r);
    let m = send(
        &app,
        Request::get("/metrics")
            .header("authorization", metrics_bearer())
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    let text = m.json.as_str().unwrap();
    assert!(text.contains("liveproof_pool_rejected_total 1"), "{text}");
}
