//! The HTTP routes, one module per API; each owns its router (and its body limit).

pub mod batch;
pub mod devices;
pub mod jwks;
pub mod kiosk;
pub mod light;
pub mod liveness;
pub mod ops;
pub mod selfie;
pub mod sessions;
pub mod static_files;
pub mod verification;
pub mod ws;
pub mod ws_upgrade;

use std::future::Future;

use axum::extract::multipart::Field;
use axum::extract::{DefaultBodyLimit, Multipart, State};
use axum::response::Response;
use axum::routing::{post, MethodRouter};
use axum::{Extension, Router};
use base64::Engine as _;
use liveproof::report::ApiVersion;

use crate::auth::{Authorized, BearerClaims, Liveness};
use crate::middleware::RequestId;
use crate::state::AppState;

use crate::error::AppError;

/// The v1 and v2 routes of an API (`POST v1_path`, `POST v2_path`) over one `run`: they
/// differ only in the document they render.
pub(crate) fn versioned<F, Fut>(
    run: F,
    [v1_path, v2_path]: [&'static str; 2],
    body_limit: usize,
) -> Router<AppState>
where
    F: Fn(AppState, RequestId, BearerClaims, Multipart, ApiVersion, &'static str) -> Fut
        + Clone
        + Send
        + Sync
        + 'static,
    Fut: Future<Output = Result<Response, AppError>> + Send + 'static,
{
    let route = |version: ApiVersion, path: &'static str| -> MethodRouter<AppState> {
        let run = run.clone();
        post(
            move |State(state): State<AppState>,
                  Extension(id): Extension<RequestId>,
                  caller: Authorized<Liveness>,
                  form: Multipart| run(state, id, caller.claims, form, version, path),
        )
    };
    Router::new()
        .route(v1_path, route(ApiVersion::V1, v1_path))
        .route(v2_path, route(ApiVersion::V2, v2_path))
        .layer(DefaultBodyLimit::max(body_limit))
}

/// A multipart part's bytes (the body limit bounds them), read chunk by chunk into one buffer
/// (no second copy).
pub(crate) async fn read_bytes(field: Field<'_>) -> Result<Vec<u8>, AppError> {
    read_at_most(field, usize::MAX, 0)
        .await?
        .ok_or_else(|| AppError::Internal("unbounded read overflowed".into()))
}

/// A part's bytes, or `None` as soon as it grows past `max` (nothing more is read). `expected`
/// pre-sizes the buffer (a declared size).
pub(crate) async fn read_at_most(
    mut field: Field<'_>,
    max: usize,
    expected: usize,
) -> Result<Option<Vec<u8>>, AppError> {
    let mut out = Vec::with_capacity(expected.min(max).min(64 << 20));
    while let Some(chunk) = field.chunk().await? {
        if out.len() + chunk.len() > max {
            return Ok(None);
        }
        out.extend_from_slice(&chunk);
    }
    Ok(Some(out))
}

/// A multipart part as UTF-8 text; 422 naming the field otherwise.
pub(crate) async fn read_text(field: Field<'_>) -> Result<String, AppError> {
    let name = field.name().unwrap_or_default().to_owned();
    String::from_utf8(read_bytes(field).await?)
        .map_err(|_| AppError::invalid_field(name, "must be UTF-8 text"))
}

/// Decodes base64 image text, with or without a `data:image/...;base64,` prefix, standard or
/// URL-safe alphabet, padded or not, ignoring whitespace (line-wrapped encoders).
pub(crate) fn decode_base64_image(text: &[u8]) -> Result<Vec<u8>, AppError> {
    let text = std::str::from_utf8(text)
        .map_err(|_| AppError::bad_request("bad_base64", "image is not base64 text"))?;
    let payload = match text.trim_start().strip_prefix("data:") {
        Some(rest) => rest
            .split_once(',')
            .map(|(_, data)| data)
            .ok_or_else(|| AppError::bad_request("bad_base64", "data: URL without a comma"))?,
        None => text,
    };
    let cleaned: String = payload.chars().filter(|c| !c.is_whitespace()).collect();
    let cleaned = cleaned.trim_end_matches('=');
    if cleaned.is_empty() {
        return Err(AppError::bad_request("empty_input", "image is empty"));
    }
    let config = base64::engine::GeneralPurposeConfig::new()
        .with_decode_padding_mode(base64::engine::DecodePaddingMode::RequireNone);
    let standard = base64::engine::GeneralPurpose::new(&base64::alphabet::STANDARD, config);
    let url_safe = base64::engine::GeneralPurpose::new(&base64::alphabet::URL_SAFE, config);
    standard
        .decode(cleaned)
        .or_else(|_| url_safe.decode(cleaned))
        .map_err(|_| AppError::bad_request("bad_base64", "image is not valid base64"))
}

#[cfg(test)]
mod tests {
    use super::decode_base64_image;

    #[test]
    fn base64_with_and_without_data_url() {
        assert_eq!(decode_base64_image(b"aGVsbG8=").unwrap(), b"hello");
        assert_eq!(
            decode_base64_image(b"data:image/jpeg;base64,aGVs\nbG8").unwrap(),
            b"hello"
        );
        assert!(decode_base64_image(b"!!!").is_err());
        assert!(decode_base64_image(b"").is_err());
    }
}
