//! What a relying party's backend checks before it acts on a liveproof verdict, in Rust with
//! the `jsonwebtoken` crate (the JavaScript twin is `relying-party.mjs`). The server's API
//! tests run [`check_verdict`] on real verdicts and on tampered, expired and misaddressed ones.
//!
//! ```sh
//! cargo run -p liveproof-server --example relying_party -- jwks.json SESSION_ID NONCE AUDIENCE < verdict.jws
//! ```
//!
//! The checks, in order: the JWS type and algorithm; the signature with the key the server
//! publishes at `/.well-known/jwks.json` (by `kid`); `iss`; `aud` is you; `exp` (verdicts live
//! minutes) and `iat`; `sub` and `nonce` are the session *you* created; `jti` never seen
//! before (a verdict is accepted once); and only then the decision: `label` REAL with the
//! challenges checked by the server. PASSIVE_ONLY (no recording) and FAKE are not a pass.

use std::collections::HashSet;
use std::io::Read;

use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{decode, decode_header, Algorithm, DecodingKey, Validation};
use serde_json::Value;

/// The JWS `typ` of a verdict.
pub const VERDICT_TYPE: &str = "liveproof-verdict+jws";

/// What the relying party expects: its own session, its own identity.
pub struct Expected<'a> {
    /// The verification server's `iss` (`[signing] issuer`).
    pub issuer: &'a str,
    /// Your identity as the server names it: the `sub` of the token that created the session.
    pub audience: &'a str,
    /// The `session_id` and `nonce` of the session you created.
    pub session_id: &'a str,
    pub nonce: &'a str,
}

/// Why a verdict is not acted on.
#[derive(Debug, PartialEq, thiserror::Error)]
pub enum Rejected {
    #[error("not a liveproof verdict: {0}")]
    NotAVerdict(String),
    #[error("no key {0:?} in the JWKS")]
    UnknownKey(Option<String>),
    #[error("invalid verdict token: {0}")]
    Invalid(String),
    #[error("the verdict is about another session ({0})")]
    OtherSession(&'static str),
    #[error("this verdict (jti {0}) was already used")]
    Replayed(String),
    #[error("not live: {label} ({failure})")]
    NotLive { label: String, failure: String },
}

/// Checks a verdict; returns its payload when the person was verified live. `jti_is_new`
/// records the `jti` and says whether it was unseen (a database insert in practice).
pub fn check_verdict(
    token: &str,
    jwks: &JwkSet,
    expected: &Expected<'_>,
    jti_is_new: impl FnOnce(&str) -> bool,
) -> Result<Value, Rejected> {
    let header = decode_header(token).map_err(|e| Rejected::NotAVerdict(e.to_string()))?;
    if header.typ.as_deref() != Some(VERDICT_TYPE) || header.alg != Algorithm::EdDSA {
        return Err(Rejected::NotAVerdict(format!(
            "typ {:?}, alg {:?}",
            header.typ, header.alg
        )));
    }
    let jwk = header
        .kid
        .as_deref()
        .and_then(|kid| jwks.find(kid))
        .ok_or_else(|| Rejected::UnknownKey(header.kid.clone()))?;
    let key = DecodingKey::from_jwk(jwk).map_err(|e| Rejected::Invalid(e.to_string()))?;
    let mut validation = Validation::new(Algorithm::EdDSA);
    validation.set_issuer(&[expected.issuer]);
    validation.set_audience(&[expected.audience]);
    validation.set_required_spec_claims(&["exp", "iat", "iss", "aud", "sub"]);
    validation.leeway = 5;
    let claims = decode::<Value>(token, &key, &validation)
        .map_err(|e| Rejected::Invalid(e.to_string()))?
        .claims;
    if claims["sub"] != expected.session_id {
        return Err(Rejected::OtherSession("sub"));
    }
    if claims["nonce"] != expected.nonce {
        return Err(Rejected::OtherSession("nonce"));
    }
    let jti = claims["jti"].as_str().unwrap_or_default();
    if jti.is_empty() || !jti_is_new(jti) {
        return Err(Rejected::Replayed(jti.to_owned()));
    }
    let verified_live = claims["label"] == "REAL"
        && claims["checks"]["pad"] == "server"
        && claims["checks"]["challenges"] == "server";
    if !verified_live {
        return Err(Rejected::NotLive {
            label: claims["label"].as_str().unwrap_or("?").to_owned(),
            failure: claims["failure"].to_string(),
        });
    }
    Ok(claims)
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [jwks_path, session_id, nonce, audience] = args.as_slice() else {
        eprintln!("usage: relying_party JWKS.json SESSION_ID NONCE AUDIENCE < verdict.jws");
        std::process::exit(2);
    };
    let run = || -> Result<Value, String> {
        let jwks: JwkSet = serde_json::from_slice(
            &std::fs::read(jwks_path).map_err(|e| format!("{jwks_path}: {e}"))?,
        )
        .map_err(|e| format!("{jwks_path}: {e}"))?;
        let mut token = String::new();
        std::io::stdin()
            .read_to_string(&mut token)
            .map_err(|e| e.to_string())?;
        let mut seen = HashSet::new();
        let expected = Expected {
            issuer: "liveproof-server",
            audience,
            session_id,
            nonce,
        };
        check_verdict(token.trim(), &jwks, &expected, |jti| {
            seen.insert(jti.to_owned())
        })
        .map_err(|e| e.to_string())
    };
    match run() {
        Ok(claims) => println!("verified live: {}", claims["passed"]),
        Err(e) => {
            eprintln!("rejected: {e}");
            std::process::exit(1);
        }
    }
}
