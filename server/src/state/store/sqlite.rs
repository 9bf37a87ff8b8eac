//! The single-replica store: one SQLite connection (file or `:memory:`) behind a mutex.
//!
//! Every operation is one or two short statements under the lock, so each is atomic with
//! respect to the others (a nonce is used once, a quota never overshoots). Statements are
//! sub-millisecond, far cheaper than a pipeline run, so they run inline on the async worker.
//! Rate limits are kept in memory ([`LocalRateLimiter`]): one process is the only one that
//! counts.

use std::sync::Mutex;

use async_trait::async_trait;
use liveproof::verify::LightPath;
use rusqlite::{params, Connection, OptionalExtension};

use super::{
    now_ms, AuditEntry, Charge, DeviceRecord, KeyRecord, LocalRateLimiter, RateDecision,
    SessionRecord, SessionStatus, Store, StoreError, EXPIRED_SESSION_RETENTION_MS,
};

/// SQLite implementation (file or `:memory:`).
pub struct SqliteStore {
    conn: Mutex<Connection>,
    rate: LocalRateLimiter,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SqliteStore")
    }
}

const SCHEMA: &str = "
PRAGMA journal_mode = WAL;
CREATE TABLE IF NOT EXISTS api_keys (
    app_id TEXT PRIMARY KEY,
    key_hash BLOB NOT NULL,
    quota INTEGER,
    used INTEGER NOT NULL DEFAULT 0,
    rate_per_minute INTEGER
);
CREATE TABLE IF NOT EXISTS audit (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    request_id TEXT NOT NULL,
    route TEXT NOT NULL,
    principal TEXT NOT NULL,
    verdict TEXT NOT NULL,
    score REAL,
    correlation_id TEXT
);
CREATE TABLE IF NOT EXISTS sessions (
    id TEXT PRIMARY KEY,
    nonce TEXT NOT NULL,
    key BLOB NOT NULL,
    script TEXT NOT NULL,
    timeout_ms REAL NOT NULL,
    principal TEXT NOT NULL,
    audience TEXT NOT NULL DEFAULT '',
    created_ms INTEGER NOT NULL,
    expires_ms INTEGER NOT NULL,
    status TEXT NOT NULL,
    light TEXT NOT NULL DEFAULT 'off'
);
CREATE INDEX IF NOT EXISTS sessions_expiry ON sessions (expires_ms);
CREATE TABLE IF NOT EXISTS nonces (
    scope TEXT NOT NULL,
    nonce TEXT NOT NULL,
    expires_ms INTEGER NOT NULL,
    PRIMARY KEY (scope, nonce)
);
CREATE INDEX IF NOT EXISTS nonces_expiry ON nonces (expires_ms);
CREATE TABLE IF NOT EXISTS devices (
    id TEXT PRIMARY KEY,
    public_key BLOB NOT NULL,
    label TEXT,
    owner TEXT NOT NULL,
    created_ms INTEGER NOT NULL,
    revoked_ms INTEGER
);
";

/// A light path's stored name (its JSON name).
fn light_name(path: LightPath) -> &'static str {
    match path {
        LightPath::Light => "light",
        LightPath::NoFlash => "no_flash",
        LightPath::Off => "off",
    }
}

impl SqliteStore {
    /// Opens (creating or migrating if needed) the database at `path`.
    pub fn open(path: &str) -> Result<Self, StoreError> {
        let conn = Connection::open(path)?;
        conn.execute_batch(SCHEMA)?;
        // Databases from before the evidence routes lack the audit detail column.
        let has_detail = conn
            .prepare("SELECT 1 FROM pragma_table_info('audit') WHERE name = 'detail'")?
            .exists([])?;
        if !has_detail {
            conn.execute_batch("ALTER TABLE audit ADD COLUMN detail TEXT")?;
        }
        // ... and sessions from before signed verdicts named their audience.
        let has_audience = conn
            .prepare("SELECT 1 FROM pragma_table_info('sessions') WHERE name = 'audience'")?
            .exists([])?;
        if !has_audience {
            conn.execute_batch(
                "ALTER TABLE sessions ADD COLUMN audience TEXT NOT NULL DEFAULT ''",
            )?;
        }
        // ... and sessions from before the light challenge.
        let has_light = conn
            .prepare("SELECT 1 FROM pragma_table_info('sessions') WHERE name = 'light'")?
            .exists([])?;
        if !has_light {
            conn.execute_batch(
                "ALTER TABLE sessions ADD COLUMN light TEXT NOT NULL DEFAULT 'off'",
            )?;
        }
        Ok(Self {
            conn: Mutex::new(conn),
            rate: LocalRateLimiter::default(),
        })
    }

    fn with<T>(&self, f: impl FnOnce(&Connection) -> rusqlite::Result<T>) -> Result<T, StoreError> {
        let conn = self.conn.lock().map_err(|_| StoreError::Poisoned)?;
        Ok(f(&conn)?)
    }
}

fn blob32(v: Vec<u8>) -> Result<[u8; 32], StoreError> {
    v.try_into()
        .map_err(|v: Vec<u8>| StoreError::Corrupt(format!("expected 32 bytes, got {}", v.len())))
}

fn ms(v: i64) -> u64 {
    v.max(0) as u64
}

#[async_trait]
impl Store for SqliteStore {
    fn backend(&self) -> &'static str {
        "sqlite"
    }

    async fn ping(&self) -> Result<(), StoreError> {
        self.with(|c| c.query_row("SELECT 1", [], |_| Ok(())))
    }

    async fn upsert_key(&self, k: &KeyRecord) -> Result<(), StoreError> {
        self.with(|c| {
            c.execute(
                "INSERT INTO api_keys (app_id, key_hash, quota, used, rate_per_minute)
                 VALUES (?1, ?2, ?3, 0, ?4)
                 ON CONFLICT(app_id) DO UPDATE SET key_hash = ?2, quota = ?3, rate_per_minute = ?4",
                params![
                    k.app_id,
                    &k.key_hash[..],
                    k.quota.map(|q| q as i64),
                    k.rate_per_minute
                ],
            )
            .map(|_| ())
        })
    }

    async fn key(&self, app_id: &str) -> Result<Option<KeyRecord>, StoreError> {
        let row = self.with(|c| {
            c.query_row(
                "SELECT app_id, key_hash, quota, used, rate_per_minute FROM api_keys WHERE app_id = ?1",
                params![app_id],
                |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get::<_, Vec<u8>>(1)?,
                        r.get::<_, Option<i64>>(2)?,
                        r.get::<_, i64>(3)?,
                        r.get::<_, Option<u32>>(4)?,
                    ))
                },
            )
            .optional()
        })?;
        row.map(|(app_id, hash, quota, used, rate_per_minute)| {
            Ok(KeyRecord {
                app_id,
                key_hash: blob32(hash)?,
                quota: quota.map(ms),
                used: ms(used),
                rate_per_minute,
            })
        })
        .transpose()
    }

    async fn charge(&self, app_id: &str) -> Result<Charge, StoreError> {
        self.with(|c| {
            let changed = c.execute(
                "UPDATE api_keys SET used = used + 1
                 WHERE app_id = ?1 AND (quota IS NULL OR used < quota)",
                params![app_id],
            )?;
            if changed == 0 {
                return Ok(Charge::Exhausted);
            }
            let used: i64 = c.query_row(
                "SELECT used FROM api_keys WHERE app_id = ?1",
                params![app_id],
                |r| r.get(0),
            )?;
            Ok(Charge::Accepted { used: ms(used) })
        })
    }

    async fn take_token(&self, bucket: &str, per_minute: u32) -> Result<RateDecision, StoreError> {
        self.rate.take(bucket, per_minute)
    }

    async fn audit(&self, e: &AuditEntry) -> Result<(), StoreError> {
        self.with(|c| {
            c.execute(
                "INSERT INTO audit (request_id, route, principal, verdict, score, correlation_id, detail)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                params![
                    e.request_id,
                    e.route,
                    e.principal,
                    e.verdict,
                    e.score,
                    e.correlation_id,
                    e.detail
                ],
            )
            .map(|_| ())
        })
    }

    async fn audit_len(&self) -> Result<u64, StoreError> {
        self.with(|c| {
            c.query_row("SELECT COUNT(*) FROM audit", [], |r| r.get::<_, i64>(0))
                .map(ms)
        })
    }

    async fn audit_tail(&self, n: usize) -> Result<Vec<AuditEntry>, StoreError> {
        let mut rows = self.with(|c| {
            let mut stmt = c.prepare(
                "SELECT request_id, route, principal, verdict, score, correlation_id, detail
                 FROM audit ORDER BY id DESC LIMIT ?1",
            )?;
            let rows = stmt
                .query_map(params![n as i64], |r| {
                    Ok(AuditEntry {
                        request_id: r.get(0)?,
                        route: r.get(1)?,
                        principal: r.get(2)?,
                        verdict: r.get(3)?,
                        score: r.get(4)?,
                        correlation_id: r.get(5)?,
                        detail: r.get(6)?,
                    })
                })?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            Ok(rows)
        })?;
        rows.reverse();
        Ok(rows)
    }

    async fn create_session(&self, s: &SessionRecord) -> Result<(), StoreError> {
        let script = serde_json::to_string(&s.script)
            .map_err(|e| StoreError::Corrupt(format!("script: {e}")))?;
        let forget_before = now_ms().saturating_sub(EXPIRED_SESSION_RETENTION_MS);
        self.with(|c| {
            c.execute(
                "DELETE FROM sessions WHERE expires_ms < ?1",
                params![forget_before as i64],
            )?;
            c.execute(
                "INSERT INTO sessions
                 (id, nonce, key, script, timeout_ms, principal, audience, created_ms,
                  expires_ms, status, light)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
                params![
                    s.id,
                    s.nonce,
                    &s.key[..],
                    script,
                    s.timeout_ms,
                    s.principal,
                    s.audience,
                    s.created_ms as i64,
                    s.expires_ms as i64,
                    s.status.as_str(),
                    light_name(s.light),
                ],
            )
            .map(|_| ())
        })
    }

    async fn session(&self, id: &str) -> Result<Option<SessionRecord>, StoreError> {
        let forget_before = now_ms().saturating_sub(EXPIRED_SESSION_RETENTION_MS);
        let row = self.with(|c| {
            c.query_row(
                "SELECT id, nonce, key, script, timeout_ms, principal, created_ms, expires_ms,
                        status, audience, light
                 FROM sessions WHERE id = ?1 AND expires_ms >= ?2",
                params![id, forget_before as i64],
                |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, Vec<u8>>(2)?,
                        r.get::<_, String>(3)?,
                        r.get::<_, f64>(4)?,
                        r.get::<_, String>(5)?,
                        r.get::<_, i64>(6)?,
                        r.get::<_, i64>(7)?,
                        r.get::<_, String>(8)?,
                        r.get::<_, String>(9)?,
                        r.get::<_, String>(10)?,
                    ))
                },
            )
            .optional()
        })?;
        let Some((
            id,
            nonce,
            key,
            script,
            timeout_ms,
            principal,
            created,
            expires,
            status,
            audience,
            light,
        )) = row
        else {
            return Ok(None);
        };
        Ok(Some(SessionRecord {
            id,
            nonce,
            key: blob32(key)?,
            script: serde_json::from_str(&script)
                .map_err(|e| StoreError::Corrupt(format!("session script: {e}")))?,
            timeout_ms,
            principal,
            audience,
            created_ms: ms(created),
            expires_ms: ms(expires),
            status: SessionStatus::parse(&status)
                .ok_or_else(|| StoreError::Corrupt(format!("session status {status:?}")))?,
            light: serde_json::from_value(serde_json::Value::String(light.clone()))
                .map_err(|_| StoreError::Corrupt(format!("session light {light:?}")))?,
        }))
    }

    async fn set_session_status(
        &self,
        id: &str,
        status: SessionStatus,
    ) -> Result<bool, StoreError> {
        self.with(|c| {
            c.execute(
                "UPDATE sessions SET status = ?2 WHERE id = ?1",
                params![id, status.as_str()],
            )
            .map(|n| n == 1)
        })
    }

    async fn use_nonce(&self, scope: &str, nonce: &str, keep_ms: u64) -> Result<bool, StoreError> {
        let now = now_ms();
        self.with(|c| {
            c.execute(
                "DELETE FROM nonces WHERE expires_ms < ?1",
                params![now as i64],
            )?;
            // Under the connection lock this insert is the whole decision: one row per
            // (scope, nonce), so a second use changes nothing.
            let inserted = c.execute(
                "INSERT INTO nonces (scope, nonce, expires_ms) VALUES (?1, ?2, ?3)
                 ON CONFLICT(scope, nonce) DO NOTHING",
                params![scope, nonce, now.saturating_add(keep_ms) as i64],
            )?;
            Ok(inserted == 1)
        })
    }

    async fn release_nonce(&self, scope: &str, nonce: &str) -> Result<(), StoreError> {
        self.with(|c| {
            c.execute(
                "DELETE FROM nonces WHERE scope = ?1 AND nonce = ?2",
                params![scope, nonce],
            )
            .map(|_| ())
        })
    }

    async fn add_device(&self, d: &DeviceRecord) -> Result<(), StoreError> {
        self.with(|c| {
            c.execute(
                "INSERT INTO devices (id, public_key, label, owner, created_ms, revoked_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![
                    d.id,
                    &d.public_key[..],
                    d.label,
                    d.owner,
                    d.created_ms as i64,
                    d.revoked_ms.map(|t| t as i64)
                ],
            )
            .map(|_| ())
        })
    }

    async fn device(&self, id: &str) -> Result<Option<DeviceRecord>, StoreError> {
        let row = self.with(|c| {
            c.query_row(
                "SELECT id, public_key, label, owner, created_ms, revoked_ms
                 FROM devices WHERE id = ?1",
                params![id],
                |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get::<_, Vec<u8>>(1)?,
                        r.get::<_, Option<String>>(2)?,
                        r.get::<_, String>(3)?,
                        r.get::<_, i64>(4)?,
                        r.get::<_, Option<i64>>(5)?,
                    ))
                },
            )
            .optional()
        })?;
        row.map(|(id, key, label, owner, created, revoked)| {
            Ok(DeviceRecord {
                id,
                public_key: blob32(key)?,
                label,
                owner,
                created_ms: ms(created),
                revoked_ms: revoked.map(ms),
            })
        })
        .transpose()
    }

    async fn revoke_device(
        &self,
        id: &str,
        at_ms: u64,
    ) -> Result<Option<DeviceRecord>, StoreError> {
        self.with(|c| {
            c.execute(
                "UPDATE devices SET revoked_ms = COALESCE(revoked_ms, ?2) WHERE id = ?1",
                params![id, at_ms as i64],
            )
            .map(|_| ())
        })?;
        self.device(id).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_file_database_keeps_usage_across_reopen() {
        let path = std::env::temp_dir().join(format!("liveproof-store-{}.db", std::process::id()));
        let path = path.to_str().unwrap().to_owned();
        let key = KeyRecord {
            app_id: "f".into(),
            key_hash: [1; 32],
            quota: Some(5),
            used: 0,
            rate_per_minute: Some(10),
        };
        {
            let s = SqliteStore::open(&path).unwrap();
            s.upsert_key(&key).await.unwrap();
            s.charge("f").await.unwrap();
        }
        let s = SqliteStore::open(&path).unwrap();
        s.upsert_key(&key).await.unwrap();
        assert_eq!(
            s.key("f").await.unwrap().unwrap().used,
            1,
            "usage survives a restart"
        );
        assert_eq!(s.charge("f").await.unwrap(), Charge::Accepted { used: 2 });
        drop(s);
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{path}{suffix}"));
        }
    }

    #[tokio::test]
    async fn an_old_database_gains_the_audit_detail_column() {
        let path = std::env::temp_dir().join(format!("liveproof-old-{}.db", std::process::id()));
        let path = path.to_str().unwrap().to_owned();
        {
            let c = Connection::open(&path).unwrap();
            c.execute_batch(
                "CREATE TABLE audit (id INTEGER PRIMARY KEY AUTOINCREMENT, at TEXT,
                 request_id TEXT NOT NULL, route TEXT NOT NULL, principal TEXT NOT NULL,
                 verdict TEXT NOT NULL, score REAL, correlation_id TEXT)",
            )
            .unwrap();
        }
        let s = SqliteStore::open(&path).unwrap();
        let e = AuditEntry {
            request_id: "r".into(),
            route: "/x".into(),
            principal: "p".into(),
            verdict: "REAL".into(),
            score: None,
            correlation_id: None,
            detail: Some("{}".into()),
        };
        s.audit(&e).await.unwrap();
        assert_eq!(s.audit_tail(1).await.unwrap(), vec![e]);
        drop(s);
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{path}{suffix}"));
        }
    }
}
