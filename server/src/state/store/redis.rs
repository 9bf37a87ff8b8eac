//! The shared store for several replicas: Redis (`redis_url`).
//!
//! Key layout, all under the configured prefix `P` (so deployments can share a Redis):
//!
//! | key | type | content | expiry |
//! |---|---|---|---|
//! | `P:key:<app_id>` | hash | `hash` (hex SHA-256), `quota`, `used`, `rate` | none |
//! | `P:rate:<bucket>` | hash | `tokens`, `ts` (ms, Redis clock) | when full again |
//! | `P:audit` | stream | one entry per verdict | capped at `audit_max` entries |
//! | `P:session:<id>` | hash | `record` (JSON), `status` | expiry + retention |
//! | `P:nonce:<scope>:<nonce>` | string | `1` | the replay window |
//! | `P:device:<id>` | hash | `record` (JSON), `revoked_ms` | none |
//!
//! Atomicity: a nonce is used with `SET NX PX` (exactly one caller sees it set); quota
//! charging, rate-limit buckets, key upserts and status updates are Lua scripts (a script runs
//! alone on the server). Rate buckets use the Redis server's clock (`TIME`), so replicas with
//! skewed clocks share one consistent bucket.
//!
//! The connection is a [`ConnectionManager`]: one multiplexed connection shared by every
//! request, reconnected in the background after a Redis restart; commands time out after
//! [`COMMAND_TIMEOUT`] so an unreachable Redis gives a prompt 500, not a hung request.

use std::collections::HashMap;
use std::time::Duration;

use ::redis::aio::{ConnectionManager, ConnectionManagerConfig};
use ::redis::{AsyncCommands, Script};
use async_trait::async_trait;

use super::{
    AuditEntry, Charge, DeviceRecord, KeyRecord, RateDecision, SessionRecord, SessionStatus, Store,
    StoreError,
};

/// Connect and per-command timeout.
pub const COMMAND_TIMEOUT: Duration = Duration::from_secs(2);
/// Audit entries kept (approximately: the stream is trimmed with `MAXLEN ~`).
pub const AUDIT_MAX: u64 = 1_000_000;

const UPSERT_KEY: &str = r"
redis.call('HSET', KEYS[1], 'hash', ARGV[1])
if ARGV[2] == '' then redis.call('HDEL', KEYS[1], 'quota') else redis.call('HSET', KEYS[1], 'quota', ARGV[2]) end
if ARGV[3] == '' then redis.call('HDEL', KEYS[1], 'rate') else redis.call('HSET', KEYS[1], 'rate', ARGV[3]) end
redis.call('HSETNX', KEYS[1], 'used', 0)
return 1
";

/// -1 = exhausted or unknown key; otherwise the new usage.
const CHARGE: &str = r"
if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
local quota = redis.call('HGET', KEYS[1], 'quota')
local used = tonumber(redis.call('HGET', KEYS[1], 'used') or '0')
if quota and used >= tonumber(quota) then return -1 end
return redis.call('HINCRBY', KEYS[1], 'used', 1)
";

/// Token bucket: ARGV[1] capacity, ARGV[2] tokens per ms. Returns 0 when a token was taken,
/// else the milliseconds until the next one.
const TAKE_TOKEN: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local cap = tonumber(ARGV[1])
local rate = tonumber(ARGV[2])
local b = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local tokens = tonumber(b[1]) or cap
local ts = tonumber(b[2]) or now
tokens = math.min(cap, tokens + math.max(0, now - ts) * rate)
local wait = 0
if tokens >= 1 then tokens = tokens - 1 else wait = math.ceil((1 - tokens) / rate) end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'ts', tostring(now))
redis.call('PEXPIRE', KEYS[1], math.ceil(cap / rate) + 1000)
return wait
";

const SET_STATUS: &str = r"
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], 'status', ARGV[1])
return 1
";

const REVOKE: &str = r"
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HSETNX', KEYS[1], 'revoked_ms', ARGV[1])
return 1
";

/// Redis implementation.
#[derive(Clone)]
pub struct RedisStore {
    conn: ConnectionManager,
    prefix: String,
    upsert_key: Script,
    charge: Script,
    take_token: Script,
    set_status: Script,
    revoke: Script,
}

impl std::fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisStore")
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

impl RedisStore {
    /// Connects to `url` (`redis://[user:password@]host:port[/db]` or `redis+unix:///path`;
    /// this build has no TLS, so `rediss://` is refused) and checks that the server answers.
    pub async fn connect(url: &str, prefix: &str) -> Result<Self, StoreError> {
        let client = ::redis::Client::open(url)?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(COMMAND_TIMEOUT))
            .set_response_timeout(Some(COMMAND_TIMEOUT))
            .set_number_of_retries(3);
        let conn = client.get_connection_manager_with_config(config).await?;
        let store = Self {
            conn,
            prefix: prefix.to_owned(),
            upsert_key: Script::new(UPSERT_KEY),
            charge: Script::new(CHARGE),
            take_token: Script::new(TAKE_TOKEN),
            set_status: Script::new(SET_STATUS),
            revoke: Script::new(REVOKE),
        };
        store.ping().await?;
        Ok(store)
    }

    fn key(&self, kind: &str, id: &str) -> String {
        format!("{}:{kind}:{id}", self.prefix)
    }

    fn conn(&self) -> ConnectionManager {
        // Cheap: a handle to the one multiplexed connection.
        self.conn.clone()
    }
}

fn corrupt(what: &str, e: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(format!("{what}: {e}"))
}

fn field<T: std::str::FromStr>(h: &HashMap<String, String>, name: &str) -> Option<T> {
    h.get(name).and_then(|v| v.parse().ok())
}

#[async_trait]
impl Store for RedisStore {
    fn backend(&self) -> &'static str {
        "redis"
    }

    async fn ping(&self) -> Result<(), StoreError> {
        let _: String = ::redis::cmd("PING").query_async(&mut self.conn()).await?;
        Ok(())
    }

    async fn upsert_key(&self, k: &KeyRecord) -> Result<(), StoreError> {
        let _: i64 = self
            .upsert_key
            .key(self.key("key", &k.app_id))
            .arg(hex::encode(k.key_hash))
            .arg(k.quota.map_or(String::new(), |q| q.to_string()))
            .arg(k.rate_per_minute.map_or(String::new(), |r| r.to_string()))
            .invoke_async(&mut self.conn())
            .await?;
        Ok(())
    }

    async fn key(&self, app_id: &str) -> Result<Option<KeyRecord>, StoreError> {
        let h: HashMap<String, String> = self.conn().hgetall(self.key("key", app_id)).await?;
        let Some(hash) = h.get("hash") else {
            return Ok(None);
        };
        let key_hash = hex::decode(hash)
            .map_err(|e| corrupt("key hash", e))?
            .try_into()
            .map_err(|_| corrupt("key hash", "not 32 bytes"))?;
        Ok(Some(KeyRecord {
            app_id: app_id.to_owned(),
            key_hash,
            quota: field(&h, "quota"),
            used: field(&h, "used").unwrap_or(0),
            rate_per_minute: field(&h, "rate"),
        }))
    }

    async fn charge(&self, app_id: &str) -> Result<Charge, StoreError> {
        let used: i64 = self
            .charge
            .key(self.key("key", app_id))
            .invoke_async(&mut self.conn())
            .await?;
        Ok(if used < 0 {
            Charge::Exhausted
        } else {
            Charge::Accepted { used: used as u64 }
        })
    }

    async fn take_token(&self, bucket: &str, per_minute: u32) -> Result<RateDecision, StoreError> {
        let capacity = per_minute.max(1);
        let per_ms = f64::from(capacity) / 60_000.0;
        let wait_ms: i64 = self
            .take_token
            .key(self.key("rate", bucket))
            .arg(capacity)
            .arg(per_ms)
            .invoke_async(&mut self.conn())
            .await?;
        Ok(if wait_ms <= 0 {
            RateDecision::Allowed
        } else {
            RateDecision::Limited {
                retry_after_s: (wait_ms as u64).div_ceil(1000),
            }
        })
    }

    async fn audit(&self, e: &AuditEntry) -> Result<(), StoreError> {
        let mut cmd = ::redis::cmd("XADD");
        cmd.arg(format!("{}:audit", self.prefix))
            .arg("MAXLEN")
            .arg("~")
            .arg(AUDIT_MAX)
            .arg("*")
            .arg("at_ms")
            .arg(super::now_ms())
            .arg("request_id")
            .arg(&e.request_id)
            .arg("route")
            .arg(&e.route)
            .arg("principal")
            .arg(&e.principal)
            .arg("verdict")
            .arg(&e.verdict);
        if let Some(s) = e.score {
            cmd.arg("score").arg(s);
        }
        if let Some(c) = &e.correlation_id {
            cmd.arg("correlation_id").arg(c);
        }
        if let Some(d) = &e.detail {
            cmd.arg("detail").arg(d);
        }
        let _: String = cmd.query_async(&mut self.conn()).await?;
        Ok(())
    }

    async fn audit_len(&self) -> Result<u64, StoreError> {
        Ok(::redis::cmd("XLEN")
            .arg(format!("{}:audit", self.prefix))
            .query_async(&mut self.conn())
            .await?)
    }

    async fn audit_tail(&self, n: usize) -> Result<Vec<AuditEntry>, StoreError> {
        let rows: Vec<(String, HashMap<String, String>)> = ::redis::cmd("XREVRANGE")
            .arg(format!("{}:audit", self.prefix))
            .arg("+")
            .arg("-")
            .arg("COUNT")
            .arg(n)
            .query_async(&mut self.conn())
            .await?;
        let mut out: Vec<AuditEntry> = rows
            .into_iter()
            .map(|(_, mut h)| AuditEntry {
                request_id: h.remove("request_id").unwrap_or_default(),
                route: h.remove("route").unwrap_or_default(),
                principal: h.remove("principal").unwrap_or_default(),
                verdict: h.remove("verdict").unwrap_or_default(),
                score: field(&h, "score"),
                correlation_id: h.remove("correlation_id"),
                detail: h.remove("detail"),
            })
            .collect();
        out.reverse();
        Ok(out)
    }

    async fn create_session(&self, s: &SessionRecord) -> Result<(), StoreError> {
        let key = self.key("session", &s.id);
        let record = serde_json::to_string(s).map_err(|e| corrupt("session", e))?;
        let _: () = ::redis::pipe()
            .atomic()
            .hset_multiple(
                &key,
                &[("record", record.as_str()), ("status", s.status.as_str())],
            )
            .ignore()
            .cmd("PEXPIREAT")
            .arg(&key)
            .arg(s.keep_until_ms())
            .ignore()
            .query_async(&mut self.conn())
            .await?;
        Ok(())
    }

    async fn session(&self, id: &str) -> Result<Option<SessionRecord>, StoreError> {
        let h: HashMap<String, String> = self.conn().hgetall(self.key("session", id)).await?;
        let Some(record) = h.get("record") else {
            return Ok(None);
        };
        let mut s: SessionRecord =
            serde_json::from_str(record).map_err(|e| corrupt("session", e))?;
        if let Some(status) = h.get("status") {
            s.status =
                SessionStatus::parse(status).ok_or_else(|| corrupt("session status", status))?;
        }
        Ok(Some(s))
    }

    async fn set_session_status(
        &self,
        id: &str,
        status: SessionStatus,
    ) -> Result<bool, StoreError> {
        let n: i64 = self
            .set_status
            .key(self.key("session", id))
            .arg(status.as_str())
            .invoke_async(&mut self.conn())
            .await?;
        Ok(n == 1)
    }

    async fn use_nonce(&self, scope: &str, nonce: &str, keep_ms: u64) -> Result<bool, StoreError> {
        let set: Option<String> = ::redis::cmd("SET")
            .arg(self.key("nonce", &format!("{scope}:{nonce}")))
            .arg(1)
            .arg("NX")
            .arg("PX")
            .arg(keep_ms.max(1))
            .query_async(&mut self.conn())
            .await?;
        Ok(set.is_some())
    }

    async fn release_nonce(&self, scope: &str, nonce: &str) -> Result<(), StoreError> {
        let _: i64 = self
            .conn()
            .del(self.key("nonce", &format!("{scope}:{nonce}")))
            .await?;
        Ok(())
    }

    async fn add_device(&self, d: &DeviceRecord) -> Result<(), StoreError> {
        let record = serde_json::to_string(&DeviceRecord {
            revoked_ms: None,
            ..d.clone()
        })
        .map_err(|e| corrupt("device", e))?;
        let mut fields = vec![("record", record)];
        if let Some(t) = d.revoked_ms {
            fields.push(("revoked_ms", t.to_string()));
        }
        let _: () = self
            .conn()
            .hset_multiple(self.key("device", &d.id), &fields)
            .await?;
        Ok(())
    }

    async fn device(&self, id: &str) -> Result<Option<DeviceRecord>, StoreError> {
        let h: HashMap<String, String> = self.conn().hgetall(self.key("device", id)).await?;
        let Some(record) = h.get("record") else {
            return Ok(None);
        };
        let mut d: DeviceRecord = serde_json::from_str(record).map_err(|e| corrupt("device", e))?;
        d.revoked_ms = field(&h, "revoked_ms");
        Ok(Some(d))
    }

    async fn revoke_device(
        &self,
        id: &str,
        at_ms: u64,
    ) -> Result<Option<DeviceRecord>, StoreError> {
        let n: i64 = self
            .revoke
            .key(self.key("device", id))
            .arg(at_ms)
            .invoke_async(&mut self.conn())
            .await?;
        if n == 0 {
            return Ok(None);
        }
        self.device(id).await
    }
}
