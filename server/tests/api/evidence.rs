//! `POST /v1/sessions/{id}/evidence`, the honest path: bundles recorded and signed on the
//! client side with the core (see `bundles`), verified by the server's own run of the
//! recording, verdicts checked against the JWKS key; then every way a submission can be
//! malformed, each with its status, and the server still serving afterwards. The attacks a key
//! holder can make are in `attacks`.

use axum::http::StatusCode;
use liveproof::events::Label;
use liveproof::evidence::{jws, SignKey};
use liveproof::verify::WithoutRecording;
use liveproof_server::app;
use liveproof_server::state::store::{SessionRecord, SessionStatus};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::bundles::*;
use crate::common::*;

pub fn assert_code(r: &Reply, status: StatusCode, code: &str) {
    assert_eq!(r.status, status, "{}", r.json);
    assert_eq!(r.json["detail"]["code"], code, "{}", r.json);
    assert!(r.json["message"].as_str().is_some_and(|m| !m.is_empty()));
    assert_envelope(r);
}

#[tokio::test]
async fn an_honest_recording_gets_a_real_verdict_from_the_servers_own_run_once() {
    let state = state_with(policy_config()).await;
    let app = app(state.clone());
    let s = create_session(&app, json!({})).await;
    let script = script_of(&s);
    assert_eq!(script.len(), 2, "the policy's count");
    let b = bundle(Clip::BlinkSmile, &s);
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
    assert_eq!(result["aud"], "tester", "the relying party that created it");
    assert_eq!(result["creator"], "tester");
    assert_eq!(result["nonce"], s.nonce.as_str());
    assert_eq!(result["kind"], "session");
    let iat = result["iat"].as_u64().unwrap();
    assert!(iat >= now_ms() / 1000 - 60);
    assert_eq!(
        result["exp"].as_u64().unwrap(),
        iat + 300,
        "a short lifetime"
    );
    assert_eq!(result["script"], json!(script));
    assert_eq!(result["passed"], json!(script), "what the server saw");
    assert_eq!(
        result["checks"],
        json!({"pad": "server", "identity": "server", "challenges": "server", "light": "none"})
    );
    assert_eq!(result["failure"], Value::Null);
    // The default policy plays light but does not require it: this bundle reports no timeline
    // (the Rust client here paints nothing), so the server's light check fails and says why,
    // and the verdict asserts nothing about light.
    assert_eq!(result["light_path"], "light");
    assert_eq!(result["light"]["outcome"], "failed", "{result}");
    assert_eq!(
        result["light"]["timeline_error"]["code"], "count_mismatch",
        "{result}"
    );
    assert!(result["injection"]["risk"].is_string(), "{result}");
    let pad = result["pad_score"].as_f64().unwrap();
    assert!(pad >= 0.5, "{pad}");
    assert!((result["confidence"].as_f64().unwrap() - pad).abs() < 1e-6);

    // The server's own frame count and timings, on the recording's time base.
    let rec = &result["server"]["recording"];
    assert_eq!(rec["codec"], "h264");
    let analysed = rec["frames_analysed"].as_u64().unwrap();
    assert!(analysed >= 20, "{rec}");
    assert!(
        rec["frames_decoded"].as_u64().unwrap() > analysed,
        "the tail is only decoded"
    );
    assert!(
        (rec["duration_ms"].as_f64().unwrap() - 7240.0).abs() < 200.0,
        "{rec}"
    );
    assert_eq!(rec["analysis_fps"], 15.0);
    assert_eq!(rec["detect_every"], 3);
    let timings = rec["outcome"]["challenges"].as_array().unwrap();
    assert_eq!(timings.len(), 2);
    assert!(timings.iter().all(|t| t["status"] == "passed"));
    let decided = rec["decided_at_ms"].as_f64().unwrap();
    assert_eq!(timings[1]["ended_ms"].as_f64().unwrap(), decided);
    let stats = &rec["outcome"]["stats"];
    assert!(stats["identity_compared"].as_u64().unwrap() >= 2, "{stats}");
    assert!(stats["identity_min"].as_f64().unwrap() >= 0.3, "{stats}");
    assert_eq!(stats["frames_unusable"], 0, "{stats}");
    assert_eq!(
        result["server"]["frames"]["submitted"],
        b.manifest.items.len() - 2
    );
    assert_eq!(
        result["server"]["frames"]["analysed"],
        json!([]),
        "the frames are audit only"
    );

    // Client and server agree: the SDK's frames are found in the recording with their scores.
    let d = &result["disagreement"];
    assert_eq!(d["any"], false, "{d}");
    assert_eq!(d["frames_compared"], d["frames_in_recording"], "{d}");
    assert!(d["frames_compared"].as_u64().unwrap() >= 3, "{d}");
    assert!(d["max_pad_delta"].as_f64().unwrap() < 1e-3, "{d}");
    assert_eq!(result["client"]["label"], "REAL");
    assert_eq!(
        result["manifest_sha256"],
        hex::encode(Sha256::digest(b.manifest.to_bytes()))
    );

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
    assert_eq!(entry.principal, "tester");
    assert_eq!(entry.correlation_id.as_deref(), Some(s.id.as_str()));
    let detail: Value = serde_json::from_str(entry.detail.as_deref().unwrap()).unwrap();
    assert_eq!(detail["disagreement"]["any"], false);
    assert_eq!(detail["checks"]["challenges"], "server");
}

#[tokio::test]
async fn without_a_recording_the_verdict_is_passive_only_or_refused_by_policy() {
    let app = router_with(policy_config()).await;
    let s = create_session(&app, json!({})).await;
    let b = bundle_without_recording(Clip::BlinkSmile, &s);
    assert_eq!(b.manifest.result.passed.len(), 2, "the client claims both");
    let r = submit(&app, &s, &b).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.json);
    let result = &r.json["result"];
    assert_eq!(result["label"], "PASSIVE_ONLY", "{result}");
    assert_eq!(
        result["passed"],
        json!([]),
        "no challenge was seen by the server"
    );
    assert_eq!(result["confidence"], 0.0);
    assert_eq!(
        result["checks"],
        json!({"pad": "server", "identity": "server", "challenges": "none", "light": "none"})
    );
    assert_eq!(result["failure"], Value::Null);
    assert_eq!(result["server"]["recording"], Value::Null);
    // Nothing to measure light or the frames' source on without a recording.
    assert_eq!(result["light"], Value::Null);
    assert_eq!(result["injection"], Value::Null);
    let frames = &result["server"]["frames"];
    let analysed = frames["analysed"].as_array().unwrap();
    assert_eq!(
        analysed.len(),
        b.manifest.items.len() - 1,
        "every frame item"
    );
    assert!(analysed.iter().all(|f| f["faces"] == 1), "{frames}");
    assert!(
        frames["stats"]["pad_score"].as_f64().unwrap() >= 0.5,
        "{frames}"
    );
    // The client's REAL agrees with frames that pass the passive rules.
    assert_eq!(result["disagreement"]["label"], false, "{result}");

    // A policy that requires the recording refuses the bundle before using the nonce.
    let mut c = policy_config();
    c.verification.without_recording = WithoutRecording::Refuse;
    let app = router_with(c).await;
    let s = create_session(&app, json!({})).await;
    let r = submit(&app, &s, &bundle_without_recording(Clip::BlinkSmile, &s)).await;
    assert_code(&r, StatusCode::UNPROCESSABLE_ENTITY, "recording_required");
    let r = submit(&app, &s, &bundle(Clip::BlinkSmile, &s)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.json);
    assert_eq!(r.json["result"]["label"], "REAL");
}

/// A client that lies (claims REAL, every challenge passed, near-perfect per-frame scores)
/// about a phone replay, with the replay as its recording: the server decides FAKE from its
/// own run and records the lie.
#[tokio::test]
async fn a_phone_replay_is_fake_whatever_the_client_claims_and_the_lie_is_recorded() {
    let state = state_with(policy_config()).await;
    let app = app(state.clone());
    let s = create_session(&app, json!({})).await;
    let mut b = bundle(Clip::PhoneReplay, &s);
    assert_eq!(
        b.manifest.result.label,
        Label::Fake,
        "the honest client says FAKE"
    );
    b.manifest.result.label = Label::Real;
    b.manifest.result.passed = script_of(&s);
    let mut records: Vec<Value> = serde_json::from_slice(&b.data[records_index(&b)]).unwrap();
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

    let r = submit(&app, &s, &b).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.json);
    let result = &r.json["result"];
    assert_eq!(result["label"], "FAKE", "{result}");
    assert_eq!(result["passed"], json!([]), "{result}");
    assert!(result["pad_score"].as_f64().unwrap() < 0.01, "{result}");
    assert!(result["failure"]["reason"].is_string(), "{result}");
    let d = &result["disagreement"];
    assert_eq!(
        (d["any"].clone(), d["label"].clone(), d["passed"].clone()),
        (json!(true), json!(true), json!(true))
    );
    let frames = d["frames"].as_array().unwrap();
    assert!(!frames.is_empty(), "{d}");
    assert!(frames.iter().all(|f| f["client_pad"] == json!(0.99)), "{d}");
    assert!(d["max_pad_delta"].as_f64().unwrap() > 0.9, "{d}");

    let audit = state.store.audit_tail(1).await.unwrap();
    assert_eq!(audit[0].verdict, "FAKE");
    let detail: Value = serde_json::from_str(audit[0].detail.as_deref().unwrap()).unwrap();
    assert_eq!(detail["disagreement"]["label"], true, "{detail}");
    assert_eq!(detail["client_label"], "REAL");
}

pub fn records_index(b: &liveproof::evidence::Bundle) -> usize {
    b.manifest
        .items
        .iter()
        .position(|i| i.name == "records.json")
        .unwrap()
}

#[tokio::test]
async fn refused_evidence_gets_its_status_and_the_server_keeps_serving() {
    let mut c = policy_config();
    c.limits.evidence_body_bytes = 8 * 1024 * 1024;
    let state = state_with(c).await;
    let app = app(state.clone());
    let a = create_session(&app, json!({})).await;
    let other = create_session(&app, json!({})).await;
    let b = bundle(Clip::BlinkSmile, &a);
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
        script: script_of(&a),
        timeout_ms: 8000.0,
        principal: "tester".into(),
        audience: "tester".into(),
        created_ms: now_ms() - 20 * 60_000,
        expires_ms: now_ms() - 10 * 60_000,
        status: SessionStatus::Pending,
        light: Default::default(),
    };
    state.store.create_session(&expired).await.unwrap();
    let eb = bundle_of(
        &recorded(Clip::BlinkSmile, &expired.script),
        &expired.id,
        &expired.nonce,
        None,
    );
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
    let bo = bundle(Clip::BlinkSmile, &other);
    let r = send(&app, post(sign_hmac(&bo, &a.id, &a.key), &bo, url)).await;
    assert_code(&r, StatusCode::UNPROCESSABLE_ENTITY, "session_mismatch");
    let mut bn = b.clone();
    bn.manifest.nonce = "a-nonce-of-my-choosing".into();
    let r = send(&app, post(sign_hmac(&bn, &a.id, &a.key), &bn, url)).await;
    assert_code(&r, StatusCode::UNPROCESSABLE_ENTITY, "nonce_mismatch");
    let mut bs = b.clone();
    bs.manifest.script.reverse();
    let r = send(&app, post(sign_hmac(&bs, &a.id, &a.key), &bs, url)).await;
    assert_code(&r, StatusCode::UNPROCESSABLE_ENTITY, "script_mismatch");

    // Items: tampered, missing, extra, two recordings.
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
    let mut two = b.clone();
    let clip = two.manifest.items.last().unwrap().clone();
    let data = two.data.last().unwrap().clone();
    two.manifest.items.push(liveproof::evidence::Item {
        name: "clip2.mp4".into(),
        ..clip
    });
    two.data.push(data);
    let r = send(&app, post(sign_hmac(&two, &a.id, &a.key), &two, url)).await;
    assert_code(&r, StatusCode::UNPROCESSABLE_ENTITY, "too_many_clips");

    // Malformed requests: no signed manifest, or not first; an item larger than it was signed
    // (refused at that size, unread further); a body over the limit.
    let r = send(&app, post_form(url, &[], &[])).await;
    assert_code(&r, StatusCode::BAD_REQUEST, "missing_evidence");
    let r = send(
        &app,
        post_form(
            url,
            &[],
            &[
                ("frame-000.jpg", Part::File(b"x")),
                ("evidence", Part::Text(&good)),
            ],
        ),
    )
    .await;
    assert_code(&r, StatusCode::BAD_REQUEST, "evidence_first");
    let mut larger = b.data[0].clone();
    larger.extend_from_slice(&[0u8; 4096]);
    let r = send(
        &app,
        evidence_request_with(url, &good, &[("frame-000.jpg", larger.as_slice())]),
    )
    .await;
    assert_code(&r, StatusCode::UNPROCESSABLE_ENTITY, "digest_mismatch");
    let big = vec![7u8; 9 * 1024 * 1024];
    let mut huge = b.clone();
    replace_item(&mut huge, "frame-000.jpg", big.clone());
    let r = send(&app, post(sign_hmac(&huge, &a.id, &a.key), &huge, url)).await;
    assert_code(&r, StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large");

    // A recording that does not decode: a 400 with the core's code, the nonce spent.
    let c = create_session(&app, json!({})).await;
    let mut broken = bundle(Clip::BlinkSmile, &c);
    let last = broken.manifest.items.last().unwrap().name.clone();
    replace_item(&mut broken, &last, b"\x1aE\xdf\xa3 not a webm".to_vec());
    let r = submit(&app, &c, &broken).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.json);
    let r = submit(&app, &c, &bundle(Clip::BlinkSmile, &c)).await;
    assert_code(&r, StatusCode::CONFLICT, "session_already_verified");

    // None of that spent the nonce: the genuine submission still works.
    let r = send(&app, evidence_request(url, &good, &b)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.json);
    assert_eq!(r.json["result"]["label"], "REAL");
}

/// An anonymous upload costs the server its first part: the signed manifest is checked (the
/// session, its key, its binding) before any item byte is read. The body here never delivers
/// more than the manifest and the first bytes of an item, so a server that reads on waits.
#[tokio::test]
async fn nothing_is_read_past_a_manifest_that_does_not_authenticate() {
    use futures_util::StreamExt as _;
    let app = router_with(policy_config()).await;
    let s = create_session(&app, json!({})).await;
    let b = bundle(Clip::BlinkSmile, &s);
    let stalled = |url: &str, token: &str| {
        let mut first = format!(
            "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"evidence\"\r\n\r\n{token}\r\n\
             --{BOUNDARY}\r\nContent-Disposition: form-data; name=\"frame-000.jpg\"; filename=\"f.jpg\"\r\n\
             Content-Type: image/jpeg\r\n\r\n"
        )
        .into_bytes();
        first.extend_from_slice(&[0xff, 0xd8, 0xff, 0xe0]);
        let body =
            futures_util::stream::iter([Ok::<_, std::io::Error>(axum::body::Bytes::from(first))])
                .chain(futures_util::stream::pending());
        axum::http::Request::post(url)
            .header(
                "content-type",
                format!("multipart/form-data; boundary={BOUNDARY}"),
            )
            .body(axum::body::Body::from_stream(body))
            .unwrap()
    };
    let quick = std::time::Duration::from_secs(10);
    let answer = |req| async {
        tokio::time::timeout(quick, send(&app, req))
            .await
            .expect("answered without reading the items")
    };
    let token = sign_hmac(&b, &s.id, &s.key);
    let r = answer(stalled("/v1/sessions/no-such-session/evidence", &token)).await;
    assert_code(&r, StatusCode::NOT_FOUND, "unknown_session");
    let forged = sign_hmac(&b, &s.id, &[1; 32]);
    let r = answer(stalled(&s.evidence_url, &forged)).await;
    assert_code(&r, StatusCode::UNAUTHORIZED, "bad_signature");
    let r = answer(stalled("/v1/kiosk/evidence", &token)).await;
    assert_code(&r, StatusCode::UNAUTHORIZED, "unknown_key");
    // Bound to another session: refused before the items too.
    let other = create_session(&app, json!({})).await;
    let misbound = sign_hmac(&b, &other.id, &other.key);
    let r = answer(stalled(&other.evidence_url, &misbound)).await;
    assert_code(&r, StatusCode::UNPROCESSABLE_ENTITY, "session_mismatch");
    // Control: a manifest that authenticates is followed by reading its items, which never come.
    let waited = tokio::time::timeout(
        std::time::Duration::from_secs(2),
        send(&app, stalled(&s.evidence_url, &token)),
    )
    .await;
    assert!(waited.is_err(), "the items of a valid manifest are read");
}
