//! Kiosk devices (`/v1/devices`) and offline bundles (`/v1/kiosk/evidence`): registration,
//! an EdDSA-signed bundle verified and re-run, its nonce refused the second time, the time
//! window, algorithm confusion, revocation; and the server keeps serving throughout.

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
            Some(&bearer()),
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

/// A kiosk's own bundle: its own session id and nonce, made `age_ms` ago.
fn kiosk_bundle(nonce: &str, age_ms: i64) -> Bundle {
    recorded(Clip::LiveBlink)
        .bundle(
            "kiosk-session-1",
            nonce,
            now_ms() as f64 - age_ms as f64,
            "kiosk",
            None,
        )
        .unwrap()
}

fn code(r: &Reply) -> &str {
    r.json["detail"]["code"].as_str().unwrap_or_default()
}

#[tokio::test]
async fn a_registered_kiosk_is_verified_once_per_nonce_until_revoked() {
    let state = state_with(config()).await;
    let app = app(state.clone());
    let device = SigningKey::from_bytes(&[21; 32]);

    // Registration needs the bearer token and a valid key.
    let pk = jws::b64(device.verifying_key().as_bytes());
    let r = send(&app, register_request(None, json!({"public_key": pk}))).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    let r = send(
        &app,
        register_request(Some(&bearer()), json!({"public_key": "AAAA"})),
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

    // A bundle queued for six days is still accepted, once.
    let queued = kiosk_bundle("nonce-1", 6 * 24 * 3600 * 1000);
    let token = sign(&queued);
    let r = send(&app, evidence_request(KIOSK, &token, &queued)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.json);
    let payload = verify_verdict(r.json["verdict"].as_str().unwrap(), &jwks(&app).await);
    assert_eq!(payload["kind"], "kiosk");
    assert_eq!(payload["device_id"], id.as_str());
    assert_eq!(payload["sub"], "kiosk-session-1");
    assert_eq!(payload["nonce"], "nonce-1");
    assert_eq!(payload["label"], "REAL", "{payload}");
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
    assert_eq!(r.status, StatusCode::OK, "{}", r.json);
    assert_eq!(r.json["revoked"], true);
    let first = r.json["revoked_at"].clone();
    let r = send(&app, delete(format!("/v1/devices/{id}"), Some(bearer()))).await;
    assert_eq!(r.json["revoked_at"], first);
    let r = send(&app, delete("/v1/devices/nope".into(), Some(bearer()))).await;
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
