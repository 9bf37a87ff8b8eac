//! Durable state behind one small async trait: API keys (hashed) and their quota usage, rate
//! limit buckets, liveness sessions, used nonces, kiosk device keys, and an audit log of
//! verdicts (never media).
//!
//! Why a trait: one replica keeps its state in an embedded SQLite file ([`SqliteStore`]);
//! several replicas behind a load balancer share a Redis ([`RedisStore`]), so a session created
//! on one replica is verified on another, a nonce used on one is refused by every other, and a
//! quota or rate limit counts the requests of all of them. Every operation that must not race
//! across replicas is one atomic step in the backend (a SQL statement under the connection
//! lock; a Lua script or `SET NX` in Redis): charging a quota, taking a rate-limit token, using
//! a nonce.
//!
//! Why async: Redis is network I/O and must not hold a tokio worker. SQLite statements are
//! sub-millisecond and run inline on one connection behind a mutex.
//!
//! Expiry: sessions stay readable for [`EXPIRED_SESSION_RETENTION_MS`] after they expire, so
//! a late submission gets `410 Gone` rather than `404`; used nonces are kept for as long as
//! the caller says (the window in which a replay would otherwise be accepted). Redis expires
//! both with key TTLs; SQLite deletes them lazily when new ones are written.

mod redis;
mod sqlite;

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Instant;

use async_trait::async_trait;
use liveproof::challenge::ChallengeAction;
use liveproof::verify::LightPath;
use serde::{Deserialize, Serialize};

pub use crate::clock::now_ms;

pub use self::redis::RedisStore;
pub use sqlite::SqliteStore;

/// How long an expired session stays readable (to answer 410 instead of 404).
pub const EXPIRED_SESSION_RETENTION_MS: u64 = 24 * 3600 * 1000;

/// A stored API key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyRecord {
    pub app_id: String,
    /// SHA-256 of the key (the key itself is never stored).
    pub key_hash: [u8; 32],
    /// Total requests allowed; `None` = unlimited.
    pub quota: Option<u64>,
    /// Requests counted so far.
    pub used: u64,
    pub rate_per_minute: Option<u32>,
}

/// Result of charging one request to a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Charge {
    Accepted {
        used: u64,
    },
    /// The key's quota is spent (or the key is unknown).
    Exhausted,
}

/// Result of taking one token from a rate-limit bucket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RateDecision {
    Allowed,
    /// Empty bucket: the next token arrives in this many seconds.
    Limited {
        retry_after_s: u64,
    },
}

/// One verdict, as audited.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditEntry {
    pub request_id: String,
    pub route: String,
    /// Who asked: the app id, the JWT `sub`, `device:<id>` or `public:<ip>`.
    pub principal: String,
    /// `real` / `fake` / `no_face` / `REAL` / ...
    pub verdict: String,
    /// 0–1, when a score exists.
    pub score: Option<f64>,
    /// Caller's correlation id (`unique_id`, evidence session id), if any.
    pub correlation_id: Option<String>,
    /// Structured detail as JSON text (the evidence routes record client/server
    /// disagreement here); never media.
    pub detail: Option<String>,
}

/// Where a liveness session stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SessionStatus {
    /// Issued, no evidence accepted yet.
    Pending,
    /// Evidence accepted and a verdict issued.
    Verified,
    /// Evidence passed the signature checks (its nonce is spent) but could not be analysed.
    Rejected,
}

impl SessionStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            SessionStatus::Pending => "pending",
            SessionStatus::Verified => "verified",
            SessionStatus::Rejected => "rejected",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "pending" => Some(SessionStatus::Pending),
            "verified" => Some(SessionStatus::Verified),
            "rejected" => Some(SessionStatus::Rejected),
            _ => None,
        }
    }
}

/// An online liveness session, as issued by `POST /v1/sessions`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SessionRecord {
    pub id: String,
    /// The server nonce; also the script's seed.
    pub nonce: String,
    /// The per-session HMAC key the client signs its evidence with (kept for the session's
    /// lifetime: it is a shared secret, so the verifier needs it).
    pub key: [u8; 32],
    /// The challenge script drawn from the nonce.
    pub script: Vec<ChallengeAction>,
    /// Time allowed per challenge, ms (the server's clip re-run uses the same).
    pub timeout_ms: f64,
    /// Who created it (JWT `sub`, or `public:<ip>`).
    pub principal: String,
    /// The `aud` of its verdict: the creating relying party, or the public audience.
    #[serde(default)]
    pub audience: String,
    pub created_ms: u64,
    pub expires_ms: u64,
    pub status: SessionStatus,
    /// Whether the session plays the light sequence its nonce determines (re-derived at
    /// verification), or took the no-flash path. Sessions stored before light have none.
    #[serde(default)]
    pub light: LightPath,
}

impl SessionRecord {
    /// When the store may forget the session.
    pub fn keep_until_ms(&self) -> u64 {
        self.expires_ms.saturating_add(EXPIRED_SESSION_RETENTION_MS)
    }
}

/// A provisioned kiosk device.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceRecord {
    pub id: String,
    /// Raw Ed25519 public key.
    pub public_key: [u8; 32],
    pub label: Option<String>,
    /// JWT `sub` of whoever registered it.
    pub owner: String,
    pub created_ms: u64,
    /// Set once revoked; a revoked device's evidence is refused.
    pub revoked_ms: Option<u64>,
}

/// Store failure: 503 + `Retry-After` for the caller when the backend cannot be reached
/// ([`StoreError::is_unreachable`]: Redis down or restarting; the connection manager reconnects
/// by itself), 500 otherwise; the cause is logged, never sent.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("sqlite: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("redis: {0}")]
    Redis(#[from] ::redis::RedisError),
    #[error("store lock poisoned")]
    Poisoned,
    /// A stored value does not parse (written by another version, or edited by hand).
    #[error("corrupt stored value: {0}")]
    Corrupt(String),
}

impl StoreError {
    /// The backend did not answer (refused, dropped or timed out), as opposed to answering
    /// with an error: a retry later can succeed.
    pub fn is_unreachable(&self) -> bool {
        match self {
            StoreError::Redis(e) => {
                e.is_io_error()
                    || e.is_connection_refusal()
                    || e.is_connection_dropped()
                    || e.is_timeout()
            }
            _ => false,
        }
    }
}

/// What the server needs from its state backend.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Which backend (logs, `/readyz`).
    fn backend(&self) -> &'static str;
    /// Whether the backend answers.
    async fn ping(&self) -> Result<(), StoreError>;

    /// Inserts or replaces a key (quota usage is kept when the key already exists).
    async fn upsert_key(&self, key: &KeyRecord) -> Result<(), StoreError>;
    /// The key registered for `app_id`.
    async fn key(&self, app_id: &str) -> Result<Option<KeyRecord>, StoreError>;
    /// Atomically counts one request against the key's quota.
    async fn charge(&self, app_id: &str) -> Result<Charge, StoreError>;
    /// Atomically takes one token from `bucket` (capacity and refill: `per_minute`).
    async fn take_token(&self, bucket: &str, per_minute: u32) -> Result<RateDecision, StoreError>;

    /// Appends a verdict to the audit log.
    async fn audit(&self, entry: &AuditEntry) -> Result<(), StoreError>;
    /// Number of audit entries (ops and tests).
    async fn audit_len(&self) -> Result<u64, StoreError>;
    /// The last `n` audit entries, oldest first.
    async fn audit_tail(&self, n: usize) -> Result<Vec<AuditEntry>, StoreError>;

    /// Stores a new session (its id is random; a clash is not expected).
    async fn create_session(&self, session: &SessionRecord) -> Result<(), StoreError>;
    /// The session, expired or not, until [`SessionRecord::keep_until_ms`].
    async fn session(&self, id: &str) -> Result<Option<SessionRecord>, StoreError>;
    /// Sets a session's status; false when the session is unknown.
    async fn set_session_status(&self, id: &str, status: SessionStatus)
        -> Result<bool, StoreError>;

    /// Uses `nonce` within `scope` exactly once: true the first time, false for every later
    /// call (from any replica) until `keep_ms` has passed.
    async fn use_nonce(&self, scope: &str, nonce: &str, keep_ms: u64) -> Result<bool, StoreError>;
    /// Gives a nonce back (the request that used it produced no verdict, e.g. a 503).
    async fn release_nonce(&self, scope: &str, nonce: &str) -> Result<(), StoreError>;

    /// Registers a device (its id is random).
    async fn add_device(&self, device: &DeviceRecord) -> Result<(), StoreError>;
    /// The device, revoked or not.
    async fn device(&self, id: &str) -> Result<Option<DeviceRecord>, StoreError>;
    /// Revokes a device (idempotent: the first revocation time is kept); the updated record,
    /// or `None` when the device is unknown.
    async fn revoke_device(&self, id: &str, at_ms: u64)
        -> Result<Option<DeviceRecord>, StoreError>;
}

/// Per-process token buckets: the rate limiter of the single-replica SQLite store (a rate
/// limit need not survive a restart, and writing every request to disk would cost more than
/// the limit saves).
#[derive(Debug, Default)]
pub struct LocalRateLimiter {
    buckets: Mutex<HashMap<String, (f64, Instant)>>,
}

impl LocalRateLimiter {
    /// Takes one token from `bucket` (capacity and refill: `per_minute`).
    pub fn take(&self, bucket: &str, per_minute: u32) -> Result<RateDecision, StoreError> {
        let capacity = per_minute.max(1) as f64;
        let refill_per_s = capacity / 60.0;
        let now = Instant::now();
        let mut buckets = self.buckets.lock().map_err(|_| StoreError::Poisoned)?;
        // Bound memory under a flood of distinct buckets (e.g. client IPs): forget full ones.
        if buckets.len() > 100_000 {
            buckets.retain(|_, (tokens, last)| {
                *tokens + now.duration_since(*last).as_secs_f64() * refill_per_s < capacity
            });
        }
        let (tokens, last) = buckets.entry(bucket.to_owned()).or_insert((capacity, now));
        *tokens = (*tokens + now.duration_since(*last).as_secs_f64() * refill_per_s).min(capacity);
        *last = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            Ok(RateDecision::Allowed)
        } else {
            Ok(RateDecision::Limited {
                retry_after_s: ((1.0 - *tokens) / refill_per_s).ceil().max(1.0) as u64,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_allows_burst_then_limits() {
        let r = LocalRateLimiter::default();
        assert_eq!(r.take("a", 2).unwrap(), RateDecision::Allowed);
        assert_eq!(r.take("a", 2).unwrap(), RateDecision::Allowed);
        assert_eq!(
            r.take("a", 2).unwrap(),
            RateDecision::Limited { retry_after_s: 30 }
        );
        assert_eq!(r.take("b", 2).unwrap(), RateDecision::Allowed);
    }
}
