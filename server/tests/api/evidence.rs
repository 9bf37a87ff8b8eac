//! `POST /v1/sessions/{id}/evidence` end to end: bundles recorded and signed on the client side
//! with the core (see `bundles`), verified and re-run by the server, verdicts checked against
//! the JWKS key; then every way a submission can be wrong, each with its status, and the
//! server still serving afterwards.

use axum::http::StatusCode;
use liveproof::challenge::ChallengeAction;
use liveproof::events::Label;
use liveproof::evidence::{jws, SignKey};
use liveproof_server::app;
use liveproof_server::state::store::{SessionRecord, SessionStatus};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::bundles::*;
use crate::common::*;

fn assert_code(r: &Reply, status: StatusCode, code: &str) {
    assert_eq!(r.status, status, "{}", r.json);
    assert_eq!(r.json["detail"]["code"], code, "{}", r.json);
    assert!(r.json["message"].as_str().is_some_and(|m| !m.is_empty()));
    assert_envelope(r);
}

#[tokio::test]
async fn a_live_blink_gets_a_real_verdict_signed_by_the_jwks_key_and_its_nonce_works_once() {
    let state = state_with(config()).await;
    let app = app(state.clone());
    let s = create_session(&app, blink_options()).await;
    assert_eq!(s.json["challenges"], json!(["BLINK"]));
    let b = bundle(Clip::LiveBlink, &s.id, &s.nonce);
    assert_eq!(
        b.manifest.result.label,
        Label::Real,
        "the client's own result"
    );
    let token = sign_hmac(&b, &s.id, &s.key);

    // The same bundle twice at once: the nonce is used exactly once. (Both requests pass the
    // session's pending check before either is decided, so the loser meets the used nonce;
    // should it ever be scheduled after the winner finished, it meets the verified session.)
    let (r1, r2) = tokio::join!(
        send(&app, evidence_request(&s.evidence_url, &token, &b)),
        send(&app, evidence_request(&s.evidence_url, &token, &b)),
    );
    let (ok, refused) = if r1.status == StatusCode::OK {
        (r1, r2)
    } else {
        (r2, r1)
    };
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.json);
    assert_envelope(&ok);
    assert_eq!(refused.status, StatusCode::CONFLICT, "{}", refused.json);
    let code = refused.json["detail"]["code"].as_str().unwrap();
    assert!(
        ["nonce_used", "session_already_verified"].contains(&code),
        "{code}"
    );

    let payload = verify_verdict(ok.json["verdict"].as_str().unwrap(), &jwks(&app).await);
    let result = &ok.json["result"];
    assert_eq!(&payload, result, "the body's result is the signed payload");
    assert_eq!(result["label"], "REAL", "{result}");
    assert_eq!(result["iss"], "liveproof-server");
    assert_eq!(result["sub"], s.id.as_str());
    assert_eq!(result["nonce"], s.nonce.as_str());
    assert_eq!(result["kind"], "session");
    assert_eq!(result["passed"], json!(["BLINK"]));
    assert_eq!(result["script"], json!(["BLINK"]));
    assert_eq!(result["challenges_verified"], false);
    assert_eq!(result["failure"], Value::Null);
    assert_eq!(result["client"]["label"], "REAL");
    assert_eq!(result["client"]["claim"]["accepted"], true, "{result}");
    let pad = result["pad_score"].as_f64().unwrap();
    assert!(pad >= 0.5, "{pad}");
    assert!((result["confidence"].as_f64().unwrap() - pad).abs() < 1e-6);
    assert_eq!(
        result["server"]["frames_analysed"].as_u64().unwrap() as usize,
        b.manifest.items.len() - 1,
        "every frame item was analysed"
    );
    // Client and server agree: the re-run reproduces the client's scores.
    assert_eq!(result["disagreement"]["any"], false, "{result}");
    assert!(result["disagreement"]["max_pad_delta"].as_f64().unwrap() < 0.1);
    assert_eq!(
        result["manifest_sha256"],
        hex::encode(Sha256::digest(b.manifest.to_bytes()))
    );
    assert!(result["iat"].as_u64().unwrap() >= now_ms() / 1000 - 60);

    // Afterwards the session is spent.
    let r = send(&app, evidence_request(&s.evidence_url, &token, &b)).await;
    assert_code(&r, StatusCode::CONFLICT, "session_already_verified");
    let stored = state.store.session(&s.id).await.unwrap().unwrap();
    assert_eq!(stored.status, SessionStatus::Verified);

    // The verdict is audited with its detail, never media.
    let audit = state.store.audit_tail(1).await.unwrap();
    let entry = &audit[0];
    assert_eq!(entry.route, "/v1/sessions/{id}/evidence");
    assert_eq!(entry.verdict, "REAL");
    assert_eq!(entry.correlation_id.as_deref(), Some(s.id.as_str()));
    let detail: Value = serde_json::from_str(entry.detail.as_deref().unwrap()).unwrap();
    assert_eq!(detail["disagreement"]["any"], false);
    assert_eq!(detail["challenges_verified"], false);
}

#[tokio::test]
async fn with_a_clip_the_server_runs_the_challenges_itself() {
    let app = router().await;
    let s = create_session(&app, blink_options()).await;
    let b = bundle_with_clip(Clip::LiveBlink, &s.id, &s.nonce);
    let token = sign_hmac(&b, &s.id, &s.key);
    let r = send(&app, evidence_request(&s.evidence_url, &token, &b)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.json);
    let result = &r.json["result"];
    assert_eq!(result["label"], "REAL", "{result}");
    assert_eq!(result["challenges_verified"], true);
    let clip = &result["server"]["clip"];
    assert_eq!(clip["label"], "REAL", "{clip}");
    assert_eq!(clip["passed"], json!(["BLINK"]));
    assert!(clip["similarity"].as_f64().unwrap() >= 0.4, "{clip}");
    assert!(result["client"].get("claim").is_none(), "no claim needed");
}

/// A client that lies (claims REAL, the blink passed, and near-perfect per-frame scores) about
/// a phone replay, with the replay clip attached: the server decides FAKE from its own re-run
/// and records the disagreement.
#[tokio::test]
async fn a_phone_replay_is_fake_whatever_the_client_claims_and_the_lie_is_recorded() {
    let state = state_with(config()).await;
    let app = app(state.clone());
    let s = create_session(&app, blink_options()).await;
    let mut b = bundle_with_clip(Clip::PhoneReplay, &s.id, &s.nonce);
    assert_eq!(
        b.manifest.result.label,
        Label::Fake,
        "the honest client says FAKE"
    );
    b.manifest.result.label = Label::Real;
    b.manifest.result.passed = vec![ChallengeAction::Blink];
    let records_at = b
        .manifest
        .items
        .iter()
        .position(|i| i.name == "records.json")
        .unwrap();
    let mut records: Vec<Value> = serde_json::from_slice(&b.data[records_at]).unwrap();
    for r in &mut records {
        if r["pad"].is_object() {
            r["pad"]["real"] = json!(0.99);
        }
    }
    replace_item(
        &mut b,
        "records.json",
        serde_json::to_vec(&records).unwrap(),
    );
    let token = sign_hmac(&b, &s.id, &s.key);

    let r = send(&app, evidence_request(&s.evidence_url, &token, &b)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.json);
    let result = &r.json["result"];
    assert_eq!(result["label"], "FAKE", "{result}");
    assert_eq!(result["failure"]["reason"], "spoof", "{result}");
    assert!(result["pad_score"].as_f64().unwrap() < 0.5);
    assert_eq!(result["challenges_verified"], true);
    assert_eq!(result["server"]["clip"]["label"], "FAKE");
    let d = &result["disagreement"];
    assert_eq!(d["any"], true);
    assert_eq!(d["label"], true);
    let frames = d["frames"].as_array().unwrap();
    assert!(!frames.is_empty(), "{d}");
    assert!(frames.iter().all(|f| f["client_pad"] == json!(0.99)));

    let audit = state.store.audit_tail(1).await.unwrap();
    assert_eq!(audit[0].verdict, "FAKE");
    let detail: Value = serde_json::from_str(audit[0].detail.as_deref().unwrap()).unwrap();
    assert_eq!(detail["disagreement"]["label"], true, "{detail}");
    assert_eq!(detail["client_label"], "REAL");
}

#[tokio::test]
async fn refused_evidence_gets_its_status_and_the_server_keeps_serving() {
    let mut c = config();
    c.limits.evidence_body_bytes = 8 * 1024 * 1024;
    let state = state_with(c).await;
    let app = app(state.clone());
    let a = create_session(&app, blink_options()).await;
    let other = create_session(&app, blink_options()).await;
    let b = bundle(Clip::LiveBlink, &a.id, &a.nonce);
    let good = sign_hmac(&b, &a.id, &a.key);
    let url = a.evidence_url.as_str();
    let post = |token: String, bundle: &liveproof::evidence::Bundle, url: &str| {
        evidence_request(url, &token, bundle)
    };

    // Unknown and expired sessions.
    let r = send(
        &app,
        post(good.clone(), &b, "/v1/sessions/no-such-session/evidence"),
    )
    .await;
    assert_code(&r, StatusCode::NOT_FOUND, "unknown_session");
    let expired = SessionRecord {
        id: uuid::Uuid::new_v4().to_string(),
        nonce: "expired-nonce".into(),
        key: [1; 32],
        script: vec![ChallengeAction::Blink],
        timeout_ms: 8000.0,
        principal: "tester".into(),
        created_ms: now_ms() - 20 * 60_000,
        expires_ms: now_ms() - 10 * 60_000,
        status: SessionStatus::Pending,
    };
    state.store.create_session(&expired).await.unwrap();
    let eb = bundle(Clip::LiveBlink, &expired.id, &expired.nonce);
    let r = send(
        &app,
        post(
            sign_hmac(&eb, &expired.id, &expired.key),
            &eb,
            &format!("/v1/sessions/{}/evidence", expired.id),
        ),
    )
    .await;
    assert_code(&r, StatusCode::GONE, "session_expired");

    // Signatures: a wrong key, another session's key and kid, another session's key under
    // this kid, alg none, an EdDSA (device) signature, garbage.
    let r = send(&app, post(sign_hmac(&b, &a.id, &[9; 32]), &b, url)).await;
    assert_code(&r, StatusCode::UNAUTHORIZED, "bad_signature");
    let r = send(&app, post(sign_hmac(&b, &other.id, &other.key), &b, url)).await;
    assert_code(&r, StatusCode::UNAUTHORIZED, "unknown_key");
    let r = send(&app, post(sign_hmac(&b, &a.id, &other.key), &b, url)).await;
    assert_code(&r, StatusCode::UNAUTHORIZED, "bad_signature");
    let none = format!(
        "{}.{}.AAAA",
        jws::b64(
            json!({"alg": "none", "kid": a.id, "typ": "liveproof-evidence+jws"})
                .to_string()
                .as_bytes()
        ),
        jws::b64(&b.manifest.to_bytes())
    );
    let r = send(&app, post(none, &b, url)).await;
    assert_code(&r, StatusCode::UNAUTHORIZED, "unsupported_algorithm");
    let device = ed25519_dalek::SigningKey::from_bytes(&[4; 32]);
    let eddsa = b.manifest.sign(&a.id, SignKey::Ed25519(&device)).unwrap();
    let r = send(&app, post(eddsa, &b, url)).await;
    assert_code(&r, StatusCode::UNAUTHORIZED, "unknown_key");
    let r = send(&app, post("not.a.jws".into(), &b, url)).await;
    assert_code(&r, StatusCode::UNAUTHORIZED, "malformed_signature");

    // Correctly signed, but bound to another session, nonce or script.
    let bo = bundle(Clip::LiveBlink, &other.id, &other.nonce);
    let r = send(&app, post(sign_hmac(&bo, &a.id, &a.key), &bo, url)).await;
    assert_code(&r, StatusCode::UNPROCESSABLE_ENTITY, "session_mismatch");
    let bn = bundle(Clip::LiveBlink, &a.id, "a-nonce-of-my-choosing");
    let r = send(&app, post(sign_hmac(&bn, &a.id, &a.key), &bn, url)).await;
    assert_code(&r, StatusCode::UNPROCESSABLE_ENTITY, "nonce_mismatch");
    let mut bs = b.clone();
    bs.manifest.script = vec![ChallengeAction::Smile];
    let r = send(&app, post(sign_hmac(&bs, &a.id, &a.key), &bs, url)).await;
    assert_code(&r, StatusCode::UNPROCESSABLE_ENTITY, "script_mismatch");

    // Items: tampered, missing, extra.
    let names: Vec<&str> = b.manifest.items.iter().map(|i| i.name.as_str()).collect();
    let mut tampered = b.data[0].clone();
    tampered[200] ^= 0x01;
    let mut items: Vec<(&str, &[u8])> = names
        .iter()
        .copied()
        .zip(b.data.iter().map(Vec::as_slice))
        .collect();
    items[0].1 = &tampered;
    let r = send(&app, evidence_request_with(url, &good, &items)).await;
    assert_code(&r, StatusCode::UNPROCESSABLE_ENTITY, "digest_mismatch");
    items[0].1 = &b.data[0];
    let r = send(&app, evidence_request_with(url, &good, &items[1..])).await;
    assert_code(&r, StatusCode::UNPROCESSABLE_ENTITY, "missing_item");
    items.push(("extra.jpg", b"\xff\xd8"));
    let r = send(&app, evidence_request_with(url, &good, &items)).await;
    assert_code(&r, StatusCode::UNPROCESSABLE_ENTITY, "unexpected_item");
    items.pop();

    // Malformed requests: no signed manifest, an oversized body.
    let r = send(
        &app,
        post_form(url, &[], &[("frame-000.jpg", Part::File(b"x"))]),
    )
    .await;
    assert_code(&r, StatusCode::BAD_REQUEST, "missing_evidence");
    let big = vec![7u8; 9 * 1024 * 1024];
    let r = send(
        &app,
        evidence_request_with(url, &good, &[("frame-000.jpg", big.as_slice())]),
    )
    .await;
    assert_code(&r, StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large");

    // None of that spent the nonce: the genuine submission still works.
    let r = send(&app, evidence_request(url, &good, &b)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.json);
    assert_eq!(r.json["result"]["label"], "REAL");
}
