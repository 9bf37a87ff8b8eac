//! The decision and the signed verdict.
//!
//! The label comes only from the server's re-run: the frames' rules (see `rerun`), then, with
//! a clip, the server's own challenge session over it; without a clip, the client's challenge
//! claim counts only if it is consistent (see `claim`) and complete, and the verdict says
//! `challenges_verified: false` so a relying party can demand a clip. `confidence` is the
//! core's formula on the server's numbers: robust mean real probability × fraction of the
//! script passed.

use liveproof::challenge::ChallengeAction;
use liveproof::events::Label;
use liveproof::evidence::ClientResult;
use serde::Serialize;

use super::claim::{ClaimCheck, Disagreement};
use super::rerun::{ClipFinding, Rerun, ServerFailure};

/// How the evidence arrived.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EvidenceKind {
    /// An online session (`POST /v1/sessions/{id}/evidence`, HS256 session key).
    Session,
    /// An offline kiosk (`POST /v1/kiosk/evidence`, EdDSA device key).
    Kiosk,
}

/// The server's decision.
#[derive(Debug, Clone, PartialEq)]
pub struct Decision {
    pub label: Label,
    pub passed: Vec<ChallengeAction>,
    pub confidence: f32,
    pub failure: Option<ServerFailure>,
}

/// Decides from the re-run (and, without a clip, the checked claim).
pub fn decide(
    rerun: &Rerun,
    script: &[ChallengeAction],
    claim: &ClaimCheck,
    client: &ClientResult,
) -> Decision {
    let (passed, mut failure) = match &rerun.clip {
        Some(clip) => (clip.passed.clone(), clip_failure(clip)),
        None if claim.accepted => {
            let passed: Vec<_> = client
                .passed
                .iter()
                .zip(script)
                .take_while(|(a, b)| a == b)
                .map(|(a, _)| *a)
                .collect();
            let failure =
                (passed.len() < script.len()).then_some(ServerFailure::ChallengesIncomplete {
                    passed: passed.len(),
                    required: script.len(),
                });
            (passed, failure)
        }
        None => (
            Vec::new(),
            Some(ServerFailure::ClaimRejected {
                detail: claim.reason.clone().unwrap_or_default(),
            }),
        ),
    };
    // The frames' own rules come first: they are what the server saw most directly.
    if let Some(f) = &rerun.failure {
        failure = Some(f.clone());
    }
    let fraction = if script.is_empty() {
        0.0
    } else {
        passed.len() as f32 / script.len() as f32
    };
    Decision {
        label: if failure.is_none() {
            Label::Real
        } else {
            Label::Fake
        },
        confidence: rerun.pad_score.unwrap_or(0.0) * fraction,
        passed,
        failure,
    }
}

fn clip_failure(clip: &ClipFinding) -> Option<ServerFailure> {
    if let Some(failure) = &clip.failure {
        return Some(ServerFailure::Clip {
            failure: failure.clone(),
        });
    }
    if clip.label != Label::Real {
        // A FAKE session always names its failure; keep the rule total anyway.
        return Some(ServerFailure::ClipIdentity { similarity: None });
    }
    let threshold = liveproof::challenge::ChallengeConfig::default().identity_threshold;
    match clip.similarity {
        Some(s) if s >= threshold => None,
        similarity => Some(ServerFailure::ClipIdentity { similarity }),
    }
}

/// The client's result as reported in the verdict.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClientSummary {
    pub label: Label,
    pub passed: Vec<ChallengeAction>,
    pub confidence: f32,
    pub pad_score: Option<f32>,
    /// The client's challenge claim, when the server had to rely on it (no clip).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub claim: Option<ClaimCheck>,
}

/// The server's numbers as reported in the verdict.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ServerSummary {
    pub pad_score: Option<f32>,
    pub pad_threshold: f32,
    pub frames_analysed: usize,
    pub frames_usable: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub clip: Option<ClipFinding>,
}

/// What the server signs (the JWS payload) and returns as `result`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VerdictPayload {
    pub iss: String,
    /// The evidence's session id.
    pub sub: String,
    /// Issue time, Unix seconds.
    pub iat: u64,
    /// The request id (unique per verdict).
    pub jti: String,
    pub nonce: String,
    pub kind: EvidenceKind,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub device_id: Option<String>,
    pub label: Label,
    pub confidence: f32,
    pub passed: Vec<ChallengeAction>,
    pub script: Vec<ChallengeAction>,
    /// The server's robust mean real probability over the evidence frames.
    pub pad_score: Option<f32>,
    /// Whether the server ran the challenges itself (a clip was submitted).
    pub challenges_verified: bool,
    pub failure: Option<ServerFailure>,
    pub server: ServerSummary,
    pub client: ClientSummary,
    pub disagreement: Disagreement,
    /// Lower-case hex SHA-256 of the signed manifest bytes (the JWS payload).
    pub manifest_sha256: String,
}
