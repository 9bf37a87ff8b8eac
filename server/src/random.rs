//! OS randomness for session ids' companions: nonces, session keys, generated keys.
//!
//! Straight from the OS (`getrandom`): these values are secrets or must be unpredictable
//! (a predictable nonce would let a client precompute the challenge script).

use liveproof::evidence::jws::b64;

use crate::error::AppError;

/// Fills `buf` from the OS; a failure is the operator's problem (500).
pub fn fill(buf: &mut [u8]) -> Result<(), AppError> {
    getrandom::fill(buf).map_err(|e| AppError::Internal(format!("OS randomness: {e}")))
}

/// `n` random bytes, base64url without padding.
pub fn token(n: usize) -> Result<String, AppError> {
    let mut buf = vec![0u8; n];
    fill(&mut buf)?;
    Ok(b64(&buf))
}
