//! Server configuration: environment variables, optionally layered over a TOML file.
//!
//! Why both: a container sets two or three variables (`LIVEPROOF_ADDR`, `LIVEPROOF_CONFIG`,
//! `LIVEPROOF_MODELS`), while keys, quotas and limits are structured data that read better
//! in a file. The file is optional; every field has a default that is safe for a local run
//! (loopback address, no keys, so every authenticated route answers 401).
//!
//! | variable | meaning |
//! |---|---|
//! | `LIVEPROOF_ADDR` | listen address (default `127.0.0.1:8080`; overrides `addr` in the file) |
//! | `LIVEPROOF_CONFIG` | path of the TOML file |
//! | `LIVEPROOF_DB` | SQLite path (default in-memory; overrides `database`) |
//! | `LIVEPROOF_PREFIX` | extra route prefix such as `/sumi` (overrides `route_prefix`) |
//! | `LIVEPROOF_JWT_SECRET` | HS256 secret (overrides the file's `[jwt]` with an HS256 setup) |
//! | `LIVEPROOF_POOL_SIZE` | pipeline worker permits (default: number of cores) |
//! | `LIVEPROOF_REDIS_URL` | shared Redis store for several replicas (overrides `redis_url`) |
//! | `LIVEPROOF_SIGNING_KEY` | verdict key file (overrides `[signing] key_path`) |
//! | `LIVEPROOF_WWW_DIR` | serve this directory (the demo and kiosk pages) at `/` |
//! | `LIVEPROOF_PKG_DIR` | serve this directory (the built SDK package) at `/pkg/` |
//! | `LIVEPROOF_MODELS` | model directory (read by the core) |
//!
//! See `server/config.example.toml` for the file.

use std::path::Path;

use liveproof::challenge::ScriptPolicy;
use liveproof::verify::VerifyPolicy;
use serde::Deserialize;

/// Everything that can be wrong with the configuration (fatal at start-up).
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("config file {path}: {source}")]
    Parse {
        path: String,
        source: toml::de::Error,
    },
    #[error("invalid config: {0}")]
    Invalid(String),
}

/// The JWT secret of `server/config.example.toml`: published, so accepted only in demo mode.
pub const EXAMPLE_JWT_SECRET: &str = "change-me-change-me-change-me-change-me";
/// SHA-256 of the example config's API key (`secret`): published, so demo mode only.
pub const EXAMPLE_API_KEY_SHA256: &str =
    "2bb80d537b1da3e38bd30361aa855686bde0eacd7162fef6a25fe97bf527a25b";

/// The whole configuration.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// The local demo (`scripts/demo.sh`): allows the published example secrets and public
    /// sessions, and only on a loopback address. Anything else refuses to start with them.
    pub demo: bool,
    /// Listen address.
    pub addr: String,
    /// Extra prefix under which the seed routes are also served (e.g. `/sumi`); empty = none.
    pub route_prefix: String,
    /// SQLite database path; `:memory:` keeps state for the process lifetime only. Ignored
    /// when `redis_url` is set.
    pub database: String,
    /// Redis URL (`redis://host:6379/0`): keep sessions, nonces, devices, quotas, rate limits
    /// and the audit log there, shared by every replica. Unset = the SQLite `database`.
    pub redis_url: Option<String>,
    /// Prefix of every Redis key (deployments sharing one Redis use different prefixes).
    pub redis_prefix: String,
    pub jwt: JwtConfig,
    pub pool: PoolConfig,
    pub limits: LimitsConfig,
    pub sessions: SessionsConfig,
    pub signing: SigningConfig,
    pub kiosk: KioskConfig,
    /// How submitted sessions are verified (the core's [`VerifyPolicy`]).
    pub verification: VerifyPolicy,
    /// Static files: the demo/kiosk pages and the SDK package, from the same origin as the
    /// API (so pages need no CORS and a kiosk's service worker can cache them).
    #[serde(rename = "static")]
    pub static_files: StaticConfig,
    /// Keys for `/api/v1/ml/liveness/` (AppId + Authorization) and
    /// `/v0.2/liveness-verification` (app-id + app-key).
    #[serde(rename = "api_key")]
    pub api_keys: Vec<ApiKeyConfig>,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            demo: false,
            addr: "127.0.0.1:8080".into(),
            route_prefix: String::new(),
            database: ":memory:".into(),
            redis_url: None,
            redis_prefix: "liveproof".into(),
            jwt: JwtConfig::default(),
            pool: PoolConfig::default(),
            limits: LimitsConfig::default(),
            sessions: SessionsConfig::default(),
            signing: SigningConfig::default(),
            kiosk: KioskConfig::default(),
            verification: VerifyPolicy::default(),
            static_files: StaticConfig::default(),
            api_keys: Vec::new(),
        }
    }
}

/// Bearer-token verification for the v1/v2 liveness routes.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct JwtConfig {
    /// `HS256`, `RS256` or `EdDSA`; exactly one is accepted (no algorithm negotiation).
    pub algorithm: Option<String>,
    /// HS256 shared secret.
    pub secret: Option<String>,
    /// RS256 / EdDSA public key, PEM text.
    pub public_key_pem: Option<String>,
    /// RS256 / EdDSA public key, PEM file.
    pub public_key_path: Option<String>,
    /// Required `iss`, if set.
    pub issuer: Option<String>,
    /// Required `aud`, if set.
    pub audience: Option<String>,
    /// Clock skew tolerated on `exp` / `nbf`, seconds (default 30).
    pub leeway_s: Option<u64>,
    /// Longest token lifetime accepted (`exp` − `iat`, or `exp` − now without `iat`),
    /// seconds (default one day): a leaked long-lived token is refused.
    pub max_lifetime_s: Option<u64>,
}

impl JwtConfig {
    /// [`JwtConfig::max_lifetime_s`] with its default.
    pub fn max_lifetime(&self) -> u64 {
        self.max_lifetime_s.unwrap_or(86_400)
    }
}

/// The CPU pool that runs the pipeline.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PoolConfig {
    /// Pipeline runs at once (default: available cores). 0 refuses all work (tests).
    pub size: usize,
    /// Requests allowed to wait for a permit; beyond this → 503 at once.
    pub queue: usize,
    /// Longest wait for a permit before answering 503, milliseconds.
    pub queue_timeout_ms: u64,
    /// `Retry-After` seconds sent with a 503.
    pub retry_after_s: u64,
    /// Jobs of unauthenticated callers (public sessions' evidence) at once, admitted or
    /// running (default: half the pool, rounded up).
    pub public_share: Option<usize>,
}

impl Default for PoolConfig {
    fn default() -> Self {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        Self {
            size: cores,
            queue: cores * 2,
            queue_timeout_ms: 30_000,
            retry_after_s: 2,
            public_share: None,
        }
    }
}

/// Request and media limits.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LimitsConfig {
    /// Body limit of `POST /liveness` and `/v2/liveness` (still + video), bytes.
    pub liveness_body_bytes: usize,
    /// Body limit of the selfie JSON route (base64 inflates by 4/3), bytes.
    pub selfie_body_bytes: usize,
    /// Body limit of `/v0.2/liveness-verification`, bytes.
    pub verification_body_bytes: usize,
    /// Largest still side accepted by the v1/v2 and selfie routes, pixels.
    pub image_max_side: u32,
    /// Most pixels a still may have (width × height): what a decode costs grows with it.
    pub image_max_pixels: u64,
    /// Largest video frame side, pixels.
    pub video_max_side: u32,
    /// Longest video, seconds.
    pub video_max_duration_s: f64,
    /// Wall-clock budget for decoding one video, seconds.
    pub video_decode_timeout_s: u64,
    /// Largest WebSocket message on `/ws/liveness` (one frame), bytes.
    pub ws_message_bytes: usize,
    /// A `/ws/liveness` connection silent this long is finished (final_result) and closed, ms.
    pub ws_idle_timeout_ms: u64,
    /// Longest `/ws/liveness` connection, seconds; then the session is finished and closed.
    pub ws_session_s: u64,
    /// Most frames one `/ws/liveness` session may send; then it is finished and closed.
    pub ws_max_frames: u32,
    /// Body limit of the batch routes (one ZIP), bytes.
    pub batch_body_bytes: usize,
    /// Body limit of the evidence routes (signed manifest + frames + optional clip), bytes.
    pub evidence_body_bytes: usize,
    /// Open connections at most; one more is closed at once.
    pub max_connections: usize,
    /// A request's headers must arrive within this (slowloris; also an idle keep-alive
    /// connection's limit), seconds.
    pub header_read_timeout_s: u64,
    /// A request's whole body must arrive within this, seconds.
    pub body_read_timeout_s: u64,
}

impl Default for LimitsConfig {
    fn default() -> Self {
        Self {
            liveness_body_bytes: 64 * 1024 * 1024,
            selfie_body_bytes: 16 * 1024 * 1024,
            verification_body_bytes: 16 * 1024 * 1024,
            image_max_side: 8192,
            image_max_pixels: 25_000_000,
            video_max_side: 4096,
            video_max_duration_s: 60.0,
            video_decode_timeout_s: 30,
            ws_message_bytes: 4 * 1024 * 1024,
            ws_idle_timeout_ms: 10_000,
            ws_session_s: 60,
            ws_max_frames: 1800,
            batch_body_bytes: 256 * 1024 * 1024,
            evidence_body_bytes: 32 * 1024 * 1024,
            max_connections: 1024,
            header_read_timeout_s: 10,
            body_read_timeout_s: 60,
        }
    }
}

/// The SDK session flow (`POST /v1/sessions`).
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SessionsConfig {
    /// Let anyone create sessions without a bearer token (the demo page), rate-limited per
    /// client IP. A bearer token, when sent, is still verified.
    pub public: bool,
    /// Session lifetime: evidence must arrive within it, seconds.
    pub ttl_s: u64,
    /// Sessions one client IP may create per minute in public mode.
    pub public_rate_per_minute: u32,
    /// Proxies in front of the server (IP addresses or CIDR networks, e.g. `10.0.0.0/8`). Only a
    /// request from one of them has its `X-Forwarded-For` read, and the client is the right-most
    /// address there that is not one of them (entries to its left are the client's to forge).
    pub trusted_proxies: Vec<String>,
    /// Where scripts come from: actions, challenges per session (at least 2), time per
    /// challenge. A public creator gets exactly this; a relying party may only narrow it.
    pub script: ScriptPolicy,
}

impl SessionsConfig {
    /// [`SessionsConfig::trusted_proxies`] parsed (a bare address is its own /32 or /128).
    pub fn trusted_networks(&self) -> Result<Vec<ipnet::IpNet>, ConfigError> {
        self.trusted_proxies
            .iter()
            .map(|p| {
                p.parse::<ipnet::IpNet>()
                    .or_else(|_| p.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
                    .map_err(|_| {
                        ConfigError::Invalid(format!(
                            "sessions.trusted_proxies: {p:?} is not an IP address or network"
                        ))
                    })
            })
            .collect()
    }
}

impl Default for SessionsConfig {
    fn default() -> Self {
        Self {
            public: false,
            ttl_s: 600,
            public_rate_per_minute: 10,
            trusted_proxies: Vec::new(),
            script: ScriptPolicy::default(),
        }
    }
}

/// The key that signs verdicts (published at `/.well-known/jwks.json`).
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SigningConfig {
    /// Ed25519 private key: a PKCS#8 PEM file (`openssl genpkey -algorithm ed25519`) or a
    /// file of exactly 32 raw seed bytes. Unset = a fresh key per process (verdicts then do
    /// not verify across restarts or replicas; a warning is logged).
    pub key_path: Option<String>,
    /// JWS `kid`; default: the key's RFC 7638 JWK thumbprint.
    pub kid: Option<String>,
    /// `iss` of every verdict.
    pub issuer: String,
    /// A verdict's lifetime (`exp` − `iat`), seconds: long enough to reach the relying party's
    /// backend, short enough that a leaked one is soon worthless.
    pub verdict_ttl_s: u64,
    /// `aud` of verdicts on public sessions (created without a bearer token), which no relying
    /// party created.
    pub public_audience: String,
}

impl Default for SigningConfig {
    fn default() -> Self {
        Self {
            key_path: None,
            kid: None,
            issuer: "liveproof-server".into(),
            verdict_ttl_s: 300,
            public_audience: "liveproof-public".into(),
        }
    }
}

/// Offline kiosks (`POST /v1/kiosk/evidence`).
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct KioskConfig {
    /// Oldest accepted bundle (`created_ms` on the kiosk's clock), seconds. Used nonces are
    /// remembered this long, so the window also bounds replay protection's memory.
    pub max_age_s: u64,
    /// How far in the future `created_ms` may be (kiosk clock skew), seconds.
    pub max_future_s: u64,
    /// The kiosks' script policy: a kiosk's script must be this policy's draw from its own
    /// nonce (longer draws accepted), and the server runs it with this timeout.
    pub script: ScriptPolicy,
}

impl Default for KioskConfig {
    fn default() -> Self {
        Self {
            max_age_s: 7 * 24 * 3600,
            max_future_s: 300,
            script: ScriptPolicy::default(),
        }
    }
}

/// Static directories served next to the API (none by default).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StaticConfig {
    /// Served at `/` (with `index.html` for directories): `www/` for the demo page.
    pub www_dir: Option<String>,
    /// Served at `/pkg/`: the SDK package that `scripts/build-pkg.sh` builds into `pkg/`.
    pub pkg_dir: Option<String>,
}

/// One API key. Give `key_sha256` (hex of SHA-256 of the key) in files you keep; `key`
/// (plain text) is accepted for local runs and hashed at load. The plain key is never stored.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApiKeyConfig {
    pub app_id: String,
    #[serde(default)]
    pub key: Option<String>,
    #[serde(default)]
    pub key_sha256: Option<String>,
    /// Total requests allowed (None = unlimited); over it → 403.
    #[serde(default)]
    pub quota: Option<u64>,
    /// Sustained requests per minute (token bucket, burst = the same number); over it → 429.
    #[serde(default)]
    pub rate_per_minute: Option<u32>,
}

impl ApiKeyConfig {
    /// The SHA-256 of the key.
    pub fn key_hash(&self) -> Result<[u8; 32], ConfigError> {
        match (&self.key, &self.key_sha256) {
            (Some(k), None) => Ok(crate::auth::hash_key(k)),
            (None, Some(h)) => {
                let bytes = hex::decode(h.trim()).map_err(|_| {
                    ConfigError::Invalid(format!("api_key {}: key_sha256 is not hex", self.app_id))
                })?;
                bytes.try_into().map_err(|_| {
                    ConfigError::Invalid(format!(
                        "api_key {}: key_sha256 must be 32 bytes",
                        self.app_id
                    ))
                })
            }
            _ => Err(ConfigError::Invalid(format!(
                "api_key {}: give exactly one of key, key_sha256",
                self.app_id
            ))),
        }
    }
}

impl Config {
    /// Reads `LIVEPROOF_CONFIG` (if set), then applies the environment overrides.
    pub fn from_env() -> Result<Self, ConfigError> {
        let mut config = match std::env::var("LIVEPROOF_CONFIG") {
            Ok(path) if !path.is_empty() => Self::from_file(Path::new(&path))?,
            _ => Self::default(),
        };
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        if let Some(addr) = var("LIVEPROOF_ADDR") {
            config.addr = addr;
        }
        if let Some(db) = var("LIVEPROOF_DB") {
            config.database = db;
        }
        if let Some(prefix) = var("LIVEPROOF_PREFIX") {
            config.route_prefix = prefix;
        }
        if let Some(secret) = var("LIVEPROOF_JWT_SECRET") {
            config.jwt.algorithm = Some("HS256".into());
            config.jwt.secret = Some(secret);
        }
        if let Some(url) = var("LIVEPROOF_REDIS_URL") {
            config.redis_url = Some(url);
        }
        if let Some(path) = var("LIVEPROOF_SIGNING_KEY") {
            config.signing.key_path = Some(path);
        }
        if let Some(dir) = var("LIVEPROOF_WWW_DIR") {
            config.static_files.www_dir = Some(dir);
        }
        if let Some(dir) = var("LIVEPROOF_PKG_DIR") {
            config.static_files.pkg_dir = Some(dir);
        }
        if let Some(size) = var("LIVEPROOF_POOL_SIZE") {
            config.pool.size = size
                .parse()
                .map_err(|_| ConfigError::Invalid("LIVEPROOF_POOL_SIZE is not a number".into()))?;
        }
        config.validate()?;
        Ok(config)
    }

    /// Parses a TOML file.
    pub fn from_file(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.display().to_string(),
            source,
        })?;
        toml::from_str(&text).map_err(|source| ConfigError::Parse {
            path: path.display().to_string(),
            source,
        })
    }

    /// The published example secrets this configuration uses, and public sessions: what only
    /// the local demo may run with.
    pub fn demo_settings(&self) -> Vec<&'static str> {
        let mut found = Vec::new();
        if self.jwt.secret.as_deref() == Some(EXAMPLE_JWT_SECRET) {
            found.push("the example JWT secret");
        }
        let example_key = hex::decode(EXAMPLE_API_KEY_SHA256).unwrap_or_default();
        if self
            .api_keys
            .iter()
            .any(|k| k.key_hash().is_ok_and(|h| h[..] == example_key[..]))
        {
            found.push("the example API key `secret`");
        }
        if self.sessions.public {
            found.push("public sessions ([sessions] public = true)");
        }
        found
    }

    /// Refuses the published example secrets and public sessions unless `demo = true` on a
    /// loopback address, and demo mode anywhere else; the message is one line saying why.
    fn check_demo(&self) -> Result<(), ConfigError> {
        let loopback = self
            .addr
            .parse::<std::net::SocketAddr>()
            .is_ok_and(|a| a.ip().is_loopback());
        if self.demo && !loopback {
            return Err(ConfigError::Invalid(format!(
                "demo = true is only allowed on a loopback address, not {}",
                self.addr
            )));
        }
        let found = self.demo_settings();
        if !self.demo && !found.is_empty() {
            return Err(ConfigError::Invalid(format!(
                "refusing to start with {}: set your own secrets (LIVEPROOF_JWT_SECRET, [[api_key]] key_sha256) \
                 and [sessions] public = false, or demo = true on a loopback address for a local demo",
                found.join(", ")
            )));
        }
        Ok(())
    }

    /// Checks what serde cannot.
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.check_demo()?;
        if self.jwt.max_lifetime() == 0 {
            return Err(ConfigError::Invalid(
                "jwt.max_lifetime_s must be at least 1".into(),
            ));
        }
        let p = &self.route_prefix;
        if !p.is_empty() && (!p.starts_with('/') || p.ends_with('/') || p.len() < 2) {
            return Err(ConfigError::Invalid(format!(
                "route_prefix must look like /name, got {p:?}"
            )));
        }
        for k in &self.api_keys {
            k.key_hash()?;
        }
        let invalid = |m: &str| Err(ConfigError::Invalid(m.to_owned()));
        if self.redis_prefix.is_empty()
            || !self
                .redis_prefix
                .bytes()
                .all(|b| b.is_ascii_graphic() && b != b':')
        {
            return invalid("redis_prefix must be non-empty printable characters without ':'");
        }
        if !(10..=86_400).contains(&self.sessions.ttl_s) {
            return invalid("sessions.ttl_s must be 10..=86400");
        }
        self.sessions.trusted_networks()?;
        let l = &self.limits;
        if l.max_connections == 0 || l.header_read_timeout_s == 0 || l.body_read_timeout_s == 0 {
            return invalid(
                "limits.max_connections, header_read_timeout_s and body_read_timeout_s must be at least 1",
            );
        }
        if self.sessions.public_rate_per_minute == 0 {
            return invalid("sessions.public_rate_per_minute must be at least 1");
        }
        if self.kiosk.max_age_s < 60 || self.kiosk.max_age_s > 366 * 24 * 3600 {
            return invalid("kiosk.max_age_s must be 60..=31622400 (one year)");
        }
        if self.kiosk.max_future_s > 24 * 3600 {
            return invalid("kiosk.max_future_s must be at most 86400");
        }
        for (table, policy) in [
            ("sessions.script", &self.sessions.script),
            ("kiosk.script", &self.kiosk.script),
        ] {
            policy
                .validate()
                .map_err(|e| ConfigError::Invalid(format!("{table}.{e}")))?;
        }
        self.verification
            .validate()
            .map_err(|e| ConfigError::Invalid(format!("verification: {e}")))?;
        if !(10..=86_400).contains(&self.signing.verdict_ttl_s) {
            return invalid("signing.verdict_ttl_s must be 10..=86400");
        }
        if self.signing.public_audience.is_empty() {
            return invalid("signing.public_audience must not be empty");
        }
        if self
            .signing
            .kid
            .as_deref()
            .is_some_and(|k| k.is_empty() || k.len() > 128 || k.chars().any(char::is_control))
        {
            return invalid("signing.kid must be 1..=128 printable characters");
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_example_file_parses_and_validates() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("config.example.toml");
        let c = Config::from_file(&path).unwrap();
        c.validate().unwrap();
        assert_eq!(c.route_prefix, "/sumi");
        assert_eq!(
            c.api_keys[0].key_hash().unwrap(),
            crate::auth::hash_key("secret")
        );
        assert_eq!(c.sessions.script, ScriptPolicy::default());
        assert_eq!(c.kiosk.script, ScriptPolicy::default());
        // The demo's one departure: injection signals are flagged, not refused (test mode:
        // Chromium's fake camera is an injected stream).
        let mut demo = VerifyPolicy::default();
        demo.injection.action = liveproof::verify::InjectionAction::Flag;
        assert_eq!(c.verification, demo);
        assert_eq!(c.signing.verdict_ttl_s, 300);
        assert!(toml::from_str::<Config>("bogus = 1").is_err());
        // A policy of one challenge is refused at start-up.
        let one: Config = toml::from_str("[sessions.script]\ncount = 1\n").unwrap();
        assert!(one
            .validate()
            .unwrap_err()
            .to_string()
            .contains("sessions.script.count"));
        let bad = Config {
            route_prefix: "sumi/".into(),
            ..Config::default()
        };
        assert!(bad.validate().is_err());
    }
}
