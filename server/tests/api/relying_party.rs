//! The relying party's side: `server/examples/relying_party.rs` (what server/README.md tells a
//! bank's backend to check) run on real verdicts, and on verdicts that are expired, addressed
//! to someone else, about another session, replayed, tampered with, signed by another server,
//! or not a pass.

use std::collections::HashSet;

use axum::http::StatusCode;
use jsonwebtoken::jwk::JwkSet;
use liveproof_server::app;
use serde_json::{json, Value};

use crate::bundles::*;
use crate::common::*;

#[allow(dead_code)]
#[path = "../../examples/relying_party.rs"]
mod example;

use example::{check_verdict, Expected, Rejected};

fn expected<'a>(s: &'a Issued, audience: &'a str) -> Expected<'a> {
    Expected {
        issuer: "liveproof-server",
        audience,
        session_id: &s.id,
        nonce: &s.nonce,
    }
}

fn key_set(jwks: &Value) -> JwkSet {
    serde_json::from_value(jwks.clone()).unwrap()
}

#[tokio::test]
async fn a_relying_party_accepts_its_own_fresh_real_verdict_once_and_nothing_else() {
    let state = state_with(policy_config()).await;
    let app = app(state.clone());
    let keys = key_set(&jwks(&app).await);
    let s = create_session(&app, json!({})).await;
    let r = submit(&app, &s, &bundle(Clip::BlinkSmile, &s)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.json);
    let token = r.json["verdict"].as_str().unwrap();
    let mut seen = HashSet::new();

    let claims = check_verdict(token, &keys, &expected(&s, "tester"), |j| {
        seen.insert(j.to_owned())
    })
    .expect("an honest verdict for this relying party's own session");
    assert_eq!(claims["label"], "REAL");

    // Once only.
    let again = check_verdict(token, &keys, &expected(&s, "tester"), |j| {
        seen.insert(j.to_owned())
    });
    assert!(matches!(again, Err(Rejected::Replayed(_))), "{again:?}");
    let fresh = |_: &str| true;

    // Addressed to another relying party, or about another session or nonce.
    let e = check_verdict(token, &keys, &expected(&s, "another-bank"), fresh).unwrap_err();
    assert!(
        matches!(&e, Rejected::Invalid(m) if m.contains("Audience")),
        "{e:?}"
    );
    let other = create_session(&app, json!({})).await;
    let e = check_verdict(token, &keys, &expected(&other, "tester"), fresh).unwrap_err();
    assert_eq!(e, Rejected::OtherSession("sub"));
    let mut wrong_nonce = expected(&s, "tester");
    wrong_nonce.nonce = &other.nonce;
    let e = check_verdict(token, &keys, &wrong_nonce, fresh).unwrap_err();
    assert_eq!(e, Rejected::OtherSession("nonce"));

    // Expired: the same claims, signed by this server with an exp an hour ago.
    let mut old = claims.clone();
    old["iat"] = json!(now() - 3900);
    old["exp"] = json!(now() - 3600);
    let expired = state
        .signer
        .sign(&serde_json::to_vec(&old).unwrap())
        .unwrap();
    let e = check_verdict(&expired, &keys, &expected(&s, "tester"), fresh).unwrap_err();
    assert!(
        matches!(&e, Rejected::Invalid(m) if m.contains("Expired")),
        "{e:?}"
    );

    // Tampered: the payload of a FAKE verdict relabelled REAL keeps no valid signature.
    let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
    let mut forged = claims.clone();
    forged["passed"] = json!(["BLINK", "SMILE", "LOOK UP"]);
    parts[1] = liveproof::evidence::jws::b64(&serde_json::to_vec(&forged).unwrap());
    let e = check_verdict(&parts.join("."), &keys, &expected(&s, "tester"), fresh).unwrap_err();
    assert!(
        matches!(&e, Rejected::Invalid(m) if m.contains("Signature")),
        "{e:?}"
    );

    // Signed by another server (another key): not in this server's JWKS.
    let elsewhere = state_with(policy_config()).await;
    let foreign = elsewhere
        .signer
        .sign(&serde_json::to_vec(&claims).unwrap())
        .unwrap();
    let e = check_verdict(&foreign, &keys, &expected(&s, "tester"), fresh).unwrap_err();
    assert!(matches!(e, Rejected::UnknownKey(_)), "{e:?}");

    // An evidence manifest is not a verdict, whatever its signature.
    let b = bundle(Clip::BlinkSmile, &other);
    let manifest_jws = sign_hmac(&b, &other.id, &other.key);
    let e = check_verdict(&manifest_jws, &keys, &expected(&other, "tester"), fresh).unwrap_err();
    assert!(matches!(e, Rejected::NotAVerdict(_)), "{e:?}");
}

#[tokio::test]
async fn passive_only_and_fake_verdicts_are_not_a_pass() {
    let app = router_with(policy_config()).await;
    let keys = key_set(&jwks(&app).await);
    let fresh = |_: &str| true;

    let s = create_session(&app, json!({})).await;
    let r = submit(&app, &s, &bundle_without_recording(Clip::BlinkSmile, &s)).await;
    assert_eq!(r.json["result"]["label"], "PASSIVE_ONLY", "{}", r.json);
    let token = r.json["verdict"].as_str().unwrap();
    let e = check_verdict(token, &keys, &expected(&s, "tester"), fresh).unwrap_err();
    assert!(
        matches!(&e, Rejected::NotLive { label, .. } if label == "PASSIVE_ONLY"),
        "{e:?}"
    );

    let s = create_session(&app, json!({})).await;
    let r = submit(&app, &s, &bundle(Clip::PhoneReplay, &s)).await;
    assert_eq!(r.json["result"]["label"], "FAKE", "{}", r.json);
    let token = r.json["verdict"].as_str().unwrap();
    let e = check_verdict(token, &keys, &expected(&s, "tester"), fresh).unwrap_err();
    assert!(
        matches!(&e, Rejected::NotLive { label, .. } if label == "FAKE"),
        "{e:?}"
    );
}
