//! `POST /v1/sessions` and `GET /.well-known/jwks.json`: what a session carries, that its
//! script is the core's draw from the nonce under the server's policy, who may create one,
//! and option validation (a relying party may only narrow the policy: see also `attacks`).

use std::net::SocketAddr;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Request, StatusCode};
use ed25519_dalek::pkcs8::DecodePrivateKey;
use liveproof::challenge::{seed_from_nonce, ChallengeAction, ChallengeConfig, ChallengeSession};
use liveproof::evidence::jws;
use serde_json::{json, Value};

use crate::bundles::*;
use crate::common::*;

fn create(auth: Option<&str>, body: &str, peer: Option<&str>) -> Request<Body> {
    let mut r = Request::post("/v1/sessions").header("content-type", "application/json");
    if let Some(a) = auth {
        r = r.header("authorization", a);
    }
    let mut req = r.body(Body::from(body.to_owned())).unwrap();
    if let Some(ip) = peer {
        let addr: SocketAddr = format!("{ip}:40000").parse().unwrap();
        req.extensions_mut().insert(ConnectInfo(addr));
    }
    req
}

fn drawn(actions: &[ChallengeAction], count: usize, nonce: &str) -> Vec<ChallengeAction> {
    let config = ChallengeConfig {
        actions: actions.to_vec(),
        count,
        ..ChallengeConfig::default()
    };
    ChallengeSession::new(config, seed_from_nonce(nonce.as_bytes()))
        .unwrap()
        .script()
        .to_vec()
}

#[tokio::test]
async fn a_session_carries_a_key_an_expiry_and_the_script_the_core_draws_from_its_nonce() {
    let app = router().await;
    let auth = bearer();
    let r = send(
        &app,
        create(
            Some(&auth),
            r#"{"challenges": ["BLINK", "smile", "LOOK_LEFT", "LOOK RIGHT"], "count": 2, "timeout_ms": 6000}"#,
            None,
        ),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.json);
    assert_envelope(&r);
    assert_eq!(
        r.headers["cache-control"], "no-store",
        "it carries a secret"
    );
    let s = issued(r.json);
    assert_eq!(s.key.len(), 32);
    assert_eq!(s.json["alg"], "HS256");
    assert_eq!(s.json["timeout_ms"], 6000.0);
    assert_eq!(s.json["expires_in"], 600);
    assert_eq!(s.evidence_url, format!("/v1/sessions/{}/evidence", s.id));
    let expires = s.json["expires_at"].as_str().unwrap();
    assert!(expires.len() == 20 && expires.ends_with('Z'), "{expires}");
    assert!(jws::unb64(&s.nonce).unwrap().len() == 32);
    use ChallengeAction::*;
    let script: Vec<ChallengeAction> =
        serde_json::from_value(s.json["challenges"].clone()).unwrap();
    assert_eq!(
        script,
        drawn(&[Blink, Smile, LookLeft, LookRight], 2, &s.nonce)
    );

    // Without options: two of all six, still the core's draw; every session is fresh.
    let r = send(&app, create(Some(&auth), "", None)).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.json);
    let t = issued(r.json);
    let script: Vec<ChallengeAction> =
        serde_json::from_value(t.json["challenges"].clone()).unwrap();
    assert_eq!(script, drawn(&ChallengeAction::ALL, 2, &t.nonce));
    assert_ne!(t.id, s.id);
    assert_ne!(t.nonce, s.nonce);
    assert_ne!(t.key, s.key);
}

#[tokio::test]
async fn creating_a_session_needs_a_token_unless_public_and_public_ones_are_rate_limited_per_ip() {
    let app = router().await;
    let r = send(&app, create(None, "", None)).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_envelope(&r);
    let r = send(&app, create(Some("Bearer not.a.jwt"), "", None)).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);

    let mut c = config();
    c.sessions.public = true;
    c.demo = true; // public sessions are a local demo's (loopback address)
    c.sessions.public_rate_per_minute = 2;
    let app = router_with(c).await;
    for _ in 0..2 {
        let r = send(&app, create(None, "", Some("10.0.0.1"))).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.json);
    }
    let r = send(&app, create(None, "", Some("10.0.0.1"))).await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(r.headers.get("retry-after").is_some());
    assert_envelope(&r);
    // Another address has its own bucket; a bearer token is not rate-limited, a bad one is
    // still refused.
    let r = send(&app, create(None, "", Some("10.0.0.2"))).await;
    assert_eq!(r.status, StatusCode::CREATED);
    let r = send(&app, create(Some(&bearer()), "", Some("10.0.0.1"))).await;
    assert_eq!(r.status, StatusCode::CREATED);
    let r = send(&app, create(Some("Bearer x"), "", Some("10.0.0.2"))).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);

    // Behind a trusted proxy the right-most untrusted X-Forwarded-For address is the client.
    let mut c = config();
    c.sessions.public = true;
    c.demo = true; // public sessions are a local demo's (loopback address)
    c.sessions.public_rate_per_minute = 1;
    c.sessions.trusted_proxies = vec!["192.168.1.1".into()];
    let app = router_with(c).await;
    let via_proxy = |client: &str| {
        let mut r = create(None, "", Some("192.168.1.1"));
        r.headers_mut().insert(
            "x-forwarded-for",
            format!("{client}, 192.168.1.1").parse().unwrap(),
        );
        r
    };
    assert_eq!(
        send(&app, via_proxy("203.0.113.7")).await.status,
        StatusCode::CREATED
    );
    assert_eq!(
        send(&app, via_proxy("203.0.113.7")).await.status,
        StatusCode::TOO_MANY_REQUESTS
    );
    assert_eq!(
        send(&app, via_proxy("203.0.113.8")).await.status,
        StatusCode::CREATED
    );
}

#[tokio::test]
async fn bad_session_options_are_refused_naming_the_field() {
    let app = router().await;
    let auth = bearer();
    for (body, field) in [
        (r#"{"challenges": ["WINK"]}"#, "challenges"),
        (r#"{"challenges": []}"#, "challenges"),
        (r#"{"challenges": ["BLINK"]}"#, "challenges"),
        (
            r#"{"challenges": ["BLINK", "SMILE"], "count": 3}"#,
            "challenges",
        ),
        (r#"{"count": 1}"#, "count"),
        (r#"{"timeout_ms": 8001}"#, "timeout_ms"),
        (r#"{"count": 0}"#, "count"),
        (r#"{"timeout_ms": 0}"#, "timeout_ms"),
        (r#"{"timeout_ms": "fast"}"#, "timeout_ms"),
        (r#"{"challenge": ["BLINK"]}"#, "challenge"),
    ] {
        let r = send(&app, create(Some(&auth), body, None)).await;
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
        assert_envelope(&r);
    }
    let r = send(&app, create(Some(&auth), "{not json", None)).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.json["detail"]["code"], "bad_json");
    let big = json!({"challenges": vec!["BLINK"; 5000]}).to_string();
    let r = send(&app, create(Some(&auth), &big, None)).await;
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE);
}

#[tokio::test]
async fn the_jwks_publishes_the_configured_verdict_key() {
    let pem = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/keys/ed25519_private.pem"
    );
    let mut c = config();
    c.signing.key_path = Some(pem.into());
    c.signing.kid = Some("verdict-test".into());
    let app = router_with(c).await;
    let r = send(
        &app,
        Request::get("/.well-known/jwks.json")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_envelope(&r);
    assert!(r.headers["cache-control"]
        .to_str()
        .unwrap()
        .starts_with("public"));
    let key =
        ed25519_dalek::SigningKey::from_pkcs8_pem(&std::fs::read_to_string(pem).unwrap()).unwrap();
    assert_eq!(
        r.json,
        json!({"keys": [{
            "kty": "OKP", "crv": "Ed25519", "x": jws::b64(key.verifying_key().as_bytes()),
            "kid": "verdict-test", "alg": "EdDSA", "use": "sig"
        }]})
    );
    // Without a configured key: one generated key, named by its thumbprint.
    let generated: Value = jwks(&router().await).await;
    assert_eq!(generated["keys"].as_array().unwrap().len(), 1);
    assert_eq!(generated["keys"][0]["kid"].as_str().unwrap().len(), 43);
}
