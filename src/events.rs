//! The liveness event stream, shared by the browser SDK, the WebSocket API and the CLI.
//!
//! Shapes follow the WebSocket workflow document (seed 003) exactly: `phase`, `frame_result`,
//! `challenge_start`, `challenge_result`, `final_result`, plus `guidance`, which tells the user
//! why a frame could not be used.

use serde::{Deserialize, Serialize};

use crate::challenge::ChallengeAction;
use crate::quality::Guidance;

/// Liveness phase.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Phase {
    /// Anti-spoofing on still-held frames.
    Passive,
    /// Challenges.
    Active,
}

/// A frame or session label.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Label {
    Real,
    Fake,
}

impl Label {
    /// The label as serialised: `REAL` or `FAKE`.
    pub fn as_str(self) -> &'static str {
        match self {
            Label::Real => "REAL",
            Label::Fake => "FAKE",
        }
    }
}

/// Outcome of one challenge.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ChallengeStatus {
    Passed,
    Failed,
}

/// One event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Event {
    /// Phase transition.
    Phase { value: Phase },
    /// An analysed frame: `confidence` is the anti-spoofing real probability (0–1) and
    /// `label` is REAL when it reaches the threshold.
    FrameResult { confidence: f32, label: Label },
    /// The user must now perform `action`.
    ChallengeStart { action: ChallengeAction },
    /// The outcome of the current challenge.
    ChallengeResult {
        action: ChallengeAction,
        status: ChallengeStatus,
    },
    /// The session's decision: `passed` lists completed challenges; `confidence` is the
    /// aggregated real probability scaled by the fraction of challenges passed.
    FinalResult {
        label: Label,
        passed: Vec<ChallengeAction>,
        #[serde(skip_serializing_if = "Option::is_none", default)]
        confidence: Option<f32>,
    },
    /// Why the current frame cannot be used, and what the user should do.
    Guidance { reason: Guidance, message: String },
}

impl Event {
    /// A guidance event with the default English message.
    pub fn guidance(reason: Guidance) -> Self {
        Event::Guidance {
            reason,
            message: reason.message().to_owned(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn events_serialise_exactly_as_seed_003() {
        let cases = [
            (
                Event::Phase {
                    value: Phase::Passive,
                },
                json!({"type": "phase", "value": "passive"}),
            ),
            (
                Event::FrameResult {
                    confidence: 0.874,
                    label: Label::Real,
                },
                json!({"type": "frame_result", "confidence": 0.874, "label": "REAL"}),
            ),
            (
                Event::ChallengeStart {
                    action: ChallengeAction::Blink,
                },
                json!({"type": "challenge_start", "action": "BLINK"}),
            ),
            (
                Event::ChallengeResult {
                    action: ChallengeAction::LookLeft,
                    status: ChallengeStatus::Passed,
                },
                json!({"type": "challenge_result", "action": "LOOK LEFT", "status": "passed"}),
            ),
            (
                Event::FinalResult {
                    label: Label::Fake,
                    passed: vec![],
                    confidence: Some(0.34),
                },
                json!({"type": "final_result", "label": "FAKE", "passed": [], "confidence": 0.34}),
            ),
        ];
        for (event, expected) in cases {
            let v = serde_json::to_value(&event).unwrap();
            // f32 → JSON goes through f64: compare numbers with a tolerance, the rest exactly.
            assert_eq!(
                v.as_object().unwrap().keys().collect::<Vec<_>>(),
                expected.as_object().unwrap().keys().collect::<Vec<_>>()
            );
            for (k, e) in expected.as_object().unwrap() {
                match e.as_f64() {
                    Some(x) => assert!((v[k].as_f64().unwrap() - x).abs() < 1e-6, "{k}"),
                    None => assert_eq!(&v[k], e, "{k}"),
                }
            }
            let back: Event = serde_json::from_value(v).unwrap();
            assert_eq!(back, event);
        }
    }

    #[test]
    fn final_result_accepts_underscore_spelling() {
        let e: Event =
            serde_json::from_value(json!({"type": "final_result", "label": "REAL", "passed": ["BLINK", "LOOK_RIGHT"], "confidence": 0.91}))
                .unwrap();
        let Event::FinalResult { passed, .. } = e else {
            panic!()
        };
        assert_eq!(
            passed,
            vec![ChallengeAction::Blink, ChallengeAction::LookRight]
        );
    }
}
