//! What the harnesses share: one async runtime, the engine, the multipart reader over a
//! fuzzed body, and the status rule every server answer must follow.

use std::future::Future;
use std::sync::{Arc, OnceLock};

use axum::body::Body;
use axum::extract::{FromRequest, Multipart};
use axum::http::{header, Request, StatusCode};
use liveproof::models::ModelSource;
use liveproof::{Engine, EngineConfig};
use tokio::runtime::Runtime;

/// The multipart boundary of every fuzzed form body (the seeds use it too).
pub const BOUNDARY: &str = "liveproof-fuzz-boundary";

/// One runtime for the process: building one per input would dominate the run time. One
/// worker, so the replay's test threads can `block_on` at once.
pub fn runtime() -> &'static Runtime {
    static RUNTIME: OnceLock<Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("tokio runtime")
    })
}

/// Runs a future to completion on [`runtime`].
pub fn block_on<F: Future>(future: F) -> F::Output {
    runtime().block_on(future)
}

/// The engine on the real models (`$LIVEPROOF_MODELS`, else the repository's `models/`),
/// loaded once. A missing or corrupt model directory is a panic: the replay must fail then,
/// not pass having tested less.
pub fn engine() -> Arc<Engine> {
    static ENGINE: OnceLock<Arc<Engine>> = OnceLock::new();
    ENGINE
        .get_or_init(
            || match Engine::load(&ModelSource::from_env(), EngineConfig::default()) {
                Ok(engine) => Arc::new(engine),
                Err(e) => panic!("models not loaded (run scripts/setup-models.sh): {e}"),
            },
        )
        .clone()
}

/// `multipart/form-data` with [`BOUNDARY`].
pub fn form_content_type() -> String {
    format!("multipart/form-data; boundary={BOUNDARY}")
}

/// The axum extractor over `body`, exactly as a handler receives it.
pub async fn multipart(body: &[u8]) -> Multipart {
    let request = Request::post("/")
        .header(header::CONTENT_TYPE, form_content_type())
        .body(Body::from(body.to_vec()))
        .expect("a request with a fixed header");
    match Multipart::from_request(request, &()).await {
        Ok(form) => form,
        Err(e) => panic!("a fixed multipart content type was refused: {e}"),
    }
}

/// What a server facing hostile input may answer: success, the client's fault (4xx), or
/// "retry later" (503: models loading, pool saturated). A 500 is a finding.
pub fn is_handled(status: StatusCode) -> bool {
    status.is_success() || status.is_client_error() || status == StatusCode::SERVICE_UNAVAILABLE
}

/// Panics unless [`is_handled`].
pub fn assert_handled(status: StatusCode, context: &str) {
    assert!(is_handled(status), "{context}: answered {status}");
}
