//! Compact JWS (RFC 7515) with exactly two algorithms: `HS256` (the per-session key the server
//! issues with an online session) and `EdDSA` over Ed25519 (kiosk device keys, and the server's
//! own verdicts). Nothing else is accepted, `none` least of all: the algorithm a token claims
//! must match the kind of key the verifier holds for its `kid`, so an Ed25519 public key can
//! never be used as an HMAC secret.
//!
//! Written here rather than taken from `jsonwebtoken` because that crate is a JWT validator
//! built on `ring` (no wasm32 build) and the browser SDK must produce exactly the bytes this
//! module checks; `hmac` and `ed25519-dalek` are pure Rust and build everywhere.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use ed25519_dalek::Signer;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

/// A JWS failure.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum JwsError {
    /// Not three base64url parts, or a header that is not the expected JSON.
    #[error("malformed JWS: {0}")]
    Malformed(String),
    /// An algorithm other than HS256 or EdDSA (including `none`).
    #[error("JWS algorithm `{0}` is not accepted (HS256 or EdDSA)")]
    UnsupportedAlgorithm(String),
    /// No key is known for the header's `kid`, or the key is of another kind than `alg`.
    #[error("no {alg} key for kid `{kid}`")]
    UnknownKey { alg: String, kid: String },
    /// The signature does not verify.
    #[error("JWS signature does not verify")]
    BadSignature,
    /// A key has the wrong length.
    #[error("invalid key: {0}")]
    InvalidKey(String),
}

/// The accepted algorithms.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Alg {
    HS256,
    EdDSA,
}

impl Alg {
    /// The JOSE name.
    pub fn as_str(self) -> &'static str {
        match self {
            Alg::HS256 => "HS256",
            Alg::EdDSA => "EdDSA",
        }
    }

    /// Parses a JOSE algorithm name.
    pub fn parse(s: &str) -> Result<Self, JwsError> {
        match s {
            "HS256" => Ok(Alg::HS256),
            "EdDSA" => Ok(Alg::EdDSA),
            other => Err(JwsError::UnsupportedAlgorithm(other.to_owned())),
        }
    }
}

/// The protected header.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Header {
    pub alg: String,
    pub kid: String,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub typ: Option<String>,
}

/// A key that verifies signatures.
#[derive(Clone)]
pub enum VerifyKey {
    /// An HMAC-SHA256 secret (at least 32 bytes).
    Hmac(Vec<u8>),
    /// An Ed25519 public key.
    Ed25519(ed25519_dalek::VerifyingKey),
}

impl std::fmt::Debug for VerifyKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            VerifyKey::Hmac(_) => f.write_str("VerifyKey::Hmac(..)"),
            VerifyKey::Ed25519(k) => write!(f, "VerifyKey::Ed25519({})", b64(k.as_bytes())),
        }
    }
}

impl VerifyKey {
    /// An Ed25519 public key from its 32 raw bytes.
    pub fn ed25519(raw: &[u8]) -> Result<Self, JwsError> {
        let bytes: [u8; 32] = raw.try_into().map_err(|_| {
            JwsError::InvalidKey(format!("Ed25519 public key is 32 bytes, got {}", raw.len()))
        })?;
        ed25519_dalek::VerifyingKey::from_bytes(&bytes)
            .map(VerifyKey::Ed25519)
            .map_err(|e| JwsError::InvalidKey(format!("Ed25519 public key: {e}")))
    }

    fn alg(&self) -> Alg {
        match self {
            VerifyKey::Hmac(_) => Alg::HS256,
            VerifyKey::Ed25519(_) => Alg::EdDSA,
        }
    }
}

/// A key that signs.
pub enum SignKey<'a> {
    Hmac(&'a [u8]),
    Ed25519(&'a ed25519_dalek::SigningKey),
}

impl SignKey<'_> {
    fn alg(&self) -> Alg {
        match self {
            SignKey::Hmac(_) => Alg::HS256,
            SignKey::Ed25519(_) => Alg::EdDSA,
        }
    }
}

/// Minimum HMAC secret length (RFC 7518 §3.2: at least the hash size).
pub const MIN_HMAC_KEY: usize = 32;

/// base64url without padding.
pub fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Decodes base64url without padding.
pub fn unb64(s: &str) -> Result<Vec<u8>, JwsError> {
    URL_SAFE_NO_PAD
        .decode(s)
        .map_err(|e| JwsError::Malformed(format!("base64url: {e}")))
}

/// `BASE64URL(header) || '.' || BASE64URL(payload)`: what the signature covers. The browser
/// SDK signs exactly this string with WebCrypto.
pub fn signing_input(header: &Header, payload: &[u8]) -> String {
    // Serialising a struct of strings cannot fail.
    let h = serde_json::to_vec(header).unwrap_or_default();
    format!("{}.{}", b64(&h), b64(payload))
}

/// Signs `payload` and returns the compact serialisation.
pub fn sign(
    payload: &[u8],
    kid: &str,
    typ: Option<&str>,
    key: SignKey<'_>,
) -> Result<String, JwsError> {
    let header = Header {
        alg: key.alg().as_str().to_owned(),
        kid: kid.to_owned(),
        typ: typ.map(str::to_owned),
    };
    let input = signing_input(&header, payload);
    let sig = match key {
        SignKey::Hmac(secret) => {
            check_hmac_len(secret)?;
            let mut mac = HmacSha256::new_from_slice(secret)
                .map_err(|e| JwsError::InvalidKey(e.to_string()))?;
            mac.update(input.as_bytes());
            mac.finalize().into_bytes().to_vec()
        }
        SignKey::Ed25519(k) => k.sign(input.as_bytes()).to_bytes().to_vec(),
    };
    Ok(format!("{input}.{}", b64(&sig)))
}

/// A verified token: its header and payload bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    pub header: Header,
    pub alg: Alg,
    pub payload: Vec<u8>,
}

/// Parses the header without verifying anything (to find the `kid` before choosing a key).
pub fn peek_header(token: &str) -> Result<Header, JwsError> {
    let (h, _, _) = split(token)?;
    parse_header(h)
}

/// Verifies a compact JWS with the key `key_for` returns for its header. The key's kind must
/// match the header's `alg`.
pub fn verify(
    token: &str,
    key_for: impl FnOnce(&Header) -> Option<VerifyKey>,
) -> Result<Verified, JwsError> {
    let (h, p, s) = split(token)?;
    let header = parse_header(h)?;
    let alg = Alg::parse(&header.alg)?;
    let unknown = || JwsError::UnknownKey {
        alg: header.alg.clone(),
        kid: header.kid.clone(),
    };
    let key = key_for(&header).ok_or_else(unknown)?;
    if key.alg() != alg {
        return Err(unknown());
    }
    let sig = unb64(s)?;
    let input = &token[..h.len() + 1 + p.len()];
    match key {
        VerifyKey::Hmac(secret) => {
            check_hmac_len(&secret)?;
            let mut mac = HmacSha256::new_from_slice(&secret)
                .map_err(|e| JwsError::InvalidKey(e.to_string()))?;
            mac.update(input.as_bytes());
            // verify_slice compares in constant time.
            mac.verify_slice(&sig).map_err(|_| JwsError::BadSignature)?;
        }
        VerifyKey::Ed25519(k) => {
            let sig =
                ed25519_dalek::Signature::from_slice(&sig).map_err(|_| JwsError::BadSignature)?;
            // verify_strict rejects small-order keys and non-canonical signatures.
            k.verify_strict(input.as_bytes(), &sig)
                .map_err(|_| JwsError::BadSignature)?;
        }
    }
    Ok(Verified {
        payload: unb64(p)?,
        header,
        alg,
    })
}

type HmacSha256 = Hmac<Sha256>;

fn check_hmac_len(secret: &[u8]) -> Result<(), JwsError> {
    if secret.len() < MIN_HMAC_KEY {
        return Err(JwsError::InvalidKey(format!(
            "HMAC key must be at least {MIN_HMAC_KEY} bytes, got {}",
            secret.len()
        )));
    }
    Ok(())
}

/// Largest token accepted (a manifest of 64 items is well under 32 KiB).
pub const MAX_TOKEN_BYTES: usize = 256 * 1024;

fn split(token: &str) -> Result<(&str, &str, &str), JwsError> {
    if token.len() > MAX_TOKEN_BYTES {
        return Err(JwsError::Malformed(format!(
            "token is {} bytes, over the {MAX_TOKEN_BYTES} limit",
            token.len()
        )));
    }
    let mut parts = token.split('.');
    match (parts.next(), parts.next(), parts.next(), parts.next()) {
        (Some(h), Some(p), Some(s), None) if !h.is_empty() && !s.is_empty() => Ok((h, p, s)),
        _ => Err(JwsError::Malformed(
            "expected three dot-separated parts with a signature".into(),
        )),
    }
}

fn parse_header(h: &str) -> Result<Header, JwsError> {
    let bytes = unb64(h)?;
    let value: serde_json::Value =
        serde_json::from_slice(&bytes).map_err(|e| JwsError::Malformed(format!("header: {e}")))?;
    // Critical extensions we do not understand must be refused (RFC 7515 §4.1.11).
    if value.get("crit").is_some() {
        return Err(JwsError::Malformed(
            "`crit` header parameters are not supported".into(),
        ));
    }
    serde_json::from_value(value).map_err(|e| JwsError::Malformed(format!("header: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ed_key() -> ed25519_dalek::SigningKey {
        ed25519_dalek::SigningKey::from_bytes(&[7u8; 32])
    }

    #[test]
    fn hs256_round_trip_and_tamper() {
        let key = [1u8; 32];
        let t = sign(b"{\"a\":1}", "s1", None, SignKey::Hmac(&key)).unwrap();
        let v = verify(&t, |_| Some(VerifyKey::Hmac(key.to_vec()))).unwrap();
        assert_eq!(v.payload, b"{\"a\":1}");
        assert_eq!(v.header.kid, "s1");
        // Wrong key.
        let e = verify(&t, |_| Some(VerifyKey::Hmac(vec![2u8; 32]))).unwrap_err();
        assert_eq!(e, JwsError::BadSignature);
        // Tampered payload.
        let parts: Vec<&str> = t.split('.').collect();
        let forged = format!("{}.{}.{}", parts[0], b64(b"{\"a\":2}"), parts[2]);
        assert_eq!(
            verify(&forged, |_| Some(VerifyKey::Hmac(key.to_vec()))).unwrap_err(),
            JwsError::BadSignature
        );
    }

    #[test]
    fn eddsa_round_trip_and_key_confusion() {
        let sk = ed_key();
        let t = sign(b"x", "dev-1", Some("t"), SignKey::Ed25519(&sk)).unwrap();
        let pk = VerifyKey::Ed25519(sk.verifying_key());
        assert!(verify(&t, |_| Some(pk.clone())).is_ok());
        // An HS256 token cannot be checked with an Ed25519 key's bytes as the secret, and an
        // EdDSA token cannot be checked with an HMAC key.
        let as_secret = VerifyKey::Hmac(sk.verifying_key().as_bytes().to_vec());
        assert!(matches!(
            verify(&t, |_| Some(as_secret.clone())),
            Err(JwsError::UnknownKey { .. })
        ));
        let forged = sign(
            b"x",
            "dev-1",
            None,
            SignKey::Hmac(sk.verifying_key().as_bytes()),
        )
        .unwrap();
        assert!(matches!(
            verify(&forged, |_| Some(pk.clone())),
            Err(JwsError::UnknownKey { .. })
        ));
    }

    #[test]
    fn none_and_garbage_are_refused() {
        let header = b64(br#"{"alg":"none","kid":"k"}"#);
        let t = format!("{header}.{}.", b64(b"x"));
        assert!(matches!(verify(&t, |_| None), Err(JwsError::Malformed(_))));
        let t = format!("{header}.{}.AAAA", b64(b"x"));
        assert_eq!(
            verify(&t, |_| None).unwrap_err(),
            JwsError::UnsupportedAlgorithm("none".into())
        );
        for bad in ["", "a", "a.b", "a.b.c.d", "!!.b.c", ".."] {
            assert!(verify(bad, |_| None).is_err(), "{bad}");
        }
        let crit = b64(br#"{"alg":"HS256","kid":"k","crit":["exp"]}"#);
        assert!(matches!(
            verify(&format!("{crit}.e30.AAAA"), |_| None),
            Err(JwsError::Malformed(_))
        ));
    }

    #[test]
    fn short_hmac_keys_are_refused() {
        assert!(matches!(
            sign(b"x", "k", None, SignKey::Hmac(&[0u8; 8])),
            Err(JwsError::InvalidKey(_))
        ));
    }
}
