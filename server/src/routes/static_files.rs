//! Static files next to the API: the demo and kiosk pages (`www/`) at `/` and the SDK package
//! (`pkg/`) at `/pkg/`, when configured (`[static]`, `LIVEPROOF_WWW_DIR`, `LIVEPROOF_PKG_DIR`).
//! One origin for pages and API means the pages need no CORS, the SDK's evidence goes to the
//! server that issued the session, and the kiosk's service worker can cache the package.
//! `tower-http`'s `ServeDir` refuses paths that leave the directory and sets the MIME type
//! (`application/wasm` matters: browsers only stream-compile wasm served as such).

use axum::Router;
use tower_http::services::ServeDir;

use crate::config::StaticConfig;
use crate::error::AppError;
use crate::state::AppState;

/// Path of the SDK package.
pub const PKG_PREFIX: &str = "/pkg";

/// Adds the configured directories to `router`; anything else is the API's 404.
pub fn mount(router: Router<AppState>, config: &StaticConfig) -> Router<AppState> {
    let not_found = || async { AppError::NotFound };
    let router = match &config.pkg_dir {
        Some(dir) => router.nest_service(PKG_PREFIX, ServeDir::new(dir)),
        None => router,
    };
    match &config.www_dir {
        Some(dir) => router
            .fallback_service(ServeDir::new(dir).not_found_service(axum::routing::any(not_found))),
        None => router.fallback(not_found),
    }
}
