//! `evidence`: what an evidence submission goes through before the pipeline runs. The first
//! byte picks the layer:
//!
//! - `0` (mod 3): the rest is a multipart body, read as the session and kiosk routes read it
//!   (`read_token`, then `read_items`, `discard_rest` on refusal) with the compact JWS
//!   checked, the manifest parsed, and `bind`/`admit` run;
//! - `1`: the rest is a compact JWS: `peek_header`, `jws::verify`, `verify_bundle`;
//! - `2`: the rest is manifest JSON: parsed, validated, signed with both key kinds and verified
//!   back.
//!
//! The signature only says who wrote a manifest, and the threat model is a client that holds
//! its session key, so it can sign any manifest. A body whose signature fails is therefore
//! also taken as if signed: its manifest still goes through `read_items` and `admit`, so the
//! fuzzer reaches them without forging HMACs.

use axum::extract::Multipart;
use axum::response::IntoResponse;
use ed25519_dalek::SigningKey;
use liveproof::challenge::ChallengeAction;
use liveproof::evidence::{jws, verify_bundle, Alg, Manifest, SignKey, VerifyKey};
use liveproof::verify::{admit, bind, Issued, IssuedLight, VerifyPolicy};
use liveproof_server::error::AppError;
use liveproof_server::evidence::{discard_rest, read_items, read_token};

use crate::fixtures::{assert_handled, block_on, multipart};

/// The session the seeds are bound to (the `kid` of their HS256 signature).
pub const SESSION_ID: &str = "fuzz-session";
pub const NONCE: &str = "fuzz-nonce-0123456789";
/// The kiosk device whose Ed25519 key signs the EdDSA seeds.
pub const DEVICE_ID: &str = "fuzz-device";
/// The per-session HMAC key (32 bytes, the minimum).
pub const HMAC_KEY: [u8; 32] = [0x5a; 32];
/// The device's Ed25519 secret seed.
pub const ED25519_SEED: [u8; 32] = [7; 32];
/// Per-challenge timeout of the issued session.
pub const TIMEOUT_MS: f64 = 8000.0;

/// The device's signing key.
pub fn device_key() -> SigningKey {
    SigningKey::from_bytes(&ED25519_SEED)
}

/// The session as the server issued it.
pub fn issued() -> Issued {
    Issued {
        session_id: SESSION_ID.into(),
        nonce: NONCE.into(),
        script: vec![ChallengeAction::Blink, ChallengeAction::Smile],
        timeout_ms: TIMEOUT_MS,
        issued_ms: Some(1_700_000_000_000),
        light: IssuedLight::Off,
    }
}

/// The verifier's key for a header, as the session route (HS256, the session id) and the kiosk
/// route (EdDSA, a device id) choose it.
fn key_for(alg: Alg, kid: &str) -> Option<VerifyKey> {
    match (alg, kid) {
        (Alg::HS256, SESSION_ID) => Some(VerifyKey::Hmac(HMAC_KEY.to_vec())),
        (Alg::EdDSA, DEVICE_ID) => Some(VerifyKey::Ed25519(device_key().verifying_key())),
        _ => None,
    }
}

/// True when the layer accepted the input: a submission admitted, a token verified, a
/// manifest valid.
pub fn evidence(data: &[u8]) -> bool {
    let Some((&layer, rest)) = data.split_first() else {
        return false;
    };
    match layer % 3 {
        0 => block_on(submission(rest)),
        1 => token(rest),
        _ => manifest(rest),
    }
}

/// A refusal must be the client's fault (4xx), never a 500.
fn refused(e: AppError, context: &str) {
    assert_handled(e.into_response().status(), context);
}

/// The session and kiosk routes' reading order: token first, then (once the manifest is
/// known) the items; whatever is refused drains the rest of the body.
async fn submission(body: &[u8]) -> bool {
    let mut form = multipart(body).await;
    let token = match read_token(&mut form).await {
        Ok(token) => token,
        Err(e) => return refuse_and_drain(e, "read_token", &mut form).await,
    };
    let _ = jws::peek_header(&token);
    let manifest = match verify_bundle(&token, key_for) {
        Ok(verified) => verified.manifest,
        Err(_) => match signed_by_holder(&token) {
            Some(m) => m,
            None => {
                discard_rest(&mut form, Some(body.len() as u64)).await;
                return false;
            }
        },
    };
    let issued = issued();
    let policy = VerifyPolicy::default();
    let _ = bind(&issued, &policy, &manifest);
    match read_items(&mut form, &manifest).await {
        Ok(items) => match admit(&issued, &policy, manifest, items) {
            Ok(_) => true,
            Err(refusal) => {
                refused(refusal.into(), "admit");
                false
            }
        },
        Err(e) => refuse_and_drain(e, "read_items", &mut form).await,
    }
}

async fn refuse_and_drain(e: AppError, context: &str, form: &mut Multipart) -> bool {
    refused(e, context);
    discard_rest(form, None).await;
    false
}

/// The manifest a key holder could have signed: the token's payload, if it is a valid one.
fn signed_by_holder(token: &str) -> Option<Manifest> {
    let payload = jws::unb64(token.split('.').nth(1)?).ok()?;
    let manifest: Manifest = serde_json::from_slice(&payload).ok()?;
    manifest.validate().ok()?;
    Some(manifest)
}

/// A raw token through every parser that takes one.
fn token(data: &[u8]) -> bool {
    let Ok(token) = std::str::from_utf8(data) else {
        return false;
    };
    let _ = jws::peek_header(token);
    let _ = jws::verify(token, |h| key_for(Alg::parse(&h.alg).ok()?, &h.kid));
    let Ok(verified) = verify_bundle(token, key_for) else {
        return false;
    };
    assert!(
        verified.manifest.validate().is_ok(),
        "a verified manifest is valid"
    );
    true
}

/// Manifest JSON: a valid one, signed with either key kind, must verify to a valid manifest.
fn manifest(data: &[u8]) -> bool {
    let Ok(manifest) = serde_json::from_slice::<Manifest>(data) else {
        return false;
    };
    if manifest.validate().is_err() {
        return false;
    }
    let device = device_key();
    for (kid, key) in [
        (SESSION_ID, SignKey::Hmac(&HMAC_KEY)),
        (DEVICE_ID, SignKey::Ed25519(&device)),
    ] {
        let token = match manifest.sign(kid, key) {
            Ok(t) => t,
            Err(e) => panic!("signing a valid manifest failed: {e}"),
        };
        if let Err(e) = verify_bundle(&token, key_for) {
            panic!("a valid manifest signed by {kid} does not verify: {e}");
        }
    }
    let _ = bind(&issued(), &VerifyPolicy::default(), &manifest);
    true
}
