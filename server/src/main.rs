//! `liveproof-server`: bootstrap only. Reads the configuration, starts JSON logs, binds,
//! loads the models in the background (so `/healthz` answers at once and `/readyz` turns
//! 200 when they are loaded; a missing or corrupt model stops the process, naming the file),
//! serves with connection limits ([`serve`]), and shuts down gracefully on SIGTERM or Ctrl-C,
//! letting in-flight requests finish.
//!
//! ```text
//! LIVEPROOF_ADDR=0.0.0.0:8080 LIVEPROOF_CONFIG=server/config.example.toml \
//!     cargo run --release -p liveproof-server
//! ```

use std::sync::Arc;
use std::time::Duration;

use liveproof::models::ModelSource;
use liveproof::{Engine, EngineConfig};
use liveproof_server::serve::{serve, ConnLimits};
use liveproof_server::{app, AppState, Config};
use tracing_subscriber::EnvFilter;

#[tokio::main]
async fn main() {
    tracing_subscriber::fmt()
        .json()
        .with_current_span(true)
        .with_span_list(false)
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .init();
    if let Err(e) = run().await {
        tracing::error!(error = %e, "server stopped");
        std::process::exit(1);
    }
}

async fn run() -> Result<(), Box<dyn std::error::Error>> {
    let config = Config::from_env()?;
    let addr = config.addr.clone();
    let state = AppState::new(config).await?;
    tracing::info!(
        store = state.store.backend(),
        verdict_kid = state.signer.kid(),
        "state ready"
    );

    let loader = state.clone();
    tokio::task::spawn_blocking(move || {
        match Engine::load(&ModelSource::from_env(), EngineConfig::default()) {
            Ok(engine) => {
                loader.set_engine(Arc::new(engine));
                tracing::info!("models loaded; ready");
            }
            // Without its models the server can never be ready: stop with the cause (which
            // names the file) rather than serve 503 for ever.
            Err(e) => {
                tracing::error!(error = %e, code = e.code(), "models failed to load; stopping");
                std::process::exit(1);
            }
        }
    });

    let listener = tokio::net::TcpListener::bind(&addr).await?;
    tracing::info!(addr = %listener.local_addr()?, "listening");
    let l = &state.config.limits;
    let limits = ConnLimits {
        max_connections: l.max_connections,
        header_read_timeout: Duration::from_secs(l.header_read_timeout_s),
        drain_timeout: Duration::from_secs(30),
    };
    serve(listener, app(state), limits, shutdown_signal()).await;
    tracing::info!("shut down");
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    tracing::info!("shutdown signal received; draining");
}
