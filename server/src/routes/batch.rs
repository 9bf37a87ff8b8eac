//! `POST /liveness/batch` (v1 documents) and `POST /v2/liveness/batch` (v2 documents): Bearer
//! JWT, multipart `file` = a ZIP of cases named by the core's batch rules
//! ([`liveproof::batch`]: `alice.jpg` + `alice.mp4` is case `alice`, so is `alice/image.jpg` +
//! `alice/video.webm`), plus the same tuning fields as `/v2/liveness` (same parsing rules).
//!
//! The answer is `application/zip`: `results/<case>.json` (the v1/v2 document or
//! `{"error": {"code", "message"}}`) per case and `summary.csv`. The whole archive runs as one
//! job on the CPU pool (a batch holds one worker for its duration). A missing `file`, a file
//! that is not a ZIP, or a ZIP without any image or video → 400. The body limit is
//! `limits.batch_body_bytes` (256 MiB by default); the core's per-file limits apply inside.

use axum::extract::Multipart;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::Router;
use liveproof::batch::{run_batch_bytes, BatchLimits};
use liveproof::report::ApiVersion;

use crate::auth::BearerClaims;
use crate::error::AppError;
use crate::middleware::RequestId;
use crate::routes::liveness::{read_form, FormKind};
use crate::routes::versioned;
use crate::state::store::AuditEntry;
use crate::state::AppState;

pub const V1_PATH: &str = "/liveness/batch";
pub const V2_PATH: &str = "/v2/liveness/batch";

pub fn router(body_limit: usize) -> Router<AppState> {
    versioned(run, [V1_PATH, V2_PATH], body_limit)
}

async fn run(
    state: AppState,
    RequestId(request_id): RequestId,
    claims: BearerClaims,
    form: Multipart,
    version: ApiVersion,
    route: &'static str,
) -> Result<Response, AppError> {
    let form = read_form(form, FormKind::Batch).await?;
    let Some(zip) = form.file else {
        return Err(AppError::bad_request(
            "missing_file",
            "send the cases as one ZIP in the multipart field `file`",
        ));
    };
    tracing::info!(unique_id = form.unique_id.as_deref(), subject = %claims.subject, bytes = zip.len(), "batch");
    let engine = state.engine()?;
    let params = form.params;
    // The server's media limits (sizes, durations, one FFmpeg thread per pool worker) apply
    // inside the archive too.
    let limits = BatchLimits {
        media: (*state.media_limits).clone(),
        ..BatchLimits::default()
    };
    let (archive, rows) = state
        .pool
        .run(move || run_batch_bytes(&engine, &zip, &params, version, &limits))
        .await??;
    let failed = rows.iter().filter(|r| !r.error.is_empty()).count();
    state
        .store
        .audit(&AuditEntry {
            request_id,
            route: route.into(),
            principal: claims.subject,
            verdict: format!("batch: {} cases, {failed} errors", rows.len()),
            score: None,
            correlation_id: form.unique_id,
            detail: None,
        })
        .await?;
    Ok((
        [
            (header::CONTENT_TYPE, "application/zip"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"liveproof-results.zip\"",
            ),
        ],
        archive,
    )
        .into_response())
}
