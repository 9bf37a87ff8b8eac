//! Shared state: configuration, the engine (set once models are loaded), the CPU pool, the
//! store (SQLite, or Redis when `redis_url` is set), the JWT verifier, the verdict signing key
//! and metrics. Everything is an `Arc`, so cloning the state per request is cheap; tests build
//! their own state and inject keys and settings.

pub mod store;

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use liveproof::check::MediaLimits;
use liveproof::Engine;

use crate::auth::JwtVerifier;
use crate::config::{Config, ConfigError};
use crate::error::AppError;
use crate::metrics::Metrics;
use crate::pool::CpuPool;
use crate::signing::ServerKey;
use store::{KeyRecord, RedisStore, SqliteStore, Store, StoreError};

/// Start-up failure.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

#[derive(Clone)]
pub struct AppState {
    pub config: Arc<Config>,
    engine: Arc<OnceLock<Arc<Engine>>>,
    pub pool: Arc<CpuPool>,
    pub store: Arc<dyn Store>,
    pub jwt: Arc<JwtVerifier>,
    /// Signs evidence verdicts; published at `/.well-known/jwks.json`.
    pub signer: Arc<ServerKey>,
    pub metrics: Arc<Metrics>,
    pub media_limits: Arc<MediaLimits>,
    /// `[sessions] trusted_proxies`, parsed.
    pub trusted_proxies: Arc<Vec<ipnet::IpNet>>,
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState")
            .field("ready", &self.engine.get().is_some())
            .finish_non_exhaustive()
    }
}

impl AppState {
    /// Builds the state with the store the configuration names (Redis when `redis_url` is
    /// set, else the SQLite `database`) and registers the configured keys. The engine is set
    /// separately ([`AppState::set_engine`]) so the server can answer `/healthz` while the
    /// models load.
    pub async fn new(config: Config) -> Result<Self, StateError> {
        config.validate()?;
        let store: Arc<dyn Store> = match &config.redis_url {
            Some(url) => Arc::new(RedisStore::connect(url, &config.redis_prefix).await?),
            None => Arc::new(SqliteStore::open(&config.database)?),
        };
        Self::with_store(config, store).await
    }

    /// Same with any [`Store`].
    pub async fn with_store(config: Config, store: Arc<dyn Store>) -> Result<Self, StateError> {
        config.validate()?;
        for k in &config.api_keys {
            store
                .upsert_key(&KeyRecord {
                    app_id: k.app_id.clone(),
                    key_hash: k.key_hash()?,
                    quota: k.quota,
                    used: 0,
                    rate_per_minute: k.rate_per_minute,
                })
                .await?;
        }
        let p = &config.pool;
        let pool = CpuPool::with_public_share(
            p.size,
            p.queue,
            p.public_share.unwrap_or(p.size.div_ceil(2)),
            Duration::from_millis(p.queue_timeout_ms),
            p.retry_after_s,
        );
        let mut media_limits = MediaLimits::default();
        let l = &config.limits;
        media_limits.image.max_side = l.image_max_side;
        media_limits.image.max_pixels = l.image_max_pixels;
        media_limits.video.max_width = l.video_max_side;
        media_limits.video.max_height = l.video_max_side;
        media_limits.video.max_duration_s = l.video_max_duration_s;
        media_limits.video.max_input_bytes = l.liveness_body_bytes;
        media_limits.video.decode_timeout = Duration::from_secs(l.video_decode_timeout_s);
        // The pool already runs one job per core; FFmpeg's own threads would oversubscribe.
        media_limits.video.decode_threads = 1;
        Ok(Self {
            trusted_proxies: Arc::new(config.sessions.trusted_networks()?),
            jwt: Arc::new(JwtVerifier::new(&config.jwt)?),
            signer: Arc::new(ServerKey::from_config(&config.signing)?),
            config: Arc::new(config),
            engine: Arc::new(OnceLock::new()),
            pool: Arc::new(pool),
            store,
            metrics: Arc::new(Metrics::default()),
            media_limits: Arc::new(media_limits),
        })
    }

    /// Installs the loaded engine (once; later calls are ignored).
    pub fn set_engine(&self, engine: Arc<Engine>) {
        let _ = self.engine.set(engine);
    }

    /// Whether the models are loaded.
    pub fn is_ready(&self) -> bool {
        self.engine.get().is_some()
    }

    /// The engine, or 503 while the models load.
    pub fn engine(&self) -> Result<Arc<Engine>, AppError> {
        self.engine.get().cloned().ok_or(AppError::Unavailable {
            message: "models are loading; retry shortly",
            retry_after_s: 5,
        })
    }
}
