//! `POST /liveness` (v1, flat document) and `POST /v2/liveness` (v2, structured document):
//! Bearer JWT, multipart `image` and/or `video` plus the tuning fields as strings. The
//! response is the core's [`liveproof::report`] document, unchanged.
//!
//! Field rules (the seed documents are silent on parsing; these are ours, in the OpenAPI doc):
//! - `enhanced_detection`: `True`/`False`, case-insensitive, also `1`/`0`;
//! - numbers in decimal; out of range → 422 naming the field (ranges from
//!   [`CheckParams::validate`]);
//! - `image_type`: `file` (default) or `base64` (the `image` part is base64 text, a
//!   `data:` URL prefix allowed); anything else → 422;
//! - `unique_id`: ≤ 128 printable characters, logged and audited, never interpreted;
//! - unknown fields are ignored (clients of the original service may send extras);
//! - a field sent twice → 400; neither `image` nor `video` → 400.

use axum::extract::Multipart;
use axum::response::{IntoResponse, Response};
use axum::{Json, Router};
use liveproof::check::{check_media, CheckParams};
use liveproof::report::ApiVersion;

use crate::auth::BearerClaims;
use crate::error::AppError;
use crate::middleware::RequestId;
use crate::routes::{decode_base64_image, read_bytes, read_text, versioned};
use crate::state::store::AuditEntry;
use crate::state::AppState;

pub const V1_PATH: &str = "/liveness";
pub const V2_PATH: &str = "/v2/liveness";

pub fn router(body_limit: usize) -> Router<AppState> {
    versioned(run, [V1_PATH, V2_PATH], body_limit)
}

/// The parsed multipart form (also the batch routes': `file` is theirs).
#[derive(Debug, Default)]
pub(crate) struct LivenessForm {
    pub(crate) image: Option<Vec<u8>>,
    pub(crate) video: Option<Vec<u8>>,
    pub(crate) file: Option<Vec<u8>>,
    pub(crate) params: CheckParams,
    pub(crate) base64_image: bool,
    pub(crate) unique_id: Option<String>,
}

/// Which media fields a form takes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum FormKind {
    /// `image`, `video`, `image_type` (the single-check routes).
    Single,
    /// `file` (a ZIP; the batch routes).
    Batch,
}

async fn run(
    state: AppState,
    RequestId(request_id): RequestId,
    claims: BearerClaims,
    form: Multipart,
    version: ApiVersion,
    route: &'static str,
) -> Result<Response, AppError> {
    let mut form = read_form(form, FormKind::Single).await?;
    if form.image.is_none() && form.video.is_none() {
        return Err(AppError::bad_request(
            "missing_media",
            "send an image, a video, or both (multipart fields `image`, `video`)",
        ));
    }
    if form.base64_image {
        if let Some(text) = form.image.take() {
            form.image = Some(decode_base64_image(&text)?);
        }
    }
    tracing::info!(unique_id = form.unique_id.as_deref(), subject = %claims.subject, "liveness check");
    let engine = state.engine()?;
    let limits = state.media_limits.clone();
    let params = form.params.clone();
    let (image, video) = (form.image, form.video);
    let outcome = state
        .pool
        .run(move || {
            check_media(
                &engine,
                image.as_deref(),
                video.as_deref(),
                &params,
                &limits,
            )
        })
        .await??;
    let doc = version.render(&outcome);
    let verdict = doc
        .get("overall_result")
        .and_then(|v| v.as_str())
        .unwrap_or("N/A");
    let score = outcome
        .image
        .as_ref()
        .map(|i| i.liveness.score)
        .or(outcome.video.as_ref().map(|v| v.liveness.score));
    state
        .store
        .audit(&AuditEntry {
            request_id,
            route: route.into(),
            principal: claims.subject,
            verdict: verdict.into(),
            score: score.map(f64::from),
            correlation_id: form.unique_id,
            detail: None,
        })
        .await?;
    Ok(Json(doc).into_response())
}

pub(crate) async fn read_form(mut mp: Multipart, kind: FormKind) -> Result<LivenessForm, AppError> {
    let mut f = LivenessForm::default();
    let mut seen = std::collections::HashSet::new();
    while let Some(field) = mp.next_field().await? {
        let name = field.name().unwrap_or_default().to_owned();
        let media = match kind {
            FormKind::Single => matches!(name.as_str(), "image" | "video" | "image_type"),
            FormKind::Batch => name == "file",
        };
        let known = media
            || matches!(
                name.as_str(),
                "enhanced_detection"
                    | "facematch_frames"
                    | "facematch_threshold"
                    | "frame_sampling_rate"
                    | "max_frames_to_analyze"
                    | "unique_id"
            );
        if !known {
            // Drain and ignore.
            read_bytes(field).await?;
            continue;
        }
        if !seen.insert(name.clone()) {
            return Err(AppError::bad_request(
                "duplicate_field",
                format!("field `{name}` was sent more than once"),
            ));
        }
        match name.as_str() {
            "image" => f.image = Some(read_bytes(field).await?),
            "video" => f.video = Some(read_bytes(field).await?),
            "file" => f.file = Some(read_bytes(field).await?),
            "enhanced_detection" => {
                f.params.enhanced_detection = parse_bool(&name, &read_text(field).await?)?
            }
            "facematch_frames" => f.params.facematch_frames = parse(&name, field).await?,
            "facematch_threshold" => f.params.facematch_threshold = parse(&name, field).await?,
            "frame_sampling_rate" => f.params.frame_sampling_rate = parse(&name, field).await?,
            "max_frames_to_analyze" => f.params.max_frames_to_analyze = parse(&name, field).await?,
            "image_type" => {
                let v = read_text(field).await?;
                f.base64_image = match v.trim().to_ascii_lowercase().as_str() {
                    "" | "file" => false,
                    "base64" => true,
                    _ => {
                        return Err(AppError::invalid_field(
                            "image_type",
                            format!("must be `file` or `base64`, got {v:?}"),
                        ))
                    }
                }
            }
            _ => {
                let v = read_text(field).await?;
                let v = v.trim();
                if v.len() > 128 || v.chars().any(char::is_control) {
                    return Err(AppError::invalid_field(
                        "unique_id",
                        "must be at most 128 printable characters",
                    ));
                }
                f.unique_id = (!v.is_empty()).then(|| v.to_owned());
            }
        }
    }
    validate(&f.params)?;
    Ok(f)
}

/// Range checks by the core, which names the field at fault.
fn validate(p: &CheckParams) -> Result<(), AppError> {
    p.validate().map_err(|e| match e {
        liveproof::Error::InvalidArgument { field, message } => {
            AppError::invalid_field(field, message)
        }
        other => other.into(),
    })
}

fn parse_bool(name: &str, v: &str) -> Result<bool, AppError> {
    match v.trim().to_ascii_lowercase().as_str() {
        "true" | "1" => Ok(true),
        "false" | "0" => Ok(false),
        _ => Err(AppError::invalid_field(
            name,
            format!("must be True or False, got {v:?}"),
        )),
    }
}

async fn parse<T: std::str::FromStr>(
    name: &str,
    field: axum::extract::multipart::Field<'_>,
) -> Result<T, AppError> {
    let v = read_text(field).await?;
    v.trim()
        .parse()
        .map_err(|_| AppError::invalid_field(name, format!("must be a number, got {v:?}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn booleans_accept_both_spellings_and_bad_ranges_name_the_field() {
        assert!(parse_bool("x", "True").unwrap());
        assert!(!parse_bool("x", "false").unwrap());
        assert!(parse_bool("x", "yes").is_err());
        let bad = CheckParams {
            facematch_threshold: 2.0,
            ..CheckParams::default()
        };
        match validate(&bad).unwrap_err() {
            AppError::Unprocessable { field, .. } => assert_eq!(field, "facematch_threshold"),
            e => panic!("{e:?}"),
        }
    }
}
