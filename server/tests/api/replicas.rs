//! Two `liveproof-server` processes behind an imaginary load balancer, sharing one real Redis
//! and one verdict key: a session created on one is verified on the other, a used nonce is
//! refused by the other, a device registered on one is known to the other, and a quota spent
//! on one is spent for both.

use std::time::Duration;

use ed25519_dalek::SigningKey;
use liveproof::evidence::{jws, Bundle, SignKey};
use serde_json::{json, Value};

use crate::bundles::*;
use crate::common::*;
use crate::procs::{http, HttpReply, RedisServer, ServerProcess, TempDir};

fn multipart_headers() -> String {
    format!("multipart/form-data; boundary={BOUNDARY}")
}

async fn post_evidence(server: &ServerProcess, path: &str, token: &str, b: &Bundle) -> HttpReply {
    let mut parts: Vec<(&str, Part)> = vec![("evidence", Part::Text(token))];
    for (item, data) in b.manifest.items.iter().zip(&b.data) {
        parts.push((item.name.as_str(), Part::File(data)));
    }
    let ct = multipart_headers();
    http(
        server.addr,
        "POST",
        path,
        &[("content-type", ct.as_str())],
        &multipart(&parts),
    )
    .await
    .unwrap()
}

async fn post_json(
    server: &ServerProcess,
    path: &str,
    headers: &[(&str, &str)],
    body: Value,
) -> HttpReply {
    let mut h = vec![("content-type", "application/json")];
    h.extend_from_slice(headers);
    http(server.addr, "POST", path, &h, body.to_string().as_bytes())
        .await
        .unwrap()
}

#[tokio::test]
async fn two_server_processes_share_sessions_nonces_devices_and_quotas_through_redis() {
    let redis = RedisServer::start();
    let dir = TempDir::new("replicas");
    let key_path = dir.path().join("verdict.seed");
    std::fs::write(&key_path, [42u8; 32]).unwrap();
    let config_path = dir.path().join("config.toml");
    std::fs::write(
        &config_path,
        "[pool]\nsize = 1\nqueue = 4\n\n\
         [sessions.script]\nactions = [\"BLINK\", \"SMILE\"]\ncount = 2\n\n\
         [kiosk.script]\nactions = [\"BLINK\", \"SMILE\"]\ncount = 2\n\n\
         [verification]\nrecording_slack_ms = 600000\n\n\
         [[api_key]]\napp_id = \"shared-app\"\nkey = \"shared-key\"\nquota = 1\n",
    )
    .unwrap();
    let url = redis.url();
    let env = [
        ("LIVEPROOF_CONFIG", config_path.to_str().unwrap()),
        ("LIVEPROOF_REDIS_URL", url.as_str()),
        ("LIVEPROOF_SIGNING_KEY", key_path.to_str().unwrap()),
        ("LIVEPROOF_JWT_SECRET", SECRET),
        ("RUST_LOG", "warn"),
    ];
    let mut a = ServerProcess::start(&env, &dir);
    let mut b = ServerProcess::start(&env, &dir);
    a.wait_ready(Duration::from_secs(180)).await;
    b.wait_ready(Duration::from_secs(180)).await;

    // One key, published identically by both.
    let jwks_a = http(a.addr, "GET", "/.well-known/jwks.json", &[], b"")
        .await
        .unwrap();
    let jwks_b = http(b.addr, "GET", "/.well-known/jwks.json", &[], b"")
        .await
        .unwrap();
    assert_eq!(jwks_a.json, jwks_b.json);
    assert!(jwks_a.headers.iter().any(|(k, _)| k == "x-request-id"));

    // A session issued by A is verified by B; the replay on A is refused.
    let auth = bearer();
    let r = post_json(
        &a,
        "/v1/sessions",
        &[("authorization", auth.as_str())],
        json!({}),
    )
    .await;
    assert_eq!(r.status, 201, "{}\n{}", r.json, a.logs());
    let s = issued(r.json);
    let bundle_s = bundle(Clip::BlinkSmile, &s);
    let token = sign_hmac(&bundle_s, &s.id, &s.key);
    let r = post_evidence(&b, &s.evidence_url, &token, &bundle_s).await;
    assert_eq!(r.status, 200, "{}\n{}", r.json, b.logs());
    let payload = verify_verdict(r.json["verdict"].as_str().unwrap(), &jwks_a.json);
    assert_eq!(payload["label"], "REAL", "{payload}");
    assert_eq!(payload["sub"], s.id.as_str());
    let r = post_evidence(&a, &s.evidence_url, &token, &bundle_s).await;
    assert_eq!(r.status, 409, "{}", r.json);
    assert_eq!(r.json["detail"]["code"], "session_already_verified");

    // A device registered on B; its bundle accepted by A; the same nonce refused by B.
    let device = SigningKey::from_bytes(&[31; 32]);
    let admin = admin_bearer();
    let r = post_json(
        &b,
        "/v1/devices",
        &[("authorization", admin.as_str())],
        json!({"public_key": jws::b64(device.verifying_key().as_bytes())}),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.json);
    let device_id = r.json["device_id"].as_str().unwrap().to_owned();
    let kb = kiosk_bundle_for("kiosk-7", "kiosk-nonce-7", 0);
    let kt = kb
        .manifest
        .sign(&device_id, SignKey::Ed25519(&device))
        .unwrap();
    let r = post_evidence(&a, "/v1/kiosk/evidence", &kt, &kb).await;
    assert_eq!(r.status, 200, "{}\n{}", r.json, a.logs());
    assert_eq!(r.json["result"]["device_id"], device_id.as_str());
    let r = post_evidence(&b, "/v1/kiosk/evidence", &kt, &kb).await;
    assert_eq!(r.status, 409, "{}", r.json);
    assert_eq!(r.json["detail"]["code"], "nonce_used");

    // The key's single request is charged on A (the body is then refused), so B says 403.
    let selfie = [("appid", "shared-app"), ("authorization", "shared-key")];
    let r = post_json(&a, "/api/v1/ml/liveness/", &selfie, json!({"image": "@@"})).await;
    assert_eq!(r.status, 400, "{}", r.json);
    let r = post_json(&b, "/api/v1/ml/liveness/", &selfie, json!({"image": "@@"})).await;
    assert_eq!(r.status, 403, "{}", r.json);
}
