//! Durable state behind a small trait: API keys (hashed), quota usage, and an audit log of
//! verdicts (never media).
//!
//! Why a trait: one replica keeps its state in an embedded SQLite file; several replicas
//! behind a load balancer need a shared store (Redis), which only has to implement these
//! few operations. Every operation is short and synchronous; [`SqliteStore`] serialises them
//! on one connection behind a mutex (sub-millisecond statements, far cheaper than a pipeline
//! run, so holding it on an async worker is fine).

use std::sync::Mutex;

use rusqlite::{params, Connection, OptionalExtension};

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
    /// The key's quota is spent.
    Exhausted,
}

/// One verdict, as audited.
#[derive(Debug, Clone)]
pub struct AuditEntry {
    pub request_id: String,
    pub route: String,
    /// Who asked: the app id, or the JWT `sub`.
    pub principal: String,
    /// `real` / `fake` / `no_face` / ...
    pub verdict: String,
    /// 0–1, when a score exists.
    pub score: Option<f64>,
    /// Caller's correlation id (`unique_id`), if sent.
    pub correlation_id: Option<String>,
}

/// Store failure (always a 500 for the caller).
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("sqlite: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("store lock poisoned")]
    Poisoned,
}

/// What the server needs from its state backend.
pub trait Store: Send + Sync + 'static {
    /// Inserts or replaces a key (quota usage is kept when the key already exists).
    fn upsert_key(&self, key: &KeyRecord) -> Result<(), StoreError>;
    /// The key registered for `app_id`.
    fn key(&self, app_id: &str) -> Result<Option<KeyRecord>, StoreError>;
    /// Atomically counts one request against the key's quota.
    fn charge(&self, app_id: &str) -> Result<Charge, StoreError>;
    /// Appends a verdict to the audit log.
    fn audit(&self, entry: &AuditEntry) -> Result<(), StoreError>;
    /// Number of audit rows (ops and tests).
    fn audit_len(&self) -> Result<u64, StoreError>;
}

/// SQLite implementation (file or `:memory:`).
pub struct SqliteStore {
    conn: Mutex<Connection>,
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
";

impl SqliteStore {
    /// Opens (creating if needed) the database at `path`.
    pub fn open(path: &str) -> Result<Self, StoreError> {
        let conn = Connection::open(path)?;
        conn.execute_batch(SCHEMA)?;
        Ok(Self {
            conn: Mutex::new(conn),
        })
    }

    fn with<T>(&self, f: impl FnOnce(&Connection) -> rusqlite::Result<T>) -> Result<T, StoreError> {
        let conn = self.conn.lock().map_err(|_| StoreError::Poisoned)?;
        Ok(f(&conn)?)
    }
}

impl Store for SqliteStore {
    fn upsert_key(&self, k: &KeyRecord) -> Result<(), StoreError> {
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

    fn key(&self, app_id: &str) -> Result<Option<KeyRecord>, StoreError> {
        self.with(|c| {
            c.query_row(
                "SELECT app_id, key_hash, quota, used, rate_per_minute FROM api_keys WHERE app_id = ?1",
                params![app_id],
                |r| {
                    let hash: Vec<u8> = r.get(1)?;
                    let mut key_hash = [0u8; 32];
                    if hash.len() == 32 {
                        key_hash.copy_from_slice(&hash);
                    }
                    Ok(KeyRecord {
                        app_id: r.get(0)?,
                        key_hash,
                        quota: r.get::<_, Option<i64>>(2)?.map(|q| q.max(0) as u64),
                        used: r.get::<_, i64>(3)?.max(0) as u64,
                        rate_per_minute: r.get(4)?,
                    })
                },
            )
            .optional()
        })
    }

    fn charge(&self, app_id: &str) -> Result<Charge, StoreError> {
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
            Ok(Charge::Accepted {
                used: used.max(0) as u64,
            })
        })
    }

    fn audit(&self, e: &AuditEntry) -> Result<(), StoreError> {
        self.with(|c| {
            c.execute(
                "INSERT INTO audit (request_id, route, principal, verdict, score, correlation_id)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![
                    e.request_id,
                    e.route,
                    e.principal,
                    e.verdict,
                    e.score,
                    e.correlation_id
                ],
            )
            .map(|_| ())
        })
    }

    fn audit_len(&self) -> Result<u64, StoreError> {
        self.with(|c| {
            c.query_row("SELECT COUNT(*) FROM audit", [], |r| r.get::<_, i64>(0))
                .map(|n| n.max(0) as u64)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quota_is_charged_atomically_and_audit_holds_no_media() {
        let s = SqliteStore::open(":memory:").unwrap();
        s.upsert_key(&KeyRecord {
            app_id: "a".into(),
            key_hash: [7; 32],
            quota: Some(2),
            used: 0,
            rate_per_minute: None,
        })
        .unwrap();
        assert_eq!(s.charge("a").unwrap(), Charge::Accepted { used: 1 });
        assert_eq!(s.charge("a").unwrap(), Charge::Accepted { used: 2 });
        assert_eq!(s.charge("a").unwrap(), Charge::Exhausted);
        assert_eq!(s.charge("missing").unwrap(), Charge::Exhausted);
        assert_eq!(s.key("a").unwrap().unwrap().key_hash, [7; 32]);
        s.audit(&AuditEntry {
            request_id: "r".into(),
            route: "/x".into(),
            principal: "a".into(),
            verdict: "real".into(),
            score: Some(0.9),
            correlation_id: None,
        })
        .unwrap();
        assert_eq!(s.audit_len().unwrap(), 1);
    }

    #[test]
    fn a_file_database_keeps_usage_across_reopen() {
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
            s.upsert_key(&key).unwrap();
            s.charge("f").unwrap();
        }
        let s = SqliteStore::open(&path).unwrap();
        s.upsert_key(&key).unwrap();
        assert_eq!(
            s.key("f").unwrap().unwrap().used,
            1,
            "usage survives a restart"
        );
        assert_eq!(s.charge("f").unwrap(), Charge::Accepted { used: 2 });
        drop(s);
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{path}{suffix}"));
        }
    }
}
