//! The client side of the SDK flow, built with the core exactly as the SDK does: a
//! [`LiveCheck`] over a real clip (tracking, `detect_every` 3, evidence recording), then
//! `bundle(...)` for a session and `Manifest::sign`.
//!
//! Each clip is recorded once per test binary: the recording depends only on the clip and the
//! script, and the sessions these tests create ask for `{"challenges": ["BLINK"], "count": 1}`,
//! whose drawn script is `[BLINK]` for every nonce. The bundle itself (session id, nonce,
//! signature) is made per session.

use std::sync::OnceLock;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use axum::Router;
use liveproof::challenge::{seed_from_nonce, ChallengeAction, ChallengeConfig, ChallengeSession};
use liveproof::clip::run_clip;
use liveproof::evidence::{jws, Bundle, EvidenceConfig, Item, SignKey, VerifyKey};
use liveproof::video::{VideoLimits, VideoReader};
use liveproof::{LiveCheck, LiveConfig};
use serde_json::{json, Value};

use crate::common::*;

/// The recorded clips.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Clip {
    /// A live person who blinks (webcam, 1280×720).
    LiveBlink,
    /// A smartphone replay held to a webcam.
    PhoneReplay,
}

impl Clip {
    pub fn path(self) -> &'static str {
        match self {
            Clip::LiveBlink => "video_live/moun_blink_drowsy.mp4",
            Clip::PhoneReplay => "video_spoof/les_fake_phone_replay.mp4",
        }
    }
}

/// The session options whose script is `[BLINK]`.
pub fn blink_options() -> Value {
    json!({"challenges": ["BLINK"], "count": 1})
}

/// The client's live check over `clip`, recorded once.
pub fn recorded(clip: Clip) -> &'static LiveCheck {
    static LIVE: OnceLock<LiveCheck> = OnceLock::new();
    static REPLAY: OnceLock<LiveCheck> = OnceLock::new();
    let cell = match clip {
        Clip::LiveBlink => &LIVE,
        Clip::PhoneReplay => &REPLAY,
    };
    cell.get_or_init(|| record(clip))
}

fn record(clip: Clip) -> LiveCheck {
    let bytes = media(clip.path());
    let mut reader = VideoReader::from_bytes(&bytes, &VideoLimits::default()).unwrap();
    let config = ChallengeConfig {
        actions: vec![ChallengeAction::Blink],
        count: 1,
        ..ChallengeConfig::default()
    };
    let session = ChallengeSession::new(config, seed_from_nonce(b"any nonce")).unwrap();
    assert_eq!(session.script(), [ChallengeAction::Blink]);
    let mut check = LiveCheck::new(
        session,
        LiveConfig {
            detect_every: 3,
            evidence: Some(EvidenceConfig::default()),
        },
    )
    .unwrap();
    run_clip(&engine(), &mut reader, &mut check, 15.0, |_, _| {}).unwrap();
    check
}

/// A bundle of `clip`'s recording for this session id and nonce.
pub fn bundle(clip: Clip, session_id: &str, nonce: &str) -> Bundle {
    recorded(clip)
        .bundle(session_id, nonce, now_ms() as f64, "server-tests", None)
        .unwrap()
}

/// [`bundle`] that also carries the whole video as its `clip` item, made by the core as the
/// SDK makes it with `recordClip`.
pub fn bundle_with_clip(clip: Clip, session_id: &str, nonce: &str) -> Bundle {
    let bytes = media(clip.path());
    let video = liveproof::evidence::Clip {
        data: &bytes,
        media_type: "video/mp4",
    };
    recorded(clip)
        .bundle(
            session_id,
            nonce,
            now_ms() as f64,
            "server-tests",
            Some(video),
        )
        .unwrap()
}

/// Replaces an item's bytes and its signed description (what a lying client does before
/// signing).
pub fn replace_item(b: &mut Bundle, name: &str, data: Vec<u8>) {
    let i = b
        .manifest
        .items
        .iter()
        .position(|it| it.name == name)
        .unwrap();
    let old = &b.manifest.items[i];
    b.manifest.items[i] = Item::describe(name, old.kind, &old.media_type, old.t_ms, &data);
    b.data[i] = data;
}

/// Signs with a session key (HS256, kid = session id).
pub fn sign_hmac(b: &Bundle, kid: &str, key: &[u8]) -> String {
    b.manifest.sign(kid, SignKey::Hmac(key)).unwrap()
}

pub fn now_ms() -> u64 {
    liveproof_server::clock::now_ms()
}

/// The multipart evidence request: part `evidence` plus one part per item.
pub fn evidence_request(path: &str, token: &str, b: &Bundle) -> Request<Body> {
    let mut parts: Vec<(&str, Part)> = vec![("evidence", Part::Text(token))];
    for (item, data) in b.manifest.items.iter().zip(&b.data) {
        parts.push((item.name.as_str(), Part::File(data)));
    }
    post_form(path, &[], &parts)
}

/// The same with the items given explicitly (tampering tests).
pub fn evidence_request_with(path: &str, token: &str, items: &[(&str, &[u8])]) -> Request<Body> {
    let mut parts: Vec<(&str, Part)> = vec![("evidence", Part::Text(token))];
    for (name, data) in items {
        parts.push((name, Part::File(data)));
    }
    post_form(path, &[], &parts)
}

/// An issued session.
#[derive(Debug, Clone)]
pub struct Issued {
    pub id: String,
    pub nonce: String,
    pub key: Vec<u8>,
    pub evidence_url: String,
    pub json: Value,
}

/// `POST /v1/sessions` with the test bearer token.
pub async fn create_session(app: &Router, options: Value) -> Issued {
    let auth = bearer();
    let r = send(
        app,
        Request::post("/v1/sessions")
            .header("authorization", auth)
            .header("content-type", "application/json")
            .body(Body::from(options.to_string()))
            .unwrap(),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.json);
    issued(r.json)
}

/// Reads a `POST /v1/sessions` answer.
pub fn issued(json: Value) -> Issued {
    Issued {
        id: json["session_id"].as_str().unwrap().to_owned(),
        nonce: json["nonce"].as_str().unwrap().to_owned(),
        key: jws::unb64(json["session_key"].as_str().unwrap()).unwrap(),
        evidence_url: json["evidence_url"].as_str().unwrap().to_owned(),
        json,
    }
}

/// Checks a verdict against the published key set and returns its payload.
pub fn verify_verdict(verdict: &str, jwks: &Value) -> Value {
    let key = &jwks["keys"][0];
    assert_eq!(key["kty"], "OKP");
    assert_eq!(key["crv"], "Ed25519");
    assert_eq!(key["alg"], "EdDSA");
    let x = jws::unb64(key["x"].as_str().unwrap()).unwrap();
    let verified = jws::verify(verdict, |h| {
        assert_eq!(h.kid, key["kid"].as_str().unwrap(), "verdict kid");
        assert_eq!(h.typ.as_deref(), Some("liveproof-verdict+jws"));
        VerifyKey::ed25519(&x).ok()
    })
    .expect("the verdict verifies with the JWKS key");
    assert_eq!(verified.alg, jws::Alg::EdDSA);
    serde_json::from_slice(&verified.payload).unwrap()
}

/// `GET /.well-known/jwks.json`.
pub async fn jwks(app: &Router) -> Value {
    let r = send(
        app,
        Request::get("/.well-known/jwks.json")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
    r.json
}
