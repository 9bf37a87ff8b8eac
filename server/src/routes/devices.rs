//! Kiosk devices: `POST /v1/devices` registers a kiosk's Ed25519 public key, `DELETE
//! /v1/devices/{id}` revokes it. Both take the Bearer JWT of the v2 routes with the
//! administrator scope `devices:admin` in its `scope` claim (403 `insufficient_scope`
//! otherwise): a device key makes verdicts, so provisioning one is an administrator's act.
//!
//! - Register: JSON `{"public_key": "<base64url of the 32 raw key bytes>", "label"?: "..."}`
//!   → 201 `{device_id, public_key, label, created_at}`. The key must be a valid, non-weak
//!   Ed25519 point (422 `public_key` otherwise); `label` is at most 128 printable characters.
//!   The private key never leaves the kiosk.
//! - Revoke: 200 `{device_id, revoked: true, revoked_at}`, idempotent (the first revocation
//!   time is kept); unknown id, or a device another owner registered → 404 `unknown_device`
//!   (a token cannot learn which ids exist elsewhere). A revoked device's evidence gets 401
//!   `device_revoked`, including bundles it queued offline before the revocation.
//!
//! The registering token's `sub` is the device's owner: only a token with the same `sub`
//! revokes it, and its verdicts are addressed to it (`aud`).

use axum::extract::rejection::{JsonRejection, PathRejection};
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::routing::{delete, post};
use axum::{Json, Router};
use base64::Engine as _;
use liveproof::evidence::jws::b64;
use serde::{Deserialize, Serialize};

use crate::auth::{Authorized, DevicesAdmin};
use crate::clock::{now_ms, rfc3339};
use crate::error::AppError;
use crate::state::store::DeviceRecord;
use crate::state::AppState;

pub const PATH: &str = "/v1/devices";
pub const ITEM_PATH: &str = "/v1/devices/{id}";
/// Body limit of `POST /v1/devices`.
pub const BODY_BYTES: usize = 16 * 1024;

pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            PATH,
            post(register).layer(DefaultBodyLimit::max(BODY_BYTES)),
        )
        .route(ITEM_PATH, delete(revoke))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Registration {
    public_key: String,
    #[serde(default)]
    label: Option<String>,
}

/// Parses a raw Ed25519 public key given as base64url (padding tolerated).
pub fn parse_public_key(text: &str) -> Result<[u8; 32], AppError> {
    let bad = |m: &str| AppError::invalid_field("public_key", m);
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(text.trim().trim_end_matches('='))
        .map_err(|_| bad("must be base64url"))?;
    let bytes: [u8; 32] = raw
        .as_slice()
        .try_into()
        .map_err(|_| bad("must be the 32 raw bytes of an Ed25519 public key"))?;
    let key = ed25519_dalek::VerifyingKey::from_bytes(&bytes)
        .map_err(|_| bad("is not a valid Ed25519 point"))?;
    // A small-order key would accept forged signatures under a lax verifier; refuse it.
    if key.is_weak() {
        return Err(bad("is a weak (small-order) Ed25519 key"));
    }
    Ok(bytes)
}

async fn register(
    State(state): State<AppState>,
    claims: Authorized<DevicesAdmin>,
    body: Result<Json<Registration>, JsonRejection>,
) -> Result<impl IntoResponse, AppError> {
    let Json(req) = body?;
    let public_key = parse_public_key(&req.public_key)?;
    let label = req
        .label
        .map(|l| l.trim().to_owned())
        .filter(|l| !l.is_empty());
    if label
        .as_deref()
        .is_some_and(|l| l.chars().count() > 128 || l.chars().any(char::is_control))
    {
        return Err(AppError::invalid_field(
            "label",
            "must be at most 128 printable characters",
        ));
    }
    let device = DeviceRecord {
        id: uuid::Uuid::new_v4().to_string(),
        public_key,
        label,
        owner: claims.subject.clone(),
        created_ms: now_ms(),
        revoked_ms: None,
    };
    state.store.add_device(&device).await?;
    tracing::info!(device = %device.id, owner = %device.owner, "device registered");
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, ITEM_PATH.replace("{id}", &device.id))],
        Json(DeviceRegistered {
            public_key: b64(&device.public_key),
            created_at: rfc3339(device.created_ms),
            device_id: device.id,
            label: device.label,
        }),
    ))
}

async fn revoke(
    State(state): State<AppState>,
    claims: Authorized<DevicesAdmin>,
    path: Result<Path<String>, PathRejection>,
) -> Result<Json<DeviceRevoked>, AppError> {
    let Path(id) = path?;
    let unknown = || AppError::coded(StatusCode::NOT_FOUND, "unknown_device", "no such device");
    if id.is_empty() || id.len() > 128 {
        return Err(unknown());
    }
    // Only the owner may revoke; anyone else learns nothing about the id.
    match state.store.device(&id).await? {
        Some(d) if d.owner == claims.subject => {}
        _ => return Err(unknown()),
    }
    let device = state
        .store
        .revoke_device(&id, now_ms())
        .await?
        .ok_or_else(unknown)?;
    tracing::info!(device = %device.id, by = %claims.subject, "device revoked");
    Ok(Json(DeviceRevoked {
        device_id: device.id,
        revoked: true,
        revoked_at: device.revoked_ms.map(rfc3339),
    }))
}

/// The 201 body of a registration.
#[derive(Debug, Serialize)]
pub struct DeviceRegistered {
    pub device_id: String,
    /// The Ed25519 public key, base64url.
    pub public_key: String,
    pub label: Option<String>,
    pub created_at: String,
}

/// The body of a revocation.
#[derive(Debug, Serialize)]
pub struct DeviceRevoked {
    pub device_id: String,
    pub revoked: bool,
    pub revoked_at: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn public_keys_must_be_valid_strong_points() {
        let sk = ed25519_dalek::SigningKey::from_bytes(&[3u8; 32]);
        let good = b64(sk.verifying_key().as_bytes());
        assert_eq!(
            parse_public_key(&good).unwrap(),
            *sk.verifying_key().as_bytes()
        );
        assert!(parse_public_key(&format!("{good}=")).is_ok());
        assert!(parse_public_key("short").is_err());
        assert!(parse_public_key("!!!").is_err());
        // The identity point (small order).
        let mut identity = [0u8; 32];
        identity[0] = 1;
        assert!(parse_public_key(&b64(&identity)).is_err());
    }
}
