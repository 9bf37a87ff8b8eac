//! Kiosk devices (`/v1/devices`) and offline bundles (`/v1/kiosk/evidence`): registration by
//! an administrator, an EdDSA-signed bundle verified from its recording, its nonce refused the
//! second time, the time window, the script the policy draws from the kiosk's nonce, algorithm
//! confusion, revocation by the owner only, a subject that cannot collide with an online
//! session's; and the server keeps serving throughout.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use axum::Router;
use ed25519_dalek::SigningKey;
use liveproof::evidence::{jws, Bundle, SignKey};
use liveproof_server::app;
use serde_json::{json, Value};

use crate::bundles::*;
use crate::common::*;

const KIOSK: &str = "/v1/kiosk/evidence";

fn register_request(auth: Option<&str>, body: Value) -> Request<Body> {
    let mut r = Request::post("/v1/devices").header("content-type", "application/json");
    if let Some(a) = auth {
        r = r.header("authorization", a);
    }
    r.body(Body::from(body.to_string())).unwrap()
}

async fn register(app: &Router, key: &SigningKey) -> String {
    let r = send(
        app,
        register_request(
            Some(&admin_bearer()),
            json!({"public_key": jws::b64(key.verifying_key().as_bytes()), "label": "lobby kiosk"}),
        ),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.json);
    assert_eq!(r.json["label"], "lobby kiosk");
    let id = r.json["device_id"].as_str().unwrap().to_owned();
    assert_eq!(r.headers["location"], format!("/v1/devices/{id}"));
    id
}

/// A kiosk's own bundle for "kiosk-session-1" (see [`kiosk_bundle_for`]).
fn kiosk_bundle(nonce: &str, age_ms: i64) -> Bundle {
    kiosk_bundle_for("kiosk-session-1", nonce, age_ms)
}

fn code(r: &Reply) -> &str {
    r.json["detail"]["code"].as_str().unwrap_or_default()
}

#[tokio::test]
async fn a_registered_kiosk_is_verified_once_per_nonce_until_revoked() {
    let state = state_with(policy_config()).await;
    let app = app(state.clone());
    let device = SigningKey::from_bytes(&[21; 32]);

    // Registration needs an administrator's bearer token and a valid key.
    let pk = jws::b64(device.verifying_key().as_bytes());
    let r = send(&app, register_request(None, json!({"public_key": pk}))).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    let r = send(
        &app,
        register_request(Some(&bearer()), json!({"public_key": pk})),
    )
    .await;
    assert_eq!(
        (r.status, code(&r)),
        (StatusCode::FORBIDDEN, "insufficient_scope"),
        "a relying party's ordinary token"
    );
    let r = send(
        &app,
        register_request(Some(&admin_bearer()), json!({"public_key": "AAAA"})),
    )
    .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.json);
    assert!(r.json["detail"]["body"]["public_key"].is_array());
    let id = register(&app, &device).await;
    let sign = |b: &Bundle| b.manifest.sign(&id, SignKey::Ed25519(&device)).unwrap();

    // Refused before any re-run: unknown kid, HS256 with the device's kid (the public key as
    // the HMAC secret: the classic confusion), alg none, stale and future bundles.
    let b = kiosk_bundle("nonce-refused", 0);
    let stranger = SigningKey::from_bytes(&[22; 32]);
    let t = b
        .manifest
        .sign("no-such-device", SignKey::Ed25519(&stranger))
        .unwrap();
    let r = send(&app, evidence_request(KIOSK, &t, &b)).await;
    assert_eq!(
        (r.status, code(&r)),
        (StatusCode::UNAUTHORIZED, "unknown_key")
    );
    let hs = sign_hmac(&b, &id, device.verifying_key().as_bytes());
    let r = send(&app, evidence_request(KIOSK, &hs, &b)).await;
    assert_eq!(
        (r.status, code(&r)),
        (StatusCode::UNAUTHORIZED, "unknown_key")
    );
    let none = format!(
        "{}.{}.AAAA",
        jws::b64(
            json!({"alg": "none", "kid": id, "typ": "liveproof-evidence+jws"})
                .to_string()
                .as_bytes()
        ),
        jws::b64(&b.manifest.to_bytes())
    );
    let r = send(&app, evidence_request(KIOSK, &none, &b)).await;
    assert_eq!(
        (r.status, code(&r)),
        (StatusCode::UNAUTHORIZED, "unsupported_algorithm")
    );
    let forged = b.manifest.sign(&id, SignKey::Ed25519(&stranger)).unwrap();
    let r = send(&app, evidence_request(KIOSK, &forged, &b)).await;
    assert_eq!(
        (r.status, code(&r)),
        (StatusCode::UNAUTHORIZED, "bad_signature")
    );
    let old = kiosk_bundle("nonce-old", 8 * 24 * 3600 * 1000);
    let r = send(&app, evidence_request(KIOSK, &sign(&old), &old)).await;
    assert_eq!(
        (r.status, code(&r)),
        (StatusCode::UNPROCESSABLE_ENTITY, "evidence_too_old")
    );
    let future = kiosk_bundle("nonce-future", -10 * 60 * 1000);
    let r = send(&app, evidence_request(KIOSK, &sign(&future), &future)).await;
    assert_eq!(
        (r.status, code(&r)),
        (StatusCode::UNPROCESSABLE_ENTITY, "evidence_from_future")
    );
    // The kiosk does not choose its script: the policy's draw from its nonce, in that order.
    let mut chosen = kiosk_bundle("nonce-chosen", 0);
    chosen.manifest.script.reverse();
    let r = send(&app, evidence_request(KIOSK, &sign(&chosen), &chosen)).await;
    assert_eq!(
        (r.status, code(&r)),
        (StatusCode::UNPROCESSABLE_ENTITY, "script_mismatch")
    );

    // A bundle queued for six days is still accepted, once.
    let queued = kiosk_bundle("nonce-1", 6 * 24 * 3600 * 1000);
    let token = sign(&queued);
    let r = send(&app, evidence_request(KIOSK, &token, &queued)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.json);
    let payload = verify_verdict(r.json["verdict"].as_str().unwrap(), &jwks(&app).await);
    assert_eq!(payload["kind"], "kiosk");
    assert_eq!(payload["device_id"], id.as_str());
    assert_eq!(payload["sub"], format!("kiosk:{id}:kiosk-session-1"));
    assert_eq!(payload["aud"], "operator", "the device's owner");
    assert_eq!(payload["creator"], format!("device:{id}"));
    assert_eq!(payload["nonce"], "nonce-1");
    assert_eq!(payload["label"], "REAL", "{payload}");
    assert_eq!(payload["checks"]["challenges"], "server");
    let r = send(&app, evidence_request(KIOSK, &token, &queued)).await;
    assert_eq!((r.status, code(&r)), (StatusCode::CONFLICT, "nonce_used"));
    let audit = state.store.audit_tail(1).await.unwrap();
    assert_eq!(audit[0].principal, format!("device:{id}"));

    // Revocation: idempotent, unknown ids 404, and the device's bundles are refused after it.
    let delete = |path: String, auth: Option<String>| {
        let mut r = Request::delete(path);
        if let Some(a) = auth {
            r = r.header("authorization", a);
        }
        r.body(Body::empty()).unwrap()
    };
    let r = send(&app, delete(format!("/v1/devices/{id}"), None)).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    let r = send(&app, delete(format!("/v1/devices/{id}"), Some(bearer()))).await;
    assert_eq!(
        (r.status, code(&r)),
        (StatusCode::FORBIDDEN, "insufficient_scope")
    );
    // Another owner's administrator learns nothing about the device.
    let other_admin = bearer_for("another-tenant", "devices:admin");
    let r = send(&app, delete(format!("/v1/devices/{id}"), Some(other_admin))).await;
    assert_eq!(
        (r.status, code(&r)),
        (StatusCode::NOT_FOUND, "unknown_device")
    );
    let r = send(
        &app,
        delete(format!("/v1/devices/{id}"), Some(admin_bearer())),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.json);
    assert_eq!(r.json["revoked"], true);
    let first = r.json["revoked_at"].clone();
    let r = send(
        &app,
        delete(format!("/v1/devices/{id}"), Some(admin_bearer())),
    )
    .await;
    assert_eq!(r.json["revoked_at"], first);
    let r = send(
        &app,
        delete("/v1/devices/nope".into(), Some(admin_bearer())),
    )
    .await;
    assert_eq!(
        (r.status, code(&r)),
        (StatusCode::NOT_FOUND, "unknown_device")
    );
    let later = kiosk_bundle("nonce-2", 0);
    let r = send(&app, evidence_request(KIOSK, &sign(&later), &later)).await;
    assert_eq!(
        (r.status, code(&r)),
        (StatusCode::UNAUTHORIZED, "device_revoked")
    );
    assert_envelope(&r);

    // Another kiosk is still served.
    let second = SigningKey::from_bytes(&[23; 32]);
    let id2 = register(&app, &second).await;
    let b2 = kiosk_bundle("nonce-2", 0);
    let t2 = b2.manifest.sign(&id2, SignKey::Ed25519(&second)).unwrap();
    let r = send(&app, evidence_request(KIOSK, &t2, &b2)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.json);
    assert_eq!(r.json["result"]["device_id"], id2.as_str());
}

#[tokio::test]
async fn a_kiosk_cannot_take_an_online_sessions_subject() {
    let app = router_with(policy_config()).await;
    // An online session that got FAKE.
    let s = create_session(&app, json!({})).await;
    let r = submit(&app, &s, &bundle(Clip::PhoneReplay, &s)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.json);
    assert_eq!(r.json["result"]["label"], "FAKE");
    assert_eq!(r.json["result"]["sub"], s.id.as_str());
    // A kiosk that names its own session after it gets a verdict about another subject.
    let device = SigningKey::from_bytes(&[24; 32]);
    let id = register(&app, &device).await;
    let b = kiosk_bundle_for(&s.id, "kiosk-nonce-x", 0);
    let token = b.manifest.sign(&id, SignKey::Ed25519(&device)).unwrap();
    let r = send(&app, evidence_request(KIOSK, &token, &b)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.json);
    let payload = &r.json["result"];
    assert_eq!(payload["label"], "REAL", "{payload}");
    assert_eq!(payload["sub"], format!("kiosk:{id}:{}", s.id));
    assert_ne!(payload["sub"], s.id.as_str());
}

#[tokio::test]
async fn the_kiosk_policy_is_published_for_kiosk_pages() {
    let app = router_with(policy_config()).await;
    let r = send(
        &app,
        Request::get("/v1/kiosk/policy")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(
        r.json,
        json!({"actions": ["BLINK", "SMILE"], "count": 2, "timeout_ms": 8000.0, "max_age_s": 604800})
    );
}
