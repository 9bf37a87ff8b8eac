//! The signed verdict: what the server asserts about a submitted session, and for whom.
//!
//! Everything under "what was verified" comes from the core's verification
//! ([`liveproof::verify`]), i.e. from the server's own run of the media; the client's claims
//! appear only under `client`, for audit, next to where they `disagreement` with the server's.

use liveproof::challenge::ChallengeAction;
use liveproof::events::Label;
use liveproof::verify::{
    Checks, Decision, Disagreement, FramesReport, RecordingReport, VerifyFailure,
};
use serde::Serialize;

/// How the evidence arrived.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EvidenceKind {
    /// An online session (`POST /v1/sessions/{id}/evidence`, HS256 session key).
    Session,
    /// An offline kiosk (`POST /v1/kiosk/evidence`, EdDSA device key).
    Kiosk,
}

/// The client's own account, as it signed it (advisory; never part of the decision).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClientSummary {
    pub label: Label,
    pub passed: Vec<ChallengeAction>,
    pub confidence: f32,
    pub pad_score: Option<f32>,
}

/// The server's own run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ServerSummary {
    /// The run of the session's recording (frame count, timings, what the rules saw).
    pub recording: Option<RecordingReport>,
    /// The client's frame items: analysed as stills only when there is no recording.
    pub frames: FramesReport,
    /// The real-probability threshold in force.
    pub pad_threshold: f32,
}

/// What the server signs (the JWS payload) and returns as `result`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VerdictPayload {
    pub iss: String,
    /// The session the verdict answers: the online session id, or `kiosk:<device>:<session>`.
    pub sub: String,
    /// Who may rely on it: the relying party that created the session (its token's `sub`),
    /// the owner of the kiosk device, or the configured audience for public sessions.
    pub aud: String,
    /// Issue and expiry times, Unix seconds.
    pub iat: u64,
    pub exp: u64,
    /// Unique per verdict (the request id): a relying party accepts each once.
    pub jti: String,
    /// Who created the session (`<token sub>`, `public:<ip>`, `device:<id>`).
    pub creator: String,
    pub nonce: String,
    pub kind: EvidenceKind,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub device_id: Option<String>,
    /// The script the server issued (or, for a kiosk, admitted under its policy).
    pub script: Vec<ChallengeAction>,
    /// The core's decision: `label` is REAL (the server saw the script performed live in the
    /// recording), FAKE, or PASSIVE_ONLY (no recording: the frames passed the passive rules; no
    /// challenge verified); `passed`, `confidence`, `pad_score`, `checks` (what the verdict
    /// asserts and who checked it) and `failure`.
    #[serde(flatten)]
    pub decision: Decision,
    pub server: ServerSummary,
    pub client: ClientSummary,
    pub disagreement: Disagreement,
    /// Lower-case hex SHA-256 of the signed manifest bytes (the JWS payload).
    pub manifest_sha256: String,
}

/// The audit record's `detail` of a verdict: what an auditor needs beside the label and score
/// (the whole payload stays with the relying party).
#[derive(Debug, Serialize)]
pub struct AuditDetail<'a> {
    pub kind: EvidenceKind,
    pub device_id: Option<&'a str>,
    pub checks: &'a Checks,
    pub failure: Option<&'a VerifyFailure>,
    pub client_label: Label,
    pub disagreement: &'a Disagreement,
    pub manifest_sha256: &'a str,
}

impl<'a> AuditDetail<'a> {
    pub fn of(p: &'a VerdictPayload) -> Self {
        Self {
            kind: p.kind,
            device_id: p.device_id.as_deref(),
            checks: &p.decision.checks,
            failure: p.decision.failure.as_ref(),
            client_label: p.client.label,
            disagreement: &p.disagreement,
            manifest_sha256: &p.manifest_sha256,
        }
    }
}
