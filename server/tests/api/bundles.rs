//! The client side of the SDK flow, built with the core exactly as the SDK builds it: a
//! [`LiveCheck`] over a real clip (tracking, `detect_every` 3, evidence recording), then
//! `bundle(...)` for a session, with the clip as the session's recording, and
//! `Manifest::sign`. An attacker holds the same tools and the session key, so the adversarial
//! tests use them too.
//!
//! The test servers' policy draws two of BLINK and SMILE ([`policy_config`]): the honest clip
//! ([`Clip::BlinkSmile`]) performs both in either order, so every drawn script passes. Each
//! (clip, script) is recorded once per test binary; the bundle (session id, nonce, signature)
//! is made per session.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use axum::body::Body;
use axum::http::{Request, StatusCode};
use axum::Router;
use liveproof::challenge::{ChallengeAction, ChallengeConfig, ChallengeSession, ScriptPolicy};
use liveproof::clip::run_clip;
use liveproof::evidence::{jws, Bundle, EvidenceConfig, Item, SignKey, VerifyKey};
use liveproof::video::{VideoLimits, VideoReader};
use liveproof::{LiveCheck, LiveConfig};
use liveproof_server::config::Config;
use serde_json::Value;

use crate::common::*;

/// Real clips used as session recordings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Clip {
    /// A live person who blinks and smiles (7.3 s, 512×512 H.264): passes [BLINK, SMILE] in
    /// either order.
    BlinkSmile,
    /// Another live person who smiles, then blinks, then turns right (webcam, 13 s, VP8 WebM
    /// as browsers record): passes [SMILE, BLINK] but not [BLINK, SMILE].
    SmileBlinkWebm,
    /// A third person who only blinks (webcam, 1280×720).
    BlinkOnly,
    /// A smartphone replay held to a webcam.
    PhoneReplay,
}

impl Clip {
    pub fn path(self) -> &'static str {
        match self {
            Clip::BlinkSmile => "video_live/lp_d12.mp4",
            Clip::SmileBlinkWebm => "video_live/zub_real_smile_wave.webm",
            Clip::BlinkOnly => "video_live/moun_blink_drowsy.mp4",
            Clip::PhoneReplay => "video_spoof/les_fake_phone_replay.mp4",
        }
    }

    pub fn media_type(self) -> &'static str {
        if self.path().ends_with(".webm") {
            "video/webm"
        } else {
            "video/mp4"
        }
    }

    pub fn bytes(self) -> Vec<u8> {
        media(self.path())
    }
}

/// The test servers' script policy: two of BLINK and SMILE, 8 s each.
pub fn blink_smile_policy() -> ScriptPolicy {
    ScriptPolicy {
        actions: vec![ChallengeAction::Blink, ChallengeAction::Smile],
        count: 2,
        timeout_ms: 8000.0,
    }
}

/// [`config`] with [`blink_smile_policy`] for sessions and kiosks, and the test media (recorded
/// long before the sessions these tests create) accepted as if recorded during them. The
/// recording-age rule itself is tested with the default slack.
pub fn policy_config() -> Config {
    let mut c = config();
    c.sessions.script = blink_smile_policy();
    c.kiosk.script = blink_smile_policy();
    c.verification.recording_slack_ms = 10 * 60_000;
    c
}

/// The client's live check over `clip` with `script`, recorded once per test binary.
pub fn recorded(clip: Clip, script: &[ChallengeAction]) -> Arc<LiveCheck> {
    type Cache = Mutex<HashMap<(Clip, Vec<ChallengeAction>), Arc<LiveCheck>>>;
    static CACHE: OnceLock<Cache> = OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    let key = (clip, script.to_vec());
    if let Some(check) = cache.lock().unwrap().get(&key) {
        return check.clone();
    }
    let check = Arc::new(record(&clip.bytes(), script));
    cache.lock().unwrap().insert(key, check.clone());
    check
}

/// Runs the SDK's check over a video as a camera would feed it.
pub fn record(video: &[u8], script: &[ChallengeAction]) -> LiveCheck {
    let mut reader = VideoReader::from_bytes(video, &VideoLimits::default()).unwrap();
    let session =
        ChallengeSession::with_script(ChallengeConfig::default(), script.to_vec()).unwrap();
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

/// The script a session was issued.
pub fn script_of(s: &Issued) -> Vec<ChallengeAction> {
    serde_json::from_value(s.json["challenges"].clone()).unwrap()
}

/// The honest bundle of `clip` for this session: the client's check with the session's
/// script, its frames and records, and the clip itself as the recording.
pub fn bundle(clip: Clip, s: &Issued) -> Bundle {
    bundle_of(
        &recorded(clip, &script_of(s)),
        &s.id,
        &s.nonce,
        Some((&clip.bytes(), clip.media_type())),
    )
}

/// The same without the recording (an SDK with `recordClip: false`).
pub fn bundle_without_recording(clip: Clip, s: &Issued) -> Bundle {
    bundle_of(&recorded(clip, &script_of(s)), &s.id, &s.nonce, None)
}

/// A kiosk's own bundle: its own session id and nonce, the script the kiosk policy
/// ([`blink_smile_policy`]) draws from that nonce, the honest recording, made `age_ms` ago.
pub fn kiosk_bundle_for(session_id: &str, nonce: &str, age_ms: i64) -> Bundle {
    let script = blink_smile_policy().draw(nonce.as_bytes()).unwrap();
    let clip = Clip::BlinkSmile;
    let video = clip.bytes();
    let recording = liveproof::evidence::Clip {
        data: &video,
        media_type: clip.media_type(),
    };
    recorded(clip, &script)
        .bundle(
            session_id,
            nonce,
            now_ms() as f64 - age_ms as f64,
            "kiosk",
            Some(recording),
        )
        .unwrap()
}

/// A check's bundle for a session id and nonce, with `recording` (bytes, media type).
pub fn bundle_of(
    check: &LiveCheck,
    session_id: &str,
    nonce: &str,
    recording: Option<(&[u8], &str)>,
) -> Bundle {
    let clip = recording.map(|(data, media_type)| liveproof::evidence::Clip { data, media_type });
    check
        .bundle(session_id, nonce, now_ms() as f64, "server-tests", clip)
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

/// Signs `b` with the session's key and submits it.
pub async fn submit(app: &Router, s: &Issued, b: &Bundle) -> Reply {
    let token = sign_hmac(b, &s.id, &s.key);
    send(app, evidence_request(&s.evidence_url, &token, b)).await
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

/// `POST /v1/sessions` with the test bearer token and these options.
pub async fn create_session(app: &Router, options: Value) -> Issued {
    let r = send(
        app,
        Request::post("/v1/sessions")
            .header("authorization", bearer())
            .header("content-type", "application/json")
            .body(Body::from(options.to_string()))
            .unwrap(),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.json);
    issued(r.json)
}

/// Sessions until one is issued `script` (the order is the nonce's draw).
pub async fn create_session_with_script(
    app: &Router,
    options: Value,
    script: &[ChallengeAction],
) -> Issued {
    for _ in 0..64 {
        let s = create_session(app, options.clone()).await;
        if script_of(&s) == script {
            return s;
        }
    }
    panic!("no session drew {script:?} in 64 tries");
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

/// Runs the ffmpeg CLI with `args` (the output file is `{out}` in them) and returns what it
/// wrote. Test media an attacker would make (a still photo as a video, two people spliced):
/// ffmpeg is a test dependency installed by scripts/install-deps.sh, so its absence fails.
pub fn ffmpeg(args: &[&str], extension: &str) -> Vec<u8> {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join(format!("out.{extension}"));
    let out_s = out.to_str().unwrap();
    let args: Vec<String> = args
        .iter()
        .map(|a| a.replace("{out}", out_s).replace("{media}", &media_root()))
        .collect();
    let status = std::process::Command::new("ffmpeg")
        .args(["-v", "error", "-y"])
        .args(&args)
        .status()
        .expect("ffmpeg must be installed (scripts/install-deps.sh)");
    assert!(status.success(), "ffmpeg {args:?}");
    std::fs::read(&out).unwrap()
}

/// A photo made into a 6 s video, as a virtual camera would stream it.
pub fn still_video(rel: &str) -> Vec<u8> {
    ffmpeg(
        &[
            "-loop",
            "1",
            "-i",
            &format!("{{media}}/{rel}"),
            "-t",
            "6",
            "-r",
            "15",
            "-vf",
            "scale=540:-2,format=yuv420p",
            "-c:v",
            "libvpx",
            "-b:v",
            "1M",
            "{out}",
        ],
        "webm",
    )
}
