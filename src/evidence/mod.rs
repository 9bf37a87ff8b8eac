//! The evidence bundle: what a client submits so the server can decide from its own re-run.
//!
//! A bundle is a [`Manifest`] plus items (sampled JPEG frames, the per-frame records, an
//! optional clip). The manifest binds the session id, the server nonce, the client's result,
//! the challenge script and timings, the SDK and model versions and the SHA-256 of every item;
//! the client signs the manifest bytes as a compact JWS ([`jws`]): HS256 with the per-session
//! key of an online session, EdDSA with a kiosk's provisioned device key. The server checks
//! the signature ([`verify_bundle`]), then every item against its digest, then re-runs the
//! pipeline on the frames; the client's result is advisory only.
//!
//! [`EvidenceRecorder`] is the client side: it chooses which frames to keep while a session
//! runs and assembles the bundle, so the browser, the CLI and the tests build identical ones.

pub mod jws;
mod recorder;

use std::collections::{BTreeMap, HashSet};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::challenge::{ChallengeAction, ChallengeTiming, Failure, SessionOutcome};
use crate::events::Label;
use crate::injection::ClientSignals;
use crate::light::LightTimeline;
pub use jws::{Alg, JwsError, SignKey, VerifyKey};
pub use recorder::{encode_jpeg, BundleId, Clip, EvidenceConfig, EvidenceRecorder, MAX_CLIP_BYTES};

/// Bundle format version this build writes and reads.
pub const FORMAT_VERSION: u32 = 1;
/// JWS `typ` of a signed manifest.
pub const JWS_TYPE: &str = "liveproof-evidence+jws";
/// Most items a bundle may list.
pub const MAX_ITEMS: usize = 64;
/// Longest session id, nonce or item name.
pub const MAX_ID_LEN: usize = 128;

/// An evidence failure: each is the client's fault (a 4xx), never the server's.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum EvidenceError {
    #[error(transparent)]
    Jws(#[from] JwsError),
    /// The signed payload is not a valid manifest.
    #[error("invalid evidence manifest: {0}")]
    Manifest(String),
    /// A listed item was not submitted.
    #[error("evidence item `{0}` is listed in the manifest but missing")]
    MissingItem(String),
    /// An item was submitted that the manifest does not list.
    #[error("evidence item `{0}` is not listed in the signed manifest")]
    UnexpectedItem(String),
    /// An item's bytes do not match the signed digest or size.
    #[error("evidence item `{0}` does not match its signed SHA-256")]
    DigestMismatch(String),
}

impl EvidenceError {
    /// A stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            EvidenceError::Jws(JwsError::BadSignature) => "bad_signature",
            EvidenceError::Jws(JwsError::UnknownKey { .. }) => "unknown_key",
            EvidenceError::Jws(JwsError::UnsupportedAlgorithm(_)) => "unsupported_algorithm",
            EvidenceError::Jws(_) => "malformed_signature",
            EvidenceError::Manifest(_) => "invalid_manifest",
            EvidenceError::MissingItem(_) => "missing_item",
            EvidenceError::UnexpectedItem(_) => "unexpected_item",
            EvidenceError::DigestMismatch(_) => "digest_mismatch",
        }
    }
}

/// What an item is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ItemKind {
    /// A sampled camera frame (JPEG), analysed by the client at `t_ms`.
    Frame,
    /// The per-frame records (JSON array of [`crate::pipeline::FrameSummary`]).
    Records,
    /// A short clip (WebM/MP4), optional.
    Clip,
}

/// One item of the bundle, as listed (and signed) in the manifest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Item {
    pub name: String,
    pub kind: ItemKind,
    pub media_type: String,
    /// Capture time of a frame, on the session's clock.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub t_ms: Option<f64>,
    pub bytes: u64,
    /// Lower-case hex SHA-256 of the item's bytes.
    pub sha256: String,
}

impl Item {
    /// Describes `data` under `name`.
    pub fn describe(
        name: &str,
        kind: ItemKind,
        media_type: &str,
        t_ms: Option<f64>,
        data: &[u8],
    ) -> Self {
        Self {
            name: name.to_owned(),
            kind,
            media_type: media_type.to_owned(),
            t_ms,
            bytes: data.len() as u64,
            sha256: hex::encode(Sha256::digest(data)),
        }
    }
}

/// Software that produced the bundle.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Versions {
    /// The JS SDK's version (or the producing program's).
    pub sdk: String,
    /// This crate's version.
    pub core: String,
    /// SHA-256 of each model file used, by role.
    pub models: BTreeMap<String, String>,
}

impl Versions {
    /// This build's core version and manifest model hashes, with the given SDK version.
    pub fn current(sdk: &str) -> Self {
        let models = crate::models::Manifest::builtin()
            .map(|m| {
                m.entries()
                    .iter()
                    .filter(|e| !e.optional)
                    .map(|e| (e.role.to_string(), e.sha256.clone()))
                    .collect()
            })
            .unwrap_or_default();
        Self {
            sdk: sdk.to_owned(),
            core: env!("CARGO_PKG_VERSION").to_owned(),
            models,
        }
    }
}

/// The client's own decision (advisory).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClientResult {
    pub label: Label,
    pub passed: Vec<ChallengeAction>,
    pub confidence: f32,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub pad_score: Option<f32>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub failure: Option<Failure>,
}

impl From<&SessionOutcome> for ClientResult {
    fn from(o: &SessionOutcome) -> Self {
        Self {
            label: o.label,
            passed: o.passed.clone(),
            confidence: o.confidence,
            pad_score: o.pad_score,
            failure: o.failure.clone(),
        }
    }
}

/// The signed description of a bundle.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// Format version ([`FORMAT_VERSION`]).
    pub v: u32,
    pub session_id: String,
    /// The server nonce of an online session; a fresh random value for an offline kiosk.
    pub nonce: String,
    /// Client wall clock when the bundle was made (Unix ms; informational).
    pub created_ms: f64,
    pub versions: Versions,
    pub script: Vec<ChallengeAction>,
    /// Time the client allowed per challenge (its `ChallengeConfig::timeout_ms`).
    pub timeout_ms: f64,
    pub challenges: Vec<ChallengeTiming>,
    pub result: ClientResult,
    pub items: Vec<Item>,
    /// When each colour of the session's light sequence was on screen (recording time), as
    /// the SDK reports it; the server derives the colours from the nonce itself.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub light: Option<LightTimeline>,
    /// The SDK's injection signals (client-reported: they may raise a risk, never lower it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signals: Option<ClientSignals>,
}

impl Manifest {
    /// The exact bytes that are signed.
    pub fn to_bytes(&self) -> Vec<u8> {
        // A struct of plain fields always serialises.
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// The JWS signing input for this manifest (`header.payload`), which a client signs.
    pub fn signing_input(&self, alg: Alg, kid: &str) -> String {
        let header = jws::Header {
            alg: alg.as_str().to_owned(),
            kid: kid.to_owned(),
            typ: Some(JWS_TYPE.to_owned()),
        };
        jws::signing_input(&header, &self.to_bytes())
    }

    /// Signs the manifest (native clients, kiosk simulators and tests; the browser signs
    /// [`Manifest::signing_input`] with WebCrypto).
    pub fn sign(&self, kid: &str, key: SignKey<'_>) -> Result<String, EvidenceError> {
        Ok(jws::sign(&self.to_bytes(), kid, Some(JWS_TYPE), key)?)
    }

    /// Structural checks a verifier applies after the signature.
    pub fn validate(&self) -> Result<(), EvidenceError> {
        let bad = |m: String| Err(EvidenceError::Manifest(m));
        if self.v != FORMAT_VERSION {
            return bad(format!(
                "version {} (this server reads {FORMAT_VERSION})",
                self.v
            ));
        }
        if !(self.timeout_ms > 0.0 && self.timeout_ms <= crate::challenge::MAX_TIMEOUT_MS) {
            return bad(format!(
                "timeout_ms must be in (0, {}]",
                crate::challenge::MAX_TIMEOUT_MS
            ));
        }
        for (what, s) in [("session_id", &self.session_id), ("nonce", &self.nonce)] {
            if s.is_empty() || s.len() > MAX_ID_LEN {
                return bad(format!("{what} must be 1..={MAX_ID_LEN} characters"));
            }
        }
        if self.items.is_empty() || self.items.len() > MAX_ITEMS {
            return bad(format!("a bundle lists 1..={MAX_ITEMS} items"));
        }
        let mut names = HashSet::new();
        for item in &self.items {
            if !valid_name(&item.name) {
                return bad(format!(
                    "item name `{}` must be 1..={MAX_ID_LEN} of [A-Za-z0-9._-]",
                    item.name.escape_debug()
                ));
            }
            if !names.insert(item.name.as_str()) {
                return bad(format!("item `{}` is listed twice", item.name));
            }
            if item.sha256.len() != 64 || !item.sha256.bytes().all(|b| b.is_ascii_hexdigit()) {
                return bad(format!("item `{}` has no valid sha256", item.name));
            }
            if item.t_ms.is_some_and(|t| !t.is_finite()) {
                return bad(format!("item `{}` has a non-finite t_ms", item.name));
            }
        }
        if self
            .items
            .iter()
            .filter(|i| i.kind == ItemKind::Records)
            .count()
            > 1
        {
            return bad("at most one records item".into());
        }
        Ok(())
    }

    /// Items of one kind.
    pub fn items_of(&self, kind: ItemKind) -> impl Iterator<Item = &Item> {
        self.items.iter().filter(move |i| i.kind == kind)
    }
}

fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_ID_LEN
        && !name.starts_with('.')
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

/// A verified bundle header: which key signed it and what it claims.
#[derive(Debug, Clone, PartialEq)]
pub struct VerifiedManifest {
    pub alg: Alg,
    pub kid: String,
    pub manifest: Manifest,
}

/// Verifies a signed manifest: the JWS with the key `key_for` gives for its `(alg, kid)`, then
/// the manifest's structure. Items are checked separately ([`check_items`]) because they
/// arrive as separate parts.
pub fn verify_bundle(
    token: &str,
    key_for: impl FnOnce(Alg, &str) -> Option<VerifyKey>,
) -> Result<VerifiedManifest, EvidenceError> {
    let verified = jws::verify(token, |h| {
        let alg = Alg::parse(&h.alg).ok()?;
        key_for(alg, &h.kid)
    })?;
    if verified.header.typ.as_deref() != Some(JWS_TYPE) {
        return Err(EvidenceError::Manifest(format!(
            "JWS typ must be `{JWS_TYPE}`"
        )));
    }
    let manifest: Manifest = serde_json::from_slice(&verified.payload)
        .map_err(|e| EvidenceError::Manifest(e.to_string()))?;
    manifest.validate()?;
    Ok(VerifiedManifest {
        alg: verified.alg,
        kid: verified.header.kid,
        manifest,
    })
}

/// Checks submitted items against the manifest: every listed item present with its exact
/// size and SHA-256, nothing unlisted.
pub fn check_items<'a>(
    manifest: &Manifest,
    items: impl IntoIterator<Item = (&'a str, &'a [u8])>,
) -> Result<(), EvidenceError> {
    let listed: BTreeMap<&str, &Item> = manifest
        .items
        .iter()
        .map(|i| (i.name.as_str(), i))
        .collect();
    let mut seen = HashSet::new();
    for (name, data) in items {
        let item = listed
            .get(name)
            .ok_or_else(|| EvidenceError::UnexpectedItem(name.to_owned()))?;
        if !seen.insert(name) {
            return Err(EvidenceError::UnexpectedItem(format!("{name} (twice)")));
        }
        let digest = hex::encode(Sha256::digest(data));
        if item.bytes != data.len() as u64 || !digest.eq_ignore_ascii_case(&item.sha256) {
            return Err(EvidenceError::DigestMismatch(name.to_owned()));
        }
    }
    if let Some(missing) = manifest
        .items
        .iter()
        .find(|i| !seen.contains(i.name.as_str()))
    {
        return Err(EvidenceError::MissingItem(missing.name.clone()));
    }
    Ok(())
}

/// A complete bundle as a client holds it before upload.
#[derive(Debug, Clone, PartialEq)]
pub struct Bundle {
    pub manifest: Manifest,
    /// Item bytes, in manifest order.
    pub data: Vec<Vec<u8>>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::challenge::ChallengeAction;

    fn manifest(items: &[(&str, &[u8])]) -> Manifest {
        Manifest {
            v: FORMAT_VERSION,
            session_id: "sess-1".into(),
            nonce: "nonce-1".into(),
            created_ms: 1.0,
            versions: Versions::current("test"),
            script: vec![ChallengeAction::Blink],
            timeout_ms: 8000.0,
            challenges: vec![],
            result: ClientResult {
                label: Label::Real,
                passed: vec![ChallengeAction::Blink],
                confidence: 0.9,
                pad_score: Some(0.95),
                failure: None,
            },
            items: items
                .iter()
                .map(|(n, d)| Item::describe(n, ItemKind::Frame, "image/jpeg", Some(0.0), d))
                .collect(),
            light: None,
            signals: None,
        }
    }

    #[test]
    fn signed_manifest_verifies_and_binds_items() {
        let m = manifest(&[("f0.jpg", b"abc"), ("f1.jpg", b"def")]);
        let key = [9u8; 32];
        let token = m.sign("sess-1", SignKey::Hmac(&key)).unwrap();
        let v = verify_bundle(&token, |alg, kid| {
            assert_eq!((alg, kid), (Alg::HS256, "sess-1"));
            Some(VerifyKey::Hmac(key.to_vec()))
        })
        .unwrap();
        assert_eq!(v.manifest, m);
        check_items(
            &v.manifest,
            [("f0.jpg", &b"abc"[..]), ("f1.jpg", &b"def"[..])],
        )
        .unwrap();
        assert_eq!(
            check_items(
                &v.manifest,
                [("f0.jpg", &b"abX"[..]), ("f1.jpg", &b"def"[..])]
            ),
            Err(EvidenceError::DigestMismatch("f0.jpg".into()))
        );
        assert_eq!(
            check_items(&v.manifest, [("f0.jpg", &b"abc"[..])]),
            Err(EvidenceError::MissingItem("f1.jpg".into()))
        );
        assert!(matches!(
            check_items(
                &v.manifest,
                [
                    ("f0.jpg", &b"abc"[..]),
                    ("f1.jpg", &b"def"[..]),
                    ("x", &b""[..])
                ]
            ),
            Err(EvidenceError::UnexpectedItem(_))
        ));
    }

    #[test]
    fn the_signing_input_is_what_a_webcrypto_client_signs() {
        use hmac::Mac;
        let m = manifest(&[("f0.jpg", b"abc")]);
        let key = [3u8; 32];
        let input = m.signing_input(Alg::HS256, "sess-1");
        let mut mac = hmac::Hmac::<Sha256>::new_from_slice(&key).unwrap();
        mac.update(input.as_bytes());
        let token = format!("{input}.{}", jws::b64(&mac.finalize().into_bytes()));
        assert_eq!(token, m.sign("sess-1", SignKey::Hmac(&key)).unwrap());
        assert!(verify_bundle(&token, |_, _| Some(VerifyKey::Hmac(key.to_vec()))).is_ok());
    }

    #[test]
    fn invalid_manifests_are_refused_after_the_signature() {
        let key = [9u8; 32];
        let mut m = manifest(&[("../etc/passwd", b"x")]);
        let t = m.sign("k", SignKey::Hmac(&key)).unwrap();
        assert!(matches!(
            verify_bundle(&t, |_, _| Some(VerifyKey::Hmac(key.to_vec()))),
            Err(EvidenceError::Manifest(_))
        ));
        m = manifest(&[("a", b"x"), ("a", b"y")]);
        let t = m.sign("k", SignKey::Hmac(&key)).unwrap();
        assert!(verify_bundle(&t, |_, _| Some(VerifyKey::Hmac(key.to_vec()))).is_err());
        m = manifest(&[("a", b"x")]);
        m.v = 2;
        let t = m.sign("k", SignKey::Hmac(&key)).unwrap();
        assert!(verify_bundle(&t, |_, _| Some(VerifyKey::Hmac(key.to_vec()))).is_err());
        // A token of another type (e.g. a server verdict) is not a manifest.
        let t = jws::sign(
            &manifest(&[("a", b"x")]).to_bytes(),
            "k",
            None,
            SignKey::Hmac(&key),
        )
        .unwrap();
        assert!(verify_bundle(&t, |_, _| Some(VerifyKey::Hmac(key.to_vec()))).is_err());
    }
}
