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

#[cfg(test)]
mod tests {
    use super::*;
    use liveproof::challenge::Failure;

    fn rerun(failure: Option<ServerFailure>, clip: Option<ClipFinding>) -> Rerun {
        Rerun {
            frames: vec![],
            pad_score: Some(0.9),
            pad_threshold: 0.5,
            clip,
            failure,
        }
    }

    fn clip(label: Label, failure: Option<Failure>, similarity: Option<f32>) -> ClipFinding {
        ClipFinding {
            label,
            passed: vec![ChallengeAction::Blink],
            confidence: 0.9,
            pad_score: Some(0.9),
            frames_analysed: 30,
            failure,
            similarity,
        }
    }

    fn client(passed: Vec<ChallengeAction>) -> ClientResult {
        ClientResult {
            label: Label::Real,
            passed,
            confidence: 0.9,
            pad_score: Some(0.9),
            failure: None,
        }
    }

    const ACCEPTED: ClaimCheck = ClaimCheck {
        accepted: true,
        reason: None,
    };

    #[test]
    fn the_server_decides_frames_first_then_the_clip_or_the_checked_claim() {
        use ChallengeAction::*;
        let script = [Blink, Smile];
        // An accepted, complete claim without a clip.
        let d = decide(
            &rerun(None, None),
            &script,
            &ACCEPTED,
            &client(vec![Blink, Smile]),
        );
        assert_eq!((d.label, d.passed.len()), (Label::Real, 2));
        assert!((d.confidence - 0.9).abs() < 1e-6);
        // Accepted but incomplete: FAKE, half the confidence.
        let d = decide(&rerun(None, None), &script, &ACCEPTED, &client(vec![Blink]));
        assert_eq!(
            d.failure,
            Some(ServerFailure::ChallengesIncomplete {
                passed: 1,
                required: 2
            })
        );
        assert!((d.confidence - 0.45).abs() < 1e-6);
        // A rejected claim passes nothing.
        let rejected = ClaimCheck {
            accepted: false,
            reason: Some("why".into()),
        };
        let d = decide(
            &rerun(None, None),
            &script,
            &rejected,
            &client(vec![Blink, Smile]),
        );
        assert!(d.passed.is_empty() && d.label == Label::Fake);
        // With a clip the claim is ignored; the clip's own failure and identity count.
        let script = [Blink];
        let ok = clip(Label::Real, None, Some(0.8));
        let d = decide(&rerun(None, Some(ok)), &script, &rejected, &client(vec![]));
        assert_eq!((d.label, d.passed.clone()), (Label::Real, vec![Blink]));
        let stranger = clip(Label::Real, None, Some(0.1));
        let d = decide(
            &rerun(None, Some(stranger)),
            &script,
            &ACCEPTED,
            &client(vec![]),
        );
        assert_eq!(
            d.failure,
            Some(ServerFailure::ClipIdentity {
                similarity: Some(0.1)
            })
        );
        let timed_out = clip(
            Label::Fake,
            Some(Failure::ChallengeTimeout { action: Blink }),
            Some(0.8),
        );
        let d = decide(
            &rerun(None, Some(timed_out)),
            &script,
            &ACCEPTED,
            &client(vec![]),
        );
        assert!(matches!(d.failure, Some(ServerFailure::Clip { .. })));
        // A failed frame rule wins over everything.
        let spoof = ServerFailure::Spoof {
            score: 0.2,
            threshold: 0.5,
        };
        let ok = clip(Label::Real, None, Some(0.8));
        let d = decide(
            &rerun(Some(spoof.clone()), Some(ok)),
            &script,
            &ACCEPTED,
            &client(vec![]),
        );
        assert_eq!((d.label, d.failure), (Label::Fake, Some(spoof)));
    }
}
