//! The server's own Ed25519 key: it signs every evidence verdict (compact JWS, `EdDSA`,
//! header `kid`), and its public half is published at `/.well-known/jwks.json` so a relying
//! party can check a verdict without trusting the channel it came through.
//!
//! Where the key comes from (`[signing]`): a PKCS#8 PEM file (what `openssl genpkey
//! -algorithm ed25519` writes) or a file of exactly 32 raw seed bytes. Without one, a key is
//! generated from the OS at start-up; it dies with the process, so verdicts stop verifying
//! after a restart and replicas disagree — fine for a demo, a warning otherwise. Replicas
//! behind one load balancer must share the key file.
//!
//! The `kid` defaults to the key's RFC 7638 JWK thumbprint: replicas sharing a key agree on
//! it without configuration, and a rotated key gets a new one.

use ed25519_dalek::pkcs8::DecodePrivateKey;
use ed25519_dalek::SigningKey;
use liveproof::evidence::jws::{self, b64, SignKey, VerifyKey};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::config::{ConfigError, SigningConfig};

/// JWS `typ` of a verdict (a manifest's is `liveproof-evidence+jws`, so neither can be
/// passed off as the other).
pub const VERDICT_TYPE: &str = "liveproof-verdict+jws";

/// Largest key file read.
const MAX_KEY_FILE: u64 = 64 * 1024;

/// The verdict signing key.
pub struct ServerKey {
    key: SigningKey,
    kid: String,
    issuer: String,
    generated: bool,
}

impl std::fmt::Debug for ServerKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerKey")
            .field("kid", &self.kid)
            .field("generated", &self.generated)
            .finish_non_exhaustive()
    }
}

impl ServerKey {
    /// The configured key, or a generated one (logged as a warning).
    pub fn from_config(c: &SigningConfig) -> Result<Self, ConfigError> {
        let (key, generated) = match &c.key_path {
            Some(path) => (load(path)?, false),
            None => {
                let mut seed = [0u8; 32];
                getrandom::fill(&mut seed).map_err(|e| {
                    ConfigError::Invalid(format!("signing: no OS randomness for a key: {e}"))
                })?;
                (SigningKey::from_bytes(&seed), true)
            }
        };
        let kid = c.kid.clone().unwrap_or_else(|| thumbprint(&key));
        if generated {
            tracing::warn!(
                kid = %kid,
                "no [signing] key_path configured: verdicts are signed with a key generated for \
                 this process only; they will not verify after a restart or on other replicas"
            );
        }
        Ok(Self {
            key,
            kid,
            issuer: c.issuer.clone(),
            generated,
        })
    }

    /// The JWS `kid`.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The verdicts' `iss`.
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// Whether the key was generated at start-up (not configured).
    pub fn is_generated(&self) -> bool {
        self.generated
    }

    /// The public key as a JWK (RFC 8037 OKP).
    pub fn jwk(&self) -> Value {
        json!({
            "kty": "OKP",
            "crv": "Ed25519",
            "x": b64(self.key.verifying_key().as_bytes()),
            "kid": self.kid,
            "alg": "EdDSA",
            "use": "sig",
        })
    }

    /// Signs a verdict payload as a compact JWS.
    pub fn sign(&self, payload: &[u8]) -> Result<String, jws::JwsError> {
        self.sign_typed(payload, VERDICT_TYPE)
    }

    /// Signs a payload of another kind (`typ`), e.g. a WebSocket ticket.
    pub fn sign_typed(&self, payload: &[u8], typ: &str) -> Result<String, jws::JwsError> {
        jws::sign(payload, &self.kid, Some(typ), SignKey::Ed25519(&self.key))
    }

    /// Verifies a compact JWS this key signed with type `typ`; returns the payload.
    pub fn verify_typed(&self, token: &str, typ: &str) -> Result<Vec<u8>, jws::JwsError> {
        let public = self.key.verifying_key().to_bytes();
        let verified = jws::verify(token, |h| {
            (h.kid == self.kid && h.typ.as_deref() == Some(typ))
                .then(|| VerifyKey::ed25519(&public).ok())
                .flatten()
        })?;
        Ok(verified.payload)
    }
}

fn load(path: &str) -> Result<SigningKey, ConfigError> {
    let invalid = |m: String| ConfigError::Invalid(format!("signing key {path}: {m}"));
    let read_err = |source| ConfigError::Read {
        path: path.to_owned(),
        source,
    };
    let len = std::fs::metadata(path).map_err(read_err)?.len();
    if len > MAX_KEY_FILE {
        return Err(invalid(format!("{len} bytes is not a key file")));
    }
    let bytes = std::fs::read(path).map_err(read_err)?;
    if bytes.starts_with(b"-----BEGIN") {
        let pem = std::str::from_utf8(&bytes).map_err(|_| invalid("PEM is not UTF-8".into()))?;
        return SigningKey::from_pkcs8_pem(pem)
            .map_err(|e| invalid(format!("not an Ed25519 PKCS#8 private key: {e}")));
    }
    let seed: [u8; 32] = bytes.as_slice().try_into().map_err(|_| {
        invalid(format!(
            "expected a PKCS#8 PEM or exactly 32 raw seed bytes, got {} bytes",
            bytes.len()
        ))
    })?;
    Ok(SigningKey::from_bytes(&seed))
}

/// RFC 7638 thumbprint: base64url SHA-256 of the required members in lexicographic order.
fn thumbprint(key: &SigningKey) -> String {
    let canonical = format!(
        r#"{{"crv":"Ed25519","kty":"OKP","x":"{}"}}"#,
        b64(key.verifying_key().as_bytes())
    );
    b64(&Sha256::digest(canonical.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use liveproof::evidence::jws::VerifyKey;

    fn config(path: Option<String>) -> SigningConfig {
        SigningConfig {
            key_path: path,
            ..SigningConfig::default()
        }
    }

    #[test]
    fn pem_and_raw_seed_files_load_the_same_key_and_the_kid_is_stable() {
        let pem = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/keys/ed25519_private.pem"
        );
        let a = ServerKey::from_config(&config(Some(pem.into()))).unwrap();
        let b = ServerKey::from_config(&config(Some(pem.into()))).unwrap();
        assert_eq!(a.kid(), b.kid());
        assert!(!a.is_generated());
        let raw = std::env::temp_dir().join(format!("liveproof-seed-{}", std::process::id()));
        std::fs::write(&raw, a.key.to_bytes()).unwrap();
        let c = ServerKey::from_config(&config(Some(raw.to_str().unwrap().into()))).unwrap();
        std::fs::remove_file(&raw).unwrap();
        assert_eq!(c.jwk(), a.jwk());
        let token = a.sign(b"{}").unwrap();
        let x = jws::unb64(a.jwk()["x"].as_str().unwrap()).unwrap();
        let v = jws::verify(&token, |h| {
            assert_eq!(h.typ.as_deref(), Some(VERDICT_TYPE));
            VerifyKey::ed25519(&x).ok()
        })
        .unwrap();
        assert_eq!(v.header.kid, a.kid());
    }

    #[test]
    fn bad_key_files_are_refused_and_a_missing_one_is_generated() {
        let bad = std::env::temp_dir().join(format!("liveproof-badkey-{}", std::process::id()));
        std::fs::write(&bad, b"not a key").unwrap();
        let e = ServerKey::from_config(&config(Some(bad.to_str().unwrap().into()))).unwrap_err();
        std::fs::remove_file(&bad).unwrap();
        assert!(e.to_string().contains("32 raw seed bytes"), "{e}");
        assert!(ServerKey::from_config(&config(Some("/nonexistent/key".into()))).is_err());
        let g = ServerKey::from_config(&config(None)).unwrap();
        assert!(g.is_generated());
        let h = ServerKey::from_config(&config(None)).unwrap();
        assert_ne!(g.kid(), h.kid(), "a fresh key each time");
    }
}
